"""The DBFS API 2.0 through the SDK's `w.dbfs` (and raw calls where the SDK hides one)."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from databricks.sdk.errors import NotFound, PermissionDenied, ResourceAlreadyExists

from support import Server, User


def test_upload_list_read_move_delete(alice: User, server: Server):
    w = alice.w
    data = bytes(range(256)) * 9000  # 2.3 MB: more than one add-block and one read
    w.dbfs.upload("/alice/data/blob.bin", io.BytesIO(data))
    assert (server.home / "dbfs" / "alice" / "data" / "blob.bin").read_bytes() == data
    status = w.dbfs.get_status("dbfs:/alice/data/blob.bin")
    assert (status.is_dir, status.file_size) == (False, len(data))
    assert [f.path for f in w.dbfs.list("/alice/data")] == ["/alice/data/blob.bin"]
    with w.dbfs.download("/alice/data/blob.bin") as f:
        assert f.read() == data
    w.dbfs.move("/alice/data/blob.bin", "/alice/moved/blob.bin")
    assert not w.dbfs.exists("/alice/data/blob.bin")
    with pytest.raises(NotFound):
        w.dbfs.get_status("/alice/data/blob.bin")
    w.dbfs.mkdirs("/alice/empty/sub")
    assert w.dbfs.get_status("/alice/empty/sub").is_dir
    w.dbfs.delete("/alice", recursive=True)
    assert not (server.home / "dbfs" / "alice").exists()


def test_put_refuses_overwrite_unless_asked(alice: User):
    w = alice.w
    w.dbfs.put("/alice2/x.txt", contents=base64.b64encode(b"one").decode())
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.put("/alice2/x.txt", contents=base64.b64encode(b"two").decode())
    w.dbfs.put("/alice2/x.txt", contents=base64.b64encode(b"two").decode(), overwrite=True)
    assert base64.b64decode(w.dbfs.read("/alice2/x.txt").data) == b"two"


def test_shared_with_dbutils_fs(alice: User, server: Server, monkeypatch: pytest.MonkeyPatch):
    """What task code writes with dbutils.fs under dbfs:/ is what the API lists, and back."""
    from headrace.runtime.fs import Fs

    monkeypatch.setenv("HEADRACE_HOME", str(server.home))  # as the worker gives its tasks
    Fs().put("dbfs:/from_task/out.csv", "a,b\n1,2\n")
    assert [f.path for f in alice.w.dbfs.list("dbfs:/from_task")] == ["/from_task/out.csv"]
    alice.w.dbfs.put("/from_api/in.txt", contents=base64.b64encode(b"hello").decode())
    assert Fs().head("dbfs:/from_api/in.txt") == "hello"


def test_bad_input_is_a_clear_400(alice: User, server: Server):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {alice.token}"}) as c:
        bad = c.post("/api/2.0/dbfs/put", json={"path": "relative.txt", "contents": ""})
        assert bad.status_code == 400 and "path" in bad.json()["message"]
        bad = c.post("/api/2.0/dbfs/put", json={"path": "/../etc/passwd", "contents": ""})
        assert bad.status_code == 400
        bad = c.post("/api/2.0/dbfs/put", json={"path": "/x", "contents": "%%%"})
        assert bad.status_code == 400 and "base64" in bad.json()["message"]
        big = base64.b64encode(b"x" * (1 << 20 | 1)).decode()
        bad = c.post("/api/2.0/dbfs/put", json={"path": "/x", "contents": big})
        assert bad.status_code == 400 and "1 MB" in bad.json()["message"]
        bad = c.get("/api/2.0/dbfs/read", params={"path": "/x", "length": 2 << 20})
        assert bad.status_code == 400 and "length" in bad.json()["message"]
        bad = c.post("/api/2.0/dbfs/add-block", json={"handle": 12345, "data": ""})
        assert bad.status_code == 404


def test_multipart_put_streams_a_large_file(alice: User, server: Server):
    data = b"0123456789" * 300_000  # 3 MB: past the JSON limit
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {alice.token}"}) as c:
        done = c.post(
            "/api/2.0/dbfs/put",
            data={"path": "/multipart/big.bin", "overwrite": "true"},
            files={"contents": ("big.bin", data)},
        )
        assert done.status_code == 200, done.text
    assert (server.home / "dbfs" / "multipart" / "big.bin").read_bytes() == data


def test_volumes_are_written_by_admins_only(alice: User, admin: User):
    with pytest.raises(PermissionDenied):
        alice.w.dbfs.mkdirs("/Volumes/main/default/v1/dir")
    admin.w.dbfs.mkdirs("/Volumes/main/default/v1/dir")
    assert alice.w.dbfs.get_status("/Volumes/main/default/v1/dir").is_dir
