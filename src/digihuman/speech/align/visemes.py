"""The viseme set, the phone→viseme maps and the per-phone mouth targets.

Visemes are the 15 of Meta's OVR LipSync, so that any renderer rigged for that set (and most
blend-shape rigs are) takes our output as is. Each has four continuous targets in [0, 1]:
jaw opening, lip width (0 pursed, 0.5 rest, 1 spread), lip rounding, upper-teeth visibility.
The targets below are articulatory, set by hand from phonetics (not fitted to any recording),
and they are what a renderer gets for phones: ``phone_targets.json`` ships them with two keys the
viseme map cannot express — the unstressed schwa AH0 takes the nearly closed ih shape, and a
diphthong's glide (AY+ AW+ OY+) the shape of the vowel it ends on — and with the acoustic
openness model. ``bench/learn_phone_targets.py`` makes that file from the product's own voices
only (no filmed or recorded media); a per-person model learned from a user's own video is made
elsewhere (``render.mapping``).

    symbol  sounds (ARPAbet / pinyin)         jaw   width round teeth  shape
    sil     silence, pauses                    0.05  0.50  0.00  0.00   lips closed, relaxed
    PP      P B M / b p m                      0.00  0.45  0.10  0.00   lips pressed together
    FF      F V / f                            0.10  0.50  0.00  0.80   lower lip under upper teeth
    TH      TH DH                              0.20  0.50  0.00  0.70   tongue between the teeth
    DD      T D / d t                          0.25  0.55  0.00  0.50   tongue tip up, teeth shown
    kk      K G HH / g k h                     0.30  0.50  0.00  0.30   back of tongue up, jaw half open
    CH      CH JH SH ZH / zh ch sh r j q x     0.20  0.35  0.60  0.60   lips pushed out, teeth near
    SS      S Z / z c s                        0.12  0.65  0.00  0.80   teeth together, lips spread
    nn      N NG L / n l                       0.22  0.55  0.00  0.40   tongue up, jaw slightly open
    RR      R ER / er                          0.20  0.35  0.55  0.30   lips rounded a little
    aa      AA AE AH(stressed) AY AW / a       0.90  0.60  0.00  0.40   jaw wide open
    E       EH EY / e ê                        0.55  0.70  0.00  0.60   jaw mid, lips spread
    ih      IH IY Y AH(unstressed) / i y       0.30  0.80  0.00  0.60   jaw nearly closed, lips spread
    oh      AO OW OY / o                       0.60  0.30  0.70  0.20   jaw mid, lips rounded
    ou      UW UH W / u ü w                    0.25  0.15  0.95  0.10   lips pursed and pushed out

Phones are ARPAbet (upper case, stress digit optional) for English and pinyin initials and finals
(lower case, tone digit optional) for Mandarin. A pinyin final is spoken as a short sequence of
ARPAbet-like vowels (``iang`` → Y AA NG) so that both languages share one learned table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class VisemeShape:
    """One viseme: its symbol, the sounds it stands for, and its mouth targets."""

    symbol: str
    sounds: str
    jaw: float
    width: float
    round: float
    teeth: float


VISEMES: dict[str, VisemeShape] = {
    v.symbol: v
    for v in (
        VisemeShape("sil", "silence", 0.05, 0.50, 0.00, 0.00),
        VisemeShape("PP", "P B M", 0.00, 0.45, 0.10, 0.00),
        VisemeShape("FF", "F V", 0.10, 0.50, 0.00, 0.80),
        VisemeShape("TH", "TH DH", 0.20, 0.50, 0.00, 0.70),
        VisemeShape("DD", "T D", 0.25, 0.55, 0.00, 0.50),
        VisemeShape("kk", "K G HH", 0.30, 0.50, 0.00, 0.30),
        VisemeShape("CH", "CH JH SH ZH", 0.20, 0.35, 0.60, 0.60),
        VisemeShape("SS", "S Z", 0.12, 0.65, 0.00, 0.80),
        VisemeShape("nn", "N NG L", 0.22, 0.55, 0.00, 0.40),
        VisemeShape("RR", "R ER", 0.20, 0.35, 0.55, 0.30),
        VisemeShape("aa", "AA AE AH AY AW", 0.90, 0.60, 0.00, 0.40),
        VisemeShape("E", "EH EY", 0.55, 0.70, 0.00, 0.60),
        VisemeShape("ih", "IH IY Y", 0.30, 0.80, 0.00, 0.60),
        VisemeShape("oh", "AO OW OY", 0.60, 0.30, 0.70, 0.20),
        VisemeShape("ou", "UW UH W", 0.25, 0.15, 0.95, 0.10),
    )
}
SILENCE = "sil"

ARPABET_TO_VISEME: dict[str, str] = {
    "P": "PP", "B": "PP", "M": "PP",
    "F": "FF", "V": "FF",
    "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD",
    "K": "kk", "G": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH",
    "S": "SS", "Z": "SS",
    "N": "nn", "NG": "nn", "L": "nn",
    "R": "RR", "ER": "RR",
    "AA": "aa", "AE": "aa", "AH": "aa", "AY": "aa", "AW": "aa",
    "EH": "E", "EY": "E",
    "IH": "ih", "IY": "ih", "Y": "ih",
    "AO": "oh", "OW": "oh", "OY": "oh",
    "UW": "ou", "UH": "ou", "W": "ou",
    "SIL": "sil",
}
VOWELS = frozenset(
    "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split()
)
BILABIALS = frozenset({"P", "B", "M"})  # the lips must meet, however short the phone

# Pinyin initials, as the ARPAbet phone whose mouth shape they share.
PINYIN_INITIALS: dict[str, str] = {
    "b": "B", "p": "P", "m": "M", "f": "F",
    "d": "D", "t": "T", "n": "N", "l": "L",
    "g": "G", "k": "K", "h": "HH",
    "j": "JH", "q": "CH", "x": "SH",
    "zh": "JH", "ch": "CH", "sh": "SH", "r": "ZH",
    "z": "Z", "c": "S", "s": "S",
    "y": "Y", "w": "W",
}
# Pinyin finals as the vowel sequence spoken; a medial glide (i-, u-, ü-) comes first, a coda last.
PINYIN_FINALS: dict[str, tuple[str, ...]] = {
    "a": ("AA",), "o": ("AO",), "e": ("AH",), "ê": ("EH",), "er": ("ER",),
    "i": ("IY",), "u": ("UW",), "v": ("UW", "IY"), "ü": ("UW", "IY"),
    "ai": ("AY",), "ei": ("EY",), "ao": ("AW",), "ou": ("OW",),
    "an": ("AE", "N"), "en": ("AH", "N"), "ang": ("AA", "NG"), "eng": ("AH", "NG"), "ong": ("UH", "NG"),
    "ia": ("Y", "AA"), "ie": ("Y", "EH"), "iao": ("Y", "AW"), "iu": ("Y", "OW"), "iou": ("Y", "OW"),
    "ian": ("Y", "EH", "N"), "in": ("IY", "N"), "iang": ("Y", "AA", "NG"), "ing": ("IY", "NG"),
    "iong": ("Y", "UH", "NG"),
    "ua": ("W", "AA"), "uo": ("W", "AO"), "uai": ("W", "AY"), "ui": ("W", "EY"), "uei": ("W", "EY"),
    "uan": ("W", "AE", "N"), "un": ("W", "AH", "N"), "uen": ("W", "AH", "N"), "uang": ("W", "AA", "NG"),
    "ueng": ("W", "AH", "NG"),
    "ve": ("UW", "EH"), "üe": ("UW", "EH"), "van": ("UW", "AE", "N"), "üan": ("UW", "AE", "N"),
    "vn": ("UW", "IY", "N"), "ün": ("UW", "IY", "N"),
    # Syllabic "i" after z/c/s and zh/ch/sh/r is a buzzed consonant, not the vowel [i].
    "-i": ("IH",), "ii": ("IH",), "iii": ("IH",),
    "n": ("N",), "ng": ("NG",), "m": ("M",),
}

_STRESS = re.compile(r"^([A-Z]+)([012])?$")
_TONE = re.compile(r"^([a-zü-]+?)([0-5])?$")


def arpabet_parts(symbol: str) -> tuple[str, int | None] | None:
    """``"AH0"`` → ``("AH", 0)``; None when ``symbol`` is not ARPAbet."""
    m = _STRESS.match(symbol)
    if not m or m.group(1) not in ARPABET_TO_VISEME:
        return None
    return m.group(1), (int(m.group(2)) if m.group(2) else None)


def pinyin_parts(symbol: str) -> tuple[str, ...] | None:
    """A pinyin initial or final (tone digit allowed) as the ARPAbet phones it is spoken as."""
    m = _TONE.match(symbol.lower())
    if not m:
        return None
    base = m.group(1)
    if base in PINYIN_INITIALS:
        return (PINYIN_INITIALS[base],)
    return PINYIN_FINALS.get(base)


def as_arpabet(symbol: str) -> tuple[str, ...]:
    """The ARPAbet phones (no stress digits) a phone symbol of any of our alphabets is spoken as.

    Upper case is ARPAbet, lower case pinyin; anything unknown (or a pause marker) is silence.
    """
    parts = arpabet_parts(symbol)
    if parts:
        return (parts[0],)
    return pinyin_parts(symbol) or ("SIL",)


def viseme_of(symbol: str) -> str:
    """The viseme of a phone symbol; for a pinyin final, that of its main (loudest) vowel."""
    parts = arpabet_parts(symbol)
    if parts == ("AH", 0):
        return "ih"  # the schwa is nearly closed
    phones = as_arpabet(symbol)
    vowels = [p for p in phones if p in VOWELS]
    return ARPABET_TO_VISEME[(vowels or phones)[0]]


@dataclass(frozen=True)
class PhoneTargets:
    """Mouth targets per phone key (ARPAbet, ``AH0``/``AH1`` apart): the shipped table or the hand one.

    ``jaw``/``width``/``round``/``teeth`` map a key to a value in [0, 1]; ``openness_gain`` adds
    that much jaw per unit of a phone's acoustic openness above 0.5 (0 in the shipped table);
    ``acoustic`` is the learned openness model (``acoustic.OpennessModel`` as a dict), absent in
    the hand table.
    """

    jaw: dict[str, float]
    width: dict[str, float]
    round: dict[str, float]
    teeth: dict[str, float]
    openness_gain: float = 0.0
    pause_gain: float = 0.0  # jaw added in pauses per unit of heard breath (``sil`` viseme weight)
    acoustic: dict | None = None

    def target(self, key: str) -> tuple[float, float, float, float]:
        """(jaw, width, round, teeth) of a table key, falling back to its viseme's defaults."""
        base = key.rstrip("012") if key not in self.jaw else key
        shape = VISEMES[ARPABET_TO_VISEME.get(base, SILENCE)]
        return (
            self.jaw.get(key, self.jaw.get(base, shape.jaw)),
            self.width.get(key, self.width.get(base, shape.width)),
            self.round.get(key, self.round.get(base, shape.round)),
            self.teeth.get(key, self.teeth.get(base, shape.teeth)),
        )

    @classmethod
    def from_dict(cls, data: dict) -> PhoneTargets:
        """Read the JSON layout ``{"phones": {key: {"jaw": ..}}, "openness_gain": .., "acoustic": {..}}``."""
        phones = data.get("phones", {})
        cols = {c: {k: float(v[c]) for k, v in phones.items() if c in v} for c in ("jaw", "width", "round", "teeth")}
        return cls(**cols, openness_gain=float(data.get("openness_gain", 0.0)),
                   pause_gain=float(data.get("pause_gain", 0.0)), acoustic=data.get("acoustic"))

    def to_dict(self) -> dict:
        keys = sorted(set(self.jaw) | set(self.width) | set(self.round) | set(self.teeth))
        phones = {}
        for k in keys:
            phones[k] = {c: round(getattr(self, c)[k], 4) for c in ("jaw", "width", "round", "teeth") if k in getattr(self, c)}
        out = {"openness_gain": round(self.openness_gain, 4), "pause_gain": round(self.pause_gain, 4), "phones": phones}
        if self.acoustic is not None:
            out["acoustic"] = self.acoustic
        return out

    def openness_model(self):
        """The learned acoustic openness model, or None when this table has none."""
        from digihuman.speech.align.acoustic import OpennessModel

        return OpennessModel.from_dict(self.acoustic) if self.acoustic else None


def hand_targets() -> PhoneTargets:
    """Targets straight from the viseme table above: what the shipped table is made from."""
    cols: dict[str, dict[str, float]] = {c: {} for c in ("jaw", "width", "round", "teeth")}
    for phone, vis in ARPABET_TO_VISEME.items():
        for c in cols:
            cols[c][phone] = getattr(VISEMES[vis], c)
    return PhoneTargets(**cols)


@lru_cache(maxsize=1)
def default_targets() -> PhoneTargets:
    """The table shipped with the package (``phone_targets.json``), else the hand table."""
    try:
        text = resources.files("digihuman.speech.align").joinpath("phone_targets.json").read_text()
    except FileNotFoundError:
        return hand_targets()
    return PhoneTargets.from_dict(json.loads(text))
