"""English words → ARPAbet phones: the CMU dictionary pocketsphinx ships, plus a fallback.

Words the dictionary lacks (names, new words) get a pronunciation from their known stem
("lieu's" → "lieu" + Z) or, failing that, from spelling rules — rough, but a rough pronunciation
still aligns, and the mouth needs the vowels and lip consonants more than the exact word.

The shipped dictionary has no stress marks, yet stress matters to the mouth: unstressed AH (the
schwa of "a", "the", "about") is nearly closed while stressed AH ("cup", "love") opens wide. So AH
gets a stress digit by rule: in function words and outside the first syllable it is unstressed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from digihuman.speech.align.visemes import VOWELS

# Words that are reduced in running speech; their AH is a schwa whatever the dictionary says.
FUNCTION_WORDS = frozenset(
    """a an the of to and but or nor for from at as by in on with was were does what us
    some must just than that then them there this those such up one once because""".split()
)
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

# Spelling → sound, longest match first. Vowel letters get their short sounds.
_RULES = sorted(
    {
        "tion": "SH AH N", "sion": "ZH AH N", "ough": "AO", "eigh": "EY", "igh": "AY", "tch": "CH",
        "th": "TH", "sh": "SH", "ch": "CH", "ph": "F", "ck": "K", "ng": "NG", "qu": "K W", "wh": "W",
        "kn": "N", "wr": "R", "ee": "IY", "ea": "IY", "ie": "IY", "oo": "UW", "ou": "AW", "ow": "OW",
        "ai": "EY", "ay": "EY", "ey": "EY", "oa": "OW", "oi": "OY", "oy": "OY", "au": "AO", "aw": "AO",
        "ew": "UW", "er": "ER", "ir": "ER", "ur": "ER", "ar": "AA R", "or": "AO R",
        "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH",
        "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P", "q": "K", "r": "R",
        "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S", "y": "IY", "z": "Z",
        "'": "",
    }.items(),
    key=lambda kv: -len(kv[0]),
)
_SUFFIXES = (("'s", ("Z",)), ("s", ("Z",)), ("es", ("IH", "Z")), ("ed", ("D",)), ("ing", ("IH", "NG")),
             ("ly", ("L", "IY")), ("er", ("ER",)), ("n't", ("AH", "N", "T")))
_WORD = re.compile(r"[a-z0-9']+")


def words_of(text: str) -> list[str]:
    """Text → dictionary-style tokens: lower case, punctuation gone, numbers spelled out."""
    out: list[str] = []
    for token in _WORD.findall(text.lower().replace("’", "'")):
        token = token.strip("'")
        if not token:
            continue
        out += spell_number(token).split() if token.isdigit() else [token]
    return out


def spell_number(digits: str) -> str:
    """Numbers up to 9999 as words; longer ones digit by digit (the text front end does better)."""
    n = int(digits)
    if len(digits) > 4 or (digits.startswith("0") and len(digits) > 1):
        return " ".join(_ONES[int(d)] for d in digits)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell_number(str(n % 100)))
    if 2000 > n >= 1100 and n % 100 != 0:  # years: "nineteen ninety"
        return spell_number(str(n // 100)) + " " + spell_number(str(n % 100))
    return spell_number(str(n // 1000)) + " thousand" + ("" if n % 1000 == 0 else " " + spell_number(str(n % 1000)))


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    from pocketsphinx import get_model_path

    entries: dict[str, tuple[str, ...]] = {}
    with open(Path(get_model_path("en-us")) / "cmudict-en-us.dict", encoding="utf-8") as f:
        for line in f:
            word, _, phones = line.strip().partition(" ")
            if word and "(" not in word:  # keep the first pronunciation of each word
                entries[word] = tuple(phones.split())
    return entries


def in_dictionary(word: str) -> bool:
    return word in _dictionary()


def pronounce(word: str) -> tuple[str, ...]:
    """ARPAbet phones of a word (no stress digits): the dictionary's, else a guess."""
    d = _dictionary()
    if word in d:
        return d[word]
    for suffix, extra in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 2:
            for candidate in (stem, stem + "e"):
                if candidate in d:
                    return d[candidate] + extra
    return spell(word)


def spell(word: str) -> tuple[str, ...]:
    """A pronunciation from spelling alone."""
    w = word.lower()
    if len(w) > 2 and w.endswith("e") and w[-2] not in "aeiouy":
        w = w[:-1]  # silent final e
    phones: list[str] = []
    i = 0
    while i < len(w):
        for letters, sound in _RULES:
            if w.startswith(letters, i):
                new = sound.split()
                if not (phones and new and new[0] == phones[-1] and new[0] not in VOWELS):
                    phones += new
                else:
                    phones += new[1:]  # doubled consonant letters make one sound
                i += len(letters)
                break
        else:
            i += 1  # a character no rule knows is not spoken
    return tuple(phones) or ("AH",)


def with_stress(word: str, phones: tuple[str, ...]) -> tuple[str, ...]:
    """Mark every AH stressed (AH1) or not (AH0): see the module docstring for the rule."""
    vowels = [i for i, p in enumerate(phones) if p in VOWELS]
    out = list(phones)
    for rank, i in enumerate(vowels):
        if phones[i] != "AH":
            continue
        if word in FUNCTION_WORDS:
            stressed = False
        elif len(vowels) == 1:
            stressed = True
        else:
            # Polysyllables: the first syllable carries stress unless the word opens on an
            # "a-" prefix (about, again, America), whose AH is a schwa.
            stressed = rank == 0 and not word.startswith("a")
        out[i] = "AH1" if stressed else "AH0"
    return tuple(out)
