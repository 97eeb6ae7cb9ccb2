"""`headrace runs replay RUN TASK` (issue 16): one recorded attempt again, in the foreground."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from support import HEADRACE, Headrace

UP = """
import sys
from headrace.runtime import dbutils
print("up sees", dbutils.widgets.get("day"), sys.argv[1:])
dbutils.jobs.taskValues.set("n", 41)
"""

JOB = """
name: replayed
parameters:
  - name: day
    default: "d1"
tasks:
  - task_key: up
    spark_python_task: {python_file: "{dir}/up.py", parameters: ["{{job.parameters.day}}"]}
  - task_key: down
    depends_on: [{task_key: up}]
    max_retries: 1
    shell_command_task:
      command: >-
        echo "n={{tasks.up.values.n}} day={{job.parameters.day}} try={{task.execution_count}}";
        test -f {dir}/second || (touch {dir}/second; exit 3)
"""


def _dump(db: Path) -> list[Any]:
    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(n, sorted(map(repr, con.execute(f'SELECT * FROM "{n}"')))) for n in sorted(names)]
    finally:
        con.close()


def _logs(home: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (home / "logs").rglob("*") if p.is_file()}


def test_replay_uses_the_recorded_inputs_and_leaves_the_run_alone(hr: Headrace) -> None:
    hr.write("up.py", UP)
    job = hr.write("job.yml", JOB.replace("{dir}", str(hr.dir)))
    _, run = hr.run_json(job, "-p", "day=zz", expect=0)
    run_id = str(run["run_id"])
    (hr.dir / "second").unlink()  # today the task would behave differently: the replay must not
    before, logs = _dump(hr.home / "headrace.db"), _logs(hr.home)

    first = hr("runs", "replay", run_id, "down", "--attempt", "0")
    assert first.returncode == 3, str(first)  # attempt 0 failed with exit code 3, and again
    assert "n=41 day=zz try=1" in first.stdout
    assert "originally FAILED" in first.stderr and '"up": {"n": 41}' in first.stderr
    (hr.dir / "second").unlink()
    last = hr("runs", "replay", run_id, "down")  # the last attempt: its second execution
    assert "n=41 day=zz try=2" in last.stdout, str(last)

    up = hr("runs", "replay", run_id, "up")
    assert up.returncode == 0, str(up)
    assert "up sees zz ['zz']" in up.stdout
    assert 'task values set (not stored): {"n": 41}' in up.stderr

    assert "changed since the attempt" not in up.stderr
    hr.write("up.py", UP + "print('edited')\n")
    edited = hr("runs", "replay", run_id, "up")
    # The script as the attempt ran it, not as it is now.
    assert edited.returncode == 0 and "up sees zz" in edited.stdout, str(edited)
    assert "edited" not in edited.stdout
    assert "changed since the attempt; replaying the version it ran" in edited.stderr

    assert _dump(hr.home / "headrace.db") == before
    assert _logs(hr.home) == logs


def test_replay_under_pdb_and_clear_errors(hr: Headrace) -> None:
    hr.write("up.py", UP)
    job = hr.write("job.yml", JOB.replace("{dir}", str(hr.dir)))
    _, run = hr.run_json(job, expect=0)
    run_id = str(run["run_id"])
    debug = subprocess.run(
        [*HEADRACE, "runs", "replay", run_id, "up", "--pdb"],
        input="c\nq\n",
        env=hr.env,
        cwd=hr.dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "(Pdb)" in debug.stdout and "up sees d1" in debug.stdout, debug.stdout + debug.stderr
    for args, words in (
        (["runs", "replay", run_id, "down", "--pdb"], "--pdb needs a Python task"),
        (["runs", "replay", run_id, "nope"], "no attempt of task 'nope'"),
        (["runs", "replay", run_id, "up", "--attempt", "5"], "has attempts 0"),
        (["runs", "replay", "99999", "up"], "99999"),
    ):
        bad = hr(*args)
        assert bad.returncode != 0 and words in bad.stderr, str(bad)
        assert "Traceback" not in bad.stderr


def test_replay_runs_the_kept_version_beside_its_neighbours_and_says_when_it_is_gone(
    hr: Headrace,
) -> None:
    hr.write("helper.py", "WORD = 'helped'\n")
    hr.write("main.py", "import helper\nprint('v1', helper.WORD)\n")
    job = hr.write(
        "job.yml",
        f"name: kept\ntasks:\n  - task_key: t\n"
        f"    spark_python_task: {{python_file: {hr.dir}/main.py}}\n",
    )
    _, run = hr.run_json(job, expect=0)
    run_id = str(run["run_id"])
    kept = list((hr.home / "file_versions").rglob("*"))
    assert [p for p in kept if p.is_file()], "the attempt kept its script"

    hr.write("main.py", "raise SystemExit('v2 must not run')\n")
    again = hr("runs", "replay", run_id, "t")
    assert again.returncode == 0, str(again)
    assert "v1 helped" in again.stdout  # the kept copy still imports its neighbour

    for blob in kept:
        if blob.is_file():
            blob.unlink()
    gone = hr("runs", "replay", run_id, "t")
    assert "is no longer kept" in gone.stderr and "v2 must not run" in gone.stderr, str(gone)
    assert gone.returncode != 0


def test_keeping_file_versions_never_fails_an_attempt(tmp_path: Path) -> None:
    from headrace.worker.file_versions import keep_versions

    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "file_versions").write_text("a file where the folder should be")
    folder = tmp_path / "attempt"
    folder.mkdir()
    assert keep_versions({"python_file": str(script)}, home, folder) == []
