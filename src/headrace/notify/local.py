"""What `headrace run` (no server) does with notifications.

Rows are written as events happen, like under the server. The first row this process writes
starts a delivery thread, so on-start messages and duration warnings go out while the run
goes on; a run that notifies nobody never starts it. When the run has ended, the command
delivers everything still due, retrying within a bounded time (`HEADRACE_NOTIFY_WAIT_SECONDS`,
default 10 s). What is still undelivered then stays in the outbox, and the next `headrace
server` (or `headrace run`) on the same store delivers it. The run's exit code never depends
on delivery.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from headrace.errors import HeadraceError
from headrace.store import notifications as outbox
from headrace.store.db import Store

DEFAULT_WAIT_SECONDS = 10.0
DEFAULT_URL = "http://127.0.0.1:8765"  # `headrace server`'s default address


class LocalDelivery:
    """Delivers a local run's notifications: a thread from the first row on, then a bounded
    final pass."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._loop: Any = None
        self._lock = threading.Lock()
        self._broken = False

    def on_change(self, change: Any) -> None:
        """Coordinator listener: wake (or start) the delivery thread when rows were added."""
        if not change.notifications or self._broken:
            return
        with self._lock:
            if self._loop is None:
                settings = _settings()
                if settings is None:
                    self._broken = True
                    return
                from headrace.notify.delivery import DeliveryLoop

                self._loop = DeliveryLoop(self.store, settings)
                self._loop.start()
        self._loop.wake()

    def finish(self) -> None:
        """Stop the thread (after its send in progress), then deliver what is left, bounded."""
        if self._loop is not None:
            self._loop.stop()
        deliver_after_run(self.store)


def _settings() -> Any:
    from headrace.notify.settings import NotifySettings

    try:
        return NotifySettings.load(default_url=DEFAULT_URL)
    except HeadraceError as exc:  # a bad HEADRACE_SMTP_URL must not fail the run
        print(f"notifications not sent: {exc}", file=sys.stderr)
        return None


def deliver_after_run(store: Store) -> None:
    """Deliver the store's due notifications, bounded; say on stderr what is left over."""
    with store.read() as conn:
        if not outbox.has_undelivered(conn):
            return
    from headrace.notify.delivery import deliver_before_exit

    raw = os.environ.get("HEADRACE_NOTIFY_WAIT_SECONDS")
    try:
        budget = float(raw) if raw else DEFAULT_WAIT_SECONDS
    except ValueError:
        budget = DEFAULT_WAIT_SECONDS
    settings = _settings()
    if settings is None:
        return
    delivered, left = deliver_before_exit(store, settings, budget)
    if left:
        print(
            f"notifications: {delivered} sent, {left} not delivered yet (they stay queued; see"
            " `headrace notifications list`)",
            file=sys.stderr,
        )
