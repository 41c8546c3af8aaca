"""Transcripts as plain data, for `digihuman asr` and any API that returns one."""

from __future__ import annotations

from typing import Any

from digihuman.speech.asr.base import Transcript


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
