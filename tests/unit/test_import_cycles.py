"""No import circles among headrace modules (issue 18).

Reads every module under src/headrace with `ast` and follows its module-level imports (imports
inside functions are lazy on purpose and `if TYPE_CHECKING:` blocks never run), then looks for
strongly connected components in that graph. A circle means a module is run half-initialised
depending on which side is imported first; move what both need to a small module of its own
(as `headrace.clock.now_ms`, `store.migrate.SCHEMA_HEAD`, `runtime.notebook_shared`).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Known circles, each with why it stays. Do not add to this list without a reason.
ALLOWED: set[frozenset[str]] = {
    # `schema` imports the module that defines the backfill tables at its end so that
    # `schema.metadata` holds every table (create_all, Alembic, db copy); that module needs
    # `metadata` and the `runs` table from `schema`. Breaking it means a separate module that
    # assembles the metadata and changing every user of `schema.metadata`.
    frozenset({"headrace.store.schema", "headrace.store.backfills"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imported(name: str, path: Path, *, lazy: bool) -> set[str]:
    """Every module name a module imports when imported (`lazy`: in functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    # A class body runs on import; a function body only when called.
    nested = (ast.With, ast.ClassDef) + ((ast.FunctionDef, ast.AsyncFunctionDef) if lazy else ())

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, nested):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def import_graph(*, lazy: bool = False) -> dict[str, set[str]]:
    """headrace module -> the headrace modules it imports at module level (`lazy`: or later)."""
    paths = {_module_name(p): p for p in (SRC / "headrace").rglob("*.py")}
    return {
        name: {m for m in _imported(name, path, lazy=lazy) if m in paths and m != name}
        for name, path in paths.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_finder_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_graph_follows_relative_imports_and_skips_type_checking() -> None:
    graph = import_graph()
    assert "headrace.clock" in graph["headrace.engine.jobs"]
    assert "headrace.store.db" not in graph["headrace.store.migrate"]  # TYPE_CHECKING only


def test_no_import_cycles() -> None:
    new = [sorted(c) for c in cycles(import_graph()) if c not in ALLOWED]
    assert new == [], f"import circles among headrace modules: {new}"


def test_named_circles_of_issue_18_stay_gone() -> None:
    """Not even through an import inside a function."""
    graph = import_graph(lazy=True)
    for a, b in [
        ("headrace.engine.coordinator", "headrace.engine.jobs"),
        ("headrace.notebook.child", "headrace.runtime.notebook"),
        ("headrace.store.db", "headrace.store.migrate"),
    ]:
        assert not (b in graph[a] and a in graph[b]), (a, b)
