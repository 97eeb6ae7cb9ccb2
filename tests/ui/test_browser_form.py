"""In headless Chromium, the issue's done-when flow with the FORMS only: from an empty store
create a 4-task job with a condition and a schedule (tasks added in the form, dependencies
ticked, the graph and the next fire times redrawn as you type, a field error and a cycle
refused first), run it, read the overhead panel, edit it in the form (add a task, move a
dependency), see version 2's diff. Screenshots at 1280 px and phone width: artifacts/ui/."""

from __future__ import annotations

import re
from typing import Any

from support import Server, User
from ui.test_browser import browser, page_for, shot

__all__ = ["browser", "page_for"]


def _task(page: Any, row: int, key: str, kind: str, **fields: str) -> None:
    page.fill(f'[name="task.{row}.task_key"]', key)
    page.select_option(f'[name="task.{row}.type"]', kind)
    for name, value in fields.items():
        target = f'[name="task.{row}.{kind}.{name}"]'
        if page.locator(target).evaluate("e => e.tagName") == "SELECT":
            page.select_option(target, value)
        else:
            page.fill(target, value)


def _add_task(page: Any, expect: Any, count: int) -> None:
    page.click("button[data-action=add-task]")
    expect(page.locator("fieldset.task")).to_have_count(count)


def test_create_run_edit_and_diff_a_job_with_the_forms(
    server: Server, carol: User, page_for: Any
) -> None:
    from playwright.sync_api import expect

    page = page_for(carol)
    page.click("text=Create job")
    page.wait_for_url(f"{server.url}/new-job/form")
    page.fill('[name="name"]', "form built")
    _task(page, 0, "extract", "shell_command_task", command="echo extract")
    _add_task(page, expect, 2)
    _task(page, 1, "check", "condition_task", op="EQUAL_TO", left="1", right="1")
    expect(page.locator('[name="task.1.notebook_task.notebook_path"]')).to_be_hidden()
    page.check('input[name="task.1.depends_on"][value="0"]')
    _add_task(page, expect, 3)
    _task(page, 2, "load", "shell_command_task", command="echo load")
    page.check('input[name="task.2.depends_on"][value="1"]')
    page.select_option('select[name="task.2.outcome.1"]', "true")  # after the condition
    _add_task(page, expect, 4)
    _task(page, 3, "report", "shell_command_task", command="echo report")
    page.check('input[name="task.3.depends_on"][value="2"]')
    expect(page.locator("#graph-preview g.node")).to_have_count(4)  # redrawn by the script
    expect(page.locator('#graph-preview path.edge[data-edge="check>load"]')).to_have_count(1)
    page.select_option('[name="trigger_kind"]', "schedule")
    page.fill('[name="schedule.quartz_cron_expression"]', "0 30 6 * * ?")
    expect(page.locator("#schedule-preview ol.fires li")).to_have_count(5)
    expect(page.locator("#schedule-preview .words")).to_contain_text("06:30")

    # Refused first: a field error and a cycle (report before extract), nothing saved.
    page.click('fieldset.task[data-row="1"] details.more summary')
    page.fill('[name="task.1.max_retries"]', "three")
    page.check('input[name="task.0.depends_on"][value="3"]')
    page.click("button[data-action=save]")
    expect(page.locator('.ferr[data-for="tasks[1].max_retries"]')).to_contain_text("integer")
    expect(page.locator("p.cycle")).to_contain_text("is outlined on the graph")
    expect(page.locator("#graph-preview g.node.crit")).to_have_count(4)
    assert page.input_value('[name="task.1.max_retries"]') == "three"  # kept as typed
    shot(page, "form-create-refused")
    page.fill('[name="task.1.max_retries"]', "1")
    page.uncheck('input[name="task.0.depends_on"][value="3"]')
    expect(page.locator("#graph-preview g.node.crit")).to_have_count(0)
    shot(page, "form-create")
    page.click("button[data-action=save]")
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
    shot(page, "form-run-overhead")

    page.goto(job_url)
    page.click("a:has-text('Edit')")
    page.wait_for_url(re.compile(r"/edit/form$"))
    assert page.input_value('[name="task.3.task_key"]') == "report"
    _add_task(page, expect, 5)
    _task(page, 4, "audit", "shell_command_task", command="echo audit")
    page.check('input[name="task.4.depends_on"][value="2"]')
    page.uncheck('input[name="task.3.depends_on"][value="2"]')
    page.check('input[name="task.3.depends_on"][value="4"]')
    expect(page.locator('#graph-preview path.edge[data-edge="audit>report"]')).to_have_count(1)
    page.click("button[data-action=save]")
    page.wait_for_url(re.compile(r"/versions\?to=2"))
    expect(page.locator(".flash")).to_contain_text("Saved as version 2")
    expect(page.locator("pre.diff")).to_contain_text("+- task_key: audit")
    shot(page, "form-versions-diff")

    page.goto(job_url + "/edit/form")
    shot(page, "form-edit")
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the form scrolls sideways on a phone ({width}px)"
    shot(page, "form-edit-phone")
