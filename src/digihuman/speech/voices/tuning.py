"""Full training: the conversion settings that make stock speech closest to the target speaker.

Closeness is the cosine of resemblyzer speaker embeddings between the converted
calibration sentences and a half of the target's samples that the conversion did not use.
The search is coordinate ascent from the fast settings over the formant warp, the pitch
level and range, the kNN smoothing, k, breathiness and the envelope spread (``gv``). The kNN correction is never
smoothed less than the reference length allows
(:func:`~digihuman.speech.voices.world.smoothing_for`): the target's own frames, less
smoothed, always look more like the target to the encoder, but with a short reference
they cost intelligibility, which this score cannot see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from digihuman.speech.voices.conversion import Conversion, SpeakerStats, TargetFrames, convert
from digihuman.speech.voices.features import RATE, Frames, vocode
from digihuman.speech.voices.similarity import embed, similarity

# Values tried for each setting, in search order.
_STEPS: dict[str, tuple[float, ...]] = {
    "warp": (-0.08, -0.04, 0.0, 0.04, 0.08),
    "f0_scale": (0.94, 1.0, 1.06),
    "f0_spread": (0.8, 1.0, 1.25),
    "smooth": (3, 9, 17, 25, 41),
    "k": (2, 4, 8),
    "breath": (0.0, 1.0),
    "gv": (0.0, 1.0, 1.5),
}
_ROUNDS = 2
_BLOCK_S = 2.0  # seconds per block when the reference is cut into two halves
_SENTENCES = 5  # calibration sentences spoken per score (fewer: the choice follows their content)
_MARGIN = 0.005  # a change must gain this much (mean of both folds) to be kept


def tune(audio: list[np.ndarray], source: SpeakerStats, calibration: list[Frames], start: Conversion,
         progress: Callable[[float, str], None]) -> Conversion:
    """The conversion, from ``start``, that scores best; ``start``'s smoothing is the floor.

    Scored as the final model will be used: speaking with frames of one half of the reference and
    compared with the other, unseen half (alternate blocks of :data:`_BLOCK_S`), and the other way
    round, so settings that only copy the reference's own frames back gain nothing.
    """
    from digihuman.speech.voices.world import _speech_frames

    halves = _halves(np.concatenate(audio))
    # Two folds: frames from one half, compared with the other half's embedding, and the other way round.
    folds = [(TargetFrames(_speech_frames([a]), context=start.context), embed(b, RATE))
             for a, b in (halves, halves[::-1])]
    calibration = calibration[:_SENTENCES]
    floor = start.smooth
    scores: dict[Conversion, float] = {}

    def score(conversion: Conversion) -> float:
        if conversion not in scores:
            total = 0.0
            for target, reference in folds:
                speech = np.concatenate([vocode(convert(f, source, target, conversion)) for f in calibration])
                total += similarity(embed(speech, RATE), reference)
            scores[conversion] = total / len(folds)
        return scores[conversion]

    best = start
    total = _ROUNDS * sum(len(v) for v in _STEPS.values())
    done = 0
    for _ in range(_ROUNDS):
        improved = False
        for name, values in _STEPS.items():
            for value in values:
                done += 1
                if name == "smooth" and value < floor:
                    continue
                candidate = replace(best, **{name: type(getattr(best, name))(value)})
                if score(candidate) > score(best) + _MARGIN:
                    best, improved = candidate, True
                progress(100.0 * done / total, f"tuning the voice ({score(best):.2f})")
        if not improved:
            break
    return best


def _halves(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Even and odd blocks of ``samples``, each joined: two halves with the same mix of content."""
    block = int(_BLOCK_S * RATE)
    pieces = [samples[i:i + block] for i in range(0, len(samples), block)]
    if len(pieces) < 2:
        half = len(samples) // 2
        return samples[:half], samples[half:]
    return np.concatenate(pieces[0::2]), np.concatenate(pieces[1::2])
