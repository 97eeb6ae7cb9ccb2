"""Every state has one look, and never by colour alone: an icon and a word each."""

from __future__ import annotations

from headrace.states import ACTIVE, TERMINAL, LifeCycle, Result
from headrace.ui.status import status_of


def test_every_state_has_an_icon_and_a_word() -> None:
    looks = set()
    for life in LifeCycle:
        for result in [None, *Result]:
            s = status_of(life, result)
            assert s.icon.strip() and s.label.strip(), (life, result)
            assert s.css in ("ok", "fail", "warn", "run", "wait", "cancel", "skip"), (life, result)
            looks.add((s.css, s.icon, s.label))
    # Two states that share a colour still differ by icon or word.
    by_css: dict[str, set[tuple[str, str]]] = {}
    for css, icon, label in looks:
        by_css.setdefault(css, set()).add((icon, label))
    assert all(len({label for _, label in v}) == len(v) for v in by_css.values())


def test_active_states_look_active_and_ended_ones_do_not() -> None:
    for life in ACTIVE:
        assert status_of(life, None).css in ("run", "wait")
    for life in TERMINAL:
        for result in Result:
            assert not status_of(life, result).active
    assert status_of(LifeCycle.TERMINATED, Result.SUCCESS).label == "Succeeded"
    assert status_of(LifeCycle.TERMINATED, Result.FAILED).icon == "✗"
    assert status_of(LifeCycle.INTERNAL_ERROR, None).css == "fail"


def test_durations_read_naturally() -> None:
    from headrace.ui.views import fmt_duration

    assert fmt_duration(None) == "—"
    assert fmt_duration(40) == "40 ms"
    assert fmt_duration(1500) == "1.5s"
    assert fmt_duration(125_000) == "2m 05s"
    assert fmt_duration(3_780_000) == "1h 03m"
