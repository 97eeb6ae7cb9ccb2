"""Hostile job files against the real CLI (issue 11, part 2, items 2, 4, 5, 8).

Each case ran away, hung, crashed with a traceback or was accepted before the fix; now each is
refused at once with one short error naming the field or the cause, within memory and CPU
limits (see bounded.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace

from .bounded import assert_refused, bounded


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Headrace]:
    cli = Headrace(tmp_path)
    try:
        yield cli
    finally:
        cli.close()


def shell_task(key: str, command: str = "true", **extra: object) -> dict:
    return {"task_key": key, "shell_command_task": {"command": command}, **extra}


def write_json(hr: Headrace, name: str, data: object) -> Path:
    path = hr.dir / name
    path.write_text(json.dumps(data))
    return path


# --- 2. duplicate depends_on ------------------------------------------------------------------


def test_a_repeated_dependency_is_refused_by_validate_and_run(hr: Headrace) -> None:
    job = hr.write(
        "dup.yml",
        """
        name: dup
        tasks:
          - task_key: a
            shell_command_task: {command: "true"}
          - task_key: b
            depends_on: [{task_key: a}, {task_key: a}]
            shell_command_task: {command: "true"}
        """,
    )
    needle = "tasks[1].depends_on[1].task_key: 'a' is listed twice"
    assert_refused(bounded(hr, "validate", job), needle)
    # Before: `run` waited forever on b (BLOCKED) with the run RUNNING.
    assert_refused(bounded(hr, "run", job), needle)
    assert hr.runs() == []  # nothing reached the store


# --- 4. sizes and files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"name": "n" * 4097, "tasks": [shell_task("a")]}, "name: is 4097 bytes long"),
        ({"name": "é" * 2049, "tasks": [shell_task("a")]}, "name: is 4098 bytes long"),
        (
            {"name": "d", "description": "x" * 27701, "tasks": [shell_task("a")]},
            "description: is 27701 characters long; the limit is 27700",
        ),
        ({"name": "k", "tasks": [shell_task("k" * 101)]}, "tasks[0].task_key: is 101 characters"),
        (
            {"name": "many", "tasks": [shell_task(f"t{i}") for i in range(1001)]},
            "tasks: has 1001 tasks; a job has at most 1000",
        ),
        (
            {"name": "p", "tasks": [shell_task("a")], "parameters": [{"name": "p" * 256}]},
            "parameters[0].name: is 256 characters long; the limit is 255",
        ),
        (
            {
                "name": "p",
                "tasks": [shell_task("a")],
                "parameters": [{"name": "p", "default": "v" * 70000}],
            },
            "parameters[0].default: is 70000 bytes long; the limit is 65536",
        ),
        (
            {"name": "c", "tasks": [shell_task("a", "echo " + "x" * 140000)]},
            "tasks[0].shell_command_task.command: is 140005 bytes long; the limit is 131072",
        ),
    ],
    ids=[
        "name",
        "name-utf8",
        "description",
        "task_key",
        "tasks",
        "param-name",
        "param-value",
        "command",
    ],
)
def test_fields_over_their_limit_are_refused_naming_them(
    hr: Headrace, settings: dict, needle: str
) -> None:
    assert_refused(bounded(hr, "validate", write_json(hr, "big.json", settings)), needle)


def test_limits_themselves_are_accepted(hr: Headrace) -> None:
    settings = {
        "name": "n" * 4096,
        "description": "d" * 27700,
        "tasks": [shell_task(f"t{i}") for i in range(999)] + [shell_task("k" * 100)],
    }
    result = bounded(hr, "validate", write_json(hr, "edge.json", settings))
    assert result.returncode == 0, str(result)


def test_special_files_are_refused_without_reading_them(hr: Headrace) -> None:
    """Before: /dev/zero was read until memory ran out; a FIFO blocked forever."""
    assert_refused(bounded(hr, "validate", "/dev/zero"), "a character device, not a regular file")
    fifo = hr.dir / "job.yml"
    os.mkfifo(fifo)
    assert_refused(bounded(hr, "validate", fifo), "a FIFO (named pipe), not a regular file")
    assert_refused(bounded(hr, "run", fifo), "a FIFO (named pipe), not a regular file")
    assert_refused(bounded(hr, "validate", hr.dir), "a directory, not a regular file")


def test_a_file_over_the_size_limit_is_refused(hr: Headrace) -> None:
    big = hr.dir / "big.yml"
    with open(big, "w") as f:
        f.write("name: big\n# " + "x" * (10 * 1024 * 1024) + "\n")
    assert_refused(bounded(hr, "validate", big), "larger than the limit of 10485760 bytes")


# --- 5. YAML alias bombs ----------------------------------------------------------------------

LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{x}: &{x} [{','.join(['*' + p] * 9)}]"
            for p, x in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def test_a_billion_laughs_file_is_refused_at_once(hr: Headrace) -> None:
    """Before: 35-76 s and 3 GB in validate (the RLIMIT_AS of 1.5 GB would kill it)."""
    bomb = hr.write("bomb.yml", LAUGHS + "\n")
    assert len(bomb.read_bytes()) < 500
    result = bounded(hr, "validate", bomb)
    assert_refused(result, "with its aliases expanded", "alias bombs")
    assert "lol" not in result.output


def test_a_billion_laughs_bundle_is_refused_at_once(hr: Headrace) -> None:
    root = hr.dir / "bundle"
    root.mkdir()
    (root / "databricks.yml").write_text("bundle: {name: b}\nvariables:\n" + _indented(LAUGHS))
    result = bounded(hr, "bundle", "validate", "--path", root)
    assert_refused(result, "with its aliases expanded")
    assert "lol" not in result.output


def _indented(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


def test_an_alias_in_a_bad_field_is_not_expanded_into_the_message(hr: Headrace) -> None:
    values = ",".join(f'"value-{i}"' for i in range(2000))
    job = hr.write(
        "alias.yml",
        f"""
        x-big: &big [{values}]
        name: alias
        tasks:
          - task_key: a
            run_if: *big
            shell_command_task: {{command: "true"}}
        """,
    )
    result = bounded(hr, "validate", job)
    assert result.returncode == 2, str(result)
    assert "tasks[0].run_if" in result.output
    assert "value-1999" not in result.output and len(result.output) < 2000


def test_a_recursive_alias_is_refused(hr: Headrace) -> None:
    job = hr.write("loop.yml", "name: &n [*n]\ntasks: []\n")
    assert_refused(bounded(hr, "validate", job), "recursive")


# --- 8. no tracebacks: depth, NUL bytes ------------------------------------------------------


def test_a_5000_deep_json_array_is_one_line_not_a_recursion_error(hr: Headrace) -> None:
    deep = hr.dir / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    assert_refused(bounded(hr, "validate", deep), "nested too deeply")


def test_libraries_nested_900_deep_name_the_field(hr: Headrace) -> None:
    nested: object = "x"
    for _ in range(900):
        nested = [nested]
    task = shell_task("a", libraries=[{"pypi": {"package": nested}}])
    result = bounded(hr, "validate", write_json(hr, "libs.json", {"name": "l", "tasks": [task]}))
    assert_refused(result, "tasks[0].libraries[0].pypi.package", "nested too deeply")


def test_deep_yaml_is_refused_too(hr: Headrace) -> None:
    job = hr.write(
        "deep.yml", "name: d\ntasks:\n  - task_key: a\n    libraries: " + "[" * 200 + "]" * 200
    )
    assert_refused(bounded(hr, "validate", job), "nested too deeply")


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"shell_command_task": {"command": "echo a\u0000b"}}, "shell_command_task.command"),
        (
            {"spark_python_task": {"python_file": "x.py", "parameters": ["ok", "a\u0000"]}},
            "spark_python_task.parameters[1]",
        ),
        (
            {"shell_command_task": {"command": "true", "env": {"A": "\u0000"}}},
            "shell_command_task.env.A",
        ),
    ],
    ids=["command", "python-params", "env"],
)
def test_a_nul_byte_is_refused_naming_the_field(hr: Headrace, task: dict, field: str) -> None:
    """Before: validate passed it and the supervisor crashed with 'embedded null byte'."""
    job = write_json(hr, "nul.json", {"name": "nul", "tasks": [{"task_key": "a", **task}]})
    assert_refused(bounded(hr, "validate", job), f"tasks[0].{field}: contains a NUL byte")
    assert_refused(bounded(hr, "run", job), f"tasks[0].{field}: contains a NUL byte")


def test_a_nul_byte_arriving_through_a_reference_fails_the_task_not_the_supervisor(
    hr: Headrace,
) -> None:
    """Validation cannot see it (the input is JSON text); the process start refuses it."""
    job = hr.write(
        "nul_input.yml",
        r"""
        name: nul-input
        tasks:
          - task_key: loop
            for_each_task:
              inputs: '["a\u0000b"]'
              task:
                task_key: each
                shell_command_task: {command: "echo {{input}}"}
        """,
    )
    result = bounded(hr, "run", job, "--json")
    assert result.returncode == 1, str(result)
    assert "Traceback" not in result.output, str(result)
    assert "null byte" in result.output, str(result)
