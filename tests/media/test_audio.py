"""The speech encoder: every output format decodes back to the speech it was given, and streams."""

from __future__ import annotations

import io
from collections.abc import Iterator

import av
import numpy as np
import pytest

from digihuman.media.audio import CONTENT_TYPES, EncodeOptions, encode_stream
from digihuman.speech.tts.base import AudioChunk

RATE = 22050
CODECS = {"mp3": {"mp3", "mp3float"}, "opus": {"opus", "libopus"}, "aac": {"aac"}, "flac": {"flac"},
          "wav": {"pcm_s16le"}}


def chunks(count: int, seconds: float, made: list[int]) -> Iterator[AudioChunk]:
    """``count`` chunks of a 200 Hz tone, counting in ``made`` how many were asked for."""
    t = np.arange(int(seconds * RATE)) / RATE
    for i in range(count):
        made.append(i)
        yield AudioChunk((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), RATE, f"chunk {i}")


@pytest.mark.parametrize("fmt", sorted(CODECS))
def test_each_format_decodes_to_the_speech_and_streams(fmt: str) -> None:
    made: list[int] = []
    stream = encode_stream(chunks(4, 0.5, made), EncodeOptions(fmt))
    first = next(piece for piece in stream if piece)
    assert len(made) < 4  # bytes came out before the last chunk was made
    data = first + b"".join(stream)
    with av.open(io.BytesIO(data)) as container:
        audio = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(audio))
        codec, rate = audio.codec_context.name, audio.codec_context.sample_rate
    assert codec in CODECS[fmt]
    assert rate == (48000 if fmt == "opus" else RATE)
    # A stream cannot go back to say how many samples MP3's and AAC's first frame primes and the last
    # pads (ADTS has no field for it at all), so those decode up to two frames longer.
    assert abs(samples / rate - 2.0) < (0.11 if fmt in ("mp3", "aac") else 0.03), samples / rate
    assert fmt in CONTENT_TYPES


@pytest.mark.parametrize(("fmt", "magic"), [("aac", b"\xff\xf1"), ("flac", b"fLaC")])
def test_aac_is_adts_and_flac_is_native(fmt: str, magic: bytes) -> None:
    data = b"".join(encode_stream(chunks(1, 0.3, []), EncodeOptions(fmt, sample_rate=16000)))
    assert data.startswith(magic)
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 16000


def test_pcm_is_raw_16_bit_at_the_asked_rate() -> None:
    data = b"".join(encode_stream(chunks(2, 0.5, []), EncodeOptions("pcm", sample_rate=24000)))
    assert abs(len(data) / 2 / 24000 - 1.0) < 0.002


def test_resampling_in_pieces_gives_the_samples_of_one_pass() -> None:
    from digihuman.media.audio import RESAMPLE_PIECE_S, resample, resampled

    rng = np.random.default_rng(3)
    for rate, target in ((16000, 48000), (22050, 16000), (24000, 44100)):
        samples = (0.3 * rng.standard_normal(int((2.5 * RESAMPLE_PIECE_S) * rate))).astype(np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        one_pass = np.concatenate([f.to_ndarray()[0] for f in [*resampler.resample(frame),
                                                               *resampler.resample(None)]])
        assert np.array_equal(resample(samples, rate, target), one_pass)
        pieces = list(resampled(samples, rate, target))
        assert len(pieces) >= 3 and np.array_equal(np.concatenate(pieces), one_pass)
    assert resample(np.zeros(0, np.float32), 16000, 48000).size == 0
