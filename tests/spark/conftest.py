"""Fixtures of the Spark tests (real JVMs: marked `spark`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import Server

from .catalog_support import START_SECONDS, ConnectServer, our_jvms, start_connect_server


@dataclass
class CatalogEnv:
    """One data directory, its metastore service and two Spark Connect servers (two JVMs)."""

    home: Path
    conf: dict[str, str]
    a: ConnectServer
    b: ConnectServer


@pytest.fixture(scope="session")
def catalog_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogEnv]:
    """Two Spark Connect servers of one data directory, running at the same time.

    Started once for the catalog, volume and Spark-warehouse tests (JVM starts are the slow
    part); everything is stopped afterwards and no JVM naming the data directory may remain.
    """
    from headrace.compute.catalog import catalog_spark_conf, stop_metastore

    home = tmp_path_factory.mktemp("spark_home")
    servers: list[ConnectServer] = []
    try:
        conf = catalog_spark_conf(home)
        servers = [start_connect_server(n, home, conf) for n in ("a", "b")]
        deadline = time.monotonic() + START_SECONDS
        for server in servers:
            server.wait_ready(deadline)
        yield CatalogEnv(home, conf, servers[0], servers[1])
    finally:
        for server in servers:
            server.stop()
        stop_metastore(home)
        assert our_jvms(home) == []


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `headrace server` (3 workers) for the job-cluster, named-cluster and warm-server
    tests: one server start and one metastore JVM instead of one per module. Each test
    names its own clusters and jobs; what one test starts, it checks by cluster id."""
    from .compute_support import serve

    yield from serve(tmp_path_factory.mktemp("spark_server"), workers=3)


@pytest.fixture(scope="session", autouse=True)
def no_spark_process_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the Spark tests, no JVM, cluster keeper or metastore of theirs may still run
    (every process naming this session's temporary folder counts)."""
    yield
    from .compute_support import leftover_processes

    left = leftover_processes(tmp_path_factory.getbasetemp())
    assert left == [], f"Spark processes left running: {left}"
