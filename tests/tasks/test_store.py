"""TaskStore and Catalog against every database backend: SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from digihuman.catalog import Catalog
from digihuman.database import Database
from digihuman.errors import Conflict, NotFound
from digihuman.tasks.records import TaskStatus
from digihuman.tasks.store import Reaped, TaskStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'tasks.db'}")
    return Database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db: Database) -> TaskStore:
    return TaskStore(db)


def new(store: TaskStore, owner: str = "o1", **kw: object):  # type: ignore[no-untyped-def]
    values = {"timeout_s": 60.0, "max_attempts": 2, **kw}
    return store.create("avatar.generate", {"avatar_key": "uploads/a.png"}, owner=owner, **values)


def test_create_and_get_round_trip(store: TaskStore) -> None:
    task = new(store, name="promo")
    got = store.get(task.id)
    assert got == task
    assert got.status is TaskStatus.QUEUED and got.inputs == {"avatar_key": "uploads/a.png"}
    assert got.name == "promo" and got.attempts == 0
    with pytest.raises(NotFound, match="does not exist"):
        store.get("missing")
    with pytest.raises(NotFound):
        store.get(task.id, kinds=("remix",))


def test_claim_is_won_once(store: TaskStore) -> None:
    task = new(store)
    first = store.claim(task.id, "w1")
    assert first is not None and first.status is TaskStatus.RUNNING and first.attempts == 1
    assert store.claim(task.id, "w2") is None
    assert store.get(task.id).worker == "w1"


def test_progress_success_and_failure(store: TaskStore) -> None:
    task = new(store)
    store.claim(task.id, "w1")
    assert store.heartbeat(task.id, "w1", 42.0, "rendering 10/20") is False
    running = store.get(task.id)
    assert (running.progress, running.stage) == (42.0, "rendering 10/20")
    # Another worker cannot finish a task it does not hold.
    assert store.succeed(task.id, "w2", {"video": "x"}) is False
    assert store.succeed(task.id, "w1", {"video": "tasks/x/video.mp4"}) is True
    done = store.get(task.id)
    assert done.status is TaskStatus.SUCCEEDED and done.progress == 100.0 and done.outputs == {"video": "tasks/x/video.mp4"}
    assert done.finished_at is not None and done.duration_s is not None
    other = new(store)
    store.claim(other.id, "w1")
    assert store.fail(other.id, 422, "no face found in the avatar.", worker="w1")
    failed = store.get(other.id)
    assert failed.status is TaskStatus.FAILED and failed.error_code == 422
    assert store.fail(other.id, 500, "again") is False  # already ended


def test_cancel_queued_and_running(store: TaskStore) -> None:
    queued = new(store)
    assert store.request_cancel(queued.id).status is TaskStatus.CANCELLED
    assert store.claim(queued.id, "w1") is None
    running = new(store)
    store.claim(running.id, "w1")
    view = store.request_cancel(running.id)
    assert view.status is TaskStatus.RUNNING and view.cancel_requested
    assert store.heartbeat(running.id, "w1") is True
    with pytest.raises(Conflict, match="already ended"):
        store.request_cancel(queued.id)


def test_reaper_requeues_then_fails_silent_tasks(store: TaskStore) -> None:
    task = new(store, max_attempts=2)
    store.claim(task.id, "w1")
    assert store.reap(stale_after_s=60, grace_s=1) == Reaped([], [])  # fresh heartbeat: untouched
    time.sleep(0.05)
    reaped = store.reap(stale_after_s=0.01, grace_s=1)
    assert reaped.requeued == [task.id]
    again = store.get(task.id)
    assert again.status is TaskStatus.QUEUED and "stopped responding" in again.stage
    store.claim(task.id, "w2")
    time.sleep(0.05)
    assert store.reap(stale_after_s=0.01, grace_s=1).ended == [task.id]
    dead = store.get(task.id)
    assert dead.status is TaskStatus.FAILED and dead.error_code == 500
    assert "attempt 2 of 2" in (dead.error_message or "")


def test_tasks_of_a_worker_known_dead_are_reaped_without_waiting_for_silence(store: TaskStore) -> None:
    task, other = new(store, max_attempts=2), new(store, max_attempts=2)
    store.claim(task.id, "host:1")
    store.claim(other.id, "host:2")
    assert store.reap(stale_after_s=60, grace_s=1, dead_workers=["host:1"]) == Reaped([task.id], [])
    assert store.get(task.id).status is TaskStatus.QUEUED and store.get(other.id).status is TaskStatus.RUNNING


def test_reaper_fails_overdue_and_cancelled_tasks(store: TaskStore) -> None:
    overdue = new(store, timeout_s=0.01)
    store.claim(overdue.id, "w1")
    cancelled = new(store)
    store.claim(cancelled.id, "w1")
    store.request_cancel(cancelled.id)
    time.sleep(0.1)
    reaped = store.reap(stale_after_s=0.05, grace_s=0.01)
    assert sorted(reaped.ended) == sorted([overdue.id, cancelled.id])
    assert store.get(overdue.id).error_code == 504
    assert store.get(cancelled.id).status is TaskStatus.CANCELLED


def test_counts_stats_and_expiry(store: TaskStore) -> None:
    a, b = new(store, owner="o1"), new(store, owner="o1")
    new(store, owner="o2")
    assert store.count_active("o1") == 2
    store.claim(a.id, "w")
    store.succeed(a.id, "w", {})
    assert store.count_active("o1") == 1
    stats = {(kind, status): n for kind, status, n, _ in store.stats()}
    assert stats[("avatar.generate", "succeeded")] == 1 and stats[("avatar.generate", "queued")] == 2
    assert store.expired(time.time() + 1) == [a.id]
    store.mark_purged(a.id)
    assert store.expired(time.time() + 1) == []
    assert b.id in store.queued_ids()


def test_catalog_voice_and_avatar_models_follow_their_task(db: Database, store: TaskStore) -> None:
    catalog = Catalog(db)
    voice = catalog.create_voice("o1", "Narrator", visibility="private", tags=["calm"])
    assert voice.status.state == "created"
    task = new(store)
    catalog.set_voice_task(voice.id, task.id)
    assert catalog.voice(voice.id, "o1").status.state == "training"
    store.claim(task.id, "w")
    store.succeed(task.id, "w", {})
    assert catalog.voice(voice.id, "o1").status.state == "trained"
    with pytest.raises(NotFound):
        catalog.voice(voice.id, "o2")  # private
    public = catalog.create_voice("o1", "Shared", visibility="public")
    assert [m.id for m in catalog.voices("o2")] == [public.id]
    catalog.delete_voice(voice.id, "o1")
    with pytest.raises(NotFound):
        catalog.voice(voice.id, "o1")
    avatar = catalog.create_avatar("o1", "anchor")
    assert catalog.avatar(avatar.id, "o1").status.state == "created"
    with pytest.raises(NotFound):
        catalog.avatar(avatar.id, "o2")
