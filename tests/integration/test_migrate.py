"""Migrations (headrace.store.migrate, headrace.store.db): Alembic's result equals the models."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from headrace.store.db import SCHEMA_HEAD, current_revision, open_store
from headrace.store.migrate import head_revision, upgrade
from headrace.store.schema import metadata


def test_migrated_schema_equals_the_models(db_url):
    """Running every Alembic migration on an empty database gives exactly the models."""
    store = open_store(db_url, migrate=False)
    try:
        upgrade(store, shortcut=False)
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert current_revision(store) == SCHEMA_HEAD
        with store.read() as conn:
            rows = conn.execute(text("SELECT name, value FROM counters ORDER BY name")).all()
        assert [tuple(r) for r in rows] == [("job_id", 0), ("run_id", 999)]
    finally:
        store.dispose()


def test_a_new_store_created_from_the_models_equals_the_models(store):
    """The shortcut for empty databases (no Alembic load) gives the same schema."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrations_create_every_table_of_the_models(store):
    tables = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_schema_head_is_the_newest_migration():
    assert head_revision() == SCHEMA_HEAD


def test_open_store_stamps_the_head_revision(store):
    assert current_revision(store) == SCHEMA_HEAD


def test_id_counter_is_seeded_once(store):
    with store.read() as conn:
        rows = conn.execute(text("SELECT name, value FROM counters ORDER BY name")).all()
    assert [tuple(r) for r in rows] == [("job_id", 0), ("run_id", 999)]


def test_opening_twice_is_a_no_op(db_url, store, monkeypatch):
    with store.begin() as conn:
        conn.execute(text("UPDATE counters SET value = 4242 WHERE name = 'run_id'"))

    def no_upgrade(_store):
        raise AssertionError("an up-to-date store must not run migrations")

    import headrace.store.migrate as migrate

    monkeypatch.setattr(migrate, "upgrade", no_upgrade)
    again = open_store(db_url)
    try:
        assert current_revision(again) == SCHEMA_HEAD
        with again.read() as conn:
            value = conn.execute(
                text("SELECT value FROM counters WHERE name = 'run_id'")
            ).scalar_one()
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert value == 4242  # data kept, counters not re-seeded
        assert [v[0] for v in versions] == [SCHEMA_HEAD]
    finally:
        again.dispose()


def test_two_threads_open_a_fresh_store_at_once(db_url):
    barrier = threading.Barrier(2)

    def open_one(_i: int) -> str | None:
        barrier.wait(timeout=10)
        opened = open_store(db_url)
        try:
            return current_revision(opened)
        finally:
            opened.dispose()

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(open_one, range(2))) == [SCHEMA_HEAD, SCHEMA_HEAD]
    store = open_store(db_url)
    try:
        assert set(metadata.tables) <= set(inspect(store.engine).get_table_names())
        with store.engine.connect() as conn:
            counters = conn.execute(text("SELECT name, value FROM counters ORDER BY name")).all()
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [tuple(r) for r in counters] == [("job_id", 0), ("run_id", 999)]  # seeded once
        assert [v[0] for v in versions] == [SCHEMA_HEAD]
    finally:
        store.dispose()


def test_upgrading_a_0002_store_keeps_its_jobs_and_never_reuses_their_ids(db_url):
    """Migration 0003 seeds the job id counter from the jobs already there."""
    store = open_store(db_url, migrate=False)
    try:
        upgrade(store, "0002", shortcut=False)
        with store.engine.begin() as conn:
            for job_id in (1, 2, 7):
                conn.execute(
                    text(
                        "INSERT INTO jobs (job_id, name, settings, created_time) "
                        "VALUES (:id, 'j', '{}', 0)"
                    ),
                    {"id": job_id},
                )
            conn.execute(text("DELETE FROM jobs WHERE job_id = 7"))
        upgrade(store, shortcut=False)
        from headrace.store import jobs as job_store

        with store.begin() as conn:
            assert job_store.create_job(conn, {"name": "new"}, now_ms=0) == 3
        with store.begin() as conn:
            job_store.delete_job(conn, 3)
        with store.begin() as conn:
            assert job_store.create_job(conn, {"name": "newer"}, now_ms=0) == 4
    finally:
        store.dispose()


def _parent_index_sql(store) -> str:  # type: ignore[no-untyped-def]
    """ix_task_runs_parent's definition as the database keeps it, spaces normalised."""
    if store.is_sqlite:
        query = "SELECT sql FROM sqlite_master WHERE name = 'ix_task_runs_parent'"
    else:
        query = (
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_task_runs_parent'"
            " AND schemaname = current_schema()"
        )
    with store.engine.connect() as conn:
        return " ".join(str(conn.execute(text(query)).scalar_one()).split()).lower()


def test_the_parent_index_holds_only_iterations_created_or_migrated(db_url):
    """Migration 0013 (issue 18): partial on both databases, whether created from the models
    (plain DDL on PostgreSQL, see schema.py) or migrated; Alembic does not compare WHERE."""
    created = open_store(db_url)
    try:
        assert "where" in _parent_index_sql(created)
        assert "parent_id is not null" in _parent_index_sql(created).replace("(", "").replace(
            ")", ""
        )
        with created.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
            metadata.drop_all(conn)
    finally:
        created.dispose()
    migrated = open_store(db_url, migrate=False)
    try:
        upgrade(migrated, "0012", shortcut=False)
        assert "where" not in _parent_index_sql(migrated)
        upgrade(migrated, shortcut=False)
        definition = _parent_index_sql(migrated).replace("(", "").replace(")", "")
        assert "where parent_id is not null" in definition
        assert current_revision(migrated) == SCHEMA_HEAD
    finally:
        migrated.dispose()
