"""trigger.table_update: the pure decision and reading tables' states from a data directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from headrace.engine.table_watch import (
    ABSENT,
    TableState,
    decide_table_update,
    table_states,
)
from headrace.spec.job_parts import TableUpdateTrigger
from headrace.warehouse.changes import record

T0 = 1_000_000
S = 1000


def settings(**kw: Any) -> TableUpdateTrigger:
    return TableUpdateTrigger(table_names=kw.pop("names", ["a", "b"]), **kw)


def st(fp: str, version: int | None = None, commit: int | None = None) -> TableState:
    return TableState(fp, version, commit)


def look(tables: dict[str, TableState], state: dict[str, Any], now: int, s: TableUpdateTrigger):
    return decide_table_update(tables, state, now, s, enabled_at=T0)


def test_first_look_remembers_what_is_there_and_fires_on_the_next_change() -> None:
    s = settings()
    first = look({"a": st("1", 1, T0 - S), "b": st(ABSENT)}, {}, T0 + S, s)
    assert first.fire is None and first.next_check_ms == T0 + 2 * S
    same = look({"a": st("1", 1, T0 - S), "b": st(ABSENT)}, first.state, T0 + 2 * S, s)
    assert same.fire is None and same.state == first.state  # nothing to write
    changed = look({"a": st("2", 2, T0 + 2 * S), "b": st(ABSENT)}, same.state, T0 + 3 * S, s)
    assert changed.fire is not None and changed.fire.trigger_type == "TABLE"
    info = changed.fire.trigger_info["table_update"]
    assert info["updated_tables"] == ["a"]
    assert info["tables"]["a"] == {"version": 2, "commit_timestamp": T0 + 2 * S}
    again = look({"a": st("2", 2, T0 + 2 * S), "b": st(ABSENT)}, changed.state, T0 + 4 * S, s)
    assert again.fire is None


def test_a_change_after_enablement_but_before_the_first_look_is_owed() -> None:
    d = look({"a": st("1", 1, T0 + S)}, {}, T0 + 5 * S, settings(names=["a"]))
    assert d.fire is not None


def test_all_updated_waits_for_every_table_and_a_created_table_counts() -> None:
    s = settings(condition="ALL_UPDATED")
    d = look({"a": st("1"), "b": st(ABSENT)}, {}, T0, s)
    d = look({"a": st("2"), "b": st(ABSENT)}, d.state, T0 + S, s)
    assert d.fire is None  # only a
    d = look({"a": st("3"), "b": st(ABSENT)}, d.state, T0 + 2 * S, s)
    assert d.fire is None  # a again: still not b
    d = look({"a": st("3"), "b": st("new")}, d.state, T0 + 3 * S, s)
    assert d.fire is not None
    assert d.fire.trigger_info["table_update"]["updated_tables"] == ["a", "b"]


def test_wait_after_last_change_restarts_with_each_change() -> None:
    s = settings(names=["a"], wait_after_last_change_seconds=10)
    d = look({"a": st("1")}, {}, T0, s)
    d = look({"a": st("2")}, d.state, T0 + S, s)
    assert d.fire is None and d.next_check_ms == T0 + 2 * S
    d = look({"a": st("3")}, d.state, T0 + 8 * S, s)  # changed again: 10 s from now
    assert d.fire is None
    d = look({"a": st("3")}, d.state, T0 + 17 * S, s)
    assert d.fire is None
    d = look({"a": st("3")}, d.state, T0 + 18 * S, s)
    assert d.fire is not None


def test_min_time_between_triggers_counts_from_the_last_fire() -> None:
    s = settings(names=["a"], min_time_between_triggers_seconds=60)
    d = look({"a": st("1")}, {}, T0, s)
    d = look({"a": st("2")}, d.state, T0 + S, s)
    assert d.fire is not None
    d = look({"a": st("3")}, d.state, T0 + 2 * S, s)
    assert d.fire is None and d.next_check_ms == T0 + 3 * S
    d = look({"a": st("3")}, d.state, T0 + 61 * S, s)
    assert d.fire is not None  # the change during the cooldown fires once it is over


def test_paused_never_fires_and_unpausing_owes_nothing_older() -> None:
    s = settings(names=["a"])
    d = decide_table_update({}, {}, T0, s, enabled_at=T0, paused=True)
    assert d.fire is None and d.next_check_ms is None and d.state["paused"]
    later = T0 + 100 * S
    d = decide_table_update({"a": st("2", 2, T0 + S)}, d.state, later, s, enabled_at=later)
    assert d.fire is None


def test_table_states_from_the_duckdb_change_log_and_spark_folders(tmp_path: Path) -> None:
    record(tmp_path / "warehouse", ["main.default.orders", "sales.raw.events"], T0)
    orders = tmp_path / "spark-warehouse" / "orders"  # the default schema's Spark table
    orders.mkdir(parents=True)
    (orders / "part-0.parquet").write_bytes(b"x" * 10)
    delta = tmp_path / "spark-warehouse" / "s.db" / "t"
    (delta / "_delta_log").mkdir(parents=True)
    for n in (0, 1, 2):
        (delta / "_delta_log" / f"{n:020d}.json").write_text("{}")
    names = ["sales.raw.events", "main.s.t", "missing", "main.default.orders"]
    states = table_states(tmp_path, names)
    assert states["sales.raw.events"] == TableState("duckdb:1", 1, T0)
    assert states["main.s.t"].version == 2  # Delta's newest commit
    assert states["missing"] == TableState(ABSENT, None, None)
    # DuckDB's main.default.orders and Spark's default.orders: one name, both watched.
    both = states["main.default.orders"]
    assert both.fingerprint.startswith("duckdb:1|spark:1:10:")
    spark_only = table_states(tmp_path, ["hive_metastore.default.orders"])
    assert spark_only["hive_metastore.default.orders"].fingerprint.startswith("spark:1:10:")
    before = table_states(tmp_path, ["orders"])["orders"]
    (orders / "part-1.parquet").write_bytes(b"y")
    os.utime(orders / "part-1.parquet", ns=(10**18, 10**18))
    after = table_states(tmp_path, ["orders"])["orders"]
    assert after.fingerprint != before.fingerprint


@pytest.mark.parametrize("bad", ["main.default./etc", "a..b", "../x", "c.s.t.u", ""])
def test_table_names_that_could_leave_the_data_directory_are_refused(bad: str) -> None:
    from headrace.errors import SpecError
    from headrace.spec.loader import parse_job_settings

    settings = {
        "name": "j",
        "trigger": {"table_update": {"table_names": ["main.s.ok", bad]}},
        "tasks": [{"task_key": "a", "shell_command_task": {"command": "true"}}],
    }
    with pytest.raises(SpecError, match=r"table_names\[1\]: must be a table name"):
        parse_job_settings(settings)
