"""Invalid specs through `headrace validate` and `headrace run`: exit 2, every error, no writes."""

from __future__ import annotations

import pytest

from support import Headrace

from .helpers import EXAMPLES

HEADER = "name: broken\nparameters:\n  - {name: p, default: '1'}\ntasks:\n"

# One error each: (case id, tasks YAML or a whole spec, the text the error must contain).
CASES = [
    (
        "cycle",
        """
          - task_key: a
            depends_on: [{task_key: c}]
            shell_command_task: {command: echo}
          - task_key: b
            depends_on: [{task_key: a}]
            shell_command_task: {command: echo}
          - task_key: c
            depends_on: [{task_key: b}]
            shell_command_task: {command: echo}
        """,
        ["a -> b -> c -> a"],
    ),
    (
        "unknown-depends-on",
        """
          - task_key: load
            shell_command_task: {command: echo}
          - task_key: report
            depends_on: [{task_key: lod}]
            shell_command_task: {command: echo}
        """,
        ["tasks[1].depends_on[0].task_key", "no task named 'lod'"],
    ),
    (
        "duplicate-task-key",
        """
          - task_key: a
            shell_command_task: {command: echo}
          - task_key: a
            shell_command_task: {command: echo}
        """,
        ["duplicate task_key 'a'"],
    ),
    (
        "no-task-type",
        """
          - task_key: empty
        """,
        ["tasks[0]", "'empty' has no task type"],
    ),
    (
        "two-task-types",
        """
          - task_key: both
            shell_command_task: {command: echo}
            spark_python_task: {python_file: x.py}
        """,
        ["tasks[0]", "'both' has 2 task types"],
    ),
    (
        "outcome-on-non-condition",
        """
          - task_key: plain
            shell_command_task: {command: echo}
          - task_key: child
            depends_on: [{task_key: plain, outcome: "true"}]
            shell_command_task: {command: echo}
        """,
        ["tasks[1].depends_on[0].outcome", "'plain' is not a condition_task"],
    ),
    (
        "unknown-reference",
        """
          - task_key: t
            shell_command_task: {command: "echo {{job.naem}}"}
        """,
        ["tasks[0].shell_command_task.command", "{{job.naem}}", "did you mean 'name'"],
    ),
    (
        "unknown-parameter-reference",
        """
          - task_key: t
            shell_command_task: {command: "echo {{job.parameters.nope}}"}
        """,
        ["tasks[0].shell_command_task.command", "no job parameter named 'nope'"],
    ),
    (
        "bad-cron",
        "name: broken\n"
        "schedule: {quartz_cron_expression: 'every day at noon', timezone_id: UTC}\n"
        "tasks:\n"
        "  - task_key: t\n"
        "    shell_command_task: {command: echo}\n",
        ["schedule.quartz_cron_expression"],
    ),
    (
        "unknown-field-typo",
        """
          - task_key: a
            shell_command_task: {command: echo}
          - task_key: b
            depnds_on: [{task_key: a}]
            shell_command_task: {command: echo}
        """,
        ["tasks[1].depnds_on", "did you mean 'depends_on'"],
    ),
]


def _spec(body: str) -> str:
    if body.startswith("name:"):
        return body
    lines = [line[8:] if line.startswith("        ") else line for line in body.splitlines()]
    return HEADER + "\n".join(line for line in lines if line.strip()) + "\n"


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_spec_is_rejected_by_validate_and_run(
    hr: Headrace, body: str, expected: list[str]
) -> None:
    path = hr.dir / "broken.yml"
    path.write_text(_spec(body))

    checked = hr("validate", path)
    assert checked.returncode == 2, str(checked)
    for text in expected:
        assert text in checked.stderr, str(checked)
    assert "1 error" in checked.stderr, str(checked)

    ran = hr("run", path)
    assert ran.returncode == 2, str(ran)
    for text in expected:
        assert text in ran.stderr, str(ran)

    # Rejected before the store is even opened: nothing at all is written.
    assert list(hr.home.iterdir()) == []


def test_every_error_of_a_file_is_reported_at_once(hr: Headrace) -> None:
    path = hr.write(
        "many.yml",
        """
        name: many
        parameters:
          - {name: p, default: "1"}
        schedule: {quartz_cron_expression: "nope", timezone_id: UTC}
        tasks:
          - task_key: a
            depends_on: [{task_key: c}]
            shell_command_task: {command: "echo {{job.naem}}"}
          - task_key: b
            depends_on: [{task_key: a}]
            shell_command_task: {command: "echo {{job.parameters.nope}}"}
          - task_key: c
            depends_on: [{task_key: b}]
            shell_command_task: {command: echo}
          - task_key: d
            depends_on: [{task_key: ghost}]
            shell_command_task: {command: echo}
          - task_key: d
            shell_command_task: {command: echo}
          - task_key: f
          - task_key: g
            shell_command_task: {command: echo}
            spark_python_task: {python_file: x.py}
          - task_key: h
            depends_on: [{task_key: g, outcome: "true"}]
            shell_command_task: {command: echo}
        """,
    )
    expected = [
        "a -> b -> c -> a",
        "no task named 'ghost'",
        "duplicate task_key 'd'",
        "'f' has no task type",
        "'g' has 2 task types",
        "'g' is not a condition_task",
        "{{job.naem}}",
        "no job parameter named 'nope'",
        "schedule.quartz_cron_expression",
    ]
    for command in (["validate", path], ["run", path]):
        result = hr(*command)
        assert result.returncode == 2, str(result)
        missing = [text for text in expected if text not in result.stderr]
        assert not missing, f"missing {missing}\n{result}"
        assert "9 errors" in result.stderr, str(result)
    assert hr.runs() == []


def test_unknown_field_is_reported_together_with_other_errors(hr: Headrace) -> None:
    path = hr.write(
        "typo.yml",
        """
        name: typo
        tasks:
          - task_key: a
            depnds_on: [{task_key: b}]
            shell_command_task: {command: echo}
          - task_key: b
            depends_on: [{task_key: ghost}]
            shell_command_task: {command: echo}
          - task_key: b
            shell_command_task: {command: echo}
        """,
    )
    result = hr("validate", path)
    assert result.returncode == 2, str(result)
    expected = ["did you mean 'depends_on'", "no task named 'ghost'", "duplicate task_key 'b'"]
    missing = [text for text in expected if text not in result.stderr]
    assert not missing, f"missing {missing}\n{result}"


def test_validate_checks_every_file_given(hr: Headrace) -> None:
    bad = hr.write(
        "bad.yml",
        """
        name: bad
        tasks:
          - task_key: a
            depends_on: [{task_key: zzz}]
            shell_command_task: {command: echo}
        """,
    )
    good = EXAMPLES / "etl" / "job.yml"
    result = hr("validate", good, bad)
    assert result.returncode == 2, str(result)
    assert f"{good}: valid" in result.stdout
    assert "'daily-sales-etl'" in result.stdout
    assert "no task named 'zzz'" in result.stderr

    ok = hr("validate", good)
    assert ok.returncode == 0, str(ok)
    assert ok.stderr == ""


def test_missing_spec_file_is_a_usage_error(hr: Headrace) -> None:
    result = hr("run", hr.dir / "nowhere.yml")
    assert result.returncode == 2, str(result)
    assert "nowhere.yml" in result.stderr
