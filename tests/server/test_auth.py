"""Tokens and job permissions: who may see, run and change a job."""

from __future__ import annotations

import json

import httpx
import pytest
from databricks.sdk.errors import DatabricksError, PermissionDenied, Unauthenticated
from databricks.sdk.service import jobs

from headrace.config import Settings
from headrace.engine.coordinator import now_ms
from headrace.store import tokens as token_store
from headrace.store.db import open_store
from support import Server, User, shell

from .helpers import result


def test_a_job_is_invisible_to_another_user(alice: User, bob: User) -> None:
    job_id = alice.w.jobs.create(name="perm-private", tasks=[shell("t", "true")]).job_id

    with pytest.raises(PermissionDenied, match="bob"):
        bob.w.jobs.get(job_id)
    assert job_id not in {j.job_id for j in bob.w.jobs.list()}
    assert job_id not in {j.job_id for j in bob.w.jobs.list(name="perm-private")}
    with pytest.raises(PermissionDenied):
        bob.w.jobs.run_now(job_id)
    with pytest.raises(PermissionDenied):
        bob.w.jobs.delete(job_id)

    run_id = result(alice.w, alice.w.jobs.run_now(job_id)).run_id
    with pytest.raises(PermissionDenied):
        bob.w.jobs.get_run(run_id)
    assert run_id not in {r.run_id for r in bob.w.jobs.list_runs(job_id=job_id)}
    assert job_id in {j.job_id for j in alice.w.jobs.list(name="perm-private")}


def test_can_manage_run_may_run_but_not_change_the_job(alice: User, bob: User) -> None:
    job_id = alice.w.jobs.create(
        name="perm-manage-run",
        tasks=[shell("t", "echo run by bob")],
        access_control_list=[
            jobs.JobAccessControlRequest(
                user_name="bob", permission_level=jobs.JobPermissionLevel.CAN_MANAGE_RUN
            )
        ],
    ).job_id

    job = bob.w.jobs.get(job_id)
    assert job.settings.name == "perm-manage-run"
    assert job.creator_user_name == "alice"
    assert job_id in {j.job_id for j in bob.w.jobs.list(name="perm-manage-run")}

    run = result(bob.w, bob.w.jobs.run_now(job_id))
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.creator_user_name == "bob"
    assert bob.w.jobs.get_run_output(run.tasks[0].run_id).logs.strip() == "run by bob"
    assert alice.w.jobs.get_run(run.run_id).run_id == run.run_id

    with pytest.raises(PermissionDenied, match="CAN_MANAGE"):
        bob.w.jobs.update(job_id, new_settings=jobs.JobSettings(name="bob was here"))
    with pytest.raises(PermissionDenied, match="CAN_MANAGE"):
        bob.w.jobs.reset(job_id, jobs.JobSettings(name="bob was here", tasks=[shell("t", "true")]))
    with pytest.raises(PermissionDenied, match="CAN_MANAGE"):
        bob.w.jobs.delete(job_id)
    assert alice.w.jobs.get(job_id).settings.name == "perm-manage-run"


def test_an_admin_sees_every_job(alice: User, admin: User) -> None:
    job_id = alice.w.jobs.create(name="perm-admin", tasks=[shell("t", "true")]).job_id
    assert admin.w.jobs.get(job_id).creator_user_name == "alice"
    assert job_id in {j.job_id for j in admin.w.jobs.list(name="perm-admin")}


def _unauthenticated(server: Server, token: str) -> DatabricksError:
    with pytest.raises(DatabricksError) as err:
        list(server.client(token).jobs.list())
    return err.value


def test_a_wrong_token_is_401(server: Server) -> None:
    err = _unauthenticated(server, "dapi-not-a-headrace-token")
    assert isinstance(err, Unauthenticated)
    assert "Invalid access token" in str(err)


def test_a_revoked_token_is_401(server: Server) -> None:
    token = server.token("revoked-user")
    assert list(server.client(token).jobs.list()) == []
    listed = server.cli("tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (mine,) = [t for t in json.loads(listed.stdout)["tokens"] if t["user_name"] == "revoked-user"]
    revoked = server.cli("tokens", "revoke", str(mine["token_id"]))
    assert revoked.returncode == 0, revoked.stderr

    err = _unauthenticated(server, token)
    assert isinstance(err, Unauthenticated)
    assert "revoked" in str(err)


def test_an_expired_token_is_401(server: Server) -> None:
    # The CLI's shortest lifetime is a minute: write an already-expired token to the store.
    store = open_store(Settings.load(home=str(server.home)).db_url)
    try:
        with store.begin() as conn:
            _, token = token_store.create_token(
                conn,
                user_name="expired-user",
                admin=False,
                now_ms=now_ms() - 120_000,
                expiry_time=now_ms() - 60_000,
            )
    finally:
        store.dispose()
    err = _unauthenticated(server, token)
    assert isinstance(err, Unauthenticated)
    assert "expired" in str(err)


def test_a_token_with_a_lifetime_works_until_it_ends(server: Server) -> None:
    token = server.token("short-lived", lifetime="1h")
    assert list(server.client(token).jobs.list()) == []


def test_no_token_is_401_but_health_and_config_probe_are_open(server: Server) -> None:
    bare = httpx.get(f"{server.url}/api/2.2/jobs/list")
    assert bare.status_code == 401
    assert bare.json()["error_code"] == "UNAUTHENTICATED"
    basic = httpx.get(f"{server.url}/api/2.2/jobs/list", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401

    probe = httpx.get(f"{server.url}/.well-known/databricks-config")
    assert probe.status_code == 200 and probe.json() == {}
    health = httpx.get(f"{server.url}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_current_user_is_the_token_owner(alice: User) -> None:
    assert alice.w.current_user.me().user_name == "alice"
