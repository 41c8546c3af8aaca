"""Task payloads: JSON round trips, validation at construction, and rows written before payloads existed."""

from __future__ import annotations

import json

import pytest

from digihuman.errors import InvalidInput
from digihuman.services import Services
from digihuman.tasks.jobs import JOBS, PAYLOADS
from digihuman.tasks.payloads import (
    AVATAR_GENERATE,
    AvatarFastPayload,
    AvatarGeneratePayload,
    AvatarTrainPayload,
    AvatarV2Payload,
    CreateVoice,
    RemixPayload,
    UseVoice,
    VoiceSayPayload,
    VoiceTrainPayload,
)
from digihuman.tasks.records import TaskStatus
from digihuman.tasks.worker import Worker
from tests.conftest import make_settings

EXAMPLES = [
    AvatarGeneratePayload(avatar_key="uploads/a.png", use_voice=UseVoice("fake-en", "hello"), resolution=720),
    AvatarGeneratePayload(avatar_key="uploads/v.mp4", avatar_kind="video", avatar_model_id="m1",
                          create_voice=CreateVoice("uploads/s.wav", "hi there", "en"), no_watermark=True),
    AvatarV2Payload(avatar_key="uploads/v.mp4", audio_key="uploads/s.wav", avatar_model_id=None),
    AvatarTrainPayload(avatar_model_id="m1", video_key="uploads/v.mp4"),
    AvatarFastPayload(avatar_model_id="m1", audio_key="uploads/s.wav", resolution=1080),
    VoiceTrainPayload(voice_model_id="v1", sample_keys=("uploads/a.wav", "uploads/b.wav"), texts=("one", "two"),
                      sample_names=("a.wav", "b.wav"), train_mode="full", enhance=True),
    VoiceSayPayload(voice_id="fake-en", text="hello"),
    RemixPayload(video_key="uploads/v.mp4", custom_floating_text=("{big} news",), voice="fake-en",
                 rewrite="default", transforms={"mirror": True, "music_url": "http://x/m.wav"},
                 subtitle_style={"size": 30}, music_key="uploads/m.wav"),
]


def test_every_job_kind_has_a_payload_class() -> None:
    assert set(PAYLOADS) == set(JOBS)
    assert all(cls.KIND == kind for kind, cls in PAYLOADS.items())


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda p: type(p).__name__)
def test_round_trip_through_json_text(payload) -> None:
    stored = json.loads(json.dumps(payload.to_json()))  # as the database keeps it
    assert type(payload).from_json(stored) == payload
    assert PAYLOADS[payload.KIND] is type(payload)


def test_v2_defaults_are_those_create_v2_always_stored() -> None:
    data = AvatarV2Payload(avatar_key="uploads/v.mp4", audio_key="uploads/s.wav").to_json()
    assert (data["avatar_kind"], data["quality"], data["no_watermark"]) == ("video", "v2", True)


