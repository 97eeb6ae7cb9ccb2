"""The UI's pages over a real server, without a browser: sign-in and sessions, escaping of user
text, CSRF refusal, permissions, and the actions (run now, pause, cancel, repair, delete)."""

from __future__ import annotations

import html
import json
import re

import httpx
from databricks.sdk.service import jobs

from support import Server, User, settle, shell, wait_for

EVIL = "<script>alert('x')</script>"


def make_job(user: User, name: str, *tasks: jobs.Task, **settings: object) -> int:
    return user.w.jobs.create(name=name, tasks=list(tasks), **settings).job_id  # type: ignore[arg-type]


def test_pages_need_a_session(server: Server) -> None:
    with httpx.Client(base_url=server.url) as c:
        for path in ("/", "/jobs", "/runs", "/jobs/1", "/runs/1"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next="), path
        assert c.get("/jobs/live").status_code == 401  # the script's JSON: no redirect
        posted = c.post("/jobs/1/run-now", data={"csrf_token": "x"}, follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"] == "/login"
        assert c.get("/login").status_code == 200


def test_sign_in_sets_a_safe_cookie_and_refuses_bad_tokens(server: Server, alice: User) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        bad = c.post("/login", data={"token": "hdr_not-a-token", "next": "/jobs"})
        assert bad.status_code == 401
        assert "Invalid access token" in bad.text
        assert "headrace_session" not in bad.headers.get("set-cookie", "")
        r = c.post("/login", data={"token": alice.token, "next": "https://evil.example/"})
        assert r.status_code == 303
        assert r.headers["location"] == "/jobs"  # never an open redirect
        for target in ("//evil.example/", "/\t/evil.example/", "/\\evil.example", "/\n/x"):
            r = c.post("/login", data={"token": alice.token, "next": target})
            assert r.headers["location"] == "/jobs", target
        r = c.post("/login", data={"token": alice.token, "next": "/runs?state=failed"})
        assert r.headers["location"] == "/runs?state=failed"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        page = c.get("/jobs")
        assert page.status_code == 200
        assert "alice" in page.text


def test_a_revoked_token_ends_the_session(server: Server, signed_in) -> None:
    user = server.user("dave")
    ui = signed_in(user)
    assert ui.get("/jobs").status_code == 200
    listed = server.cli("tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (mine,) = [t for t in json.loads(listed.stdout)["tokens"] if t["user_name"] == "dave"]
    done = server.cli("tokens", "revoke", str(mine["token_id"]))
    assert done.returncode == 0, done.stderr
    assert ui.get("/jobs").status_code == 303


def test_user_text_renders_as_text(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(
        alice,
        f"job {EVIL}",
        shell("say", f'echo "{EVIL}"'),
        parameters=[jobs.JobParameterDefinition(name="p", default=EVIL)],
    )
    run_id = alice.w.jobs.run_now(job_id).run_id
    settle(alice.w, run_id)
    ui = signed_in(alice)
    task_run_id = alice.w.jobs.get_run(run_id).tasks[0].run_id
    pages = [
        "/jobs",
        f"/jobs/{job_id}",
        "/runs",
        f"/runs/{run_id}",
        f"/runs/{run_id}/tasks/{task_run_id}",
    ]
    for path in pages:
        page = ui.get(path)
        assert page.status_code == 200, path
        assert EVIL not in page.text, f"{path} echoes user text as HTML"
        assert "&lt;script&gt;alert(" in page.text, path
        assert EVIL in html.unescape(page.text), path
    live = ui.get(f"/runs/{run_id}/live").json()
    assert all(EVIL not in fragment for fragment in live["html"].values())
    log = ui.get(f"/runs/{run_id}/tasks/{task_run_id}/log.txt")
    assert log.headers["content-type"].startswith("text/plain")
    assert EVIL in log.text  # the raw log, served as plain text, never as HTML
    csp = ui.get("/jobs").headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'self'" in csp  # no inline script runs


def test_forms_without_the_csrf_token_are_refused(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(alice, "csrf target", shell("a", "true"))
    ui = signed_in(alice)
    for token in (None, "0" * 64):
        data = {"csrf_token": token} if token else {}
        r = ui.client.post(f"/jobs/{job_id}/run-now", data=data)
        assert r.status_code == 403, r.text
        assert "did not come from this site" in r.text
    assert alice.w.jobs.list_runs(job_id=job_id) is not None
    assert list(alice.w.jobs.list_runs(job_id=job_id)) == []
    r = ui.client.post(f"/jobs/{job_id}/delete", data={"confirm": "yes"})
    assert r.status_code == 403
    assert alice.w.jobs.get(job_id).job_id == job_id  # still there


def test_a_user_without_permission_does_not_see_the_job(
    server: Server, alice: User, bob: User, admin: User, signed_in
) -> None:
    job_id = make_job(alice, "alice private job", shell("a", "true"))
    run_id = alice.w.jobs.run_now(job_id).run_id
    settle(alice.w, run_id)
    ui = signed_in(bob)
    assert "alice private job" not in ui.get("/jobs").text
    assert "alice private job" not in ui.get("/runs").text
    assert f'href="/runs/{run_id}"' not in ui.get("/runs").text
    assert ui.get(f"/jobs/{job_id}").status_code == 403
    assert ui.get(f"/runs/{run_id}").status_code == 403
    assert ui.get(f"/runs/{run_id}/live").status_code == 403
    root = signed_in(admin)
    assert "alice private job" in root.get("/jobs").text  # admins see every job
    assert root.get(f"/runs/{run_id}").status_code == 200
    assert ui.post(f"/jobs/{job_id}/run-now").status_code == 303  # refused with a message
    assert (
        list(alice.w.jobs.list_runs(job_id=job_id))
        and len(list(alice.w.jobs.list_runs(job_id=job_id))) == 1
    )


def test_viewers_see_but_are_not_offered_actions(
    server: Server, alice: User, carol: User, signed_in
) -> None:
    job_id = make_job(
        alice,
        "shared with carol",
        shell("a", "true"),
        access_control_list=[
            jobs.JobAccessControlRequest(
                user_name="carol", permission_level=jobs.JobPermissionLevel.CAN_VIEW
            )
        ],
    )
    run_id = alice.w.jobs.run_now(job_id).run_id
    settle(alice.w, run_id)
    ui = signed_in(carol)
    page = ui.get(f"/jobs/{job_id}").text
    assert "shared with carol" in page
    assert "Run now" not in page and "Delete job" not in page
    run_page = ui.get(f"/runs/{run_id}").text
    assert "Repair run" not in run_page and "Run again" not in run_page
    r = ui.post(f"/jobs/{job_id}/run-now")
    assert r.status_code == 303 and "does+not+have+CAN_MANAGE_RUN" in r.headers["location"]
    owner_page = signed_in(alice).get(f"/jobs/{job_id}").text
    assert "Run now" in owner_page and "Delete job" in owner_page


def test_jobs_page_shows_schedule_in_words_and_search(
    server: Server, alice: User, signed_in
) -> None:
    make_job(
        alice,
        "nightly words",
        shell("a", "true"),
        schedule=jobs.CronSchedule(
            quartz_cron_expression="0 0 2 * * ?",
            timezone_id="Europe/Paris",
            pause_status=jobs.PauseStatus.PAUSED,
        ),
    )
    make_job(alice, "other words", shell("a", "true"))
    ui = signed_in(alice)
    page = ui.get("/jobs", params={"q": "NIGHTLY"}).text
    assert "At 02:00, every day (Europe/Paris)" in page
    assert "Paused" in page
    assert "other words" not in page


def test_run_now_with_parameters_pause_and_delete(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(
        alice,
        "ui actions",
        shell("a", "echo day={{job.parameters.day}}"),
        parameters=[jobs.JobParameterDefinition(name="day", default="monday")],
        schedule=jobs.CronSchedule(quartz_cron_expression="0 0 3 * * ?", timezone_id="UTC"),
    )
    ui = signed_in(alice)
    r = ui.post(f"/jobs/{job_id}/run-now", {"param.day": "friday"})
    assert r.status_code == 303
    run_id = int(re.match(r"/runs/(\d+)", r.headers["location"]).group(1))  # type: ignore[union-attr]
    run = settle(alice.w, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert {p.name: p.value for p in run.job_parameters} == {"day": "friday"}
    log = ui.get(f"/runs/{run_id}/tasks/{run.tasks[0].run_id}/log.txt").text
    assert "day=friday" in log

    refused = ui.post(f"/jobs/{job_id}/run-now", {"param.nope": "1"})
    flash = httpx.URL(refused.headers["location"]).params["flash"]
    assert "job_parameters.nope" in flash  # the engine's own words, naming the field
    assert "nope" in ui.get(refused.headers["location"]).text

    assert ui.post(f"/jobs/{job_id}/pause").status_code == 303
    assert alice.w.jobs.get(job_id).settings.schedule.pause_status == jobs.PauseStatus.PAUSED
    assert ui.post(f"/jobs/{job_id}/unpause").status_code == 303
    assert alice.w.jobs.get(job_id).settings.schedule.pause_status == jobs.PauseStatus.UNPAUSED

    unconfirmed = ui.post(f"/jobs/{job_id}/delete")
    assert "confirm" in unconfirmed.headers["location"]
    assert alice.w.jobs.get(job_id).job_id == job_id
    assert (
        ui.post(f"/jobs/{job_id}/delete", {"confirm": "yes"})
        .headers["location"]
        .startswith("/jobs?")
    )
    assert ui.get(f"/jobs/{job_id}").status_code == 404


def test_cancel_and_repair_from_forms(server: Server, alice: User, signed_in, tmp_path) -> None:
    flag = tmp_path / "fixed"
    job_id = make_job(
        alice,
        "ui repair",
        shell("first", "true"),
        shell("flaky", f"test -e {flag}", depends_on=[jobs.TaskDependency("first")]),
        shell("after", "true", depends_on=[jobs.TaskDependency("flaky")]),
        shell("slow", "sleep 60"),
    )
    ui = signed_in(alice)
    run_id = alice.w.jobs.run_now(job_id).run_id
    wait_for(
        lambda: (
            "flaky" in ui.get(f"/runs/{run_id}").text
            and "Cancel run" in ui.get(f"/runs/{run_id}").text
        ),
        what="the run page to offer Cancel",
    )
    wait_for(
        lambda: any(
            t.task_key == "flaky" and t.state.result_state is not None
            for t in alice.w.jobs.get_run(run_id).tasks
        ),
        what="flaky to fail",
    )
    assert ui.post(f"/runs/{run_id}/cancel").status_code == 303
    run = settle(alice.w, run_id)
    assert run.state.result_state == jobs.RunResultState.CANCELED

    page = ui.get(f"/runs/{run_id}").text
    checked = set(re.findall(r'name="task" value="([^"]+)" checked', page))
    assert checked == {"flaky", "after", "slow"}  # failed, canceled and their dependents
    flag.touch()
    r = ui.post(f"/runs/{run_id}/repair", {"task": ["flaky"], "dependents": "yes"})
    assert r.status_code == 303 and "Repairing" in httpx.URL(r.headers["location"]).params["flash"]
    wait_for(
        lambda: (
            settle(alice.w, run_id).state.result_state is not None
            and {t.task_key: t.state.result_state for t in alice.w.jobs.get_run(run_id).tasks}.get(
                "after"
            )
            == jobs.RunResultState.SUCCESS
        ),
        what="the repaired tasks to succeed",
    )


def test_bad_filters_and_unknown_ids_are_named(server: Server, alice: User, signed_in) -> None:
    ui = signed_in(alice)
    r = ui.get("/runs", params={"state": "bogus"})
    assert r.status_code == 400 and "state" in r.text
    r = ui.get("/runs", params={"from": "yesterday"})
    assert r.status_code == 400 and "from" in r.text and "yesterday" in r.text
    assert ui.get("/jobs/987654").status_code == 404
    assert ui.get("/runs/987654").status_code == 404


def test_condition_branches_and_for_each_iterations(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(
        alice,
        "branches and loops",
        jobs.Task(
            task_key="check",
            condition_task=jobs.ConditionTask(
                op=jobs.ConditionTaskOp.EQUAL_TO, left="1", right="1"
            ),
        ),
        shell("yes", "true", depends_on=[jobs.TaskDependency("check", outcome="true")]),
        shell("no", "true", depends_on=[jobs.TaskDependency("check", outcome="false")]),
        jobs.Task(
            task_key="each",
            depends_on=[jobs.TaskDependency("yes")],
            for_each_task=jobs.ForEachTask(
                inputs='["a", "b", "c"]', task=shell("each_one", "echo item={{input}}")
            ),
        ),
    )
    run_id = alice.w.jobs.run_now(job_id).run_id
    run = settle(alice.w, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    ui = signed_in(alice)
    page = ui.get(f"/runs/{run_id}").text
    assert re.search(r'class="edge-label"[^>]*>true<', page)
    assert re.search(r'class="edge-label"[^>]*>false<', page)
    assert 'class="node st-skip" data-task="no"' in page  # excluded branch, with its look
    assert re.search(r'class="node st-ok( crit)?" data-task="each"', page)  # crit: critical path
    assert "3/3 iterations" in page
    each = next(t for t in run.tasks if t.task_key == "each")
    task_page = ui.get(f"/runs/{run_id}/tasks/{each.run_id}").text
    assert task_page.count('class="st st-ok"') >= 4  # the task and its three iterations
    for item in ("a", "b", "c"):
        assert f'<code>"{item}"</code>' in task_page


def test_sql_task_output_is_previewed_as_a_table(server: Server, alice: User, signed_in) -> None:
    # The SDK's SqlTask has no inline query_text (Headrace's extension): send the JSON directly.
    created = alice.w.api_client.do(
        "POST",
        "/api/2.2/jobs/create",
        body={
            "name": "ui sql preview",
            "tasks": [
                {
                    "task_key": "q",
                    "sql_task": {
                        "query": {"query_text": "SELECT 42 AS answer, '<b>bold</b>' AS markup"}
                    },
                }
            ],
        },
    )
    run_id = alice.w.jobs.run_now(created["job_id"]).run_id
    run = settle(alice.w, run_id, 60)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    page = signed_in(alice).get(f"/runs/{run_id}/tasks/{run.tasks[0].run_id}").text
    assert "<th>answer</th>" in page and "<td>42</td>" in page
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in page
    assert "1 row(s)" in page


def test_runs_page_filters_by_job_state_and_time_and_pages(
    server: Server, alice: User, signed_in
) -> None:
    good = make_job(alice, "filter good", shell("a", "true"))
    bad = make_job(alice, "filter bad", shell("a", "exit 1"))
    good_runs = [settle(alice.w, alice.w.jobs.run_now(good).run_id).run_id for _ in range(2)]
    bad_run = settle(alice.w, alice.w.jobs.run_now(bad).run_id).run_id
    ui = signed_in(alice)

    def listed(**params: object) -> set[int]:
        page = ui.get("/runs", params=params)
        assert page.status_code == 200, page.text
        return {int(i) for i in re.findall(r'<a href="/runs/(\d+)">', page.text)}

    assert listed(job_id=good) == set(good_runs)
    assert listed(job_id=bad, state="failed") == {bad_run}
    assert listed(job_id=good, state="failed") == set()
    assert bad_run in listed(state="failed") and not set(good_runs) & listed(state="failed")
    assert listed(job_id=good, **{"from": "2999-01-01T00:00"}) == set()
    assert listed(job_id=good, to="2000-01-01") == set()
    assert f'<option value="{good}" ' in ui.get("/runs").text  # the job picker
    many = make_job(alice, "filter many", shell("a", "true"))
    started = [alice.w.jobs.run_now(many).run_id for _ in range(27)]
    # Paging is by start time: a queued run admitted between two page reads would move.
    for run_id in started:
        settle(alice.w, run_id)
    assert len(listed(job_id=many)) == 25
    second = listed(job_id=many, page=1)
    assert len(second) == 2 and not second & listed(job_id=many)


def test_a_runner_may_run_but_not_pause_or_delete(
    server: Server, alice: User, carol: User, signed_in
) -> None:
    job_id = make_job(
        alice,
        "carol may run",
        shell("a", "true"),
        schedule=jobs.CronSchedule(quartz_cron_expression="0 0 4 * * ?", timezone_id="UTC"),
        access_control_list=[
            jobs.JobAccessControlRequest(
                user_name="carol", permission_level=jobs.JobPermissionLevel.CAN_MANAGE_RUN
            )
        ],
    )
    ui = signed_in(carol)
    page = ui.get(f"/jobs/{job_id}").text
    assert "Run now" in page
    assert "Pause" not in page and "Delete job" not in page
    r = ui.post(f"/jobs/{job_id}/run-now")
    run_id = int(re.match(r"/runs/(\d+)", r.headers["location"]).group(1))  # type: ignore[union-attr]
    assert settle(alice.w, run_id).creator_user_name == "carol"
    refused = ui.post(f"/jobs/{job_id}/pause")
    assert "CAN_MANAGE" in httpx.URL(refused.headers["location"]).params["flash"]
    assert alice.w.jobs.get(job_id).settings.schedule.pause_status != jobs.PauseStatus.PAUSED
    ui.post(f"/jobs/{job_id}/delete", {"confirm": "yes"})
    assert alice.w.jobs.get(job_id).job_id == job_id
    assert (
        "Repair run" in ui.get(f"/runs/{run_id}").text
        or "Run again" in ui.get(f"/runs/{run_id}").text
    )


NOTEBOOK = """# Databricks notebook source
print("<b>cell output</b>")

# COMMAND ----------

dbutils.notebook.exit("all done")
"""


def test_notebook_result_and_executed_notebook_in_a_sandbox(
    server: Server, alice: User, signed_in, tmp_path
) -> None:
    path = tmp_path / "report.py"
    path.write_text(NOTEBOOK)
    job_id = make_job(
        alice,
        "ui notebook",
        jobs.Task(task_key="nb", notebook_task=jobs.NotebookTask(notebook_path=str(path))),
    )
    run = settle(alice.w, alice.w.jobs.run_now(job_id).run_id, 120)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    ui = signed_in(alice)
    base = f"/runs/{run.run_id}/tasks/{run.tasks[0].run_id}"
    page = ui.get(base).text
    assert "all done" in page
    link = re.search(rf'href="({re.escape(base)}/notebook\.html\?attempt=\d+)"', page)
    assert link, "no link to the executed notebook"
    rendered = ui.get(link.group(1).replace("&amp;", "&"))
    assert rendered.status_code == 200
    assert rendered.headers["content-security-policy"].startswith("sandbox")
    assert "cell output" in rendered.text
    assert signed_in(server.user("eve")).get(link.group(1)).status_code == 403


def test_one_time_runs_show_to_whoever_submitted_them(
    server: Server, alice: User, bob: User, signed_in
) -> None:
    run_id = alice.w.jobs.submit(run_name="one-off <b>", tasks=[shell("a", "echo once")]).run_id
    settle(alice.w, run_id)
    mine = signed_in(alice)
    page = mine.get(f"/runs/{run_id}").text
    assert "one-off &lt;b&gt;" in page
    assert "Run again" not in page  # no job to run again
    assert "Repair run" in page
    assert not re.findall(r'name="task" value="[^"]+" checked', page)  # nothing failed
    assert f'<a href="/runs/{run_id}">one-off &lt;b&gt;</a>' in mine.get("/runs").text
    assert signed_in(bob).get(f"/runs/{run_id}").status_code == 403


def test_only_messages_signed_for_the_session_are_shown(
    server: Server, alice: User, bob: User, signed_in
) -> None:
    job_id = make_job(alice, "flash job", shell("a", "true"))
    ui = signed_in(alice)
    forged = ui.get("/jobs", params={"flash": "Session expired: sign in at evil.example"})
    assert "evil.example" not in forged.text
    r = ui.post(f"/jobs/{job_id}/run-now")
    landing = ui.get(r.headers["location"])
    assert "started." in landing.text and 'class="flash info"' in landing.text
    query = httpx.URL(r.headers["location"]).query.decode()
    assert "started." in ui.get(f"/jobs?{query}").text  # the same session: shown anywhere
    other = signed_in(bob).get(f"/jobs?{query}")  # another session: not its message
    assert other.status_code == 200 and "started." not in other.text


def test_forms_posted_from_another_site_are_refused(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(alice, "cross-site target", shell("a", "true"))
    ui = signed_in(alice)
    evil = {"origin": "http://evil.example"}
    r = ui.client.post(f"/jobs/{job_id}/run-now", data={"csrf_token": ui.csrf}, headers=evil)
    assert r.status_code == 403 and "evil.example" in r.text
    assert list(alice.w.jobs.list_runs(job_id=job_id)) == []
    with httpx.Client(base_url=server.url) as c:  # nor may it sign a visitor in
        login = c.post("/login", data={"token": alice.token}, headers=evil)
        assert login.status_code == 403 and "headrace_session" not in login.headers.get(
            "set-cookie", ""
        )
    same = ui.client.post(
        f"/jobs/{job_id}/run-now", data={"csrf_token": ui.csrf}, headers={"origin": server.url}
    )
    assert same.status_code == 303 and same.headers["location"].startswith("/runs/")


def test_repair_with_other_parameters(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(
        alice,
        "repair params",
        shell("check", 'test "{{job.parameters.day}}" = friday'),
        parameters=[jobs.JobParameterDefinition(name="day", default="monday")],
    )
    run_id = alice.w.jobs.run_now(job_id).run_id
    assert settle(alice.w, run_id).state.result_state == jobs.RunResultState.FAILED
    ui = signed_in(alice)
    assert 'name="param.day" value="monday"' in ui.get(f"/runs/{run_id}").text
    r = ui.post(f"/runs/{run_id}/repair", {"task": "check", "param.day": "friday"})
    assert "Repairing" in httpx.URL(r.headers["location"]).params["flash"]
    wait_for(
        lambda: alice.w.jobs.get_run(run_id).state.result_state == jobs.RunResultState.SUCCESS,
        what="the repair with day=friday to succeed",
    )
    run = alice.w.jobs.get_run(run_id)
    assert {p.name: p.value for p in run.job_parameters} == {"day": "friday"}


def test_task_values_and_errors_with_traces(
    server: Server, alice: User, signed_in, tmp_path
) -> None:
    producer = tmp_path / "produce.py"
    producer.write_text(
        "from headrace.runtime import dbutils\n"
        'dbutils.jobs.taskValues.set("rows", 42)\n'
        'dbutils.jobs.taskValues.set("note", "<i>fine</i>")\n'
    )
    broken = tmp_path / "broken.py"
    broken.write_text("def load():\n    raise KeyError('region')\n\nload()\n")
    job_id = make_job(
        alice,
        "values and traces",
        jobs.Task(task_key="produce", spark_python_task=jobs.SparkPythonTask(str(producer))),
        jobs.Task(task_key="broken", spark_python_task=jobs.SparkPythonTask(str(broken))),
    )
    run = settle(alice.w, alice.w.jobs.run_now(job_id).run_id)
    ui = signed_in(alice)
    by_key = {t.task_key: t.run_id for t in run.tasks}
    values = ui.get(f"/runs/{run.run_id}/tasks/{by_key['produce']}").text
    assert "<h2>Task values</h2>" in values
    assert "<th>rows</th><td><code>42</code></td>" in values
    assert "\\u003ci\\u003efine" in values or "&lt;i&gt;fine" in values  # JSON, escaped
    assert "<i>fine</i>" not in values
    failed = ui.get(f"/runs/{run.run_id}/tasks/{by_key['broken']}").text
    assert "KeyError" in failed and "region" in failed
    assert "<summary>Trace</summary>" in failed


def test_run_page_lists_its_notification_deliveries(server: Server, alice: User, signed_in) -> None:
    job_id = make_job(
        alice,
        "ui notified",
        shell("boom", "exit 1"),
        email_notifications=jobs.JobEmailNotifications(on_failure=["oncall@example.com"]),
    )
    run_id = alice.w.jobs.run_now(job_id).run_id
    settle(alice.w, run_id, 60)
    ui = signed_in(alice)

    def notifications_table() -> str:
        page = ui.get(f"/runs/{run_id}").text
        section = page.split("<h2>Notifications</h2>", 1)
        assert len(section) == 2, "the run page has no Notifications section"
        return section[1].split("</table>", 1)[0]

    table = notifications_table()
    assert "<td>on_failure</td>" in table and "email: oncall@example.com" in table
    # This server has no SMTP settings: the delivery says why it has not gone out (yet), once
    # the delivery loop has tried it (it runs after the run's end, not inside it).
    wait_for(
        lambda: "no SMTP server configured" in notifications_table(),
        what="the delivery's reason on the run page",
    )
