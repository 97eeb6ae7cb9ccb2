"""Following a log in chunks: no character is cut or lost between reads."""

from __future__ import annotations

from pathlib import Path

from headrace.engine.actions import read_log_from, read_log_tail


def test_chunks_never_split_a_character(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    text = "héllo → wörld ✓\n" * 50
    log.write_text(text, encoding="utf-8")
    got, offset = "", 0
    while True:
        chunk, offset = read_log_from(str(log), offset, 7)
        if not chunk:
            break
        got += chunk
    assert got == text
    assert "\ufffd" not in got


def test_bad_bytes_are_replaced_not_stuck(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"ok \xff\xfe\xfd\xfc\xfb\xfa end")
    chunk, offset = read_log_from(str(log), 0, 1024)
    assert chunk.startswith("ok ") and chunk.endswith(" end")
    assert offset == log.stat().st_size


def test_missing_log_and_tail(tmp_path: Path) -> None:
    assert read_log_from(str(tmp_path / "none"), 5, 10) == ("", 5)
    assert read_log_from(None, 0, 10) == ("", 0)
    log = tmp_path / "output.log"
    log.write_text("a" * 100)
    assert read_log_tail(str(log), 10) == ("a" * 10, True)
    assert read_log_tail(str(log)) == ("a" * 100, False)
