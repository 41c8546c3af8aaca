"""Characters a voice should never read aloud, and full-width forms folded to ASCII.

Both language front ends start here: emoji, pictographs, box drawing, arrows and
control characters carry no words, and a voice that meets them either spells
their Unicode names or stumbles. Symbols that *do* stand for words (``%``, ``$``,
``+``, ``°``...) are kept; each language reads them its own way.
"""

from __future__ import annotations

import re
import unicodedata

# Full-width ASCII (U+FF01-U+FF5E) minus the punctuation Chinese text uses as its own:
# folding "，" to "," would lose the clause marks the Mandarin front end splits on.
_KEEP_FULLWIDTH = set("，。！？；：（）、")
_FULLWIDTH = {
    cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in _KEEP_FULLWIDTH
}
_FULLWIDTH[0x3000] = 0x20  # ideographic space
_FULLWIDTH[0xFFE5] = ord("¥")  # full-width yen sign
_FULLWIDTH[0xFFE0] = ord("¢")
_FULLWIDTH[0xFFE1] = ord("£")

_EMOJI = re.compile(
    "["
    "\U0001F000-\U0001FAFF"  # mahjong, cards, emoticons, pictographs, transport, supplemental symbols
    "\U00002600-\U000027BF"  # miscellaneous symbols, dingbats
    "\U00002B00-\U00002BFF"  # arrows and stars
    "\U00002190-\U000021FF"  # arrows
    "\U00002500-\U000025FF"  # box drawing, blocks, geometric shapes
    "\U0000FE00-\U0000FE0F"  # variation selectors
    "\U0001F3FB-\U0001F3FF"  # skin tones
    "\U000E0000-\U000E007F"  # tags (flag sequences)
    "\u200d\u200b\u200c\u2060\ufeff"  # joiners and invisible spaces
    "\u2122\u00ae\u00a9"  # trade and copyright marks
    "]+"
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"',
                         "\u00bb": '"', "\u2013": "-", "\u2012": "-", "\u2212": "-", "\u00a0": " ",
                         "\u2009": " ", "\u202f": " "})


def fold_fullwidth(text: str) -> str:
    """Full-width digits, letters and symbols as ASCII; Chinese punctuation left as it is."""
    return text.translate(_FULLWIDTH)


def clean(text: str) -> str:
    """``text`` without emoji, pictographs and control characters, quotes and dashes made plain."""
    text = fold_fullwidth(text).translate(_QUOTES)
    text = _EMOJI.sub(" ", text)
    # Control and private-use characters; newlines and tabs become spaces in the reading.
    text = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") else c for c in text
    )
    return text


def squeeze(text: str) -> str:
    """Collapse runs of whitespace and drop spaces before punctuation."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" +([,.;:!?，。！？；：、])", r"\1", text)
    return text.strip()
