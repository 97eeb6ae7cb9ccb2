"""The task graph laid out in layers (left to right) for an SVG drawing.

Layer = longest path from a root, so every edge points right. Within a layer, tasks are
ordered by the mean position of their upstream tasks (a few barycenter sweeps), which keeps
crossings low without a solver. Sizes are fixed, so a 200-task job scrolls instead of shrinking
into unreadable boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H = 184, 36
GAP_X, GAP_Y = 64, 14
PAD = 12
CENTRE_UP_TO = 12  # tasks in the tallest layer

# Task-type icons are inline SVG symbols (ICON_PATHS, drawn in a 16x16 box by the graph
# macro), never font glyphs: a glyph missing from the reader's fonts rendered as a box.
_TYPE_ICONS = {
    "notebook_task": ("notebook", "notebook"),
    "spark_python_task": ("python", "python"),
    "python_wheel_task": ("wheel", "wheel"),
    "shell_command_task": ("shell", "shell"),
    "condition_task": ("condition", "condition"),
    "for_each_task": ("loop", "for each"),
    "sql_task": ("sql", "sql"),
    "run_job_task": ("run-job", "run job"),
    "pipeline_task": ("pipeline", "pipeline"),
    "dbt_task": ("sql", "dbt"),
    "spark_jar_task": ("jar", "spark jar"),
    "spark_submit_task": ("jar", "spark submit"),
}

# SVG path data (16x16 viewBox, stroked, no fill) per icon id.
ICON_PATHS = {
    "notebook": "M3 1.5h9.5v13H3z M5.5 1.5v13 M8 5h3 M8 8h3",
    "python": "M6 3L2 8l4 5 M10 3l4 5-4 5",
    "wheel": "M2 5l6-3 6 3v6l-6 3-6-3z M2 5l6 3 6-3 M8 8v6",
    "shell": "M2 4l4 4-4 4 M8 12.5h6",
    "condition": "M8 1.5l6.5 6.5-6.5 6.5L1.5 8z",
    "loop": "M13 8a5 5 0 1 1-1.5-3.6 M12 1.5v3h-3",
    "sql": "M3 3.5c0-2.7 10-2.7 10 0s-10 2.7-10 0z M3 3.5v9c0 2.7 10 2.7 10 0v-9"
    " M3 8c0 2.7 10 2.7 10 0",
    "run-job": "M9 2h5v5 M14 2L7 9 M12 10v4H2V4h4",
    "pipeline": "M1.5 3h5v3.5h-5z M9.5 9.5h5V13h-5z M4 6.5V11h5.5",
    "jar": "M4 2h8 M5 2v2c-1.5 1-2 2-2 3.5V14h10V7.5c0-1.5-.5-2.5-2-3.5V2",
    "task": "M8 4a4 4 0 1 0 .01 0z",
}


@dataclass
class Node:
    key: str
    kind: str  # the task type's short name
    icon: str  # an ICON_PATHS id
    layer: int = 0
    order: float = 0.0
    x: int = 0
    y: int = 0

    @property
    def short(self) -> str:
        """The key cut to fit the box (the full key is in the SVG <title>)."""
        return self.key if len(self.key) <= 22 else self.key[:21] + "…"


@dataclass
class Edge:
    source: str
    target: str
    label: str | None  # "true"/"false" for a condition branch
    path: str = ""
    label_x: int = 0
    label_y: int = 0


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0

    @property
    def icons(self) -> dict[str, str]:
        """The icon symbols this graph uses: id -> SVG path data."""
        return {n.icon: ICON_PATHS[n.icon] for n in self.nodes}


def task_kind(task: dict[str, Any]) -> tuple[str, str]:
    """(icon, short type name) of a task's settings."""
    for key, look in _TYPE_ICONS.items():
        if task.get(key) is not None:
            return look
    kind = next((k for k in task if k.endswith("_task")), "task")
    return "task", kind.removesuffix("_task").replace("_", " ")


