"""The run page's "Where time goes" panel over a real server: per-task phases, the edges each
task waited on, and the critical path marked on the graph, the timeline and the live JSON."""

from __future__ import annotations

import re

from databricks.sdk.service import jobs

from support import Server, User, settle, shell


def diamond(user: User, name: str) -> int:
    """a -> b (quick), a -> c (slow) -> d: d waits for c, so the critical path is a, c, d."""
    dep = jobs.TaskDependency
    return user.w.jobs.create(
        name=name,
        tasks=[
            shell("a", "echo a"),
            shell("b", "echo b", depends_on=[dep("a")]),
            shell("c", "sleep 1.5; echo c", depends_on=[dep("a")]),
            shell("d", "echo d", depends_on=[dep("b"), dep("c")]),
        ],
    ).job_id  # type: ignore[return-value]


def test_the_run_page_shows_where_time_goes(server: Server, alice: User, signed_in) -> None:
    run_id = alice.w.jobs.run_now(diamond(alice, "overhead diamond")).run_id
    assert settle(alice.w, run_id).state.result_state == jobs.RunResultState.SUCCESS
    ui = signed_in(alice)
    page = ui.get(f"/runs/{run_id}").text
    assert "Where time goes" in page
    assert "Critical path ◆ (thick outline): a → c → d" in page
    crit_nodes = set(re.findall(r'<g class="node st-ok crit" data-task="(\w+)"', page))
    assert crit_nodes == {"a", "c", "d"}
    crit_edges = set(re.findall(r'class="edge crit" data-edge="(\w+)>(\w+)"', page))
    assert crit_edges == {("a", "c"), ("c", "d")}
    panel = page.split('id="run-overhead"')[1].split("</section>")[0]
    rows = {key: crit for crit, key in re.findall(r'<tr class="(crit|)" data-task="(\w+)"', panel)}
    assert rows == {"a": "crit", "c": "crit", "d": "crit", "b": ""}
    assert "Queued" in panel and "Process start" in panel and "run start +" in panel
    # The worker's marks split each attempt: c's run is its own segment, and no task is left
    # with one "on worker" figure (marked *).
    c_row = panel.split('data-task="c"')[1].split("</tr>")[0]
    assert 'title="Run: ' in c_row and "*</span>" not in panel
    # d waited for c (bold) more than for b
    d_row = panel.split('data-task="d"')[1].split("</tr>")[0]
    assert re.search(r'<span class="strong">c → \+', d_row) and '<span class="muted">b → +' in d_row
    timeline = page.split('id="run-timeline"')[1].split("</section>")[0]
    assert timeline.count('class="tl-row crit"') == 3
    live = ui.get(f"/runs/{run_id}/live").json()
    assert live["critical_edges"] == ["a>c", "c>d"]
    assert {k for k, t in live["tasks"].items() if t["crit"]} == {"a", "c", "d"}
    assert "Where time goes" not in live["html"]["run-overhead"]  # the fragment, not the page
    assert "Process start" in live["html"]["run-overhead"]
