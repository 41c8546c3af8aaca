"""What only object storage does: servers and workers sharing one store through their own caches."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from digihuman.config import StorageSettings
from digihuman.errors import BackendFailed, InvalidInput, NotFound
from digihuman.storage import open_storage
from digihuman.storage.s3 import S3Location, S3Storage
from tests.conftest import make_settings
from tests.services import Service


def _s3(data_dir: Path, url: str, **storage: object) -> S3Storage:
    store = open_storage(make_settings(data_dir, storage_url=url, storage=storage))
    assert isinstance(store, S3Storage)
    return store


def test_a_worker_reads_what_another_wrote(s3_storage_url: str, tmp_path: Path) -> None:
    api, worker = _s3(tmp_path / "api", s3_storage_url), _s3(tmp_path / "worker", s3_storage_url)
    source = tmp_path / "in.wav"
    source.write_bytes(b"speech" * 1000)
    api.put_file("uploads/in.wav", source)
    path = worker.local_path("uploads/in.wav")
    assert path.read_bytes() == source.read_bytes()
    assert path.is_relative_to(tmp_path / "worker" / "cache")  # its own scratch, not a shared disk
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"weights")
    worker.put_dir("voice_models/v", model)
    assert (api.local_dir("voice_models/v") / "w.bin").read_bytes() == b"weights"
    assert api.cache.size() > 0
    assert api.delete_prefix("uploads/in.wav") == 1 and api.delete_prefix("voice_models/v") == 1
    assert api.cache.size() == 0  # the deleting machine keeps no copies of deleted files
    assert not worker.exists("uploads/in.wav")
    with pytest.raises(NotFound):
        api.local_path("uploads/in.wav")


def test_reads_come_from_the_cache_until_the_object_changes(s3_storage_url: str, tmp_path: Path) -> None:
    writer, reader = _s3(tmp_path / "w", s3_storage_url), _s3(tmp_path / "r", s3_storage_url)
    writer.put_bytes("tasks/t/out.txt", b"first")
    first = reader.local_path("tasks/t/out.txt")
    assert reader.local_path("tasks/t/out.txt") == first  # same entry, no second download
    writer.put_bytes("tasks/t/out.txt", b"second")
    second = reader.local_path("tasks/t/out.txt")
    assert second != first and second.read_bytes() == b"second"


def test_the_cache_keeps_to_its_budget(s3_storage_url: str, tmp_path: Path) -> None:
    writer = _s3(tmp_path / "w", s3_storage_url)
    reader = _s3(tmp_path / "r", s3_storage_url, cache_bytes=2500, cache_keep_s=0)
    for i in range(5):
        writer.put_bytes(f"uploads/{i}.bin", bytes([i]) * 1000)
    for i in range(5):
        assert reader.local_path(f"uploads/{i}.bin").read_bytes() == bytes([i]) * 1000
        assert reader.cache.size() <= 2500
    assert reader.cache.size() == 2000  # the two most recent stay


def test_proxied_stores_give_no_links(s3_storage_url: str, tmp_path: Path) -> None:
    store = _s3(tmp_path / "d", s3_storage_url, proxy=True)
    store.put_bytes("tasks/t/a.mp4", b"x")
    assert store.link("tasks/t/a.mp4") is None


def test_links_are_signed_for_the_public_endpoint(s3_storage_url: str, tmp_path: Path) -> None:
    store = _s3(tmp_path / "d", s3_storage_url, public_endpoint="https://files.example.com")
    store.put_bytes("tasks/t/a.mp4", b"x")
    link = store.link("tasks/t/a.mp4") or ""
    assert link.startswith("https://files.example.com/") and "X-Amz-Signature=" in link


def test_an_unreachable_store_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once it is closed
    store = _s3(tmp_path / "d", f"s3://k:s@127.0.0.1:{port}/bucket?secure=0")
    with pytest.raises(BackendFailed, match="could not be reached"):
        store.put_bytes("uploads/a.wav", b"x")


def test_a_missing_bucket_says_so(s3_server: Service, tmp_path: Path) -> None:
    host = s3_server.url.removeprefix("http://")
    store = _s3(tmp_path / "d", f"s3://k:s@{host}/no-such-bucket?secure=0")
    with pytest.raises(BackendFailed, match="no bucket 'no-such-bucket'"):
        store.put_bytes("uploads/a.wav", b"x")


@pytest.mark.parametrize(("url", "options", "expected"), [
    ("s3://AK:S%2FK@minio:9000/media?secure=0&region=eu-west-1", {},
     ("minio:9000", "media", "", False, "eu-west-1", "AK", "S/K")),
    ("s3://minio:9000/media/digihuman/prod", {"access_key": "a", "secret_key": "s"},
     ("minio:9000", "media", "digihuman/prod/", True, "us-east-1", "a", "s")),
    ("s3://media/prod", {"endpoint": "storage.example.com", "secure": False},
     ("storage.example.com", "media", "prod/", False, "us-east-1", None, None)),
    ("s3://media", {}, ("s3.amazonaws.com", "media", "", True, "us-east-1", None, None)),
])
def test_storage_urls(url: str, options: dict[str, object], expected: tuple[object, ...]) -> None:
    loc = S3Location.parse(url, StorageSettings(**options))  # type: ignore[arg-type]
    got = (loc.endpoint, loc.bucket, loc.prefix, loc.secure, loc.region, loc.access_key, loc.secret_key)
    assert got == expected


def test_a_prefix_keeps_a_shared_bucket_apart(s3_storage_url: str, tmp_path: Path) -> None:
    base, _, query = s3_storage_url.partition("?")
    one, two = _s3(tmp_path / "1", f"{base}/one?{query}"), _s3(tmp_path / "2", f"{base}/two?{query}")
    one.put_bytes("uploads/a.wav", b"1")
    assert one.exists("uploads/a.wav") and not two.exists("uploads/a.wav")
    assert list(one.iter_older_than("uploads", 2e9)) == ["uploads/a.wav"]


@pytest.mark.parametrize("url", ["http://host/bucket", "s3:///bucket", "redis://x"])
def test_bad_storage_urls(url: str) -> None:
    with pytest.raises(InvalidInput, match="DIGIHUMAN_STORAGE_URL"):
        S3Location.parse(url, StorageSettings())


def test_concurrent_readers_share_one_copy(s3_storage_url: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writer, reader = _s3(tmp_path / "w", s3_storage_url), _s3(tmp_path / "r", s3_storage_url)
    data = bytes(range(256)) * 4096  # 1 MiB
    writer.put_bytes("uploads/big.bin", data)
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: reader.local_path("uploads/big.bin"), range(8)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == data
    assert reader.cache.size() == len(data)


def test_start_up_checks_the_store(s3_storage_url: str, s3_server: Service, tmp_path: Path) -> None:
    from digihuman.startup import check_startup

    check_startup(make_settings(tmp_path / "ok", storage_url=s3_storage_url))
    host = s3_server.url.removeprefix("http://")
    with pytest.raises(InvalidInput, match=r"DIGIHUMAN_STORAGE_URL s3://k:\*\*\*@.*no bucket 'gone'"):
        check_startup(make_settings(tmp_path / "gone", storage_url=f"s3://k:secret@{host}/gone?secure=0"))
    with pytest.raises(InvalidInput, match="DIGIHUMAN_STORAGE_URL must look like"):
        check_startup(make_settings(tmp_path / "bad", storage_url="https://host/bucket"))


def test_large_files_go_in_parts_and_stay_cached_by_their_writer(s3_storage_url: str, tmp_path: Path) -> None:
    store = _s3(tmp_path / "d", s3_storage_url)
    source = tmp_path / "big.mp4"
    source.write_bytes(bytes(range(256)) * (12 * 4096))  # 12 MiB: a multipart upload
    store.put_file("tasks/t/big.mp4", source)
    path = store.local_path("tasks/t/big.mp4")
    assert path.stat().st_ino == source.stat().st_ino  # the writer's own copy, linked: not downloaded again
    assert len(list(store.cache.root.iterdir())) == 1
    other = _s3(tmp_path / "other", s3_storage_url)
    assert other.local_path("tasks/t/big.mp4").read_bytes() == source.read_bytes()
