"""Settings built once from flags and `HEADRACE_*` environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_POOL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def default_home() -> Path:
    """`HEADRACE_HOME`, else `~/.headrace`: the store, logs and workspace live here."""
    env = os.environ.get("HEADRACE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".headrace"


def _bad_env(name: str, value: float, reason: str) -> None:
    from headrace.errors import HeadraceError

    raise HeadraceError(f"{name}={value}: {reason}")


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        from headrace.errors import HeadraceError

        raise HeadraceError(f"{name}={raw!r} is not a number") from None
    return value


@dataclass(frozen=True)
class Settings:
    """Where Headrace keeps its state and how it paces its leases."""

    home: Path
    db_url: str
    slots: int
    lease_seconds: float
    heartbeat_seconds: float
    # Worker pools this process's slots serve besides pool-less tasks (HEADRACE_POOLS=a,b).
    pools: tuple[str, ...] = ()
    # Continuous jobs (issue 11): at least this long between two run starts of one job, and
    # at most this many unpaused continuous jobs per non-admin owner.
    continuous_min_interval_seconds: float = 10.0
    max_continuous_jobs_per_user: int = 10

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @classmethod
    def load(
        cls,
        *,
        db: str | None = None,
        home: str | None = None,
        slots: int | None = None,
        pools: list[str] | None = None,
    ):
        """Resolve settings: explicit arguments, then environment, then defaults."""
        base = Path(home).expanduser() if home is not None else default_home()
        db_value = db if db is not None else os.environ.get("HEADRACE_DB")
        lease = _float_env("HEADRACE_LEASE_SECONDS", 30.0)
        heartbeat = _float_env("HEADRACE_HEARTBEAT_SECONDS", max(lease / 3, 0.05))
        if lease <= 0:
            _bad_env("HEADRACE_LEASE_SECONDS", lease, "must be more than 0")
        if not 0 < heartbeat < lease:
            _bad_env(
                "HEADRACE_HEARTBEAT_SECONDS",
                heartbeat,
                f"must be between 0 and the lease ({lease} s)",
            )
        if slots is not None and slots < 1:
            _bad_env("--slots", slots, "must be at least 1")
        chosen = pools if pools else [p for p in os.environ.get("HEADRACE_POOLS", "").split(",")]
        cleaned = tuple(sorted({p.strip() for p in chosen if p.strip()}))
        for pool in cleaned:
            if not _POOL.fullmatch(pool):
                from headrace.errors import SpecError, SpecIssue

                raise SpecError(
                    [SpecIssue("--pool", f"{pool!r}: use letters, digits, '_', '.', '-' (1-64)")]
                )
        interval = _float_env("HEADRACE_CONTINUOUS_MIN_INTERVAL_SECONDS", 10.0)
        if interval <= 0:
            _bad_env("HEADRACE_CONTINUOUS_MIN_INTERVAL_SECONDS", interval, "must be more than 0")
        cap = _float_env("HEADRACE_MAX_CONTINUOUS_JOBS_PER_USER", 10)
        if cap < 0 or cap != int(cap):
            _bad_env("HEADRACE_MAX_CONTINUOUS_JOBS_PER_USER", cap, "must be a whole number >= 0")
        return cls(
            continuous_min_interval_seconds=interval,
            max_continuous_jobs_per_user=int(cap),
            pools=cleaned,
            home=base,
            db_url=database_url(db_value, base),
            slots=slots if slots is not None else (os.cpu_count() or 1),
            lease_seconds=lease,
            heartbeat_seconds=heartbeat,
        )


def database_url(value: str | None, home: Path) -> str:
    """A SQLAlchemy URL from `--db`: a URL is kept, a file path becomes a SQLite URL."""
    if value is None or value == "":
        return f"sqlite:///{(home / 'headrace.db').resolve()}"
    if "://" in value:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value[len("postgresql://") :]
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"
