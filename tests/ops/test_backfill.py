"""Backfill (issue 16) through the real CLI (no server: the command runs it) and the API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from support import Headrace, Server, wait_for

JOB = """
name: daily
max_concurrent_runs: 2
parameters:
  - name: tag
    default: "t"
tasks:
  - task_key: load
    shell_command_task:
      command: >-
        echo "start {{backfill.iso_date}} $(date +%s%N)" >> {log} &&
        echo "{{backfill.iso_datetime}} {{job.trigger.time.iso_date}} {{job.parameters.tag}}"
        >> {out} && sleep 0.2 &&
        echo "end {{backfill.iso_date}} $(date +%s%N)" >> {log}
"""


def _job(hr: Headrace, **extra: str) -> Path:
    text = JOB.replace("{log}", str(hr.dir / "events.log")).replace(
        "{out}", str(hr.dir / "seen.txt")
    )
    for key, value in extra.items():
        text = text.replace("max_concurrent_runs: 2", f"max_concurrent_runs: 2\n{key}: {value}")
    job = hr.write("job.yml", text)
    # Store the job the way a user does: one ordinary run of the file.
    assert hr("run", job, "-q").returncode == 0
    (hr.dir / "events.log").unlink()
    (hr.dir / "seen.txt").unlink()
    return job


def _most_at_once(log: Path) -> int:
    """The largest number of dates running at the same moment, from the tasks' own records."""
    events = []
    for line in log.read_text().splitlines():
        kind, _, stamp = line.split()
        events.append((int(stamp), 1 if kind == "start" else -1))
    now = most = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        now += delta
        most = max(most, now)
    return most


def test_backfill_runs_one_run_per_date_within_the_limits_and_is_idempotent(
    hr: Headrace,
) -> None:
    _job(hr)
    done = hr(
        "jobs", "backfill", "daily", "--from", "2026-11-01", "--to", "2026-11-05",
        "--every", "1d", "--max-concurrent", "2", "-p", "tag=bf", "--json",
    )  # fmt: skip
    assert done.returncode == 0, str(done)
    progress = done.json()
    assert progress["state"] == "DONE" and progress["total"] == 5
    assert progress["counts"]["succeeded"] == 5
    seen = sorted((hr.dir / "seen.txt").read_text().splitlines())
    assert seen == [f"2026-11-0{d}T00:00:00 2026-11-0{d} bf" for d in range(1, 6)]
    assert _most_at_once(hr.dir / "events.log") <= 2
    runs = hr("runs", "list", "--json").json()["runs"]
    backfilled = [r for r in runs if r["trigger"] == "BACKFILL"]
    assert len(backfilled) == 5
    assert {d["run_id"] for d in progress["dates"]} == {r["run_id"] for r in backfilled}

    # Again over a longer range: the five dates that succeeded are skipped, one new date runs.
    again = hr(
        "jobs", "backfill", "daily", "--from", "2026-11-01", "--to", "2026-11-06",
        "--every", "1d", "--reverse", "--json",
    )  # fmt: skip
    assert again.returncode == 0, str(again)
    counts = again.json()["counts"]
    assert counts["skipped"] == 5 and counts["succeeded"] == 1
    assert again.json()["dates"][0]["logical_date"] == "2026-11-06T00:00:00"  # --reverse
    rerun = hr(
        "jobs", "backfill", "daily", "--from", "2026-11-01", "--to", "2026-11-02",
        "--every", "1d", "--rerun", "--json",
    )  # fmt: skip
    assert rerun.json()["counts"]["succeeded"] == 2
    listed = hr("backfills", "list", "--json").json()["backfills"]
    assert [b["backfill_id"] for b in listed] == [3, 2, 1]
    shown = hr("backfills", "get", "2")
    assert "SKIPPED (succeeded in run" in shown.stdout, str(shown)


