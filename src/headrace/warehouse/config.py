"""Which database a `warehouse_id` names.

- `None`, `""` or `"default"`: the embedded DuckDB file `<HEADRACE_HOME>/warehouse/default.duckdb`
  (zero setup; tables persist across runs), unless `default` is configured below.
- any other id: a SQLAlchemy URL configured once, by environment or by file:
  1. `HEADRACE_WAREHOUSE_<ID>_URL` (the id upper-cased, `-` and `.` as `_`);
  2. `warehouses.<id>.url` in the YAML file `HEADRACE_WAREHOUSES`, else
     `<HEADRACE_HOME>/warehouses.yml`.
  A `duckdb:///path` URL names another embedded DuckDB file (no SQLAlchemy dialect needed);
  `spark://` runs the SQL on the data directory's warm Spark server, `sc://HOST:PORT` on that
  Spark Connect server (both on the shared Spark catalog: `warehouse/spark_backend.py`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headrace.config import default_home
from headrace.warehouse.errors import WarehouseError

DEFAULT_ID = "default"
CONFIG_FILE_ENV = "HEADRACE_WAREHOUSES"
# Environment variables a task process needs to find warehouses (the worker passes them on).
ENV_PREFIX = "HEADRACE_WAREHOUSE"
_DUCKDB_SCHEME = "duckdb:///"


@dataclass(frozen=True)
class Warehouse:
    """A resolved warehouse: an embedded DuckDB file, or a SQLAlchemy URL."""

    warehouse_id: str
    duckdb_path: Path | None = None
    url: str | None = None


def resolve(warehouse_id: str | None, *, home: Path | None = None) -> Warehouse:
    """The warehouse `warehouse_id` names.

    Raises:
        WarehouseError: the id is not configured, or the configuration is unreadable.
    """
    home = home if home is not None else default_home()
    wid = warehouse_id or DEFAULT_ID
    url = os.environ.get(env_name(wid)) or _file_url(wid, home)
    if url is None:
        if wid == DEFAULT_ID:
            return Warehouse(wid, duckdb_path=home / "warehouse" / "default.duckdb")
        raise WarehouseError(
            f"no warehouse named {wid!r}: configure its SQLAlchemy URL in {env_name(wid)} "
            f"or under 'warehouses: {{{wid}: {{url: ...}}}}' in {config_path(home)} "
            "(omit warehouse_id, or use 'default', for the embedded DuckDB warehouse)"
        )
    if url.startswith(_DUCKDB_SCHEME):
        return Warehouse(wid, duckdb_path=Path(url[len(_DUCKDB_SCHEME) :]).expanduser())
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]  # psycopg 3, not psycopg2
    return Warehouse(wid, url=url)


def env_name(warehouse_id: str) -> str:
    """The environment variable that configures a warehouse's URL."""
    return f"{ENV_PREFIX}_{re.sub(r'[^A-Za-z0-9]', '_', warehouse_id).upper()}_URL"


def config_path(home: Path) -> Path:
    """The warehouses file: `HEADRACE_WAREHOUSES`, else `<home>/warehouses.yml`."""
    env = os.environ.get(CONFIG_FILE_ENV)
    return Path(env).expanduser() if env else home / "warehouses.yml"


def _file_url(warehouse_id: str, home: Path) -> str | None:
    path = config_path(home)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WarehouseError(f"cannot read {path}: {exc}") from None
    import yaml

    from headrace.errors import SpecError
    from headrace.spec.bounds import load_yaml

    try:
        data: Any = load_yaml(raw)  # aliases and nesting bounded (issue 11)
    except yaml.YAMLError as exc:
        raise WarehouseError(f"{path} is not valid YAML: {exc}") from None
    except SpecError as exc:
        raise WarehouseError(f"{path}: {exc}") from None
    table = data.get("warehouses") if isinstance(data, dict) else None
    if data is not None and not isinstance(table, dict):
        raise WarehouseError(f"{path}: expected a mapping 'warehouses: {{ID: {{url: ...}}}}'")
    entry = (table or {}).get(warehouse_id)
    if entry is None:
        return None
    url = entry.get("url") if isinstance(entry, dict) else None
    if not isinstance(url, str) or not url:
        raise WarehouseError(f"{path}: warehouses.{warehouse_id}.url must be a non-empty string")
    return os.path.expandvars(url)
