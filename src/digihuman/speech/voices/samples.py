"""Speech samples for voice cloning: decoded, checked, optionally cleaned up.

A voice model is only as good as the speech it learns from, so samples are checked before any
training starts, and each problem a user can fix is named in one sentence: a file that is not
audio, silence, too little speech, hard clipping, music or noise instead of speech. Problems that
still leave usable speech (mild clipping, a noisy room, background music, several voices, more than
five minutes) become warnings that travel with the model.

Speech is told from music and noise by four measures over the frames louder than the sound's own
noise floor (see ``speech.align.silence``):

- voiced share: speech alternates voiced and unvoiced sounds; noise and drums are hardly ever voiced;
- pitch steadiness: a sung or played note holds its pitch within 0.3 % from one 10 ms frame to the
  next; speech intonation glides, so few of its frames do (≤ 0.25 on every real recording here);
- sustained partials: a chord or a pad keeps spectral peaks at the same frequency for 0.4 s and more
  (share of the energy in such peaks: speech ≤ 0.35, a chord ≥ 0.9);
- pauses: speech stops between phrases; a tone, a sweep, a pad or a backing track never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.errors import InvalidInput, MediaRejected

MIN_SPEECH_S = 3.0  # less than this in total is not enough to learn a voice from
MAX_SPEECH_S = 300.0  # speech beyond this is left out (and a warning says so)
ANALYSIS_RATE = 16000  # every measure here runs at this rate
HOP_S = 0.01

CLIP_REJECT = 0.01  # share of speech samples stuck at full scale that is audibly distorted throughout
CLIP_WARN = 0.0005
SILENT_DBFS = -55.0  # a sample whose loudest frames stay below this holds no usable speech
NOISY_SNR_DB = 20.0  # speech less than this above the noise floor: warn
NOISE_VOICED_SHARE = 0.05  # speech is voiced in 10-90 % of its frames; noise and drums in ~0
MUSIC_STEADY_SHARE = 0.5  # share of voiced frames holding their pitch: notes ~0.9-1.0, speech ≤ 0.25
MUSIC_SUSTAINED_SHARE = 0.7  # energy share in partials held ≥ 0.4 s: chords ≥ 0.9, speech ≤ 0.35,
# speech over equally loud music ≤ 0.53
BACKGROUND_SUSTAINED_SHARE = 0.2  # with no pause at all, speech over music or a hum (within ~5 dB): warn
SPEAKER_WINDOW_S = 1.6  # resemblyzer's partial-utterance window
SPEAKERS_MIN_SPEECH_S = 6.0  # shorter speech gives too few windows to tell voices apart
SPEAKERS_MIN_SHARE = 0.2  # the second voice must hold at least this share of the windows…
SPEAKERS_MAX_COSINE = 0.8  # …and differ this much: one speaker ≥ 0.89 here, two 0.56-0.72


@dataclass(frozen=True)
class SpeechSample:
    """One decoded sample: mono float32 in [-1, 1] at ``sample_rate``."""

    audio: np.ndarray
    sample_rate: int
    source: Path
    text: str | None  # the transcript given for this sample, if any


@dataclass(frozen=True)
class SampleSet:
    """The samples a voice is built from, with what was noticed about them."""

    samples: tuple[SpeechSample, ...]
    speech_seconds: float  # speech duration (silence excluded)
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SpeechMeasures:
    """What the checks decide on, for one sample (all shares are of the frames with sound)."""

    speech_seconds: float
    level_dbfs: float  # the loud (95th percentile) frame level
    snr_db: float  # loud frames above the noise floor
    clipped_share: float  # of the samples with sound, those flat at full scale
    voiced_share: float
    steady_share: float
    sustained_share: float  # of the energy
    pause_share: float  # frames within the speech span that are 25 dB below its loud frames


def load_samples(paths: list[Path], texts: list[str] | None, *, enhance: bool,
                 sample_rate: int = 16000) -> SampleSet:
    """Decode, check and (with ``enhance``) clean up speech samples for a voice model.

    Raises InvalidInput when ``texts`` does not give one transcript per sample, and MediaRejected,
    naming the file and what to fix, for a sample that is not usable speech. Of more than five
    minutes of speech only the first five are kept (later samples are dropped, a sample crossing
    the limit is cut and its transcript dropped), with a warning. Clean-up works at 16 kHz, so
    enhanced samples carry nothing above 8 kHz whatever ``sample_rate`` asks for.
    """
    if not paths:
        raise InvalidInput("Give at least one speech sample to build a voice from.")
    if texts is not None and len(texts) != len(paths):
        raise InvalidInput(
            f"{len(texts)} transcripts were given for {len(paths)} samples: "
            "give one per sample, in order, or none."
        )
    warnings: list[str] = []
    samples: list[SpeechSample] = []
    analysed: list[np.ndarray] = []
    total = 0.0
    for i, path in enumerate(paths):
        path = Path(path)
        text = (texts[i].strip() or None) if texts is not None else None
        label = sample_label(path, i, len(paths))
        if total >= MAX_SPEECH_S:
            warnings.append(f"{label} was left out: the voice is built from the first "
                            f"{MAX_SPEECH_S / 60:.0f} minutes of speech.")
            continue
        audio, native_rate = _decode(path, label)
        clipped = clipped_share(audio)
        analysis = _resample(audio, native_rate, ANALYSIS_RATE)
        measures, mask = measure(analysis, clipped)
        warnings += check(label, measures)
        if enhance:
            analysis, mask = _enhanced(analysis, mask)
            audio, native_rate = analysis, ANALYSIS_RATE
        seconds = float(mask.sum()) * HOP_S
        if total + seconds > MAX_SPEECH_S:
            keep_frames = int(np.searchsorted(np.cumsum(mask), int(round((MAX_SPEECH_S - total) / HOP_S))))
            cut_s = (keep_frames + 1) * HOP_S
            audio = audio[: int(cut_s * native_rate)]
            analysis = analysis[: int(cut_s * ANALYSIS_RATE)]
            seconds = MAX_SPEECH_S - total
            text = None  # the transcript no longer matches what is kept
            warnings.append(f"{label} was cut after {cut_s:.0f} s: the voice is built from the first "
                            f"{MAX_SPEECH_S / 60:.0f} minutes of speech.")
        total += seconds
        analysed.append(analysis)
        samples.append(SpeechSample(_resample(audio, native_rate, sample_rate), sample_rate, path, text))
    if total < MIN_SPEECH_S:
        raise MediaRejected(
            f"The samples hold only {total:.1f} s of speech: record at least {MIN_SPEECH_S:.0f} s "
            "(10-60 s gives a closer voice)."
        )
    speakers = several_speakers(analysed)
    if speakers:
        warnings.append(speakers)
    return SampleSet(tuple(samples), round(total, 2), tuple(warnings))


# -- decoding ---------------------------------------------------------------------------------


def sample_label(path: Path, index: int, count: int) -> str:
    """How messages name a sample: by its file name, or by its place where the name is a storage key."""
    if re.fullmatch(r"[0-9a-f]{32,}", path.stem):  # a content-addressed upload: its name means nothing
        return "The sample" if count == 1 else f"Sample {index + 1} of {count}"
    return f"The sample {path.name}"


def _decode(path: Path, field: str) -> tuple[np.ndarray, int]:
    """Mono float32 samples at the file's own rate (clipping is judged before any resampling)."""
    from digihuman.media.probe import probe, require
    from digihuman.speech.align.features import load_audio

    if not path.is_file():
        raise InvalidInput(f"{field} does not exist: check the path.")
    info = probe(path, field=field)
    require(info, "speech", field)
    rate = info.sample_rate or ANALYSIS_RATE
    try:
        audio = load_audio(path, rate=rate)
    except MediaRejected as e:
        raise MediaRejected(
            f"{field} could not be decoded as audio: send a wav, mp3, m4a or a video with sound."
        ) from e
    if audio.size == 0:
        raise MediaRejected(f"{field} has no sound in it: send a recording of someone speaking.")
    return audio, rate


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    from digihuman.media.audio import resample

    return np.clip(resample(audio, rate, target), -1.0, 1.0).astype(np.float32, copy=False)


