"""A bundle's resources other than jobs: what `${resources.<kind>.<key>.<field>}` gives, and what
Headrace does with each kind.

- `schemas`, `volumes`: made in the local catalog (`create_catalog_objects`) on `bundle run`;
  a deploy asks the server's Unity Catalog API (a warning when it has none).
- `secret_scopes`: made in the secrets store (a folder of the secrets directory).
- `pipelines`: kept in the bundle and handed to the pipelines engine (`engine/pipelines.py`) when
  it exists; until then a warning.
- every other kind Databricks knows (dashboards, apps, model_serving_endpoints, ...): a warning
  naming it; references to its fields still resolve, so jobs that name them load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Kinds Headrace acts on besides jobs.
ACTED_KINDS = ("schemas", "volumes", "secret_scopes", "pipelines")
# The Databricks CLI's resource kinds (bundle/config/resources.go): declared, warned, referenceable.
KNOWN_KINDS = frozenset(
    {
        "jobs",
        "job_runs",
        "pipelines",
        "models",
        "experiments",
        "model_serving_endpoints",
        "registered_models",
        "quality_monitors",
        "catalogs",
        "schemas",
        "volumes",
        "external_locations",
        "clusters",
        "dashboards",
        "genie_spaces",
        "apps",
        "secret_scopes",
        "alerts",
        "sql_warehouses",
        "database_instances",
        "database_catalogs",
        "synced_database_tables",
        "postgres_projects",
        "postgres_branches",
        "postgres_endpoints",
        "postgres_catalogs",
        "postgres_databases",
        "postgres_roles",
        "postgres_synced_tables",
        "vector_search_endpoints",
        "vector_search_indexes",
        "instance_pools",
        "secrets",
    }
)
# Fields of a resource that are the bundle's, not the resource API's.
BUNDLE_ONLY_FIELDS = ("permissions", "grants", "lifecycle")


def placeholder_id(kind: str, key: str, fields: Mapping[str, Any]) -> str:
    """The id a resource has before it exists (and, for catalog objects, after: their name)."""
    name = str(fields.get("name") or key)
    if kind == "schemas":
        return f"{fields.get('catalog_name', 'main')}.{name}"
    if kind == "volumes":
        return f"{fields.get('catalog_name', 'main')}.{fields.get('schema_name', 'default')}.{name}"
    if kind in ("secret_scopes", "catalogs"):
        return name
    return f"{kind}.{key}"


def reference_scope(
    resources: Mapping[str, Any], ids: Mapping[str, Any]
) -> dict[str, dict[str, dict[str, Any]]]:
    """`${resources.<kind>.<key>.<field>}` values: each resource's own fields, plus `id` (and
    `volume_path` for volumes).

    `ids`: known ids, by `<kind>.<key>` (jobs also by their bare key).
    """
    scope: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, entries in resources.items():
        if not isinstance(entries, Mapping):
            continue
        out: dict[str, dict[str, Any]] = {}
        for key, fields in entries.items():
            fields = fields if isinstance(fields, Mapping) else {}
            values = dict(fields)
            if kind == "jobs":
                values["id"] = ids.get(f"jobs.{key}", ids.get(str(key), 0))
                values.setdefault("name", key)
            else:
                values["id"] = ids.get(f"{kind}.{key}", placeholder_id(kind, str(key), fields))
            if kind == "volumes":
                values["volume_path"] = "/Volumes/" + placeholder_id(
                    kind, str(key), fields
                ).replace(".", "/")
            out[str(key)] = values
        scope[str(kind)] = out
    return scope


def pipelines_engine() -> Any:
    """The pipelines engine's bundle hook, `headrace.engine.pipelines.deploy_bundle_pipeline`
    (`(store, *, key, source, spec) -> pipeline_id`), or None while there is none."""
    try:
        from headrace.engine import pipelines  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(pipelines, "deploy_bundle_pipeline", None)


def kind_warnings(resources: Mapping[str, Any]) -> list[str]:
    """One warning per resource kind Headrace does not act on (naming its keys)."""
    out = []
    for kind, entries in resources.items():
        if kind == "pipelines" and entries and pipelines_engine() is None:
            keys = ", ".join(str(k) for k in entries) if isinstance(entries, Mapping) else ""
            out.append(
                f"resources.pipelines ({keys}): kept in the bundle; this Headrace has no "
                "pipelines engine to deploy them to yet"
            )
        if kind == "jobs" or kind in ACTED_KINDS:
            continue
        keys = ", ".join(str(k) for k in entries) if isinstance(entries, Mapping) else ""
        if kind in KNOWN_KINDS:
            out.append(
                f"resources.{kind} ({keys}): Headrace does not create {kind}; ignored "
                "(references to their fields still resolve)"
            )
        else:
            out.append(f"resources.{kind}: unknown resource kind; ignored")
    return out


def catalog_objects(resources: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, key, fields) of the schemas, volumes and secret scopes to create, in that order."""
    out = []
    for kind in ("schemas", "volumes", "secret_scopes"):
        entries = resources.get(kind)
        if isinstance(entries, Mapping):
            for key, fields in entries.items():
                if isinstance(fields, Mapping):
                    out.append((kind, str(key), dict(fields)))
    return out


def create_catalog_objects(
    resources: Mapping[str, Any], home: Path, *, secrets: Path | None = None
) -> list[str]:
    """Create the bundle's schemas, volumes and secret scopes here; returns what was made.

    Volumes are the folders `/Volumes/<catalog>/<schema>/<volume>` means to Headrace's compute
    (`headrace.compute.volumes`); a schema is its folder in the shared Spark warehouse
    (`<schema>.db`, what `CREATE SCHEMA` makes; Spark registers it on first use with
    `CREATE SCHEMA IF NOT EXISTS`); a secret scope is a folder of the secrets directory.
    """
    from headrace.compute.catalog import warehouse_dir
    from headrace.compute.volumes import volume_path

    made = []
    for kind, key, fields in catalog_objects(resources):
        name = str(fields.get("name") or key)
        catalog = str(fields.get("catalog_name") or "main")
        if kind == "secret_scopes":
            folder = (secrets if secrets is not None else _secrets_dir(home)) / _safe(name)
        elif kind == "schemas":
            folder = warehouse_dir(home) / f"{_safe(name)}.db"
        else:
            schema = str(fields.get("schema_name") or "default")
            folder = volume_path(home, _safe(catalog), _safe(schema), _safe(name))
        folder.mkdir(parents=True, exist_ok=True)
        made.append(f"{kind}.{key}")
    return made


def _secrets_dir(home: Path) -> Path:
    explicit = os.environ.get("HEADRACE_SECRETS_DIR")
    return Path(explicit).expanduser() if explicit else home / "secrets"


def _safe(name: str) -> str:
    """A name as one path segment (no separators, no `..`)."""
    cleaned = name.replace(os.sep, "_").replace("/", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned
