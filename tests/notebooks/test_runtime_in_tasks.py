"""Inside task processes: the SDK's `databricks.sdk.runtime` gives Headrace's dbutils, and
secrets read through dbutils are redacted from logs, notebooks and outputs."""

from __future__ import annotations

import json

from notebooks.helpers import executed, log, output, source_notebook, task
from support import Headrace

SECRET = "s3cr3t-value-xyz"


def _secret(hr: Headrace) -> None:
    folder = hr.home / "secrets" / "prod"
    folder.mkdir(parents=True)
    (folder / "db-password").write_text(SECRET + "\n")


def test_spark_python_task_imports_dbutils_from_the_official_sdk(hr: Headrace) -> None:
    _secret(hr)
    hr.write(
        "script.py",
        """
        from databricks.sdk.runtime import dbutils, display

        from headrace.runtime import dbutils as ours, display as our_display

        print("ours:", dbutils is ours, display is our_display)
        print("day:", dbutils.widgets.get("day"))
        print("password:", dbutils.secrets.get("prod", "db-password"))
        dbutils.jobs.taskValues.set("answer", 42)
        dbutils.notebook.exit("done " + dbutils.secrets.get("prod", "db-password"))
        print("not reached")
        """,
    )
    job = hr.write(
        "job.yml",
        """
        name: sdk
        parameters: [{name: day, default: "2026-11-23"}]
        tasks:
          - task_key: script
            spark_python_task: {python_file: script.py}
        """,
    )

    _, run = hr.run_json(job, expect=0)

    text = log(run, "script")
    assert "ours: True True" in text
    assert "day: 2026-11-23" in text
    assert "password: [REDACTED]" in text and SECRET not in text
    assert "not reached" not in text
    assert task(run, "script")["task_values"] == {"answer": 42}
    assert output(run, "script")["notebook_output"]["result"] == "done [REDACTED]"


def test_secrets_are_redacted_from_notebook_outputs_log_and_exit_value(hr: Headrace) -> None:
    _secret(hr)
    source_notebook(
        hr,
        "uses_secret.py",
        """
        password = dbutils.secrets.get(scope="prod", key="db-password")
        print("password is", password)
        displayHTML(f"<b>{password}</b>")
        password
        """,
        "dbutils.notebook.exit(password)",
    )
    job = hr.write(
        "job.yml",
        """
        name: secret
        tasks:
          - task_key: nb
            notebook_task: {notebook_path: uses_secret.py}
        """,
    )

    _, run = hr.run_json(job, expect=0)
    source_notebook(
        hr,
        "leaks.py",
        'raise ValueError("bad password " + dbutils.secrets.get("prod", "db-password"))',
    )
    failing = hr.write(
        "failing.yml",
        """
        name: leaks
        tasks:
          - task_key: leaks
            notebook_task: {notebook_path: leaks.py}
        """,
    )
    _, failed = hr.run_json(failing, expect=1)

    assert task(failed, "leaks")["state"]["state_message"].startswith(
        "ValueError: bad password [REDACTED]"
    )
    assert SECRET not in log(failed, "leaks")
    assert "password is [REDACTED]" in log(run, "nb")
    assert SECRET not in log(run, "nb")
    notebook = json.dumps(executed(run, "nb"))
    assert SECRET not in notebook and "<b>[REDACTED]</b>" in notebook
    assert output(run, "nb")["notebook_output"]["result"] == "[REDACTED]"
