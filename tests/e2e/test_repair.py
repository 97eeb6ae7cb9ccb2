"""`headrace runs repair`: rerun failed (or chosen) tasks inside the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import Headrace

from .helpers import attempts, result_of, results, task

JOB = """
name: repairable
tasks:
  - task_key: a
    shell_command_task: {command: "echo a >> @DIR@/a.count"}
  - task_key: b
    depends_on: [{task_key: a}]
    shell_command_task:
      command: |
        echo b >> @DIR@/b.count
        if [ -f @DIR@/fixed ]; then echo "b works"; exit 0; fi
        touch @DIR@/fixed
        echo "b broke" >&2
        exit 1
  - task_key: c
    depends_on: [{task_key: b}]
    shell_command_task: {command: "echo c >> @DIR@/c.count"}
  - task_key: d
    depends_on: [{task_key: a}]
    shell_command_task: {command: "echo d >> @DIR@/d.count"}
"""


def _job(hr: Headrace) -> Path:
    return hr.write("repairable.yml", JOB.replace("@DIR@", str(hr.dir)))


def _count(hr: Headrace, key: str) -> int:
    path = hr.dir / f"{key}.count"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _ids(run: dict[str, Any]) -> dict[str, int]:
    return {t["task_key"]: t["run_id"] for t in run["tasks"]}


def _failed_run(hr: Headrace) -> dict[str, Any]:
    _, run = hr.run_json(_job(hr), expect=1)
    assert result_of(run) == "FAILED"
    assert results(run) == {
        "a": "SUCCESS",
        "b": "FAILED",
        "c": "UPSTREAM_FAILED",
        "d": "SUCCESS",
    }
    return run


def test_repair_all_failed_reruns_failed_tasks_and_their_dependents(hr: Headrace) -> None:
    before = _failed_run(hr)
    run_id = str(before["run_id"])

    repaired = hr("runs", "repair", run_id, "--all-failed", "--json")
    assert repaired.returncode == 0, str(repaired)
    after = repaired.json()
    assert after["run_id"] == before["run_id"]
    assert result_of(after) == "SUCCESS"
    assert set(results(after).values()) == {"SUCCESS"}
    assert after["repair_count"] == 1

    old, new = _ids(before), _ids(after)
    assert new["a"] == old["a"] and new["d"] == old["d"]
    assert new["b"] != old["b"] and new["c"] != old["c"]
    for key in "ad":
        assert len(attempts(task(after, key))) == 1
    assert {k: _count(hr, k) for k in "abcd"} == {"a": 1, "b": 2, "c": 1, "d": 1}

    history = after["repair_history"]
    assert [h["type"] for h in history] == ["ORIGINAL", "REPAIR"]
    assert history[0]["state"]["result_state"] == "FAILED"
    assert sorted(history[0]["task_run_ids"]) == sorted(old.values())
    assert sorted(history[1]["task_run_ids"]) == sorted([new["b"], new["c"]])
    assert history[1]["state"]["result_state"] == "SUCCESS"

    assert "b works" in hr("runs", "logs", run_id, "b").stdout
    stored = hr.get(before["run_id"])
    assert result_of(stored) == "SUCCESS"
    assert _ids(stored) == new


def test_repair_one_task_reruns_only_that_task(hr: Headrace) -> None:
    (hr.dir / "fixed").touch()
    _, before = hr.run_json(_job(hr), expect=0)

    repaired = hr("runs", "repair", str(before["run_id"]), "--task", "d", "--json")
    assert repaired.returncode == 0, str(repaired)
    after = repaired.json()
    assert result_of(after) == "SUCCESS"
    old, new = _ids(before), _ids(after)
    assert new["d"] != old["d"]
    assert {k: new[k] for k in "abc"} == {k: old[k] for k in "abc"}
    assert {k: _count(hr, k) for k in "abcd"} == {"a": 1, "b": 1, "c": 1, "d": 2}
    history = after["repair_history"]
    assert [h["type"] for h in history] == ["ORIGINAL", "REPAIR"]
    assert history[1]["task_run_ids"] == [new["d"]]


def test_repair_after_repair_keeps_the_whole_history(hr: Headrace) -> None:
    before = _failed_run(hr)
    run_id = str(before["run_id"])
    first = hr("runs", "repair", run_id, "--all-failed", "--json")
    assert first.returncode == 0, str(first)
    second = hr("runs", "repair", run_id, "--task", "d", "--json")
    assert second.returncode == 0, str(second)
    run = second.json()
    assert [h["type"] for h in run["repair_history"]] == ["ORIGINAL", "REPAIR", "REPAIR"]
    assert run["repair_count"] == 2
    assert run["repair_history"][2]["task_run_ids"] == [task(run, "d")["run_id"]]
    assert _ids(run)["b"] == _ids(first.json())["b"]
    assert _count(hr, "d") == 2


def test_repair_of_unknown_task_is_a_usage_error(hr: Headrace) -> None:
    before = _failed_run(hr)
    result = hr("runs", "repair", str(before["run_id"]), "--task", "nope")
    assert result.returncode == 2, str(result)
    assert "nope" in result.stderr
    assert hr.get(before["run_id"])["repair_count"] == 0


def test_repair_with_task_and_all_failed_is_a_usage_error(hr: Headrace) -> None:
    before = _failed_run(hr)
    result = hr("runs", "repair", str(before["run_id"]), "--task", "b", "--all-failed")
    assert result.returncode == 2, str(result)
    assert "--all-failed" in result.stderr
    neither = hr("runs", "repair", str(before["run_id"]))
    assert neither.returncode == 2, str(neither)
    assert hr.get(before["run_id"])["repair_count"] == 0


def test_repair_all_failed_of_a_successful_run_is_a_conflict(hr: Headrace) -> None:
    (hr.dir / "fixed").touch()
    _, before = hr.run_json(_job(hr), expect=0)
    result = hr("runs", "repair", str(before["run_id"]), "--all-failed")
    assert result.returncode == 4, str(result)
    assert "nothing to repair" in result.stderr


def test_repair_of_missing_run_is_not_found(hr: Headrace) -> None:
    result = hr("runs", "repair", "424242", "--all-failed")
    assert result.returncode == 3, str(result)
