"""`headrace run` end to end: the README example, DAG ordering, unsupported types, not-found."""

from __future__ import annotations

from support import Headrace

from .helpers import EXAMPLES, attempts, result_of, results, task

ETL = EXAMPLES / "etl" / "job.yml"


def test_etl_example_publishes_when_quality_is_good(hr: Headrace) -> None:
    _, run = hr.run_json(ETL, expect=0)

    assert run["state"]["life_cycle_state"] == "TERMINATED"
    assert result_of(run) == "SUCCESS"
    got = results(run)
    assert got.pop("alert") == "EXCLUDED"
    assert set(got) == {
        "ingest",
        "transform",
        "fetch_fx_rates",
        "quality_gate",
        "publish",
        "region_reports",
        "summary",
    }
    assert set(got.values()) == {"SUCCESS"}, got
    assert task(run, "quality_gate")["condition_task"]["outcome"] == "true"

    fx = attempts(task(run, "fetch_fx_rates"))
    assert [a["result_state"] for a in fx] == ["FAILED", "SUCCESS"]
    assert [a["attempt_number"] for a in fx] == [0, 1]
    assert "503" in fx[0]["error"]
    assert fx[1]["start_time"] - fx[0]["start_time"] >= 300  # min_retry_interval_millis

    reports = task(run, "region_reports")
    iterations = reports["iterations"]
    assert len(iterations) == 4
    assert [result_of(it) for it in iterations] == ["SUCCESS"] * 4
    regions = task(run, "transform")["task_values"]["regions"]
    assert sorted(it["input"] for it in iterations) == sorted(regions)

    publish_log = hr("runs", "logs", str(run["run_id"]), "publish")
    assert publish_log.returncode == 0, str(publish_log)
    assert f"(run {run['run_id']})" in publish_log.stdout
    summary_log = hr("runs", "logs", str(run["run_id"]), "summary").stdout
    assert "report_east.txt" in summary_log, summary_log


def test_etl_example_alerts_when_quality_is_too_low(hr: Headrace) -> None:
    _, run = hr.run_json(ETL, "--param", "min_valid_ratio=0.999", expect=0)

    assert result_of(run) == "SUCCESS"
    assert task(run, "quality_gate")["condition_task"]["outcome"] == "false"
    got = results(run)
    assert got["publish"] == "EXCLUDED"
    assert got["region_reports"] == "EXCLUDED"
    assert got["alert"] == "SUCCESS"
    assert got["summary"] == "SUCCESS"
    assert not attempts(task(run, "publish"))
    assert task(run, "region_reports").get("iterations", []) == []
    summary_log = hr("runs", "logs", str(run["run_id"]), "summary").stdout
    assert "none (quality gate failed)" in summary_log, summary_log
    alert_log = hr("runs", "logs", str(run["run_id"]), "alert").stdout
    assert "ALERT" in alert_log


def test_diamond_runs_in_dependency_order_and_in_parallel(hr: Headrace) -> None:
    trace = hr.dir / "trace.txt"

    def step(key: str, seconds: float) -> str:
        stamp = "$(date +%s.%N)"
        return (
            f'echo "start {key} {stamp}" >> {trace}; sleep {seconds}; '
            f'echo "end {key} {stamp}" >> {trace}'
        )

    job = hr.write(
        "diamond.yml",
        f"""
        name: diamond
        tasks:
          - task_key: a
            shell_command_task: {{command: '{step("a", 0.2)}'}}
          - task_key: b
            depends_on: [{{task_key: a}}]
            shell_command_task: {{command: '{step("b", 1.0)}'}}
          - task_key: c
            depends_on: [{{task_key: a}}]
            shell_command_task: {{command: '{step("c", 1.0)}'}}
          - task_key: d
            depends_on: [{{task_key: b}}, {{task_key: c}}]
            shell_command_task: {{command: '{step("d", 0.2)}'}}
        """,
    )
    _, run = hr.run_json(job, "--slots", "2", "--quiet", expect=0)
    assert results(run) == dict.fromkeys("abcd", "SUCCESS")

    # From the store's attempt times.
    span = {k: (attempts(task(run, k))[0]["start_time"], task(run, k)["end_time"]) for k in "abcd"}
    assert span["b"][0] >= span["a"][1] and span["c"][0] >= span["a"][1]
    assert span["d"][0] >= max(span["b"][1], span["c"][1])
    assert span["b"][0] < span["c"][1] and span["c"][0] < span["b"][1], span

    # From what the tasks themselves wrote.
    seen: dict[tuple[str, str], float] = {}
    for line in trace.read_text().splitlines():
        what, key, when = line.split()
        seen[(what, key)] = float(when)
    assert len(seen) == 8, seen
    assert seen[("start", "d")] >= max(seen[("end", "b")], seen[("end", "c")])
    assert seen[("start", "b")] >= seen[("end", "a")]
    assert seen[("start", "c")] >= seen[("end", "a")]
    assert seen[("start", "b")] < seen[("end", "c")] and seen[("start", "c")] < seen[("end", "b")]


def test_runs_get_of_missing_run_is_not_found(hr: Headrace) -> None:
    result = hr("runs", "get", "987654", "--json")
    assert result.returncode == 3, str(result)
    assert "987654" in result.stderr
    assert result.stdout == ""


def test_runs_logs_of_task_that_never_ran_is_not_found(hr: Headrace) -> None:
    job = hr.write(
        "j.yml",
        """
        name: short-circuit
        tasks:
          - task_key: boom
            shell_command_task: {command: "echo kaput; exit 1"}
          - task_key: never
            depends_on: [{task_key: boom}]
            shell_command_task: {command: echo never}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    run_id = str(run["run_id"])
    assert result_of(task(run, "never")) == "UPSTREAM_FAILED"

    never = hr("runs", "logs", run_id, "never")
    assert never.returncode == 3, str(never)
    assert "never" in never.stderr

    unknown = hr("runs", "logs", run_id, "ghost")
    assert unknown.returncode == 3, str(unknown)

    boom = hr("runs", "logs", run_id, "boom")
    assert boom.returncode == 0, str(boom)
    assert "kaput" in boom.stdout
