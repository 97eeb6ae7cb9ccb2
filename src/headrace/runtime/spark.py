"""Spark in task code: a session on the task's compute, found through the environment.

The worker gives a task with a cluster `SPARK_REMOTE=sc://127.0.0.1:PORT`. A task without one
gets the data directory's warm server, started on first use (`headrace.compute.warm`). Task
processes also get `runtime/spark_path` on their PYTHONPATH: its `sitecustomize` makes
`SparkSession.builder.getOrCreate()` and `SparkSession.getActiveSession()` return that session
with no change to the task's code (see `install_hooks`). Stdlib only until Spark is used.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REMOTE_ENV = "SPARK_REMOTE"
HOOK_ENV = "HEADRACE_SPARK_HOOK"  # set by the worker: install the hooks in task processes
PYTHON_ENV = "HEADRACE_PYTHON"  # Headrace's own interpreter (a uv environment may lack deps)
CLUSTER_ENV = "HEADRACE_SPARK_CLUSTER_ID"  # set when the task runs on a cluster it named
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


class SparkUnavailable(RuntimeError):
    """Spark could not be reached from this task (the reason says what to install or fix)."""


def has_pyspark() -> bool:
    return importlib.util.find_spec("pyspark") is not None


def on_cluster() -> bool:
    """True when the task runs on a cluster it named (job cluster, existing_cluster_id)."""
    return bool(os.environ.get(CLUSTER_ENV))


def ensure_remote() -> str:
    """The Spark Connect URL of this task's compute; starts the warm server if need be.

    Raises:
        SparkUnavailable: pyspark is missing, or the warm server could not start.
    """
    remote = os.environ.get(REMOTE_ENV)
    if remote:
        _lease_cluster()
        return remote
    if not has_pyspark():
        raise SparkUnavailable("pyspark is not installed: pip install 'headrace[spark]'")
    from headrace.compute.warm import running_warm, take_lease

    home = Path(os.environ.get("HEADRACE_HOME") or Path.home() / ".headrace")
    take_lease(home)
    address = running_warm(home)
    if address is not None:
        remote = address.remote
    else:
        python = os.environ.get(PYTHON_ENV) or sys.executable
        proc = subprocess.run(
            [python, "-m", "headrace.compute.warm", "ensure", str(home)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"},
        )
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            raise SparkUnavailable(lines[-1] if lines else "the warm Spark server did not start")
        remote = json.loads(proc.stdout)["remote"]
    os.environ[REMOTE_ENV] = remote
    return remote


def _lease_cluster() -> None:
    """Hold the task's named or job cluster while this process lives (a named cluster's
    autotermination counts it as a user). Stdlib only; a cluster of another machine: nothing."""
    cluster = os.environ.get(CLUSTER_ENV)
    if not cluster or "/" in cluster or cluster.startswith("."):
        return
    home = Path(os.environ.get("HEADRACE_HOME") or Path.home() / ".headrace")
    folder = home / "spark" / "clusters" / cluster
    if folder.is_dir():
        with contextlib.suppress(OSError):
            (folder / "leases").mkdir(exist_ok=True)
            (folder / "leases" / str(os.getpid())).touch()


def session() -> Any:
    """The task's SparkSession (Spark Connect)."""
    ensure_remote()
    quiet_warnings()
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def quiet_warnings() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)


class LazySpark:
    """The notebook's `spark`: a session made on first use, so notebooks that never use Spark
    start no JVM and pay no pyspark import."""

    def __init__(self) -> None:
        self._session: Any = None

    def _get(self) -> Any:
        if self._session is None:
            self._session = session()
        return self._session

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)

    def __repr__(self) -> str:
        if self._session is None:
            return "<SparkSession (Spark Connect; connects on first use)>"
        return repr(self._session)


def spark_globals() -> dict[str, Any]:
    """`spark`, `sql`, `table`, `udf` of a Databricks notebook (empty without pyspark)."""
    if not has_pyspark():
        return {}
    spark = LazySpark()
    if os.environ.get(REMOTE_ENV) or _warm_running():
        _preload()  # Spark is right there: have its client imported by the first `spark.`

    def udf(*args: Any, **kwargs: Any) -> Any:
        from pyspark.sql.functions import udf as make_udf

        return make_udf(*args, **kwargs)

    return {
        "spark": spark,
        "sql": lambda *a, **k: spark.sql(*a, **k),
        "table": lambda *a, **k: spark.table(*a, **k),
        "udf": udf,
    }


