"""The process of a spark_jar_task or spark_submit_task: `spark-submit` against its cluster.

A spark_jar_task first tries its cluster's running driver (`headrace.worker.jar_driver`, no JVM
of its own, as on Databricks); the rest of this module is the separate-JVM path it falls back
to, and the only path of spark_submit_task.

`python -m headrace.worker.submit_runner SPEC_JSON` runs in the worker's interpreter. It finds
the task's cluster through the compute layer's public functions: the job or named cluster the
worker acquired (`HEADRACE_SPARK_CLUSTER_ID`), else the data directory's warm cluster (used if it
runs; otherwise its master and conf, without starting a Spark Connect server the JAR would not
use). It then runs pyspark's own `bin/spark-submit` with that master and conf (the shared
catalog and the `/Volumes`/`dbfs:/` mapping included), streaming Spark's output into the task's
log. When spark-submit fails, the last line is Spark's own reason (`Failed to load class ...`,
the exception the main method threw), which becomes the task's error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError

# What the task process got from the worker for a Spark task; spark-submit runs classic Spark,
# so a Connect address or the Python hook must not reach the program it starts.
_SPARK_CONNECT_ENV = ("SPARK_REMOTE", "HEADRACE_SPARK_HOOK", "SPARK_CONNECT_MODE_ENABLED")
_PATH_PREFIXES = ("dbfs:/", "/Volumes/", "/Workspace/")
_ENVIRONMENT_SPEC = "HEADRACE_ENVIRONMENT_SPEC"  # the task's environment (its java_dependencies)


class SubmitError(HeadraceError):
    """The task's spark-submit cannot be put together (no jar, a missing file)."""


def main(argv: list[str]) -> int:
    spec: dict[str, Any] = json.loads(argv[0])
    home = Path(os.environ.get("HEADRACE_HOME") or Path.home() / ".headrace")
    if spec["kind"] == "jar":
        code = _in_driver(spec.get("settings") or {}, home)
        if code is not None:
            return code
    try:
        master, conf, spark_home = _cluster(home)
        args = _arguments(spec, home)
    except HeadraceError as exc:
        print(str(exc), flush=True)
        return 2
    submit = [str(Path(spark_home) / "bin" / "spark-submit"), "--master", master]
    for key, value in conf.items():
        submit += ["--conf", f"{key}={value}"]
    command = [*submit, *args]
    print(f"[headrace] spark-submit --master {master} {' '.join(args)}", flush=True)
    return _run(command, _env(spark_home))


def _in_driver(settings: dict[str, Any], home: Path) -> int | None:
    """A JAR task run in its cluster's driver (headrace.worker.jar_driver); None when that
    cluster cannot take it (spark-submit then runs it in its own JVM, as before)."""
    from headrace.worker.jar_driver import driver_for_task, run_in_driver

    try:
        jars = _jar_files(settings, home)
        address, why_not = driver_for_task(home)
    except HeadraceError as exc:
        print(str(exc), flush=True)
        return 2
    if address is None:
        print(f"[headrace] JAR task in its own JVM (spark-submit): {why_not}", flush=True)
        return None
    main_class = str(settings["main_class_name"])
    parameters = [str(p) for p in settings.get("parameters") or []]
    print(
        f"[headrace] {main_class}.main in the driver of cluster {address.cluster_id} "
        f"({len(jars)} jar{'s' if len(jars) != 1 else ''})",
        flush=True,
    )
    return run_in_driver(address, main_class, parameters, jars)


def _cluster(home: Path) -> tuple[str, dict[str, str], str]:
    """(master, Spark conf, SPARK_HOME) of the task's cluster."""
    from headrace.compute.server import launch_config, running_address

    cluster_id = os.environ.get("HEADRACE_SPARK_CLUSTER_ID")
    if cluster_id:
        from headrace.compute.clusters import cluster_folder

        address = running_address(cluster_folder(home, cluster_id))
        if address is None:
            raise SubmitError(f"the task's Spark cluster {cluster_id} is not running")
    else:
        from headrace.compute.warm import running_warm

        address = running_warm(home)
    if address is not None:
        return address.master, _submit_conf(address.conf), address.spark_home
    config = launch_config(home, "submit", {})  # the warm cluster's master and conf
    return config["master"], _submit_conf(config["conf"]), config["spark_home"]


