"""dbt_task fixtures: the real CLI and server, a real dbt-core in a uv environment.

Building the dbt environment takes a while; the tests of a session share one folder of
environments (linked as each home's `envs/`), as the tasks of one home would.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace, Server, hr, reap


@pytest.fixture(scope="session")
def dbt_envs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt-envs")


@pytest.fixture
def dbt_hr(hr: Headrace, dbt_envs: Path) -> Headrace:
    (hr.home / "envs").symlink_to(dbt_envs, target_is_directory=True)
    return hr


@pytest.fixture(scope="module")
def dbt_server(tmp_path_factory: pytest.TempPathFactory, dbt_envs: Path) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("dbt-server"), workers=2)
    (srv.home / "envs").symlink_to(dbt_envs, target_is_directory=True)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def make_project(folder: Path, models: dict[str, str], files: dict[str, str] | None = None) -> Path:
    """A dbt project named `demo` (profile `demo`) with the given models and files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dbt_project.yml").write_text(
        "name: demo\nversion: '1.0'\nconfig-version: 2\nprofile: demo\n"
    )
    (folder / "models").mkdir(exist_ok=True)
    for name, sql in models.items():
        (folder / "models" / name).write_text(textwrap.dedent(sql).lstrip())
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


THREE_MODELS = {
    "orders.sql": (
        "select id, id % 3 as customer from "
        "(values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as t(id)"
    ),
    "per_customer.sql": (
        "select customer, count(*) as n from {{ ref('orders') }} group by customer"
    ),
    "summary.sql": (
        "{{ config(materialized='table') }}\n"
        "select count(*) as customers, sum(n) as orders from {{ ref('per_customer') }}"
    ),
}

__all__ = ["THREE_MODELS", "dbt_envs", "dbt_hr", "dbt_server", "hr", "make_project", "reap"]
