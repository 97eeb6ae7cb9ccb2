"""Job permissions through the SDK: get, set (replace), update (merge), levels; who may do what."""

from __future__ import annotations

import pytest
from databricks.sdk.errors import (
    BadRequest,
    InvalidParameterValue,
    PermissionDenied,
    ResourceDoesNotExist,
)
from databricks.sdk.service import jobs

from support import User, settle, shell

Level = jobs.JobPermissionLevel


def acl(**levels: Level) -> list[jobs.JobAccessControlRequest]:
    """user_name=level pairs; `group_<name>` for a group."""
    out = []
    for name, level in levels.items():
        if name.startswith("group_"):
            out.append(jobs.JobAccessControlRequest(group_name=name[6:], permission_level=level))
        else:
            out.append(jobs.JobAccessControlRequest(user_name=name, permission_level=level))
    return out


def direct(perms: jobs.JobPermissions) -> dict[str, str]:
    """principal -> level of the direct (not inherited) entries."""
    out = {}
    for entry in perms.access_control_list:
        name = entry.user_name or entry.group_name or entry.service_principal_name
        for p in entry.all_permissions:
            if not p.inherited:
                out[name] = p.permission_level.value
    return out


def new_job(user: User, name: str, **kw: object) -> str:
    return str(user.w.jobs.create(name=name, tasks=[shell("t", "true")], **kw).job_id)


def test_get_shows_the_owner_and_the_admins(alice: User) -> None:
    job_id = new_job(alice, "acl-get")

    perms = alice.w.jobs.get_permissions(job_id)

    assert perms.object_id == f"/jobs/{job_id}"
    assert perms.object_type == "job"
    by_name = {e.user_name or e.group_name: e for e in perms.access_control_list}
    owner = by_name["alice"]
    assert owner.display_name == "alice"
    assert [(p.permission_level, p.inherited) for p in owner.all_permissions] == [
        (Level.IS_OWNER, False)
    ]
    admins = by_name["admins"].all_permissions[0]
    assert (admins.permission_level, admins.inherited) == (Level.CAN_MANAGE, True)
    assert admins.inherited_from_object == ["/jobs/"]


def test_permission_levels(alice: User) -> None:
    job_id = new_job(alice, "acl-levels")

    levels = alice.w.jobs.get_permission_levels(job_id).permission_levels

    assert [lv.permission_level for lv in levels] == [
        Level.CAN_VIEW,
        Level.CAN_MANAGE_RUN,
        Level.CAN_MANAGE,
        Level.IS_OWNER,
    ]
    assert all(lv.description for lv in levels)


def test_set_replaces_the_list_but_keeps_the_owner(alice: User) -> None:
    job_id = new_job(alice, "acl-set", access_control_list=acl(bob=Level.CAN_VIEW))
    assert direct(alice.w.jobs.get_permissions(job_id)) == {"alice": "IS_OWNER", "bob": "CAN_VIEW"}

    answer = alice.w.jobs.set_permissions(job_id, access_control_list=acl(carol=Level.CAN_MANAGE))

    assert direct(answer) == {"alice": "IS_OWNER", "carol": "CAN_MANAGE"}
    assert direct(alice.w.jobs.get_permissions(job_id)) == direct(answer)
    # An empty list removes every direct permission but the owner's.
    assert direct(alice.w.jobs.set_permissions(job_id, access_control_list=[])) == {
        "alice": "IS_OWNER"
    }


def test_update_merges_into_the_list(alice: User) -> None:
    job_id = new_job(alice, "acl-update", access_control_list=acl(bob=Level.CAN_VIEW))

    answer = alice.w.jobs.update_permissions(
        job_id, access_control_list=acl(carol=Level.CAN_MANAGE_RUN, group_users=Level.CAN_VIEW)
    )
    assert direct(answer) == {
        "alice": "IS_OWNER",
        "bob": "CAN_VIEW",
        "carol": "CAN_MANAGE_RUN",
        "users": "CAN_VIEW",
    }
    # Naming a principal again changes its level (up or down).
    answer = alice.w.jobs.update_permissions(job_id, access_control_list=acl(bob=Level.CAN_MANAGE))
    assert direct(answer)["bob"] == "CAN_MANAGE"