def layout(tasks: list[dict[str, Any]]) -> Graph:
    """Positions for each task and a path for each dependency (unknown upstreams ignored)."""
    nodes: dict[str, Node] = {}
    for task in tasks:
        icon, kind = task_kind(task)
        nodes[task["task_key"]] = Node(task["task_key"], kind, icon)
    edges = [
        Edge(dep["task_key"], task["task_key"], dep.get("outcome"))
        for task in tasks
        for dep in task.get("depends_on") or []
        if dep.get("task_key") in nodes
    ]
    upstream: dict[str, list[str]] = {k: [] for k in nodes}
    for e in edges:
        upstream[e.target].append(e.source)
    _assign_layers(nodes, upstream)
    layers: dict[int, list[Node]] = {}
    for node in nodes.values():  # settings order is the first guess within a layer
        layers.setdefault(node.layer, []).append(node)
    for members in layers.values():
        for i, node in enumerate(members):
            node.order = i
    _order_layers(layers, upstream, nodes)
    graph = Graph(list(nodes.values()), edges)
    _place(graph, layers, nodes)
    return graph


def _assign_layers(nodes: dict[str, Node], upstream: dict[str, list[str]]) -> None:
    """Longest path from a root; iterative, and safe on a cycle (the spec forbids them)."""
    done: dict[str, int] = {}
    for start in nodes:
        stack = [(start, False)]
        seen: set[str] = set()
        while stack:
            key, expanded = stack.pop()
            if key in done:
                continue
            if expanded:
                done[key] = 1 + max((done.get(u, 0) for u in upstream[key]), default=-1)
                continue
            if key in seen:  # a cycle: break it here
                done[key] = 0
                continue
            seen.add(key)
            stack.append((key, True))
            stack.extend((u, False) for u in upstream[key] if u not in done)
    for key, node in nodes.items():
        node.layer = done[key]


def _order_layers(
    layers: dict[int, list[Node]], upstream: dict[str, list[str]], nodes: dict[str, Node]
) -> None:
    downstream: dict[str, list[str]] = {k: [] for k in nodes}
    for key, ups in upstream.items():
        for u in ups:
            downstream[u].append(key)
    ordered = sorted(layers)
    for sweep in range(4):  # down, up, down, up
        neighbours = upstream if sweep % 2 == 0 else downstream
        for layer in ordered if sweep % 2 == 0 else reversed(ordered):
            members = layers[layer]
            for node in members:
                near = [nodes[k].order for k in neighbours[node.key]]
                if near:
                    node.order = sum(near) / len(near)
            members.sort(key=lambda n: n.order)
            for i, node in enumerate(members):
                node.order = i


def _place(graph: Graph, layers: dict[int, list[Node]], nodes: dict[str, Node]) -> None:
    tallest = max((len(m) for m in layers.values()), default=0)
    for layer, members in layers.items():
        # Small graphs centre short layers against the tallest one; big ones align them at the
        # top, so the first screen of a 200-task graph shows tasks, not empty space.
        centred = tallest <= CENTRE_UP_TO
        offset = (tallest - len(members)) * (NODE_H + GAP_Y) / 2 if centred else 0
        for i, node in enumerate(members):
            node.x = PAD + layer * (NODE_W + GAP_X)
            node.y = int(PAD + offset + i * (NODE_H + GAP_Y))
    for e in graph.edges:
        a, b = nodes[e.source], nodes[e.target]
        x1, y1 = a.x + NODE_W, a.y + NODE_H // 2
        x2, y2 = b.x, b.y + NODE_H // 2
        mid = (x1 + x2) // 2
        e.path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
        if x2 <= a.x:  # a back edge (only in a cycle being shown): loop round below the boxes
            low = max(a.y, b.y) + NODE_H + GAP_Y
            e.path = f"M{x1},{y1} C{x1 + 40},{low} {x2 - 40},{low} {x2},{y2}"
        e.label_x, e.label_y = x1 + 10, y1 + (6 if y2 >= y1 else -6) + (4 if y2 >= y1 else 0)
    graph.width = PAD * 2 + (max(layers, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    graph.height = int(PAD * 2 + max(tallest, 1) * (NODE_H + GAP_Y) - GAP_Y)
