"""What `headrace run` (no server) does with notifications: it sends them before it exits.

Rows are written as events happen, like under the server; when the run has ended the
command delivers everything due, retrying within a bounded time (`HEADRACE_NOTIFY_WAIT_SECONDS`,
default 10 s). What is still undelivered then stays in the outbox, and the next `headrace
server` (or `headrace run`) on the same store delivers it. A run that notifies nobody pays
one indexed query.
"""

from __future__ import annotations

import os
import sys

from headrace.store import notifications as outbox
from headrace.store.db import Store

DEFAULT_WAIT_SECONDS = 10.0


def deliver_after_run(store: Store) -> None:
    """Deliver the store's due notifications, bounded; say on stderr what is left over."""
    with store.read() as conn:
        if not outbox.has_undelivered(conn):
            return
    from headrace.notify.delivery import deliver_before_exit
    from headrace.notify.settings import NotifySettings

    raw = os.environ.get("HEADRACE_NOTIFY_WAIT_SECONDS")
    try:
        budget = float(raw) if raw else DEFAULT_WAIT_SECONDS
    except ValueError:
        budget = DEFAULT_WAIT_SECONDS
    settings = NotifySettings.load(default_url="http://127.0.0.1:8765")
    delivered, left = deliver_before_exit(store, settings, budget)
    if left:
        print(
            f"notifications: {delivered} sent, {left} not delivered yet (they stay queued; see"
            " `headrace notifications list`)",
            file=sys.stderr,
        )
