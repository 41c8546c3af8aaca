"""Mandarin phone timing: each timed character is one syllable, split into initial and final.

The recogniser times characters, not phones, and no Mandarin aligner ships offline; but a
Mandarin syllable has at most two mouth-relevant parts, so that is enough: pypinyin names the
initial (``zh``) and the final (``ang``), the initial takes the start of the syllable (a
consonant is short: at most 40 % of the syllable and 80 ms), the final the rest. Syllabic
``i`` after z/c/s/zh/ch/sh/r is written ``-i``, a buzzed consonant rather than the vowel [i].
Latin words inside Chinese text are spoken with English dictionary phones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from digihuman.speech.align.english import spread_phones
from digihuman.speech.align.lexicon import words_of
from digihuman.timeline import Phone, Word

_INITIAL_SHARE = 0.4
_INITIAL_MAX = 0.08  # s
_APICAL = frozenset({"z", "c", "s", "zh", "ch", "sh", "r"})
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_chinese(text: str) -> bool:
    """True when ``text`` holds Han characters (and so is read as Mandarin here)."""
    return bool(_HAN.search(text))


def syllable(char: str) -> tuple[str, str] | None:
    """(initial, final) of one Han character, the initial "" when there is none; None if not Han."""
    from pypinyin import Style, lazy_pinyin

    if not _HAN.fullmatch(char):
        return None
    initial = lazy_pinyin(char, style=Style.INITIALS, strict=True)[0]
    final = lazy_pinyin(char, style=Style.FINALS, strict=True)[0]
    if not final:
        # Interjections written without a vowel (嗯 n, 呣 m) are syllabic nasals.
        whole = lazy_pinyin(char)[0]
        final = whole if whole in ("n", "ng", "m") else "e"
    if final == "i" and initial in _APICAL:
        final = "-i"
    return initial, final


def tokens(text: str) -> list[str]:
    """Han characters one by one, Latin words and numbers whole; punctuation dropped."""
    return re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z0-9']+", text)


def mandarin_phones(chars: Sequence[Word]) -> list[Phone]:
    """Phones of timed characters (one Word per Han character, as the recogniser gives them)."""
    out: list[Phone] = []
    for w in chars:
        for token, start, end in _share(w):
            parts = syllable(token)
            if parts is None:
                for word in words_of(token):
                    out += spread_phones(word, start, end)
                continue
            initial, final = parts
            split = start
            if initial:
                split = start + min((end - start) * _INITIAL_SHARE, _INITIAL_MAX)
                out.append(Phone(initial, round(start, 3), round(split, 3)))
            out.append(Phone(final, round(split, 3), round(end, 3), stressed=True))
    return out


def _share(w: Word) -> list[tuple[str, float, float]]:
    # A "word" may still hold several characters (text given without times): share its span.
    parts = tokens(w.text)
    if not parts:
        return []
    step = (w.end - w.start) / len(parts)
    return [(p, w.start + i * step, w.start + (i + 1) * step) for i, p in enumerate(parts)]
