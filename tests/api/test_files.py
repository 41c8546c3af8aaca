"""POST /v1/files (content-addressed uploads) and GET /files/{key} (downloads, with ranges)."""

from __future__ import annotations

import re

import pytest

from tests.api.exchange import assert_error, assert_ok, path_of


def post_file(client, name, data):
    return client.post("/v1/files", files={"file": (name, data)})


@pytest.mark.parametrize(("name", "extension", "content_type", "kind"), [
    ("clip.mp4", "mp4", "video/mp4", "video"),
    ("face.png", "png", "image/png", "image"),
    ("face.jpg", "jpg", "image/jpeg", "image"),
    ("speech.wav", "wav", "audio/wav", "audio"),
])
def test_upload_and_download(client, bare, media, name, extension, content_type, kind):
    data = (media.root / name).read_bytes()
    uploaded = assert_ok(post_file(client, "whatever.bin", data))
    assert re.fullmatch(rf"uploads/[0-9a-f]{{40}}\.{extension}", uploaded["key"]), uploaded
    assert uploaded["url"] == f"http://testserver/files/{uploaded['key']}"
    assert (uploaded["bytes"], uploaded["content_type"], uploaded["kind"]) == (len(data), content_type, kind)
    got = bare.get(path_of(uploaded["url"]))  # downloads need no key
    assert got.status_code == 200
    assert got.headers["content-type"] == content_type
    assert got.content == data


def test_same_bytes_give_the_same_key(client, media):
    data = (media.root / "clip.mp4").read_bytes()
    first = assert_ok(post_file(client, "a.mp4", data))
    second = assert_ok(post_file(client, "b.mov", data))
    assert first["key"] == second["key"] and first["url"] == second["url"]
    other = assert_ok(post_file(client, "c.mp4", (media.root / "talk2.mp4").read_bytes()))
    assert other["key"] != first["key"]
    assert first["duration_s"] == pytest.approx(1.0, abs=0.2)


def test_range_request(client, bare, media):
    data = (media.root / "clip.mp4").read_bytes()
    url = assert_ok(post_file(client, "a.mp4", data))["url"]
    partial = bare.get(path_of(url), headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206
    assert partial.headers["content-range"] == f"bytes 0-99/{len(data)}"
    assert partial.content == data[:100]
    tail = bare.get(path_of(url), headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert bare.get(path_of(url)).headers["accept-ranges"] == "bytes"


def test_unsatisfiable_range(client, bare, media):
    data = (media.root / "speech.wav").read_bytes()
    url = assert_ok(post_file(client, "a.wav", data))["url"]
    assert bare.get(path_of(url), headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416


def test_text_file_is_refused(client, services):
    assert_error(post_file(client, "movie.mp4", b"just some text, not a movie\n" * 20), 422,
                 "file", "not an audio, video or image file", "mp4")
    uploads = services.settings.files_dir / "uploads"
    assert not uploads.exists() or not list(uploads.iterdir())


def test_empty_file_is_refused(client):
    assert_error(post_file(client, "empty.wav", b""), 400, "file is empty")


def test_missing_file_field(client):
    assert_error(client.post("/v1/files", files={"upload": ("a.wav", b"x")}), 400, "file", "required")


def test_oversize_upload(make_client, media):
    small, _ = make_client(media={"max_training_bytes": 1000})
    assert_error(post_file(small, "speech.wav", (media.root / "speech.wav").read_bytes()), 413,
                 "file", "larger than", "1000 bytes", "upload limit")


def test_upload_over_the_body_limit(make_client):
    small, _ = make_client(media={"max_training_bytes": 1000})
    # the body limit of upload routes is the upload limit plus 1 MB for the form around the file
    assert_error(post_file(small, "big.wav", b"\0" * (2 * 1024 * 1024)), 413, "larger than")


def test_unknown_key(bare):
    assert_error(bare.get("/files/uploads/" + "0" * 40 + ".mp4"), 404, "does not exist")


@pytest.mark.parametrize("path", [
    "/files/..%2F..%2F..%2Fetc%2Fpasswd",
    "/files/..%2Fdigihuman.db",
    "/files/uploads/..%2F..%2Fdigihuman.db",
    "/files/%2Fetc%2Fpasswd",
    "/files/../../etc/passwd",
    "/files/.%2E/.%2E/etc/passwd",
    "/files/tasks/%00",
])
def test_traversal_never_serves_files(bare, path):
    response = bare.get(path)
    assert response.status_code in (400, 404), response.text[:200]
    assert_error(response, response.status_code)
    assert b"root:" not in response.content and b"SQLite" not in response.content


def test_hidden_partial_files_are_not_served(client, bare, services):
    services.storage.put_bytes("uploads/x.wav", b"RIFF")
    (services.settings.files_dir / "uploads" / ".part-secret").write_bytes(b"half a file")
    assert bare.get("/files/uploads/x.wav").status_code == 200
    assert_error(bare.get("/files/uploads/.part-secret"), 400, "invalid file key")
