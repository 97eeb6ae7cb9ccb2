"""The task graph's layered layout: edges point right, branches are labelled, big jobs scale."""

from __future__ import annotations

import itertools

from headrace.ui.graph import NODE_H, NODE_W, layout


def test_layers_follow_dependencies_and_condition_edges_are_labelled() -> None:
    g = layout(
        [
            {"task_key": "check", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}},
            {"task_key": "yes", "depends_on": [{"task_key": "check", "outcome": "true"}]},
            {"task_key": "no", "depends_on": [{"task_key": "check", "outcome": "false"}]},
            {"task_key": "end", "depends_on": [{"task_key": "yes"}, {"task_key": "no"}]},
        ]
    )
    nodes = {n.key: n for n in g.nodes}
    assert [nodes[k].layer for k in ("check", "yes", "no", "end")] == [0, 1, 1, 2]
    assert nodes["check"].kind == "condition"
    assert sorted(e.label for e in g.edges if e.label) == ["false", "true"]
    for e in g.edges:
        assert nodes[e.source].x < nodes[e.target].x  # every edge points right


def test_two_hundred_tasks_keep_readable_boxes_without_overlap() -> None:
    tasks = [
        {
            "task_key": f"task_{i}",
            "shell_command_task": {"command": "true"},
            "depends_on": [{"task_key": f"task_{j}"} for j in {i // 2, i // 3} if j < i],
        }
        for i in range(250)
    ]
    g = layout(tasks)
    assert len(g.nodes) == 250
    boxes = {(n.x, n.y) for n in g.nodes}
    assert len(boxes) == 250  # no two tasks share a box
    by_layer: dict[int, list[int]] = {}
    for n in g.nodes:
        by_layer.setdefault(n.x, []).append(n.y)
    for ys in by_layer.values():
        ys.sort()
        assert all(b - a >= NODE_H for a, b in itertools.pairwise(ys))
    assert g.width >= max(n.x for n in g.nodes) + NODE_W
    assert g.height >= max(n.y for n in g.nodes) + NODE_H


def test_unknown_upstreams_and_cycles_do_not_break_the_drawing() -> None:
    g = layout(
        [
            {"task_key": "a", "depends_on": [{"task_key": "b"}, {"task_key": "gone"}]},
            {"task_key": "b", "depends_on": [{"task_key": "a"}]},
        ]
    )
    assert {n.key for n in g.nodes} == {"a", "b"}
    assert len(g.edges) == 2
