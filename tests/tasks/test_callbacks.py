"""Task callbacks: signed, retried on a schedule, kept in the database across restarts, address-checked."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from digihuman.api.submit import submit
from digihuman.config import Settings
from digihuman.services import Services
from digihuman.tasks.callbacks import DELIVERED, FAILED, PENDING
from digihuman.tasks.delivery import Deliverer, sign
from digihuman.tasks.jobs import AVATAR_GENERATE
from digihuman.tasks.payloads import AvatarGeneratePayload, UseVoice
from digihuman.tasks.store import TaskView
from digihuman.tasks.worker import Worker
from tests.conftest import make_settings
from tests.mediagen import make_png
from tests.support.webhooks import Receiver, receiver

FAST_RETRIES = {"retry_delays_s": [0.3], "give_up_after_s": 60.0, "timeout_s": 3.0, "poll_s": 0.05}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", callbacks=FAST_RETRIES)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def speak_task(services: Services, callback_url: str | None) -> TaskView:
    scratch = services.settings.data_dir / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    with make_png(scratch / "face.png").open("rb") as picture:
        avatar = services.intake.take_upload(picture, "avatar", "image")
    payload = AvatarGeneratePayload(avatar_key=avatar.key, use_voice=UseVoice("fake-en", "hello there"))
    return submit(services, "owner", payload, callback_url=callback_url)


def verified(services: Services, got: object) -> dict:
    """The payload of a received callback, after Standard Webhooks' own check of its signature."""
    secret = services.keys.webhook_secret("owner")
    return Webhook(secret).verify(got.body, got.headers)  # type: ignore[attr-defined]


def deliver_until(deliverer: Deliverer, services: Services, task_id: str, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (services.callbacks.state(task_id)[0][1] != state) and time.monotonic() < deadline:
        deliverer.pass_once(wait_for_attempts=True)
        time.sleep(0.05)
    assert services.callbacks.state(task_id)[0][1] == state


def test_a_succeeded_task_is_posted_signed(settings: Settings, hook: Receiver) -> None:
    services = Services(settings)
    task = speak_task(services, hook.url)
    deliverer = Deliverer(services)
    assert deliverer.pass_once(wait_for_attempts=True) == 0  # nothing to say while it runs
    Worker(services).run(task.id)
    assert deliverer.pass_once(wait_for_attempts=True) == 1
    (got,) = hook.received
    payload = verified(services, got)
    assert payload["id"] == task.id and payload["status"] == "succeeded" and payload["kind"] == AVATAR_GENERATE
    assert payload["outputs"]["video"].startswith("http://testserver/files/tasks/")
    assert got.headers["webhook-id"].startswith("msg_") and got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    (attempt,) = services.callbacks.attempts(task.id)
    assert attempt["status_code"] == 200 and attempt["attempt"] == 1 and attempt["next_at"] is None
    assert attempt["url"] == hook.url and attempt["error"] is None
    assert deliverer.pass_once(wait_for_attempts=True) == 0  # delivered once only
    deliverer.stop()


def test_the_signature_is_the_documented_hmac(settings: Settings) -> None:
    secret = Services(settings).keys.webhook_secret("someone")
    assert secret.startswith("whsec_")
    body = json.dumps({"id": "t1", "status": "failed"})
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))}
    headers["webhook-signature"] = sign(secret, "msg_1", int(headers["webhook-timestamp"]), body)
    assert Webhook(secret).verify(body, headers) == {"id": "t1", "status": "failed"}
    headers["webhook-signature"] = sign(Services(settings).keys.webhook_secret("other"), "msg_1",
                                        int(headers["webhook-timestamp"]), body)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(secret).verify(body, headers)


def test_a_cancelled_task_is_posted_too(settings: Settings, hook: Receiver) -> None:
    services = Services(settings)
    task = speak_task(services, hook.url)
    services.tasks.request_cancel(task.id)
    deliverer = Deliverer(services)
    deliverer.pass_once(wait_for_attempts=True)
    payload = verified(services, hook.received[0])
    assert payload["status"] == "cancelled" and payload["error"]["code"] == 499
    deliverer.stop()


