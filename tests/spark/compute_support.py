"""Helpers of the Spark compute tests: a `headrace server` whose clusters are cleaned up.

Every fixture stops what it started (clusters, the warm server, the metastore) and then checks
that no JVM naming its data directory is left (`our_jvms`).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient

from support import Headrace, Server, settle, wait_for

from .catalog_support import our_jvms

DRIVER_MEMORY = "512m"  # two cores and 24 GiB shared by everyone: small JVMs
RUN_TIMEOUT = 600  # JVM starts on a loaded two-core machine take a minute or more


def spark_server(root: Path, *, workers: int = 3) -> Server:
    server = Server(root, workers=workers)
    server.env["HEADRACE_SPARK_DRIVER_MEMORY"] = DRIVER_MEMORY
    server.env["HEADRACE_SPARK_IDLE_SECONDS"] = "600"
    return server


def serve(root: Path, *, workers: int = 3) -> Iterator[Server]:
    """A started server; afterwards every Spark process of its home is stopped and checked."""
    server = spark_server(root, workers=workers)
    try:
        server.start()
        yield server
    finally:
        server.close()
        stop_everything(server.home)


def spark_cli(home: Path) -> Iterator[Headrace]:
    """The CLI over one data directory (one metastore start); every JVM of it stopped after."""
    cli = Headrace(home)
    cli.env["HEADRACE_SPARK_DRIVER_MEMORY"] = DRIVER_MEMORY
    try:
        yield cli
    finally:
        cli.close()
        stop_everything(cli.home)


def stop_everything(home: Path) -> None:
    """Stop the clusters, the warm server and the metastore of `home`; none may be left."""
    from headrace.compute.catalog import stop_metastore
    from headrace.compute.server import stop_server
    from headrace.compute.warm import stop_warm

    clusters = home / "spark" / "clusters"
    for folder in sorted(clusters.iterdir()) if clusters.is_dir() else []:
        with contextlib.suppress(OSError):
            stop_server(folder)
    stop_warm(home)
    stop_metastore(home)
    # A stopped service's JVM may take a moment to exit after its parent did.
    wait_for(lambda: our_jvms(home) == [], 30, f"no JVM of {home} left: {our_jvms(home)}")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def submit(w: WorkspaceClient, body: dict[str, Any]) -> int:
    """jobs/create with a raw JSON body (job clusters as on Databricks), then run-now."""
    settings = {k: v for k, v in body.items() if k != "run_name"}
    settings["name"] = body.get("run_name", "spark test")
    job_id = w.api_client.do("POST", "/api/2.2/jobs/create", body=settings)["job_id"]
    return int(w.api_client.do("POST", "/api/2.2/jobs/run-now", body={"job_id": job_id})["run_id"])


def raw_run(w: WorkspaceClient, run_id: int) -> dict[str, Any]:
    return w.api_client.do("GET", "/api/2.2/jobs/runs/get", query={"run_id": run_id})


def finish(w: WorkspaceClient, run_id: int) -> dict[str, Any]:
    settle(w, run_id, timeout=RUN_TIMEOUT)
    return raw_run(w, run_id)


def task(run: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in run["tasks"] if t["task_key"] == key)


def cluster_state(w: WorkspaceClient, run_id: int, cluster_id: str) -> str | None:
    for cluster in raw_run(w, run_id).get("clusters", []):
        if cluster["cluster_id"] == cluster_id:
            return str(cluster["state"])
    return None


def wait_cluster_state(w: WorkspaceClient, run_id: int, cluster_id: str, state: str) -> None:
    wait_for(
        lambda: cluster_state(w, run_id, cluster_id) == state,
        120,
        f"cluster {cluster_id} of run {run_id} to be {state}",
    )


def jvms_of(cluster_id: str) -> list[int]:
    """Pids of live Spark Connect JVMs of one cluster (spark-submit names them `headrace ID`)."""
    found = []
    needle = f"headrace {cluster_id}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            if b"java" in cmdline and b"SparkConnectServer" in cmdline and needle in cmdline:
                found.append(int(entry.name))
    return found


def leftover_processes(root: Path) -> list[str]:
    """Live JVMs, keepers and metastore services whose command line names `root`."""
    found = []
    needle = str(root).encode()
    kinds = (b"java", b"headrace.compute.keeper", b"headrace.compute.catalog")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            if needle in cmdline and any(kind in cmdline for kind in kinds):
                shown = cmdline.replace(b"\0", b" ")[:160].decode(errors="replace")
                found.append(f"{entry.name}: {shown}")
    return found
