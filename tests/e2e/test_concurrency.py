"""max_concurrent_runs across `headrace run` processes: queue (the default) or skip."""

from __future__ import annotations

import time

from support import Headrace, wait_for

from .helpers import result_of


def _job(hr: Headrace, name: str, flag, queue: bool | None) -> object:
    queue_line = "" if queue is None else f"queue: {{enabled: {str(queue).lower()}}}"
    return hr.write(
        f"{name}.yml",
        f"""
        name: {name}
        max_concurrent_runs: 1
        {queue_line}
        tasks:
          - task_key: a
            shell_command_task:
              command: "while [ ! -f {flag} ]; do sleep 0.05; done"
        """,
    )


def test_a_second_run_waits_in_the_queue_then_runs(hr: Headrace) -> None:
    flag = hr.dir / "go"
    job = _job(hr, "queued", flag, queue=None)  # jobs queue by default (Jobs API 2.2)
    first = hr.popen("run", job, "--quiet")
    wait_for(lambda: hr.runs() and hr.runs()[0]["state"]["life_cycle_state"] == "RUNNING")
    second = hr.popen("run", job, "--json")
    queued = wait_for(
        lambda: [r for r in hr.runs() if r["state"]["life_cycle_state"] == "QUEUED"],
        what="the second run to be QUEUED",
    )
    assert "max_concurrent_runs=1" in queued[0]["state"]["state_message"]
    time.sleep(0.5)
    assert second.poll() is None  # still waiting its turn
    flag.touch()
    assert first.wait(timeout=20) == 0
    _, err = second.communicate(timeout=20)
    assert second.returncode == 0, err
    runs = hr.runs()
    assert [result_of(r) for r in runs] == ["SUCCESS", "SUCCESS"]
    later, earlier = runs
    assert later["start_time"] >= earlier["end_time"]  # never both at once


def test_without_a_queue_the_second_run_is_skipped(hr: Headrace) -> None:
    flag = hr.dir / "go"
    job = _job(hr, "skipping", flag, queue=False)
    first = hr.popen("run", job, "--quiet")
    wait_for(lambda: hr.runs() and hr.runs()[0]["state"]["life_cycle_state"] == "RUNNING")
    second = hr("run", job, "--json")
    assert second.returncode == 13, str(second)
    run = second.json()
    assert run["state"]["life_cycle_state"] == "SKIPPED"
    assert run["state"]["result_state"] == "MAXIMUM_CONCURRENT_RUNS_REACHED"
    assert run["tasks"] == []
    flag.touch()
    assert first.wait(timeout=20) == 0
