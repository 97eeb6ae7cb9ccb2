"""An executed notebook as a standalone HTML page (nbconvert), for `headrace runs export`."""

from __future__ import annotations

from pathlib import Path


def to_html(executed: Path) -> str:
    """The notebook at `executed` rendered with its outputs (nbconvert's classic template)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(template_name="classic")
    body, _ = exporter.from_notebook_node(nb)
    return body
