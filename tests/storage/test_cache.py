"""The local cache of downloaded objects: complete entries only, least recently used evicted first."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from digihuman.storage.cache import ObjectCache, entry_name


def _fill(cache: ObjectCache, name: str, size: int) -> Path:
    return cache.fill(name, lambda folder: (folder / "f.bin").write_bytes(b"x" * size))


def _age(folder: Path, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(folder, (when, when))


def test_least_recently_used_go_first(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=250, keep_s=5)
    a, b, c = (_fill(cache, n, 100) for n in "abc")  # 300 > 250, but all are in use
    assert cache.size() == 300
    _age(a, 30), _age(b, 20), _age(c, 10)
    assert cache.get("a") == a  # reading a makes b the oldest
    _fill(cache, "d", 100)
    assert [cache.get(n) is not None for n in "abcd"] == [True, False, False, True]
    assert cache.size() == 200


def test_recently_used_entries_stay_over_budget(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=100, keep_s=60)
    for name in "abc":
        _fill(cache, name, 100)
    assert cache.evict() == 0 and cache.size() == 300


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=1000)

    def broken(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"x")
        raise ConnectionError("store went away")

    with pytest.raises(ConnectionError):
        cache.fill("a", broken)
    assert cache.get("a") is None and list(tmp_path.iterdir()) == []


def test_racing_builders_agree(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=10_000)
    results: list[Path] = []

    def build(folder: Path) -> None:
        time.sleep(0.05)  # every thread is building at once
        (folder / "f.bin").write_bytes(b"same")

    threads = [threading.Thread(target=lambda: results.append(cache.fill("k", build))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and (results[0] / "f.bin").read_bytes() == b"same"
    assert [p.name for p in tmp_path.iterdir()] == ["k"]  # the losers' copies are gone


def test_abandoned_builds_are_swept(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=10_000)
    old, fresh = tmp_path / ".part-old", tmp_path / ".part-fresh"
    old.mkdir(), fresh.mkdir()
    _age(old, 2 * 86400)
    cache.evict()
    assert not old.exists() and fresh.exists()  # a build still running is left alone


def test_entry_names_depend_on_every_part() -> None:
    assert entry_name("a/b.wav", "e1") != entry_name("a/b.wav", "e2") != entry_name("a/b.wa", "ve2")
    assert entry_name("k", "e") == entry_name("k", "e")


def test_drop_removes_every_version_of_a_subject(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path, max_bytes=10_000)
    for version in ("e1", "e2"):
        _fill(cache, entry_name("voice_models/v/w.bin", version), 10)
    kept = _fill(cache, entry_name("voice_models/v2/w.bin", "e1"), 10)
    assert cache.drop("voice_models/v/w.bin", "not/cached") == 2
    assert [p for p in tmp_path.iterdir()] == [kept]
