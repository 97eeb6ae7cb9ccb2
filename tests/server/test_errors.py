"""Errors in Databricks' shape, mapped to the SDK's own exception classes; never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from databricks.sdk.errors import (
    BadRequest,
    InvalidParameterValue,
    NotFound,
    ResourceDoesNotExist,
)
from databricks.sdk.service import jobs

from support import Server, User, shell

MISSING = 987_654_321


def test_run_now_of_a_missing_job_is_invalid_parameter_value(alice: User) -> None:
    with pytest.raises(InvalidParameterValue, match=f"Job {MISSING} does not exist."):
        alice.w.jobs.run_now(MISSING)


def test_get_of_a_missing_job_or_run_is_resource_does_not_exist(alice: User) -> None:
    with pytest.raises(ResourceDoesNotExist, match=f"Job {MISSING} does not exist."):
        alice.w.jobs.get(MISSING)
    with pytest.raises(ResourceDoesNotExist, match=f"Run {MISSING} does not exist."):
        alice.w.jobs.get_run(MISSING)
    with pytest.raises(ResourceDoesNotExist, match=f"Run {MISSING} does not exist."):
        alice.w.jobs.get_run_output(MISSING)
    with pytest.raises(InvalidParameterValue, match=f"Run {MISSING} does not exist."):
        alice.w.jobs.cancel_run(MISSING)


def test_a_job_with_a_cycle_is_refused_with_the_cycle(alice: User) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        alice.w.jobs.create(
            name="err-cycle",
            tasks=[
                shell("a", "true", depends_on=[jobs.TaskDependency(task_key="b")]),
                shell("b", "true", depends_on=[jobs.TaskDependency(task_key="a")]),
            ],
        )
    message = str(err.value)
    assert "tasks[0].depends_on[0]" in message
    assert "cycle" in message and "a -> b -> a" in message
    assert list(alice.w.jobs.list(name="err-cycle")) == []


def _post(user: User, path: str, body: Any) -> Any:
    return user.w.api_client.do("POST", path, body=body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "err-unknown", "bogus_field": 1}, "bogus_field"),
        ({"name": "err-type", "max_concurrent_runs": "many"}, "max_concurrent_runs"),
        (
            {
                "name": "err-nested-type",
                "tasks": [
                    {"task_key": "a", "shell_command_task": {"command": "true"}},
                    {"task_key": "b", "timeout_seconds": "soon", "shell_command_task": {}},
                ],
            },
            "tasks[1].timeout_seconds",
        ),
        (
            {
                "name": "err-nested-unknown",
                "tasks": [{"task_key": "a", "shell_command_task": {"command": "x", "shel": 1}}],
            },
            "tasks[0].shell_command_task.shel",
        ),
        ({"name": "err-no-type", "tasks": [{"task_key": "a"}]}, "tasks[0]"),
    ],
)
def test_bad_job_bodies_name_the_field(alice: User, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        _post(alice, "/api/2.2/jobs/create", body)
    assert field in str(err.value)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert list(alice.w.jobs.list(name=body["name"])) == []


def test_bad_run_bodies_name_the_field(alice: User) -> None:
    job_id = alice.w.jobs.create(name="err-run-bodies", tasks=[shell("t", "true")]).job_id
    cases = [
        ("/api/2.2/jobs/run-now", {"job_id": "seven"}, "job_id"),
        ("/api/2.2/jobs/run-now", {}, "job_id"),
        ("/api/2.2/jobs/run-now", {"job_id": job_id, "job_parameters": [1]}, "job_parameters"),
        ("/api/2.2/jobs/run-now", {"job_id": job_id, "queue": True}, "queue"),
        ("/api/2.2/jobs/runs/submit", {"run_name": "x", "tasks": [], "nope": 1}, "nope"),
        ("/api/2.2/jobs/update", {"job_id": job_id, "new_settings": []}, "new_settings"),
        (
            "/api/2.2/jobs/update",
            {"job_id": job_id, "fields_to_remove": "tags"},
            "fields_to_remove",
        ),
        ("/api/2.2/jobs/reset", {"job_id": job_id}, "new_settings"),
        ("/api/2.2/jobs/runs/repair", {"run_id": "x"}, "run_id"),
    ]
    for path, body, field in cases:
        with pytest.raises(BadRequest) as err:
            _post(alice, path, body)
        assert isinstance(err.value, InvalidParameterValue), (path, body, err.value)
        assert field in str(err.value), (path, body, str(err.value))


def _raw(server: Server, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    return httpx.request(method, f"{server.url}{path}", headers=headers, **kw)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"name": "x",}', b"[1, 2]", b'"a string"', b"42", b"null", b"\xff\xfe"],
)
@pytest.mark.parametrize("path", ["/api/2.2/jobs/create", "/api/2.2/jobs/run-now"])
def test_malformed_and_non_object_bodies_are_400(
    server: Server, alice: User, path: str, content: bytes
) -> None:
    response = _raw(
        server,
        alice.token,
        "POST",
        path,
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) >= {"error_code", "message"}
    assert body["error_code"] == "MALFORMED_REQUEST"
    assert body["message"].startswith("Invalid JSON given in the body of the request")


def test_a_body_without_a_json_content_type_is_read_as_json(server: Server, alice: User) -> None:
    """`curl -d '{...}'` (form content type) is how many people call the Jobs API."""
    job_id = alice.w.jobs.create(name="err-curl", tasks=[shell("t", "true")]).job_id
    response = _raw(
        server,
        alice.token,
        "POST",
        "/api/2.2/jobs/run-now",
        content=f'{{"job_id": {job_id}}}'.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["run_id"], int)


def test_bad_query_values_are_400(server: Server, alice: User) -> None:
    for path in (
        "/api/2.2/jobs/get?job_id=abc",
        "/api/2.2/jobs/get",
        "/api/2.2/jobs/list?limit=1000",
        "/api/2.2/jobs/list?page_token=zzz",
        "/api/2.2/jobs/runs/list?limit=-1",
        "/api/2.2/jobs/runs/list?active_only=maybe",
        "/api/2.2/jobs/runs/get?run_id=",
    ):
        response = _raw(server, alice.token, "GET", path)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE", path


def test_unknown_routes_are_404_json(server: Server, alice: User) -> None:
    response = _raw(server, alice.token, "GET", "/api/2.2/jobs/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": "No API found for 'GET /api/2.2/jobs/no-such-thing'",
    }
    with pytest.raises(NotFound, match="No API found"):
        alice.w.api_client.do("GET", "/api/2.2/jobs/no-such-thing")
    wrong_method = _raw(server, alice.token, "DELETE", "/api/2.2/jobs/get")
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()) == {"error_code", "message"}


@pytest.mark.parametrize(
    "value", [b"1e999", b"Infinity", b"NaN", b"1.5", b"99999999999999999999999", b"true", b'"7x"']
)
def test_ids_that_are_no_int64_are_400(server: Server, alice: User, value: bytes) -> None:
    for path, key in (
        ("/api/2.2/jobs/run-now", b"job_id"),
        ("/api/2.2/jobs/runs/cancel", b"run_id"),
    ):
        response = _raw(
            server,
            alice.token,
            "POST",
            path,
            content=b'{"' + key + b'": ' + value + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (path, value, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert key.decode() in response.json()["message"]


def test_query_ids_that_are_no_int64_are_400(server: Server, alice: User) -> None:
    huge = "99999999999999999999999"
    for path in (
        f"/api/2.2/jobs/get?job_id={huge}",
        f"/api/2.2/jobs/runs/get?run_id={huge}",
        f"/api/2.2/jobs/runs/get-output?run_id={huge}",
        f"/api/2.2/jobs/runs/list?job_id={huge}",
        f"/api/2.2/jobs/runs/list?start_time_from={huge}",
        f"/api/2.2/jobs/list?page_token={huge}",
    ):
        response = _raw(server, alice.token, "GET", path)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE", path
    far = _raw(server, alice.token, "GET", f"/api/2.2/jobs/list?offset={2**63 - 1}")
    assert far.status_code == 200 and far.json()["jobs"] == []


def test_settings_out_of_int64_range_are_refused_at_create(alice: User) -> None:
    body = {
        "name": "err-huge-timeout",
        "timeout_seconds": 2**70,
        "tasks": [{"task_key": "a", "shell_command_task": {"command": "true"}}],
    }
    try:
        with pytest.raises(InvalidParameterValue, match="timeout_seconds"):
            _post(alice, "/api/2.2/jobs/create", body)
    finally:
        for job in alice.w.jobs.list(name="err-huge-timeout"):
            alice.w.jobs.delete(job.job_id)
