"""GET /v1/tasks (+ /{id}, /{id}/events), POST /v1/tasks/{id}/cancel, offline docs, the per-key task limit."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from tests.api.exchange import OTHER, OTHER_KEY, assert_error, assert_ok, download, run_all
from tests.conftest import API_KEY

UNIFORM = {"id", "kind", "name", "status", "progress", "stage", "attempts", "created_at", "started_at",
           "finished_at", "duration_s", "cancel_requested", "error", "outputs", "callbacks"}


def avatar_task(client, media, **extra):
    body = {"avatar_url": media.url("face.png"), "audio_url": media.url("speech.wav"), **extra}
    return client.post("/avatar/generation", json=body)


def test_uniform_shape_through_the_lifecycle(client, run_queued, media, tmp_path):
    task_id = assert_ok(avatar_task(client, media, work_name="lifecycle"))["id"]
    queued = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    assert set(queued) == UNIFORM
    assert (queued["id"], queued["kind"], queued["name"], queued["status"]) == \
        (task_id, "avatar.generate", "lifecycle", "queued")
    assert (queued["attempts"], queued["started_at"]) == (0, None)
    assert (queued["error"], queued["outputs"]) == (None, {})

    run_queued()
    done = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    assert set(done) == UNIFORM
    assert (done["status"], done["progress"], done["attempts"], done["error"]) == ("succeeded", 100, 1, None)
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]
    assert done["duration_s"] >= 0
    outputs = done["outputs"]
    for name in ("video", "cover", "preview"):
        assert outputs[name].startswith(f"http://testserver/files/tasks/{task_id}/"), outputs
    assert outputs["duration_s"] == pytest.approx(1.0, abs=0.2)
    download(client, outputs["video"], tmp_path / "v.mp4", "video/mp4")


def test_every_group_reads_through_the_uniform_route(client, media):
    v2 = {"act": "create_v2", "video_url": media.url("talk5.mp4"), "audio_url": media.url("speech.wav")}
    ids = {
        "avatar.generate": assert_ok(avatar_task(client, media))["id"],
        "avatar.v2": assert_ok(client.post("/agent_api.php", data=v2))["task_id"],
        "remix": assert_ok(client.post("/generate_video", json={"video_url": v2["video_url"]}))["task_id"],
    }
    for kind, task_id in ids.items():
        assert assert_ok(client.get(f"/v1/tasks/{task_id}"))["kind"] == kind


def test_cancel_a_queued_task(client, run_queued, media):
    task_id = assert_ok(avatar_task(client, media))["id"]
    cancelled = assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    assert set(cancelled) == UNIFORM
    assert (cancelled["status"], cancelled["cancel_requested"]) == ("cancelled", True)
    assert cancelled["error"]["code"] == 499 and "cancelled" in cancelled["error"]["message"]
    assert run_queued() == 0
    after = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    assert (after["status"], after["attempts"], after["started_at"]) == ("cancelled", 0, None)
    assert assert_ok(client.get(f"/avatar/task/{task_id}"))["web_work_status"] == -1


def test_cancel_a_finished_task_is_a_conflict(client, run_queued, media):
    task_id = assert_ok(avatar_task(client, media))["id"]
    run_queued()
    assert_error(client.post(f"/v1/tasks/{task_id}/cancel"), 409, task_id, "already ended", "succeeded")
    assert assert_ok(client.get(f"/v1/tasks/{task_id}"))["status"] == "succeeded"


def test_cancel_twice_is_a_conflict(client, media):
    task_id = assert_ok(avatar_task(client, media))["id"]
    assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    assert_error(client.post(f"/v1/tasks/{task_id}/cancel"), 409, "already ended", "cancelled")


def test_failed_task_carries_code_and_message(client, run_queued, media):
    task_id = assert_ok(client.post("/avatar/generation", json={
        "avatar_url": media.url("black.png"), "audio_url": media.url("speech.wav")}))["id"]
    run_queued()
    failed = assert_ok(client.get(f"/v1/tasks/{task_id}"))
    assert failed["status"] == "failed" and failed["error"]["code"] == 422
    assert "no face found" in failed["error"]["message"]


def test_unknown_task(client):
    assert_error(client.get("/v1/tasks/nope"), 404, "'nope' does not exist")
    assert_error(client.post("/v1/tasks/nope/cancel"), 404, "'nope' does not exist")


def test_another_keys_task_cannot_be_read_or_cancelled(client, media):
    task_id = assert_ok(avatar_task(client, media))["id"]
    assert_error(client.get(f"/v1/tasks/{task_id}", headers=OTHER), 404, "does not exist")
    assert_error(client.post(f"/v1/tasks/{task_id}/cancel", headers=OTHER), 404, "does not exist")
    assert assert_ok(client.get(f"/v1/tasks/{task_id}"))["status"] == "queued"


def test_per_key_limit(make_client, media):
    limited, services = make_client(tasks={"max_active_per_key": 2}, api_keys=[API_KEY, OTHER_KEY])
    first = assert_ok(avatar_task(limited, media))["id"]
    assert_ok(avatar_task(limited, media))
    assert_error(avatar_task(limited, media), 429, "2 queued or running", "wait for one to finish")
    for over in (
        limited.post("/agent_api.php", data={"act": "create_v2", "video_url": media.url("talk5.mp4"),
                                             "audio_url": media.url("speech.wav")}),
        limited.post("/generate_video", json={"video_url": media.url("clip.mp4")}),
        limited.post("/model", data={"title": "t"},
                     files=[("voices", ("v.wav", (media.root / "voice.wav").read_bytes()))]),
    ):
        assert_error(over, 429, "2 queued or running")
    assert len(services.tasks.queued_ids()) == 2
    assert limited.get("/model").json()["total"] == 0  # no model left behind by the refused upload
    # the limit is per key
    assert_ok(limited.post("/avatar/generation", headers=OTHER, json={
        "avatar_url": media.url("face.png"), "audio_url": media.url("speech.wav")}))
    # a cancelled task frees its slot, and so does a finished one
    assert_ok(limited.post(f"/v1/tasks/{first}/cancel"))
    assert_ok(avatar_task(limited, media))
    assert_error(avatar_task(limited, media), 429, "2 queued or running")
    run_all(services)
    assert_ok(avatar_task(limited, media))


def test_list_newest_first_with_filters_and_pages(client, run_queued, media):
    ids = [assert_ok(avatar_task(client, media, work_name=f"t{i}"))["id"] for i in range(5)]
    assert_ok(client.post(f"/v1/tasks/{ids[0]}/cancel"))
    assert_ok(client.post("/avatar/generation", headers=OTHER, json={
        "avatar_url": media.url("face.png"), "audio_url": media.url("speech.wav")}))

    first = assert_ok(client.get("/v1/tasks", params={"limit": 3}))
    assert [t["id"] for t in first["items"]] == ids[::-1][:3]
    assert all(set(t) == UNIFORM for t in first["items"])
    rest = assert_ok(client.get("/v1/tasks", params={"limit": 3, "cursor": first["next_cursor"]}))
    assert [t["id"] for t in rest["items"]] == ids[::-1][3:]
    assert rest["next_cursor"] is None  # the other key's task is not listed

    cancelled = assert_ok(client.get("/v1/tasks", params={"status": "cancelled"}))["items"]
    assert [t["id"] for t in cancelled] == [ids[0]]
    assert len(assert_ok(client.get("/v1/tasks", params={"kind": "avatar.generate"}))["items"]) == 5
    assert assert_ok(client.get("/v1/tasks", params={"kind": "remix"}))["items"] == []


def test_list_refuses_bad_filters(client, bare):
    assert_error(client.get("/v1/tasks", params={"kind": "nope"}), 400, "kind 'nope' is unknown", "avatar.generate")
    assert_error(client.get("/v1/tasks", params={"status": "done"}), 400, "status")
    assert_error(client.get("/v1/tasks", params={"limit": 0}), 400, "limit")
    assert_error(client.get("/v1/tasks", params={"cursor": "%%%"}), 400, "cursor", "next_cursor")
    assert_error(bare.get("/v1/tasks"), 401, "missing API key")


def _read_events(response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: "):])))
    return events


def test_events_stream_progress_then_the_final_task(client, bare, run_queued, media):
    task_id = assert_ok(avatar_task(client, media))["id"]
    worker = threading.Timer(1.5, run_queued)
    worker.start()
    # EventSource cannot send headers: the key may come as ?key= on this route
    with bare.stream("GET", f"/v1/tasks/{task_id}/events", params={"key": API_KEY}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _read_events(response)
    worker.join()
    names = [name for name, _ in events]
    assert names[0] == "progress" and names[-1] == "succeeded" and set(names[:-1]) == {"progress"}
    assert events[0][1]["status"] == "queued" and {"progress", "stage", "eta_s"} <= set(events[0][1])
    final = events[-1][1]
    assert set(final) == UNIFORM and final["id"] == task_id and final["outputs"]["video"]


def test_events_of_an_ended_task_and_of_others(client, bare, media):
    task_id = assert_ok(avatar_task(client, media))["id"]
    assert_ok(client.post(f"/v1/tasks/{task_id}/cancel"))
    with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
        events = _read_events(response)
    assert [name for name, _ in events] == ["cancelled"]
    assert events[0][1]["error"]["code"] == 499
    assert_error(client.get(f"/v1/tasks/{task_id}/events", headers=OTHER), 404, "does not exist")
    assert_error(bare.get(f"/v1/tasks/{task_id}/events", params={"key": "wrong"}), 401, "invalid API key")
    assert_error(bare.get(f"/v1/tasks/{task_id}/events"), 401, "missing API key")


def test_eta_follows_the_pace_so_far():
    from digihuman.api.routes.tasks import eta_s

    started = time.time() - 30
    task = SimpleNamespace(started_at=started, progress=25.0)
    assert eta_s(task) == pytest.approx(90, abs=1)
    assert eta_s(SimpleNamespace(started_at=started, progress=1.0)) is None
    assert eta_s(SimpleNamespace(started_at=None, progress=50.0)) is None


def test_docs_work_offline(bare):
    for page, asset in (("/docs", "/docs-assets/swagger-ui-bundle.js"), ("/redoc", "/docs-assets/redoc.standalone.js")):
        html = bare.get(page)
        assert html.status_code == 200 and asset in html.text
        assert "cdn." not in html.text and "fonts.googleapis" not in html.text
        script = bare.get(asset)
        assert script.status_code == 200 and len(script.content) > 500_000
    assert bare.get("/docs-assets/swagger-ui.css").status_code == 200
    assert "/v1/tasks/{task_id}/events" in bare.get("/openapi.json").json()["paths"]
