"""The one clock of the store: milliseconds since the epoch, as Jobs API timestamps are."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Now, in milliseconds since the epoch."""
    return int(time.time() * 1000)
