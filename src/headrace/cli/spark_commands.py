"""`headrace clusters create | list | start | stop | delete` (named Spark clusters) and
`headrace doctor` (is Spark usable here?)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

clusters_app = typer.Typer(
    help="Named Spark clusters (existing_cluster_id): local Spark Connect servers.",
    no_args_is_help=True,
)
DbOption = Annotated[str | None, typer.Option("--db", help="Store URL (default: the home's).")]


def _open(db: str | None) -> tuple[Any, Any]:
    from headrace.config import Settings
    from headrace.store.db import open_store

    settings = Settings.load(db=db)
    return settings, open_store(settings.db_url)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    from headrace.errors import SpecError, SpecIssue

    out = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise SpecError([SpecIssue(option, f"expected KEY=VALUE, got {value!r}")])
        out[key] = rest
    return out


@clusters_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="cluster_name")],
    num_workers: Annotated[int, typer.Option(help="Local cores to use (min 1).")] = 1,
    spark_version: Annotated[str, typer.Option(help="Shown only.")] = "15.4.x-scala2.12",
    node_type_id: Annotated[str, typer.Option(help="Shown only.")] = "local",
    conf: Annotated[list[str] | None, typer.Option("--conf", help="spark_conf KEY=VALUE")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="spark_env_vars K=V")] = None,
    master: Annotated[str | None, typer.Option(help="An existing Spark master URL.")] = None,
    start: Annotated[bool, typer.Option("--start/--no-start")] = True,
    db: DbOption = None,
) -> None:
    """Create a named cluster (started now unless --no-start); prints its cluster_id."""
    from headrace.compute.clusters import create_named, ensure_named

    settings, store = _open(db)
    spec: dict[str, Any] = {
        "cluster_name": name,
        "spark_version": spark_version,
        "node_type_id": node_type_id,
        "num_workers": num_workers,
        "spark_conf": _pairs(conf, "--conf"),
        "spark_env_vars": _pairs(env, "--env"),
    }
    if master:
        spec["spark_master"] = master
    cluster_id = create_named(store, settings.home, spec, creator=None, start=False)
    print(cluster_id)
    if start:
        address = ensure_named(store, settings.home, cluster_id)
        typer.echo(f"running at {address.remote} (Spark UI {address.ui_url})", err=True)


@clusters_app.command("list")
def list_clusters(
    as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None
) -> None:
    """Named clusters with their state."""
    from headrace.compute.clusters import cluster_info
    from headrace.store import spark_clusters as records

    _, store = _open(db)
    with store.read() as conn:
        infos = [cluster_info(r) for r in records.named_clusters(conn)]
    if as_json:
        print(json.dumps({"clusters": infos}, indent=2))
        return
    for info in infos:
        extra = info.get("spark_remote") or info.get("state_message") or ""
        print(f"{info['cluster_id']}  {info['state']:<11} {info['cluster_name']}  {extra}")


@clusters_app.command("start")
def start_cluster(cluster_id: str, db: DbOption = None) -> None:
    """Start a named cluster and wait until Spark is ready."""
    from headrace.compute.clusters import ensure_named, named_cluster

    settings, store = _open(db)
    named_cluster(store, cluster_id)
    address = ensure_named(store, settings.home, cluster_id)
    print(f"{cluster_id} running at {address.remote} (Spark UI {address.ui_url})")


@clusters_app.command("stop")
def stop_cluster(cluster_id: str, db: DbOption = None) -> None:
    """Stop a cluster (named or a run's job cluster); it stays listed."""
    from headrace.compute.clusters import stop_cluster as stop

    settings, store = _open(db)
    print(f"{cluster_id} {'stopped' if stop(store, settings.home, cluster_id) else 'not running'}")


@clusters_app.command("delete")
def delete_cluster(cluster_id: str, db: DbOption = None) -> None:
    """Stop a named cluster and forget it (the API's permanent-delete)."""
    from headrace.compute.clusters import delete_named

    settings, store = _open(db)
    delete_named(store, settings.home, cluster_id, permanent=True)
    print(f"{cluster_id} deleted")


def doctor() -> None:
    """Check what Spark tasks need here: pyspark, Java 17, databricks-sdk."""
    import importlib.util
    import subprocess

    from headrace.compute.server import ComputeError, java_executable, spark_home

    problems = 0
    try:
        print(f"pyspark: {spark_home()}")
    except ComputeError as exc:
        problems += 1
        print(f"pyspark: MISSING - {exc}")
    try:
        java = java_executable()
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        first = (out.stderr or out.stdout).strip().splitlines()[:1]
        print(f"java: {java} ({first[0] if first else 'unknown version'})")
    except ComputeError as exc:
        problems += 1
        print(f"java: MISSING - {exc}")
    sdk = importlib.util.find_spec("databricks.sdk") is not None
    print("databricks-sdk: " + ("ok" if sdk else "missing (pip install databricks-sdk)"))
    raise typer.Exit(1 if problems else 0)