def test_dates_from_the_schedule_and_clear_errors(hr: Headrace) -> None:
    schedule = "{quartz_cron_expression: '0 30 6 * * ?', timezone_id: UTC, pause_status: PAUSED}"
    _job(hr, schedule=schedule)
    done = hr("jobs", "backfill", "daily", "--from", "2026-11-01", "--to", "2026-11-03", "--json")
    assert done.returncode == 0, str(done)
    dates = [d["logical_date"] for d in done.json()["dates"]]
    assert dates == [f"2026-11-0{d}T06:30:00" for d in (1, 2, 3)]
    for args, field in (
        (["--from", "nope", "--to", "2026-11-02"], "from"),
        (["--from", "2026-11-03", "--to", "2026-11-02"], "to"),
        (["--from", "2026-11-01", "--to", "2026-11-02", "--every", "1y"], "every"),
        (["--from", "2026-11-01", "--to", "2026-11-02", "-p", "nope=1"], "nope"),
    ):
        bad = hr("jobs", "backfill", "daily", *args)
        assert bad.returncode == 2, str(bad)
        assert field in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    missing = hr("jobs", "backfill", "no-such-job", "--from", "2026-11-01", "--to", "2026-11-02")
    assert missing.returncode != 0 and "no-such-job" in missing.stderr


# --- through the API, on a server -------------------------------------------------------------


