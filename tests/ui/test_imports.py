"""The UI costs nothing where it is not used: the CLI's run path never imports it, and the
server imports Jinja2 and cron-descriptor only when a page needs them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jinja2", "cron_descriptor", "headrace.ui", "headrace.ui.routes")


def _loaded_after(statement: str) -> dict[str, bool]:
    code = f"import sys, json; {statement}; print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_cli_run_path_does_not_import_the_ui() -> None:
    loaded = _loaded_after("import headrace.cli.main, headrace.cli.run_command")
    assert not any(loaded.values()), loaded


def test_the_server_app_defers_jinja2_and_cron_descriptor() -> None:
    loaded = _loaded_after("import headrace.api.app, headrace.ui.routes")
    assert loaded["headrace.ui.routes"]
    assert not loaded["jinja2"] and not loaded["cron_descriptor"], loaded
