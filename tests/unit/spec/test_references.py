"""Dynamic value references: parsing, rendering, time fields, validation against a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headrace.spec.models import JobSettings
from headrace.spec.references import (
    UnresolvedReference,
    find_references,
    render,
    single_reference,
    time_fields,
    validate_references,
)


def test_find_references_splits_parts() -> None:
    text = "rows={{tasks.ingest.values.rows}} id={{ job.id }}"
    assert find_references(text) == [("tasks", "ingest", "values", "rows"), ("job", "id")]


def test_find_references_unquotes_backticks() -> None:
    assert find_references("{{job.parameters.`my-param`}}") == [("job", "parameters", "my-param")]


def test_find_references_skips_unknown_namespaces_and_malformed_syntax() -> None:
    assert (
        find_references("{{foo.bar}} {{job.}} {{ job..id }} {{tasks.my-task.run_id}} {job.id}")
        == []
    )


def test_render_replaces_known_namespaces_only() -> None:
    def resolve(parts: tuple[str, ...]) -> str:
        return "<" + "/".join(parts) + ">"

    text = "a={{job.run_id}} b={{  task.name  }} c={{foo.bar}} d={{job_id}} "
    text += "e={{ tasks.`a-b`.values.n }}"
    assert (
        render(text, resolve)
        == "a=<job/run_id> b=<task/name> c={{foo.bar}} d=<job_id> e=<tasks/a-b/values/n>"
    )


def test_render_leaves_malformed_references_verbatim() -> None:
    text = "{{ job.id + 1 }} {{job.}} {{tasks.my-task.run_id}} {{}} {{ }}"
    assert render(text, lambda parts: "X") == text


def test_render_lets_resolver_errors_through() -> None:
    def resolve(parts: tuple[str, ...]) -> str:
        raise UnresolvedReference(f"no value for {'.'.join(parts)}")

    with pytest.raises(UnresolvedReference, match=r"no value for tasks\.a\.values\.b"):
        render("{{tasks.a.values.b}}", resolve)


def test_single_reference() -> None:
    assert single_reference(" {{ job.parameters.items }} ") == ("job", "parameters", "items")
    assert single_reference("[{{job.id}}]") is None
    assert single_reference("{{other.x}}") is None


def test_time_fields_of_a_utc_datetime() -> None:
    saturday = datetime(2024, 3, 9, 7, 5, 3, 250000, tzinfo=UTC)
    assert time_fields(saturday) == {
        "iso_weekday": "6",
        "is_weekday": "false",
        "iso_date": "2024-03-09",
        "iso_datetime": "2024-03-09T07:05:03",
        "year": "2024",
        "month": "3",
        "day": "9",
        "hour": "7",
        "minute": "5",
        "second": "3",
        "timestamp_ms": "1709967903250",
    }


def test_time_fields_convert_to_utc_and_treat_naive_as_utc() -> None:
    tokyo = datetime(2024, 3, 11, 8, 0, tzinfo=timezone(timedelta(hours=9)))
    fields = time_fields(tokyo)
    assert (fields["iso_datetime"], fields["is_weekday"]) == ("2024-03-10T23:00:00", "false")
    assert time_fields(datetime(1970, 1, 1))["timestamp_ms"] == "0"


def job(*tasks: dict[str, Any], params: tuple[str, ...] = ("day",)) -> JobSettings:
    return JobSettings.model_validate(
        {"parameters": [{"name": p, "default": "x"} for p in params], "tasks": list(tasks)}
    )


def shell(key: str, command: str, *deps: str) -> dict[str, Any]:
    depends_on = [{"task_key": d} for d in deps]
    return {"task_key": key, "depends_on": depends_on, "shell_command_task": {"command": command}}


def issues_of(settings: JobSettings) -> list[str]:
    return [str(issue) for issue in validate_references(settings)]


VALID = [
    "job.id",
    "job.name",
    "job.run_id",
    "job.repair_count",
    "job.start_time.iso_date",
    "job.start_time.timestamp_ms",
    "job.trigger.type",
    "job.trigger.time.is_weekday",
    "job.trigger.file_arrival.location",
    "job.trigger.table_update.updated_tables",
    "job.trigger.table_update.main.sales.orders.version",
    "job.trigger.table_update.[main.sales.orders].commit_timestamp.iso_date",
    "job.trigger.table_update.orders.commit_timestamp.timestamp_ms",
    "job.parameters.day",
    "job.parameters.`my-param`",
    "task.name",
    "task.run_id",
    "task.execution_count",
    "task.notebook_path",
    "tasks.up.run_id",
    "tasks.up.result_state",
    "tasks.up.error_code",
    "tasks.up.values.rows",
    "tasks.up.output.first_row.n",
    "workspace.id",
    "workspace.url",
    "backfill.iso_date",
    "job_id",
    "run_id",
    "parent_run_id",
    "start_date",
    "start_time",
    "task_retry_count",
    "task_key",
    "unknown_namespace.anything",
]


@pytest.mark.parametrize("reference", VALID)
def test_valid_references_have_no_issues(reference: str) -> None:
    settings = job(
        shell("up", "true"),
        shell("me", f"echo {{{{{reference}}}}}", "up"),
        params=("day", "my-param"),
    )
    assert issues_of(settings) == []


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("job.naem", "unknown reference {{job.naem}} (did you mean 'name'?)"),
        (
            "job.parameters.dya",
            "{{job.parameters.dya}}: no job parameter named 'dya' (did you mean 'day'?)",
        ),
        ("job.start_time.weekday", "{{job.start_time.weekday}}: unknown time field 'weekday'"),
        ("job.start_time", "{{job.start_time}}: unknown time field ''"),
        ("job.trigger.time.bogus", "{{job.trigger.time.bogus}}: unknown time field 'bogus'"),
        ("task.nmae", "unknown reference {{task.nmae}} (did you mean 'name'?)"),
        ("tasks.ghost.values.x", "{{tasks.ghost.values.x}}: no task named 'ghost'"),
        ("tasks.up.valus.x", "unknown reference {{tasks.up.valus.x}} (did you mean 'values'?)"),
        ("tasks.up", "unknown reference {{tasks.up}}"),
        ("workspace.name", "unknown reference {{workspace.name}}"),
        ("run_id.x", "unknown reference {{run_id.x}}"),
        ("input", "{{input}}: only available in a for_each_task's nested task"),
        ("input.name", "{{input.name}}: only available in a for_each_task's nested task"),
        ("job.trigger.table_update.orders.versoin", "unknown reference"),
        ("job.trigger.table_update.version", "unknown reference"),
    ],
)
def test_invalid_references_are_reported_with_path(reference: str, message: str) -> None:
    settings = job(shell("up", "true"), shell("me", f"echo {{{{{reference}}}}}", "up"))
    [issue] = issues_of(settings)
    assert issue.startswith(f"tasks[1].shell_command_task.command: {message}")


def test_values_of_a_task_that_is_not_upstream_are_rejected() -> None:
    settings = job(shell("side", "true"), shell("me", "echo {{tasks.side.values.n}}"))
    [issue] = issues_of(settings)
    assert issue.startswith("tasks[1].shell_command_task.command: {{tasks.side.values.n}}: ")
    assert "task 'side' is not upstream of 'me'" in issue


def test_values_of_a_transitive_upstream_are_fine() -> None:
    settings = job(
        shell("a", "true"), shell("b", "true", "a"), shell("c", "echo {{tasks.a.values.n}}", "b")
    )
    assert issues_of(settings) == []


def test_every_parameter_field_is_checked_with_its_path() -> None:
    bad = "{{job.bad}}"
    settings = job(
        {"task_key": "py", "spark_python_task": {"python_file": "x.py", "parameters": ["ok", bad]}},
        {
            "task_key": "whl",
            "python_wheel_task": {
                "package_name": "p",
                "entry_point": "e",
                "named_parameters": {"k": bad},
            },
        },
        {"task_key": "nb", "notebook_task": {"notebook_path": "n", "base_parameters": {"k": bad}}},
        {"task_key": "cond", "condition_task": {"op": "EQUAL_TO", "left": bad, "right": bad}},
        {"task_key": "sh", "shell_command_task": {"command": "x", "env": {"E": bad}}},
        {"task_key": "rj", "run_job_task": {"job_id": 1, "job_parameters": {"p": bad}}},
        {
            "task_key": "sql",
            "sql_task": {"warehouse_id": "w", "query": {"query_id": "q"}, "parameters": {"p": bad}},
        },
        {
            "task_key": "fe",
            "for_each_task": {"inputs": bad, "task": shell("inner", f"echo {bad} {{{{input}}}}")},
        },
        {"task_key": "doc", "description": bad, "shell_command_task": {"command": "x"}},
    )
    paths = [issue.split(": ")[0] for issue in issues_of(settings)]
    assert paths == [
        "tasks[0].spark_python_task.parameters[1]",
        "tasks[1].python_wheel_task.named_parameters.k",
        "tasks[2].notebook_task.base_parameters.k",
        "tasks[3].condition_task.left",
        "tasks[3].condition_task.right",
        "tasks[4].shell_command_task.env.E",
        "tasks[5].run_job_task.job_parameters.p",
        "tasks[6].sql_task.parameters.p",
        "tasks[7].for_each_task.inputs",
        "tasks[7].for_each_task.task.shell_command_task.command",
    ]


def test_input_is_fine_inside_the_nested_task_but_not_in_the_loop_inputs() -> None:
    settings = job(
        {
            "task_key": "fe",
            "for_each_task": {
                "inputs": "{{input}}",
                "task": shell("inner", "echo {{input}} {{input.name}} {{tasks.fe.values.x}}"),
            },
        }
    )
    issues = issues_of(settings)
    assert (
        issues[0] == "tasks[0].for_each_task.inputs: {{input}}: "
        "only available in a for_each_task's nested task"
    )
    assert issues[1].startswith(
        "tasks[0].for_each_task.task.shell_command_task.command: {{tasks.fe.values.x}}"
    )
    assert len(issues) == 2


def test_parameter_defaults_may_use_job_references_only() -> None:
    settings = JobSettings.model_validate(
        {
            "parameters": [
                {"name": "a", "default": "{{job.start_time.iso_date}}"},
                {"name": "b", "default": "{{tasks.x.values.y}}"},
                {"name": "c", "default": "{{job.nope}}"},
            ],
            "tasks": [shell("x", "true")],
        }
    )
    issues = issues_of(settings)
    assert issues[0].startswith("parameters[1].default: {{tasks.x.values.y}}: 'tasks' references")
    assert issues[1] == "parameters[2].default: unknown reference {{job.nope}}"


identifiers = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
quoted = st.from_regex(r"[A-Za-z0-9_. -]{1,8}", fullmatch=True).filter(lambda s: "`" not in s)


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_braces_renders_unchanged(text: str) -> None:
    assert render(text, lambda parts: "X") == text
    assert find_references(text) == []


@given(
    st.sampled_from(["job", "task", "tasks", "input", "workspace", "backfill"]),
    st.lists(st.one_of(identifiers, quoted), max_size=4),
    st.sampled_from(["", " ", "  "]),
    st.text(alphabet="abc {}", max_size=5).filter(lambda s: "{{" not in s and "}}" not in s),
)
def test_rendered_references_resolve_to_their_parts(
    head: str, rest: list[str], pad: str, around: str
) -> None:
    quote = [f"`{p}`" if not p.replace("_", "").isalnum() or not p.isascii() else p for p in rest]
    text = around + "{{" + pad + ".".join([head, *quote]) + pad + "}}" + around
    assert find_references(text) == [(head, *rest)]
    assert render(text, lambda parts: "|".join(parts)) == around + "|".join([head, *rest]) + around
