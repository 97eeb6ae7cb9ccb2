"""Notebook tasks through the Jobs API: workspace notebooks, get-output through the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from databricks.sdk.service import jobs, workspace

from support import Server, User, settle

ETL = b"""# Databricks notebook source
# MAGIC %run /Users/alice/nb/shared/setup

# COMMAND ----------

dbutils.widgets.text("who", "nobody")
dbutils.notebook.exit(f"{GREETING}, {dbutils.widgets.get('who')}")
"""
SETUP = b"""# Databricks notebook source
GREETING = "hello"
"""
FAILING = {
    "cells": [
        {
            "cell_type": "code",
            "id": "a",
            "metadata": {},
            "source": "def load():\n    raise KeyError('region')\n\nload()",
            "outputs": [],
            "execution_count": None,
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("notebook_server"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def alice(server: Server) -> User:
    return server.user("alice")


def _run(user: User, name: str, task: jobs.Task) -> tuple[jobs.Run, jobs.RunOutput]:
    job_id = user.w.jobs.create(name=name, tasks=[task]).job_id
    run = settle(user.w, user.w.jobs.run_now(job_id).run_id, timeout=90)
    return run, user.w.jobs.get_run_output(run.tasks[0].run_id)


def test_a_workspace_notebook_without_extension_and_its_exit_value(alice: User) -> None:
    w = alice.w
    w.workspace.upload(
        "/Users/alice/nb/etl",
        ETL,
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
        overwrite=True,
    )
    w.workspace.upload(
        "/Users/alice/nb/shared/setup",
        SETUP,
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
        overwrite=True,
    )
    task = jobs.Task(
        task_key="etl",
        notebook_task=jobs.NotebookTask(
            notebook_path="/Workspace/Users/alice/nb/etl", base_parameters={"who": "alice"}
        ),
    )

    run, out = _run(alice, "ws-notebook", task)

    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    assert out.notebook_output.result == "hello, alice"
    assert out.notebook_output.truncated is False
    assert "executed_notebook" not in out.as_dict()  # Headrace's own keys stay internal


def test_a_failing_cell_gives_error_and_error_trace(alice: User, server: Server) -> None:
    alice.w.workspace.upload(
        "/Users/alice/nb/failing.ipynb",
        json.dumps(FAILING).encode(),
        format=workspace.ImportFormat.JUPYTER,
        overwrite=True,
    )
    task = jobs.Task(
        task_key="bad",
        notebook_task=jobs.NotebookTask(
            notebook_path="/Users/alice/nb/failing", source=jobs.Source.WORKSPACE
        ),
    )

    run, out = _run(alice, "ws-failing", task)

    assert run.state.result_state == jobs.RunResultState.FAILED
    assert out.error.startswith("KeyError: 'region'"), out.error
    assert out.error_trace.startswith("Traceback (most recent call last):")
    assert "load()" in out.error_trace and "raise KeyError('region')" in out.error_trace
    assert out.notebook_output is None
    listing = server.cli("runs", "export", str(run.run_id), "bad")
    assert listing.returncode == 0, listing.stderr
    assert "KeyError" in listing.stdout
