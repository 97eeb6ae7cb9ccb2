"""The job builder's form tab over a real server, posting what the page's form holds: create
a job, errors beside their fields with nothing saved, the YAML tab and back losing nothing,
grants saved with the settings, a stale form refused, the live preview."""

from __future__ import annotations

import re

from support import Server, User
from ui.formdata import form_fields


def _post(ui, path: str, fields: dict[str, list[str]], op: str = "save"):
    return ui.client.post(path, data={**fields, "op": op})


def test_create_and_edit_a_job_with_the_form(
    server: Server, alice: User, bob: User, signed_in
) -> None:
    ui = signed_in(alice)
    assert 'href="/new-job/form"' in ui.get("/jobs").text
    folder = server.workspace_tree / "Users" / "alice"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "etl_form.py").write_text("print('etl')\n")
    page = ui.get("/new-job/form")
    assert page.status_code == 200
    # The pickers: workspace files (a notebook also without its extension) and jobs.
    assert '<option value="/Users/alice/etl_form.py">' in page.text
    assert '<option value="/Users/alice/etl_form">' in page.text
    f = form_fields(page.text)
    assert f["task.0.task_key"] == ["first"] and f["task.0.type"] == ["shell_command_task"]

    added = _post(ui, "/new-job/form", f, "add_task")
    f = form_fields(added.text)
    assert f["task.1.task_key"] == ["task_2"]
    f["name"] = ["form job"]
    f["task.1.type"] = ["notebook_task"]
    f["task.1.notebook_task.notebook_path"] = [""]  # required: the API says so
    f["task.1.depends_on"] = ["0"]
    f["trigger_kind"] = ["schedule"]
    f["schedule.quartz_cron_expression"] = ["0 0 25 * * ?"]  # hour 25
    refused = _post(ui, "/new-job/form", f)
    assert refused.status_code == 400 and "Not saved" in refused.text
    assert re.search(r'class="ferr" data-for="tasks\[1\]', refused.text)
    f = form_fields(refused.text)
    assert f["name"] == ["form job"] and f["task.1.depends_on"] == ["0"]  # as typed
    f["task.1.type"] = ["shell_command_task"]
    f["task.1.shell_command_task.command"] = ["echo two"]
    refused = _post(ui, "/new-job/form", f)  # the job's own checks: the schedule
    assert refused.status_code == 400
    assert re.search(r'class="ferr" data-for="schedule.quartz_cron_expression"', refused.text)
    assert "form job" not in ui.get("/jobs").text  # nothing saved
    f = form_fields(refused.text)
    f["schedule.quartz_cron_expression"] = ["0 0 5 * * ?"]
    f["acl.0.who_kind"], f["acl.0.who"] = ["user_name"], ["bob"]
    f["acl.0.permission_level"] = ["CAN_VIEW"]
    made = _post(ui, "/new-job/form", f)
    assert made.status_code == 303, made.text
    job_id = int(re.match(r"/jobs/(\d+)", made.headers["location"]).group(1))  # type: ignore[union-attr]
    job = alice.w.jobs.get(job_id)
    assert [t.task_key for t in job.settings.tasks] == ["first", "task_2"]
    assert job.settings.tasks[1].depends_on[0].task_key == "first"
    assert job.settings.schedule.timezone_id == "UTC"
    assert bob.w.jobs.get(job_id).settings.name == "form job"  # the grant holds

    # Form -> YAML -> form: the same settings, grants included.
    edit = ui.get(f"/jobs/{job_id}/edit/form")
    f = form_fields(edit.text)
    assert f["version"] == ["1"] and f["acl.0.who"] == ["bob"]
    as_yaml = _post(ui, f"/jobs/{job_id}/edit/form", f, "to_yaml")
    text = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', as_yaml.text, re.S).group(1)  # type: ignore[union-attr]
    assert "access_control_list" in text and "echo two" in text
    import html

    back = ui.client.post(
        f"/jobs/{job_id}/edit/form",
        data={
            "csrf_token": ui.csrf,
            "yaml": html.unescape(text),
            "version": "1",
            "op": "from_yaml",
        },
    )
    g = form_fields(back.text)
    assert {k: v for k, v in g.items() if k != "csrf_token"} == {
        k: v for k, v in f.items() if k != "csrf_token"
    }

    # Rename a task (its dependents follow), raise bob to CAN_MANAGE_RUN: version 2.
    g["task.0.task_key"] = ["start"]
    g["acl.0.permission_level"] = ["CAN_MANAGE_RUN"]
    saved = _post(ui, f"/jobs/{job_id}/edit/form", g)
    assert saved.status_code == 303 and "versions?to=2" in saved.headers["location"]
    job = alice.w.jobs.get(job_id)
    assert job.settings.tasks[1].depends_on[0].task_key == "start"
    levels = alice.w.jobs.get_permissions(str(job_id)).access_control_list
    assert any(
        a.user_name == "bob" and a.all_permissions[0].permission_level.value == "CAN_MANAGE_RUN"
        for a in levels
    )

    stale = _post(ui, f"/jobs/{job_id}/edit/form", g)
    assert stale.status_code == 400 and "saved by someone else" in stale.text
    g["version"] = ["2"]
    g["acl.0.who_kind"] = ["group_name"]
    g["acl.0.permission_level"] = ["IS_OWNER"]  # a group cannot own a job
    g["task.1.max_retries"] = ["x"]
    refused = _post(ui, f"/jobs/{job_id}/edit/form", g)
    assert refused.status_code == 400
    assert 'data-for="tasks[1].max_retries"' in refused.text
    assert 'data-for="access_control_list' in refused.text
    assert alice.w.jobs.get(job_id).settings.tasks[0].task_key == "start"  # still version 2

    assert re.search(rf'<option value="{job_id}"[^>]*>form job #{job_id}</option>', edit.text)
    preview = ui.client.post("/job-form/preview", data=form_fields(edit.text))
    assert preview.status_code == 200
    parts = preview.json()
    assert 'data-task="first"' in parts["graph"] and "05:00" in parts["schedule"]
    assert parts["schedule"].count("<li>") == 5

    other = signed_in(bob)
    assert other.get(f"/jobs/{job_id}/edit/form").status_code in (403, 404)
