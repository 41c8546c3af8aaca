"""Reaper housekeeping: retention of files, and tasks whose queue message was lost."""

from __future__ import annotations

import time

from digihuman.services import Services
from digihuman.tasks.reaper import purge_expired


def test_purge_removes_only_expired_files(services: Services) -> None:
    storage, store = services.storage, services.tasks
    ended = store.create("remix", {}, owner="o", timeout_s=60, max_attempts=1)
    store.claim(ended.id, "w")
    storage.put_bytes(f"tasks/{ended.id}/remix.mp4", b"video")
    store.succeed(ended.id, "w", {"video": f"tasks/{ended.id}/remix.mp4"})
    running = store.create("remix", {}, owner="o", timeout_s=60, max_attempts=1)
    store.claim(running.id, "w")
    storage.put_bytes(f"tasks/{running.id}/partial.mp4", b"partial")
    storage.put_bytes("uploads/abc.wav", b"old upload")

    assert purge_expired(services) == 0  # nothing is old yet
    assert storage.exists(f"tasks/{ended.id}/remix.mp4")

    later = time.time() + (services.settings.tasks.retention_days + 1) * 86400
    assert purge_expired(services, now=later) == 2
    assert not storage.exists(f"tasks/{ended.id}/remix.mp4")
    assert not storage.exists("uploads/abc.wav")
    assert storage.exists(f"tasks/{running.id}/partial.mp4")
    assert store.expired(later) == []  # marked purged, not looked at again


def test_retention_zero_keeps_everything(services: Services) -> None:
    services.settings.tasks.retention_days = 0
    services.storage.put_bytes("uploads/keep.wav", b"x")
    assert purge_expired(services, now=time.time() + 10**9) == 0
    assert services.storage.exists("uploads/keep.wav")


def test_task_whose_queue_message_was_lost_is_queued_again(services: Services) -> None:
    from digihuman.tasks.reaper import resubmit_lost

    services.settings.tasks.stale_after_s = 0.05
    lost = services.tasks.create("remix", {}, owner="o", timeout_s=60, max_attempts=1)  # no message
    kept = services.tasks.create("remix", {}, owner="o", timeout_s=60, max_attempts=1)
    services.queue.submit(kept.id, 60)
    time.sleep(0.1)
    assert resubmit_lost(services) == [lost.id]
    assert services.queue.depth() == 2
    assert "lost" in services.tasks.get(lost.id).stage
    assert resubmit_lost(services) == []  # now accounted for
