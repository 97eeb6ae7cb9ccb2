"""The API's token check reads tokens with SQL text (issue 18): the same answer as the
SQLAlchemy listing on SQLite and PostgreSQL, booleans included."""

from __future__ import annotations

from headrace.store import tokens
from headrace.store.db import Store


def test_find_token_reads_what_the_listing_reads(store: Store) -> None:
    with store.begin() as conn:
        admin_id, admin = tokens.create_token(
            conn, user_name="root", admin=True, now_ms=5, expiry_time=None, comment="ops"
        )
        _, user = tokens.create_token(conn, user_name="bob", admin=False, now_ms=6, expiry_time=99)
        tokens.revoke_token(conn, admin_id, now_ms=7)
    with store.read() as conn:
        listed = {t.user_name: t for t in tokens.list_tokens(conn)}
        found_admin = tokens.find_token(conn, admin)
        found_user = tokens.find_token(conn, user)
        assert tokens.find_token(conn, "hdr_not-a-token") is None
    assert found_admin == listed["root"] and found_user == listed["bob"]
    assert found_admin is not None and found_admin.admin is True
    assert found_admin.revoked_time == 7 and found_admin.comment == "ops"
    assert found_user is not None and found_user.admin is False
    assert found_user.expiry_time == 99
