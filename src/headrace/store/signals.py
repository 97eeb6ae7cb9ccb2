"""Wake-ups between processes that share a PostgreSQL store: NOTIFY after a change, LISTEN.

Within one process the coordinator calls its listeners directly; across processes (servers and
`headrace worker`s on other machines) a committed change is announced on a channel:

- `WORK`: new attempts may be claimable (workers wake their slots);
- `COORDINATE`: a timer moved, a run ended or was queued (the coordinating server wakes).

A listener holds one dedicated connection in autocommit mode and reconnects (with backoff) when
the database restarts or the connection drops; whatever was announced meanwhile is caught by
the slow sweeps that every loop keeps as a safety net. SQLite stores have no other processes to
tell in this way: there, notify() does nothing and no listener is started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from headrace.store.db import Store
from headrace.store.sql import Tx

log = logging.getLogger("headrace.store")
WORK = "headrace_work"
COORDINATE = "headrace_coordinate"
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)
_NOTIFY_WORK = f"SELECT pg_notify('{WORK}', '')"
_NOTIFY_COORDINATE = f"SELECT pg_notify('{COORDINATE}', '')"


def notify(store: Store, channels: Iterable[str]) -> None:
    """Announce committed changes on `channels` (PostgreSQL only; best effort)."""
    wanted = sorted(set(channels))
    if store.is_sqlite or not wanted:
        return
    from sqlalchemy import text  # PostgreSQL only: its store runs on SQLAlchemy

    try:
        with store.engine.connect() as conn:
            for channel in wanted:
                conn.execute(text("SELECT pg_notify(:c, '')"), {"c": channel})
            conn.commit()
    except Exception:  # a lost wake-up costs a sweep's delay, never correctness
        log.debug("NOTIFY %s failed", wanted, exc_info=True)


def announce(conn: Tx, work: bool, coordinate: bool) -> None:
    """NOTIFY inside a transaction: delivered when (and only if) it commits."""
    if work:
        conn.execute(_NOTIFY_WORK)
    if coordinate:
        conn.execute(_NOTIFY_COORDINATE)


class Listener:
    """A thread that calls `on_signal(channel)` for each NOTIFY on `channels`."""

    def __init__(
        self, store: Store, channels: Iterable[str], on_signal: Callable[[str], None]
    ) -> None:
        self.store = store
        self.channels = sorted(set(channels))
        self.on_signal = on_signal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headrace-listen", daemon=True)
        self.connected = threading.Event()

    def start(self) -> Listener:
        if not self.store.is_sqlite:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:
                self.connected.clear()
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                # Whatever was announced while we were away: let the owner look once.
                for channel in self.channels:
                    self._deliver(channel)
                self._stop.wait(delay)

    def _listen(self) -> None:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        with psycopg.connect(url, autocommit=True) as conn:
            for channel in self.channels:
                conn.execute(f'LISTEN "{channel}"')
            self.connected.set()
            while not self._stop.is_set():
                # A timeout returns to check _stop; a dead connection raises and reconnects.
                for note in conn.notifies(timeout=1.0):
                    self._deliver(note.channel)
                conn.execute("SELECT 1")

    def _deliver(self, channel: str) -> None:
        try:
            self.on_signal(channel)
        except Exception:
            log.exception("handling NOTIFY %s failed", channel)
