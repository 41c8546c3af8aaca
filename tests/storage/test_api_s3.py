"""An API server keeping its files in an S3-compatible store: uploads go in, downloads redirect to it."""

from __future__ import annotations

from pathlib import Path

import httpx

from digihuman.config import Settings
from tests.conftest import API_KEY, AUTH, make_settings
from tests.mediagen import make_png
from tests.support.live_server import live_server


def test_upload_then_download_through_the_store(s3_storage_url: str, tmp_path: Path) -> None:
    data = make_png(tmp_path / "face.png").read_bytes()
    def make(url: str) -> Settings:
        return make_settings(tmp_path / "data", public_url=url, storage_url=s3_storage_url)

    with live_server(make, work=False) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        uploaded = http.post("/v1/files", headers=AUTH, files={"file": ("f.png", data)}).json()["data"]
        assert uploaded["url"] == f"{server.url}/files/{uploaded['key']}"
        assert uploaded["bytes"] == len(data)
        assert (uploaded["content_type"], uploaded["kind"]) == ("image/png", "image")
        assert server.services.storage.exists(uploaded["key"])
        assert not (tmp_path / "data" / "files").exists()  # nothing in the data dir but the cache

        redirect = http.get(uploaded["url"])
        assert redirect.status_code == 302
        assert not redirect.headers["location"].startswith(server.url)  # the store serves the bytes
        got = http.get(uploaded["url"], follow_redirects=True)
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-type"] == "image/png"
        head = http.head(uploaded["url"], follow_redirects=True)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
        assert http.get("/files/uploads/none.png").status_code == 404


def test_a_proxied_store_is_served_by_the_api(s3_storage_url: str, tmp_path: Path) -> None:
    data = make_png(tmp_path / "face.png").read_bytes()
    def make(url: str) -> Settings:
        return make_settings(tmp_path / "data", public_url=url, storage_url=s3_storage_url,
                             storage={"proxy": True})

    with live_server(make, work=False) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        url = http.post("/v1/files", headers=AUTH, files={"file": ("f.png", data)}).json()["data"]["url"]
        got = http.get(url, headers={"Range": "bytes=0-9"})
        assert got.status_code == 206 and got.content == data[:10]


def test_the_python_client_follows_downloads_to_the_store(s3_storage_url: str, tmp_path: Path) -> None:
    from digihuman.client import Client

    image = make_png(tmp_path / "face.png")
    def make(url: str) -> Settings:
        return make_settings(tmp_path / "data", public_url=url, storage_url=s3_storage_url)

    with live_server(make, work=False) as server, Client(server.url, API_KEY) as client:
        url = client.upload(image)
        assert client.download(url, tmp_path / "back.png").read_bytes() == image.read_bytes()
