"""`run_as`: a job's runs execute as its run_as identity (permission checks as that user) and
show it; setting another identity needs an admin, changing it needs IS_OWNER."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databricks.sdk.errors import PermissionDenied
from databricks.sdk.service import jobs

from support import Server, settle, shell

ACL = jobs.JobAccessControlRequest
LEVEL = jobs.JobPermissionLevel


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("run-as-server"), workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def test_runs_execute_and_are_checked_as_the_run_as_user(server: Server) -> None:
    admin, alice = server.user("root", admin=True), server.user("alice")
    server.user("bob")
    with pytest.raises(PermissionDenied, match="only an admin may make a job run as"):
        alice.w.jobs.create(
            name="sneaky", run_as=jobs.JobRunAs(user_name="bob"), tasks=[shell("a", "true")]
        )
    child = admin.w.jobs.create(name="child", tasks=[shell("a", "echo child")]).job_id
    parent = admin.w.jobs.create(
        name="as-bob",
        run_as=jobs.JobRunAs(user_name="bob"),
        tasks=[jobs.Task(task_key="call", run_job_task=jobs.RunJobTask(job_id=child))],
        access_control_list=[
            ACL(user_name="alice", permission_level=LEVEL.CAN_MANAGE),
        ],
    ).job_id

    # alice starts it; it runs as bob, who may not run the child job.
    run = settle(alice.w, alice.w.jobs.run_now(parent).run_id)
    raw = alice.w.api_client.do("GET", "/api/2.2/jobs/runs/get", query={"run_id": run.run_id})
    assert raw["run_as_user_name"] == "bob"
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "User bob does not have CAN_MANAGE_RUN permission on job" in run.state.state_message

    admin.w.jobs.update_permissions(
        str(child),
        access_control_list=[ACL(user_name="bob", permission_level=LEVEL.CAN_MANAGE_RUN)],
    )
    again = settle(alice.w, alice.w.jobs.run_now(parent).run_id)
    assert again.state.result_state == jobs.RunResultState.SUCCESS, again.state

    # Changing run_as needs IS_OWNER (alice has CAN_MANAGE), even to herself.
    with pytest.raises(PermissionDenied, match="IS_OWNER"):
        alice.w.jobs.update(
            parent, new_settings=jobs.JobSettings(run_as=jobs.JobRunAs(user_name="alice"))
        )
