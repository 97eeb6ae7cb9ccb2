"""Alembic migrations, run on the store's own connection inside one locked transaction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from headrace.store.db import Store

# SQLAlchemy, Alembic and the table models load only when a store is created or migrated.

# The newest migration; `store.db` checks it with one cheap query so Alembic loads only when
# needed. Bump it with each new migration in migrations/versions/.
SCHEMA_HEAD = "0015"

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection=None):  # type: ignore[no-untyped-def]
    """An Alembic Config pointing at Headrace's migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(store: Store, revision: str = "head", *, shortcut: bool = True) -> None:
    """Apply migrations up to `revision`; concurrent callers serialise on a lock.

    An empty database at `head` is created from the models directly unless `shortcut=False`.
    """
    from sqlalchemy import text

    with store.engine.begin() as conn:
        if not store.is_sqlite:
            # Two servers starting together must not both migrate (issue 6).
            conn.execute(text("SELECT pg_advisory_xact_lock(7254910)"))
        if shortcut and revision == "head" and _is_empty(conn):
            _create_at_head(conn)
            return
        from alembic import command

        command.upgrade(alembic_config(conn), revision)


def _is_empty(conn: Connection) -> bool:
    from sqlalchemy import inspect

    return "alembic_version" not in inspect(conn).get_table_names()


def _create_at_head(conn: Connection) -> None:
    """A new store: create today's tables and stamp them, without loading Alembic (~0.2 s).

    The same as running every migration; tests/integration/test_migrate.py checks that the
    migrations produce exactly these tables.
    """
    from sqlalchemy import Column, MetaData, String, Table

    from headrace.store.schema import FIRST_ID, counters, metadata

    metadata.create_all(conn)
    version = Table(
        "alembic_version", MetaData(), Column("version_num", String(32), primary_key=True)
    )
    version.create(conn)
    conn.execute(version.insert().values(version_num=SCHEMA_HEAD))
    conn.execute(counters.insert().values(name="run_id", value=FIRST_ID - 1))
    conn.execute(counters.insert().values(name="job_id", value=0))


def head_revision() -> str:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""