def _submit_conf(conf: dict[str, str]) -> dict[str, str]:
    """A cluster's conf without what belongs to its server process (ports of Connect, UI)."""
    skip = ("spark.connect.", "spark.ui.port")
    return {k: v for k, v in conf.items() if not k.startswith(skip)}


def _arguments(spec: dict[str, Any], home: Path) -> list[str]:
    """spark-submit's arguments after the cluster's (class, jars, application and its args)."""
    settings = spec.get("settings") or {}
    if spec["kind"] == "jar":
        jars = _jar_files(settings, home)
        args = ["--class", str(settings["main_class_name"])]
        if len(jars) > 1:
            args += ["--jars", ",".join(jars[1:])]
        return [*args, jars[0], *(str(p) for p in settings.get("parameters") or [])]
    params = [str(p) for p in settings.get("parameters") or []]
    extra = [_local(j, home) for j in _jars(settings.get("libraries") or [])]
    mapped = [_local(p, home) if p.startswith(_PATH_PREFIXES) else p for p in params]
    return (["--jars", ",".join(extra)] if extra else []) + mapped


def _jar_files(settings: dict[str, Any], home: Path) -> list[str]:
    """Local paths of a JAR task's jars: its libraries, then its environment's
    java_dependencies."""
    libraries = _jars(settings.get("libraries") or [])
    given = libraries + _java_dependencies()
    jars = [_local(j, home) for j in given]
    if not jars:
        raise SubmitError(
            "spark_jar_task: no jar to run; add the jar that holds "
            f"{settings.get('main_class_name')!r} to the task's libraries: [{{jar: PATH}}] "
            "(or its environment's java_dependencies)"
        )
    for jar, named in zip(jars, given, strict=True):
        if not Path(jar).is_file():
            where = "libraries" if named in libraries else "environment java_dependencies"
            raise SubmitError(f"{where}: no such jar {named!r} (looked at {jar})")
    return jars


def _java_dependencies() -> list[str]:
    """`java_dependencies` of the task's environment (the worker passes its spec)."""
    spec = json.loads(os.environ.get(_ENVIRONMENT_SPEC) or "{}")
    return [str(j) for j in spec.get("java_dependencies") or [] if j]


def _jars(libraries: list[Any]) -> list[str]:
    return [str(lib["jar"]) for lib in libraries if isinstance(lib, dict) and lib.get("jar")]


def _local(path: str, home: Path) -> str:
    """A local path for `dbfs:/...`, `/Volumes/...` and workspace paths."""
    from headrace.compute.volumes import dbfs_root, volumes_root

    if path.startswith("dbfs:/Volumes/"):
        path = path.removeprefix("dbfs:")
    if path.startswith("/Volumes/"):
        return str(volumes_root(home) / path.removeprefix("/Volumes/"))
    if path.startswith("dbfs:/"):
        return str(dbfs_root(home) / path.removeprefix("dbfs:/"))
    from headrace.engine.workspace import task_local_path

    try:
        return str(task_local_path(path))
    except ValueError as exc:
        raise SubmitError(str(exc)) from None


def _env(spark_home: str) -> dict[str, str]:
    # The environment's spec is this process's input, not the application's.
    skip = (*_SPARK_CONNECT_ENV, _ENVIRONMENT_SPEC)
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env["SPARK_HOME"] = spark_home
    # A Python application runs on Headrace's interpreter (it has pyspark), classic Spark.
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    path = env.get("PYTHONPATH", "")
    hook = str(Path(__file__).resolve().parents[1] / "runtime" / "spark_path")
    env["PYTHONPATH"] = os.pathsep.join(p for p in path.split(os.pathsep) if p and p != hook)
    return env


def _run(command: list[str], env: dict[str, str]) -> int:
    """Run spark-submit, its output into the log; on failure end with Spark's reason."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for raw in proc.stdout:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        lines.append(raw.decode(errors="replace").rstrip())
        del lines[:-400]
    code = proc.wait()
    if code != 0:
        print(f"spark-submit failed: {_reason(lines) or f'exit code {code}'}", flush=True)
    return code


def _reason(lines: list[str]) -> str | None:
    """Spark's own words: a `Failed to load class`, or the exception main threw."""
    for line in lines:
        text = line.strip()
        if text.startswith("Error: ") and "class" in text:
            return text.removeprefix("Error: ")
    for line in lines:
        text = line.strip()
        if text.startswith('Exception in thread "main" '):
            return text.removeprefix('Exception in thread "main" ')
    from headrace.compute.server import spark_error

    return spark_error(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
