"""Where a run's time goes: task phases, edge hand-over times and the critical path."""

from __future__ import annotations

from headrace.engine.overhead import AttemptTimes, TaskTimes, analyse


def _t(key: str, ups: tuple[str, ...], started: int, ended: int | None, *tries: tuple) -> TaskTimes:
    return TaskTimes(key, ups, started, ended, tuple(AttemptTimes(*a) for a in tries))


def test_phases_of_a_process_task_with_a_retry() -> None:
    # Ready at 100, queued 100->130, on worker 130->500 (fails), retry wait 500->800,
    # queued 800->810, on worker 810->1000, reported at 1020.
    task = _t("a", (), 100, 1020, (100, 130, 500), (800, 810, 1000))
    out = analyse(0, 1100, [task], now=5000)
    (a,) = out.tasks
    assert a.phases == {
        "ready": 100,
        "queued": 40,
        "worker": 560,
        "retry": 300,
        "reporting": 20,
    }
    assert a.overhead == 100 + 40 + 300 + 20
    assert a.total == 1020
    assert out.critical_path == ["a"]
    assert out.span == 1100 and out.critical_work == 560
    assert out.critical_overhead == 540


def test_an_in_process_task_is_all_run_and_a_running_one_counts_to_now() -> None:
    cond = _t("cond", (), 10, 15)
    running = _t("long", ("cond",), 20, None, (20, 25, None))
    out = analyse(0, None, [cond, running], now=1000)
    assert out.task("cond").phases == {"ready": 10, "run": 5}  # type: ignore[union-attr]
    assert out.task("long").phases == {"queued": 5, "worker": 975}  # type: ignore[union-attr]
    assert out.span == 1000
    assert out.critical_path == ["cond", "long"]


def test_edges_and_the_critical_path_follow_the_upstream_that_ended_last() -> None:
    #   a --> b --\
    #    \--> c ---> d          c ends after b, so d waited for c
    tasks = [
        _t("a", (), 0, 100, (0, 5, 95)),
        _t("b", ("a",), 110, 300, (110, 120, 290)),
        _t("c", ("a",), 130, 600, (130, 200, 590)),  # 30 ms hand-over, 70 ms queued
        _t("d", ("b", "c"), 650, 900, (650, 660, 890)),
    ]
    out = analyse(0, 910, tasks, now=10_000)
    edges = {(e.source, e.target): e for e in out.edges}
    assert edges[("a", "b")].gap == 10 and edges[("a", "c")].gap == 30
    assert edges[("b", "d")].gap == 350 and not edges[("b", "d")].gating
    assert edges[("c", "d")].gap == 50 and edges[("c", "d")].gating
    assert out.critical_path == ["a", "c", "d"]
    assert {k for k, e in edges.items() if e.critical} == {("a", "c"), ("c", "d")}
    assert [t.key for t in out.tasks if t.critical] == ["a", "c", "d"]
    assert out.critical_work == 90 + 390 + 230
    assert out.critical_overhead == 910 - 710


def test_a_task_not_started_yet_has_no_phases_and_no_edge_gap() -> None:
    tasks = [_t("a", (), 0, None, (0, None, None)), TaskTimes("b", ("a",), None, None)]
    out = analyse(0, None, tasks, now=50)
    assert out.task("a").phases == {"ready": 0, "queued": 50, "worker": 0}  # type: ignore[union-attr]
    assert out.task("b").phases == {}  # type: ignore[union-attr]
    (edge,) = out.edges
    assert edge.gap is None and not edge.gating
    assert out.critical_path == ["a"]


def test_no_tasks_started() -> None:
    out = analyse(0, None, [TaskTimes("a", (), None, None)], now=10)
    assert out.critical_path == [] and out.critical_work == 0 and out.span == 10


def test_the_workers_marks_split_its_time_into_environment_cluster_process_run() -> None:
    # Claimed at 130; files written 135, environment ready 400, cluster 450, process started
    # 460, ended 900; the end recorded at 910 and the task's end at 930.
    marks = {"prepared": 135, "environment": 400, "cluster": 450, "spawned": 460, "exited": 900}
    task = _t("a", (), 100, 930, (100, 130, 910, marks))
    out = analyse(0, 1000, [task], now=5000)
    (a,) = out.tasks
    assert a.phases == {
        "ready": 100,
        "queued": 30,
        "environment": 270,
        "cluster": 50,
        "process": 10,
        "run": 440,
        "reporting": 10 + 20,
    }
    assert list(a.phases) == [
        "ready",
        "queued",
        "environment",
        "cluster",
        "process",
        "run",
        "reporting",
    ]
    assert a.overhead == 930 - 440 and out.critical_work == 440
    # Marks missing one (an older worker): one figure, as before.
    partial = _t("b", (), 100, 930, (100, 130, 910, {"prepared": 135}))
    assert "worker" in analyse(0, 1000, [partial], now=5000).tasks[0].phases
