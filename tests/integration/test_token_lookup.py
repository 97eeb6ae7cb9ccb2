"""The API's token check reads tokens with SQL text (issue 18): the same answer as the
SQLAlchemy listing on SQLite and PostgreSQL, booleans included."""

from __future__ import annotations

from headrace.store import jobs, tokens
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


def test_token_job_and_version_in_one_read(store: Store) -> None:
    """run-now's read (issue 18): what find_token, get_job and latest_version answer."""
    with store.begin() as conn:
        token_id, token = tokens.create_token(
            conn, user_name="bob", admin=False, now_ms=6, expiry_time=99
        )
        bare = jobs.create_job(conn, {"name": "bare"}, now_ms=1, creator="bob")
        versioned = jobs.create_job(conn, {"name": "v", "tags": {"a": "b"}}, now_ms=2)
        jobs.add_version(conn, versioned, {"name": "v"}, by="bob", now_ms=3)
        jobs.add_version(conn, versioned, {"name": "v2"}, by="bob", now_ms=4)
    with store.read() as conn:
        info, job, version = tokens.find_token_and_job(conn, token, versioned)
        assert info == tokens.find_token(conn, token)
        assert job == jobs.get_job(conn, versioned) and version == 2
        info, job, version = tokens.find_token_and_job(conn, token, bare)
        assert job == jobs.get_job(conn, bare) and job.creator_user_name == "bob"
        assert version is None and info is not None and info.admin is False
        assert tokens.find_token_and_job(conn, token, 10**12) == (info, None, None)
        assert tokens.find_token_and_job(conn, "hdr_nope", bare) == (None, None, None)
    with store.begin() as conn:
        tokens.revoke_token(conn, token_id, now_ms=7)
    with store.read() as conn:
        info, job, _ = tokens.find_token_and_job(conn, token, bare)
    assert info is not None and info.revoked_time == 7 and job is not None  # 401 all the same
