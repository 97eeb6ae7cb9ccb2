"""Task-type icons are inline SVG (a <use> of a <symbol> in the graph), never font glyphs."""

from __future__ import annotations

import re

from headrace.ui.graph import ICON_PATHS, layout
from headrace.ui.page_support import templates

TYPES = [
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "shell_command_task",
    "condition_task",
    "for_each_task",
    "sql_task",
    "run_job_task",
    "pipeline_task",
    "dbt_task",
    "spark_jar_task",
    "unknown_new_task",
]


def test_every_task_type_draws_an_svg_icon() -> None:
    g = layout([{"task_key": f"k{i}", kind: {}} for i, kind in enumerate(TYPES)])
    assert {n.icon for n in g.nodes} <= set(ICON_PATHS)
    svg = str(templates().get_template("_macros.html").module.graph(g))
    for n in g.nodes:
        assert f'href="#ti-{n.icon}"' in svg
        assert f'<symbol id="ti-{n.icon}" viewBox="0 0 16 16">' in svg
    # The only text in a node is its key and state: no emoji or symbol glyph for the type.
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert all(t.isascii() for t in texts), texts
