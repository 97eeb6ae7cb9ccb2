"""A dbt_task's process: profile, environment, lock, then dbt's commands; artifacts kept.

`python -m headrace.dbt.runner SETTINGS_JSON` runs in the worker's interpreter. It writes the
profile into the attempt's folder, gets the task's dbt environment (uv, cached like any task
environment: dbt-core, the adapters the profile needs, and the task's own environment
dependencies), then runs `headrace.dbt.child` there, holding the lock of every embedded DuckDB
warehouse the profile writes to (one writer at a time, as sql_task and `%sql` do). dbt writes its
`target/` and `logs/` into the attempt's folder, so concurrent runs of one project do not mix
their artifacts; get-output's `dbt_output` lists them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from headrace.dbt.profiles import (
    DBT_CORE,
    DbtSetupError,
    Profiles,
    adapter_package,
    connection_for,
    generated_profiles,
    own_profiles,
)

# The task's environment spec (environments[].spec), passed on by the worker.
ENVIRONMENT_SPEC_ENV = "HEADRACE_ENVIRONMENT_SPEC"
# Packages that only work against Databricks: left out of the local dbt environment.
_DATABRICKS_ONLY = ("dbt-databricks",)
_PARTIAL_PARSE = "partial_parse.msgpack"
SQLGLOT = "sqlglot>=30,<31"


def main(argv: list[str]) -> int:
    settings: dict[str, Any] = json.loads(argv[0])
    home = Path(os.environ.get("HEADRACE_HOME") or Path.home() / ".headrace")
    output = os.environ.get("HEADRACE_OUTPUT")
    folder = Path(output).parent if output else Path.cwd()
    try:
        project = _project_dir(settings)
        profiles = _profiles(settings, project, home)
        python = _environment(profiles, home)
    except DbtSetupError as exc:
        _say(str(exc))
        return 2
    profiles_dir = folder / "dbt_profiles"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    import yaml

    (profiles_dir / "profiles.yml").write_text(yaml.safe_dump(profiles.document, sort_keys=False))
    for note in profiles.notes:
        _say(f"[headrace] {note}")
    env = _dbt_env(project, profiles_dir, folder)
    if profiles.spark_url is not None:
        try:
            env["SPARK_REMOTE"] = _spark_remote(profiles.spark_url, home)
        except DbtSetupError as exc:
            _say(str(exc))
            return 2
    child = [str(python), "-m", "headrace.dbt.child", json.dumps(settings["commands"])]
    with contextlib.ExitStack() as stack:
        from headrace.warehouse.lock import exclusive

        for path in sorted(profiles.duckdb_paths):
            path = path if path.is_absolute() else project / path
            path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(exclusive(path))
        cache = _parse_cache(home, project, profiles_dir)
        _copy(cache, folder / "target" / _PARTIAL_PARSE)
        code = subprocess.call(child, cwd=project, env=env, stdin=subprocess.DEVNULL)
    _copy(folder / "target" / _PARTIAL_PARSE, cache)
    _report_artifacts(folder / "target")
    return code


def _project_dir(settings: dict[str, Any]) -> Path:
    from headrace.engine.workspace import task_local_path

    given = settings.get("project_directory") or "."
    try:
        local = task_local_path(given, source=settings.get("source"))
    except ValueError as exc:
        raise DbtSetupError(f"dbt_task.project_directory: {exc}") from None
    project = Path(local).expanduser().resolve()
    if not (project / "dbt_project.yml").is_file():
        raise DbtSetupError(
            f"dbt_task.project_directory: no dbt_project.yml in {project} (set project_directory "
            "to the folder of your dbt project)"
        )
    return project


def _profiles(settings: dict[str, Any], project: Path, home: Path) -> Profiles:
    commands = [str(c) for c in settings["commands"]]
    given = settings.get("profiles_directory")
    warehouse_id, schema = settings.get("warehouse_id"), settings.get("schema")
    if not given:
        connection = connection_for(warehouse_id, schema, home)
        if settings.get("catalog") and connection.duckdb_path is not None:
            _say("[headrace] catalog is ignored on the embedded DuckDB warehouse (one catalog)")
        elif settings.get("catalog") and connection.spark_url is not None:
            _say("[headrace] catalog is ignored on Spark: the shared catalog's names are aliases")
        elif settings.get("catalog"):
            connection.output["dbname"] = settings["catalog"]
        return generated_profiles(project, commands, connection)
    try:
        connection = connection_for(warehouse_id, schema, home)
    except DbtSetupError:
        if warehouse_id is not None:
            raise
        connection = None  # only Databricks outputs need it; they say so
    # Databricks reads profiles_directory relative to the project directory.
    folder = (project / given).resolve()
    return own_profiles(folder, project, commands, connection)


def _environment(profiles: Profiles, home: Path) -> Path:
    """The python of the task's dbt environment, built (once) by uv."""
    from headrace.worker.environments import EnvironmentFailed, ensure_environment

    spec: dict[str, Any] = json.loads(os.environ.get(ENVIRONMENT_SPEC_ENV) or "{}")
    deps = []
    for dep in spec.get("dependencies") or []:
        if str(dep).strip().lower().startswith(_DATABRICKS_ONLY):
            _say(f"[headrace] leaving out {dep}: it needs Databricks; dbt runs on local adapters")
        else:
            deps.append(str(dep))
    names = {_name(d) for d in deps}
    extra = [] if "dbt-core" in names else [DBT_CORE]
    for kind in sorted(profiles.adapters):
        package = adapter_package(kind)
        if _name(package) not in names:
            extra.append(package)
    if "sqlglot" not in names:
        extra.append(SQLGLOT)  # Databricks SQL of Databricks materializations, translated
    if "spark" in profiles.adapters and "pyspark" not in names:
        # dbt-spark's session method over Spark Connect: the client of Headrace's own pyspark
        # (its server speaks that version); its protobuf 6 suits dbt-core's pin.
        with contextlib.suppress(PackageNotFoundError):
            extra.append(f"pyspark[connect]=={version('pyspark')}")
    if "duckdb" in profiles.adapters and "duckdb" not in names:
        # The warehouse file is shared with Headrace's own DuckDB: same storage version.
        with contextlib.suppress(PackageNotFoundError):
            extra.append(f"duckdb=={version('duckdb')}")
    built = {**spec, "dependencies": deps + extra}
    try:
        return ensure_environment(built, home, sys.stdout.buffer)
    except EnvironmentFailed as exc:
        raise DbtSetupError(f"{exc} (dbt needs {', '.join(extra) or 'its adapters'})") from None


