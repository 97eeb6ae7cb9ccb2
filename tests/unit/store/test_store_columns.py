"""store/columns.py (SQL text's view of the tables) agrees with schema.py (their definition)."""

from __future__ import annotations

from headrace.store.columns import DEFAULTS, RUN_COLUMNS
from headrace.store.schema import metadata, runs


def test_python_side_defaults_match_the_schema() -> None:
    declared = {}
    for table in metadata.sorted_tables:
        defaults = {
            c.name: c.default.arg
            for c in table.columns
            if c.default is not None and c.default.is_scalar
        }
        assert all(c.default is None or c.default.is_scalar for c in table.columns), table.name
        if defaults:
            declared[table.name] = defaults
    assert declared == DEFAULTS


def test_run_columns_are_every_column_of_runs_but_settings() -> None:
    listed = [c.strip() for c in RUN_COLUMNS.split(",")]
    assert listed == [c.name for c in runs.columns if c.name != "settings"]
