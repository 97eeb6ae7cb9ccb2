"""The Files API (/api/2.0/fs/files, /api/2.0/fs/directories) through the SDK's `w.files`."""

from __future__ import annotations

import io

import httpx
import pytest
from databricks.sdk.errors import AlreadyExists, NotFound, PermissionDenied, ResourceAlreadyExists

from support import Server, User

VOL = "/Volumes/main/default/files_test"


@pytest.fixture(scope="module")
def volume(admin: User) -> str:
    admin.w.files.create_directory(VOL)
    return VOL


def test_upload_download_metadata_list_delete(admin: User, alice: User, server: Server, volume):
    data = b"line\n" * 500_000  # 2.5 MB
    admin.w.files.upload(f"{volume}/dir/a.txt", io.BytesIO(data), overwrite=True)
    assert (server.home / "dbfs" / volume.lstrip("/") / "dir" / "a.txt").read_bytes() == data
    got = alice.w.files.download(f"{volume}/dir/a.txt")
    assert got.contents.read() == data
    meta = alice.w.files.get_metadata(f"{volume}/dir/a.txt")
    assert meta.content_length == len(data)
    alice.w.files.get_directory_metadata(f"{volume}/dir")
    listed = list(alice.w.files.list_directory_contents(f"{volume}/dir"))
    assert [(e.name, e.is_directory, e.file_size) for e in listed] == [("a.txt", False, len(data))]
    with pytest.raises((AlreadyExists, ResourceAlreadyExists)):
        admin.w.files.upload(f"{volume}/dir/a.txt", io.BytesIO(b"x"), overwrite=False)
    admin.w.files.delete(f"{volume}/dir/a.txt")
    with pytest.raises(NotFound):
        alice.w.files.get_metadata(f"{volume}/dir/a.txt")
    admin.w.files.delete_directory(f"{volume}/dir")
    with pytest.raises(NotFound):
        alice.w.files.get_directory_metadata(f"{volume}/dir")


def test_same_root_as_dbfs(admin: User, volume):
    admin.w.files.upload(f"{volume}/shared.txt", io.BytesIO(b"both"), overwrite=True)
    assert admin.w.dbfs.get_status(f"dbfs:{volume}/shared.txt").file_size == 4


def test_range_download(admin: User, server: Server, volume):
    admin.w.files.upload(f"{volume}/r.bin", io.BytesIO(b"0123456789"), overwrite=True)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin.token}"}) as c:
        part = c.get(f"/api/2.0/fs/files{volume}/r.bin", headers={"Range": "bytes=2-4"})
    assert (part.status_code, part.content) == (206, b"234")


def test_volume_writes_need_an_admin(alice: User, volume):
    with pytest.raises(PermissionDenied):
        alice.w.files.upload(f"{volume}/nope.txt", io.BytesIO(b"x"))
    with pytest.raises(PermissionDenied):
        alice.w.files.create_directory(f"{volume}/nope")


def test_paging_directory_listing(admin: User, volume):
    for i in range(5):
        admin.w.files.upload(f"{volume}/many/f{i}.txt", io.BytesIO(b"x"), overwrite=True)
    names = [e.name for e in admin.w.files.list_directory_contents(f"{volume}/many", page_size=2)]
    assert names == [f"f{i}.txt" for i in range(5)]
