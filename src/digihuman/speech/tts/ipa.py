"""eSpeak's English IPA, as Piper speaks it, turned into timed ARPAbet phones.

Piper reports how many samples each IPA symbol took. Lip sync and the rest of the
project speak ARPAbet with stress digits (``AH0``, ``EY1``), as pocketsphinx and the
CMU dictionary do, so symbols are grouped (``a`` + ``ɪ`` → ``AY``, ``t`` + ``ʃ`` → ``CH``),
stress marks and length marks give their time to the vowel they belong to, and word
breaks and punctuation become gaps (silence) between phones.
"""

from __future__ import annotations

from collections.abc import Iterable

from digihuman.timeline import Phone

_VOWELS = {
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "ɪə": "IH", "eə": "EH",
    "ʊə": "UH", "ə": "AH", "ɐ": "AH", "ʌ": "AH", "ɚ": "ER", "ɝ": "ER", "ɜ": "ER", "ɪ": "IH", "ᵻ": "IH",
    "i": "IY", "ɛ": "EH", "e": "EH", "æ": "AE", "a": "AE", "ɑ": "AA", "ɒ": "AA", "ɔ": "AO", "o": "OW",
    "ʊ": "UH", "u": "UW", "ɨ": "IH", "ʉ": "UW", "y": "UW",
}
_CONSONANTS = {
    "tʃ": "CH", "dʒ": "JH", "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "g": "G",
    "f": "F", "v": "V", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH",
    "m": "M", "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "ɹ": "R", "r": "R", "ɾ": "T", "ʔ": "T",
    "w": "W", "j": "Y", "x": "HH", "ç": "HH", "ɬ": "L",
}
_STRESS = {"ˈ": 1, "ˌ": 2}
_LONG = "ːˑ"
_COMBINING = "\u0329\u0330\u0303\u02de"  # syllabic, creaky, nasal, rhotic hooks: part of the symbol before


def arpabet(timed: Iterable[tuple[str, int]], sample_rate: int) -> tuple[Phone, ...]:
    """Timed ARPAbet phones from ``(ipa_symbol, samples)`` pairs in spoken order."""
    items = list(timed)
    phones: list[Phone] = []
    stress: int | None = None
    carried = 0  # samples of stress marks, given to the next phone
    position = 0
    i = 0
    while i < len(items):
        symbol, samples = items[i]
        pair = symbol + items[i + 1][0] if i + 1 < len(items) else ""
        if symbol in _STRESS:
            stress = _STRESS[symbol]
            position += samples
            carried += samples
            i += 1
            continue
        if pair in _VOWELS or pair in _CONSONANTS:
            symbol, samples, step = pair, samples + items[i + 1][1], 2
        else:
            step = 1
        # Length marks and combining diacritics lengthen the phone before them.
        while i + step < len(items) and items[i + step][0] in _LONG + _COMBINING:
            samples += items[i + step][1]
            step += 1
        start = position - carried
        end = position + samples
        position = end
        if symbol in _VOWELS:
            digit = 0 if stress is None else stress
            phones.append(Phone(f"{_VOWELS[symbol]}{digit}", start / sample_rate, end / sample_rate,
                                stressed=digit > 0))
            stress = None
            carried = 0
        elif symbol in _CONSONANTS:
            phones.append(Phone(_CONSONANTS[symbol], start / sample_rate, end / sample_rate))
            carried = 0
        else:
            # Word breaks, punctuation, sentence marks: time passes, nothing is said.
            carried = 0
            stress = None if symbol.strip() == "" else stress
        i += step
    return tuple(phones)
