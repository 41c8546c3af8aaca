"""How far a transcript is from a reference: word error rate (English) and character error rate (Chinese).

Both sides are normalised first, so that only what was heard counts: case, punctuation and
spelling conventions ("Mr." for "mister", "7" for "seven", "cold-hearted" for "cold hearted") are
not errors. Pure Python; tests and bench/asr_eval.py use it, the server does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
# Abbreviations whisper writes where read-speech transcripts spell the word out.
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus"}


@dataclass(frozen=True)
class ErrorRate:
    """Edit errors against a reference of ``length`` units (words or characters)."""

    errors: int
    length: int

    @property
    def rate(self) -> float:
        """errors / length; 0 for an empty reference matched by an empty hypothesis."""
        if self.length == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.length


def normalize_english(text: str) -> list[str]:
    """Lower-case words without punctuation, numbers spelled out, common abbreviations expanded."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"(\d),(\d{3})", r"\1\2", text)  # 1,000 → 1000
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    text = re.sub(r"[^\w\s']|_", " ", text)  # hyphens and dots separate words
    words = []
    for raw in text.split():
        word = raw.strip("'")
        if word:
            words.append(_ABBREVIATIONS.get(word, word))
    return words


def normalize_chinese(text: str) -> list[str]:
    """The characters of ``text`` without spaces or punctuation (Latin letters lower-cased)."""
    return [ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum()]


def normalize(text: str, language: str) -> list[str]:
    """Scoring units: characters for Chinese, words otherwise."""
    return normalize_chinese(text) if language == "zh" else normalize_english(text)


def error_rate(reference: str, hypothesis: str, language: str) -> ErrorRate:
    """WER (CER for Chinese) of ``hypothesis`` against ``reference``."""
    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    return ErrorRate(edit_distance(ref, hyp), len(ref))


def fragment_error_rate(fragments: Sequence[str], hypothesis: str, language: str) -> ErrorRate:
    """Errors of a partial reference: each fragment matched to its best place in the hypothesis.

    For rough references that quote only pieces of what is said ("…under attack by…"): words the
    hypothesis has around a fragment are not errors, words of the fragment it lacks or hears
    differently are.
    """
    hyp = normalize(hypothesis, language)
    errors = length = 0
    for fragment in fragments:
        ref = normalize(fragment, language)
        errors += edit_distance(ref, hyp, free_ends=True)
        length += len(ref)
    return ErrorRate(errors, length)


def edit_distance(ref: Sequence[str], hyp: Sequence[str], free_ends: bool = False) -> int:
    """Levenshtein distance; with ``free_ends`` hypothesis units before and after the match are free."""
    previous = [0] * (len(hyp) + 1) if free_ends else list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return min(previous) if free_ends else previous[-1]


def number_words(n: int) -> str:
    """An integer in English words: 21 → "twenty one"; years read as years (1990 → "nineteen ninety")."""
    if 1100 <= n <= 1999 and n % 100 != 0:
        return f"{_below_100(n // 100)} {_year_tail(n % 100)}"
    if 2010 <= n <= 2099:
        return f"twenty {_year_tail(n % 100)}"
    return _cardinal(n)


def _year_tail(n: int) -> str:
    return f"oh {_ONES[n]}" if n < 10 else _below_100(n)


def _cardinal(n: int) -> str:
    if n < 100:
        return _below_100(n)
    if n < 1000:
        rest = n % 100
        return f"{_ONES[n // 100]} hundred" + (f" {_below_100(rest)}" if rest else "")
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            return f"{_cardinal(n // size)} {name}" + (f" {_cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _below_100(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
