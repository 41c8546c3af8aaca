"""callback_url on every task-creating route: checked at submit, POSTed signed when the task ends, attempts listed."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from standardwebhooks import Webhook

from digihuman.api.app import create_app
from digihuman.services import Services
from digihuman.tasks.delivery import Deliverer
from digihuman.tasks.records import WebhookSecretRow
from tests.api.exchange import OTHER, assert_error, assert_ok
from tests.conftest import AUTH, make_settings
from tests.support.webhooks import Receiver, receiver

FAST_RETRIES = {"retry_delays_s": [0.3], "timeout_s": 3.0, "poll_s": 0.05}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def avatar_task(client, media, **extra):
    body = {"avatar_url": media.url("face.png"), "audio_url": media.url("speech.wav"), **extra}
    return client.post("/avatar/generation", json=body)


def test_callback_is_signed_with_the_keys_secret_and_listed_on_the_task(client, services, run_queued, media, hook):
    secret = assert_ok(client.get("/v1/webhook-secret"))["secret"]
    assert secret.startswith("whsec_") and assert_ok(client.get("/v1/webhook-secret"))["secret"] == secret
    assert assert_ok(client.get("/v1/webhook-secret", headers=OTHER))["secret"] != secret  # one per key
    task_id = assert_ok(avatar_task(client, media, callback_url=hook.url))["id"]
    assert assert_ok(client.get(f"/v1/tasks/{task_id}"))["callbacks"] == []
    run_queued()
    Deliverer(services).pass_once(wait_for_attempts=True)
    (got,) = hook.received
    payload = Webhook(secret).verify(got.body, got.headers)
    shown = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    # The same shape as GET /v1/tasks/{id}, as it was when the task ended.
    assert payload == {**shown, "callbacks": []}
    (attempt,) = shown["callbacks"]
    assert (attempt["url"], attempt["attempt"], attempt["status_code"], attempt["error"], attempt["next_at"]) == \
        (hook.url, 1, 200, None, None)
    assert abs(attempt["at"] - time.time()) < 30


def test_failed_attempts_are_listed_with_their_next_try(make_client, media, hook):
    client, services = make_client(callbacks=FAST_RETRIES)
    hook.statuses = [500]
    task_id = assert_ok(avatar_task(client, media, callback_url=hook.url))["id"]
    assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    deliverer = Deliverer(services)
    deliverer.pass_once(wait_for_attempts=True)
    (failed,) = assert_ok(client.get(f"/v1/tasks/{task_id}"))["callbacks"]
    assert failed["status_code"] == 500 and failed["next_at"] == pytest.approx(failed["at"] + 0.3)
    time.sleep(0.35)
    deliverer.pass_once(wait_for_attempts=True)
    listed = assert_ok(client.get(f"/v1/tasks/{task_id}"))["callbacks"]
    assert [(a["attempt"], a["status_code"]) for a in listed] == [(1, 500), (2, 200)]
    assert Webhook(assert_ok(client.get("/v1/webhook-secret"))["secret"]).verify(
        hook.received[1].body, hook.received[1].headers)["status"] == "cancelled"


@pytest.mark.parametrize("url, words", [
    ("http://10.0.0.1/hook", ["callback_url", "private or local address", "10.0.0.1"]),
    ("http://169.254.169.254/latest/meta-data", ["callback_url", "169.254.169.254"]),
    ("ftp://example.com/hook", ["callback_url", "ftp"]),
    ("not a url", ["callback_url"]),
])
def test_callback_urls_to_private_addresses_are_refused_at_submit(client, services, media, url, words):
    assert_error(avatar_task(client, media, callback_url=url), 400, *words)
    assert_error(client.post("/agent_api.php", data={"act": "create_audio", "task_text": "hi",
                                                     "people_id": "fake-en", "callback_url": url}), 400, *words)
    assert services.tasks.count_active(services.keys.identify(AUTH["Authorization"].split()[1])) == 0


def test_every_task_creating_route_takes_a_callback_url(client, services, media, hook):
    def registered(task_id: str) -> bool:
        return services.callbacks.state(task_id) == [(hook.url, "waiting")]

    cb = {"callback_url": hook.url}
    assert registered(assert_ok(avatar_task(client, media, **cb))["id"])
    assert registered(assert_ok(client.post("/generate_video", json={"video_url": media.url("clip.mp4"), **cb}))
                      ["task_id"])
    voice = client.post("/model", data={"title": "me", **cb},
                        files=[("voices", ("v.wav", (media.root / "voice.wav").read_bytes(), "audio/wav"))])
    assert voice.status_code == 201, voice.text
    assert registered(voice.json()["task_id"])
    forms = [
        {"act": "create_v2", "video_url": media.url("talk5.mp4"), "audio_url": media.url("speech.wav")},
        {"act": "create_audio", "task_text": "hello", "people_id": "fake-en"},
    ]
    for form in forms:
        assert registered(assert_ok(client.post("/agent_api.php", data={**form, **cb}))["task_id"])
    model = assert_ok(client.post("/agent_api.php", data={"act": "create_model_fast", "model_name": "anna",
                                                          "video_url": media.url("talk5.mp4"), **cb}))["model"]
    training = services.catalog.avatar(model["model_id"], services.keys.identify(AUTH["Authorization"][7:]))
    assert registered(training.task_id)
    # An empty form field is no callback at all.
    task_id = assert_ok(client.post("/agent_api.php", data={**forms[1], "callback_url": ""}))["task_id"]
    assert services.callbacks.state(task_id) == []


def test_the_servers_default_url_serves_tasks_without_one(make_client, media, hook):
    client, services = make_client(callbacks={**FAST_RETRIES, "default_url": hook.url})
    task_id = assert_ok(avatar_task(client, media))["id"]
    assert services.callbacks.state(task_id) == [(hook.url, "waiting")]


def test_the_api_server_delivers_from_its_own_thread(tmp_path, media, hook):
    settings = make_settings(tmp_path / "data", callbacks=FAST_RETRIES)
    services = Services(settings)
    with TestClient(create_app(settings, services, housekeeping=True), headers=AUTH) as client:
        task_id = assert_ok(client.post("/agent_api.php", data={
            "act": "create_audio", "task_text": "hello", "people_id": "fake-en", "callback_url": hook.url}))["task_id"]
        assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
        (got,) = hook.wait_for(1)
        secret = assert_ok(client.get("/v1/webhook-secret"))["secret"]
        assert Webhook(secret).verify(got.body, got.headers)["id"] == task_id


def test_keys_are_made_with_a_secret_and_older_keys_get_one_on_first_use(services):
    key = services.keys.create("new")
    owner = services.keys.identify(key)
    secret = services.keys.webhook_secret(owner)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    with services.db.transaction() as s:  # as a key made before callbacks existed
        s.execute(delete(WebhookSecretRow))
    renewed = services.keys.webhook_secret(owner)
    assert renewed.startswith("whsec_") and renewed != secret and services.keys.webhook_secret(owner) == renewed
