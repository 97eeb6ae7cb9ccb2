"""`engine.jobs.reset_job` with grants (the UI editor's save): settings and grants together."""

from __future__ import annotations

import pytest

from headrace.engine import jobs as job_service
from headrace.errors import SpecError
from headrace.store import jobs as job_store
from headrace.store.db import Store

ALICE = job_service.Principal("alice")
SETTINGS = {"name": "j", "tasks": [{"task_key": "a", "shell_command_task": {"command": "true"}}]}


def _state(store: Store, job_id: int) -> tuple[int | None, list[dict[str, str]]]:
    with store.read() as conn:
        return job_store.latest_version(conn, job_id), job_store.permissions_of(conn, job_id)


def test_new_settings_and_grants_are_written_together(store: Store) -> None:
    job_id = job_service.create_job(store, ALICE, SETTINGS)
    grants = [{"user_name": "bob", "permission_level": "CAN_MANAGE_RUN"}]
    job_service.reset_job(
        store, ALICE, job_id, {**SETTINGS, "name": "j2"}, access_control_list=grants
    )
    version, acl = _state(store, job_id)
    assert version == 2
    assert {(r["principal"], r["level"]) for r in acl} == {
        ("alice", "IS_OWNER"),
        ("bob", "CAN_MANAGE_RUN"),
    }


def test_bad_grants_leave_the_settings_unsaved(store: Store) -> None:
    job_id = job_service.create_job(store, ALICE, SETTINGS)
    before = _state(store, job_id)
    two_owners = [
        {"user_name": "bob", "permission_level": "IS_OWNER"},
        {"user_name": "carol", "permission_level": "IS_OWNER"},
    ]
    with pytest.raises(SpecError):
        job_service.reset_job(
            store, ALICE, job_id, {**SETTINGS, "name": "j2"}, access_control_list=two_owners
        )
    assert _state(store, job_id) == before
    with store.read() as conn:
        assert job_store.get_job(conn, job_id).settings["name"] == "j"
