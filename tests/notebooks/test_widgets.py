"""dbutils.widgets: parameters over defaults, declared widgets, Databricks' choice rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headrace.runtime.dbutils import DBUtils, TaskValueError


@pytest.fixture
def dbutils(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DBUtils:
    context = tmp_path / "context.json"
    context.write_text(json.dumps({"task_key": "t", "parameters": {"day": "2026-11-23"}}))
    monkeypatch.setenv("HEADRACE_CONTEXT", str(context))
    return DBUtils()


def test_parameters_win_over_defaults_and_defaults_fill_in(dbutils: DBUtils) -> None:
    dbutils.widgets.text("day", "1999-01-01")
    dbutils.widgets.dropdown("region", "emea", ["emea", "amer"])
    dbutils.widgets.combobox("team", "data", ["ml"])  # a combobox takes any value
    dbutils.widgets.multiselect("kinds", "a", ["a", "b"])

    assert dbutils.widgets.get("day") == "2026-11-23"
    assert dbutils.widgets.get("region") == "emea"
    assert dbutils.widgets.getAll() == {
        "day": "2026-11-23",
        "region": "emea",
        "team": "data",
        "kinds": "a",
    }
    assert dbutils.widgets.getArgument("missing", "fallback") == "fallback"
    dbutils.widgets.remove("region")
    with pytest.raises(TaskValueError, match="no parameter or widget named 'region'"):
        dbutils.widgets.get("region")


def test_a_dropdown_default_must_be_a_choice(dbutils: DBUtils) -> None:
    with pytest.raises(TaskValueError, match="default value 'apac' is not one of its choices"):
        dbutils.widgets.dropdown("region", "apac", ["emea", "amer"])
    with pytest.raises(TaskValueError, match="widget 'k'"):
        dbutils.widgets.multiselect("k", "c", ["a", "b"])
