"""engine.permissions.plan_acl: replace and merge of a job's ACL, one owner (pure rules)."""

from __future__ import annotations

import pytest

from headrace.engine.permissions import job_permissions_to_api, plan_acl
from headrace.errors import PermissionDenied, SpecError


def row(kind: str, name: str, level: str) -> dict[str, str]:
    return {"principal_type": kind, "principal": name, "level": level}


CURRENT = [row("user", "alice", "IS_OWNER"), row("user", "bob", "CAN_VIEW")]


def levels(rows: list[dict[str, str]]) -> dict[str, str]:
    return {r["principal"]: r["level"] for r in rows}


def plan(requested: list[dict[str, str]], *, replace: bool, owner_ok: bool = False) -> list:
    return plan_acl(CURRENT, requested, replace=replace, may_change_owner=owner_ok, job_id=7)


def test_replace_keeps_the_owner_and_drops_the_rest() -> None:
    rows = plan([row("group", "users", "CAN_VIEW")], replace=True)
    assert rows[0] == row("user", "alice", "IS_OWNER")
    assert levels(rows) == {"alice": "IS_OWNER", "users": "CAN_VIEW"}
    assert levels(plan([], replace=True)) == {"alice": "IS_OWNER"}


def test_merge_adds_and_changes_levels() -> None:
    rows = plan([row("user", "bob", "CAN_MANAGE"), row("user", "carol", "CAN_VIEW")], replace=False)
    assert levels(rows) == {"alice": "IS_OWNER", "bob": "CAN_MANAGE", "carol": "CAN_VIEW"}


def test_a_principal_named_twice_gets_the_higher_level() -> None:
    rows = plan(
        [row("user", "carol", "CAN_MANAGE"), row("user", "carol", "CAN_VIEW")], replace=True
    )
    assert levels(rows)["carol"] == "CAN_MANAGE"


def test_transfer_needs_owner_or_admin_and_keeps_the_old_owner_as_manager() -> None:
    with pytest.raises(PermissionDenied, match=r"owner of job 7 \(alice\)"):
        plan([row("user", "bob", "IS_OWNER")], replace=False)
    rows = plan([row("user", "bob", "IS_OWNER")], replace=False, owner_ok=True)
    assert rows[0] == row("user", "bob", "IS_OWNER")
    assert levels(rows) == {"bob": "IS_OWNER", "alice": "CAN_MANAGE"}
    rows = plan(
        [row("service_principal", "sp-1", "IS_OWNER"), row("user", "alice", "CAN_VIEW")],
        replace=True,
        owner_ok=True,
    )
    assert levels(rows) == {"sp-1": "IS_OWNER", "alice": "CAN_VIEW"}


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ([row("user", "bob", "IS_OWNER"), row("user", "carol", "IS_OWNER")], "exactly one"),
        ([row("group", "users", "IS_OWNER")], "not a group"),
        ([row("user", "alice", "CAN_VIEW")], "stays IS_OWNER"),
        ([row("group", "admins", "CAN_MANAGE")], "admins"),
    ],
)
def test_invalid_requests(requested: list[dict[str, str]], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        plan(requested, replace=True, owner_ok=True)


def test_api_shape() -> None:
    out = job_permissions_to_api(
        7, [row("user", "alice", "IS_OWNER"), row("group", "g", "CAN_VIEW")]
    )
    assert out["object_id"] == "/jobs/7" and out["object_type"] == "job"
    assert out["access_control_list"][0] == {
        "user_name": "alice",
        "display_name": "alice",
        "all_permissions": [{"permission_level": "IS_OWNER", "inherited": False}],
    }
    assert out["access_control_list"][1]["group_name"] == "g"
    assert out["access_control_list"][-1]["all_permissions"][0]["inherited"] is True
