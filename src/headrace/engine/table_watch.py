"""`trigger.table_update`: what a watched table looks like now, and when a run is owed.

Tables live in the data directory's local catalog, two places:

- the embedded DuckDB warehouse: its backend writes a change log after each commit
  (`<home>/warehouse/table_changes.json`, `headrace.warehouse.changes`): a version counter and
  a commit time per `catalog.schema.table`;
- the shared Spark catalog: a managed table is a folder of the Spark warehouse
  (`<home>/spark-warehouse/<schema>.db/<table>/`, the `default` schema's tables directly
  under it); its files' count, sizes and newest mtime are its fingerprint, and a Delta table's
  version is its newest `_delta_log` commit.

Names are compared as `catalog.schema.table` (one or two parts mean the main catalog, and its
default schema); `main`, `hive_metastore` and `spark_catalog` are the Spark catalog's names.

The decision (`decide_table_update`) is pure, like the other triggers': state `seen` (each
table's fingerprint when it last fired or was first looked at), `observed` (as of the last
look, for the quiet period), `last_change`, `last_fire`, `paused`. A table counts as updated
when its fingerprint differs from `seen` (created, written, or dropped). ANY_UPDATED (the
default) fires when one has; ALL_UPDATED when every listed table has since the last run.
`min_time_between_triggers_seconds` counts from the last fire, `wait_after_last_change_seconds`
from the last change seen; with both, the later moment wins. A first look records what is
there as seen, except tables whose commit time is after the trigger's enablement (those are
updates the trigger owes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from headrace.spec.job_parts import TableUpdateTrigger

if TYPE_CHECKING:
    from headrace.engine.trigger_rules import Decision

TRIGGER_TABLE = "TABLE"  # the run's trigger type ({{job.trigger.type}}: table)
POLL_MS = 1_000
SPARK_CATALOG_NAMES = frozenset({"main", "hive_metastore", "spark_catalog"})
ABSENT = "absent"


class TableState(NamedTuple):
    """One watched table as it is now."""

    fingerprint: str  # changes whenever the table's data changes; ABSENT when there is none
    version: int | None
    commit_ms: int | None


def table_key(settings: TableUpdateTrigger) -> str:
    return f"{settings.condition or 'ANY_UPDATED'} {','.join(settings.table_names)}"


def table_states(home: Path, names: Sequence[str]) -> dict[str, TableState]:
    """The state of each named table (as written in the trigger) in the data directory."""
    from headrace.warehouse.changes import canonical
    from headrace.warehouse.changes import read as read_log

    log = read_log(home / "warehouse")
    out: dict[str, TableState] = {}
    for name in names:
        full = canonical(name)
        found = [s for s in (_duckdb_state(log.get(full)), _spark_state(home, full)) if s]
        if not found:
            out[name] = TableState(ABSENT, None, None)
        elif len(found) == 1:
            out[name] = found[0]
        else:  # the same name in both places: either changing counts
            newest = max(found, key=lambda s: s.commit_ms or 0)
            fingerprint = "|".join(s.fingerprint for s in found)
            out[name] = TableState(fingerprint, newest.version, newest.commit_ms)
    return out


def _duckdb_state(entry: Mapping[str, Any] | None) -> TableState | None:
    if not isinstance(entry, Mapping):
        return None
    version = int(entry.get("version", 0))
    commit = entry.get("commit_timestamp")
    return TableState(f"duckdb:{version}", version, int(commit) if commit else None)


def _spark_state(home: Path, full: str) -> TableState | None:
    catalog, schema, table = full.split(".", 2)
    if catalog not in SPARK_CATALOG_NAMES:
        return None
    root = home / "spark-warehouse"
    folder = root / table if schema == "default" else root / f"{schema}.db" / table
    if not folder.is_dir():
        return None
    count = size = newest = 0
    for parent, _, files in os.walk(folder):
        for file in files:
            try:
                st = os.stat(os.path.join(parent, file))
            except OSError:
                continue  # replaced while we looked: the next look sees the new one
            count += 1
            size += st.st_size
            newest = max(newest, st.st_mtime_ns)
    return TableState(
        f"spark:{count}:{size}:{newest}", _delta_version(folder), newest // 1_000_000 or None
    )


def _delta_version(folder: Path) -> int | None:
    log = folder / "_delta_log"
    try:
        commits = [int(p.stem) for p in log.glob("*.json") if p.stem.isdigit()]
    except OSError:
        return None
    return max(commits) if commits else None


def decide_table_update(
    tables: Mapping[str, TableState],
    state: Mapping[str, Any],
    now: int,
    settings: TableUpdateTrigger,
    *,
    enabled_at: int,
    paused: bool = False,
    poll_ms: int = POLL_MS,
) -> Decision:
    """Fire once the watched tables were updated as the condition asks, honouring both timers."""
    from headrace.engine.trigger_rules import (
        BatchTimes,
        Fire,
        batch_decision,
        batch_due,
        needs_enabled_at,
        paused_decision,
        remembered_times,
    )

    kind, key = "table_update", table_key(settings)
    if paused:
        return paused_decision(state, kind, key)
    now_fp = {name: st.fingerprint for name, st in tables.items()}
    if needs_enabled_at(state, kind, key):  # first look, new settings, or unpaused
        seen = {
            n: ("" if st.commit_ms is not None and st.commit_ms > enabled_at else st.fingerprint)
            for n, st in tables.items()
        }
        changed = seen != now_fp
    else:
        seen = {n: state.get("seen", {}).get(n, fp) for n, fp in now_fp.items()}
        changed = now_fp != state.get("observed", now_fp)
    times = remembered_times(state, kind, key, changed=changed, now=now)
    updated = sorted(n for n in tables if now_fp[n] != seen[n])
    ready = bool(updated) and (settings.condition != "ALL_UPDATED" or len(updated) == len(tables))
    fires, due_at = batch_due(times, now, settings) if ready else (False, None)
    fire = None
    if fires:
        info = {
            "updated_tables": updated,
            "tables": {
                n: {"version": st.version, "commit_timestamp": st.commit_ms}
                for n, st in tables.items()
            },
        }
        fire = Fire(TRIGGER_TABLE, {"table_update": info})
        seen = dict(now_fp)
        times = BatchTimes(None, now)
    new: dict[str, Any] = {"kind": kind, "key": key, "seen": seen, "observed": now_fp}
    return batch_decision(fire, new, times, due_at, now, poll_ms)
