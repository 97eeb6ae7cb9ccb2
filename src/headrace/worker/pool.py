"""A pool of worker slots: each claims attempts from the store and supervises one at a time."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.engine.logs import pack_log
from headrace.errors import AttemptEnded
from headrace.states import Result
from headrace.store.attempts import LogPaths
from headrace.store.db import StoreError
from headrace.store.records import Attempt
from headrace.worker.supervisor import SHUTDOWN, KillSwitch, run_attempt

log = logging.getLogger("headrace.worker")
# A missed wake-up (another process queued work) is noticed by this safety-net sweep.
SWEEP_SECONDS = 2.0
REPORT_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)
# An attempt RUNNING under this worker, claimed longer ago than this and held by no slot, was
# claimed by a transaction whose COMMIT's answer was lost (sweep_orphans). A claim registers
# its attempt microseconds after its commit: the margin keeps the sweep off those in between.
ORPHAN_AGE_SECONDS = 30.0


class WorkerPool:
    """`slots` threads that claim, run and report attempts; woken by `wake()`."""

    def __init__(
        self, coordinator: Coordinator, *, worker_id: str, slots: int, logs_dir: Path
    ) -> None:
        self.coordinator = coordinator
        self.worker_id = worker_id
        self.slots = max(0, slots)  # 0: a server that only serves and coordinates
        self.logs_dir = logs_dir
        # Where each claimed attempt's log goes (supervisor.log_path_for's rule); on
        # PostgreSQL the claim computes it in its one statement (store.attempts.LogPaths).
        self._log_path = LogPaths(logs_dir)
        self._cond = threading.Condition()
        self._generation = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._running: dict[int, KillSwitch] = {}
        self._running_lock = threading.Lock()
        self._early_kills: dict[int, str] = {}
        # Orphans (sweep_orphans): ids of the attempts this pool got from the store and has
        # not finished reporting (set add/discard only on the hot path; atomic in CPython).
        self._held: set[int] = set()
        # Attempts whose report gave up, with their outcome: a sweep reports it again.
        self._unreported: dict[int, tuple[Attempt, AttemptOutcome]] = {}
        # Orphans found by a sweep (held already), run by the next free slot.
        self._adopted: list[Attempt] = []
        # When set, claim only attempts of runs this coordinator drives (`headrace run`).
        self.only_coordinator: str | None = None
        # Set when the store itself is broken (disk full, corrupt, deleted): retrying cannot
        # help, so the pool stops reporting and `on_store_failure` callbacks are told.
        self.store_failure: StoreError | None = None
        self.on_store_failure: list[Callable[[StoreError], None]] = []

    def start(self) -> None:
        for i in range(self.slots):
            t = threading.Thread(target=self._slot, name=f"headrace-slot-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        """New attempts may be claimable: wake idle slots."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def kill(self, attempt_id: int, reason: str) -> None:
        """Stop an attempt's process group, now or as soon as this pool starts it.

        A slot may hold an attempt it has claimed but not started yet; the kill waits for it.
        """
        with self._running_lock:
            switch = self._running.get(attempt_id)
            if switch is None:
                self._early_kills[attempt_id] = reason
        if switch is not None:
            switch.pull(reason)

    def kill_all_now(self) -> None:
        """SIGKILL every attempt running here (a second Ctrl-C)."""
        with self._running_lock:
            switches = list(self._running.values())
        for switch in switches:
            switch.pull("CANCELED", force=True)

    def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming; let running attempts finish, killing those still going after the grace.

        A killed attempt is reported FAILED (the worker shut down), so it is retried per its
        task's policy by whichever worker picks the run up next.
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = None if grace_seconds is None else time.monotonic() + grace_seconds
        for t in self._threads:
            t.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        if any(t.is_alive() for t in self._threads):
            with self._running_lock:
                switches = list(self._running.values())
            for switch in switches:
                switch.pull(SHUTDOWN)
            for t in self._threads:
                t.join()

    def _slot(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                generation = self._generation
            attempt = self._take_adopted() if self._adopted else None
            if attempt is None:
                try:
                    attempt = self.coordinator.claim_next_attempt(
                        self.worker_id, self._log_path, self.only_coordinator
                    )
                except Exception as exc:
                    if not self._store_broken(exc):
                        log.exception(
                            "claiming an attempt failed", extra={"action": "claim_attempt"}
                        )
                    attempt = None
            while attempt is not None:
                attempt, looked_at = self._execute(attempt)
                if attempt is None and looked_at is not None:
                    generation = looked_at
            # Wake-ups older than the claim made with the last task end, which found nothing,
            # were for work that claim saw (a wake comes after its commit): only a newer one
            # calls for another look. (A worker's slots busy with chains of attempts got ~1.2
            # NOTIFYs per task end and each then cost an empty claim transaction, issue 18.)
            # A chain that ended without a claim (the attempt was ended elsewhere, the store
            # failed) compares with the generation read before its first claim, as before.
            if generation != self._generation or self._adopted:
                continue
            with self._cond:
                if self._generation == generation and not self._stopping and not self._adopted:
                    self._cond.wait(SWEEP_SECONDS)

    def _take_adopted(self) -> Attempt | None:
        with self._running_lock:
            return self._adopted.pop(0) if self._adopted else None

    def sweep_orphans(self, now: int) -> None:
        """Run off the slots, periodically (the worker's heartbeat thread), at `now` (ms).

        Reports again each outcome whose report gave up, and adopts the attempts RUNNING under
        this worker's id, claimed more than ORPHAN_AGE_SECONDS ago, that this pool does not
        hold: claimed by a transaction (a task end's or a slot's claim) whose COMMIT succeeded
        but whose answer was lost. Recovery never fails those (this worker heartbeats); a
        free slot runs them. The age margin keeps it off a claim between its commit and its
        registration; a COMMIT that becomes visible late is found by a later sweep.
        """
        from headrace.store import workers as worker_store

        for attempt_id, (attempt, outcome) in list(self._unreported.items()):
            try:
                self.coordinator.finish_attempt(attempt, outcome, claim_for=None)
            except AttemptEnded:
                log.info("attempt %s had already been ended", attempt_id)
            except Exception as exc:
                if not self._store_broken(exc):
                    log.warning("reporting attempt %s failed again", attempt_id, exc_info=True)
                continue  # kept (and held): the next sweep tries again
            del self._unreported[attempt_id]
            self._held.discard(attempt_id)
        if self.slots == 0 or self._stopping:  # (no slot would run what it adopts)
            return
        # Held before the read too: one reported (and let go) while the read ran is in it.
        held_before = set(self._held)
        try:
            with self.coordinator.store.read() as conn:
                mine = worker_store.running_attempts_of(
                    conn, self.worker_id, now - int(ORPHAN_AGE_SECONDS * 1000)
                )
        except Exception as exc:
            if not self._store_broken(exc):
                log.warning("looking for orphaned attempts failed; retrying later", exc_info=True)
            return
        if not mine:
            return
        adopted = []
        with self._running_lock:
            held = held_before | self._held  # (copied after the read)
            for attempt in mine:
                if attempt.attempt_id not in held:
                    self._held.add(attempt.attempt_id)  # held from now: adopted once
                    self._adopted.append(attempt)
                    adopted.append(attempt.attempt_id)
        for attempt_id in adopted:
            log.warning(
                "attempt %s was claimed here in a transaction whose answer was lost; running it",
                attempt_id,
                extra={"action": "adopt_attempt"},
            )
        if adopted:
            self.wake()

    def _store_broken(self, exc: Exception) -> bool:
        """If `exc` says the store is broken, remember it, tell the listeners (once) and return
        True: no retry, no traceback (issue 11: a full disk looped on tracebacks forever)."""
        from headrace.store.health import problem

        message = problem(exc)
        if message is None:
            return False
        with self._running_lock:
            first = self.store_failure is None
            if first:
                self.store_failure = StoreError(message)
        if first:
            if not self.on_store_failure:  # a listener (headrace run) reports it itself
                log.error("%s", message, extra={"action": "store_failed"})
            for callback in self.on_store_failure:
                callback(self.store_failure)  # type: ignore[arg-type]
        return True

    def _execute(self, attempt: Attempt) -> tuple[Attempt | None, int | None]:
        """Run an attempt, report it, and return the next one claimed in the same breath
        (with `_report`'s wake-up generation)."""
        switch = KillSwitch()
        with self._running_lock:
            self._running[attempt.attempt_id] = switch
            early = self._early_kills.pop(attempt.attempt_id, None)
            self._held.add(attempt.attempt_id)
        if early is not None:
            switch.pull(early)
        try:
            outcome = run_attempt(
                attempt,
                self.logs_dir,
                switch,
                lambda pid: self.coordinator.record_pid(attempt.attempt_id, pid),
                store=self.coordinator.store,
            )
        except OSError as exc:  # a full or broken logs disk: the cause, not a traceback
            log.warning("attempt %s: cannot write its files: %s", attempt.attempt_id, exc)
            outcome = AttemptOutcome(Result.FAILED, error=f"cannot write the task's files: {exc}")
        except Exception as exc:  # a bug of ours must not leave the attempt RUNNING
            log.exception("attempt %s crashed its supervisor", attempt.attempt_id)
            outcome = AttemptOutcome(Result.FAILED, error=f"internal error running task: {exc}")
        finally:
            with self._running_lock:
                self._running.pop(attempt.attempt_id, None)
        if not self.coordinator.store.is_sqlite and attempt.log_path:
            # Servers on other machines show the log from the store once the attempt ended.
            packed = pack_log(attempt.log_path)
            if packed is not None:  # (an empty log: nothing to keep, no copy of the outcome)
                outcome = dataclasses.replace(outcome, log=packed)
        try:
            return self._report(attempt, outcome)
        finally:
            if attempt.attempt_id not in self._unreported:  # (else held until re-reported)
                self._held.discard(attempt.attempt_id)

    def _report(
        self, attempt: Attempt, outcome: AttemptOutcome
    ) -> tuple[Attempt | None, int | None]:
        """Record the outcome, retrying through store hiccups (a lost connection, a lock).

        Returns the next attempt claimed with it and the wake-up generation read just before
        that claim (None when nothing was claimed: no claim asked, or the report failed).
        """
        for delay in (*REPORT_RETRY_DELAYS, None):
            claim_for = (
                None
                if self._stopping or self._adopted  # (adopted ones go first: the slot takes one)
                else (self.worker_id, self._log_path, self.only_coordinator)
            )
            generation = self._generation
            try:
                following = self.coordinator.finish_attempt(attempt, outcome, claim_for=claim_for)
            except AttemptEnded:
                # A cancel, timeout or recovery ended it first; the store keeps that verdict.
                log.info("attempt %s had already been ended", attempt.attempt_id)
                return None, None
            except Exception as exc:
                if self._store_broken(exc):  # kept, and held: never adopted and run again
                    self._unreported[attempt.attempt_id] = (attempt, outcome)
                    return None, None
                if delay is None:
                    log.exception("giving up reporting attempt %s", attempt.attempt_id)
                    self._unreported[attempt.attempt_id] = (attempt, outcome)  # (sweep_orphans)
                    return None, None
                log.warning(
                    "reporting attempt %s failed; retrying", attempt.attempt_id, exc_info=True
                )
                time.sleep(delay)
                continue
            return following, (generation if claim_for is not None else None)
        return None, None
