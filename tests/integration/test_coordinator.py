"""Coordinator flows (headrace.engine.coordinator) on a real store, with the test as the worker."""

from __future__ import annotations

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.states import Result
from headrace.store import queued_attempts
from headrace.store import runs as run_store

from .helpers import (
    LOG,
    api,
    api_tasks,
    attempt,
    attempts,
    claim,
    claim_key,
    drain,
    finish,
    job,
    run,
    shell,
    states,
    tasks,
)

# --- claim order and task life cycles --------------------------------------------------------


def test_claims_follow_creation_order_across_tasks_and_runs(coordinator):
    first = coordinator.start_run(job(shell("c"), shell("a"), shell("b")), job_id=None)
    second = coordinator.start_run(job(shell("z")), job_id=None)
    claimed = [claim(coordinator) for _ in range(4)]
    assert [(a.run_id, a.payload["task_key"]) for a in claimed] == [
        (first, "c"),
        (first, "a"),
        (first, "b"),
        (second, "z"),
    ]
    assert claim(coordinator) is None


def test_task_life_cycle_blocked_pending_running_terminated(store, coordinator):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    assert states(store, run_id) == {"a": ("PENDING", None), "b": ("BLOCKED", None)}
    assert [a.state for a in attempts(store, run_id)] == ["PENDING"]

    a = claim_key(coordinator, "a", worker_id="w-7")
    assert a.state == "RUNNING"
    assert a.worker_id == "w-7"
    assert a.attempt_number == 0
    stored = attempt(store, a.attempt_id)
    assert (stored.state, stored.worker_id, stored.log_path) == ("RUNNING", "w-7", LOG)
    assert states(store, run_id) == {"a": ("RUNNING", None), "b": ("BLOCKED", None)}

    finish(coordinator, a, exit_code=0)
    assert states(store, run_id) == {"a": ("TERMINATED", "SUCCESS"), "b": ("PENDING", None)}
    assert attempt(store, a.attempt_id).state == "TERMINATED"
    assert attempt(store, a.attempt_id).result is Result.SUCCESS

    b = claim_key(coordinator, "b")
    assert states(store, run_id)["b"] == ("RUNNING", None)
    finish(coordinator, b)
    assert states(store, run_id) == {
        "a": ("TERMINATED", "SUCCESS"),
        "b": ("TERMINATED", "SUCCESS"),
    }
    ended = run(store, run_id)
    assert (ended.life_cycle.value, ended.result) == ("TERMINATED", Result.SUCCESS)
    assert ended.end_time is not None


def test_payload_carries_what_the_worker_executes(store, coordinator):
    settings = job(
        shell("a", shell_command_task={"command": "echo {{job.run_id}} {{task.name}}"}),
        parameters=[{"name": "p", "default": "x"}],
    )
    run_id = coordinator.start_run(settings, job_id=None, parameters={"p": "y"})
    a = claim_key(coordinator, "a")
    assert a.payload["settings"] == {"command": f"echo {run_id} a", "env": {}}
    assert a.payload["task_type"] == "shell_command_task"
    assert a.payload["run_id"] == run_id
    assert a.payload["task_run_id"] == tasks(store, run_id)["a"].task_run_id
    assert a.payload["parameters"] == {"p": "y"}
    assert run(store, run_id).parameters == {"p": "y"}


# --- downstream readiness in the finishing transaction ---------------------------------------


def test_downstream_attempt_is_claimable_as_soon_as_finish_returns(store, coordinator):
    events = []
    coordinator.subscribe(lambda c: events.append((c.run_id, c.new_attempts, c.run_ended)))
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a"), shell("c", "a")), job_id=None)
    a = claim_key(coordinator, "a")
    events.clear()
    finish(coordinator, a)
    # Nothing else ran between the finish and these claims: the children's attempts were
    # committed by finish_attempt itself.
    assert events == [(run_id, 2, False)]
    assert [claim(coordinator).payload["task_key"] for _ in range(2)] == ["b", "c"]


