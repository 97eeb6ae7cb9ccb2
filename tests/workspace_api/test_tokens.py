"""The Token API (w.tokens) and token management (w.token_management) through the SDK."""

from __future__ import annotations

import pytest
from databricks.sdk.errors import NotFound, PermissionDenied, Unauthenticated

from support import Server, User


def test_a_user_makes_lists_and_deletes_their_own_tokens(alice: User, bob: User, server: Server):
    made = alice.w.tokens.create(comment="ci", lifetime_seconds=3600)
    assert made.token_value and made.token_info.comment == "ci"
    assert made.token_info.expiry_time > made.token_info.creation_time
    w2 = server.client(made.token_value)
    assert w2.current_user.me().user_name == "alice"  # the new token acts for alice
    mine = [t.token_id for t in alice.w.tokens.list()]
    assert made.token_info.token_id in mine
    assert made.token_info.token_id not in [t.token_id for t in bob.w.tokens.list()]
    with pytest.raises(NotFound):
        bob.w.tokens.delete(made.token_info.token_id)  # not bob's
    alice.w.tokens.delete(made.token_info.token_id)
    with pytest.raises(Unauthenticated):
        w2.current_user.me()
    assert made.token_info.token_id not in [t.token_id for t in alice.w.tokens.list()]


def test_admins_manage_everyones_tokens(admin: User, bob: User, server: Server):
    made = bob.w.tokens.create(comment="to revoke")
    tid = made.token_info.token_id
    with pytest.raises(PermissionDenied):
        list(bob.w.token_management.list())
    listed = {t.token_id: t for t in admin.w.token_management.list(created_by_username="bob")}
    assert listed[tid].created_by_username == "bob"
    assert admin.w.token_management.get(tid).token_info.comment == "to revoke"
    admin.w.token_management.delete(tid)
    with pytest.raises(Unauthenticated):
        server.client(made.token_value).current_user.me()
    behalf = admin.w.token_management.create_obo_token(application_id="dave", comment="svc")
    assert server.client(behalf.token_value).current_user.me().user_name == "dave"


def test_bad_input(alice: User):
    from databricks.sdk.errors import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="lifetime_seconds"):
        alice.w.tokens.create(lifetime_seconds=-5)
