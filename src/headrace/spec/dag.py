"""The task graph of a job: structural checks, a stable topological order, and ancestors."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from headrace.errors import SpecError, SpecIssue
from headrace.spec._issues import did_you_mean
from headrace.spec.models import Task


def check_dag(tasks: Sequence[Task]) -> list[SpecIssue]:
    """Duplicate keys, unknown, repeated or self dependencies, misplaced `outcome`s, cycles."""
    issues: list[SpecIssue] = []
    first_index: dict[str, int] = {}
    for i, task in enumerate(tasks):
        first = first_index.setdefault(task.task_key, i)
        if first != i:
            message = f"duplicate task_key '{task.task_key}' (also tasks[{first}])"
            issues.append(SpecIssue(f"tasks[{i}].task_key", message))
    for i, task in enumerate(tasks):
        listed: dict[str, int] = {}
        for j, dep in enumerate(task.depends_on):
            earlier = listed.setdefault(dep.task_key, j)
            if earlier != j:
                # A repeated edge was counted twice: the task waited forever (issue 11).
                message = f"'{dep.task_key}' is listed twice (also depends_on[{earlier}])"
                issues.append(SpecIssue(f"tasks[{i}].depends_on[{j}].task_key", message))
                continue
            issue = _edge_issue(tasks, first_index, task, dep.task_key, dep.outcome)
            if issue is not None:
                field, message = issue
                issues.append(SpecIssue(f"tasks[{i}].depends_on[{j}].{field}", message))
    issues.extend(_cycle_issues(tasks, first_index))
    return issues


def _edge_issue(
    tasks: Sequence[Task], index: dict[str, int], task: Task, upstream: str, outcome: str | None
) -> tuple[str, str] | None:
    """(field, reason) when one `depends_on` entry is wrong, else None."""
    if upstream not in index:
        return "task_key", f"no task named '{upstream}'{did_you_mean(upstream, index)}"
    if upstream == task.task_key:
        return "task_key", f"task '{upstream}' depends on itself"
    if outcome is not None and tasks[index[upstream]].condition_task is None:
        reason = "outcome is only allowed on a dependency on a condition_task"
        return "outcome", f"{reason}; '{upstream}' is not a condition_task"
    return None


def topological_order(tasks: Sequence[Task]) -> list[str]:
    """Task keys, upstream first; among tasks ready at the same time, in spec order.

    Raises:
        SpecError: the tasks do not form a DAG (see `check_dag`).
    """
    issues = check_dag(tasks)
    if issues:
        raise SpecError(issues)
    return _ordered(tasks, _parents(tasks))


def ancestors(tasks: Sequence[Task]) -> dict[str, frozenset[str]]:
    """For each task key, every task upstream of it (transitively); unknown keys are ignored."""
    parents = _parents(tasks)
    result: dict[str, frozenset[str]] = {}
    for key in _ordered(tasks, parents):
        result[key] = frozenset(parents[key].union(*(result[p] for p in parents[key])))
    for key in parents.keys() - result.keys():
        # Only in or below a cycle (an invalid job): walk upstream from each such task.
        found: set[str] = set()
        frontier = set(parents[key])
        while frontier:
            found |= frontier
            frontier = set().union(*(parents[p] for p in frontier)) - found
        result[key] = frozenset(found)
    return result


def _parents(tasks: Sequence[Task]) -> dict[str, set[str]]:
    """Upstream task keys of each task key (known keys only)."""
    parents: dict[str, set[str]] = {task.task_key: set() for task in tasks}
    for task in tasks:
        parents[task.task_key].update(d.task_key for d in task.depends_on if d.task_key in parents)
    return parents


def _ordered(tasks: Sequence[Task], parents: dict[str, set[str]]) -> list[str]:
    """Kahn's algorithm picking the earliest ready task in spec order; skips cycles."""
    index: dict[str, int] = {}
    for i, task in enumerate(tasks):
        index.setdefault(task.task_key, i)
    keys = sorted(parents, key=index.__getitem__)
    waiting = {key: len(parents[key]) for key in keys}
    children: dict[str, list[str]] = {key: [] for key in keys}
    for key in keys:
        for p in parents[key]:
            children[p].append(key)
    ready = [index[key] for key in keys if waiting[key] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        key = tasks[heapq.heappop(ready)].task_key
        order.append(key)
        for child in children[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, index[child])
    return order


def _children(tasks: Sequence[Task], index: dict[str, int]) -> dict[str, list[str]]:
    """Downstream task keys of each task (known keys only, no duplicates)."""
    children: dict[str, list[str]] = {task.task_key: [] for task in tasks}
    for task in tasks:
        for upstream in dict.fromkeys(d.task_key for d in task.depends_on):
            if upstream in index and upstream != task.task_key:
                children[upstream].append(task.task_key)
    return children


def _cycle_issues(tasks: Sequence[Task], index: dict[str, int]) -> list[SpecIssue]:
    """One issue per strongly connected component: the shortest cycle through its first task."""
    children = _children(tasks, index)
    issues = []
    for component in _strong_components(children):
        if len(component) < 2:
            continue
        start = min(component, key=index.__getitem__)
        cycle = _shortest_cycle(start, children, component)
        closing = cycle[-2]  # start depends on this task: the edge that closes the cycle
        task = tasks[index[start]]
        j = next(j for j, d in enumerate(task.depends_on) if d.task_key == closing)
        issues.append(
            SpecIssue(
                f"tasks[{index[start]}].depends_on[{j}]", "dependency cycle: " + " -> ".join(cycle)
            )
        )
    return issues


def _strong_components(children: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iterative."""
    counter, low, number, on_stack = 0, {}, {}, set()
    stack: list[str] = []
    components = []
    for root in children:
        if root in number:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                number[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = children[node]
            if i < len(succ):
                work.append((node, i + 1))
                child = succ[i]
                if child not in number:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], number[child])
                continue
            if low[node] == number[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _shortest_cycle(start: str, children: dict[str, list[str]], within: set[str]) -> list[str]:
    """`[start, ..., start]` following downstream edges inside one component (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in children[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if child in within and child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError("a strongly connected component always has a cycle")  # pragma: no cover
