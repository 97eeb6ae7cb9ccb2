"""Run inside the Airflow virtualenv: executes the provider's real operators and hook against a
`headrace server` and prints one JSON object of outcomes, one entry per scenario.

Airflow is slow to import on a busy machine, so one process runs every scenario (the test
module reads the outcomes). The connection comes from AIRFLOW_CONN_DATABRICKS_DEFAULT.
Usage: python airflow_driver.py SCENARIOS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import Any

from airflow import DAG
from airflow.exceptions import AirflowException, TaskDeferred
from airflow.providers.databricks.hooks.databricks import DatabricksHook
from airflow.providers.databricks.operators.databricks import (
    DatabricksNotebookOperator,
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
    DatabricksTaskOperator,
)

POLL = 0.5


class TaskInstance:
    """What the operators use of Airflow's task instance: XCom pushes, kept for the test."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def run_operator(op: Any) -> dict[str, Any]:
    """Execute an operator as Airflow's worker would; a deferral is driven to its end here
    (the trigger's async hook polls the server), then execute_complete is called."""
    ti = TaskInstance()
    context: dict[str, Any] = {"ti": ti}
    out: dict[str, Any] = {"deferred": False}
    try:
        try:
            op.execute(context)
        except TaskDeferred as deferred:
            out["deferred"] = True
            event = asyncio.run(_first_event(deferred.trigger))
            out["event"] = event
            getattr(op, deferred.method_name)(context, event)
        out["ok"] = True
    except AirflowException as exc:
        out["ok"] = False
        out["error_type"] = type(exc).__name__
        out["error"] = str(exc)
    except Exception as exc:  # a client-side crash: the test shows it whole
        out["ok"] = False
        out["error_type"] = type(exc).__name__
        out["error"] = "".join(traceback.format_exception(exc))
    out["xcom"] = ti.xcom
    return out


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    return None


def _dag(name: str) -> DAG:
    import datetime

    return DAG(name, schedule=None, start_date=datetime.datetime(2026, 1, 1))


def scenario(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    common = {"polling_period_seconds": POLL, "databricks_retry_limit": 2}
    with _dag(f"headrace_{args.get('name', kind)}"):
        if kind == "submit":
            op = DatabricksSubmitRunOperator(task_id="submit", **args["kwargs"], **common)
        elif kind == "run_now":
            op = DatabricksRunNowOperator(task_id="run_now", **args["kwargs"], **common)
        elif kind == "notebook":
            op = DatabricksNotebookOperator(task_id="notebook", **args["kwargs"], **common)
        elif kind == "task":
            op = DatabricksTaskOperator(task_id="task", **args["kwargs"], **common)
        elif kind == "test_connection":
            ok, message = DatabricksHook().test_connection()
            return {"ok": ok, "message": message}
        elif kind == "a_get_run_state":
            state = asyncio.run(DatabricksHook().a_get_run_state(args["run_id"]))
            return {"ok": True, "state": state.to_json()}
        else:
            raise ValueError(kind)
    result = run_operator(op)
    result["run_id"] = getattr(op, "run_id", None) or getattr(op, "databricks_run_id", None)
    return result


def main() -> None:
    scenarios = json.loads(sys.argv[1])
    results = {}
    for name, spec in scenarios.items():
        try:
            results[name] = scenario(spec["kind"], {"name": name, **spec})
        except Exception as exc:
            results[name] = {"ok": False, "error": "".join(traceback.format_exception(exc))}
    print("@@RESULTS@@" + json.dumps(results))


if __name__ == "__main__":
    main()
