"""In headless Chromium: the task-type icons draw as SVG, the page follows the OS's dark mode,
the jobs search form works, and the run page's "Where time goes" panel and critical path show;
screenshots at 1280 px and phone width (light and dark) go to artifacts/ui/."""

from __future__ import annotations

from typing import Any

from databricks.sdk.service import jobs

from support import Server, User, settle
from ui.test_browser import browser, page_for, shot
from ui.test_overhead_pages import diamond

__all__ = ["browser", "page_for"]


def _dark(rgb: str) -> bool:
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return r + g + b < 3 * 80


def test_overhead_panel_icons_dark_mode_and_search(
    server: Server, alice: User, page_for: Any
) -> None:
    from playwright.sync_api import expect

    job_id = diamond(alice, "browser overhead")
    alice.w.jobs.update(job_id, new_settings=jobs.JobSettings(tags={"team": "bro"}))
    run_id = alice.w.jobs.run_now(job_id).run_id
    settle(alice.w, run_id)
    page = page_for(alice)

    page.fill("#q", "browser over")
    page.fill("input[name=tag]", "team:bro")
    page.select_option("select[name=state]", "succeeded")
    page.click("button:has-text('Search')")
    expect(page.locator("table.jobs")).to_contain_text("browser overhead")
    assert "state=succeeded" in page.url
    shot(page, "jobs-search")

    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.locator("#run-overhead table.overhead")).to_be_visible()
    expect(page.locator("p.legend-crit")).to_contain_text("a → c → d")
    # Each node's type icon is drawn (an SVG <use> with a size), not a glyph in a box.
    icons = page.locator("g.node use.kind")
    assert icons.count() == 4
    box = icons.first.bounding_box()
    assert box and box["width"] > 8 and box["height"] > 8
    assert page.locator("path.edge.crit").count() == 2
    assert page.locator(".tl-row.crit").count() == 3
    light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert not _dark(light_bg)
    shot(page, "run-overhead")

    page.emulate_media(color_scheme="dark")
    dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert _dark(dark_bg), dark_bg
    node_fill = page.evaluate("getComputedStyle(document.querySelector('g.node.st-ok rect')).fill")
    assert _dark(node_fill), node_fill  # state colours have dark variants too
    shot(page, "run-overhead-dark")

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the run page scrolls sideways on a phone ({width}px)"
    shot(page, "run-overhead-phone-dark")
    page.emulate_media(color_scheme="light")
    shot(page, "run-overhead-phone")
    page.goto(f"{server.url}/jobs")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the jobs page scrolls sideways on a phone ({width}px)"
    shot(page, "jobs-phone-search")
