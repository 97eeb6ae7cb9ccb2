"""spec.bounds: the limits of raw job data, files and YAML (issue 11)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headrace import limits
from headrace.errors import SpecError
from headrace.spec.bounds import (
    depth_issue,
    load_yaml,
    parameter_issues,
    raw_issues,
    read_spec_file,
    shape_issues,
)
from headrace.spec.loader import parse_job_settings


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_bounded_and_named_at_its_place() -> None:
    assert shape_issues({"a": nested(limits.MAX_NESTING_DEPTH - 1)}) == []
    [issue] = shape_issues({"a": {"b": nested(900)}})
    assert issue.path == "a.b" + "[0]" * (limits.MAX_NESTING_DEPTH - 2)
    assert "nested too deeply" in issue.message
    assert depth_issue({"a": nested(5000)}) is not None  # iterative: no RecursionError


def test_nul_bytes_and_long_text_are_named() -> None:
    issues = shape_issues({"tasks": [{"env": {"A": "x\x00"}, "cmd": "y" * (128 * 1024 + 1)}]})
    assert [(i.path, i.message.split(";")[0]) for i in issues] == [
        ("tasks[0].cmd", "is 131073 bytes long"),
        (
            "tasks[0].env.A",
            "contains a NUL byte (\\0), which no command, path or parameter can hold",
        ),
    ]


def test_a_huge_key_is_refused_without_being_echoed() -> None:
    [issue] = shape_issues({"tags": {"k" * 5000: "v"}})
    assert issue.path == "tags" and "a key is 5000 characters long" in issue.message


def test_field_limits_are_checked_before_the_models() -> None:
    data = {"name": "n" * 5000, "tasks": [{"task_key": "t" * 101, "description": "d" * 27701}]}
    assert [i.path for i in raw_issues(data)] == [
        "name",
        "tasks[0].task_key",
        "tasks[0].description",
    ]
    with pytest.raises(SpecError) as caught:
        parse_job_settings(data)
    assert "name: is 5000 bytes long; the limit is 4096" in str(caught.value)


def test_too_many_tasks_is_one_issue() -> None:
    tasks = [{"task_key": f"t{i}", "shell_command_task": {"command": "true"}} for i in range(1001)]
    assert [str(i) for i in raw_issues({"tasks": tasks})] == [
        "tasks: has 1001 tasks; a job has at most 1000"
    ]


def test_run_now_parameters() -> None:
    issues = parameter_issues({"p" * 300: "v", "ok": "x" * 70000, "fine": "y"}, "job_parameters")
    assert [i.path for i in issues] == [f"job_parameters.{'p' * 37}...", "job_parameters.ok"]


def test_a_repeated_dependency_names_both_places() -> None:
    data = {
        "tasks": [
            {"task_key": "a", "shell_command_task": {"command": "true"}},
            {
                "task_key": "b",
                "depends_on": [{"task_key": "a"}, {"task_key": "a"}],
                "shell_command_task": {"command": "true"},
            },
        ]
    }
    with pytest.raises(SpecError) as caught:
        parse_job_settings(data)
    assert str(caught.value) == (
        "tasks[1].depends_on[1].task_key: 'a' is listed twice (also depends_on[0])"
    )


LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{x}: &{x} [{','.join(['*' + p] * 9)}]"
        for p, x in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def test_alias_bombs_are_measured_not_expanded() -> None:
    with pytest.raises(SpecError, match="with its aliases expanded"):
        load_yaml(LAUGHS)
    # A few shared aliases are fine: counted once per use.
    assert load_yaml("x: &x [1, 2]\ny: [*x, *x]\n") == {"x": [1, 2], "y": [[1, 2], [1, 2]]}


def test_recursive_and_deep_yaml_are_refused() -> None:
    with pytest.raises(SpecError, match="recursive"):
        load_yaml("a: &a [*a]\n")
    with pytest.raises(SpecError, match="nested too deeply"):
        load_yaml("[" * 100 + "]" * 100)


def test_spec_files_must_be_regular_and_small(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="a character device, not a regular file"):
        read_spec_file(Path("/dev/zero"))
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="a FIFO"):
        read_spec_file(fifo)
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (limits.MAX_SPEC_FILE_BYTES + 1))
    with pytest.raises(SpecError, match="larger than the limit"):
        read_spec_file(big)
    with pytest.raises(SpecError, match="not UTF-8"):
        (tmp_path / "bin.yml").write_bytes(b"\xff\xfe\x00")
        read_spec_file(tmp_path / "bin.yml")
    (tmp_path / "ok.yml").write_text("\ufeffname: x\n", encoding="utf-8")
    assert read_spec_file(tmp_path / "ok.yml") == "name: x\n"


def test_the_warehouses_file_is_bounded_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headrace.warehouse.config import resolve
    from headrace.warehouse.errors import WarehouseError

    monkeypatch.delenv("HEADRACE_WAREHOUSES", raising=False)
    (tmp_path / "warehouses.yml").write_text(LAUGHS + "\n")
    with pytest.raises(WarehouseError, match="with its aliases expanded"):
        resolve("x", home=tmp_path)
