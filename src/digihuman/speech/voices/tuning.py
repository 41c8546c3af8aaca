"""Full training: the conversion settings that make stock speech closest to the target speaker.

Closeness is the cosine of resemblyzer speaker embeddings between the converted
calibration sentences and the target's own samples. The search is coordinate ascent
from the fast settings over the formant warp, the pitch level and the kNN weight.
The kNN weight is never raised above what the reference length allows
(:func:`~digihuman.speech.voices.world.knn_weight_for`): more of the target's frames
always looks more like the target to the encoder, but with a short reference it costs
intelligibility, which this score cannot see.
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
    "warp": (-0.03, 0.0, 0.03, 0.06, 0.09),
    "f0_scale": (0.9, 0.95, 1.0, 1.05, 1.1),
    "knn_weight": (0.4, 0.6, 0.8, 1.0),
    "k": (2, 4, 8),
}
_ROUNDS = 2


def tune(audio: list[np.ndarray], frames: Frames, source: SpeakerStats, calibration: list[Frames],
         start: Conversion, seconds: float, progress: Callable[[float, str], None]) -> Conversion:
    """The conversion, from ``start``, that scores best; ``start``'s kNN weight is the ceiling."""
    reference = embed(np.concatenate(audio), RATE)
    target = TargetFrames(frames, context=start.context)
    ceiling = start.knn_weight
    scores: dict[Conversion, float] = {}

    def score(conversion: Conversion) -> float:
        if conversion not in scores:
            speech = np.concatenate([vocode(convert(f, source, target, conversion)) for f in calibration])
            scores[conversion] = similarity(embed(speech, RATE), reference)
        return scores[conversion]

    best = start
    total = _ROUNDS * sum(len(v) for v in _STEPS.values())
    done = 0
    for _ in range(_ROUNDS):
        improved = False
        for name, values in _STEPS.items():
            for value in values:
                done += 1
                if name == "knn_weight" and value > ceiling + 1e-9:
                    continue
                candidate = replace(best, **{name: type(getattr(best, name))(value)})
                if score(candidate) > score(best) + 1e-3:
                    best, improved = candidate, True
                progress(100.0 * done / total, f"tuning the voice ({score(best):.2f})")
        if not improved:
            break
    return best
