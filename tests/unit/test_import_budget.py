"""The import budget of `headrace run` (issue 18): which modules a one-task run loads, not time.

Start-up is most of a small run's wall time, so `headrace run` must not build the Typer app
(typer, click), nor pull in the server, the UI, notebooks, Spark, SQL warehouses or Alembic, and
the number of modules it loads may grow only on purpose. The budget is documented in
docs/benchmarks.md; raise it there and here together, with the reason, if a change really needs
more.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from cli_process import clean_env, run_captured

# Measured 2026-12-05 (Python 3.11, an existing SQLite store, `python -m headrace run --quiet`):
# 339 modules in all, 79 of them Headrace's. The margin (~15%) absorbs other Python versions
# and site hooks, not new dependencies. Without --quiet the summary table adds rich (47).
MODULE_BUDGET = 390
HEADRACE_MODULE_BUDGET = 91
RICH_BUDGET = 55

# Never needed to run a shell task against a SQLite store: the command-line framework (the run
# fast path parses its own options), SQLAlchemy (own test below: the SQLite run path runs SQL text;
# only creating or migrating a store loads it), the server, UI, notebooks, Spark, warehouses,
# migrations, PostgreSQL, data frames, HTTP clients, JSON Schema, pretty output.
HEAVY = (
    "typer",
    "click",
    "rich",
    "fastapi",
    "uvicorn",
    "starlette",
    "jinja2",
    "pandas",
    "numpy",
    "pyarrow",
    "pyspark",
    "py4j",
    "IPython",
    "ipykernel",
    "jupyter_core",
    "jupyter_client",
    "nbclient",
    "nbformat",
    "nbconvert",
    "duckdb",
    "alembic",
    "psycopg",
    "psycopg2",
    "sqlalchemy.dialects.postgresql",
    "httpx",
    "requests",
    "jsonschema",
    "dbt",
    "dlt",
    "headrace.api",
    "headrace.ui",
    "headrace.notebook",
    "headrace.warehouse",
    "headrace.bundle",
    "headrace.compute.server",
)

# `python -m headrace ARGS` in this interpreter (the real `__main__` and console entry point)
# that writes the names in sys.modules to a file as it leaves (main() ends with os._exit).
PROBE = textwrap.dedent(
    """
    import json, os, runpy, sys
    out = sys.argv.pop(1)
    leave = os._exit
    def _exit(code):
        with open(out, "w") as f:
            json.dump(sorted(sys.modules), f)
        leave(code)
    os._exit = _exit
    runpy.run_module("headrace", run_name="__main__", alter_sys=True)
    """
)


def _modules_of_a_run(tmp_path: Path, *flags: str) -> list[str]:
    """The modules of a one-task run on a store that exists (as every run but the first)."""
    job = tmp_path / "one.yml"
    job.write_text(
        "name: one\ntasks:\n  - task_key: a\n    shell_command_task: {command: 'true'}\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out = tmp_path / "modules.json"
    env = clean_env(tmp_path / "home")
    run = ["run", str(job), "--db", str(tmp_path / "s.db")]
    # The first run creates the store (from the schema models: SQLAlchemy); not measured.
    for argv in (["-m", "headrace", *run, "--quiet"], [str(probe), str(out), *run, *flags]):
        proc = run_captured([sys.executable, *argv], cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    packages = tuple(f"{name}." for name in names)
    return [m for m in modules if m in names or m.startswith(packages)]


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _modules_of_a_run(tmp_path_factory.mktemp("quiet"), "--quiet")


def test_a_quiet_run_loads_nothing_heavy(quiet_run: list[str]) -> None:
    assert _loaded(quiet_run, HEAVY) == [], "headrace run imports modules it does not need"


def test_a_quiet_run_stays_within_its_module_budget(quiet_run: list[str]) -> None:
    ours = _loaded(quiet_run, ("headrace",))
    assert len(ours) <= HEADRACE_MODULE_BUDGET, sorted(ours)
    assert len(quiet_run) <= MODULE_BUDGET, f"{len(quiet_run)} modules (budget {MODULE_BUDGET})"


def test_a_quiet_run_on_sqlite_does_not_load_sqlalchemy(quiet_run: list[str]) -> None:
    assert _loaded(quiet_run, ("sqlalchemy",)) == []


def test_the_summary_table_adds_only_rich(tmp_path: Path, quiet_run: list[str]) -> None:
    modules = _modules_of_a_run(tmp_path)
    rich = _loaded(modules, ("rich",))
    assert 0 < len(rich) <= RICH_BUDGET
    others = [m for m in modules if m not in rich]
    assert _loaded(others, HEAVY) == []
    assert len(others) <= MODULE_BUDGET
