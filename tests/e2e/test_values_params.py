"""Task values, dynamic value references, for_each, python tasks and `--param` overrides."""

from __future__ import annotations

import json

from support import Headrace

from .helpers import attempts, result_of, results, task

PRODUCER = """
from headrace.runtime import dbutils

dbutils.jobs.taskValues.set("num", 42)
dbutils.jobs.taskValues.set("text", "hello world")
dbutils.jobs.taskValues.set("items", ["x", "y", "z"])
dbutils.jobs.taskValues.set("conf", {"mode": "fast", "depth": 3})
dbutils.jobs.taskValues.set(
    "people",
    [{"name": "ann", "age": 31}, {"name": "bob", "age": 42},
     {"name": "cy", "age": 23}, {"name": "dee", "age": 54}],
)
print("values set")
"""

CONSUMER = """
import json
import sys

from headrace.runtime import dbutils

get = dbutils.jobs.taskValues.get
print("argv", json.dumps(sys.argv[1:]))
print("num", get(taskKey="up", key="num", default=0) + 1)
print("conf", json.dumps(get(taskKey="up", key="conf")))
print("items", json.dumps(get(taskKey="up", key="items")))
print("missing", get(taskKey="up", key="nope", default="fallback"))
print("widget p", dbutils.widgets.get("p"))
dbutils.jobs.taskValues.set("seen", get(taskKey="up", key="text").upper())
"""


def test_task_values_flow_to_references_and_dbutils(hr: Headrace) -> None:
    hr.write("up.py", PRODUCER)
    hr.write("down.py", CONSUMER)
    job = hr.write(
        "values.yml",
        """
        name: values
        parameters:
          - {name: p, default: "p-default"}
        tasks:
          - task_key: up
            spark_python_task: {python_file: up.py}
          - task_key: echo_refs
            depends_on: [{task_key: up}]
            shell_command_task:
              command: |
                echo 'num={{tasks.up.values.num}}'
                echo 'text={{tasks.up.values.text}}'
                echo 'items={{tasks.up.values.items}}'
                echo 'conf={{tasks.up.values.conf}}'
                echo 'run={{job.run_id}} task={{task.name}} p={{job.parameters.p}}'
          - task_key: read_values
            depends_on: [{task_key: up}]
            spark_python_task:
              python_file: down.py
              parameters: ["{{job.parameters.p}}", "{{tasks.up.values.text}}"]
        """,
    )
    _, run = hr.run_json(job, "--param", "p=from-cli", expect=0)
    assert set(results(run).values()) == {"SUCCESS"}
    run_id = run["run_id"]

    assert task(run, "up")["task_values"] == {
        "num": 42,
        "text": "hello world",
        "items": ["x", "y", "z"],
        "conf": {"mode": "fast", "depth": 3},
        "people": [
            {"name": "ann", "age": 31},
            {"name": "bob", "age": 42},
            {"name": "cy", "age": 23},
            {"name": "dee", "age": 54},
        ],
    }

    echo = hr("runs", "logs", str(run_id), "echo_refs").stdout.splitlines()
    assert echo[0] == "num=42"
    assert echo[1] == "text=hello world"
    assert json.loads(echo[2].removeprefix("items=")) == ["x", "y", "z"]
    assert json.loads(echo[3].removeprefix("conf=")) == {"mode": "fast", "depth": 3}
    assert echo[4] == f"run={run_id} task=echo_refs p=from-cli"
    resolved = task(run, "echo_refs")["resolved_values"]["shell_command_task"]["command"]
    assert "{{" not in resolved and f"run={run_id}" in resolved

    read = hr("runs", "logs", str(run_id), "read_values").stdout.splitlines()
    assert read == [
        "argv " + json.dumps(["from-cli", "hello world"]),
        "num 43",
        "conf " + json.dumps({"mode": "fast", "depth": 3}),
        "items " + json.dumps(["x", "y", "z"]),
        "missing fallback",
        "widget p from-cli",
    ]
    assert task(run, "read_values")["task_values"] == {"seen": "HELLO WORLD"}


