"""What the routes share: the store, the coordinator and the local worker pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from headrace.config import Settings
from headrace.engine.coordinator import Coordinator
from headrace.store.db import Store
from headrace.store.records import Attempt


@dataclass
class ApiContext:
    """The server's parts, as the API sees them."""

    store: Store
    coordinator: Coordinator
    settings: Settings
    pool: Any = None  # the WorkerPool running attempts here, when there is one
    base_url: str = ""

    def kill(self, attempts: list[Attempt], reason: str) -> None:
        """Stop attempts the coordinator asked to stop (they run in this process's pool)."""
        if self.pool is not None:
            for attempt in attempts:
                self.pool.kill(attempt.attempt_id, reason)


def ctx_of(request: Request) -> ApiContext:
    return request.app.state.ctx
