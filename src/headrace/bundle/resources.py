"""A bundle's resources other than jobs: what `${resources.<kind>.<key>.<field>}` gives, and what
Headrace does with each kind.

- `schemas`, `volumes`: made in the local catalog (`create_catalog_objects`) on `bundle run` and
  on deploy to a server on this machine's data directory.
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


def kind_warnings(resources: Mapping[str, Any]) -> list[str]:
    """One warning per resource kind Headrace does not act on (naming its keys)."""
    out = []
    for kind, entries in resources.items():
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

    Schemas and volumes go through Headrace's catalog (`headrace.compute.catalog`) when it is
    there, else they are folders of the data directory (`catalog/<catalog>/<schema>`,
    `Volumes/<catalog>/<schema>/<volume>`); secret scopes are folders of the secrets directory.
    """
    made = []
    for kind, key, fields in catalog_objects(resources):
        name = str(fields.get("name") or key)
        if kind == "secret_scopes":
            from headrace.runtime.secrets import secrets_dir

            folder = (secrets if secrets is not None else secrets_dir()) / _safe(name)
            folder.mkdir(parents=True, exist_ok=True)
        elif kind == "schemas":
            catalog = str(fields.get("catalog_name") or "main")
            _catalog_call("create_schema", catalog, name, home=home) or (
                home / "catalog" / _safe(catalog) / _safe(name)
            ).mkdir(parents=True, exist_ok=True)
        else:
            catalog = str(fields.get("catalog_name") or "main")
            schema = str(fields.get("schema_name") or "default")
            _catalog_call("create_volume", catalog, schema, name, home=home) or (
                home / "Volumes" / _safe(catalog) / _safe(schema) / _safe(name)
            ).mkdir(parents=True, exist_ok=True)
        made.append(f"{kind}.{key}")
    return made


def _catalog_call(function: str, *args: str, home: Path) -> bool:
    """Call `headrace.compute.catalog.<function>` if the compute layer provides it."""
    try:
        from headrace.compute import catalog  # type: ignore[attr-defined]
    except ImportError:
        return False
    target = getattr(catalog, function, None)
    if target is None:
        return False
    target(*args, home=home)
    return True


def _safe(name: str) -> str:
    """A name as one path segment (no separators, no `..`)."""
    cleaned = name.replace(os.sep, "_").replace("/", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned
