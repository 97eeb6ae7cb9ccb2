"""Several `headrace server`s and `headrace worker`s on one PostgreSQL store, for real.

Every process is a real CLI process on loopback; each test gets its own PostgreSQL schema.
Leases are short (3 s) so that lost workers are noticed quickly on other hosts; on this host a
dead process is noticed at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from pg_support import pg_base_url, pg_schema, with_search_path
from support import HEADRACE, Server, wait_for

__all__ = ["cluster", "pg_schema"]

LEASE = {"HEADRACE_LEASE_SECONDS": "3", "HEADRACE_HEARTBEAT_SECONDS": "0.5"}


class Cluster:
    """Servers and workers sharing one store; stopped (killed) at the end of the test."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.servers: list[Server] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self._engine = create_engine(url)
        self.application_name = ""

    def server(self, *, workers: int = 0) -> Server:
        srv = Server(self.root / f"server{len(self.servers)}", workers=max(workers, 1))
        srv.workers = workers
        srv.env.update({"HEADRACE_DB": self.url, **LEASE})
        srv.start()
        self.servers.append(srv)
        return srv

    def worker(self, slots: int = 2, pools: list[str] | None = None) -> subprocess.Popen[bytes]:
        n = len(self.workers)
        proc = self._spawn_worker(n, slots, pools, log_mode="wb")
        self.workers.append(proc)
        wait_for(lambda: self.live_workers() > len(self.servers) + n, what=f"worker {n} registered")
        return proc

    def restart_worker(
        self, index: int, slots: int = 2, pools: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start worker `index` again (same home, log appended) once its process has exited."""
        assert self.workers[index].poll() is not None, f"worker {index} is still running"
        proc = self._spawn_worker(index, slots, pools, log_mode="ab")
        self.workers[index] = proc
        wait_for(
            lambda: self.sql("SELECT count(*) FROM workers WHERE pid = :p", p=proc.pid)[0][0],
            timeout=30,
            what=f"worker {index} (pid {proc.pid}) registered again",
        )
        return proc

    def _spawn_worker(
        self, n: int, slots: int, pools: list[str] | None, *, log_mode: str
    ) -> subprocess.Popen[bytes]:
        home = self.root / f"worker{n}"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HEADRACE_", "DATABRICKS_"))
        }
        env.update({"HEADRACE_HOME": str(home), "HEADRACE_DB": self.url, **LEASE})
        with open(home / "worker.log", log_mode) as log:
            proc = subprocess.Popen(
                [
                    *HEADRACE,
                    "worker",
                    "--slots",
                    str(slots),
                    "--grace-seconds",
                    "5",
                    *(f"--pool={p}" for p in pools or []),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return proc

    def sql(self, query: str, **params: Any) -> list[Any]:
        with self._engine.connect() as conn:
            return list(conn.execute(text(query), params))

    def live_workers(self) -> int:
        return self.sql("SELECT count(*) FROM workers WHERE stopped_at IS NULL")[0][0]

    def logs(self) -> str:
        out = [s.log() for s in self.servers]
        for i in range(len(self.workers)):
            path = self.root / f"worker{i}" / "worker.log"
            if path.exists():
                out.append(f"--- worker{i} ---\n{path.read_text()}")
        return "\n".join(out)

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for srv in self.servers:
            srv.kill()
        self._engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path, pg_schema: str) -> Iterator[Cluster]:
    # Tagged so a test can cut exactly this cluster's connections (and nobody else's).
    url = with_search_path(pg_base_url(), pg_schema) + f"&application_name={pg_schema}"
    c = Cluster(tmp_path, url)
    c.application_name = pg_schema
    try:
        yield c
    finally:
        c.close()
