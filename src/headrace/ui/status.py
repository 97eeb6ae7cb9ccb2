"""One look per state, everywhere: a CSS class, an icon and a word (never colour alone)."""

from __future__ import annotations

from dataclasses import dataclass

from headrace.states import LifeCycle, Result


@dataclass(frozen=True)
class Status:
    """How a run's or task's state is shown."""

    css: str  # ok, fail, warn, run, wait, cancel, skip
    icon: str
    label: str

    @property
    def active(self) -> bool:
        return self.css in ("run", "wait")


_BY_RESULT = {
    Result.SUCCESS: Status("ok", "✓", "Succeeded"),
    Result.SUCCESS_WITH_FAILURES: Status("warn", "!", "Succeeded with failures"),
    Result.FAILED: Status("fail", "✗", "Failed"),
    Result.TIMEDOUT: Status("fail", "⏱", "Timed out"),
    Result.CANCELED: Status("cancel", "⊘", "Canceled"),
    Result.EXCLUDED: Status("skip", "↷", "Excluded"),
    Result.UPSTREAM_FAILED: Status("skip", "↷", "Upstream failed"),
    Result.UPSTREAM_CANCELED: Status("skip", "↷", "Upstream canceled"),
    Result.DISABLED: Status("skip", "↷", "Disabled"),
    Result.MAXIMUM_CONCURRENT_RUNS_REACHED: Status("skip", "↷", "Skipped: too many runs"),
}
_BY_LIFE = {
    LifeCycle.QUEUED: Status("wait", "◷", "Queued"),
    LifeCycle.PENDING: Status("wait", "◷", "Pending"),
    LifeCycle.BLOCKED: Status("wait", "◌", "Waiting"),
    LifeCycle.RUNNING: Status("run", "▶", "Running"),
    LifeCycle.WAITING_FOR_RETRY: Status("run", "↻", "Waiting to retry"),
    LifeCycle.TERMINATING: Status("run", "■", "Stopping"),
}
NONE = Status("none", "·", "No run")


def status_of(life: LifeCycle, result: Result | None) -> Status:
    """The look of a life cycle state and its result."""
    if life is LifeCycle.INTERNAL_ERROR:
        return Status("fail", "✗", "Internal error")
    if life in _BY_LIFE:
        return _BY_LIFE[life]
    return _BY_RESULT.get(result or Result.FAILED, _BY_RESULT[Result.FAILED])
