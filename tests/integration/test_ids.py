"""Ids (headrace.store.runs.allocate_ids): runs, task runs and repairs share one id space."""

from __future__ import annotations

from headrace.states import Result
from headrace.store import runs as run_store

from .helpers import claim_key, drain, finish, job, shell, tasks


def _ids_of_run(store, run_id):
    with store.read() as conn:
        return [tr.task_run_id for tr in run_store.all_task_runs(conn, run_id)]


def test_first_run_id_is_1000_and_its_task_runs_follow(store, coordinator):
    run_id = coordinator.start_run(job(shell("a"), shell("b"), shell("c", "a")), job_id=None)
    assert run_id == 1000
    by_key = tasks(store, run_id)
    assert [by_key[k].task_run_id for k in ("a", "b", "c")] == [1001, 1002, 1003]


def test_runs_task_runs_iterations_and_repairs_share_one_increasing_space(store, coordinator):
    issued = []
    first = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    issued += [first, *_ids_of_run(store, first)]

    loop = {
        "task_key": "loop",
        "for_each_task": {
            "inputs": "[1, 2, 3]",
            "concurrency": 3,
            "task": {"task_key": "it", "shell_command_task": {"command": "true"}},
        },
    }
    second = coordinator.start_run(job(loop), job_id=None)
    issued += [second, *_ids_of_run(store, second)]  # the loop, then its three iterations

    finish(coordinator, claim_key(coordinator, "a"), Result.FAILED)
    repair_id = coordinator.repair_run(first, rerun_all_failed_tasks=True)
    issued += [repair_id, *(i for i in _ids_of_run(store, first) if i > repair_id)]

    third = coordinator.start_run(job(shell("z")), job_id=None)
    issued += [third, *_ids_of_run(store, third)]

    assert issued[0] == 1000
    assert issued == sorted(issued)
    assert len(issued) == len(set(issued))
    # No gaps: each allocation continues where the previous one stopped.
    assert issued == list(range(1000, 1000 + len(issued)))
    drain(coordinator)


def test_a_task_run_id_is_never_a_run_id(store, coordinator):
    runs = [coordinator.start_run(job(shell("a"), shell("b")), job_id=None) for _ in range(3)]
    task_run_ids = {i for r in runs for i in _ids_of_run(store, r)}
    assert not task_run_ids & set(runs)
    assert runs == [1000, 1003, 1006]