@pytest.mark.parametrize(("build", "words"), [
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png"), ["exactly one of audio_key"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", audio_key="uploads/s.wav",
                                   use_voice=UseVoice("fake-en", "hi")), ["exactly one", "audio_key and use_voice"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", audio_key="uploads/s.wav", resolution=99),
     ["resolution", "128 to 3840"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", audio_key="uploads/s.wav", resolution=721),
     ["resolution", "even"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", audio_key="uploads/s.wav", quality="best"),
     ["quality", "standard, v2"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", audio_key="uploads/s.wav", no_watermark="yes"),
     ["no_watermark", "true or false"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", audio_key="uploads/s.wav", avatar_model_id="m"),
     ["avatar_model_id", "video avatars only"]),
    (lambda: AvatarGeneratePayload(avatar_key="../etc/passwd", audio_key="uploads/s.wav"), ["avatar_key"]),
    (lambda: AvatarGeneratePayload(avatar_key="uploads/a.png", use_voice=UseVoice("fake-en", "  ")),
     ["use_voice.text", "empty"]),
    (lambda: AvatarV2Payload(avatar_key="uploads/v.mp4", use_voice=UseVoice("fake-en", "hi")), ["audio_key"]),
    (lambda: AvatarV2Payload(avatar_key="uploads/v.mp4", audio_key="uploads/s.wav", avatar_kind="image"),
     ["avatar_kind", "video"]),
    (lambda: AvatarFastPayload(avatar_model_id="", audio_key="uploads/s.wav"), ["avatar_model_id"]),
    (lambda: VoiceTrainPayload(voice_model_id="v", sample_keys=()), ["sample_keys", "at least one"]),
    (lambda: VoiceTrainPayload(voice_model_id="v", sample_keys=("uploads/a.wav",), texts=("a", "b")),
     ["texts", "2 transcripts for 1 samples"]),
    (lambda: VoiceTrainPayload(voice_model_id="v", sample_keys=("uploads/a.wav",), train_mode="slow"),
     ["train_mode", "fast, full"]),
    (lambda: VoiceSayPayload(voice_id="fake-en", text=""), ["text", "empty"]),
    (lambda: RemixPayload(video_key="uploads/v.mp4", rewrite="default"), ["rewrite needs voice"]),
    (lambda: RemixPayload(video_key="uploads/v.mp4", custom_floating_text=(3,)), ["custom_floating_text[0]"]),
])
def test_invalid_payloads_are_refused_naming_the_field(build, words) -> None:
    with pytest.raises(InvalidInput) as caught:
        build()
    assert all(w in caught.value.message for w in words), caught.value.message


def test_unknown_keys_are_refused() -> None:
    data = VoiceSayPayload(voice_id="fake-en", text="hi").to_json()
    with pytest.raises(InvalidInput, match="unknown key speed"):
        VoiceSayPayload.from_json({**data, "speed": 2})
    nested = EXAMPLES[0].to_json()
    nested["use_voice"]["pitch"] = 1
    with pytest.raises(InvalidInput, match="use_voice has unknown key pitch"):
        AvatarGeneratePayload.from_json(nested)


def test_missing_and_mistyped_keys_are_refused() -> None:
    with pytest.raises(InvalidInput, match="request of this voice.say task lacks voice_id"):
        VoiceSayPayload.from_json({"text": "hi"})
    with pytest.raises(InvalidInput, match="sample_keys"):
        VoiceTrainPayload.from_json({"voice_model_id": "v", "sample_keys": "uploads/a.wav"})
    with pytest.raises(InvalidInput, match="must be an object"):
        AvatarTrainPayload.from_json(["m1", "uploads/v.mp4"])  # type: ignore[arg-type]


# Inputs exactly as the routes stored them before payloads existed.
OLD_ROWS = [
    (AVATAR_GENERATE, {"avatar_key": "uploads/a.png", "avatar_kind": "image", "no_watermark": False,
                       "resolution": None, "use_voice": {"voice_engine_id": "fake-en", "audio_id": None,
                                                         "language": None, "text": "hello"}}),
    (AVATAR_GENERATE, {"avatar_key": "uploads/v.mp4", "avatar_kind": "video", "no_watermark": True,
                       "resolution": 720, "avatar_model_id": "m1",
                       "create_voice": {"audio_key": "uploads/s.wav", "language": "en", "text": "hi"}}),
    ("avatar.v2", {"avatar_key": "uploads/v.mp4", "avatar_kind": "video", "audio_key": "uploads/s.wav",
                   "quality": "v2", "no_watermark": True, "resolution": None}),
    ("avatar.train", {"avatar_model_id": "m1", "video_key": "uploads/v.mp4"}),
    ("avatar.fast", {"avatar_model_id": "m1", "audio_key": "uploads/s.wav", "no_watermark": True}),
    ("voice.train", {"voice_model_id": "v1", "sample_keys": ["uploads/a.wav"], "train_mode": "fast"}),
    ("voice.train", {"voice_model_id": "v1", "sample_keys": ["uploads/a.wav"], "texts": None, "train_mode": "full",
                     "enhance": True, "sample_names": ["me.wav"]}),
    ("voice.say", {"voice_id": "fake-en", "text": "hello"}),
    ("remix", {"text_content": None, "custom_floating_text": [], "voice": None, "transforms": {},
               "subtitle_style": {}, "callback_url": None, "video_key": "uploads/v.mp4", "rewrite": None}),
]


@pytest.mark.parametrize(("kind", "row"), OLD_ROWS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(OLD_ROWS)])
def test_rows_written_before_payloads_still_load(kind, row) -> None:
    payload = PAYLOADS[kind].from_json(row)
    kept = payload.to_json()
    assert all(kept[k] == v for k, v in row.items() if k in kept)  # every key keeps its name and value
    if kind == "avatar.fast":
        assert payload.resolution is None and payload.quality == "standard"


def test_a_row_that_no_longer_parses_fails_its_task_with_a_sentence(tmp_path) -> None:
    services = Services(make_settings(tmp_path / "data"))
    task = services.tasks.create(AVATAR_GENERATE, {"avatar_key": "uploads/a.png", "voice": "fake-en"},
                                 owner="o", timeout_s=60, max_attempts=1)
    Worker(services).run(task.id)
    failed = services.tasks.get(task.id)
    assert failed.status is TaskStatus.FAILED and failed.error_code == 500
    assert failed.error_message == ("this task cannot run on this server: the stored request of this avatar.generate "
                                    "task has unknown key voice; known: audio_key, avatar_key, avatar_kind, "
                                    "avatar_model_id, create_voice, no_watermark, quality, resolution, text, use_voice; "
                                    "submit it again.")
