"""In headless Chromium, from the UI alone: create a 4-task job with a condition and a schedule
in the YAML tab, run it, edit it (add a task, change a dependency), read version 2's diff and
the run's overhead panel; screenshots at 1280 px and phone width go to artifacts/ui/."""

from __future__ import annotations

import re
from typing import Any

from support import Server, User
from ui.test_browser import browser, page_for, shot
from ui.test_builder_pages import JOB

__all__ = ["browser", "page_for"]


def test_build_run_edit_and_diff_a_job_in_the_browser(
    server: Server, alice: User, page_for: Any
) -> None:
    from playwright.sync_api import expect

    page = page_for(alice)
    page.click("text=Create job")
    page.wait_for_url(f"{server.url}/new-job/form")
    page.click("button.tab:has-text('YAML')")  # the YAML tab of the same editor
    cyclic = JOB.replace("depends_on: [{task_key: extract}]", "depends_on: [{task_key: report}]")
    page.fill("#yaml", cyclic)
    page.click("button:has-text('Create job')")
    expect(page.locator("p.cycle")).to_contain_text("is outlined on the graph")
    expect(page.locator("g.node.crit")).to_have_count(3)
    shot(page, "job-create-cycle")
    page.fill("#yaml", JOB.replace("name: built in the ui", "name: browser built"))
    shot(page, "job-create")
    page.click("button:has-text('Create job')")
    page.wait_for_url(re.compile(r"/jobs/\d+"))
    expect(page.locator(".flash")).to_contain_text("Job created")
    expect(page.locator("g.node")).to_have_count(4)
    expect(page.locator("p.meta")).to_contain_text("06:30")
    job_url = page.url.split("?")[0]

    page.click("button[data-action=run-now]")
    page.wait_for_url(re.compile(r"/runs/\d+"))
    expect(page.locator("#run-summary")).to_contain_text("Succeeded", timeout=60_000)
    page.reload()
    expect(page.locator("#run-overhead table.overhead")).to_be_visible()
    expect(page.locator("p.legend-crit")).to_contain_text("extract → check → load → report")
    shot(page, "run-overhead-built-job")

    page.goto(job_url + "/edit")  # the YAML tab
    text = page.input_value("#yaml")
    bad = text.replace("quartz_cron_expression: 0 30 6 * * ?", "quartz_cron_expression: nope")
    page.fill("#yaml", bad)
    page.click("button:has-text('Save as a new version')")
    expect(page.locator(".field-errors")).to_contain_text("schedule.quartz_cron_expression")
    assert page.input_value("#yaml") == bad  # kept as typed
    shot(page, "job-edit-error")
    audit = "- task_key: audit\n  depends_on:\n  - task_key: load\n"
    audit += "  shell_command_task:\n    command: echo audit\n"
    edited = text.replace(
        "- task_key: report\n  depends_on:\n  - task_key: load",
        audit + "- task_key: report\n  depends_on:\n  - task_key: audit",
    )
    assert edited != text
    page.fill("#yaml", edited)
    page.click("button:has-text('Save as a new version')")
    page.wait_for_url(re.compile(r"/versions\?to=2"))
    expect(page.locator(".flash")).to_contain_text("Saved as version 2")
    expect(page.locator("pre.diff .d-add").first).to_be_visible()
    expect(page.locator("pre.diff")).to_contain_text("+- task_key: audit")
    shot(page, "job-versions-diff")
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the versions page scrolls sideways on a phone ({width}px)"
    shot(page, "job-versions-diff-phone")
    page.goto(job_url + "/edit")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the editor scrolls sideways on a phone ({width}px)"
    shot(page, "job-edit-phone")
    page.goto(job_url)
    expect(page.locator("g.node")).to_have_count(5)
