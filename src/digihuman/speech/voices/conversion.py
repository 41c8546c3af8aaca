"""Frame conversion from a stock voice into a target speaker: F0 mapping, warp and kNN frame selection.

Each 5 ms frame of the stock voice keeps its timing, loudness (c0) and aperiodicity, so
the words and their rhythm stay the stock voice's. What changes:

- F0: log-F0 moved from the stock voice's mean and spread to the target's;
- envelope: frequency-warped (a formant shift) by an all-pass change, then replaced,
  with weight ``knn_weight``, by the mean of its ``k`` nearest frames of the target's own
  recordings. Nearness is measured on mean-normalised mel-cepstra (each speaker's mean
  envelope removed, which takes away most of what tells speakers apart and leaves what
  is said), with ``context`` frames each side so that transitions match too; voiced frames
  are matched to voiced ones only and unvoiced to unvoiced;
- spread: averaging frames flattens formant peaks (muffled, buzzy), so each coefficient's
  spread over the utterance is scaled back up towards the target's own (a global-variance
  post-filter, weight ``gv``);
- fine envelope: with parallel frames, coefficients from ``detail`` on are the reference's own
  closest paired frames, unsmoothed: the envelope's fine detail tells the speaker apart more than
  its average does, but the words suffer (fast training leaves it off: see world.PARALLEL_SMOOTH).

Replacing frames by the target's own gives the target's timbre far more than any global
mapping (measured in bench/voice_eval.py), but with little reference speech the nearest
frames are often other sounds, which blurs words; so the weight falls with shorter references.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from digihuman.speech.voices.features import Frames, _mcep_to_log_sp, warp, with_context
from digihuman.speech.voices.intonation import Intonation, restyle

if TYPE_CHECKING:
    from digihuman.speech.voices.parallel import ParallelIndex

KNN_DIMS = 25  # cepstral coefficients 1..24 are matched: the finer ones mostly carry pitch ripple
_BLOCK = 1024  # query frames per distance block (bounds memory to ~50 MB per block)


@dataclass(frozen=True)
class Conversion:
    """How stock frames are turned into the target's; fast training picks it, full training tunes it."""

    warp: float = 0.03  # all-pass change: > 0 lowers formants (towards a longer vocal tract)
    knn_weight: float = 1.0  # 0 keeps the warped stock envelope, 1 takes the target's frames only
    k: int = 4  # target frames averaged per stock frame
    context: int = 2  # frames each side that take part in matching
    f0_scale: float = 1.0  # multiplies the target's mean F0 (full training may nudge it)
    f0_spread: float = 1.0  # multiplies the target's log-F0 standard deviation
    breath: float = 0.0  # weight of the chosen target frames' aperiodicity (breathiness, noise) over the stock's
    smooth: int = 1  # frames over which the kNN correction is averaged: longer keeps more of the stock sounds
    gv: float = 0.0  # how far each envelope coefficient's spread over the utterance is restored to the target's
    # With parallel frames (the reference's words said by the stock voice, see parallel.py): frames over
    # which their correction is averaged (0: cross-speaker kNN instead), and how far (natural-log
    # amplitude) it may move each frame's loudness about the utterance's own (0: the stock contour kept).
    parallel_smooth: int = 0
    loudness: float = 0.0
    # With parallel frames: how far each frame is replaced by the mean of the reference's own frames paired
    # with its nearest rendition frames (0: only their difference from the stock voice is added).
    own: float = 0.0
    # With parallel frames: mel-cepstral coefficients from this order on (the fine envelope: formant
    # sharpness and bandwidths, the speaker's detail above the formants) are taken unsmoothed from the
    # reference's own frames paired with the nearest rendition frames (0: none; see _parallel_envelope).
    detail: int = 0
    # Mel-cepstral post-filter: coefficients 2.. scaled by 1 + sharpen (formant peaks raised, valleys
    # lowered), each frame's energy kept.
    sharpen: float = 0.0
    # How far the pitch takes the target's phrase style (declination, swings, wobble; see intonation.py)
    # beyond its level and range, where both voices' styles are known (models from before have none).
    intonation: float = 0.0
    tempo: bool = False  # speak at the speaker's own rate (measured with the parallel frames)

    def to_json(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Pitch:
    """Log-F0 statistics of a speaker's voiced frames."""

    mean: float
    std: float

    @classmethod
    def of(cls, f0: np.ndarray) -> Pitch:
        voiced = np.log(f0[f0 > 0])
        if len(voiced) < 10:
            return cls(float(np.log(120.0)), 0.2)
        return cls(float(voiced.mean()), float(max(voiced.std(), 0.05)))


@dataclass(frozen=True)
class SpeakerStats:
    """What normalises a speaker's frames: mean mel-cepstrum of speech and pitch statistics."""

    mean: np.ndarray  # (ORDER + 1,)
    pitch: Pitch
    intonation: Intonation | None = None  # the target's, measured where pauses are kept (not on joined frames)

    @classmethod
    def of(cls, frames: Frames) -> SpeakerStats:
        speech = frames.take(frames.speech())
        return cls(speech.mcep.mean(axis=0), Pitch.of(speech.f0))


class TargetFrames:
    """The target speaker's speech frames, indexed for nearest-frame search (built once per model load)."""

    def __init__(self, frames: Frames, context: int = 2) -> None:
        self.frames = frames
        self.stats = SpeakerStats.of(frames)
        self.context = context
        # per-coefficient spread of the target's speech envelopes: what averaging k frames takes away
        self.spread = frames.take(frames.speech()).mcep.std(axis=0)
        keys = with_context(frames.mcep[:, 1:KNN_DIMS] - self.stats.mean[1:KNN_DIMS], context).astype(np.float32)
        self._pools = []
        for voiced in (True, False):
            rows = np.flatnonzero(frames.voiced == voiced)
            self._pools.append((rows, keys[rows], np.einsum("ij,ij->i", keys[rows], keys[rows])))

    def nearest_mean(self, query: np.ndarray, voiced: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each query key row, the mean mel-cepstrum and aperiodicity of its ``k`` nearest target frames."""
        out = np.zeros((len(query), self.frames.mcep.shape[1]))
        out_bap = np.zeros((len(query), self.frames.bap.shape[1]))
        for is_voiced, (rows, keys, norms) in zip((True, False), self._pools):
            which = np.flatnonzero(voiced == is_voiced)
            if not len(which):
                continue
            if not len(rows):  # no such frames in the reference: fall back on the other pool
                rows, keys, norms = self._pools[0] if len(self._pools[0][0]) else self._pools[1]
            kk = min(k, len(rows))
            for start in range(0, len(which), _BLOCK):
                part = which[start:start + _BLOCK]
                q = query[part]
                distance = norms[None, :] - 2.0 * (q @ keys.T)  # + |q|^2, the same for every candidate
                best = np.argpartition(distance, kk - 1, axis=1)[:, :kk]
                out[part] = self.frames.mcep[rows[best]].mean(axis=1)
                out_bap[part] = self.frames.bap[rows[best]].mean(axis=1)
        return out, out_bap


def convert(source: Frames, source_stats: SpeakerStats, target: TargetFrames, conversion: Conversion,
            parallel: ParallelIndex | None = None) -> Frames:
    """``source`` frames spoken with the target's pitch and timbre (through ``parallel`` frames if given)."""
    f0 = _map_pitch(source.f0, source_stats.pitch, target.stats.pitch, conversion)
    if conversion.intonation > 0 and target.stats.intonation is not None:
        f0 = restyle(f0, target.stats.intonation, conversion.intonation)
    if parallel is not None and conversion.parallel_smooth > 0 and len(source):
        envelope = _parallel_envelope(source, target, conversion, parallel)
        return Frames(f0, _sharpened(envelope, conversion.sharpen), source.bap)
    envelope = warp(source.mcep, conversion.warp)
    bap = source.bap
    if conversion.knn_weight > 0 and len(source):
        # freqt is linear, so the warped stock mean is the warp of the stock mean
        mean = warp(source_stats.mean[None, :], conversion.warp)[0]
        query = with_context(envelope[:, 1:KNN_DIMS] - mean[1:KNN_DIMS], target.context).astype(np.float32)
        chosen, chosen_bap = target.nearest_mean(query, source.voiced, conversion.k)
        envelope = envelope + conversion.knn_weight * _smoothed(chosen - envelope, conversion.smooth)
        if conversion.breath > 0:
            bap = bap + conversion.breath * _smoothed(chosen_bap - bap, conversion.smooth)
    if conversion.gv > 0 and len(source):
        envelope = _restore_spread(envelope, source.speech(), target.spread, conversion.gv)
    envelope[:, 0] = source.mcep[:, 0]  # keep the stock voice's loudness contour
    return Frames(f0, _sharpened(envelope, conversion.sharpen), bap)


def _parallel_envelope(source: Frames, target: TargetFrames, conversion: Conversion,
                       parallel: ParallelIndex) -> np.ndarray:
    """The stock envelope moved by how the target says each sound unlike the stock voice.

    No warp: the paired differences already hold the formant shift, sound by sound. Loudness
    follows the target's per sound (a speaker's vowels against their consonants: +0.03-0.04
    similarity in bench/voice_eval.py) but only within ``loudness`` of the utterance's own
    level, so no word is dropped or shouted.
    """
    correction, close = parallel.corrections(source, conversion.own, detail=conversion.detail > 0)
    speech = source.speech()
    if conversion.loudness > 0 and speech.any():
        level = correction[:, 0] - np.median(correction[speech, 0])  # the overall level stays the stock's
        correction[:, 0] = np.clip(level, -conversion.loudness, conversion.loudness)
    else:
        correction[:, 0] = 0.0
    envelope = source.mcep + _smoothed(correction, conversion.parallel_smooth)
    if conversion.gv > 0:
        envelope = _restore_spread(envelope, speech, target.spread, conversion.gv)
    if close is not None:
        envelope[:, conversion.detail:] = close[:, conversion.detail:]
    return envelope


def fit_warp(source_mean: np.ndarray, target_mean: np.ndarray) -> float:
    """The all-pass change that brings the stock voice's mean envelope closest to the target's."""
    shifts = np.round(np.arange(-0.10, 0.1001, 0.01), 2)
    misfit = [np.linalg.norm(warp(source_mean[None, :], s)[0, 1:KNN_DIMS] - target_mean[1:KNN_DIMS]) for s in shifts]
    return float(shifts[int(np.argmin(misfit))])


def _restore_spread(envelope: np.ndarray, speech: np.ndarray, spread: np.ndarray, amount: float) -> np.ndarray:
    """Speech frames' coefficients 1.. spread about their utterance mean as the target's own spread.

    A global-variance post-filter: averaging neighbours and frames flattens formant peaks
    (muffled, buzzy); scaling each coefficient's deviation back sharpens them again.
    """
    if speech.sum() < 10:
        return envelope
    out = envelope.copy()
    part = out[speech, 1:]
    mean, std = part.mean(axis=0), part.std(axis=0)
    gain = np.clip(spread[1:] / np.maximum(std, 1e-6), 1.0, 2.0) ** amount
    out[speech, 1:] = mean + (part - mean) * gain
    return out


def _sharpened(envelope: np.ndarray, amount: float) -> np.ndarray:
    """A mel-cepstral post-filter: coefficients 2.. scaled by ``1 + amount``, each frame's energy unchanged.

    c1 (the overall tilt) is left alone; the energy is kept by moving c0, which shifts the whole
    log spectrum by the same amount at every frequency.
    """
    if amount <= 0 or not len(envelope):
        return envelope
    log_sp = _mcep_to_log_sp()
    before = _log_energy(envelope @ log_sp.T)
    out = envelope.copy()
    out[:, 2:] *= 1.0 + amount
    out[:, 0] += (before - _log_energy(out @ log_sp.T)) / log_sp[:, 0].mean()
    return out


def _log_energy(log_power: np.ndarray) -> np.ndarray:
    top = log_power.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(log_power - top).sum(axis=1))


def _smoothed(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` frames along time (edges repeated)."""
    if width <= 1 or len(x) < 2:
        return x
    half = width // 2
    padded = np.pad(x, ((half, width - 1 - half), (0, 0)), mode="edge")
    total = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), padded]), axis=0)
    return (total[width:] - total[:-width]) / width


def _map_pitch(f0: np.ndarray, source: Pitch, target: Pitch, conversion: Conversion) -> np.ndarray:
    out = f0.copy()
    voiced = out > 0
    mean = target.mean + np.log(conversion.f0_scale)
    out[voiced] = np.exp((np.log(out[voiced]) - source.mean) / source.std * target.std * conversion.f0_spread + mean)
    return out
