"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
sign in, Run now, watch the run turn green without a reload, follow a task's log live, repair
a failed run, and a user without permission not seeing the job.

Screenshots of every page land in artifacts/ui/ (git-ignored) to look at by eye. Without
Chromium these tests skip, except with CI=true, where they fail (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk.service import jobs

from support import Server, User, settle, shell

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
WAIT_MS = 30_000  # bounded waits: each fails with what it waited for


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (CI=true: the browser tests must run)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_for(server: Server, browser: Any) -> Iterator[Any]:
    """`page_for(user)`: a fresh browser context signed in as that user through the form."""
    contexts: list[Any] = []

    def sign_in(user: User) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{server.url}/jobs")
        assert "/login" in page.url  # signed out: sent to the sign-in form
        shot(page, "login")
        page.fill("#token", user.token)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{server.url}/jobs")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def mark_page(page: Any) -> None:
    """Tag this document: the tag survives live updates but not a reload or navigation."""
    page.evaluate("window.__noReload = 'same document'")


def not_reloaded(page: Any) -> bool:
    return page.evaluate("window.__noReload") == "same document"


def test_run_now_watch_it_turn_green_and_read_logs_live(
    server: Server, alice: User, page_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    gate = tmp_path / "gate"
    job_id = alice.w.jobs.create(
        name="browser pipeline",
        tasks=[
            shell("extract", "echo extracting"),
            shell(
                "transform",
                f"echo first line; while [ ! -e {gate} ]; do sleep 0.1; done; echo second line",
                depends_on=[jobs.TaskDependency("extract")],
            ),
            shell("load", "echo loaded", depends_on=[jobs.TaskDependency("transform")]),
        ],
        schedule=jobs.CronSchedule(
            quartz_cron_expression="0 0 2 * * ?", timezone_id="Europe/Paris"
        ),
        parameters=[jobs.JobParameterDefinition(name="day", default="monday")],
    ).job_id
    page = page_for(alice)
    row = page.locator(f"tr[data-job='{job_id}']")
    expect(row).to_contain_text("At 02:00, every day (Europe/Paris)")
    shot(page, "jobs")

    row.locator("button[data-action=run-now]").click()
    page.wait_for_url(f"{server.url}/runs/*")
    run_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    mark_page(page)
    transform = page.locator("g.node[data-task=transform]")
    expect(transform).to_have_class(
        re.compile(r"\bnode st-run\b"), timeout=WAIT_MS
    )  # live: running
    shot(page, "run-running")

    # The task page follows the log while the task runs.
    task_page = page.context.new_page()
    task_page.set_default_timeout(WAIT_MS)
    task_page.goto(page.url)
    task_page.locator("#run-tasks a", has_text="transform").click()
    log = task_page.locator("#task-log")
    expect(log).to_contain_text("first line")
    mark_page(task_page)
    gate.touch()
    expect(log).to_contain_text("second line")  # appended live, no reload
    assert not_reloaded(task_page)
    shot(task_page, "task-log")

    expect(page.locator("#run-state")).to_contain_text("Succeeded", timeout=WAIT_MS)
    for key in ("extract", "transform", "load"):
        expect(page.locator(f"g.node[data-task={key}]")).to_have_class(
            re.compile(r"\bnode st-ok\b")
        )
    assert not_reloaded(page), "the run page reloaded instead of updating itself"
    expect(page.locator(".timeline .bar.st-ok")).to_have_count(3)
    shot(page, "run-succeeded")

    page.goto(f"{server.url}/jobs/{job_id}")
    expect(page.locator("table.matrix a.cell.st-ok")).to_have_count(4)  # header + 3 tasks
    shot(page, "job")
    page.goto(f"{server.url}/runs")
    expect(page.locator("table.runs")).to_contain_text("browser pipeline")
    shot(page, "runs")
    assert settle(alice.w, run_id).state.result_state == jobs.RunResultState.SUCCESS


def test_a_retry_is_followed_in_the_log_and_shown_on_the_timeline(
    server: Server, alice: User, page_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    marker, gate = tmp_path / "tried", tmp_path / "gate"
    script = (
        f"if [ -e {marker} ]; then echo try two; "
        f"else touch {marker}; echo try one; while [ ! -e {gate} ]; do sleep 0.1; done; exit 1; fi"
    )
    job_id = alice.w.jobs.create(
        name="browser retry",
        tasks=[shell("flaky", script, max_retries=1, min_retry_interval_millis=300)],
    ).job_id
    run_id = alice.w.jobs.run_now(job_id).run_id
    page = page_for(alice)
    page.goto(f"{server.url}/runs/{run_id}")
    page.locator("#run-tasks a", has_text="flaky").click()
    log = page.locator("#task-log")
    expect(log).to_contain_text("try one")
    mark_page(page)
    gate.touch()
    expect(log).to_contain_text("--- attempt 2 ---")
    expect(log).to_contain_text("try two")
    expect(page.locator("#log-attempt")).to_have_text("2")
    expect(page.locator(".attempts li")).to_have_count(2)  # the head updates itself too
    assert not_reloaded(page)
    shot(page, "task-retry-log")
    assert settle(alice.w, run_id).state.result_state == jobs.RunResultState.SUCCESS
    page.goto(f"{server.url}/runs/{run_id}")
    bars = page.locator(".tl-row", has_text="flaky").locator(".bar")
    expect(bars).to_have_count(2)  # one bar per attempt
    expect(bars.first).to_have_class(re.compile(r"\bbar st-fail\b"))
    expect(bars.last).to_have_class(re.compile(r"\bbar st-ok\b"))
    shot(page, "run-retried")


def test_the_jobs_page_updates_itself(
    server: Server, alice: User, page_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    gate = tmp_path / "gate"
    job_id = alice.w.jobs.create(
        name="jobs page live",
        tasks=[shell("a", f"while [ ! -e {gate} ]; do sleep 0.1; done")],
    ).job_id
    run_id = alice.w.jobs.run_now(job_id).run_id
    page = page_for(alice)
    cell = page.locator(f"tr[data-job='{job_id}'] a.cell")
    expect(cell).to_have_class("cell st-run")
    mark_page(page)
    gate.touch()
    settle(alice.w, run_id)
    expect(cell).to_have_class("cell st-ok")
    assert not_reloaded(page)


def test_repair_a_failed_run_from_the_ui(
    server: Server, alice: User, page_for: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    fixed = tmp_path / "fixed"
    job_id = alice.w.jobs.create(
        name="browser repair",
        tasks=[
            shell("ingest", "echo ok"),
            shell(
                "validate",
                f"test -e {fixed} || {{ echo 'bad input' >&2; exit 4; }}",
                depends_on=[jobs.TaskDependency("ingest")],
            ),
            shell("publish", "echo published", depends_on=[jobs.TaskDependency("validate")]),
        ],
    ).job_id
    run_id = alice.w.jobs.run_now(job_id).run_id
    assert settle(alice.w, run_id).state.result_state == jobs.RunResultState.FAILED

    page = page_for(alice)
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#run-state")).to_contain_text("Failed")
    expect(page.locator("g.node[data-task=validate]")).to_have_class(
        re.compile(r"\bnode st-fail\b")
    )
    form = page.locator("details.repair form")
    expect(form.locator("input[value=validate]")).to_be_checked()
    expect(form.locator("input[value=publish]")).to_be_checked()
    expect(form.locator("input[value=ingest]")).not_to_be_checked()
    shot(page, "run-failed")

    page.locator("#run-tasks a", has_text="validate").click()
    expect(page.locator("pre.error")).to_contain_text("exit code 4")
    expect(page.locator("#task-log")).to_contain_text("bad input")
    shot(page, "task-failed")
    page.go_back()

    fixed.touch()
    page.locator("button[data-action=repair]").click()
    expect(page.locator(".flash")).to_contain_text("Repairing")
    mark_page(page)
    expect(page.locator("#run-state")).to_contain_text("Succeeded", timeout=WAIT_MS)
    expect(page.locator("g.node[data-task=publish]")).to_have_class(re.compile(r"\bnode st-ok\b"))
    assert not_reloaded(page)
    shot(page, "run-repaired")
    run = alice.w.jobs.get_run(run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.repair_history and len(run.repair_history) == 2


def test_a_user_without_permission_does_not_see_the_job(
    server: Server, alice: User, bob: User, page_for: Any
) -> None:
    from playwright.sync_api import expect

    job_id = alice.w.jobs.create(
        name="alice only in the browser", tasks=[shell("a", "true")]
    ).job_id
    page = page_for(bob)
    expect(page.locator("table.jobs")).not_to_contain_text("alice only in the browser")
    page.goto(f"{server.url}/jobs/{job_id}")
    expect(page.locator("h1")).to_contain_text("Not allowed")
    shot(page, "no-permission")


def test_keyboard_alone_runs_a_job(server: Server, alice: User, page_for: Any) -> None:
    from playwright.sync_api import expect

    job_id = alice.w.jobs.create(name="keyboard job", tasks=[shell("a", "true")]).job_id
    page = page_for(alice)
    page.goto(f"{server.url}/jobs?q=keyboard+job")
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(40):  # bounded: Tab through the page until Run now has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.action") == "run-now":
            break
    else:
        raise AssertionError("Run now cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/runs/*")
    expect(page.locator("#run-state")).to_contain_text("Succeeded")
    assert len(list(alice.w.jobs.list_runs(job_id=job_id))) == 1


def test_phone_width(server: Server, alice: User, page_for: Any) -> None:
    from playwright.sync_api import expect

    job_id = alice.w.jobs.create(
        name="phone job",
        tasks=[
            shell("first", "echo one"),
            shell("second", "exit 2", depends_on=[jobs.TaskDependency("first")]),
        ],
    ).job_id
    run_id = alice.w.jobs.run_now(job_id).run_id
    settle(alice.w, run_id)
    page = page_for(alice)
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    expect(page.locator("table.jobs")).to_contain_text("phone job")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the jobs page scrolls sideways on a phone ({width}px)"
    shot(page, "jobs-phone")
    for path, name in ((f"/runs/{run_id}", "run-phone"), (f"/jobs/{job_id}", "job-phone")):
        page.goto(f"{server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 420, f"{path} scrolls sideways on a phone ({width}px)"
        shot(page, name)
