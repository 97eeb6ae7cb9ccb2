"""The console entry point (issue 18): a plain `headrace run` skips Typer yet ends the same way.

Each case runs the real `python -m headrace` (the fast path) and the Typer app itself
(`cli.main.main`) on the same command line and compares exit codes and stderr.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_process import clean_env, run_captured

FAST = [sys.executable, "-m", "headrace"]
TYPER = [sys.executable, "-c", "from headrace.cli.main import main; main()"]


def _headrace(entry: list[str], tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(tmp_path / "home", HEADRACE_DB=str(tmp_path / "store.db"))
    return run_captured([*entry, *argv], cwd=tmp_path, env=env)


def _job(tmp_path: Path, command: str) -> str:
    (tmp_path / "job.yml").write_text(
        f"name: one\ntasks:\n  - task_key: a\n    shell_command_task: {{command: '{command}'}}\n"
    )
    return "job.yml"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "missing.yml"],  # a SpecError: one line, exit 2
        ["run", "job.yml", "--param", "no-equals"],
        ["run", "job.yml", "--job", "other"],
        ["run", "job.yml", "--db", "postgresql+nosuchdriver://x/y"],
        ["run", "--slots", "0", "job.yml"],  # a usage error: Typer's own message, exit 2
        ["run"],
    ],
    ids=" ".join,
)
def test_errors_read_the_same_on_both_paths(tmp_path: Path, argv: list[str]) -> None:
    _job(tmp_path, "true")
    fast = _headrace(FAST, tmp_path, *argv)
    typer = _headrace(TYPER, tmp_path, *argv)
    assert fast.returncode == typer.returncode != 0
    # Typer's usage lines name the program it was started as; the rest must be equal.
    assert fast.stderr.replace("python -m headrace", "PROG") == typer.stderr.replace("-c", "PROG")
    assert "Traceback" not in fast.stderr


def test_verbose_before_run_shows_the_traceback_on_the_fast_path(tmp_path: Path) -> None:
    result = _headrace(FAST, tmp_path, "-v", "run", "missing.yml")
    assert result.returncode == 2
    assert "Traceback" in result.stderr and result.stderr.endswith("no such file: missing.yml\n")


def test_the_exit_code_is_the_runs_result(tmp_path: Path) -> None:
    ok = _headrace(FAST, tmp_path, "run", "--quiet", _job(tmp_path, "true"))
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    failed = _headrace(FAST, tmp_path, "run", "-q", _job(tmp_path, "exit 3"))
    assert failed.returncode == 1, failed.stderr


def test_help_is_typers(tmp_path: Path) -> None:
    result = _headrace(FAST, tmp_path, "run", "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout and "--slots" in result.stdout


def test_the_console_script_starts_at_the_fast_path() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    assert scripts["headrace"] == "headrace.cli.entry:main"
