"""Chat messages that carry a video or audio URL: the speech is transcribed and stands in for the URL.

So "rewrite the script of this video" needs no separate transcription call: a user message may be
a media URL alone, hold media URLs in its text (``.mp4``, ``.mp3``, … links), or, OpenAI style, be a
list of parts with ``{"type": "video_url" | "audio_url", "video_url" | "audio_url": {"url": …}}``. Each
URL is taken through the SSRF-safe intake (allowed hosts, size limits, probing: it must carry
speech) and transcribed by the speech-recognition engine; the transcript replaces it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from digihuman.errors import InvalidInput, MediaRejected
from digihuman.media.intake import Intake
from digihuman.speech.asr.base import Recognizer
from digihuman.storage.base import Storage
from digihuman.text.base import ChatMessage

log = logging.getLogger(__name__)
Content = str | list[dict[str, Any]]
MEDIA_EXTENSIONS = ("mp4", "mov", "m4v", "mkv", "webm", "avi", "flv", "mp3", "wav", "m4a", "aac", "flac", "ogg",
                    "opus", "amr")
_URL = re.compile(r"https?://[^\s<>\"'，。！？、；）)]+")
_MEDIA_URL = re.compile(r"\.(?:" + "|".join(MEDIA_EXTENSIONS) + r")(?:[?#]|$)", re.IGNORECASE)
_PART_TYPES = ("video_url", "audio_url", "file_url")


def media_urls(content: Content) -> list[str]:
    """The media URLs a message's content carries (see the module docstring for the forms)."""
    if isinstance(content, list):
        urls = []
        for part in content:
            kind = part.get("type")
            if kind in _PART_TYPES:
                url = (part.get(kind) or {}).get("url") if isinstance(part.get(kind), dict) else part.get(kind)
                if not isinstance(url, str) or not url.strip():
                    raise InvalidInput(f"a {kind} part of a message has no url: give it as {{\"url\": \"https://…\"}}.")
                urls.append(url.strip())
            elif kind == "text":
                urls += media_urls(str(part.get("text") or ""))
            else:
                raise InvalidInput(f"message parts of type {kind!r} are not supported; use text, video_url or "
                                   "audio_url parts.")
        return urls
    text = content.strip()
    if _URL.fullmatch(text):
        return [text]  # a message that is only a link is a link to the media to rewrite
    return [url for url in _URL.findall(content) if _MEDIA_URL.search(url)]


def plain_text(content: Content) -> str:
    """The text of a message, parts joined; media parts become their URLs (replaced later)."""
    if isinstance(content, str):
        return content
    pieces = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            pieces.append(str(part.get("text") or ""))
        elif kind in _PART_TYPES:
            value = part.get(kind)
            pieces.append(str(value.get("url") if isinstance(value, dict) else value).strip())
    return "\n".join(p for p in pieces if p)


def script_messages(messages: Sequence[tuple[str, Content]], intake: Intake, storage: Storage,
                    recognizer: Callable[[], Recognizer]) -> tuple[ChatMessage, ...]:
    """The messages as plain text, with the speech of every media URL in user messages transcribed in."""
    out = []
    for index, (role, content) in enumerate(messages):
        text = plain_text(content)
        if role == "user":
            for url in media_urls(content):
                transcript = transcribe(url, f"messages[{index}] url", intake, storage, recognizer())
                text = text.replace(url, transcript, 1) if url in text else f"{text}\n{transcript}".strip()
        out.append(ChatMessage(role, text))
    return tuple(out)


def transcribe(url: str, field: str, intake: Intake, storage: Storage, recognizer: Recognizer) -> str:
    """What is said in the audio or video at ``url``."""
    intake.check(url, field)
    media = intake.take_url(url, field, "speech")
    transcript = recognizer.transcribe(storage.local_path(media.key))
    log.info("transcribed media for a rewrite", extra={"key": media.key, "language": transcript.language,
                                                       "seconds": round(transcript.duration, 1)})
    if not transcript.text.strip():
        raise MediaRejected(f"{field}: no speech was recognised in that media; give a video or audio with speech.")
    return transcript.text.strip()
