"""The Clusters API subset clients use (/api/2.0/clusters/...): named Spark clusters.

create (and start in the background), get, list, start, restart, delete (terminate),
permanent-delete, spark-versions, list-node-types. Enough for the SDK's
`w.clusters.ensure_cluster_is_running(id)` and `w.clusters.create(...).result()`. A cluster is
a local Spark Connect server (headrace.compute); see docs/spark.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import ResourceMissing
from headrace.api.params import json_body
from headrace.engine.jobs import Principal
from headrace.errors import NotFound, SpecError, SpecIssue

router = APIRouter()
Who = Depends(principal_of)
JsonBody = Depends(json_body)


def _id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError([SpecIssue("cluster_id", "is required (a cluster id string)")])
    return value


def _row(request: Request, cluster_id: Any) -> Any:
    from headrace.compute.clusters import named_cluster

    try:
        return named_cluster(ctx_of(request).store, _id(cluster_id))
    except NotFound:
        raise ResourceMissing(f"Cluster {cluster_id} does not exist") from None


def _home(request: Request) -> Any:
    return ctx_of(request).settings.home


@router.post("/clusters/create")
def create(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    from headrace.compute.clusters import create_named

    ctx = ctx_of(request)
    cluster_id = create_named(
        ctx.store,
        _home(request),
        body,
        creator=who.user_name,
        start=True,
        may_expose=who.admin,
    )
    return {"cluster_id": cluster_id}


@router.get("/clusters/get")
def get(request: Request, cluster_id: str | None = None, who: Principal = Who) -> Any:
    from headrace.compute.clusters import cluster_info

    return cluster_info(_row(request, cluster_id))


@router.get("/clusters/list")
def list_clusters(request: Request, who: Principal = Who) -> Any:
    from headrace.compute.clusters import cluster_info
    from headrace.store import spark_clusters as records

    with ctx_of(request).store.read() as conn:
        rows = records.named_clusters(conn)
    return {"clusters": [cluster_info(r) for r in rows]}


@router.post("/clusters/start")
def start(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    from headrace.compute.clusters import start_named_in_background

    row = _row(request, body.get("cluster_id"))
    start_named_in_background(ctx_of(request).store, _home(request), row.cluster_id)
    return {}


@router.post("/clusters/restart")
def restart(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    from headrace.compute.clusters import start_named_in_background, stop_cluster

    row = _row(request, body.get("cluster_id"))
    stop_cluster(ctx_of(request).store, _home(request), row.cluster_id)
    start_named_in_background(ctx_of(request).store, _home(request), row.cluster_id)
    return {}


@router.post("/clusters/delete")
def delete(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    from headrace.compute.clusters import delete_named

    row = _row(request, body.get("cluster_id"))
    delete_named(ctx_of(request).store, _home(request), row.cluster_id, permanent=False)
    return {}


@router.post("/clusters/permanent-delete")
def permanent_delete(
    request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who
) -> Any:
    from headrace.compute.clusters import delete_named

    row = _row(request, body.get("cluster_id"))
    delete_named(ctx_of(request).store, _home(request), row.cluster_id, permanent=True)
    return {}


@router.get("/clusters/spark-versions")
def spark_versions(request: Request, who: Principal = Who) -> Any:
    from headrace.compute.clusters import spark_versions as versions

    return {"versions": versions()}


@router.get("/clusters/list-node-types")
def list_node_types(request: Request, who: Principal = Who) -> Any:
    from headrace.compute.clusters import node_types

    return {"node_types": node_types()}
