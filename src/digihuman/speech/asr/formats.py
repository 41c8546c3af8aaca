"""Transcripts as plain data and as subtitles, for `digihuman asr` and any API that returns one."""

from __future__ import annotations

from typing import Any, Literal

from digihuman.speech.asr.base import Segment, Transcript


def transcript_json(t: Transcript) -> dict[str, Any]:
    """A JSON-ready dict: text, language, its probability (None when hinted), duration and timed words.

    Times are seconds, rounded to milliseconds; ``words`` holds characters for Chinese.
    """
    return {
        "text": t.text,
        "language": t.language,
        "language_probability": t.language_probability,
        "duration": round(t.duration, 3),
        "words": [
            {
                "text": w.text,
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "confidence": None if w.confidence is None else round(w.confidence, 3),
            }
            for w in t.words
        ],
    }


def subtitles(t: Transcript, kind: Literal["srt", "vtt"]) -> str:
    """The transcript as SubRip (``srt``) or WebVTT (``vtt``) cues, one per segment.

    A transcript that has text but no segments (a recogniser that gives none) becomes one cue over
    the whole audio; one without speech gives a file without cues.
    """
    segments = t.segments or ((Segment(0.0, t.duration, t.text),) if t.text.strip() else ())
    cues = [(s.start, s.end, s.text.strip()) for s in segments if s.text.strip()]
    if kind == "vtt":
        body = "".join(f"{_clock(a, '.')} --> {_clock(b, '.')}\n{text}\n\n" for a, b, text in cues)
        return "WEBVTT\n\n" + body
    return "".join(f"{i}\n{_clock(a, ',')} --> {_clock(b, ',')}\n{text}\n\n"
                   for i, (a, b, text) in enumerate(cues, 1))


def _clock(seconds: float, separator: str) -> str:
    """``01:02:03,456`` (SubRip) or ``01:02:03.456`` (WebVTT)."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"
