"""fetch() downloads through a real local HTTP server; check_url() refuses what must not be fetched."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from digihuman.errors import FetchFailed, InvalidInput, TooLarge, UrlRefused
from digihuman.media.fetch import FetchPolicy, check_url, fetch, human_size
from digihuman.media.probe import probe
from tests.mediagen import make_video

MB = 1024 * 1024
LOCAL = FetchPolicy(max_bytes=1 * MB, allowed_hosts=frozenset({"127.0.0.1"}))
SMALL = b"0123456789" * 100
PRIVATE = "private or local address"
FAILED = "could not be downloaded"


class Server:
    """What the test handler serves, and what it was asked for."""

    def __init__(self, video: bytes) -> None:
        self.video = video
        self.paths: list[str] = []
        self.release = threading.Event()
        self.url = ""


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            server.paths.append(self.path)
            route = {
                "/small": lambda: self._body(SMALL, "application/octet-stream"),
                "/video.mp4": lambda: self._body(server.video, "video/mp4"),
                "/empty": lambda: self._body(b"", "video/mp4"),
                "/big-declared": lambda: self._endless(declared=True),
                "/big-undeclared": lambda: self._endless(declared=False),
                "/redirect": lambda: self._redirect("/small"),
                "/redirect-twice": lambda: self._redirect(f"{server.url}/redirect"),
                "/redirect-private": lambda: self._redirect("http://10.1.2.3/x"),
                "/redirect-file": lambda: self._redirect("file:///etc/passwd"),
                "/loop": lambda: self._redirect("/loop"),
                "/slow": self._slow,
            }.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404)
            else:
                route()

        def _body(self, data: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _endless(self, declared: bool) -> None:
            self.send_response(200)
            if declared:
                self.send_header("Content-Length", str(50 * MB))
            self.end_headers()
            # HTTP/1.0 without Content-Length: the body ends when we close; the client should hang up first
            chunk = b"\0" * 65536
            try:
                for _ in range(50 * MB // len(chunk)):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _slow(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            server.release.wait(5)

    return Handler


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    video = make_video(tmp_path_factory.mktemp("served") / "v.mp4").read_bytes()
    state = Server(video)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def srv(server):
    server.paths.clear()
    return server


class Recording(httpx.BaseTransport):
    """A real transport that remembers every URL it was asked to connect to."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.urls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_small_file(srv, tmp_path):
    got = fetch(f"{srv.url}/small", tmp_path / "out", LOCAL, "video_url")
    assert got.path.read_bytes() == SMALL
    assert got.path.read_bytes() == SMALL and got.size == len(SMALL)
    assert (got.content_type, got.final_url) == ("application/octet-stream", f"{srv.url}/small")


def test_fetched_video_probes_as_video(srv, tmp_path):
    got = fetch(f"{srv.url}/video.mp4", tmp_path / "out", LOCAL, "video_url")
    assert got.content_type == "video/mp4"
    assert probe(got.path).kind == "video"


def test_redirects_are_followed(srv, tmp_path):
    got = fetch(f"{srv.url}/redirect-twice", tmp_path / "out", LOCAL)
    assert got.path.read_bytes() == SMALL
    assert got.final_url == f"{srv.url}/small"
    assert srv.paths == ["/redirect-twice", "/redirect", "/small"]


def test_redirect_to_private_address_is_refused_before_connecting(srv, tmp_path):
    transport = Recording()
    refused = rf"^video_url \(redirected to http://10\.1\.2\.3/x\) .*{PRIVATE} \(10\.1\.2\.3\)"
    with pytest.raises(UrlRefused, match=refused):
        fetch(f"{srv.url}/redirect-private", tmp_path / "out", LOCAL, "video_url", transport=transport)
    assert transport.urls == [f"{srv.url}/redirect-private"]
    assert not (tmp_path / "out").exists()


def test_redirect_to_file_scheme_is_refused(srv, tmp_path):
    with pytest.raises(UrlRefused, match="uses the file: scheme"):
        fetch(f"{srv.url}/redirect-file", tmp_path / "out", LOCAL, "video_url")


def test_redirect_loop_stops(srv, tmp_path):
    policy = FetchPolicy(max_bytes=MB, max_redirects=3, allowed_hosts=LOCAL.allowed_hosts)
    with pytest.raises(FetchFailed, match=rf"^video_url {FAILED}: it redirected more than 3 times"):
        fetch(f"{srv.url}/loop", tmp_path / "out", policy, "video_url")
    assert srv.paths == ["/loop"] * 4


def test_http_error_status(srv, tmp_path):
    with pytest.raises(FetchFailed, match=rf"^audio_url {FAILED}: the server answered HTTP 404\."):
        fetch(f"{srv.url}/missing", tmp_path / "out", LOCAL, "audio_url")
    assert not (tmp_path / "out").exists()


def test_empty_body(srv, tmp_path):
    with pytest.raises(FetchFailed, match="the server sent an empty body"):
        fetch(f"{srv.url}/empty", tmp_path / "out", LOCAL)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", ["/big-declared", "/big-undeclared"])
def test_too_large_is_refused_and_cleaned_up(srv, tmp_path, path):
    start = time.perf_counter()
    with pytest.raises(TooLarge, match=r"^video_url is larger than the 1 MB limit\.$"):
        fetch(f"{srv.url}{path}", tmp_path / "out", LOCAL, "video_url")
    assert time.perf_counter() - start < 5  # stopped early, not after reading all 50 MB
    assert not (tmp_path / "out").exists()


