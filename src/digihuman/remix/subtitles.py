"""Burned-in subtitles: the script timed to the spoken words, cut into cues that fit the frame.

When the user gives the script, the text shown is theirs (their words, their punctuation) but the
timing is the recogniser's: script and recognised words are aligned as two sequences (difflib), so
a script word the recogniser misheard still gets the time of the word it was heard as, and script
words it missed share the time between their neighbours. Without a script the recogniser's own
text (with its punctuation) is shown.
"""

from __future__ import annotations

import bisect
import difflib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from digihuman.remix.lettering import Run, blend, draw_lines, is_cjk, wrap
from digihuman.remix.options import SubtitleStyle
from digihuman.timeline import Word

SENTENCE_END = set("。！？!?；;…") | {"."}
CLAUSE_END = set("，、,：:")
PAUSE_S = 0.7  # a silence this long ends a cue even without punctuation
MAX_CUE_S = 7.0
LINGER_S = 0.4  # a cue stays this long after its last word, unless the next one starts first
MIN_CUE_S = 0.8
SNAP_AHEAD_S = 0.5  # how far after the last word, heard in silence, its sound may begin


@dataclass(frozen=True)
class Unit:
    """A piece of the script that is timed as one: a word, or one CJK character, with what follows it."""

    text: str  # as displayed, trailing punctuation and space included
    key: str  # lower-cased letters and digits, for matching; "" for bare punctuation
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Cue:
    text: str
    start: float
    end: float


