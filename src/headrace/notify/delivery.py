"""Delivering the outbox: claim due rows under a lease, send, record — with retries.

Guarantee: **at-least-once**, with duplicates confined to one narrow window. A row is marked
DELIVERED in the same step that learns the send succeeded; a restart (or kill -9) never
resends a DELIVERED row, and a PENDING row is sent by exactly one sender at a time (the claim
is a guarded update, `FOR UPDATE SKIP LOCKED` on PostgreSQL). Only a process that dies
*after* the receiver accepted a message and *before* its DELIVERED commit leaves a SENDING row
whose lease expires, and that row is sent again. Exactly-once is not possible without the
receiver's help (SMTP and webhooks have no two-phase commit), so every resend carries the
same identity for the receiver to drop it: the same email Message-ID, the same webhook
`event_id` / `Idempotency-Key` header, the same PagerDuty `dedup_key`.

A send never blocks or fails a run: the coordinator only writes rows; this loop runs on its
own thread, with a timeout per send, backing off (1 s, 2 s, 4 s, ... capped) and giving up
after `max_attempts` (the row is then FAILED, with its last error, for people to see).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from headrace.errors import NotFound
from headrace.notify.channels import DeliveryError, send_email, send_to_destination
from headrace.notify.message import compose
from headrace.notify.settings import NotifySettings
from headrace.store import notifications as outbox
from headrace.store.db import Store

log = logging.getLogger("headrace.notify")
# Rows claimed per transaction. Sends are sequential (each with its own timeout), so a batch
# must finish well inside the claim's lease, or another server could take rows over mid-batch.
BATCH = 5
SWEEP_SECONDS = 30.0  # safety net only: new rows wake the loop at once
# A busy server is woken by every run that ends anywhere (NOTIFY): the wake-ups of one such
# interval are served by one look at the outbox (issue 18). Retries due are waited for exactly.
MIN_WAKE_GAP_SECONDS = 0.1


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Outcome:
    """What one pass did."""

    delivered: int = 0
    failed: int = 0  # failed attempts (retried later or given up)


class Sender:
    """Sends claimed rows: composes each message and hands it to its channel."""

    def __init__(
        self, store: Store, settings: NotifySettings, sender_id: str | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.sender_id = sender_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def deliver_due(self, now: int | None = None) -> Outcome:
        """Claim due rows and send them, one batch. Returns counts."""
        lease_ms = int(self.settings.lease_seconds * 1000)
        with self.store.begin() as conn:
            claimed = outbox.claim_due(conn, self.sender_id, now or now_ms(), lease_ms, BATCH)
        delivered = failed = 0
        for n in claimed:
            if self._send_one(n):
                delivered += 1
            else:
                failed += 1
        return Outcome(delivered, failed)

    def _send_one(self, n: outbox.Notification) -> bool:
        try:
            self._send(n)
        except DeliveryError as exc:
            attempts = n.attempts + 1
            give_up = exc.permanent or attempts >= self.settings.max_attempts
            retry_at = (
                None if give_up else now_ms() + int(self.settings.retry_delay(attempts) * 1000)
            )
            log.warning(
                "notification %d (run %d, %s) attempt %d failed%s: %s",
                n.notification_id,
                n.run_id,
                n.event,
                attempts,
                " for good" if give_up else "",
                exc,
                extra={"action": "notify_failed"},
            )
            with self.store.begin() as conn:
                outbox.mark_failed_attempt(conn, n, self.sender_id, str(exc), retry_at)
            return False
        except Exception as exc:  # a bug must not kill the loop; the row is retried (capped)
            log.exception("notification %d: unexpected error", n.notification_id)
            attempts = n.attempts + 1
            retry_at = now_ms() + int(self.settings.retry_delay(attempts) * 1000)
            if attempts >= self.settings.max_attempts:
                retry_at = None
            with self.store.begin() as conn:
                outbox.mark_failed_attempt(
                    conn, n, self.sender_id, f"internal error: {exc}", retry_at
                )
            return False
        with self.store.begin() as conn:
            outbox.mark_delivered(conn, n, self.sender_id, now_ms())
        return True

    def _send(self, n: outbox.Notification) -> None:
        with self.store.read() as conn:
            try:
                message = compose(conn, n, self.settings.public_url)
            except NotFound:  # runs/delete removed the run meanwhile: nothing left to tell
                raise DeliveryError(f"run {n.run_id} no longer exists", permanent=True) from None
            destination = None
            if n.channel == "webhook":
                try:
                    destination = outbox.get_destination(conn, n.target)
                except NotFound:
                    raise DeliveryError(
                        f"notification destination {n.target} does not exist", permanent=True
                    ) from None
        event_id = f"headrace-{n.notification_id}"
        message_id = f"<{event_id}-run{n.run_id}@headrace>"
        if destination is None:
            send_email(self.settings.smtp, [n.target], message, message_id)
        else:
            from headrace.notify.destinations import unseal
            from headrace.runtime.secrets import SecretError

            try:
                config = unseal(destination.config)  # its secrets are stored encrypted
            except SecretError as exc:
                raise DeliveryError(
                    f"notification destination {n.target}: {exc}", permanent=True
                ) from None
            send_to_destination(
                self.settings,
                destination.destination_type,
                config,
                message,
                event_id,
                message_id,
            )


class DeliveryLoop:
    """The server's delivery thread: woken when rows are added, else at the next retry."""

    def __init__(self, store: Store, settings: NotifySettings) -> None:
        self.sender = Sender(store, settings)
        self.store = store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headrace-notify", daemon=True)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the send in progress (each send has its own timeout)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                wait = self._pass()
            except Exception:
                log.exception("notification delivery pass failed")
                wait = 1.0
            due = time.monotonic() + wait
            if self._wake.wait(wait):  # woken early: gather a burst's wake-ups first
                self._stop.wait(min(started + MIN_WAKE_GAP_SECONDS, due) - time.monotonic())
            self._wake.clear()

    def _pass(self) -> float:
        """Deliver everything due; returns seconds until the next row is due.

        Looks first with a read-only query: most wake-ups (any run's end) find nothing due, and
        must not take SQLite's write lock from the coordinator for nothing.
        """
        while True:
            with self.store.read() as conn:
                next_at = outbox.next_due_at(conn)
            if next_at is None:
                return SWEEP_SECONDS
            if next_at > now_ms() or self._stop.is_set():
                return min(max((next_at - now_ms()) / 1000, 0.0), SWEEP_SECONDS)
            done = self.sender.deliver_due()
            if done.delivered + done.failed == 0:  # claimed by another server meanwhile
                return 1.0


def deliver_before_exit(
    store: Store, settings: NotifySettings, budget_seconds: float
) -> tuple[int, int]:
    """`headrace run`'s delivery: send what is due, retrying within `budget_seconds`.

    Returns (delivered, still undelivered). Rows left over stay in the outbox for the next
    `headrace server` (or `headrace run`) on the same store.
    """
    sender = Sender(store, settings)
    deadline = time.monotonic() + budget_seconds
    delivered = 0
    while True:
        delivered += sender.deliver_due().delivered
        with store.read() as conn:
            next_at = outbox.next_due_at(conn)
        if next_at is None:
            return delivered, 0
        wait = (next_at - now_ms()) / 1000
        if time.monotonic() + max(wait, 0) > deadline:
            with store.read() as conn:
                left = len(
                    [
                        n
                        for n in outbox.list_notifications(conn, limit=1000)
                        if n.state in (outbox.PENDING, outbox.SENDING)
                    ]
                )
            return delivered, left
        if wait > 0:
            time.sleep(wait)
