"""DAG checks, topological order and ancestors."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headrace.errors import SpecError, SpecIssue
from headrace.spec.dag import ancestors, check_dag, topological_order
from headrace.spec.models import Task


def task(key: str, *deps: str, condition: bool = False, outcome: str | None = None) -> Task:
    kind = (
        {"condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}}
        if condition
        else {"shell_command_task": {"command": "true"}}
    )
    depends_on = [{"task_key": d, "outcome": outcome} for d in deps]
    return Task.model_validate({"task_key": key, "depends_on": depends_on, **kind})


def messages(issues: list[SpecIssue]) -> list[str]:
    return [str(issue) for issue in issues]


def test_a_valid_dag_has_no_issues() -> None:
    assert check_dag([task("a"), task("b", "a"), task("c", "a", "b")]) == []


def test_duplicate_task_key_names_the_first() -> None:
    issues = check_dag([task("x"), task("y"), task("x")])
    assert messages(issues) == ["tasks[2].task_key: duplicate task_key 'x' (also tasks[0])"]


def test_unknown_dependency_has_a_path_and_a_suggestion() -> None:
    issues = check_dag([task("load"), task("x"), task("z", "x", "lod")])
    assert issues[0].path == "tasks[2].depends_on[1].task_key"
    assert issues[0].message.startswith("no task named 'lod'")
    assert "did you mean 'load'?" in issues[0].message


def test_self_dependency() -> None:
    issues = check_dag([task("a", "a")])
    assert messages(issues) == ["tasks[0].depends_on[0].task_key: task 'a' depends on itself"]


def test_cycle_is_reported_once_with_its_path() -> None:
    # a depends on c, b on a, c on b: data flows a -> b -> c -> a.
    issues = check_dag([task("a", "c"), task("b", "a"), task("c", "b")])
    assert messages(issues) == ["tasks[0].depends_on[0]: dependency cycle: a -> b -> c -> a"]


def test_two_task_cycle_and_separate_cycles_each_reported() -> None:
    tasks = [task("a", "b"), task("b", "a"), task("ok"), task("x", "y", "ok"), task("y", "x")]
    found = [i.message for i in check_dag(tasks)]
    assert found == ["dependency cycle: a -> b -> a", "dependency cycle: x -> y -> x"]


def test_cycle_path_points_at_the_closing_dependency() -> None:
    issues = check_dag([task("start"), task("p", "start", "q"), task("q", "p")])
    assert messages(issues) == ["tasks[1].depends_on[1]: dependency cycle: p -> q -> p"]


def test_outcome_needs_a_condition_task_upstream() -> None:
    tasks = [task("plain"), task("child", "plain", outcome="true")]
    issues = check_dag(tasks)
    assert issues[0].path == "tasks[1].depends_on[0].outcome"
    assert "'plain' is not a condition_task" in issues[0].message


def test_outcome_on_a_condition_task_is_fine() -> None:
    assert check_dag([task("cond", condition=True), task("yes", "cond", outcome="true")]) == []


def test_all_problems_reported_together() -> None:
    tasks = [task("a", "a"), task("a"), task("b", "nope"), task("c", "d"), task("d", "c")]
    paths = [i.path for i in check_dag(tasks)]
    assert paths == [
        "tasks[1].task_key",
        "tasks[0].depends_on[0].task_key",
        "tasks[2].depends_on[0].task_key",
        "tasks[3].depends_on[0]",
    ]


def test_topological_order_keeps_spec_order_among_ready_tasks() -> None:
    tasks = [task("d", "b", "c"), task("c", "a"), task("b", "a"), task("a"), task("e")]
    assert topological_order(tasks) == ["a", "c", "b", "d", "e"]


def test_topological_order_rejects_cycles() -> None:
    with pytest.raises(SpecError, match="dependency cycle: a -> b -> a"):
        topological_order([task("a", "b"), task("b", "a")])


def test_ancestors_are_transitive() -> None:
    tasks = [task("a"), task("b", "a"), task("c", "a"), task("d", "b", "c"), task("e")]
    assert ancestors(tasks) == {
        "a": frozenset(),
        "b": {"a"},
        "c": {"a"},
        "d": {"a", "b", "c"},
        "e": frozenset(),
    }


def test_ancestors_survive_cycles_and_unknown_keys() -> None:
    result = ancestors([task("a", "b", "ghost"), task("b", "a"), task("c", "b")])
    assert result == {"a": {"a", "b"}, "b": {"a", "b"}, "c": {"a", "b"}}


def test_long_chains_do_not_recurse() -> None:
    tasks = [task("t0")] + [task(f"t{i}", f"t{i - 1}") for i in range(1, 3000)]
    assert check_dag(tasks) == []
    assert topological_order(tasks)[-1] == "t2999"
    assert len(ancestors(tasks)["t2999"]) == 2999
    looped = [task("t0", "t2999"), *tasks[1:]]
    assert check_dag(looped)[0].message.startswith("dependency cycle: t0 -> t1 -> t2")


@st.composite
def dags(draw: st.DrawFn) -> list[Task]:
    """Random DAGs: each task depends only on tasks created before it, then shuffled."""
    n = draw(st.integers(min_value=1, max_value=25))
    built = []
    for i in range(n):
        deps = draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=4)) if i else set()
        built.append(task(f"t{i}", *(f"t{d}" for d in sorted(deps))))
    return draw(st.permutations(built))


@given(dags())
def test_random_dags_order_every_edge_upstream_first(tasks: list[Task]) -> None:
    assert check_dag(tasks) == []
    order = topological_order(tasks)
    position = {key: i for i, key in enumerate(order)}
    assert sorted(order) == sorted(t.task_key for t in tasks)
    upstream = ancestors(tasks)
    for t in tasks:
        for dep in t.depends_on:
            assert position[dep.task_key] < position[t.task_key]
            assert dep.task_key in upstream[t.task_key]
            assert upstream[dep.task_key] <= upstream[t.task_key]


@given(dags(), st.data())
def test_adding_a_back_edge_creates_exactly_one_cycle_issue(
    tasks: list[Task], data: st.DataObject
) -> None:
    order = topological_order(tasks)
    upstream = ancestors(tasks)
    candidates = [t for t in tasks if upstream[t.task_key]]
    if not candidates:
        return
    child = data.draw(st.sampled_from(candidates))
    ancestor = data.draw(st.sampled_from(sorted(upstream[child.task_key])))
    looped = [
        t
        if t.task_key != ancestor
        else task(ancestor, *(d.task_key for d in t.depends_on), child.task_key)
        for t in tasks
    ]
    issues = check_dag(looped)
    assert len(issues) == 1 and issues[0].message.startswith("dependency cycle: ")
    cycle = issues[0].message.removeprefix("dependency cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1] and len(set(cycle)) == len(cycle) - 1
    parents = {t.task_key: {d.task_key for d in t.depends_on} for t in looped}
    assert all(up in parents[down] for up, down in pairwise(cycle))
    assert order  # the original stays a DAG
