"""jobs/create, get, list, update, reset, delete through the official SDK."""

from __future__ import annotations

import httpx
import pytest
from databricks.sdk.errors import InvalidParameterValue, ResourceDoesNotExist
from databricks.sdk.service import jobs

from support import Server, User, shell


def test_create_and_get_echo_the_settings(alice: User) -> None:
    w = alice.w
    created = w.jobs.create(
        name="crud-echo",
        description="all the fields",
        max_concurrent_runs=3,
        timeout_seconds=600,
        tags={"team": "data"},
        parameters=[jobs.JobParameterDefinition(name="day", default="monday")],
        queue=jobs.QueueSettings(enabled=False),
        tasks=[
            shell("extract", "echo extract", max_retries=2, min_retry_interval_millis=500),
            shell(
                "load",
                "echo load",
                depends_on=[jobs.TaskDependency(task_key="extract")],
                run_if=jobs.RunIf.ALL_DONE,
            ),
        ],
    )
    assert isinstance(created.job_id, int)

    job = w.jobs.get(created.job_id)
    assert job.job_id == created.job_id
    assert job.creator_user_name == "alice"
    assert job.created_time and job.created_time > 1_600_000_000_000
    s = job.settings
    assert s.name == "crud-echo"
    assert s.description == "all the fields"
    assert s.max_concurrent_runs == 3
    assert s.timeout_seconds == 600
    assert s.tags == {"team": "data"}
    assert [(p.name, p.default) for p in s.parameters] == [("day", "monday")]
    assert s.queue.enabled is False
    assert s.format == jobs.Format.MULTI_TASK
    assert [t.task_key for t in s.tasks] == ["extract", "load"]
    extract, load = s.tasks
    assert extract.max_retries == 2
    assert extract.min_retry_interval_millis == 500
    assert [d.task_key for d in load.depends_on] == ["extract"]
    assert load.run_if == jobs.RunIf.ALL_DONE


def test_list_pages_filters_by_name_and_expands_tasks(server: Server, alice: User) -> None:
    # A user of its own, so the listing holds exactly this test's jobs.
    token = server.token("pager")
    w = server.client(token)
    ids = []
    for name in ("pager-a", "pager-b", "Pager-A"):
        ids.append(w.jobs.create(name=name, tasks=[shell("t", "true")]).job_id)
        alice.w.jobs.create(name="not-for-pager")  # jobs pager may not see, in between

    listed = list(w.jobs.list(limit=1))
    assert sorted(j.job_id for j in listed) == sorted(ids)
    assert all(j.settings.tasks == [] for j in listed), "tasks only with expand_tasks"

    # The pages themselves: one job each, linked by next_page_token.
    first = httpx.get(
        f"{server.url}/api/2.2/jobs/list",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert len(first["jobs"]) == 1 and first["has_more"] is True
    assert first["next_page_token"]

    expanded = list(w.jobs.list(limit=1, expand_tasks=True))
    assert [[t.task_key for t in j.settings.tasks] for j in expanded] == [["t"]] * 3

    # The deprecated `offset` skips that many of the jobs one may see.
    assert [j.job_id for j in w.jobs.list(offset=1, limit=1)] == ids[1:]
    assert [j.job_id for j in w.jobs.list(offset=2)] == ids[2:]
    assert list(w.jobs.list(offset=3)) == []

    # `name` is an exact, case-insensitive filter.
    named = list(w.jobs.list(name="pager-a"))
    assert sorted(j.job_id for j in named) == sorted([ids[0], ids[2]])
    assert list(w.jobs.list(name="pager")) == []


def test_update_merges_tasks_by_key_and_removes_fields(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(
        name="crud-update",
        tags={"a": "1"},
        timeout_seconds=100,
        max_concurrent_runs=2,
        tasks=[shell("a", "echo a"), shell("b", "echo b"), shell("c", "echo c")],
    ).job_id

    w.jobs.update(
        job_id,
        new_settings=jobs.JobSettings(
            max_concurrent_runs=5,
            tasks=[shell("b", "echo B", timeout_seconds=7), shell("d", "echo d")],
        ),
        fields_to_remove=["tags", "tasks/c"],
    )

    s = w.jobs.get(job_id).settings
    assert s.name == "crud-update", "fields not in new_settings are kept"
    assert s.timeout_seconds == 100
    assert s.max_concurrent_runs == 5
    assert not s.tags
    assert sorted(t.task_key for t in s.tasks) == ["a", "b", "d"]
    b = next(t for t in s.tasks if t.task_key == "b")
    assert b.timeout_seconds == 7, "a task with the same key is replaced"


def test_update_that_breaks_the_dag_is_refused_whole(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(name="crud-update-bad", tasks=[shell("a", "true")]).job_id
    with pytest.raises(InvalidParameterValue) as err:
        w.jobs.update(
            job_id,
            new_settings=jobs.JobSettings(
                name="renamed",
                tasks=[shell("b", "true", depends_on=[jobs.TaskDependency(task_key="nope")])],
            ),
        )
    assert "depends_on[0].task_key" in str(err.value) and "nope" in str(err.value)
    s = w.jobs.get(job_id).settings
    assert s.name == "crud-update-bad"
    assert [t.task_key for t in s.tasks] == ["a"]


def test_reset_replaces_every_setting(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(
        name="crud-reset",
        tags={"x": "y"},
        max_concurrent_runs=4,
        tasks=[shell("a", "true"), shell("b", "true")],
    ).job_id

    w.jobs.reset(job_id, jobs.JobSettings(name="crud-reset-2", tasks=[shell("z", "true")]))

    s = w.jobs.get(job_id).settings
    assert s.name == "crud-reset-2"
    assert [t.task_key for t in s.tasks] == ["z"]
    assert not s.tags
    assert s.max_concurrent_runs == 1, "omitted fields revert to their defaults"


def test_delete_then_get_is_resource_does_not_exist(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(name="crud-delete", tasks=[shell("a", "true")]).job_id
    w.jobs.delete(job_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Job {job_id} does not exist"):
        w.jobs.get(job_id)
    assert job_id not in {j.job_id for j in w.jobs.list(name="crud-delete")}
    with pytest.raises(InvalidParameterValue, match=f"Job {job_id} does not exist"):
        w.jobs.delete(job_id)


def test_api_2_1_list_answers_like_2_2(server: Server, alice: User) -> None:
    alice.w.jobs.create(name="crud-versions", tasks=[shell("a", "true")])
    headers = {"Authorization": f"Bearer {alice.token}"}
    params = {"name": "crud-versions", "expand_tasks": "true"}
    v22 = httpx.get(f"{server.url}/api/2.2/jobs/list", params=params, headers=headers)
    v21 = httpx.get(f"{server.url}/api/2.1/jobs/list", params=params, headers=headers)
    assert v22.status_code == v21.status_code == 200
    assert v21.json() == v22.json()
    assert [j["settings"]["name"] for j in v21.json()["jobs"]] == ["crud-versions"]