def test_another_users_access_follows_the_permissions(alice: User, bob: User) -> None:
    job_id = new_job(alice, "acl-bob")

    with pytest.raises(PermissionDenied):
        bob.w.jobs.get(int(job_id))
    with pytest.raises(PermissionDenied):
        bob.w.jobs.get_permissions(job_id)

    alice.w.jobs.update_permissions(job_id, access_control_list=acl(bob=Level.CAN_VIEW))
    assert bob.w.jobs.get(int(job_id)).settings.name == "acl-bob"
    assert "alice" in direct(bob.w.jobs.get_permissions(job_id))  # CAN_VIEW may read the list
    assert bob.w.jobs.get_permission_levels(job_id).permission_levels
    with pytest.raises(PermissionDenied):
        bob.w.jobs.run_now(int(job_id))
    with pytest.raises(PermissionDenied):  # changing the list needs CAN_MANAGE
        bob.w.jobs.update_permissions(job_id, access_control_list=acl(bob=Level.CAN_MANAGE))

    alice.w.jobs.update_permissions(job_id, access_control_list=acl(bob=Level.CAN_MANAGE_RUN))
    run = settle(bob.w, bob.w.jobs.run_now(int(job_id)).run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS

    alice.w.jobs.set_permissions(job_id, access_control_list=[])
    with pytest.raises(PermissionDenied):
        bob.w.jobs.get(int(job_id))


def test_the_users_group_reaches_every_user(alice: User, bob: User) -> None:
    job_id = new_job(alice, "acl-group")
    alice.w.jobs.update_permissions(job_id, access_control_list=acl(group_users=Level.CAN_VIEW))

    assert bob.w.jobs.get(int(job_id)).job_id == int(job_id)


def test_a_manager_may_grant_but_not_take_ownership(alice: User, bob: User) -> None:
    job_id = new_job(alice, "acl-manager", access_control_list=acl(bob=Level.CAN_MANAGE))

    answer = bob.w.jobs.update_permissions(job_id, access_control_list=acl(carol=Level.CAN_VIEW))
    assert direct(answer)["carol"] == "CAN_VIEW"
    with pytest.raises(PermissionDenied, match="owner"):
        bob.w.jobs.update_permissions(job_id, access_control_list=acl(bob=Level.IS_OWNER))
    # Naming the current owner as owner is no change, so a manager may send it.
    answer = bob.w.jobs.set_permissions(
        job_id, access_control_list=acl(alice=Level.IS_OWNER, bob=Level.CAN_MANAGE)
    )
    assert direct(answer) == {"alice": "IS_OWNER", "bob": "CAN_MANAGE"}


def test_the_owner_may_hand_over_ownership(alice: User, bob: User) -> None:
    job_id = new_job(alice, "acl-transfer")

    answer = alice.w.jobs.update_permissions(job_id, access_control_list=acl(bob=Level.IS_OWNER))

    # Exactly one owner; the previous one keeps CAN_MANAGE (Databricks' transfer rule).
    assert direct(answer) == {"bob": "IS_OWNER", "alice": "CAN_MANAGE"}
    with pytest.raises(PermissionDenied, match="owner"):
        alice.w.jobs.update_permissions(job_id, access_control_list=acl(alice=Level.IS_OWNER))
    assert (
        direct(
            bob.w.jobs.update_permissions(job_id, access_control_list=acl(alice=Level.IS_OWNER))
        )["alice"]
        == "IS_OWNER"
    )


def test_an_admin_may_change_the_owner(alice: User, admin: User) -> None:
    job_id = new_job(alice, "acl-admin")

    answer = admin.w.jobs.set_permissions(job_id, access_control_list=acl(carol=Level.IS_OWNER))

    assert direct(answer) == {"carol": "IS_OWNER", "alice": "CAN_MANAGE"}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (acl(bob=Level.IS_OWNER, carol=Level.IS_OWNER), "exactly one IS_OWNER"),
        (acl(group_users=Level.IS_OWNER), "not a group"),
        (acl(alice=Level.CAN_VIEW), "stays IS_OWNER"),
        (acl(group_admins=Level.CAN_VIEW), "admins"),
    ],
    ids=["two-owners", "group-owner", "owner-demoted", "admins-group"],
)
def test_invalid_lists_are_refused_whole(
    alice: User, entries: list[jobs.JobAccessControlRequest], message: str
) -> None:
    job_id = new_job(alice, "acl-invalid", access_control_list=acl(bob=Level.CAN_VIEW))

    with pytest.raises(InvalidParameterValue, match=message):
        alice.w.jobs.set_permissions(job_id, access_control_list=entries)
    assert direct(alice.w.jobs.get_permissions(job_id)) == {"alice": "IS_OWNER", "bob": "CAN_VIEW"}


def test_malformed_entries_name_the_field(alice: User) -> None:
    job_id = new_job(alice, "acl-malformed")
    path = f"/api/2.0/permissions/jobs/{job_id}"

    with pytest.raises(InvalidParameterValue, match=r"access_control_list\[0\].permission_level"):
        alice.w.api_client.do(
            "PATCH",
            path,
            body={"access_control_list": [{"user_name": "bob", "permission_level": "CAN_EAT"}]},
        )
    with pytest.raises(InvalidParameterValue, match="exactly one of user_name"):
        alice.w.api_client.do(
            "PUT",
            path,
            body={"access_control_list": [{"permission_level": "CAN_VIEW"}]},
        )


def test_unknown_or_bad_job_ids(alice: User) -> None:
    with pytest.raises(ResourceDoesNotExist, match="999999"):
        alice.w.jobs.get_permissions("999999")
    with pytest.raises(ResourceDoesNotExist):
        alice.w.jobs.set_permissions("999999", access_control_list=[])
    with pytest.raises(ResourceDoesNotExist):
        alice.w.jobs.get_permission_levels("999999")
    with pytest.raises(BadRequest, match="job_id"):
        alice.w.jobs.get_permissions("abc")