def _warm_running() -> bool:
    try:
        from headrace.compute.warm import running_warm

        home = Path(os.environ.get("HEADRACE_HOME") or Path.home() / ".headrace")
        return running_warm(home) is not None
    except Exception:  # no Headrace compute here: nothing to preload
        return False


def _preload() -> None:
    """Import Spark Connect's client in the background (a few seconds of imports)."""
    import threading

    def load() -> None:
        quiet_warnings()
        with contextlib.suppress(Exception):
            import pyspark.sql.connect.session  # noqa: F401

    threading.Thread(target=load, name="spark-preload", daemon=True).start()


def one_line_error(exc: BaseException) -> str | None:
    """`AnalysisException: [CODE] message` for a Spark error (no plan, no JVM stack trace)."""
    module = type(exc).__module__ or ""
    if not module.startswith(("pyspark", "py4j", "grpc")):
        return None
    text = str(exc)
    for marker in ("\nJVM stacktrace:", "\n\nJVM stacktrace"):
        text = text.split(marker, 1)[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if "SQLSTATE" not in first:
        import re

        found = re.search(r"SQLSTATE: \w+", text)
        if found:
            first = f"{first} {found.group(0)}"
    if module.startswith("grpc"):
        first = "Spark Connect server unreachable: " + (
            getattr(exc, "details", lambda: first)() or first
        )
    first = delta_hint(first) or first
    from headrace.samples.hint import samples_hint

    sample = samples_hint(first)
    if sample:
        first = f"{first.rstrip(';')} ({sample})"
    return f"{type(exc).__name__}: {first.rstrip(';')}"


DELTA_HINT = (
    "Delta Lake is not installed on this Spark: Headrace's tables are Parquet (omit USING DELTA "
    "or write format('parquet')); to enable Delta give the cluster spark_conf "
    "spark.jars.packages=io.delta:delta-spark_2.13:<version> (downloads from Maven: needs "
    "network), spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension and "
    "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
)


def delta_hint(message: str) -> str | None:
    """How to enable Delta, when Spark's message says the `delta` data source is missing."""
    if "DATA_SOURCE_NOT_FOUND" in message and "delta" in message.lower():
        return DELTA_HINT
    return None


# --- hooks installed in task processes (sitecustomize) ---------------------------------------


def install_hooks() -> None:
    """Patch pyspark when (if) the task imports it; show Spark errors on one last line;
    refuse plain file access to `/Volumes` (see `headrace.runtime.fs.install_volume_guard`)."""
    from headrace.runtime.fs import install_volume_guard

    install_volume_guard()
    quiet_warnings()
    sys.meta_path.insert(0, _SessionPatcher())
    previous = sys.excepthook

    def hook(etype: type[BaseException], value: BaseException, tb: Any) -> None:
        previous(etype, value, tb)
        line = one_line_error(value)
        if line:
            # The worker takes a failed task's error from the log's last line.
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    sys.excepthook = hook


class _SessionPatcher(importlib.abc.MetaPathFinder):
    """Runs `_patch_session` right after `pyspark.sql.session` is imported."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "pyspark.sql.session":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            _patch_session(module.SparkSession)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _patch_session(cls: Any) -> None:
    builder_type = type(cls.builder)
    get_or_create = builder_type.getOrCreate

    def getOrCreate(self: Any) -> Any:
        options = getattr(self, "_options", {})
        if "spark.master" not in options and "spark.remote" not in options:
            with contextlib.suppress(SparkUnavailable):
                ensure_remote()
        return get_or_create(self)

    builder_type.getOrCreate = getOrCreate
    active_session = cls.getActiveSession

    def getActiveSession(klass: Any) -> Any:
        found = active_session()
        if found is None:  # on Databricks a task always has a session: so here
            try:
                return klass.builder.getOrCreate()
            except SparkUnavailable:
                return None
        return found

    cls.getActiveSession = classmethod(getActiveSession)
    if hasattr(cls, "active"):
        cls.active = classmethod(lambda klass: klass.builder.getOrCreate())
