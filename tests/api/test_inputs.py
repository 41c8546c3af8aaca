"""Media inputs given as URLs: refused schemes and addresses, sizes, content that is not what it claims."""

from __future__ import annotations

import socket

import pytest

from tests.api.exchange import assert_error, assert_ok, upload


def generate(client, avatar_url, audio_url):
    return client.post("/avatar/generation", json={"avatar_url": avatar_url, "audio_url": audio_url})


@pytest.mark.parametrize("url", ["not a url", "example.com/face.png", "http://", "http://exa mple.com/a.png"])
def test_malformed_url(client, media, url):
    msg = assert_error(generate(client, url, media.url("speech.wav")), 400, "avatar_url")
    assert "not a valid url" in msg.lower() or "no host name" in msg.lower()
    assert "http(s)" in msg


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.wav", "gopher://127.0.0.1:70/x"])
def test_refused_scheme(client, media, url):
    scheme = url.split(":")[0]
    assert_error(generate(client, media.url("face.png"), url), 400,
                 "audio_url", f"{scheme}: scheme", "refused")


def test_empty_url(client, media):
    assert_error(generate(client, "", media.url("speech.wav")), 400, "avatar_url is missing", "/v1/files")


def test_private_addresses_are_refused_without_an_allow_list(make_client, media):
    strict, services = make_client(allowed_hosts=[])
    for url, shown in (("http://10.0.0.1/a.mp4", "10.0.0.1"), (media.url("face.png"), "127.0.0.1"),
                       ("http://169.254.169.254/latest/meta-data/", "169.254.169.254")):
        msg = assert_error(generate(strict, url, media.url("speech.wav")), 400,
                           "avatar_url", "private or local address", shown)
        assert "DIGIHUMAN_ALLOWED_HOSTS" in msg
    assert services.tasks.queued_ids() == []


def test_allow_listed_loopback_is_fetched(client, media):
    assert_ok(generate(client, media.url("face.png"), media.url("speech.wav")))


def test_oversize_download(make_client, media):
    small, services = make_client(media={"max_input_bytes": 1000})
    assert_error(generate(small, media.url("face.png"), media.url("speech.wav")), 413,
                 "audio_url", "larger than", "1000 bytes")
    assert services.tasks.queued_ids() == []


def test_oversize_uploaded_input(make_client, media):
    # uploads may be as large as a training video; used as a plain input, a file obeys the input limit
    small, _ = make_client(media={"max_input_bytes": 1000})
    audio = upload(small, media.root / "speech.wav")
    assert_error(generate(small, media.url("face.png"), audio), 413, "audio_url", "larger than")


def test_text_file_named_mp4(client, media):
    assert_error(generate(client, media.url("notes.mp4"), media.url("speech.wav")), 422,
                 "avatar_url", "not an audio, video or image file")


def test_audio_where_a_picture_is_needed(client, media):
    assert_error(generate(client, media.url("speech.wav"), media.url("speech.wav")), 422,
                 "avatar_url", "not an image or a video", "audio file")


def test_picture_where_speech_is_needed(client, media):
    assert_error(generate(client, media.url("face.png"), media.url("face.jpg")), 422, "audio_url", "no sound")


def test_silent_video_where_speech_is_needed(client, media):
    assert_error(generate(client, media.url("face.png"), media.url("silent.mp4")), 422,
                 "audio_url", "no sound", "without an audio track")


def test_missing_remote_file(client, media):
    assert_error(generate(client, media.url("face.png"), media.url("gone.wav")), 502,
                 "audio_url", "could not be downloaded", "HTTP 404")


def test_unreachable_host(client, media):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nothing listens there
    assert_error(generate(client, media.url("face.png"), f"http://127.0.0.1:{port}/a.wav"), 502,
                 "audio_url", "could not be downloaded")


def test_own_file_url_that_does_not_exist(client, media):
    key = "uploads/" + "0" * 40 + ".wav"
    assert_error(generate(client, media.url("face.png"), f"http://testserver/files/{key}"),
                 404, "audio_url", "not on this server", key, "POST /v1/files")


@pytest.mark.parametrize("key", ["../digihuman.db", "..%2F..%2Fetc%2Fpasswd", "uploads/../../digihuman.db"])
def test_own_file_url_cannot_climb_out_of_storage(client, media, key):
    assert_error(generate(client, f"http://testserver/files/{key}", media.url("speech.wav")), 400,
                 "avatar_url", "invalid file key")


def test_nothing_is_queued_after_refused_input(client, services, media):
    generate(client, media.url("notes.mp4"), media.url("speech.wav"))
    generate(client, media.url("face.png"), "file:///etc/passwd")
    assert services.tasks.queued_ids() == []
