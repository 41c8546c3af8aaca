"""Voice cloning: POST /model (multipart), GET /model, GET and DELETE /model/{id}."""

from __future__ import annotations

import pytest

from tests.api.exchange import OTHER, assert_error, assert_ok

MODEL_FIELDS = {"_id", "type", "title", "description", "visibility", "tags", "languages", "train_mode",
                "state", "created_at", "progress", "task_id", "error"}


def post_model(client, samples, headers=None, **form):
    files = [("voices", (name, data, "audio/wav")) for name, data in samples]
    return client.post("/model", data=form, files=files, headers=headers)


@pytest.fixture
def wav(media):
    return media.root / "voice.wav"


def samples(wav, n=1):
    return [(f"s{i}.wav", wav.read_bytes()) for i in range(n)]


def test_create_trains_then_is_trained(client, run_queued, wav):
    response = post_model(client, samples(wav, 2), title="Narrator", train_mode="full",
                          **{"texts[]": ["first sample", "second sample"], "tags[]": ["calm", "en"]},
                          visibility="private", description="a calm voice", type="tts")
    assert response.status_code == 201, response.text
    model = response.json()
    assert MODEL_FIELDS <= model.keys()
    assert (model["title"], model["state"], model["visibility"], model["train_mode"], model["type"]) == \
        ("Narrator", "training", "private", "full", "tts")
    assert model["tags"] == ["calm", "en"] and model["description"] == "a calm voice"
    model_id = model["_id"]
    task = assert_ok(client.get(f"/v1/tasks/{model['task_id']}"))
    assert task["kind"] == "voice.train" and task["status"] == "queued"

    assert run_queued() == 1
    trained = client.get(f"/model/{model_id}")
    assert trained.status_code == 200
    trained = trained.json()
    assert (trained["_id"], trained["state"]) == (model_id, "trained")
    assert (trained["progress"], trained["error"]) == (100, None)
    assert trained["languages"] == ["en"]


def test_texts_are_optional(client, wav):
    response = post_model(client, samples(wav), title="no transcripts")
    assert response.status_code == 201 and response.json()["state"] == "training"
    assert response.json()["visibility"] == "private" and response.json()["train_mode"] == "fast"


def test_list_get_delete(client, run_queued, wav):
    model_id = post_model(client, samples(wav), title="to delete").json()["_id"]
    run_queued()
    listing = client.get("/model").json()
    assert listing["total"] == 1 and [m["_id"] for m in listing["items"]] == [model_id]
    assert listing["items"][0]["state"] == "trained"
    assert client.get(f"/model/{model_id}").json()["title"] == "to delete"

    deleted = client.delete(f"/model/{model_id}")
    assert assert_ok(deleted) is None and deleted.json()["msg"] == "deleted"
    assert_error(client.get(f"/model/{model_id}"), 404, model_id, "does not exist")
    assert_error(client.delete(f"/model/{model_id}"), 404, "does not exist")
    assert client.get("/model").json() == {"total": 0, "items": []}


def test_deleting_a_model_in_training_is_a_conflict(client, wav):
    model = post_model(client, samples(wav), title="busy").json()
    assert_error(client.delete(f"/model/{model['_id']}"), 409, "training", "cancel", model["task_id"])


def test_private_model_is_invisible_to_another_key(client, run_queued, wav):
    model_id = post_model(client, samples(wav), title="mine", visibility="private").json()["_id"]
    run_queued()
    assert_error(client.get(f"/model/{model_id}", headers=OTHER), 404, "does not exist")
    assert client.get("/model", headers=OTHER).json() == {"total": 0, "items": []}
    assert_error(client.delete(f"/model/{model_id}", headers=OTHER), 404, "does not exist")
    speak = {"text": "hi", "reference_id": model_id}
    assert_error(client.post("/v1/tts", json=speak, headers=OTHER), 400, "reference_id", "neither")
    assert client.post("/v1/tts", json=speak).status_code == 200


def test_public_model_is_visible_and_usable_but_not_deletable_by_another_key(client, run_queued, wav):
    model_id = post_model(client, samples(wav), title="shared", visibility="public").json()["_id"]
    run_queued()
    theirs = client.get("/model", headers=OTHER).json()
    assert [m["_id"] for m in theirs["items"]] == [model_id]
    assert client.get(f"/model/{model_id}", headers=OTHER).json()["state"] == "trained"
    speak = {"text": "hi", "reference_id": model_id}
    assert client.post("/v1/tts", json=speak, headers=OTHER).status_code == 200
    assert_error(client.delete(f"/model/{model_id}", headers=OTHER), 404, "does not exist")
    assert client.get(f"/model/{model_id}").status_code == 200


def test_unlisted_model_is_usable_by_id_but_not_listed(client, run_queued, wav):
    model_id = post_model(client, samples(wav), title="link only", visibility="unlist").json()["_id"]
    run_queued()
    assert client.get("/model", headers=OTHER).json()["total"] == 0
    assert client.get(f"/model/{model_id}", headers=OTHER).status_code == 200
    assert [m["_id"] for m in client.get("/model").json()["items"]] == [model_id]


def test_texts_count_must_match_voices(client, services, wav):
    response = post_model(client, samples(wav, 2), title="t", **{"texts[]": ["only one"]})
    assert_error(response, 400, "texts[]", "1 transcripts", "2 voices", "one per sample")
    assert services.tasks.queued_ids() == [] and client.get("/model").json()["total"] == 0


def test_text_file_as_a_voice_is_unprocessable(client, wav):
    bad = [("s0.wav", wav.read_bytes()), ("notes.wav", b"these are my notes, not a recording\n" * 10)]
    assert_error(post_model(client, bad, title="t"), 422, "voices[1]", "not an audio, video or image file")
    assert client.get("/model").json()["total"] == 0


def test_picture_as_a_voice_is_unprocessable(client, media):
    response = post_model(client, [("face.png", (media.root / "face.png").read_bytes())], title="t")
    assert_error(response, 422, "voices[0]", "no sound", "image")


@pytest.mark.parametrize(("form", "field"), [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "t", "train_mode": "slow"}, "train_mode"),
    ({"title": "t", "visibility": "secret"}, "visibility"),
    ({"title": "t", "type": "svc"}, "type"),
])
def test_bad_form_fields(client, wav, form, field):
    assert_error(post_model(client, samples(wav), **form), 400, "invalid request", field)


def test_voices_are_required(client):
    assert_error(client.post("/model", data={"title": "t"}, files={"other": ("x.bin", b"x")}), 400,
                 "voices", "required")


def test_too_many_samples(client, wav):
    assert_error(post_model(client, samples(wav, 21), title="t"), 400, "at most 20", "not 21")


def test_unknown_model(client):
    assert_error(client.get("/model/abcdef"), 404, "voice model 'abcdef' does not exist")
