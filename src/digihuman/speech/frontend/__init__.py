"""The text front end of speech synthesis: what to say, in which script, in which pieces.

    chunk(text, max_chars)       pieces of at most max_chars, cut at sentence, then clause ends
    split_sentences(text)        sentences, on Chinese and Western punctuation
    split_by_script(text)        ("zh" | "latin", run) pairs; numbers go with the script they belong to
    text_language(text)          "zh" or "en": the language a mostly-Han or mostly-Latin text is read in
    normalize(text, language)    numbers, money, dates, times, units, symbols → words of ``language``

Everything here is pure Python and cheap to import.
"""

from __future__ import annotations

from digihuman.speech.frontend import en, zh
from digihuman.speech.frontend.segment import Script, chunk, split_by_script, split_sentences, text_language
from digihuman.speech.frontend.symbols import clean, squeeze

__all__ = ["Script", "chunk", "normalize", "split_by_script", "split_sentences", "text_language"]


def base_language(language: str) -> str:
    """``"zh-CN"`` → ``"zh"``, ``"cmn"`` → ``"zh"``, ``"en_US"`` → ``"en"``."""
    code = language.replace("_", "-").split("-")[0].lower()
    return "zh" if code in ("zh", "cmn") else code


def normalize(text: str, language: str) -> str:
    """``text`` as the words a reader of ``language`` would say.

    English and Mandarin get full normalisation; for other languages only emoji and
    pictographs are removed, since the fallback voice (eSpeak NG) reads numbers itself.
    """
    code = base_language(language)
    if code == "en":
        return en.normalize(text)
    if code == "zh":
        return zh.normalize(text)
    return squeeze(clean(text))