def test_for_each_over_task_values(hr: Headrace) -> None:
    hr.write("up.py", PRODUCER)
    job = hr.write(
        "fan.yml",
        """
        name: fan-out
        tasks:
          - task_key: up
            spark_python_task: {python_file: up.py}
          - task_key: per_item
            depends_on: [{task_key: up}]
            for_each_task:
              inputs: "{{tasks.up.values.items}}"
              task:
                task_key: per_item_inner
                shell_command_task: {command: "echo item={{input}}"}
          - task_key: per_person
            depends_on: [{task_key: up}]
            for_each_task:
              inputs: "{{tasks.up.values.people}}"
              concurrency: 2
              task:
                task_key: per_person_inner
                shell_command_task:
                  command: |
                    echo '{{input.name}} is {{input.age}} ({{input}})'
                    sleep 0.5
        """,
    )
    _, run = hr.run_json(job, "--slots", "4", expect=0)
    assert set(results(run).values()) == {"SUCCESS"}
    run_id = str(run["run_id"])

    items = task(run, "per_item")["iterations"]
    assert [it["input"] for it in items] == ["x", "y", "z"]
    assert [result_of(it) for it in items] == ["SUCCESS"] * 3
    for i, item in enumerate("xyz"):
        log = hr("runs", "logs", run_id, f"per_item[{i}]")
        assert log.returncode == 0, str(log)
        assert log.stdout.strip() == f"item={item}"

    people = task(run, "per_person")["iterations"]
    assert [it["input"]["name"] for it in people] == ["ann", "bob", "cy", "dee"]
    assert len({it["run_id"] for it in people}) == 4
    first = hr("runs", "logs", run_id, "per_person[1]").stdout.splitlines()[0]
    name, _, rest = first.partition(" is 42 (")
    assert name == "bob"
    assert json.loads(rest.removesuffix(")")) == {"name": "bob", "age": 42}

    spans = [(a["start_time"], a["end_time"]) for it in people for a in attempts(it)]
    assert len(spans) == 4
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2, spans  # concurrency 2, although 4 slots are free
    stats = task(run, "per_person")["for_each_task"]["stats"]["task_run_stats"]
    assert stats["succeeded_iterations"] == 4


def test_task_value_over_48_kib_fails_the_task(hr: Headrace) -> None:
    hr.write(
        "big.py",
        """
        from headrace.runtime import dbutils
        dbutils.jobs.taskValues.set("small", 1)
        dbutils.jobs.taskValues.set("big", "x" * (48 * 1024 + 10))
        print("unreachable")
        """,
    )
    job = hr.write(
        "big.yml",
        """
        name: big-value
        tasks:
          - task_key: big
            spark_python_task: {python_file: big.py}
        """,
    )
    result, run = hr.run_json(job)
    assert result.returncode == 1, str(result)
    big = task(run, "big")
    assert result_of(big) == "FAILED"
    message = big["state"]["state_message"]
    assert "'big'" in message and str(48 * 1024) in message, message
    assert "unreachable" not in hr("runs", "logs", str(run["run_id"]), "big").stdout


def test_python_wheel_task_calls_an_installed_entry_point(hr: Headrace) -> None:
    target = hr.write(
        "target.yml",
        """
        name: target
        tasks:
          - task_key: t
            shell_command_task: {command: "true"}
        """,
    )
    job = hr.write(
        "wheel.yml",
        f"""
        name: wheel
        tasks:
          - task_key: wheel
            python_wheel_task:
              package_name: headrace
              entry_point: headrace
              parameters: ["validate", "{target}"]
        """,
    )
    _, run = hr.run_json(job, expect=0)
    assert result_of(task(run, "wheel")) == "SUCCESS"
    log = hr("runs", "logs", str(run["run_id"]), "wheel").stdout
    assert f"{target}: valid" in log, log


def test_python_wheel_task_failure_is_reported(hr: Headrace) -> None:
    job = hr.write(
        "wheel.yml",
        f"""
        name: wheel
        tasks:
          - task_key: wheel
            python_wheel_task:
              package_name: headrace
              entry_point: headrace
              parameters: ["validate", "{hr.dir / "missing.yml"}"]
        """,
    )
    result, run = hr.run_json(job)
    assert result.returncode == 1, str(result)
    wheel = task(run, "wheel")
    assert result_of(wheel) == "FAILED"
    assert attempts(wheel)[0]["exit_code"] == 2


PARAM_JOB = """
name: params
parameters:
  - {name: p, default: "dflt"}
tasks:
  - task_key: show
    shell_command_task: {command: "echo 'p is {{job.parameters.p}}'"}
"""


def _param_run(hr: Headrace, *args: str) -> tuple[str, dict]:
    job = hr.write("params.yml", PARAM_JOB)
    _, run = hr.run_json(job, *args, expect=0)
    return hr("runs", "logs", str(run["run_id"]), "show").stdout, run


def test_param_default_is_used_without_override(hr: Headrace) -> None:
    log, run = _param_run(hr)
    assert log.strip() == "p is dflt"
    assert {p["name"]: p["value"] for p in run["job_parameters"]}["p"] == "dflt"


def test_param_override_is_used(hr: Headrace) -> None:
    log, run = _param_run(hr, "--param", "p=x y=z")
    assert log.strip() == "p is x y=z"
    params = {p["name"]: p for p in run["job_parameters"]}
    assert params["p"]["value"] == "x y=z"
    assert params["p"]["default"] == "dflt"


def test_unknown_param_is_rejected(hr: Headrace) -> None:
    job = hr.write("params.yml", PARAM_JOB)
    result = hr("run", job, "--param", "nope=1")
    assert result.returncode == 2, str(result)
    assert "nope" in result.stderr
    assert hr.runs() == []


def test_malformed_param_is_rejected(hr: Headrace) -> None:
    job = hr.write("params.yml", PARAM_JOB)
    result = hr("run", job, "--param", "abc")
    assert result.returncode == 2, str(result)
    assert "abc" in result.stderr and "NAME=VALUE" in result.stderr
    assert hr.runs() == []
