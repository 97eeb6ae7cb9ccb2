"""The jobs list's recent-run cells as one HTML string per job (issue 17: 1,000 jobs with 10
runs each render in one pass). The same markup as the `cell` macro, made in Python: a Jinja
loop of 10,000 cells costs most of the page's rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from markupsafe import Markup

from headrace.ui.status import status_of


def run_cells(recent: list[Any]) -> Markup:
    """A link per run (state class, icon, the run id, state and start in its title)."""
    if not recent:
        return Markup('<span class="muted">no runs</span>')
    parts = []
    for run in recent:
        s = status_of(run.life_cycle, run.result)
        start = (
            datetime.fromtimestamp(run.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if run.start_time
            else "—"
        )
        title = escape(f"Run {run.run_id}: {s.label}, {start}")
        parts.append(
            f'<a class="cell st-{s.css}" href="/runs/{int(run.run_id)}" title="{title}" '
            f'aria-label="{title}"><span aria-hidden="true">{escape(s.icon)}</span></a>'
        )
    return Markup("".join(parts))
