"""The README's SDK snippet runs as written against a real server (so the docs stay true)."""

from __future__ import annotations

import re
from pathlib import Path

from support import Server

from .helpers import write

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next(b for b in blocks if "WorkspaceClient(" in b and "run_now" in b)


def test_readme_sdk_snippet_works(server: Server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alice.token").write_text(server.token("alice") + "\n")
    hello = write(tmp_path / "hello.py", "import sys; print('hello', *sys.argv[1:])")
    code = (
        _snippet()
        .replace("http://127.0.0.1:8765", server.url)
        .replace("/path/to/hello.py", str(hello))
    )
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["run"].state.result_state.value == "SUCCESS"
    assert "hello 2026-11-22" in scope["out"].logs
