"""Cutting text into sentences, into runs of one script, and into chunks of a bounded length.

All three work on the text as written, before normalisation, so that a chunk's
text is a piece of what the user sent and a number is never cut in two.
"""

from __future__ import annotations

import re
from typing import Literal

Script = Literal["zh", "latin"]

HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_HAN = re.compile(f"[{HAN}]")
# Words whose period does not end a sentence.
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "mt", "jr", "sr", "vs", "etc", "e.g", "i.e", "no",
                  "inc", "ltd", "co", "corp", "capt", "gen", "sgt", "lt", "col", "gov", "rev", "approx",
                  "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
                  "a.m", "p.m", "u.s", "u.k", "fig", "ave", "blvd", "rd", "dept", "ph.d"}
_CLOSERS = re.escape("\"'”’」』）)]》")
_SENTENCE_END = re.compile(
    rf"[。！？!?…]+[{_CLOSERS}]*|\.(?:\.\.)?[{_CLOSERS}]*(?=\s|$)|\n\s*"
)
# Clause boundaries, for sentences longer than a chunk; a comma between digits is a thousands separator.
_CLAUSE_END = re.compile(r"[，、；：;—]|:(?!\d)|,(?!\d)|-\s")
# Units written after a number, which ride with the number whatever script surrounds it.
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<=\d)\s?(?:km/h|km²|m²|km|cm|mm|kg|mg|ml|mL|GB|MB|KB|TB|GHz|MHz|kHz|Hz|kWh|kW|mAh|ms|min|"
    r"st|nd|rd|th|am|pm|[mgsltLhWVkKx%])(?![A-Za-z])"
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, each with its closing punctuation; Chinese and Western marks both end one.

    A period ends a sentence only before a space or the end, and not after an abbreviation
    ("Dr.") or a single initial ("J. K."), so decimals, times and names stay whole.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match[0].startswith(".") and not match[0].startswith("..."):
            word = re.search(r"([\w.]+)$", text[start:match.start()])
            stem = word[1].lower() if word else ""
            following = text[match.end():].lstrip()[:1]
            if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()) or following.islower():
                continue
        sentences.append(text[start:match.end()])
        start = match.end()
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


def text_language(text: str) -> Literal["zh", "en"]:
    """"zh" where Han characters outnumber Latin letters (counted double), else "en": which voice reads it."""
    han = len(_HAN.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if han * 2 > latin else "en"


def _kind(char: str) -> str:
    if _HAN.match(char):
        return "zh"
    if char.isalpha():
        return "latin"
    return ""


def split_by_script(text: str, default: Script = "latin") -> list[tuple[Script, str]]:
    """Runs of Han (``"zh"``) and of any other script (``"latin"``), in order.

    Digits, spaces and punctuation have no script of their own. A number goes with the
    run it is glued to (``3个`` is Chinese, ``mp3`` Latin), else with the word it
    counts (the run after it), and punctuation closes the run before it. Text with no
    letters at all is one run of ``default``.
    """
    kinds = [_kind(c) for c in text]
    for m in _UNIT_AFTER_NUMBER.finditer(text):
        for i in range(m.start(), m.end()):
            kinds[i] = ""
    strong = [i for i, k in enumerate(kinds) if k]
    if not strong:
        return [(default, text.strip())] if text.strip() else []
    # Each neutral stretch is cut at whitespace; every piece is given a script.
    for piece in re.finditer(r"\S+|\s+", text):
        for part in _neutral_parts(kinds, piece.start(), piece.end()):
            kinds_for = _resolve(text, kinds, *part)
            for i in range(*part):
                kinds[i] = "=" + kinds_for
    runs: list[tuple[Script, str]] = []
    for char, kind in zip(text, kinds):
        script = kind.lstrip("=")
        if runs and runs[-1][0] == script:
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((script, char))  # type: ignore[arg-type]
    merged: list[tuple[Script, str]] = []
    for script, run in runs:
        if not run.strip():
            continue
        if merged and merged[-1][0] == script:
            merged[-1] = (script, merged[-1][1] + " " + run.strip())
        else:
            merged.append((script, run.strip()))
    return merged


def _neutral_parts(kinds: list[str], left: int, right: int) -> list[tuple[int, int]]:
    parts = []
    i = left
    while i < right:
        if kinds[i]:
            i += 1
            continue
        j = i
        while j < right and not kinds[j]:
            j += 1
        parts.append((i, j))
        i = j
    return parts


def _resolve(text: str, kinds: list[str], start: int, end: int) -> str:
    before = next((i for i in range(start - 1, -1, -1) if kinds[i] and not kinds[i].startswith("=")), None)
    after = next((i for i in range(end, len(text)) if kinds[i] and not kinds[i].startswith("=")), None)
    left = kinds[before] if before is not None else None
    right = kinds[after] if after is not None else None
    if left is None or right is None or left == right:
        return left or right  # type: ignore[return-value]
    piece = text[start:end]
    if not any(c.isdigit() for c in piece):
        return left  # punctuation and spaces close what came before
    glued_right = after == end
    glued_left = before == start - 1
    if glued_right:
        return right
    if glued_left:
        return left
    return left if piece[-1] in ",.;:!?，。；：！？" else right


def chunk(text: str, max_chars: int) -> list[str]:
    """``text`` in pieces of at most ``max_chars`` characters, cut at sentence ends where possible.

    Sentences are packed whole; a longer one is cut at clause marks, then at spaces, and
    only as a last resort (a long unpunctuated Chinese run) anywhere outside a number or word.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    pieces: list[str] = []
    for sentence in split_sentences(text):
        pieces.extend(_fit(sentence, max_chars))
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + len(_joiner(chunks[-1], piece)) + len(piece) <= max_chars:
            chunks[-1] += _joiner(chunks[-1], piece) + piece
        else:
            chunks.append(piece)
    return chunks


def _joiner(before: str, after: str) -> str:
    # Chinese is written without spaces; Western text needs one between sentences.
    return "" if _HAN.search(before[-1:]) or _HAN.search(after[:1]) or before[-1:] in "。！？；：，" else " "


def _fit(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    for splitter in (_CLAUSE_END, re.compile(r"\s+")):
        cuts = [m.end() for m in splitter.finditer(sentence) if 0 < m.end() < len(sentence)]
        if cuts:
            return _pack(sentence, cuts, max_chars)
    return _hard_cut(sentence, max_chars)


def _pack(sentence: str, cuts: list[int], max_chars: int) -> list[str]:
    parts = [sentence[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(sentence)])]
    out: list[str] = []
    for part in filter(None, parts):
        if out and len(out[-1]) + 1 + len(part) <= max_chars:
            out[-1] += _joiner(out[-1], part) + part
        else:
            out.extend(_fit(part, max_chars))
    return out


def _hard_cut(text: str, max_chars: int) -> list[str]:
    out = []
    while len(text) > max_chars:
        cut = max_chars
        # Back off so that a run of digits or Latin letters is not split.
        while cut > 1 and text[cut - 1].isascii() and text[cut - 1].isalnum() and text[cut].isascii() \
                and text[cut].isalnum():
            cut -= 1
        if cut <= 1:
            cut = max_chars
        out.append(text[:cut].strip())
        text = text[cut:].strip()
    return [*out, text] if text else out