def test_a_500_is_retried_after_the_delay_with_the_same_id(tmp_path: Path, hook: Receiver) -> None:
    # A delay a busy machine cannot overrun between the attempt and the check that it is not due yet.
    services = Services(make_settings(tmp_path / "data", callbacks={**FAST_RETRIES, "retry_delays_s": [1.5]}))
    hook.statuses = [500]
    task = speak_task(services, hook.url)
    Worker(services).run(task.id)
    deliverer = Deliverer(services)
    deliverer.pass_once(wait_for_attempts=True)
    (first,) = services.callbacks.attempts(task.id)
    assert first["status_code"] == 500 and first["next_at"] == pytest.approx(first["at"] + 1.5)
    assert services.callbacks.state(task.id) == [(hook.url, PENDING)]
    assert deliverer.pass_once(wait_for_attempts=True) == 0  # not due yet
    assert len(hook.received) == 1
    deliver_until(deliverer, services, task.id, DELIVERED)
    first_got, second_got = hook.received
    assert first_got.headers["webhook-id"] == second_got.headers["webhook-id"]
    assert first_got.body == second_got.body
    assert verified(services, second_got)["id"] == task.id
    assert [a["status_code"] for a in services.callbacks.attempts(task.id)] == [500, 200]
    deliverer.stop()


def test_pending_deliveries_survive_a_restart(settings: Settings, hook: Receiver) -> None:
    services = Services(settings)
    hook.statuses = [503]
    task = speak_task(services, hook.url)
    Worker(services).run(task.id)
    before = Deliverer(services)
    before.pass_once(wait_for_attempts=True)
    before.stop()
    # A new process over the same database picks the retry up.
    again = Services(settings)
    after = Deliverer(again)
    deliver_until(after, again, task.id, DELIVERED)
    assert [r.headers["webhook-id"] for r in hook.received] == [hook.received[0].headers["webhook-id"]] * 2
    assert [a["status_code"] for a in again.callbacks.attempts(task.id)] == [503, 200]
    after.stop()


def test_the_thread_delivers_a_task_that_ended_while_no_server_ran(settings: Settings, hook: Receiver) -> None:
    services = Services(settings)
    task = speak_task(services, hook.url)
    Worker(services).run(task.id)
    deliverer = Deliverer(Services(settings))
    deliverer.start()
    try:
        (got,) = hook.wait_for(1)
        assert verified(services, got)["status"] == "succeeded"
    finally:
        deliverer.stop()


def test_delivery_gives_up_after_the_time_allowed(tmp_path: Path, hook: Receiver) -> None:
    settings = make_settings(tmp_path / "data", callbacks={**FAST_RETRIES, "retry_delays_s": [0.1, 0.2],
                                                           "give_up_after_s": 0.5})
    services = Services(settings)
    hook.statuses = [500] * 10
    task = speak_task(services, hook.url)
    services.tasks.request_cancel(task.id)
    deliver_until(Deliverer(services), services, task.id, FAILED)
    attempts = services.callbacks.attempts(task.id)
    assert [a["status_code"] for a in attempts] == [500] * len(attempts) and 2 <= len(attempts) <= 6
    assert attempts[-1]["next_at"] is None and all(a["next_at"] for a in attempts[:-1])
    # no attempt starts past the time allowed (the margin is for a busy machine's scheduling)
    assert attempts[-1]["at"] - attempts[0]["at"] <= 0.5 + 1.5


def test_unreachable_receivers_are_recorded_and_retried(settings: Settings) -> None:
    services = Services(settings)
    with receiver() as gone:
        url = gone.url
    task = speak_task(services, url)
    services.tasks.request_cancel(task.id)
    Deliverer(services).pass_once(wait_for_attempts=True)
    (attempt,) = services.callbacks.attempts(task.id)
    assert attempt["status_code"] is None and "could not connect" in attempt["error"] and attempt["next_at"]


def test_private_addresses_are_refused_when_delivering(settings: Settings) -> None:
    """Checked again at delivery: a host may resolve elsewhere than when the task was submitted."""
    services = Services(settings)
    task = speak_task(services, None)
    services.callbacks.register(task.id, "owner", "http://169.254.169.254/latest/meta-data")
    services.tasks.request_cancel(task.id)
    Deliverer(services).pass_once(wait_for_attempts=True)
    (attempt,) = services.callbacks.attempts(task.id)
    assert attempt["status_code"] is None and "private or local address" in attempt["error"]


def test_the_default_url_applies_to_tasks_without_one(tmp_path: Path, hook: Receiver) -> None:
    services = Services(make_settings(tmp_path / "data", callbacks={**FAST_RETRIES, "default_url": hook.url}))
    task = speak_task(services, None)
    assert services.callbacks.state(task.id) == [(hook.url, "waiting")]
