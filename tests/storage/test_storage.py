"""One suite for the Storage protocol, run against the data dir and an S3-compatible server (moto)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from digihuman.errors import InvalidInput, NotFound
from digihuman.storage import LocalStorage, Storage, open_storage
from tests.conftest import make_settings

PUBLIC = "http://api.example"


def _open(kind: str, data_dir: Path, request: pytest.FixtureRequest, **storage: object) -> Storage:
    url = request.getfixturevalue("s3_storage_url") if kind == "s3" else None
    return open_storage(make_settings(data_dir, public_url=PUBLIC, storage_url=url, storage=storage))


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return _open(request.param, tmp_path / "data", request)


def test_bytes_and_files_read_back_under_their_names(store: Storage, tmp_path: Path) -> None:
    store.put_bytes("a/b/note.txt", b"hello")
    source = tmp_path / "source.wav"
    source.write_bytes(b"RIFF" + bytes(range(256)) * 64)
    store.put_file("uploads/x.wav", source)
    assert store.local_path("a/b/note.txt").read_bytes() == b"hello"
    path = store.local_path("uploads/x.wav")
    assert path.name == "x.wav"  # engines and content types go by the extension
    assert path.read_bytes() == source.read_bytes()
    assert source.exists()


def test_a_rewritten_file_reads_back_new(store: Storage) -> None:
    store.put_bytes("tasks/t/meta.json", b'{"v": 1}')
    assert store.local_path("tasks/t/meta.json").read_bytes() == b'{"v": 1}'
    store.put_bytes("tasks/t/meta.json", b'{"v": 2}')
    assert store.local_path("tasks/t/meta.json").read_bytes() == b'{"v": 2}'


def test_missing_and_malformed_keys(store: Storage) -> None:
    with pytest.raises(NotFound):
        store.local_path("uploads/none.wav")
    with pytest.raises(NotFound):
        store.local_dir("models/none")
    for key in ("../etc/passwd", "/abs", "a/../b", "a//b", "sp ace"):
        with pytest.raises(InvalidInput):
            store.local_path(key)
        with pytest.raises(InvalidInput):
            store.put_bytes(key, b"x")


def test_folders_round_trip(store: Storage, tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "weights.npz").write_bytes(b"w" * 1000)
    (source / "sub" / "meta.json").write_text("{}")
    store.put_dir("voice_models/v1", source)
    folder = store.local_dir("voice_models/v1")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "sub/meta.json", "weights.npz"]
    assert (folder / "weights.npz").read_bytes() == b"w" * 1000
    assert store.exists("voice_models/v1/sub/meta.json")
    assert not store.exists("voice_models/v1")  # a folder is not a file
    assert not store.exists("voice_models/v2/weights.npz")


def test_a_folder_read_again_after_a_change_has_the_change(store: Storage, tmp_path: Path) -> None:
    store.put_bytes("avatar_models/a/one.bin", b"1")
    assert [p.name for p in store.local_dir("avatar_models/a").iterdir()] == ["one.bin"]
    store.put_bytes("avatar_models/a/two.bin", b"2")
    assert sorted(p.name for p in store.local_dir("avatar_models/a").iterdir()) == ["one.bin", "two.bin"]


def test_delete_prefix(store: Storage) -> None:
    for key in ("tasks/t1/a.mp4", "tasks/t1/b/c.png", "tasks/t10/a.mp4", "uploads/f.wav"):
        store.put_bytes(key, b"data")
    assert store.delete_prefix("tasks/t1") == 2
    assert not store.exists("tasks/t1/a.mp4") and not store.exists("tasks/t1/b/c.png")
    assert store.exists("tasks/t10/a.mp4")  # a longer name that starts alike is another folder
    assert store.delete_prefix("uploads/f.wav") == 1
    assert not store.exists("uploads/f.wav")
    assert store.delete_prefix("tasks/none") == 0
    with pytest.raises(NotFound):
        store.local_path("tasks/t1/a.mp4")


def test_iter_older_than(store: Storage) -> None:
    store.put_bytes("uploads/a.wav", b"a")
    store.put_bytes("uploads/sub/b.wav", b"b")
    store.put_bytes("tasks/t/c.wav", b"c")
    later = time.time() + 60
    assert sorted(store.iter_older_than("uploads", later)) == ["uploads/a.wav", "uploads/sub/b.wav"]
    assert list(store.iter_older_than("uploads", time.time() - 3600)) == []
    assert list(store.iter_older_than("none", later)) == []


def test_urls_have_one_shape(store: Storage) -> None:
    assert store.url("tasks/t/out.mp4") == f"{PUBLIC}/files/tasks/t/out.mp4"
    with pytest.raises(InvalidInput):
        store.url("tasks/../out.mp4")


def test_links(store: Storage) -> None:
    store.put_bytes("tasks/t/v.mp4", b"video bytes")
    link = store.link("tasks/t/v.mp4")
    if isinstance(store, LocalStorage):
        assert link is None  # the API serves it
        return
    assert link is not None and not link.startswith(PUBLIC)
    got = httpx.get(link)
    assert got.status_code == 200 and got.content == b"video bytes"
    assert got.headers["content-type"] == "video/mp4"
    head = httpx.head(store.link("tasks/t/v.mp4", "HEAD") or "")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(b"video bytes"))
