"""The CLI's one error boundary (issue 18): every command, in every sub-app, ends an error the
same way (one `error:` line, the exception's exit code, the traceback only with -v), while
usage errors and deliberate exit codes pass through untouched."""

from __future__ import annotations

import ast
from pathlib import Path

from support import Headrace

CLI = Path(__file__).resolve().parents[2] / "src" / "headrace" / "cli"


def test_not_found_is_one_line_and_exit_3_in_every_sub_app(hr: Headrace) -> None:
    for argv in (["runs", "get", "424242"], ["jobs", "history", "424242"]):
        result = hr(*argv)
        assert result.returncode == 3, (argv, result.stderr)
        assert result.stderr.startswith("error: "), argv
        assert len(result.stderr.strip().splitlines()) == 1, (argv, result.stderr)
        assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback(hr: Headrace) -> None:
    result = hr("-v", "runs", "get", "424242")
    assert result.returncode == 3
    assert "Traceback" in result.stderr and "NotFound" in result.stderr


def test_usage_errors_stay_usage_errors(hr: Headrace) -> None:
    result = hr("runs", "get", "not-a-number")
    assert result.returncode == 2
    assert "Usage:" in result.stderr and "error: Headrace failed" not in result.stderr


def test_commands_have_no_boundary_of_their_own() -> None:
    """`except Exception` around a command body belongs to the boundary only: `_ErrorBoundary`
    (main.py) and the `run` fast path (entry.py), both ending in `boundary.report`."""
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name):
                if node.type.id != "Exception":
                    continue
                calls = [
                    n.func.id
                    for n in ast.walk(node)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                ]
                ends_a_command = {"_fail", "report"} & set(calls)
                assert not ends_a_command or path.name in ("main.py", "entry.py"), (
                    f"{path.name}:{node.lineno}"
                )
