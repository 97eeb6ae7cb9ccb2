"""Which dbt profile a dbt_task runs with, and which adapter packages that needs.

Without `profiles_directory`, Headrace writes the profile Databricks would generate for the task:
the project's `profile:` name, one output per target the commands name, all pointing at the
task's warehouse (`warehouse_id`; none means the embedded DuckDB warehouse) with its `schema`.
With `profiles_directory`, the project's own `profiles.yml` is used; outputs of `type: databricks`
(which need a Databricks SQL warehouse) are pointed at the task's warehouse instead.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from headrace.errors import HeadraceError, SpecError
from headrace.spec.bounds import load_yaml

GENERATED_TARGET = "headrace"
# dbt-core 1.12 needs a parser wheel downloaded from GitHub at install time; 1.11 is on PyPI whole.
DBT_CORE = "dbt-core>=1.11,<1.12"
ADAPTERS = {
    "duckdb": "dbt-duckdb>=1.9,<2",
    "postgres": "dbt-postgres>=1.9,<2",
    # The session method over Spark Connect: pyspark's Connect client, pinned next to it
    # (runner), not the [session] extra's unpinned pyspark.
    "spark": "dbt-spark>=1.9,<2",
}
# Adapters that only talk to Databricks: replaced by the task's warehouse.
DATABRICKS_TYPES = frozenset({"databricks"})


class DbtSetupError(HeadraceError):
    """The dbt_task's project, profile or warehouse cannot be used as given."""


@dataclass(frozen=True)
class Connection:
    """One dbt output (connection) for a Headrace warehouse."""

    output: dict[str, Any]
    duckdb_path: Path | None = None
    spark_url: str | None = None  # `spark://` or `sc://HOST:PORT`: dbt-spark over Spark Connect


@dataclass
class Profiles:
    """The profiles.yml to write, the adapters it needs, and the DuckDB files it writes to."""

    document: dict[str, Any]
    adapters: set[str] = field(default_factory=set)
    duckdb_paths: set[Path] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    spark_url: str | None = None  # the Spark warehouse dbt-spark talks to


def connection_for(warehouse_id: str | None, schema: str | None, home: Path) -> Connection:
    """The dbt output for a Headrace warehouse id (None: the embedded DuckDB warehouse).

    Raises:
        DbtSetupError: the warehouse is unknown, or no dbt adapter maps to its database.
    """
    from headrace.warehouse.config import resolve
    from headrace.warehouse.errors import WarehouseError

    try:
        warehouse = resolve(warehouse_id, home=home)
    except WarehouseError as exc:
        raise DbtSetupError(f"dbt_task.warehouse_id: {exc}") from None
    if warehouse.duckdb_path is not None:
        output = {"type": "duckdb", "path": str(warehouse.duckdb_path), "threads": 1}
        output["schema"] = schema or "main"
        return Connection(output, duckdb_path=warehouse.duckdb_path)
    if (warehouse.url or "").startswith(("spark://", "sc://")):
        # dbt-spark's `session` method runs `SparkSession.builder.getOrCreate()`: with
        # SPARK_REMOTE set (runner) that is a Spark Connect session on the shared catalog.
        output = {"type": "spark", "method": "session", "host": "NA", "threads": 1}
        output["schema"] = schema or "default"
        return Connection(output, spark_url=warehouse.url)
    url = urlsplit(warehouse.url or "")
    scheme = url.scheme.split("+")[0]
    if scheme in ("postgresql", "postgres"):
        output = {
            "type": "postgres",
            "host": url.hostname or "localhost",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": url.path.lstrip("/") or "postgres",
            "schema": schema or "public",
            "threads": 1,
        }
        return Connection(output)
    raise DbtSetupError(
        f"dbt_task.warehouse_id: warehouse {warehouse.warehouse_id!r} is a {scheme} database; "
        "Headrace maps DuckDB, PostgreSQL and Spark warehouses to dbt adapters, for others set "
        "profiles_directory to a folder with your own profiles.yml"
    )


def command_targets(commands: list[str]) -> list[str]:
    """The targets named by `--target X`, `--target=X` or `-t X` in the commands."""
    found: list[str] = []
    for command in commands:
        words = shlex.split(command)
        for i, word in enumerate(words):
            name = None
            if word in ("--target", "-t") and i + 1 < len(words):
                name = words[i + 1]
            elif word.startswith("--target="):
                name = word.split("=", 1)[1]
            if name and name not in found:
                found.append(name)
    return found


def project_profile_name(project: Path) -> str:
    """The `profile:` of the project's dbt_project.yml.

    Raises:
        DbtSetupError: no readable dbt_project.yml.
    """
    import yaml

    path = project / "dbt_project.yml"
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DbtSetupError(
            f"dbt_task.project_directory: no dbt_project.yml in {project}"
        ) from None
    except (OSError, yaml.YAMLError, SpecError) as exc:
        raise DbtSetupError(f"cannot read {path}: {exc}") from None
    name = data.get("profile") if isinstance(data, dict) else None
    return str(name) if name else "default"


def generated_profiles(project: Path, commands: list[str], connection: Connection) -> Profiles:
    """The profile Databricks would generate, on the task's warehouse."""
    targets = [GENERATED_TARGET, *command_targets(commands)]
    outputs = {name: dict(connection.output) for name in targets}
    document = {project_profile_name(project): {"target": GENERATED_TARGET, "outputs": outputs}}
    profiles = Profiles(
        document, adapters={connection.output["type"]}, spark_url=connection.spark_url
    )
    if connection.duckdb_path is not None:
        profiles.duckdb_paths.add(connection.duckdb_path)
    return profiles


def own_profiles(
    folder: Path, project: Path, commands: list[str], connection: Connection | None
) -> Profiles:
    """The project's profiles.yml, Databricks outputs pointed at the task's warehouse.

    Raises:
        DbtSetupError: no readable profiles.yml, or a Databricks output and no warehouse.
    """
    import yaml

    path = folder / "profiles.yml"
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DbtSetupError(f"dbt_task.profiles_directory: no profiles.yml in {folder}") from None
    except (OSError, yaml.YAMLError, SpecError) as exc:
        raise DbtSetupError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise DbtSetupError(f"{path}: expected a mapping of profile names")
    name = project_profile_name(project)
    profile = document.get(name)
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        raise DbtSetupError(f"{path}: no profile {name!r} with outputs (dbt_project.yml names it)")
    profiles = Profiles(document)
    used = command_targets(commands) or [str(profile.get("target") or "default")]
    for target, output in profile["outputs"].items():
        if not isinstance(output, dict):
            continue
        kind = str(output.get("type"))
        if kind in DATABRICKS_TYPES and connection is not None:
            replaced = dict(connection.output)
            if isinstance(output.get("schema"), str) and output["schema"]:
                replaced["schema"] = output["schema"]
            profile["outputs"][target] = replaced
            profiles.notes.append(
                f"output {target!r} of profile {name!r} is type {kind}: it runs on "
                f"{replaced['type']} (the task's warehouse) instead"
            )
            profiles.spark_url = profiles.spark_url or connection.spark_url
            output, kind = replaced, replaced["type"]
        if target in used:
            profiles.adapters.add(kind)
            if kind == "duckdb" and output.get("path") not in (None, ":memory:"):
                profiles.duckdb_paths.add(Path(str(output["path"])).expanduser())
    return profiles


def adapter_package(kind: str) -> str:
    """The PyPI requirement of a dbt adapter type (`postgres` -> dbt-postgres)."""
    return ADAPTERS.get(kind, f"dbt-{kind}")
