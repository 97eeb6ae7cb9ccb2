"""Scale-out on PostgreSQL: workers share the work, survive kills; servers take over."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from databricks.sdk.service import jobs

from support import shell, wait_for

from .conftest import Cluster

SUCCESS = jobs.RunResultState.SUCCESS


def settle(w, run_id: int, timeout: float = 90) -> jobs.Run:  # type: ignore[no-untyped-def]
    def done() -> jobs.Run | None:
        run = w.jobs.get_run(run_id)
        return run if run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED else None

    return wait_for(done, timeout=timeout, what=f"run {run_id} to end")


def attempts_of(cluster: Cluster, run_id: int) -> list[tuple[str, int, str, str | None, str]]:
    """(task key, attempt number, worker, result, error) of each attempt of a run."""
    rows = cluster.sql(
        "SELECT t.task_key, a.attempt_number, a.worker_id, a.result_state, coalesce(a.error, '')"
        " FROM attempts a JOIN task_runs t ON t.task_run_id = a.task_run_id"
        " WHERE a.run_id = :r ORDER BY a.attempt_id",
        r=run_id,
    )
    return [tuple(r) for r in rows]


def test_workers_share_the_work_and_are_listed(cluster: Cluster) -> None:
    server = cluster.server(workers=0)
    cluster.worker(slots=2)
    cluster.worker(slots=2)
    w = server.user("ops", admin=True).w
    listed = server.cli("workers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    workers = json.loads(listed.stdout)["workers"]
    assert sorted(x["slots"] for x in workers) == [0, 2, 2]
    tasks = [shell(f"t{i}", "sleep 0.4") for i in range(8)]
    job_id = w.jobs.create(name="spread", tasks=tasks).job_id
    run = settle(w, w.jobs.run_now(job_id).run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()
    used = {worker for _, _, worker, _, _ in attempts_of(cluster, run.run_id)}
    # Four slots over two workers, eight tasks of 0.4 s: both workers took some.
    assert len(used) == 2


def test_a_killed_worker_s_attempt_is_retried_on_another(cluster: Cluster) -> None:
    server = cluster.server(workers=0)
    first = cluster.worker(slots=1)
    w = server.user("ops").w
    marker = cluster.root / "started"
    command = f'if [ "$HEADRACE_ATTEMPT_NUMBER" = 0 ]; then touch {marker}; sleep 60; fi; echo done'
    task = shell("slow", command)
    task.max_retries = 2
    job_id = w.jobs.create(name="survivor", tasks=[task]).job_id
    run_id = w.jobs.run_now(job_id).run_id
    wait_for(marker.exists, timeout=30, what="the first attempt to start")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    cluster.worker(slots=1)
    run = settle(w, run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()
    attempts = attempts_of(cluster, run_id)
    assert [(a[0], a[1], a[3]) for a in attempts] == [
        ("slow", 0, "FAILED"),
        ("slow", 1, "SUCCESS"),
    ]
    assert attempts[0][4].startswith("worker lost: worker ")
    assert attempts[0][2] != attempts[1][2]
    # The killed worker's task process (its own session) did not live on.
    (task_run_id,) = cluster.sql(
        "SELECT task_run_id FROM attempts WHERE run_id = :r AND attempt_number = 0", r=run_id
    )[0]
    # Task run ids repeat across stores: other tests on this machine may run a task 1001 now.
    dead_worker = f"HEADRACE_WORKER_ID={attempts[0][2]}"
    assert not processes_with_env(f"HEADRACE_TASK_RUN_ID={task_run_id}", dead_worker)


def processes_with_env(*entries: str) -> list[int]:
    """The processes whose environment holds every one of `entries` (NAME=value)."""
    found = []
    for name in os.listdir("/proc"):
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(entry.encode() in environ for entry in entries):
            found.append(int(name))
    return found


def test_another_server_takes_over_when_the_coordinator_dies(cluster: Cluster) -> None:
    leader = cluster.server(workers=0)
    standby = cluster.server(workers=0)
    cluster.worker(slots=2)
    token = leader.token("ops", admin=True)
    w_leader, w_standby = leader.client(token), standby.client(token)
    marker = cluster.root / "failed-once"
    flaky = shell(
        "flaky",
        f"if [ ! -e {marker} ]; then touch {marker}; exit 3; fi; echo second time lucky",
    )
    flaky.max_retries = 1
    flaky.min_retry_interval_millis = 4000  # the retry is a timer: only a coordinator fires it
    after = shell("after", "sleep 1; echo after")
    after.depends_on = [jobs.TaskDependency(task_key="flaky")]
    job_id = w_leader.jobs.create(name="takeover", tasks=[flaky, after]).job_id
    run_id = w_leader.jobs.run_now(job_id).run_id
    wait_for(marker.exists, timeout=30, what="the first attempt to fail")
    leader.kill()
    started = time.monotonic()
    run = settle(w_standby, run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()
    assert time.monotonic() - started < 60
    attempts = attempts_of(cluster, run_id)
    assert [(a[0], a[1], a[3]) for a in attempts] == [
        ("flaky", 0, "FAILED"),
        ("flaky", 1, "SUCCESS"),
        ("after", 0, "SUCCESS"),
    ]
    assert "coordinating" in standby.log()


def test_processes_carry_on_when_database_connections_drop(cluster: Cluster) -> None:
    server = cluster.server(workers=0)
    cluster.worker(slots=2)
    w = server.user("ops").w
    tasks = [shell("a", "sleep 2")]
    for i in range(4):
        t = shell(f"b{i}", "sleep 0.5")
        t.depends_on = [jobs.TaskDependency(task_key="a")]
        tasks.append(t)
    job_id = w.jobs.create(name="reconnect", tasks=tasks).job_id
    run_id = w.jobs.run_now(job_id).run_id
    time.sleep(0.5)
    # Every session of the cluster's processes (ours excepted) is cut, as a restart would.
    dropped = cluster.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = :app AND pid <> pg_backend_pid()",
        app=cluster.application_name,
    )[0][0]
    assert dropped > 0
    run = settle(w, run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()
    # And new work still flows after the drop.
    again = settle(w, w.jobs.run_now(job_id).run_id)
    assert again.state.result_state == SUCCESS, cluster.logs()


def test_a_task_waits_visibly_for_its_pool_then_runs_there(cluster: Cluster) -> None:
    server = cluster.server(workers=0)
    cluster.worker(slots=2)
    w = server.user("ops").w
    plain = shell("plain", "echo anywhere")
    gpu = shell("gpu", "echo on the gpu box")
    gpu_dict = gpu.as_dict() | {"worker_pool": "gpu"}
    job_id = server_create(server, "pools", [plain.as_dict(), gpu_dict])
    run_id = w.jobs.run_now(job_id).run_id

    def waiting() -> bool:
        tasks = {t.task_key: t for t in w.jobs.get_run(run_id).tasks}
        return (
            tasks["plain"].state.result_state == SUCCESS
            and tasks["gpu"].state.state_message == "waiting for a worker in pool 'gpu'"
        )

    wait_for(waiting, timeout=30, what="the gpu task to wait for its pool")
    time.sleep(1)  # nobody serves the pool: it keeps waiting rather than failing
    assert w.jobs.get_run(run_id).state.life_cycle_state == jobs.RunLifeCycleState.RUNNING
    cluster.worker(slots=1, pools=["gpu"])
    run = settle(w, run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()
    by_task = {a[0]: a[2] for a in attempts_of(cluster, run_id)}
    listed = json.loads(server.cli("workers", "list", "--json").stdout)["workers"]
    gpu_workers = {x["worker_id"] for x in listed if x["pools"] == ["gpu"]}
    assert by_task["gpu"] in gpu_workers and by_task["plain"] not in gpu_workers


def server_create(server, name: str, tasks: list[dict]) -> int:  # type: ignore[no-untyped-def]
    """Create a job with raw task dicts (Headrace extensions the SDK's classes do not know)."""
    import httpx

    token = server.token("ops")
    response = httpx.post(
        f"{server.url}/api/2.2/jobs/create",
        json={"name": name, "tasks": tasks},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["job_id"]


def test_logs_of_other_machines_come_from_the_store(cluster: Cluster) -> None:
    server = cluster.server(workers=0)
    cluster.worker(slots=1)
    w = server.user("ops").w
    job_id = w.jobs.create(name="logs", tasks=[shell("talk", "echo said on a worker")]).job_id
    run = settle(w, w.jobs.run_now(job_id).run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()
    (path,) = cluster.sql("SELECT log_path FROM attempts WHERE run_id = :r", r=run.run_id)[0]
    Path(path).unlink()  # as if the worker were another machine
    out = w.jobs.get_run_output(run.tasks[0].run_id)
    assert out.logs.strip() == "said on a worker"
    shown = server.cli("runs", "logs", str(run.run_id), "talk")
    assert shown.returncode == 0 and shown.stdout.strip() == "said on a worker", shown.stderr


def test_sigterm_drains_a_worker(cluster: Cluster) -> None:
    server = cluster.server(workers=0)
    worker = cluster.worker(slots=1)
    w = server.user("ops").w
    marker = cluster.root / "draining"
    task = shell("finish", f"touch {marker}; sleep 2; echo finished")
    job_id = w.jobs.create(name="drain", tasks=[task]).job_id
    run_id = w.jobs.run_now(job_id).run_id
    wait_for(marker.exists, timeout=30, what="the attempt to start")
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(30) == 0
    run = settle(w, run_id)
    assert run.state.result_state == SUCCESS, cluster.logs()  # finished within the grace
    listed = json.loads(server.cli("workers", "list", "--json").stdout)["workers"]
    assert [x["slots"] for x in listed] == [0]  # only the server remains


def test_schedule_ticks_are_neither_lost_nor_doubled_across_a_takeover(cluster: Cluster) -> None:
    leader = cluster.server(workers=0)
    standby = cluster.server(workers=0)
    cluster.worker(slots=2)
    w = leader.client(leader.token("ops"))
    job_id = w.jobs.create(
        name="every-10s",
        tasks=[shell("tick", "true")],
        schedule=jobs.CronSchedule(quartz_cron_expression="*/10 * * * * ?", timezone_id="UTC"),
        max_concurrent_runs=10,
    ).job_id

    def ticks() -> list[dict]:
        rows = cluster.sql(
            "SELECT trigger_info FROM runs WHERE job_id = :j ORDER BY run_id", j=job_id
        )
        return [json.loads(r[0]) for r in rows]

    # Databricks (and Headrace) keep schedule-triggered runs at least 10 s apart.
    wait_for(lambda: len(ticks()) >= 2, timeout=40, what="two scheduled runs")
    leader.kill()
    before = len(ticks())
    wait_for(lambda: len(ticks()) >= before + 2, timeout=60, what="the standby to go on firing")
    standby.stop()
    times = [t["scheduled_time"] for t in ticks()]
    assert times == sorted(set(times)), f"a tick fired twice: {times}"
    for previous, info in zip(times, ticks()[1:], strict=False):
        gap = info["scheduled_time"] - previous
        # Each run is the next tick, or says which ticks it stands for (missed while no
        # server coordinated): none silently lost.
        assert gap == 10_000 or info.get("missed_fire_times_since") == previous + 10_000, (
            previous,
            info,
        )
