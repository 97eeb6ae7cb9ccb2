"""The data directory's warm Spark Connect server, for tasks that name no cluster.

Started lazily by the first task process that uses Spark (`ensure_warm`), shared by every later
one, and stopped by its keeper after `HEADRACE_SPARK_IDLE_SECONDS` (default 600) without a
user. A user is a live process holding a lease: a file named by its pid in `warm/leases/`.
`python -m headrace.compute.warm ensure HOME` prints the address as JSON (task processes in a
uv environment call it with Headrace's own interpreter); `... stop HOME` stops it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from headrace.compute.server import (
    ClusterAddress,
    launch_config,
    locked,
    running_address,
    start_server,
    stop_server,
)

IDLE_ENV = "HEADRACE_SPARK_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 600.0
WARM_ID = "warm"
# Spark conf of the warm server (a JSON object), e.g. for a standalone master.
WARM_CONF_ENV = "HEADRACE_SPARK_WARM_CONF"


def warm_folder(home: Path) -> Path:
    return Path(home) / "spark" / "warm"


def take_lease(home: Path, pid: int | None = None) -> None:
    """Mark process `pid` (default: this one) as a user of the warm server while it lives."""
    leases = warm_folder(home) / "leases"
    leases.mkdir(parents=True, exist_ok=True)
    (leases / str(pid or os.getpid())).touch()


def running_warm(home: Path) -> ClusterAddress | None:
    """The warm server's address if it runs (stdlib only: cheap for a task process)."""
    return running_address(warm_folder(home))


def ensure_warm(home: Path) -> ClusterAddress:
    """The warm server's address, started (and waited for) if it is not running.

    Raises:
        ComputeError: Spark could not start (Java or pyspark missing, Spark's own error).
    """
    folder = warm_folder(home)
    address = running_address(folder)
    if address is not None:
        return address
    with locked(folder):
        address = running_address(folder)
        if address is not None:
            return address
        idle = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS)
        spec = {"spark_conf": json.loads(os.environ.get(WARM_CONF_ENV) or "{}")}
        config = launch_config(home, WARM_ID, spec, idle_seconds=idle)
        return start_server(folder, config)


def stop_warm(home: Path) -> bool:
    """Stop the warm server; True if it was running."""
    folder = warm_folder(home)
    with locked(folder):
        return stop_server(folder)


def main(argv: list[str]) -> int:
    from headrace.errors import HeadraceError

    command, home = argv[0], Path(argv[1])
    try:
        if command == "ensure":
            address = ensure_warm(home)
            print(json.dumps(dataclasses.asdict(address)))
        elif command == "stop":
            print("stopped" if stop_warm(home) else "not running")
        else:
            print(f"unknown command {command!r}: ensure | stop", file=sys.stderr)
            return 2
    except HeadraceError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
