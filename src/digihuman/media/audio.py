"""Speech audio in and out: the one decoder every stage asks (``decode_audio``), WAV files for jobs,
and encoded streams (wav, pcm, mp3, opus, aac, flac) for the API."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from digihuman.speech.tts.base import AudioChunk

AudioFormat = Literal["wav", "pcm", "mp3", "opus", "aac", "flac"]
CONTENT_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
}
# Compressed formats: (container, encoder). AAC goes in ADTS and FLAC in its native stream, both
# playable from the first byte without an index at the end, which a stream cannot go back to write.
_ENCODERS: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "libmp3lame"),
    "opus": ("ogg", "libopus"),
    "aac": ("adts", "aac"),
    "flac": ("flac", "flac"),
}
MAX_RATE = 48000  # decoded sound is kept at most this fine: nothing downstream uses more
# Speech at about -16 LUFS has an RMS near -16 dBFS once pauses are left out.
_TARGET_RMS = 10 ** (-16 / 20)


@dataclass(frozen=True)
class EncodeOptions:
    format: AudioFormat = "wav"
    sample_rate: int | None = None  # None keeps the voice's rate; opus is always 48 kHz
    mp3_bitrate: int = 128  # kbit/s
    normalize: bool = False  # bring speech to about -16 LUFS


def normalize_loudness(samples: np.ndarray) -> np.ndarray:
    """Gain speech towards -16 LUFS, measured on its voiced part, never clipping."""
    voiced = samples[np.abs(samples) > 0.02]
    if voiced.size == 0:
        return samples
    gain = min(_TARGET_RMS / float(np.sqrt(np.mean(voiced**2))), 10.0)
    peak = float(np.max(np.abs(samples))) * gain
    if peak > 0.98:
        gain *= 0.98 / peak
    return samples * gain


RESAMPLE_PIECE_S = 10  # seconds handed to the resampler at a time


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample mono float32 audio with libswresample."""
    if rate == target:
        return samples
    out = list(resampled(samples, rate, target))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def resampled(samples: np.ndarray, rate: int, target: int) -> Iterator[np.ndarray]:
    """:func:`resample`'s output piece by piece (the same samples: the resampler carries its state
    from one piece to the next). Handed the whole at once, resampling peaked at 30 bytes per output
    sample (880 MB for 10 minutes of 16 kHz speech at 48 kHz)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    step = RESAMPLE_PIECE_S * rate
    for k in range(0, len(samples), step):
        piece = np.ascontiguousarray(samples[k: k + step], dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(piece[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for f in resampler.resample(frame):
            yield f.to_ndarray()[0]
    for f in resampler.resample(None):
        yield f.to_ndarray()[0]


def decode_audio(path: Path, rate: int | None = None, *, required: bool = True) -> tuple[np.ndarray, int]:
    """Mono float32 samples of any audio or video file PyAV reads, and their rate: ``rate`` when
    given, else the sound track's own (at most ``MAX_RATE``).

    A file with no sound track is refused (MediaRejected), or with ``required=False`` gives no
    samples. Every stage that needs a file's sound decodes it here, once per job: a job passes the
    samples on (see :class:`digihuman.speech.utterance.Speech`) rather than the path.
    """
    import av

    from digihuman.errors import MediaRejected, NotFound

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"The audio file {path.name} does not exist.")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                if not required:
                    return np.zeros(0, np.float32), rate or 16000
                raise MediaRejected(f"{path.name} has no audio track: send speech (wav, mp3, m4a) or a video with sound.")
            stream = container.streams.audio[0]
            rate = rate or min(int(stream.rate or stream.codec_context.sample_rate or MAX_RATE), MAX_RATE)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts = []
            for frame in container.decode(stream):
                parts += [f.to_ndarray()[0] for f in resampler.resample(frame)]
            parts += [f.to_ndarray()[0] for f in resampler.resample(None)]
    except av.error.FFmpegError as e:
        raise MediaRejected(f"{path.name} could not be decoded as audio: send a wav, mp3 or m4a file.") from e
    if not parts:
        return np.zeros(0, np.float32), rate
    out = np.concatenate(parts).astype(np.float32, copy=False)
    del parts
    return out, rate


def to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def write_wav(chunks: Iterable[AudioChunk], path: Path) -> float:
    """Write speech chunks to a 16-bit mono WAV file; returns its duration in seconds."""
    frames, rate = 0, None
    out = wave.open(str(path), "wb")
    out.setnchannels(1)
    out.setsampwidth(2)
    try:
        for chunk in chunks:
            if rate is None:
                rate = chunk.sample_rate
                out.setframerate(rate)
            samples = resample(chunk.samples, chunk.sample_rate, rate)
            out.writeframes(to_pcm16(samples))
            frames += len(samples)
    finally:
        if rate is None:
            # wave cannot close a file that has no rate; without this, its error would hide the one
            # that stopped the speech (a cancel, say)
            out.setframerate(16000)
        out.close()
    if rate is None:
        raise ValueError("no audio was produced")
    return frames / rate


def encode_stream(chunks: Iterable[AudioChunk], options: EncodeOptions) -> Iterator[bytes]:
    """Encode speech chunk by chunk, yielding bytes as soon as they exist."""
    if options.format in ("wav", "pcm"):
        yield from _pcm_stream(chunks, options)
    else:
        yield from _av_stream(chunks, options)


def _prepared(chunks: Iterable[AudioChunk], options: EncodeOptions, rate_for: int | None) -> Iterator[tuple[np.ndarray, int]]:
    for chunk in chunks:
        samples = normalize_loudness(chunk.samples) if options.normalize else chunk.samples
        rate = rate_for or options.sample_rate or chunk.sample_rate
        yield resample(samples.astype(np.float32), chunk.sample_rate, rate), rate


def _pcm_stream(chunks: Iterable[AudioChunk], options: EncodeOptions) -> Iterator[bytes]:
    first = True
    for samples, rate in _prepared(chunks, options, None):
        if first and options.format == "wav":
            yield _streaming_wav_header(rate)
        first = False
        yield to_pcm16(samples)


def _streaming_wav_header(rate: int) -> bytes:
    # The length is unknown while streaming; 0xFFFFFFFF sizes are what players accept for that.
    header = io.BytesIO()
    with wave.open(header, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
    data = bytearray(header.getvalue())
    data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")
    return bytes(data)


def _av_stream(chunks: Iterable[AudioChunk], options: EncodeOptions) -> Iterator[bytes]:
    import av

    buffer = _Sink()
    container_format, codec = _ENCODERS[options.format]
    fixed_rate = 48000 if options.format == "opus" else None
    container = None
    stream = None
    for samples, rate in _prepared(chunks, options, fixed_rate):
        if container is None:
            container = av.open(buffer, mode="w", format=container_format)
            stream = container.add_stream(codec, rate=rate, layout="mono")
            if options.format == "mp3":
                stream.bit_rate = options.mp3_bitrate * 1000
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        yield buffer.drain()
    if container is None:
        return
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    yield buffer.drain()


class _Sink:
    """A write-only, unseekable file for PyAV, so muxers never go back to patch what was sent."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data