def test_a_failure_while_starting_downstream_rolls_back_the_upstream_finish(
    store, coordinator, monkeypatch
):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    a = claim_key(coordinator, "a")

    def broken_insert(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as m:
        m.setattr(queued_attempts, "queue_attempts", broken_insert)
        with pytest.raises(RuntimeError, match="went away"):
            finish(coordinator, a)
    # One transaction: the upstream did not end without its downstream becoming ready.
    assert states(store, run_id) == {"a": ("RUNNING", None), "b": ("BLOCKED", None)}
    assert attempt(store, a.attempt_id).state == "RUNNING"
    finish(coordinator, a)
    claim_key(coordinator, "b")


def test_fan_in_starts_the_join_once_after_all_upstreams(store, coordinator):
    run_id = coordinator.start_run(
        job(shell("a"), shell("b"), shell("c"), shell("join", "a", "b", "c")), job_id=None
    )
    claimed = [claim(coordinator) for _ in range(3)]
    for a in claimed[:2]:
        finish(coordinator, a)
        assert states(store, run_id)["join"] == ("BLOCKED", None)
        assert claim(coordinator) is None
    finish(coordinator, claimed[2])
    join = claim_key(coordinator, "join")
    assert claim(coordinator) is None
    finish(coordinator, join)
    assert [a.payload["task_key"] for a in attempts(store, run_id)].count("join") == 1
    assert run(store, run_id).result is Result.SUCCESS


def test_failed_upstream_skips_downstream_and_fails_the_run(store, coordinator):
    run_id = coordinator.start_run(
        job(shell("a"), shell("b", "a"), shell("c", "b"), shell("d", "a", run_if="ALL_DONE")),
        job_id=None,
    )
    finish(coordinator, claim_key(coordinator, "a"), Result.FAILED, error="exit 3", exit_code=3)
    assert states(store, run_id) == {
        "a": ("TERMINATED", "FAILED"),
        "b": ("SKIPPED", "UPSTREAM_FAILED"),
        "c": ("SKIPPED", "UPSTREAM_FAILED"),
        "d": ("PENDING", None),
    }
    finish(coordinator, claim_key(coordinator, "d"))
    view = api(store, run_id)
    assert view["state"]["life_cycle_state"] == "TERMINATED"
    assert view["state"]["result_state"] == "FAILED"
    assert view["status"]["termination_details"]["code"] == "RUN_EXECUTION_ERROR"
    assert "a" in view["state"]["state_message"]
    a = api_tasks(view)["a"]
    assert a["error_code"] == "RunExecutionError"
    assert a["attempts"][0]["exit_code"] == 3


# --- retries ---------------------------------------------------------------------------------


def test_retry_waits_min_retry_interval_from_attempt_start(store, coordinator, clock):
    run_id = coordinator.start_run(
        job(shell("a", max_retries=1, min_retry_interval_millis=60_000), shell("b", "a")),
        job_id=None,
    )
    first = claim_key(coordinator, "a")
    started = first.start_time
    assert started == clock.now
    clock.advance(1_500)  # the attempt ran 1.5 s before failing
    finish(coordinator, first, Result.FAILED, error="boom")

    tr = tasks(store, run_id)["a"]
    assert tr.life_cycle.value == "WAITING_FOR_RETRY"
    assert tr.retry_at == started + 60_000
    assert "boom" in tr.state_message
    assert states(store, run_id)["b"] == ("BLOCKED", None)
    assert coordinator.next_wakeup(run_id) == started + 60_000
    assert api(store, run_id)["tasks"][0]["status"]["state"] == "WAITING"

    clock.now = started + 59_999
    assert coordinator.fire_timers(run_id) == []
    assert claim(coordinator) is None
    assert tasks(store, run_id)["a"].life_cycle.value == "WAITING_FOR_RETRY"

    clock.now = started + 60_000
    coordinator.fire_timers(run_id)
    tr = tasks(store, run_id)["a"]
    assert (tr.life_cycle.value, tr.attempt_number, tr.retry_at) == ("PENDING", 1, None)
    second = claim_key(coordinator, "a")
    assert second.attempt_number == 1
    assert second.payload["attempt_number"] == 1
    assert second.task_run_id == first.task_run_id
    finish(coordinator, second)
    finish(coordinator, claim_key(coordinator, "b"))

    view = api(store, run_id)
    assert view["state"]["result_state"] == "SUCCESS"
    a = api_tasks(view)["a"]
    assert a["attempt_number"] == 1
    assert [(x["attempt_number"], x["result_state"]) for x in a["attempts"]] == [
        (0, "FAILED"),
        (1, "SUCCESS"),
    ]


def test_retry_without_interval_starts_the_next_attempt_at_once(store, coordinator):
    run_id = coordinator.start_run(job(shell("a", max_retries=2)), job_id=None)
    for number in range(3):
        a = claim_key(coordinator, "a")
        assert a.attempt_number == number
        finish(coordinator, a, Result.FAILED, error=f"try {number}")
    assert claim(coordinator) is None
    tr = tasks(store, run_id)["a"]
    assert (tr.life_cycle.value, tr.result, tr.attempt_number) == ("TERMINATED", Result.FAILED, 2)
    assert run(store, run_id).result is Result.FAILED


@pytest.mark.parametrize(("retry_on_timeout", "retried"), [(False, False), (True, True)])
def test_timed_out_attempt_retries_only_with_retry_on_timeout(
    store, coordinator, retry_on_timeout, retried
):
    settings = job(shell("a", max_retries=1, retry_on_timeout=retry_on_timeout))
    run_id = coordinator.start_run(settings, job_id=None)
    finish(coordinator, claim_key(coordinator, "a"), Result.TIMEDOUT, error="timed out")
    if retried:
        assert claim_key(coordinator, "a").attempt_number == 1
    else:
        assert claim(coordinator) is None
        assert states(store, run_id)["a"] == ("TERMINATED", "TIMEDOUT")
        assert tasks(store, run_id)["a"].error_code == "RunTimedOut"


# --- condition tasks -------------------------------------------------------------------------


def _condition_job():
    return job(
        shell("a"),
        {
            "task_key": "check",
            "depends_on": [{"task_key": "a"}],
            "condition_task": {
                "op": "GREATER_THAN",
                "left": "{{tasks.a.values.n}}",
                "right": "3",
            },
        },
        shell("yes", depends_on=[{"task_key": "check", "outcome": "true"}]),
        shell("no", depends_on=[{"task_key": "check", "outcome": "false"}]),
        shell("after_no", "no"),
    )


def test_condition_task_is_evaluated_inline_and_excludes_the_other_branch(store, coordinator):
    run_id = coordinator.start_run(_condition_job(), job_id=None)
    finish(coordinator, claim_key(coordinator, "a"), task_values={"n": 5})
    # Evaluated in the finishing transaction: no attempt for the condition itself.
    assert states(store, run_id) == {
        "a": ("TERMINATED", "SUCCESS"),
        "check": ("TERMINATED", "SUCCESS"),
        "yes": ("PENDING", None),
        "no": ("SKIPPED", "EXCLUDED"),
        "after_no": ("SKIPPED", "EXCLUDED"),
    }
    check = tasks(store, run_id)["check"]
    assert check.outcome == "true"
    assert check.resolved == {"condition_task": {"left": "5", "right": "3"}}
    finish(coordinator, claim_key(coordinator, "yes"))
    assert claim(coordinator) is None
    assert [a.payload["task_key"] for a in attempts(store, run_id)] == ["a", "yes"]

    view = api(store, run_id)
    assert view["state"]["result_state"] == "SUCCESS"
    by_key = api_tasks(view)
    assert by_key["check"]["condition_task"]["outcome"] == "true"
    assert by_key["no"]["state"] == {
        "life_cycle_state": "SKIPPED",
        "state_message": by_key["no"]["state"]["state_message"],
        "result_state": "EXCLUDED",
        "user_cancelled_or_timedout": False,
    }
    assert by_key["no"]["status"]["termination_details"]["code"] == "SKIPPED"


def test_condition_false_runs_the_false_branch(store, coordinator):
    run_id = coordinator.start_run(_condition_job(), job_id=None)
    finish(coordinator, claim_key(coordinator, "a"), task_values={"n": 1})
    assert tasks(store, run_id)["check"].outcome == "false"
    assert states(store, run_id)["yes"] == ("SKIPPED", "EXCLUDED")
    assert drain(coordinator) == ["no", "after_no"]
    assert run(store, run_id).result is Result.SUCCESS


def test_root_condition_is_decided_by_start_run(store, coordinator):
    settings = job(
        {"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "x", "right": "y"}},
        shell("t", depends_on=[{"task_key": "c", "outcome": "true"}]),
    )
    run_id = coordinator.start_run(settings, job_id=None)
    assert states(store, run_id) == {
        "c": ("TERMINATED", "SUCCESS"),
        "t": ("SKIPPED", "EXCLUDED"),
    }
    ended = run(store, run_id)
    assert (ended.life_cycle.value, ended.result) == ("TERMINATED", Result.SUCCESS)
    assert claim(coordinator) is None


def test_condition_on_a_missing_task_value_fails_the_condition(store, coordinator):
    run_id = coordinator.start_run(_condition_job(), job_id=None)
    finish(coordinator, claim_key(coordinator, "a"))
    assert states(store, run_id)["check"] == ("TERMINATED", "FAILED")
    assert "n" in tasks(store, run_id)["check"].state_message
    assert states(store, run_id)["yes"] == ("SKIPPED", "UPSTREAM_FAILED")
    assert run(store, run_id).result is Result.FAILED


# --- for_each tasks --------------------------------------------------------------------------


def _for_each_job(inputs: str = "[10, 20, 30]", concurrency: int = 2):
    return job(
        {
            "task_key": "loop",
            "for_each_task": {
                "inputs": inputs,
                "concurrency": concurrency,
                "task": {
                    "task_key": "loop_iteration",
                    "shell_command_task": {"command": "echo {{input}}"},
                },
            },
        },
        shell("after", "loop"),
    )


def _iterations(store, run_id, parent_id):
    with store.read() as conn:
        its = run_store.current_task_runs(conn, run_id, parent_id=parent_id)
    return [(it.iteration, it.life_cycle.value, it.result and it.result.value) for it in its]


def test_for_each_starts_iterations_up_to_concurrency(store, coordinator):
    run_id = coordinator.start_run(_for_each_job(), job_id=None)
    loop = tasks(store, run_id)["loop"]
    assert loop.life_cycle.value == "RUNNING"
    assert _iterations(store, run_id, loop.task_run_id) == [
        (0, "PENDING", None),
        (1, "PENDING", None),
        (2, "BLOCKED", None),
    ]
    first, second = claim(coordinator), claim(coordinator)
    assert claim(coordinator) is None
    assert [a.payload["iteration"] for a in (first, second)] == [0, 1]
    assert [a.payload["settings"]["command"] for a in (first, second)] == ["echo 10", "echo 20"]

    finish(coordinator, second)
    assert _iterations(store, run_id, loop.task_run_id)[2] == (2, "PENDING", None)
    third = claim(coordinator)
    assert third.payload["settings"]["command"] == "echo 30"
    finish(coordinator, first)
    assert states(store, run_id)["loop"] == ("RUNNING", None)
    finish(coordinator, third)
    assert states(store, run_id)["loop"] == ("TERMINATED", "SUCCESS")
    finish(coordinator, claim_key(coordinator, "after"))

    view = api(store, run_id)
    assert view["state"]["result_state"] == "SUCCESS"
    loop_view = api_tasks(view)["loop"]
    stats = loop_view["for_each_task"]["stats"]["task_run_stats"]
    assert stats["total_iterations"] == 3
    assert stats["succeeded_iterations"] == 3
    assert stats["active_iterations"] == 0
    assert [(it["iteration"], it["input"]) for it in loop_view["iterations"]] == [
        (0, 10),
        (1, 20),
        (2, 30),
    ]
    assert [t["task_key"] for t in view["tasks"]] == ["loop", "after"]


def test_for_each_with_a_failed_iteration_fails_the_loop(store, coordinator):
    run_id = coordinator.start_run(_for_each_job(concurrency=3), job_id=None)
    claimed = [claim(coordinator) for _ in range(3)]
    finish(coordinator, claimed[0])
    finish(coordinator, claimed[1], Result.FAILED, error="bad input")
    assert states(store, run_id)["loop"] == ("RUNNING", None)
    finish(coordinator, claimed[2])
    loop = tasks(store, run_id)["loop"]
    assert (loop.life_cycle.value, loop.result) == ("TERMINATED", Result.FAILED)
    assert "1 of 3 iterations" in loop.state_message
    assert states(store, run_id)["after"] == ("SKIPPED", "UPSTREAM_FAILED")
    assert run(store, run_id).result is Result.FAILED


def test_for_each_with_no_inputs_succeeds_at_once(store, coordinator):
    run_id = coordinator.start_run(_for_each_job(inputs="[]"), job_id=None)
    assert states(store, run_id)["loop"] == ("TERMINATED", "SUCCESS")
    assert drain(coordinator) == ["after"]
    assert run(store, run_id).result is Result.SUCCESS


# --- the run as the Jobs API shows it --------------------------------------------------------


def test_run_to_api_shape_while_running_and_after(store, coordinator):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    view = api(store, run_id)
    assert view["run_id"] == run_id
    assert view["state"] == {"life_cycle_state": "RUNNING", "state_message": ""}
    assert view["status"] == {"state": "RUNNING"}
    by_key = api_tasks(view)
    assert by_key["a"]["state"]["life_cycle_state"] == "PENDING"
    assert by_key["a"]["status"] == {"state": "PENDING"}
    assert by_key["b"]["status"] == {"state": "BLOCKED"}
    assert by_key["a"]["shell_command_task"] == {"command": "echo a", "env": {}}
    assert by_key["b"]["depends_on"] == [{"task_key": "a"}]
    assert {t["run_id"] for t in view["tasks"]} == {
        tr.task_run_id for tr in tasks(store, run_id).values()
    }

    drain(coordinator)
    view = api(store, run_id)
    assert view["state"]["life_cycle_state"] == "TERMINATED"
    assert view["state"]["result_state"] == "SUCCESS"
    assert view["state"]["user_cancelled_or_timedout"] is False
    assert view["status"]["state"] == "TERMINATED"
    assert view["status"]["termination_details"]["code"] == "SUCCESS"
    assert view["status"]["termination_details"]["type"] == "SUCCESS"
    assert view["end_time"] >= view["start_time"] > 0
    assert [item["type"] for item in view["repair_history"]] == ["ORIGINAL"]
    for t in view["tasks"]:
        assert t["state"]["result_state"] == "SUCCESS"
        assert t["status"]["termination_details"]["code"] == "SUCCESS"
        assert t["attempts"][0]["log_path"] == LOG


# --- cancellation ----------------------------------------------------------------------------


def test_cancel_returns_running_attempts_and_cancels_the_rest(store, coordinator):
    run_id = coordinator.start_run(
        job(shell("a"), shell("c"), shell("b", "a"), shell("d", "a")), job_id=None
    )
    running = claim_key(coordinator, "a")  # c stays PENDING (not claimed yet)
    to_kill = coordinator.cancel_run(run_id)

    assert [a.attempt_id for a in to_kill] == [running.attempt_id]
    assert attempt(store, running.attempt_id).kill_reason == "CANCELED"
    assert attempt(store, running.attempt_id).state == "RUNNING"
    assert states(store, run_id) == {
        "a": ("RUNNING", None),
        "c": ("TERMINATED", "CANCELED"),
        "b": ("SKIPPED", "UPSTREAM_CANCELED"),
        "d": ("SKIPPED", "UPSTREAM_CANCELED"),
    }
    assert claim(coordinator) is None  # the pending attempt of c was withdrawn
    view = api(store, run_id)
    assert view["state"]["life_cycle_state"] in ("RUNNING", "TERMINATING")
    assert view["status"]["state"] == "TERMINATING"
    assert coordinator.cancel_run(run_id) == []  # a second cancel changes nothing


def test_canceled_run_ends_when_its_last_running_attempt_reports(store, coordinator):
    """BUG: run completion is checked only when a leaf task ends (`leaf_ended`); here the
    leaves were skipped by the cancel, and the last task to end (a) is not a leaf."""
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=None)
    running = claim_key(coordinator, "a")
    coordinator.cancel_run(run_id)
    assert states(store, run_id)["b"] == ("SKIPPED", "UPSTREAM_CANCELED")

    finish(coordinator, running, Result.CANCELED, error="killed")
    assert states(store, run_id)["a"] == ("TERMINATED", "CANCELED")
    view = api(store, run_id)
    assert view["state"]["life_cycle_state"] == "TERMINATED"  # stays RUNNING forever
    assert view["state"]["result_state"] == "CANCELED"
    assert view["state"]["user_cancelled_or_timedout"] is True
    assert view["status"]["termination_details"]["code"] == "USER_CANCELED"
    assert api_tasks(view)["b"]["status"]["termination_details"]["code"] == "SKIPPED"


def test_cancel_skips_a_chain_of_blocked_tasks(store, coordinator):
    """BUG: the cascade from b to c and then the batch's own decision for c both end c."""
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a"), shell("c", "b")), job_id=None)
    running = claim_key(coordinator, "a")
    to_kill = coordinator.cancel_run(run_id)  # raised InvalidTransition: c cannot move to SKIPPED
    assert [x.attempt_id for x in to_kill] == [running.attempt_id]
    assert states(store, run_id) == {
        "a": ("RUNNING", None),
        "b": ("SKIPPED", "UPSTREAM_CANCELED"),
        "c": ("SKIPPED", "UPSTREAM_CANCELED"),
    }
    finish(coordinator, running, Result.CANCELED)
    assert run(store, run_id).result is Result.CANCELED


def test_job_timeout_skips_a_chain_of_blocked_tasks(store, coordinator, clock):
    """BUG: the same double ending as a cancel, through fire_timers."""
    settings = job(shell("a"), shell("b", "a"), shell("c", "b"), timeout_seconds=1)
    run_id = coordinator.start_run(settings, job_id=None)
    running = claim_key(coordinator, "a")
    clock.advance(1_000)
    assert [x.attempt_id for x in coordinator.fire_timers(run_id)] == [running.attempt_id]
    assert states(store, run_id)["c"] == ("SKIPPED", "UPSTREAM_CANCELED")


def test_cancel_does_not_retry_and_ends_retry_waiting_tasks(store, coordinator, clock):
    run_id = coordinator.start_run(
        job(shell("a", max_retries=3, min_retry_interval_millis=10_000), shell("b")),
        job_id=None,
    )
    a, b = claim_key(coordinator, "a"), claim_key(coordinator, "b")
    finish(coordinator, a, Result.FAILED)
    assert states(store, run_id)["a"] == ("WAITING_FOR_RETRY", None)
    assert [x.attempt_id for x in coordinator.cancel_run(run_id)] == [b.attempt_id]
    assert states(store, run_id)["a"] == ("TERMINATED", "CANCELED")
    finish(coordinator, b, Result.FAILED, error="killed")  # a cancel must not start a retry
    assert claim(coordinator) is None
    assert states(store, run_id)["b"] == ("TERMINATED", "FAILED")
    assert run(store, run_id).result is Result.CANCELED
    clock.advance(60_000)
    assert coordinator.fire_timers(run_id) == []
    assert claim(coordinator) is None


def test_cancel_of_an_ended_run_returns_nothing(store, coordinator):
    run_id = coordinator.start_run(job(shell("a")), job_id=None)
    drain(coordinator)
    assert coordinator.cancel_run(run_id) == []
    assert run(store, run_id).result is Result.SUCCESS


def test_job_timeout_stops_the_run(store, coordinator, clock):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a"), timeout_seconds=5), job_id=None)
    a = claim_key(coordinator, "a")
    assert coordinator.next_wakeup(run_id) == clock.now + 5_000
    clock.advance(5_000)
    to_kill = coordinator.fire_timers(run_id)
    assert [x.attempt_id for x in to_kill] == [a.attempt_id]
    assert attempt(store, a.attempt_id).kill_reason == "TIMEDOUT"
    assert states(store, run_id)["b"] == ("SKIPPED", "UPSTREAM_CANCELED")
    finish(coordinator, a, Result.TIMEDOUT)
    view = api(store, run_id)
    # BUG (same as a cancel): a is not a leaf, so its end never completes the run.
    assert view["state"]["life_cycle_state"] == "TERMINATED"
    assert view["state"]["result_state"] == "TIMEDOUT"
    assert view["status"]["termination_details"]["code"] == "CANCELED"


def test_coordinator_records_its_id_on_the_run(store):
    coordinator = Coordinator(store, coordinator_id="proc-42")
    run_id = coordinator.start_run(job(shell("a")), job_id=None)
    assert run(store, run_id).coordinator_id == "proc-42"


# --- for_each iterations that end while being started ---------------------------------------


def _for_each_of(task: dict, inputs: str, concurrency: int):
    return job(
        {
            "task_key": "loop",
            "for_each_task": {"inputs": inputs, "concurrency": concurrency, "task": task},
        }
    )


def test_for_each_of_condition_iterations_ends_in_one_transaction(store, coordinator):
    """Condition iterations end while the loop starts them; each is evaluated exactly once."""
    cond = {
        "task_key": "check",
        "condition_task": {"op": "GREATER_THAN", "left": "{{input}}", "right": "2"},
    }
    run_id = coordinator.start_run(_for_each_of(cond, "[1, 2, 3, 4, 5]", 2), job_id=None)
    view = api(store, run_id)
    assert view["state"]["result_state"] == "SUCCESS"
    outcomes = [it["condition_task"]["outcome"] for it in view["tasks"][0]["iterations"]]
    assert outcomes == ["false", "false", "true", "true", "true"]


def test_for_each_with_many_iterations_failing_at_start_does_not_recurse(store, coordinator):
    """300 iterations whose reference cannot resolve all fail inline, without deep recursion."""
    bad = {"task_key": "it", "shell_command_task": {"command": "echo {{input.missing}}"}}
    inputs = "[" + ", ".join('{"x": 1}' for _ in range(300)) + "]"
    run_id = coordinator.start_run(_for_each_of(bad, inputs, 1), job_id=None)
    view = api(store, run_id)
    assert view["state"]["result_state"] == "FAILED"
    loop = view["tasks"][0]
    assert loop["for_each_task"]["stats"]["task_run_stats"]["failed_iterations"] == 300
    assert "no field 'missing'" in loop["state"]["state_message"]


def test_cancel_ends_iterations_waiting_to_retry(store, coordinator, clock):
    flaky = {
        "task_key": "it",
        "shell_command_task": {"command": "false"},
        "max_retries": 3,
        "min_retry_interval_millis": 60_000,
    }
    run_id = coordinator.start_run(_for_each_of(flaky, "[1, 2]", 2), job_id=None)
    first, second = claim(coordinator), claim(coordinator)
    finish(coordinator, first, Result.FAILED, error="boom")  # now waits 60 s to retry
    to_kill = coordinator.cancel_run(run_id)
    assert [a.attempt_id for a in to_kill] == [second.attempt_id]
    finish(coordinator, second, Result.CANCELED)
    clock.advance(120_000)
    assert coordinator.fire_timers(run_id) == []
    assert claim(coordinator) is None  # no retry starts in a canceled run
    view = api(store, run_id)
    assert view["state"]["result_state"] == "CANCELED"
    its = view["tasks"][0]["iterations"]
    assert [it["state"]["result_state"] for it in its] == ["CANCELED", "CANCELED"]


def test_job_timeout_keeps_its_message(store, coordinator, clock):
    run_id = coordinator.start_run(job(shell("a"), timeout_seconds=5), job_id=None)
    a = claim_key(coordinator, "a")
    clock.advance(5_000)
    coordinator.fire_timers(run_id)
    finish(coordinator, a, Result.CANCELED)
    assert api(store, run_id)["state"]["state_message"] == "the run exceeded its timeout of 5 s"