# -- measures and checks ----------------------------------------------------------------------


def clipped_share(audio: np.ndarray) -> float:
    """Share of the samples with sound that sit in runs of ≥ 3 identical values at the peak level.

    Clipping leaves flat tops of exactly equal samples; a natural waveform, even at its peak,
    changes from one sample to the next, so identical runs at the peak are the mark of clipping.
    """
    if audio.size < 3:
        return 0.0
    peak = float(np.max(np.abs(audio)))
    if peak < 0.05:
        return 0.0
    near = np.abs(audio) >= 0.98 * peak
    flat = np.zeros(audio.size, bool)
    same = audio[1:] == audio[:-1]
    # a sample is in a flat run of 3 when it equals both neighbours or two on one side
    mid = np.zeros(audio.size, bool)
    mid[1:-1] = same[:-1] & same[1:]
    flat |= mid
    flat[:-1] |= mid[1:]
    flat[1:] |= mid[:-1]
    sounding = np.count_nonzero(np.abs(audio) > 0.01 * peak)
    return float(np.count_nonzero(flat & near)) / max(sounding, 1)


def measure(audio: np.ndarray, clipped: float = 0.0) -> tuple[SpeechMeasures, np.ndarray]:
    """The measures of one sample at ``ANALYSIS_RATE``, and its per-frame speech mask."""
    from digihuman.speech.align.features import analyse, speech_levels
    from digihuman.speech.align.silence import speech_mask

    features = analyse(audio, ANALYSIS_RATE)
    level = features.energy_db
    floor, loud = speech_levels(level)
    mask = speech_mask(level) if loud > SILENT_DBFS else np.zeros(len(level), bool)
    # The energy mask keeps only the loud frames of noisy speech; the shares below are measured on
    # those, but how much speech there is (and what clean-up keeps) comes from a real VAD as well.
    speech = speech_frames(audio, level, mask)
    active = int(mask.sum())
    voiced = (features.voicing > 0.6) & mask
    if active:
        idx = np.flatnonzero(mask)
        span = level[idx[0]: idx[-1] + 1]
        pause = float(np.mean(span < np.percentile(level[mask], 95) - 25))
    else:
        pause = 0.0
    measures = SpeechMeasures(
        speech_seconds=float(speech.sum()) * HOP_S,
        level_dbfs=loud,
        snr_db=loud - floor,
        clipped_share=clipped,
        voiced_share=float(voiced.sum()) / max(active, 1),
        steady_share=_steady_pitch_share(audio, voiced),
        sustained_share=_sustained_share(audio, mask),
        pause_share=pause,
    )
    return measures, speech


