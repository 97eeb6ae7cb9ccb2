"""Frozen records read from the store; tables stay inside `headrace.store`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from headrace.states import LifeCycle, Result


def _result(value: str | None) -> Result | None:
    return Result(value) if value else None


# What `_build` does per record class and the names its caller converts: the columns it
# copies as they are, whether it makes the state enums, and each field's slot setter; worked
# out once instead of per row (~6 records per task end, issue 18).
_Plan = tuple[tuple[tuple[str, Any], ...], Any, Any, dict[str, Any]]
_PLANS: dict[tuple[type, tuple[str, ...]], _Plan] = {}
_new = object.__new__


def _plan(cls: Any, converted: tuple[str, ...]) -> _Plan:
    setters = {name: getattr(cls, name).__set__ for name in cls.__slots__}
    fields = [n for n in cls.__slots__ if n not in converted]
    plain = tuple((n, setters[n]) for n in fields if n not in ("life_cycle", "result"))
    life_cycle = setters["life_cycle"] if "life_cycle" in fields else None
    result = setters["result"] if "result" in fields else None
    plan = _PLANS[(cls, converted)] = (plain, life_cycle, result, setters)
    return plan


def _build(cls: Any, m: Any, **converted: Any) -> Any:
    """A record from a row: columns of the same name, the state columns as enums, then
    `converted` (JSON and other columns that need more than a copy). Every field is set
    through its slot, as the frozen dataclass's __init__ sets it, without the keyword
    arguments' packing and unpacking (records have no defaults and no __post_init__)."""
    plain, life_cycle, result, setters = _PLANS.get((cls, tuple(converted))) or _plan(
        cls, tuple(converted)
    )
    record = _new(cls)
    for name, set_field in plain:
        set_field(record, m[name])
    if life_cycle is not None:
        life_cycle(record, LifeCycle(m["life_cycle_state"]))
    if result is not None:
        result(record, _result(m["result_state"]))
    for name, value in converted.items():
        setters[name](record, value)
    return record


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a job."""

    run_id: int
    job_id: int | None
    run_name: str
    run_type: str
    trigger_type: str
    life_cycle: LifeCycle
    result: Result | None
    state_message: str
    stop_reason: str | None
    coordinator_id: str | None
    repair_count: int
    latest_repair_id: int | None
    timeout_at: int | None
    created_time: int
    start_time: int
    end_time: int | None
    job_parameters: list[dict[str, str]]
    run_as: str | None
    job_version: int | None
    trigger_info: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Any) -> Run:
        m = row._mapping
        return _build(
            cls,
            m,
            job_parameters=json.loads(m["job_parameters"]),
            trigger_info=json.loads(m["trigger_info"]) if m["trigger_info"] else None,
        )

    @property
    def parameters(self) -> dict[str, str]:
        return {p["name"]: p["value"] for p in self.job_parameters}


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One task inside a run (or one iteration of a for_each task)."""

    task_run_id: int
    run_id: int
    task_key: str
    parent_id: int | None
    iteration: int | None
    input: str | None
    repair_id: int | None
    current: bool
    life_cycle: LifeCycle
    result: Result | None
    state_message: str
    waiting_on: int
    attempt_number: int
    retry_at: int | None
    outcome: str | None
    task_values: dict[str, Any]
    resolved: dict[str, Any] | None
    error_code: str | None
    start_time: int | None
    end_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> TaskRun:
        m = row._mapping
        return _build(
            cls,
            m,
            current=bool(m["current"]),
            task_values=json.loads(m["task_values"]) if m["task_values"] else {},
            resolved=json.loads(m["resolved"]) if m["resolved"] else None,
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a task run, executed by a worker in its own process."""

    attempt_id: int
    task_run_id: int
    run_id: int
    attempt_number: int
    state: str
    result: Result | None
    payload: dict[str, Any]
    worker_id: str | None
    pid: int | None
    kill_reason: str | None
    exit_code: int | None
    error: str | None
    error_trace: str | None
    output: dict[str, Any] | None
    log_path: str | None
    pool: str | None
    created_time: int
    start_time: int | None
    end_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> Attempt:
        m = row._mapping
        output = m["output"]
        return _build(
            cls,
            m,
            state=m["state"],
            payload=json.loads(m["payload"]),
            output=json.loads(output) if output else None,
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job definition."""

    job_id: int
    name: str
    settings: dict[str, Any]
    source: str | None
    creator_user_name: str | None
    created_time: int

    @classmethod
    def from_row(cls, row: Any) -> Job:
        m = row._mapping
        return _build(cls, m, settings=json.loads(m["settings"]))


@dataclass(frozen=True, slots=True)
class Worker:
    """A process that claims and executes attempts (and may coordinate runs)."""

    worker_id: str
    host: str
    pid: int
    proc_start: str | None
    slots: int
    started_at: int
    heartbeat_at: int
    stopped_at: int | None
    pools: str | None

    @classmethod
    def from_row(cls, row: Any) -> Worker:
        return _build(cls, row._mapping)