def _key(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def units(text: str) -> list[Unit]:
    """The script in timing units: CJK characters one by one, other words whole; punctuation rides along."""
    out: list[Unit] = []
    word = ""

    def flush() -> None:
        nonlocal word
        if word:
            out.append(Unit(word, _key(word)))
            word = ""

    for ch in text:
        if is_cjk(ch) and ch.isalnum():
            flush()
            word = ch
            flush()
        elif ch.isspace():
            if word:
                word += " "
                flush()
            elif out and not out[-1].text.endswith(" "):
                out[-1] = Unit(out[-1].text + " ", out[-1].key)
        elif not ch.isalnum() and not word and out:
            out[-1] = Unit(out[-1].text + ch, out[-1].key)  # punctuation after a word or character
        else:
            if word and not word[-1].isalnum() and ch.isalnum() and _key(word):
                flush()
            word += ch
    flush()
    return [u for u in out if u.key or u.text.strip()]


def onto_speech(words: Sequence[Word], samples: np.ndarray, rate: int) -> tuple[Word, ...]:
    """``words`` with each start moved out of silence to where its sound begins.

    Whisper often starts the first word after a pause well inside the pause, which would show a
    subtitle before anyone speaks; the energy of the sound itself says where speech resumes.
    """
    from digihuman.speech.align.features import HOP, energy_db
    from digihuman.speech.align.silence import speech_mask

    speech = speech_mask(energy_db(samples, rate))
    if not speech.any():
        return tuple(words)
    snapped = []
    for k, word in enumerate(words):
        first = max(int(word.start / HOP), 0)
        # A word may also lie wholly in the pause, its sound after it: look on until the next word is over.
        until = words[k + 1].end if k + 1 < len(words) else word.end + SNAP_AHEAD_S
        last = min(max(int(until / HOP), first + 1), speech.size)
        onset = next((i for i in range(first, last) if speech[i]), None)
        if onset is None or onset == first:
            snapped.append(word)
        else:
            snapped.append(replace(word, start=onset * HOP, end=max(word.end, onset * HOP)))
    return tuple(snapped)


def timed_units(script: str, words: Sequence[Word], duration: float) -> list[Unit]:
    """The script's units with times taken from the recognised ``words`` (aligned by sequence)."""
    script_units = units(script)
    if not script_units:
        return []
    heard: list[Word] = []
    for w in words:  # a recognised "word" may hold several units (e.g. "GPS-2"): time them as a share
        for u in units(w.text):
            heard.append(Word(u.key, w.start, w.end))
    if not heard:
        return _spread(script_units, 0.0, duration)
    matcher = difflib.SequenceMatcher(None, [u.key for u in script_units], [w.text for w in heard], autojunk=False)
    timed: list[Unit | None] = [None] * len(script_units)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                w = heard[j1 + k]
                timed[i1 + k] = Unit(script_units[i1 + k].text, script_units[i1 + k].key, w.start, w.end)
        elif op == "replace":
            spread = _spread(script_units[i1:i2], heard[j1].start, heard[j2 - 1].end)
            timed[i1:i2] = spread
    # script units the speech lacks ("delete"): share the gap between the neighbours' times
    i = 0
    while i < len(timed):
        if timed[i] is not None:
            i += 1
            continue
        j = i
        while j < len(timed) and timed[j] is None:
            j += 1
        left = timed[i - 1] if i > 0 else None
        right = timed[j] if j < len(timed) else None
        before = left.end if left else 0.0
        after = right.start if right else max(before, duration)
        timed[i:j] = _spread(script_units[i:j], before, max(before, after))
        i = j
    return [u for u in timed if u is not None]


def _spread(items: Sequence[Unit], start: float, end: float) -> list[Unit]:
    weights = [max(1, len(u.key)) for u in items]
    total = float(sum(weights))
    out, t = [], start
    for u, weight in zip(items, weights, strict=True):
        step = (end - start) * weight / total
        out.append(Unit(u.text, u.key, t, t + step))
        t += step
    return out


def cues(timed: Sequence[Unit], size: int, max_width: float, max_lines: int) -> list[Cue]:
    """Cues of at most ``max_lines`` wrapped lines, cut at sentence ends, long pauses and when full."""
    out: list[Cue] = []
    current: list[Unit] = []

    def close() -> None:
        if current:
            out.append(Cue("".join(u.text for u in current).strip(), current[0].start, current[-1].end))
            current.clear()

    for unit in timed:
        if current and (unit.start - current[-1].end > PAUSE_S or unit.end - current[0].start > MAX_CUE_S):
            close()
        if current and len(wrap("".join(u.text for u in [*current, unit]), size, max_width)) > max_lines:
            # full: cut at the last clause end in the cue when there is one, so lines end naturally
            cut = max((k for k, u in enumerate(current[:-1]) if u.text.rstrip()[-1:] in CLAUSE_END), default=-1)
            rest = current[cut + 1 :] if cut >= 0 else []
            if cut >= 0:
                del current[cut + 1 :]
            close()
            current.extend(rest)
        current.append(unit)
        if unit.text.rstrip()[-1:] in SENTENCE_END:
            close()
    close()
    # shown a little after the last word, and never for a blink
    shown: list[Cue] = []
    for k, cue in enumerate(out):
        limit = out[k + 1].start if k + 1 < len(out) else float("inf")
        end = min(max(cue.end + LINGER_S, cue.start + MIN_CUE_S), limit)
        shown.append(Cue(cue.text, cue.start, max(end, cue.start)))
    return shown


class SubtitleLayer:
    """Draws the cue showing at each time onto frames of one size, in a band at the bottom."""

    def __init__(self, cue_list: Sequence[Cue], style: SubtitleStyle, width: int, height: int) -> None:
        self.cues = list(cue_list)
        self.style = style
        self.size = font_size(style, width, height)
        self.max_width = style.width * width
        self._starts = [c.start for c in self.cues]
        self._drawn: tuple[int, np.ndarray] | None = None
        self.width, self.height = width, height

    @classmethod
    def build(cls, script: str, words: Sequence[Word], duration: float, style: SubtitleStyle,
              width: int, height: int) -> SubtitleLayer:
        size = font_size(style, width, height)
        timed = timed_units(script, words, duration)
        return cls(cues(timed, size, style.width * width, style.max_lines), style, width, height)

    def top(self) -> int:
        """The highest row subtitles may reach: other overlays keep above it."""
        from digihuman.remix.lettering import font

        ascent, descent = font(self.size).getmetrics()
        block = (ascent + descent) * self.style.max_lines + self.size
        return int(self.height * (1 - self.style.margin) - block)

    def cue_at(self, t: float) -> int | None:
        k = bisect.bisect_right(self._starts, t) - 1
        return k if k >= 0 and t < self.cues[k].end else None

    def __call__(self, frame: np.ndarray, t: float) -> np.ndarray:
        k = self.cue_at(t)
        if k is None or not self.style.enabled:
            return frame
        if self._drawn is None or self._drawn[0] != k:
            s = self.style
            lines = [[Run(line, s.color)] for line in wrap(self.cues[k].text, self.size, self.max_width)]
            self._drawn = (k, draw_lines(lines, self.size, s.outline_color, s.outline, s.shadow, s.box))
        patch = self._drawn[1]
        x = (self.width - patch.shape[1]) // 2
        y = int(self.height * (1 - self.style.margin)) - patch.shape[0]
        blend(frame, patch, x, y)
        return frame


def font_size(style: SubtitleStyle, width: int, height: int) -> int:
    # from the shorter side: a portrait frame's height would make two-word lines
    return style.size or max(14, round(min(width, height) * 0.06))