def speech_frames(audio: np.ndarray, level: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """Per ``HOP_S`` frame, True where someone speaks: loud frames, or WebRTC VAD frames with sound."""
    if not loud.any():
        return loud
    return (loud | _vad_mask(audio, len(level))) & (level > SILENT_DBFS)


def _vad_mask(audio: np.ndarray, frames: int) -> np.ndarray:
    """WebRTC's voice activity (most aggressive mode, 30 ms frames), one value per ``HOP_S`` frame."""
    import webrtcvad

    vad = webrtcvad.Vad(3)
    step = int(0.03 * ANALYSIS_RATE)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    starts = range(0, len(pcm) - step + 1, step)
    voiced = [vad.is_speech(pcm[i: i + step].tobytes(), ANALYSIS_RATE) for i in starts]
    out = np.zeros(frames, bool)
    per = np.repeat(np.array(voiced, bool), 3)[:frames]
    out[: len(per)] = per
    return out


def check(field: str, m: SpeechMeasures) -> list[str]:
    """Raise MediaRejected for an unusable sample; return warnings for a usable but flawed one."""
    if m.level_dbfs <= SILENT_DBFS or m.speech_seconds == 0:
        raise MediaRejected(f"{field} is silent: record someone speaking, close to the microphone.")
    if m.clipped_share >= CLIP_REJECT:
        raise MediaRejected(
            f"{field} is badly clipped ({m.clipped_share:.1%} of its samples are cut off at full scale): "
            "record again with the input level turned down."
        )
    if m.speech_seconds >= 1.0:
        if m.steady_share >= MUSIC_STEADY_SHARE or m.sustained_share >= MUSIC_SUSTAINED_SHARE:
            raise MediaRejected(f"{field} sounds like music or a tone rather than speech: "
                                "send a recording of someone speaking, without music.")
        if m.voiced_share < NOISE_VOICED_SHARE:
            raise MediaRejected(f"{field} sounds like noise or percussion rather than speech: "
                                "send a recording of someone speaking.")
        if m.pause_share < 0.01 and m.voiced_share > 0.9:
            raise MediaRejected(f"{field} is a continuous tone rather than speech: "
                                "send a recording of someone speaking.")
    warnings = []
    if m.clipped_share >= CLIP_WARN:
        warnings.append(f"{field} is slightly clipped ({m.clipped_share:.2%} of its samples): "
                        "the voice may sound harsh; record with a lower input level if you can.")
    if m.snr_db < NOISY_SNR_DB:
        warnings.append(f"{field} is noisy (speech only {m.snr_db:.0f} dB above the background): "
                        "use enhance_audio_quality or record in a quieter room.")
    if m.sustained_share >= BACKGROUND_SUSTAINED_SHARE and m.pause_share < 0.02:
        warnings.append(f"{field} seems to have music or a hum behind the speech: "
                        "a recording without it gives a cleaner voice.")
    return warnings


def _steady_pitch_share(audio: np.ndarray, voiced: np.ndarray) -> float:
    """Share of consecutive voiced frame pairs whose pitch changes by less than 0.3 %."""
    from digihuman.speech.align.features import frame_blocks

    if np.count_nonzero(voiced) < 10:
        return 0.0
    pitch = np.zeros(len(voiced))
    lo, hi = ANALYSIS_RATE // 400, ANALYSIS_RATE // 60
    for first, frames in frame_blocks(audio, ANALYSIS_RATE):  # blocks keep memory flat for long samples
        rows = np.flatnonzero(voiced[first: first + len(frames)])
        if rows.size == 0:
            continue
        part = frames[rows] - frames[rows].mean(axis=1, keepdims=True)
        ac = np.fft.irfft(np.abs(np.fft.rfft(part, 1024, axis=1)) ** 2, axis=1)[:, lo:hi]
        k = np.clip(ac.argmax(axis=1), 1, ac.shape[1] - 2)
        r = np.arange(len(k))
        a, b, c = ac[r, k - 1], ac[r, k], ac[r, k + 1]
        # parabolic interpolation: whole-sample lags alone would call any slow glide steady
        pitch[first + rows] = ANALYSIS_RATE / (lo + k + 0.5 * (a - c) / (a - 2 * b + c - 1e-12))
    pitch[~np.isfinite(pitch) | (pitch <= 0)] = 0.0
    both = (pitch[1:] > 0) & (pitch[:-1] > 0)
    if both.sum() < 5:
        return 0.0
    jumps = np.abs(np.log(pitch[1:][both] / pitch[:-1][both]))
    return float(np.mean(jumps < 0.003))


def _sustained_share(audio: np.ndarray, mask: np.ndarray, min_run_s: float = 0.4) -> float:
    """Share of the speech frames' energy (95 Hz-4 kHz) in peaks held at one frequency ≥ ``min_run_s``."""
    nfft, hop = 1024, int(HOP_S * ANALYSIS_RATE)
    n = min(1 + (len(audio) - nfft) // hop, len(mask))
    if n < 2 or not mask[:n].any():
        return 0.0
    window = np.hanning(nfft)
    power = np.zeros((n, 250), np.float32)
    for first in range(0, n, 2000):  # blocks keep memory flat for long samples
        rows = np.arange(first, min(n, first + 2000))
        idx = np.arange(nfft)[None, :] + hop * rows[:, None]
        power[rows] = np.abs(np.fft.rfft(audio[idx] * window, axis=1))[:, 6:256] ** 2
    spec = 10 * np.log10(power + 1e-18)
    top = spec.max(axis=1, keepdims=True)
    mid = spec[:, 1:-1]
    peaks = np.zeros(spec.shape, bool)
    peaks[:, 1:-1] = (mid > spec[:, :-2]) & (mid >= spec[:, 2:]) & (mid > top - 30)
    del spec
    # a partial may drift by one bin (15.6 Hz) and still be the same note
    near = peaks | np.roll(peaks, 1, axis=1) | np.roll(peaks, -1, axis=1)
    forward = np.zeros(near.shape, np.int32)
    backward = np.zeros(near.shape, np.int32)
    run = np.zeros(near.shape[1], np.int32)
    for i in range(n):
        run = np.where(near[i], run + 1, 0)
        forward[i] = run
    run[:] = 0
    for i in range(n - 1, -1, -1):
        run = np.where(near[i], run + 1, 0)
        backward[i] = run
    held = (forward + backward - 1 >= int(min_run_s / HOP_S)) & peaks
    held |= np.roll(held, 1, axis=1) | np.roll(held, -1, axis=1)  # a peak's energy spreads over three bins
    frames = mask[:n]
    return float((power * held)[frames].sum() / max(float(power[frames].sum()), 1e-18))


# -- several speakers -------------------------------------------------------------------------


def several_speakers(analysed: list[np.ndarray]) -> str | None:
    """A warning when the speech seems to come from more than one voice, else None.

    Speaker embeddings (resemblyzer) of 1.6 s windows are split into two groups (2-means on the
    unit sphere); two voices are reported when the smaller group holds a fifth of the windows and
    the groups' mean voices differ clearly (cosine below 0.8; one speaker's windows give ≥ 0.89).
    """
    from digihuman.speech.voices import similarity

    if not similarity.installed():
        return None
    windows = speaker_embeddings(analysed)
    if len(windows) < int(SPEAKERS_MIN_SPEECH_S / SPEAKER_WINDOW_S * 2):
        return None
    share, cosine = two_voices(windows)
    if share >= SPEAKERS_MIN_SHARE and cosine < SPEAKERS_MAX_COSINE:
        return (f"The samples seem to hold more than one voice (about {share:.0%} of the speech sounds like "
                "another speaker): send speech of one person only for a closer voice.")
    return None


def speaker_embeddings(analysed: list[np.ndarray]) -> np.ndarray:
    """One unit embedding per 1.6 s window (half overlapping) of the speech in each sample."""
    from digihuman.speech.voices.similarity import window_embeddings

    out = [e for e in (window_embeddings(audio, ANALYSIS_RATE) for audio in analysed) if len(e)]
    return np.concatenate(out) if out else np.zeros((0, 256), np.float32)


def two_voices(embeddings: np.ndarray) -> tuple[float, float]:
    """(share of the smaller group, cosine of the two group means) from 2-means on the unit sphere."""
    x = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    # start from the two windows farthest apart: deterministic and finds a second voice if there is one
    sims = x @ x.T
    a, b = np.unravel_index(np.argmin(sims), sims.shape)
    centres = x[[a, b]]
    labels = np.zeros(len(x), int)
    for _ in range(20):
        labels = np.argmax(x @ centres.T, axis=1)
        new = np.stack([x[labels == k].mean(axis=0) if np.any(labels == k) else centres[k] for k in (0, 1)])
        new /= np.linalg.norm(new, axis=1, keepdims=True)
        if np.allclose(new, centres):
            break
        centres = new
    share = float(min(np.mean(labels == 0), np.mean(labels == 1)))
    return share, float(centres[0] @ centres[1])


# -- clean-up ---------------------------------------------------------------------------------


def _enhanced(audio: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Denoise, trim silences and normalise loudness; returns the audio and its new speech mask."""
    from digihuman.media.audio import normalize_loudness
    from digihuman.speech.align.features import energy_db
    from digihuman.speech.align.silence import speech_mask

    audio = denoise(audio, mask)
    audio = trim_silences(audio, mask)
    audio = normalize_loudness(audio).astype(np.float32)
    level = energy_db(audio, ANALYSIS_RATE)
    return audio, speech_frames(audio, level, speech_mask(level))


def denoise(audio: np.ndarray, mask: np.ndarray, strength: float = 1.5, floor: float = 0.15) -> np.ndarray:
    """Spectral subtraction with a noise profile taken from the pauses (or the quietest frames).

    ``floor`` bounds the cut to about -16 dB, so that speech keeps its breath and no "musical
    noise" of isolated spectral bins appears; the gains are smoothed over three frames.
    """
    nfft, hop = 512, 128
    if len(audio) < nfft * 2:
        return audio
    window = np.sqrt(np.hanning(nfft + 1)[:-1])  # sqrt-Hann analysis and synthesis sum to one at 75 % overlap
    n = 1 + (len(audio) - nfft) // hop
    padded = np.concatenate([audio, np.zeros(nfft, np.float32)])
    idx = np.arange(nfft)[None, :] + hop * np.arange(n)[:, None]
    spec = np.fft.rfft(padded[idx] * window, axis=1)
    power = np.abs(spec) ** 2
    frame_of = np.minimum((np.arange(n) * hop + nfft // 2) // int(HOP_S * ANALYSIS_RATE), len(mask) - 1)
    quiet = ~mask[frame_of]
    if quiet.sum() < 20:  # no real pause: the quietest tenth of the frames stands for the noise
        energy = power.sum(axis=1)
        quiet = energy <= np.percentile(energy, 10)
    noise = power[quiet].mean(axis=0)
    gain = np.maximum(1.0 - strength * noise / (power + 1e-12), floor)
    kernel = np.ones(3) / 3
    gain = np.apply_along_axis(lambda g: np.convolve(g, kernel, mode="same"), 0, gain)
    frames = np.fft.irfft(spec * gain, nfft, axis=1) * window
    out = np.zeros(len(padded), np.float64)
    for i in range(n):
        out[i * hop: i * hop + nfft] += frames[i]
    scale = np.zeros(len(padded))
    for i in range(n):
        scale[i * hop: i * hop + nfft] += window**2
    out = out / np.maximum(scale, 1e-3)
    return out[: len(audio)].astype(np.float32)


def trim_silences(audio: np.ndarray, mask: np.ndarray, edge_s: float = 0.1,
                  max_pause_s: float = 0.5) -> np.ndarray:
    """Cut leading and trailing silence to ``edge_s`` and any inner pause to ``max_pause_s``."""
    hop = int(HOP_S * ANALYSIS_RATE)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return audio
    keep = np.zeros(len(mask), bool)
    keep[max(0, idx[0] - int(edge_s / HOP_S)): idx[-1] + 1 + int(edge_s / HOP_S)] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (~mask).astype(np.int8), [0]])))
    half = int(max_pause_s / 2 / HOP_S)
    for a, b in zip(edges[::2], edges[1::2]):
        if a > idx[0] and b <= idx[-1] and b - a > 2 * half:
            keep[a + half: b - half] = False  # keep the pause's two ends: the voice fades in them
    samples = np.repeat(keep, hop)[: len(audio)]
    if samples.size < len(audio):
        samples = np.concatenate([samples, np.zeros(len(audio) - samples.size, bool)])
    return audio[samples]
