"""The job builder's YAML tab over a real server: create a job from text, edit it (each save a
new version, nothing saved half-way, errors named by field), and the diff between versions."""

from __future__ import annotations

import html
import re

from support import Server, User

JOB = """\
name: built in the ui
schedule:
  quartz_cron_expression: 0 30 6 * * ?
  timezone_id: UTC
tasks:
  - task_key: extract
    shell_command_task:
      command: echo extract
  - task_key: check
    depends_on: [{task_key: extract}]
    condition_task: {op: EQUAL_TO, left: "1", right: "1"}
  - task_key: load
    depends_on: [{task_key: check, outcome: "true"}]
    shell_command_task:
      command: echo load
  - task_key: report
    depends_on: [{task_key: load}]
    shell_command_task:
      command: echo report
"""


def _textarea(page: str) -> str:
    found = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no YAML editor on the page"
    return html.unescape(found.group(1))


def test_create_edit_and_diff_a_job_as_yaml(
    server: Server, alice: User, bob: User, signed_in
) -> None:
    ui = signed_in(alice)
    assert "/new-job" in ui.get("/jobs").text
    assert "task_key: first" in _textarea(ui.get("/new-job").text)

    bad_yaml = ui.post("/new-job", {"yaml": "name: x\ntasks: [\n"})
    assert bad_yaml.status_code == 400 and "line " in bad_yaml.text and "yaml" in bad_yaml.text
    cyclic = JOB.replace("depends_on: [{task_key: extract}]", "depends_on: [{task_key: report}]")
    refused = ui.post("/new-job", {"yaml": cyclic})
    assert refused.status_code == 400
    assert "Not saved" in refused.text and "cycle" in refused.text.lower()
    assert _textarea(refused.text) == cyclic  # the text comes back as typed
    assert "is outlined on the graph" in refused.text  # the cycle, drawn
    outlined = re.findall(r'<g class="node st-none crit" data-task="(\w+)"', refused.text)
    assert set(outlined) == {"check", "load", "report"}  # extract is not in it
    assert len(re.findall(r'class="edge[^"]* crit"', refused.text)) == 3
    missing = JOB.replace("command: echo load", "")
    refused = ui.post("/new-job", {"yaml": missing})
    assert refused.status_code == 400
    assert re.search(r'<li data-field="tasks\[2\][^"]*">', refused.text)
    assert '<span class="line-no">line 12</span> <code>tasks[2]</code>' in refused.text  # its line
    assert "built in the ui" not in ui.get("/jobs").text  # nothing saved

    made = ui.post("/new-job", {"yaml": JOB})
    assert made.status_code == 303, made.text
    job_id = int(re.match(r"/jobs/(\d+)", made.headers["location"]).group(1))  # type: ignore[union-attr]
    job = alice.w.jobs.get(job_id)
    assert [t.task_key for t in job.settings.tasks] == ["extract", "check", "load", "report"]
    assert job.settings.schedule.quartz_cron_expression == "0 30 6 * * ?"
    assert f'/jobs/{job_id}/edit/form"' in ui.get(f"/jobs/{job_id}").text

    editor = ui.get(f"/jobs/{job_id}/edit").text
    text = _textarea(editor)
    version = re.search(r'name="version" value="(\d+)"', editor).group(1)  # type: ignore[union-attr]
    assert version == "1" and "task_key: report" in text
    # Add a task and move report's dependency to it.
    edited = text.replace(
        "- task_key: report\n  depends_on:\n  - task_key: load",
        "- task_key: report\n  depends_on:\n  - task_key: audit",
    )
    assert edited != text, text
    audit = "- task_key: audit\n  depends_on:\n  - task_key: load\n"
    audit += "  shell_command_task:\n    command: echo audit\n"
    edited = edited.replace("- task_key: report\n", audit + "- task_key: report\n")
    saved = ui.post(f"/jobs/{job_id}/edit", {"yaml": edited, "version": "1"})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].startswith(f"/jobs/{job_id}/versions?to=2")
    job = alice.w.jobs.get(job_id)
    deps = {t.task_key: [d.task_key for d in t.depends_on or []] for t in job.settings.tasks}
    assert deps["report"] == ["audit"] and deps["audit"] == ["load"]

    diff = ui.get(f"/jobs/{job_id}/versions", params={"from": "1", "to": "2"}).text
    assert '<span class="d-add">+- task_key: audit</span>' in diff
    assert '<span class="d-del">-  - task_key: load</span>' in diff
    assert '<span class="d-add">+  - task_key: audit</span>' in diff

    stale = ui.post(f"/jobs/{job_id}/edit", {"yaml": edited, "version": "1"})
    assert stale.status_code == 400 and "saved by someone else" in stale.text
    broken = edited.replace("command: echo audit", "command: 7\n    nonsense_field: 1")
    refused = ui.post(f"/jobs/{job_id}/edit", {"yaml": broken, "version": "2"})
    assert refused.status_code == 400 and "Not saved" in refused.text
    assert len(alice.w.jobs.get(job_id).settings.tasks) == 5  # still version 2
    # The YAML round-trips: saving it unchanged gives a third version with the same settings.
    again = ui.post(
        f"/jobs/{job_id}/edit",
        {"yaml": _textarea(ui.get(f"/jobs/{job_id}/edit").text), "version": "2"},
    )
    assert again.status_code == 303
    same = ui.get(f"/jobs/{job_id}/versions", params={"from": "2", "to": "3"}).text
    assert "have the same settings" in same
    assert ui.get(f"/jobs/{job_id}/versions", params={"to": "9"}).status_code == 400

    other = signed_in(bob)
    assert other.get(f"/jobs/{job_id}/edit").status_code in (403, 404)
    assert other.post(f"/jobs/{job_id}/edit", {"yaml": JOB, "version": "3"}).status_code in (
        403,
        404,
    )