def _spark_remote(url: str, home: Path) -> str:
    """The Spark Connect address of a Spark warehouse: `sc://...` as given; `spark://` the
    task's cluster (SPARK_REMOTE) or the data directory's warm server (started if need be)."""
    if url.startswith("sc://"):
        return url
    if os.environ.get("SPARK_REMOTE"):
        return os.environ["SPARK_REMOTE"]
    try:
        from headrace.compute.warm import ensure_warm, take_lease
    except ImportError as exc:
        raise DbtSetupError(
            f"dbt_task.warehouse_id: a Spark warehouse needs pyspark here ({exc})"
        ) from None
    from headrace.errors import HeadraceError

    try:
        take_lease(home, os.getpid())  # the warm server stays while dbt uses it
        return ensure_warm(home).remote
    except HeadraceError as exc:
        raise DbtSetupError(f"dbt_task.warehouse_id: the warm Spark server: {exc}") from None


def _name(requirement: str) -> str:
    import re

    match = re.match(r"\s*([A-Za-z0-9_.-]+)", requirement)
    return match.group(1).lower().replace("_", "-") if match else requirement


def _dbt_env(project: Path, profiles_dir: Path, folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(ENVIRONMENT_SPEC_ENV, None)
    env.update(
        {
            "DBT_PROFILES_DIR": str(profiles_dir),
            "DBT_PROJECT_DIR": str(project),
            "DBT_TARGET_PATH": str(folder / "target"),
            "DBT_LOG_PATH": str(folder / "dbt_logs"),
            # A task's log is plain text, and a job must not call home.
            "DBT_USE_COLORS": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def _parse_cache(home: Path, project: Path, profiles_dir: Path) -> Path:
    """Where the project's last partial parse is kept: each attempt writes a fresh target/, and
    dbt re-parsing every file costs seconds (dbt checks the saved parse against the files)."""
    import hashlib

    key = hashlib.sha256(
        f"{project}\0{(profiles_dir / 'profiles.yml').read_text()}".encode()
    ).hexdigest()[:16]
    return home / "dbt" / "parse-cache" / key / _PARTIAL_PARSE


def _copy(source: Path, target: Path) -> None:
    import shutil

    if not source.is_file():
        return
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".{os.getpid()}")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)


def _report_artifacts(target: Path) -> None:
    from headrace.runtime.output import report_output

    files = (
        sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
        if target.is_dir()
        else []
    )
    report_output(
        dbt_output={
            "artifacts_link": target.as_uri(),
            "artifacts_headers": {},
            "artifacts": files,
        }
    )


def _say(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
