"""The client's public operations, written once for both clients.

Each method hands a flow (see flows.py) to ``self._run``: the sync client runs it and
returns the result, the async client returns an awaitable of it. Requests are built
here too (``request_args``), so both clients send byte-for-byte the same thing.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from digihuman.client import calls, flows
from digihuman.client.flows import Media
from digihuman.errors import InvalidInput

DEFAULT_TIMEOUT_S = 120.0  # uploads of big videos and synchronous speech take a while


def api_key(key: str | None) -> str:
    key = key or os.environ.get("DIGIHUMAN_API_KEY", "")
    if not key.strip():
        raise InvalidInput("no API key: pass --key (or key=...) or set DIGIHUMAN_API_KEY.")
    return key.strip()


class Jobs:
    """What a digihuman server does, as methods; subclasses say how a call is executed."""

    base_url: str
    key: str

    def _run(self, flow: flows.Flow[Any]) -> Any:
        raise NotImplementedError

    def request_args(self, call: calls.Call[Any], files: ExitStack) -> dict[str, Any]:
        """httpx request arguments of ``call``; upload files are opened on ``files`` (closed by the caller).

        The key goes only to this server: absolute URLs elsewhere (downloads) get no Authorization.
        """
        url = call.path if call.path.startswith(("http://", "https://")) else self.base_url + call.path
        headers = dict(call.headers)
        if url.startswith(self.base_url + "/"):
            headers["authorization"] = f"Bearer {self.key}"
        args: dict[str, Any] = {"method": call.method, "url": url, "headers": headers, "params": call.params}
        if call.json is not None:
            args["json"] = call.json
        if call.data is not None:
            args["data"] = call.data
        if call.files:
            args["files"] = [(name, (path.name, files.enter_context(path.open("rb")),
                                     mimetypes.guess_type(path.name)[0] or "application/octet-stream"))
                             for name, path in call.files]
        return args

    # Media and files

    def upload(self, path: str | Path) -> Any:
        """Upload a local file; returns the URL to pass as media to the other jobs."""
        return self._run(flows.media_url(Path(path), "file"))

    def download(self, url: str, path: str | Path) -> Any:
        """Save an output URL (e.g. ``task["outputs"]["video"]``) to ``path``; returns the path."""
        return self._run(flows.one(calls.download(url, Path(path))))

    # Tasks

    def task(self, task_id: str) -> Any:
        """The task in its uniform shape (status, progress, stage, outputs, callbacks...)."""
        return self._run(flows.one(calls.task(task_id)))

    def cancel(self, task_id: str) -> Any:
        return self._run(flows.one(calls.cancel(task_id)))

    def webhook_secret(self) -> Any:
        """This key's ``whsec_...`` secret, to verify the signature of task callbacks."""
        return self._run(flows.one(calls.webhook_secret()))

    # Jobs: each returns a task id (or an object holding one) to pass to wait()

    def generate_video(self, avatar: Media, audio: Media | None = None, **options: Any) -> Any:
        """An avatar saying ``audio``, or ``text=`` in ``voice=`` / the voice of ``clone_from=``; a task id."""
        return self._run(flows.generate_video(avatar, audio, **options))

    def generate_video_v2(self, video: Media, audio: Media, *, callback_url: str | None = None) -> Any:
        return self._run(flows.generate_video_v2(video, audio, callback_url=callback_url))

    def train_avatar(self, video: Media, name: str, *, callback_url: str | None = None) -> Any:
        """A high-speed avatar model; ``{model_id, model_name, task_id, warning}``."""
        return self._run(flows.train_avatar(video, name, callback_url=callback_url))

    def render_fast(self, model_id: str, audio: Media, *, callback_url: str | None = None) -> Any:
        return self._run(flows.render_fast(model_id, audio, callback_url=callback_url))

    def tts(self, text: str, out: str | Path, **options: Any) -> Any:
        """Speech written to ``out`` (format from its suffix); returns the path."""
        return self._run(flows.tts(text, Path(out), **options))

    def clone_voice(self, samples: Sequence[str | Path], title: str, **options: Any) -> Any:
        """A voice model from samples; the model object, whose ``task_id`` trains it."""
        return self._run(flows.clone_voice([Path(s) for s in samples], title, **options))

    def voice_model(self, model_id: str) -> Any:
        """A voice model object as it is now (``state``: created, training, trained, failed)."""
        return self._run(flows.one(calls.get_voice_model(model_id)))

    def remix(self, video: Media, **options: Any) -> Any:
        return self._run(flows.remix(video, **options))

    def rewrite(self, text: str, style: str = "default") -> Any:
        """The script rewritten in a style; the text."""
        return self._run(flows.rewrite(text, style))

    def chat(self, text: str, model: str) -> Any:
        """The answer of ``model`` (any chat model the server offers) to ``text``."""
        return self._run(flows.chat(text, model))
