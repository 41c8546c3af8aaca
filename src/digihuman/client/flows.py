"""The jobs a client submits, each written once as a generator of calls.

A flow yields :class:`~digihuman.client.calls.Call` values and is sent back each one's
result; its return value is the job's result. The sync client drives a flow with
blocking requests, the async client with awaited ones. Local files given as media are
uploaded first (``POST /v1/files``) and passed on as the URL the server returned.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from digihuman.client import calls
from digihuman.errors import InvalidInput

T = TypeVar("T")
Flow = Generator[calls.Call[Any], Any, T]
Media = str | Path  # a local file, or an http(s) URL the server downloads itself


def one(call: calls.Call[T]) -> Flow[T]:
    return (yield call)


def media_url(media: Media, name: str) -> Flow[str]:
    """``media`` as a URL the server accepts: http(s) URLs as they are, local files uploaded."""
    text = str(media)
    if text.startswith(("http://", "https://")):
        return text
    path = Path(media)
    if not path.is_file():
        raise InvalidInput(f"{name} {text!r} is neither a file nor an http(s) URL; give an existing file.")
    return (yield calls.upload(path))


def generate_video(avatar: Media, audio: Media | None = None, *, text: str | None = None,
                   voice: str | None = None, clone_from: Media | None = None, language: str | None = None,
                   no_watermark: bool = False, resolution: int | None = None, name: str = "",
                   callback_url: str | None = None) -> Flow[str]:
    """An avatar (photo or video) saying ``audio``, or ``text`` in ``voice`` (a stock voice or voice model
    id) or in the voice of the sample ``clone_from``. Returns the task id."""
    if (audio is None) == (text is None):
        raise InvalidInput("give either audio, or text (with voice or clone_from), not both or neither.")
    body: dict[str, Any] = {"avatar_url": (yield from media_url(avatar, "avatar")), "no_watermark": no_watermark,
                            "work_name": name}
    if audio is not None:
        body["audio_url"] = yield from media_url(audio, "audio")
    elif clone_from is not None:
        sample = yield from media_url(clone_from, "clone_from")
        body["create_voice"] = {"audio_url": sample, "text": text, "language": language or "en"}
    else:
        if voice is None:
            raise InvalidInput("text needs voice (a stock voice or voice model id) or clone_from (a voice sample).")
        body["use_voice"] = {"voice_engine_id": voice, "text": text, "language": language}
    body.update({k: v for k, v in {"resolution": resolution, "callback_url": callback_url}.items() if v is not None})
    return (yield calls.avatar_generation(body))


def generate_video_v2(video: Media, audio: Media, *, callback_url: str | None = None) -> Flow[str]:
    """High-quality synthesis of a talking video saying ``audio``; returns the task id."""
    video_url = yield from media_url(video, "video")
    audio_url = yield from media_url(audio, "audio")
    return (yield calls.agent("create_v2", video_url=video_url, audio_url=audio_url, callback_url=callback_url))


def train_avatar(video: Media, name: str, *, callback_url: str | None = None) -> Flow[dict[str, Any]]:
    """A high-speed avatar model from a talking video; returns ``{model_id, model_name, task_id, ...}``."""
    video_url = yield from media_url(video, "video")
    data = yield calls.agent("create_model_fast", calls.envelope, model_name=name, video_url=video_url,
                             callback_url=callback_url)
    return {**data["model"], "task_id": data.get("task_id"), "warning": data.get("warning")}


def render_fast(model_id: str, audio: Media, *, callback_url: str | None = None) -> Flow[str]:
    """A trained avatar model saying ``audio``; returns the task id."""
    audio_url = yield from media_url(audio, "audio")
    return (yield calls.agent("create_video_fast", model_id=model_id, audio_url=audio_url, callback_url=callback_url))


def tts(text: str, out: Path, *, voice: str | None = None, normalize: bool = True,
        sample_rate: int | None = None, chunk_length: int = 200) -> Flow[Path]:
    """Speech of ``text`` written to ``out``, in the format its suffix names (wav, mp3, opus, pcm)."""
    fmt = out.suffix.lstrip(".").lower() or "wav"
    if fmt not in ("wav", "mp3", "opus", "pcm"):
        raise InvalidInput(f"the output must end in .wav, .mp3, .opus or .pcm, not {out.suffix!r}.")
    body = {"text": text, "reference_id": voice, "format": fmt, "normalize": normalize,
            "chunk_length": chunk_length, "sample_rate": sample_rate}
    return (yield calls.tts({k: v for k, v in body.items() if v is not None}, out))


def clone_voice(samples: Sequence[Path], title: str, *, texts: Sequence[str] | None = None, mode: str = "fast",
                enhance: bool = False, callback_url: str | None = None) -> Flow[dict[str, Any]]:
    """A voice model from speech samples; returns the model object (``_id``, ``state``, ``task_id``, ...)."""
    for sample in samples:
        if not Path(sample).is_file():
            raise InvalidInput(f"voice sample {str(sample)!r} is not a file; give existing audio or video files.")
    fields: dict[str, Any] = calls.form_fields(title=title, train_mode=mode, enhance_audio_quality=enhance,
                                               callback_url=callback_url)
    if texts:
        fields["texts[]"] = list(texts)
    return (yield calls.voice_model([Path(s) for s in samples], fields))


def remix(video: Media, *, script: str | None = None, captions: Sequence[str] = (), voice: str | None = None,
          rewrite: bool | str | None = None, transforms: dict[str, Any] | None = None,
          style: dict[str, Any] | None = None, music: Media | None = None,
          callback_url: str | None = None) -> Flow[str]:
    """A remixed video (subtitles, captions, transforms, music, re-dub); returns the task id."""
    body: dict[str, Any] = {"video_url": (yield from media_url(video, "video")), "text_content": script,
                            "custom_floating_text": list(captions), "voice": voice, "rewrite": rewrite,
                            "transforms": dict(transforms or {}), "subtitle_style": dict(style or {}),
                            "callback_url": callback_url}
    if music is not None:
        body["transforms"]["music_url"] = yield from media_url(music, "music")
    return (yield calls.generate_video({k: v for k, v in body.items() if v is not None}))


def rewrite(text: str, style: str = "default") -> Flow[str]:
    """``text`` rewritten in a style (default: a spoken short-video script; xiaohongshu; formal; any preset)."""
    from digihuman.remix.redub import preset  # the one style → model name mapping; loaded only when asked

    return (yield from chat(text, preset(style)))


def chat(text: str, model: str) -> Flow[str]:
    """One answer of a chat model the server offers (GET /v1/models) to ``text``."""
    return (yield calls.chat(model, text))
