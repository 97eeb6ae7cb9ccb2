"""The README starts with exactly two commands, and CI runs the second one as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _leading_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = text.split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", head, re.S)]


def test_readme_starts_with_an_install_and_run_command_and_a_test_command() -> None:
    install_and_run, install_and_test = _leading_commands()
    assert "pip install" in install_and_run and "headrace run" in install_and_run
    assert "constraints.txt" in install_and_test and install_and_test.endswith("pytest")


def test_ci_runs_the_readme_test_command_in_a_new_virtualenv() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    _, install_and_test = _leading_commands()
    assert install_and_test in ci
    assert "python3 -m venv" in ci.split(install_and_test)[0]


def test_every_dependency_has_a_range_and_a_pin() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {
        line.split("==")[0].lower()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    for requirement in requirements:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()
        assert ">=" in requirement and "<" in requirement, f"{requirement}: needs >=tested,<next"
        assert name.replace("_", "-") in pins, f"{name} is not pinned in constraints.txt"