def _api(server: Server, user: str) -> httpx.Client:
    token = server.token(user)
    return httpx.Client(
        base_url=f"{server.url}/api/2.2", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _blocking_job(api: httpx.Client, name: str, gate: Path) -> int:
    command = f"while [ ! -f {gate}/release-{{{{job.run_id}}}} ]; do sleep 0.05; done"
    body = {
        "name": name,
        "max_concurrent_runs": 1,
        "tasks": [{"task_key": "t", "shell_command_task": {"command": command}}],
    }
    return api.post("/jobs/create", json=body).json()["job_id"]


def _run(api: httpx.Client, run_id: int) -> dict[str, Any]:
    return api.get("/jobs/runs/get", params={"run_id": run_id}).json()


def _life(api: httpx.Client, run_id: int) -> str:
    return _run(api, run_id)["state"]["life_cycle_state"]


def _progress(api: httpx.Client, backfill_id: int) -> dict[str, Any]:
    return api.get("/jobs/backfills/get", params={"backfill_id": backfill_id}).json()


def test_api_backfill_yields_to_queued_runs_and_finishes(server: Server, tmp_path: Path) -> None:
    with _api(server, "bf-owner") as api:
        job_id = _blocking_job(api, "bf-fair", tmp_path)
        body = {"job_id": job_id, "from": "2026-11-01", "to": "2026-11-02", "every": "1d"}
        created = api.post("/jobs/backfill", json=body)
        assert created.status_code == 200, created.text
        backfill_id = created.json()["backfill_id"]
        first = wait_for(lambda: _progress(api, backfill_id)["dates"][0]["run_id"], what="run 1")
        wait_for(lambda: _life(api, first) == "RUNNING", what="first date running")
        assert _run(api, first)["trigger"] == "BACKFILL"
        manual = api.post("/jobs/run-now", json={"job_id": job_id}).json()["run_id"]
        assert _life(api, manual) == "QUEUED"
        (tmp_path / f"release-{first}").touch()
        # The queued manual run goes first; the next backfill date waits for a free slot.
        wait_for(lambda: _life(api, manual) == "RUNNING", what="manual run admitted")
        second = _progress(api, backfill_id)["dates"][1]
        assert second["state"] == "PENDING", second
        (tmp_path / f"release-{manual}").touch()
        second_run = wait_for(
            lambda: _progress(api, backfill_id)["dates"][1]["run_id"], what="second date"
        )
        (tmp_path / f"release-{second_run}").touch()
        final = wait_for(
            lambda: (p := _progress(api, backfill_id))["state"] == "DONE" and p, what="done"
        )
        assert final["counts"]["succeeded"] == 2
        listed = api.get("/jobs/backfills/list", params={"job_id": job_id}).json()["backfills"]
        assert [b["backfill_id"] for b in listed] == [backfill_id]


def test_api_backfill_is_cancelled_as_a_whole(server: Server, tmp_path: Path) -> None:
    with _api(server, "bf-canceler") as api:
        job_id = _blocking_job(api, "bf-cancel", tmp_path)
        body = {"job_id": job_id, "from": "2026-11-01", "to": "2026-11-04", "every": "1d"}
        backfill_id = api.post("/jobs/backfill", json=body).json()["backfill_id"]
        first = wait_for(lambda: _progress(api, backfill_id)["dates"][0]["run_id"], what="run")
        wait_for(lambda: _life(api, first) == "RUNNING", what="first date running")
        done = api.post("/jobs/backfills/cancel", json={"backfill_id": backfill_id})
        assert done.status_code == 200, done.text
        wait_for(lambda: _life(api, first) == "TERMINATED", what="run canceled")
        progress = _progress(api, backfill_id)
        assert progress["state"] == "CANCELED"
        assert [d["state"] for d in progress["dates"]] == ["CANCELED"] * 4
        time.sleep(0.5)  # nothing starts after a cancel
        assert [d["run_id"] for d in _progress(api, backfill_id)["dates"][1:]] == [None] * 3
        for bad, field in (
            ({"job_id": job_id, "from": "2026-11-01"}, "to"),
            ({"job_id": job_id, "from": "x", "to": "2026-11-02", "every": "1d"}, "from"),
            ({"job_id": job_id, "from": "2026-11-01", "to": "2026-11-02", "oops": 1}, "oops"),
            ({"job_id": job_id, "from": "2026-11-01", "to": "2026-11-02", "every": "1d",
              "max_concurrent": 0}, "max_concurrent"),
        ):  # fmt: skip
            answer = api.post("/jobs/backfill", json=bad)
            assert answer.status_code == 400, answer.text
            assert field in answer.json()["message"], answer.text
    with _api(server, "bf-stranger") as other:
        denied = other.post("/jobs/backfills/cancel", json={"backfill_id": backfill_id})
        assert denied.status_code == 403, denied.text


def test_ctrl_c_cancels_the_whole_local_backfill_and_retries_still_fire(hr: Headrace) -> None:
    import json
    import signal

    gate = hr.dir / "gate"
    job = hr.write(
        "job.yml",
        f"""
        name: slow
        tasks:
          - task_key: t
            max_retries: 1
            min_retry_interval_millis: 200
            shell_command_task:
              command: >-
                test -f {hr.dir}/retried-{{{{backfill.iso_date}}}} ||
                {{ touch {hr.dir}/retried-{{{{backfill.iso_date}}}}; exit 1; }};
                while [ ! -f {gate} ]; do sleep 0.05; done
        """,
    )
    gate.touch()
    assert hr("run", job, "-q").returncode == 0
    gate.unlink()
    proc = hr.popen("jobs", "backfill", "slow", "--from", "2026-11-01", "--to", "2026-11-03",
                    "--every", "1d", "--json")  # fmt: skip

    def second_attempt_running() -> bool:
        got = hr("backfills", "get", "1", "--json")
        if got.returncode != 0:
            return False
        [first, *_] = json.loads(got.stdout)["dates"]
        return first["state"] == "RUNNING" and (hr.dir / "retried-2026-11-01").exists()

    wait_for(second_attempt_running, timeout=60, what="the retry of the first date")
    time.sleep(0.5)  # the retry (200 ms later) is running, blocked on the gate
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    progress = json.loads(out)
    assert progress["state"] == "CANCELED", progress
    assert [d["state"] for d in progress["dates"]] == ["CANCELED"] * 3, progress
    run = hr.get(progress["dates"][0]["run_id"])
    assert len(run["tasks"][0]["attempts"]) == 2  # the retry fired in this process
