"""Notebook files as nbformat documents: load any supported kind, inject parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from headrace.notebook import source

INJECTED_TAG = "injected-parameters"


class NotebookFormatError(ValueError):
    """The file is not a notebook Headrace can run."""


def load(path: Path) -> NotebookNode:
    """The notebook in `path` (.ipynb, Databricks source .py/.sql, or a plain .py/.sql file).

    Raises:
        NotebookFormatError: unreadable or invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookFormatError(f"cannot read notebook {path}: {exc}") from None
    if path.suffix == ".ipynb":
        return _jupyter(path, text)
    cells = source.parse(text, path.suffix)
    nb = new_notebook()
    language = "sql" if path.suffix == ".sql" else "python"
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["headrace"] = {"source": path.name, "default_language": language}
    for cell in cells:
        node = (
            new_markdown_cell(cell.source)
            if cell.kind == "markdown"
            else new_code_cell(cell.source)
        )
        if cell.title:
            node.metadata["title"] = cell.title
        nb.cells.append(node)
    return nb


def _jupyter(path: Path, text: str) -> NotebookNode:
    try:
        json.loads(text)
        nb = nbformat.reads(text, as_version=4)
    except ValueError as exc:
        raise NotebookFormatError(f"{path} is not a valid .ipynb notebook: {exc}") from None
    from nbformat.validator import normalize

    # Notebooks from older tools lack cell ids; add them rather than warn on every run.
    _, normalized = normalize(nb)
    nb = nbformat.from_dict(normalized)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        first = str(exc).splitlines()[0]
        raise NotebookFormatError(f"{path} is not a valid .ipynb notebook: {first}") from None
    language = _language(nb)
    if language is not None and language.lower() != "python":
        raise NotebookFormatError(
            f"{path} is a {language} notebook: only Python notebooks run here (its kernel spec "
            "names another language)"
        )
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _language(nb: NotebookNode) -> str | None:
    """The notebook's language, from its kernel spec or language_info (None if unsaid)."""
    metadata = nb.get("metadata", {})
    for key in ("kernelspec", "language_info"):
        value = metadata.get(key, {}).get("language" if key == "kernelspec" else "name")
        if isinstance(value, str) and value:
            return value
    return None


def inject_parameters(nb: NotebookNode, parameters: dict[str, Any]) -> bool:
    """Papermill's convention: after the cell tagged `parameters`, a cell setting each
    parameter as a Python variable (tagged `injected-parameters`). False if no such cell."""
    index = next(
        (
            i
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None or not parameters:
        return False
    lines = ["# Parameters (injected by Headrace)"]
    for name, value in parameters.items():
        if name.isidentifier():
            lines.append(f"{name} = {value!r}")
    cell = new_code_cell("\n".join(lines))
    cell.metadata["tags"] = [INJECTED_TAG]
    nb.cells.insert(index + 1, cell)
    return True


def write(nb: NotebookNode, path: Path) -> None:
    """Save atomically: a reader sees the previous or the new notebook, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    tmp.replace(path)
