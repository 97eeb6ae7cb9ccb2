"""The Secrets API through the SDK's `w.secrets`, backing dbutils.secrets in tasks."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from databricks.sdk.errors import NotFound, PermissionDenied, ResourceAlreadyExists
from databricks.sdk.service import jobs, workspace

from support import Server, User, settle


def test_scopes_secrets_and_acls(alice: User, bob: User, server: Server):
    w = alice.w
    w.secrets.create_scope("alice-scope")
    with pytest.raises(ResourceAlreadyExists):
        w.secrets.create_scope("alice-scope")
    assert "alice-scope" in [s.name for s in w.secrets.list_scopes()]
    w.secrets.put_secret("alice-scope", "db-password", string_value="hunter2-long")
    w.secrets.put_secret("alice-scope", "blob", bytes_value=base64.b64encode(b"\x00\x01").decode())
    listed = list(w.secrets.list_secrets("alice-scope"))
    assert [s.key for s in listed] == ["blob", "db-password"]
    assert all(s.last_updated_timestamp for s in listed)
    assert "hunter2" not in repr(listed)
    got = w.secrets.get_secret("alice-scope", "db-password")
    assert base64.b64decode(got.value) == b"hunter2-long"

    # Encrypted at rest, with a key file only the server's user reads, outside the scope.
    stored = server.home / "secrets" / "alice-scope" / "db-password"
    assert b"hunter2" not in stored.read_bytes()
    key = server.home / "secrets.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    # Bob holds nothing on alice's scope until she grants it.
    with pytest.raises(PermissionDenied):
        bob.w.secrets.get_secret("alice-scope", "db-password")
    w.secrets.put_acl("alice-scope", "bob", workspace.AclPermission.READ)
    assert base64.b64decode(bob.w.secrets.get_secret("alice-scope", "db-password").value)
    with pytest.raises(PermissionDenied):
        bob.w.secrets.put_secret("alice-scope", "x", string_value="nope")
    acls = {a.principal: a.permission for a in w.secrets.list_acls("alice-scope")}
    assert acls == {"alice": workspace.AclPermission.MANAGE, "bob": workspace.AclPermission.READ}
    assert w.secrets.get_acl("alice-scope", "bob").permission == workspace.AclPermission.READ
    w.secrets.delete_acl("alice-scope", "bob")
    with pytest.raises(PermissionDenied):
        bob.w.secrets.list_secrets("alice-scope")

    w.secrets.delete_secret("alice-scope", "blob")
    with pytest.raises(NotFound):
        w.secrets.delete_secret("alice-scope", "blob")
    w.secrets.delete_scope("alice-scope")
    with pytest.raises(NotFound):
        w.secrets.list_secrets("alice-scope")


def test_a_task_reads_an_api_secret_through_dbutils_and_it_is_redacted(
    alice: User, server: Server, tmp_path: Path
):
    w = alice.w
    w.secrets.create_scope("task-scope")
    w.secrets.put_secret("task-scope", "token", string_value="s3cr3t-value-123")
    script = tmp_path / "uses_secret.py"
    script.write_text(
        "from databricks.sdk.runtime import dbutils\n"
        "value = dbutils.secrets.get('task-scope', 'token')\n"
        "assert value == 's3cr3t-value-123', 'wrong value'\n"
        "print('the value is', value)\n"
    )
    run = w.jobs.submit(
        run_name="secret reader",
        tasks=[
            jobs.SubmitTask(
                task_key="t", spark_python_task=jobs.SparkPythonTask(python_file=str(script))
            )
        ],
    ).response
    done = settle(w, run.run_id)
    assert done.state.result_state == jobs.RunResultState.SUCCESS, done.state
    out = w.jobs.get_run_output(done.tasks[0].run_id)
    assert "the value is [REDACTED]" in out.logs
    assert "s3cr3t" not in out.logs
