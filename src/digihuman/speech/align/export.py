"""Timelines and mouth tracks as plain JSON data, for the CLI and for renderers in other languages."""

from __future__ import annotations

from pathlib import Path

from digihuman.speech.align.visemes import VISEMES
from digihuman.timeline import MouthTrack, Timeline


def timeline_json(timeline: Timeline, track: MouthTrack | None = None) -> dict:
    """Everything in ``timeline`` (and ``track``, when given) as JSON-ready dicts and lists."""
    out: dict = {
        "duration": timeline.duration,
        "language": timeline.language,
        "method": timeline.method,
        "words": [{"text": w.text, "start": w.start, "end": w.end} for w in timeline.words],
        "phones": [
            {"symbol": p.symbol, "start": p.start, "end": p.end, "stressed": p.stressed, "openness": p.openness}
            for p in timeline.phones
        ],
        "visemes": [{"symbol": v.symbol, "start": v.start, "end": v.end, "weight": v.weight} for v in timeline.visemes],
        "silences": [[a, b] for a, b in timeline.silences],
        "viseme_set": sorted(VISEMES),
    }
    if track is not None:
        out["track"] = {
            "fps": track.fps,
            "frames": len(track),
            "jaw": list(track.jaw),
            "width": list(track.width),
            "round": list(track.round),
            "teeth": list(track.teeth),
        }
    return out


def visemes_json(audio: Path, *, text: str | None = None, language: str | None = None, fps: float = 25.0,
                 recognizer=None) -> dict:
    """What ``digihuman visemes FILE [--text T] [--fps 25]`` prints: timeline and track of ``audio``."""
    from digihuman.speech.align.timeline import build_timeline
    from digihuman.speech.align.track import mouth_track

    timeline = build_timeline(audio, text=text, language=language, recognizer=recognizer)
    return timeline_json(timeline, mouth_track(timeline, fps))