def test_read_timeout(srv, tmp_path):
    policy = FetchPolicy(max_bytes=MB, read_timeout_s=0.5, allowed_hosts=LOCAL.allowed_hosts)
    start = time.perf_counter()
    with pytest.raises(FetchFailed, match=rf"^video_url {FAILED}: 127\.0\.0\.1 sent nothing for 0\.5 s"):
        fetch(f"{srv.url}/slow", tmp_path / "out", policy, "video_url")
    assert time.perf_counter() - start < 3
    assert not (tmp_path / "out").exists()


def test_connection_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchFailed, match=r"could not be downloaded: could not connect to 127\.0\.0\.1\.$"):
        fetch(f"http://127.0.0.1:{port}/x", tmp_path / "out", LOCAL)


def test_loopback_is_refused_unless_allow_listed(srv, tmp_path):
    strict = FetchPolicy(max_bytes=MB)
    with pytest.raises(UrlRefused, match=rf"{PRIVATE} \(127\.0\.0\.1\).*DIGIHUMAN_ALLOWED_HOSTS"):
        fetch(f"{srv.url}/small", tmp_path / "out", strict, "video_url")
    assert srv.paths == []


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        (
            "file:///etc/passwd",
            UrlRefused,
            r"^url uses the file: scheme, which is refused: only http\(s\) URLs or files uploaded via POST",
        ),
        ("ftp://example.com/a.mp4", UrlRefused, "uses the ftp: scheme"),
        ("data:video/mp4;base64,AAAA", UrlRefused, "uses the data: scheme"),
        ("not a url", InvalidInput, r"^url is not a valid URL: give an http\(s\) URL"),
        ("", InvalidInput, "is not a valid URL"),
        ("http://", InvalidInput, "has no host name"),
        ("http://example.com:99999/", InvalidInput, "is not a valid URL"),
        ("http://169.254.169.254/latest/meta-data", UrlRefused, rf"{PRIVATE} \(169\.254\.169\.254\)"),
        ("http://100.100.100.200/", UrlRefused, rf"{PRIVATE} \(100\.100\.100\.200\)"),
        ("http://[fd00:ec2::254]/", UrlRefused, rf"{PRIVATE} \(fd00:ec2::254\)"),
        ("http://[::1]/", UrlRefused, rf"{PRIVATE} \(::1\)"),
        ("http://[::ffff:10.0.0.5]/", UrlRefused, rf"{PRIVATE} \(10\.0\.0\.5\)"),
        ("http://0.0.0.0/", UrlRefused, PRIVATE),
        ("http://224.0.0.1/", UrlRefused, PRIVATE),
        ("http://10.1.2.3/", UrlRefused, rf"{PRIVATE} \(10\.1\.2\.3\)"),
        ("http://localhost/", UrlRefused, rf"{PRIVATE}.*add localhost to DIGIHUMAN_ALLOWED_HOSTS"),
        ("http://2130706433/", UrlRefused, rf"{PRIVATE} \(127\.0\.0\.1\)"),
    ],
)
def test_check_url_refuses(url, error, message):
    with pytest.raises(error, match=message):
        check_url(url, FetchPolicy(max_bytes=MB))


def test_malformed_url_is_not_reported_as_refused():
    with pytest.raises(InvalidInput) as caught:
        check_url("not a url", FetchPolicy(max_bytes=MB), "video_url")
    assert type(caught.value) is InvalidInput and caught.value.message.startswith("video_url ")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://localhost/x", "LocalHost"),
        ("http://127.0.0.1:8080/x", "127.0.0.1"),
        ("http://[::1]/x", "0:0::1"),
        ("https://minio.internal/x", "minio.internal"),
    ],
)
def test_allow_listed_hosts_pass(url, allowed):
    assert check_url(url, FetchPolicy(max_bytes=MB, allowed_hosts=frozenset({allowed}))) is None


def _resolving_to(monkeypatch, *addresses: str) -> None:
    def fake(host, port, *args, **kwargs):
        family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
        return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_host_that_resolves_anew_to_a_private_address_is_refused_at_connect(srv, tmp_path, monkeypatch):
    """DNS rebinding: public when checked, loopback when the connection is made."""
    answers = iter(["93.184.215.14", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example.com":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = srv.url.rsplit(":", 1)[1]
    with pytest.raises(UrlRefused, match=rf"^video_url resolves to a {PRIVATE} \(127\.0\.0\.1\)"):
        fetch(f"http://rebind.example.com:{port}/small", tmp_path / "out", FetchPolicy(max_bytes=MB), "video_url")
    assert srv.paths == []


def test_public_host_passes(monkeypatch):
    _resolving_to(monkeypatch, "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert check_url("https://example.com/face.mp4", FetchPolicy(max_bytes=MB)) is None


def test_any_private_address_refuses_the_host(monkeypatch):
    _resolving_to(monkeypatch, "93.184.215.14", "10.0.0.5")
    with pytest.raises(UrlRefused, match=rf"^video_url resolves to a {PRIVATE} \(10\.0\.0\.5\), which"):
        check_url("https://sneaky.example.com/face.mp4", FetchPolicy(max_bytes=MB), "video_url")


def test_unresolvable_host(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(FetchFailed, match=rf"^video_url {FAILED}: could not resolve host nowhere\.invalid"):
        check_url("http://nowhere.invalid/x", FetchPolicy(max_bytes=MB), "video_url")


@pytest.mark.parametrize(
    ("n", "text"),
    [(100 * MB, "100 MB"), (1024 * MB, "1 GB"), (1536 * 1024, "1.5 MB"), (2048, "2 KB"), (500, "500 bytes")],
)
def test_human_size(n, text):
    assert human_size(n) == text
