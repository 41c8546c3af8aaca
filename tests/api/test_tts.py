"""POST /v1/tts (audio bytes in the asked format) and GET /v1/voices."""

from __future__ import annotations

import pytest

from digihuman.media.probe import probe
from tests.api.exchange import assert_error, assert_ok

TEXT = "Hello there. This is a test of speech."


def speak(client, **body):
    return client.post("/v1/tts", json={"text": TEXT, **body})


@pytest.mark.parametrize(("fmt", "content_type", "codec", "extension"), [
    ("wav", "audio/wav", "pcm_s16le", "wav"),
    ("mp3", "audio/mpeg", "mp3", "mp3"),
    ("opus", "audio/ogg; codecs=opus", "opus", "ogg"),
])
def test_encoded_formats_decode(client, tmp_path, fmt, content_type, codec, extension):
    response = speak(client, reference_id="fake-en", format=fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    assert f'filename="speech.{fmt}"' in response.headers["content-disposition"]
    path = tmp_path / f"speech.{fmt}"
    path.write_bytes(response.content)
    info = probe(path)
    assert (info.kind, info.audio_codec, info.extension, info.channels) == ("audio", codec, extension, 1)
    assert info.duration_s > 0.5


def test_pcm_is_raw_16_bit_samples(client):
    response = speak(client, reference_id="fake-zh", format="pcm")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/pcm"
    assert len(response.content) > 0 and len(response.content) % 2 == 0
    assert not response.content.startswith(b"RIFF")
    assert len(response.content) // 2 > 16000 * 0.5  # over half a second at the voice's 16 kHz


def test_sample_rate_and_bitrate(client, tmp_path):
    wav = speak(client, format="wav", sample_rate=8000)
    assert wav.status_code == 200
    (tmp_path / "a.wav").write_bytes(wav.content)
    assert probe(tmp_path / "a.wav").sample_rate == 8000
    for rate in (64, 192):
        mp3 = speak(client, format="mp3", mp3_bitrate=rate)
        assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    low, high = (len(speak(client, format="mp3", mp3_bitrate=rate).content) for rate in (64, 192))
    assert low < high


def test_default_voice_and_options(client, tmp_path):
    response = speak(client, normalize=False, latency="balanced", temperature=0.7, top_p=0.9,
                     chunk_length=100)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    (tmp_path / "a.wav").write_bytes(response.content)
    assert probe(tmp_path / "a.wav").kind == "audio"


def test_unknown_reference_id_lists_voices(client):
    assert_error(speak(client, reference_id="nobody"), 400, "reference_id", "'nobody'", "fake-en", "fake-zh",
                 "GET /v1/voices")


@pytest.mark.parametrize("chunk_length", [99, 301, 0])
def test_bad_chunk_length(client, chunk_length):
    assert_error(speak(client, chunk_length=chunk_length), 400, "invalid request", "chunk_length")


@pytest.mark.parametrize(("body", "field"), [
    ({"format": "flac"}, "format"),
    ({"mp3_bitrate": 100}, "mp3_bitrate"),
    ({"latency": "fast"}, "latency"),
    ({"sample_rate": 1000}, "sample_rate"),
    ({"temperature": 3}, "temperature"),
    ({"text": ""}, "text"),
])
def test_bad_fields(client, body, field):
    assert_error(speak(client, **body), 400, "invalid request", field)


def test_missing_text(client):
    assert_error(client.post("/v1/tts", json={"reference_id": "fake-en"}), 400, "text is required")


def test_blank_text(client):
    assert_error(speak(client, text="   "), 400, "text is empty")


def test_voice_model_as_reference(client, tmp_path, voice_model):
    response = speak(client, reference_id=voice_model, format="wav")
    assert response.status_code == 200, response.text
    (tmp_path / "a.wav").write_bytes(response.content)
    info = probe(tmp_path / "a.wav")
    assert info.kind == "audio" and info.duration_s > 0.5


def test_voice_model_in_training_is_a_conflict(client, media):
    sample = media.root / "voice.wav"
    files = [("voices", ("v.wav", sample.read_bytes()))]
    model_id = client.post("/model", data={"title": "t"}, files=files).json()["_id"]
    assert_error(speak(client, reference_id=model_id), 409, model_id, "not trained")


def test_voices(client):
    voices = assert_ok(client.get("/v1/voices"))["voices"]
    assert [v["id"] for v in voices] == ["fake-en", "fake-zh"]
    assert voices[0] == {"id": "fake-en", "name": "Fake English", "language": "en-US", "gender": "male",
                         "sample_rate": 16000, "description": voices[0]["description"],
                         "sample_url": "http://testserver/v1/voices/fake-en/sample"}
    assert voices[1]["language"] == "zh-CN"
