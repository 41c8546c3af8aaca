"""Phones → visemes: when the mouth makes which shape, for any speech audio.

    build_timeline(audio, text=, language=, recognizer=) -> Timeline   speech audio, any language
    timeline_from_tts(chunks) -> Timeline                              TTS output, phones known
    mouth_track(timeline, fps) -> MouthTrack                           per-frame jaw/width/round/teeth
    timeline_json(timeline, track) -> dict                             the JSON view (CLI)
    visemes_json(audio, text=, language=, fps=, recognizer=) -> dict   all of the above, for the CLI

Stages, one module each: ``features`` (frame analysis), ``silence``, ``english`` (pocketsphinx
alignment) with ``lexicon``, ``mandarin`` (pinyin), ``acoustic`` (language-free), ``visemes``
(the viseme set and learned targets), ``track`` (coarticulation), ``timeline`` (which method).
Nothing heavy is imported until used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digihuman.speech.align.export import timeline_json, visemes_json
    from digihuman.speech.align.timeline import TimelineBuilder, build_timeline, timeline_from_tts
    from digihuman.speech.align.track import mouth_track

__all__ = ["TimelineBuilder", "build_timeline", "mouth_track", "timeline_from_tts", "timeline_json", "visemes_json"]

_HOMES = {
    "TimelineBuilder": "timeline", "build_timeline": "timeline", "timeline_from_tts": "timeline",
    "mouth_track": "track", "timeline_json": "export", "visemes_json": "export",
}


def __getattr__(name: str) -> Any:
    # Lazy exports keep ``import digihuman.speech.align`` free of numpy and pocketsphinx.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"digihuman.speech.align.{_HOMES[name]}"), name)
    raise AttributeError(name)
