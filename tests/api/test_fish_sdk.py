"""Fish Audio's official Python SDK (fish-audio-sdk 1.3.0) as the client, against a live server.

Only its base URL changes: voices are created, read, listed, edited and deleted with
``FishAudio().voices``, speech comes from ``FishAudio().tts`` (MessagePack bodies), zero-shot
``references`` clone a voice in one request and are fitted once, and errors arrive as the SDK's
own exceptions. The legacy ``fish_audio_sdk.Session`` is checked too. Most tests use the fake
engines; one module-scoped server with the real engines clones a real recording zero-shot.
"""

from __future__ import annotations

import base64
import io
import json
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import ormsgpack
import pytest
from fishaudio import FishAudio
from fishaudio.exceptions import APIError, AuthenticationError, NotFoundError
from fishaudio.types import Prosody, ReferenceAudio, TTSConfig

from digihuman.services import Services
from tests.api.exchange import OTHER_KEY
from tests.conftest import API_KEY
from tests.mediagen import make_png, make_wav
from tests.shared_media import shared
from tests.support.live_server import api_server, run_queued


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services]]:
    with api_server(tmp_path_factory.mktemp("fish") / "data", api_keys=[API_KEY, OTHER_KEY]) as served:
        yield served


@pytest.fixture
def fish(server: tuple[str, Services]) -> Iterator[FishAudio]:
    with FishAudio(api_key=API_KEY, base_url=server[0]) as client:
        yield client


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_wav(tmp_path_factory.mktemp("samples") / "voice.wav", seconds=3.0, freq=150.0).read_bytes()


def noise_png(path: Path, side: int) -> bytes:
    """A PNG of random pixels, which does not compress: about 3 bytes a pixel."""
    import av

    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = side, side, "rgb24"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    return path.read_bytes()


def wav_seconds(data: bytes) -> float:
    """Length of a WAV answer; a streamed WAV leaves its size fields unset, so the bytes are counted."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    with wave.open(io.BytesIO(data)) as w:
        rate = w.getframerate()
    return (len(data) - 44) / 2 / rate


def wav_rms(data: bytes) -> float:
    pcm = np.frombuffer(data[44:], "<i2").astype(np.float32) / 32768
    return float(np.sqrt(np.mean(pcm**2)))


class FitCounter:
    """Counts the voice cloner's fits, by wrapping its train method."""

    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        cloner = services.engines.require_voice_cloner()
        self.count = 0
        original = cloner.train

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(cloner, "train", counted)


# -- voices --------------------------------------------------------------------------------------


def test_voice_lifecycle_create_get_update_delete(fish: FishAudio, server: tuple[str, Services],
                                                  sample: bytes, tmp_path: Path) -> None:
    base, services = server
    cover = make_png(tmp_path / "cover.png").read_bytes()
    voice = fish.voices.create(title="Narrator", voices=[sample, sample], texts=["first take", "second take"],
                               description="a calm voice", tags=["calm", "narration"], cover_image=cover)
    assert (voice.title, voice.type, voice.state, voice.visibility, voice.train_mode) == \
        ("Narrator", "tts", "training", "private", "fast")
    assert (voice.description, voice.tags) == ("a calm voice", ["calm", "narration"])
    assert [s.text for s in voice.samples] == ["first take", "second take"]
    assert all(s.task_id and s.audio.startswith(base + "/files/") for s in voice.samples)
    assert httpx.get(voice.samples[0].audio).content == sample
    assert voice.cover_image.startswith(base) and httpx.get(voice.cover_image).content == cover
    assert (voice.like_count, voice.task_count, voice.liked, voice.lock_visibility) == (0, 0, False, False)
    assert voice.author.id and voice.created_at.tzinfo is not None

    assert run_queued(services) == 1
    trained = fish.voices.get(voice.id)
    assert (trained.state, trained.languages) == ("trained", ["en"])
    assert trained.updated_at >= trained.created_at

    fish.voices.update(voice.id, title="Storyteller", description="warm", tags=["warm"], visibility="unlist")
    edited = fish.voices.get(voice.id)
    assert (edited.title, edited.description, edited.tags, edited.visibility) == \
        ("Storyteller", "warm", ["warm"], "unlist")
    assert edited.updated_at > trained.created_at and edited.samples == trained.samples

    # A cover larger than the 1 MB body limit of JSON and forms is an upload: it is taken.
    big_cover = noise_png(tmp_path / "big.png", 800)
    assert len(big_cover) > 1024 * 1024
    fish.voices.update(voice.id, cover_image=big_cover)
    assert httpx.get(fish.voices.get(voice.id).cover_image).content == big_cover

    fish.voices.delete(voice.id)
    with pytest.raises(NotFoundError) as missing:
        fish.voices.get(voice.id)
    assert missing.value.status == 404 and "does not exist" in missing.value.message


def test_voice_list_pages_and_filters(server: tuple[str, Services], sample: bytes, tmp_path: Path) -> None:
    base, services = server
    with FishAudio(api_key=API_KEY, base_url=f"{base}/") as mine, \
            FishAudio(api_key=OTHER_KEY, base_url=base) as other:
        before = mine.voices.list(page_size=100, self_only=True).total
        made = [mine.voices.create(title=f"listed {i}", voices=[sample], tags=["listed", f"n{i}"],
                                   visibility="public" if i == 0 else "private") for i in range(3)]
        run_queued(services)
        page1 = mine.voices.list(page_size=2, page_number=1, self_only=True)
        page2 = mine.voices.list(page_size=2, page_number=2, self_only=True)
        assert page1.total == page2.total == before + 3 and len(page1.items) == 2
        newest_first = [v.id for v in page1.items + page2.items][:3]
        assert newest_first == [v.id for v in reversed(made)]

        assert [v.title for v in mine.voices.list(title="LISTED 1").items] == ["listed 1"]
        assert {v.title for v in mine.voices.list(tags=["listed"], page_size=10).items} == \
            {"listed 0", "listed 1", "listed 2"}
        assert [v.title for v in mine.voices.list(tags=["listed", "n2"]).items] == ["listed 2"]
        assert mine.voices.list(tags="listed", language="zh").total == 0
        assert mine.voices.list(tags="listed", language=["en"], sort_by="created_at").total == 3

        # Another key sees only the public one, and cannot edit or delete it.
        theirs = other.voices.list(tags="listed")
        assert [v.id for v in theirs.items] == [made[0].id] and theirs.items[0].author.id == made[0].author.id
        assert other.voices.list(tags="listed", self_only=True).total == 0
        with pytest.raises(NotFoundError):
            other.voices.get(made[1].id)
        with pytest.raises(NotFoundError):
            other.voices.update(made[0].id, title="taken")
        with pytest.raises(NotFoundError):
            other.voices.delete(made[0].id)
        assert mine.voices.get(made[0].id).title == "listed 0"


# -- speech --------------------------------------------------------------------------------------


def test_tts_convert_and_stream_send_msgpack(fish: FishAudio, server: tuple[str, Services], sample: bytes) -> None:
    base, services = server
    stock = fish.tts.convert(text="Hello there. How are you.", reference_id="fake-en", format="wav")
    assert 1.0 < wav_seconds(stock) < 3.0
    mp3 = fish.tts.convert(text="Hello there.", model="s1")  # the SDK's defaults: mp3, the first stock voice
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    chunks = list(fish.tts.stream(text="Hello there. How are you.", reference_id="fake-en", format="wav"))
    assert chunks and b"".join(chunks) == stock

    voice = fish.voices.create(title="speaker", voices=[sample])
    run_queued(services)
    cloned = fish.tts.convert(text="Hello there.", reference_id=voice.id, format="pcm", model="s2-pro")
    assert len(cloned) == 2 * int(0.06 * len("Hello there.") * 16000)

    # Prosody: speed shortens the speech; volume is a gain in dB after loudness normalisation.
    fast = fish.tts.convert(text="Hello there. How are you.", reference_id="fake-en", format="wav", speed=2.0)
    assert wav_seconds(fast) == pytest.approx(wav_seconds(stock) / 2, rel=0.05)
    quiet = fish.tts.convert(text="Hello there.", config=TTSConfig(reference_id="fake-en", format="wav",
                                                                  prosody=Prosody(volume=-12.0)))
    loud = fish.tts.convert(text="Hello there.", reference_id="fake-en", format="wav")
    assert 20 * np.log10(wav_rms(quiet) / wav_rms(loud)) == pytest.approx(-12.0, abs=0.5)
    # An unknown model header is no error: this server speaks with its own engines.
    assert fish.tts.convert(text="Hello.", reference_id="fake-en", format="wav", model="speech-9")[:4] == b"RIFF"


def test_zero_shot_references_are_fitted_once(fish: FishAudio, server: tuple[str, Services], sample: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    base, services = server
    fits = FitCounter(services, monkeypatch)
    refs = [ReferenceAudio(audio=sample, text="a reference of the voice")]
    first = fish.tts.convert(text="Hello there.", references=refs, format="wav")
    again = b"".join(fish.tts.stream(text="Hello there.", references=refs, format="wav"))
    assert first == again and fits.count == 1
    # The fake cloner speaks at 140 Hz, the stock voice at 180 Hz: the clone spoke.
    spectrum = np.abs(np.fft.rfft(np.frombuffer(first[44:], "<i2").astype(np.float32)))
    assert abs(np.argmax(spectrum) * 16000 / (2 * (spectrum.size - 1)) - 140) < 5

    # The same references in JSON, audio in base64, hit the same fitted voice.
    body = {"text": "Hello there.", "format": "wav",
            "references": [{"audio": base64.b64encode(sample).decode(), "text": "a reference of the voice"}]}
    answer = httpx.post(f"{base}/v1/tts", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert answer.status_code == 200 and answer.content == first and fits.count == 1
    # Other text is another reference: fitted anew.
    fish.tts.convert(text="Hi.", references=[ReferenceAudio(audio=sample, text="other words")], format="wav")
    assert fits.count == 2
    # reference_id wins over references, as on Fish's servers.
    stock = fish.tts.convert(text="Hello there.", references=refs, reference_id="fake-en", format="wav")
    assert stock != first and fits.count == 2


def test_tts_bodies_in_json_and_msgpack_meet_the_same_checks(server: tuple[str, Services]) -> None:
    base, _ = server
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for bad, words in [({"text": "hi", "format": "flac-ish"}, "format"),
                       ({"text": "hi", "chunk_length": 50}, "chunk_length"),
                       ({"text": "hi", "prosody": {"speed": 3.0}}, "prosody.speed"),
                       ({"format": "wav"}, "text is required")]:
        as_json = httpx.post(f"{base}/v1/tts", json=bad, headers=headers)
        as_msgpack = httpx.post(f"{base}/v1/tts", content=ormsgpack.packb(bad),
                                headers={**headers, "Content-Type": "application/msgpack"})
        for answer in (as_json, as_msgpack):
            assert answer.status_code == 400 and words in answer.json()["msg"], answer.text
        assert as_json.json()["msg"] == as_msgpack.json()["msg"]
    broken = httpx.post(f"{base}/v1/tts", content=b"\xc1", headers={**headers, "Content-Type": "application/msgpack"})
    assert broken.status_code == 400 and "not valid MessagePack" in broken.json()["msg"]
    not_base64 = httpx.post(f"{base}/v1/tts", json={"text": "hi", "references": [{"audio": "%%%", "text": ""}]},
                            headers=headers)
    assert not_base64.status_code == 400 and "base64" in not_base64.json()["msg"]
    # JSON keeps the small body limit; MessagePack, whose references are raw bytes, has the upload limit.
    big = {"text": "hi", "references": [{"audio": b"\0" * (2 * 1024 * 1024), "text": ""}]}
    as_json = httpx.post(f"{base}/v1/tts", headers=headers,
                         json={**big, "references": [{"audio": base64.b64encode(big["references"][0]["audio"]).decode()}]})
    assert as_json.status_code == 413 and "larger than" in as_json.json()["msg"]
    as_msgpack = httpx.post(f"{base}/v1/tts", content=ormsgpack.packb(big),
                            headers={**headers, "Content-Type": "application/msgpack"})
    assert as_msgpack.status_code == 422 and "references[0].audio" in as_msgpack.json()["msg"], as_msgpack.text
    same = {"text": "Hello.", "reference_id": "fake-en", "format": "wav"}
    assert httpx.post(f"{base}/v1/tts", json=same, headers=headers).content == \
        httpx.post(f"{base}/v1/tts", content=ormsgpack.packb(same),
                   headers={**headers, "Content-Type": "application/msgpack"}).content


def test_errors_arrive_as_the_sdk_exceptions(fish: FishAudio, server: tuple[str, Services], sample: bytes) -> None:
    base, services = server
    with FishAudio(api_key="wrong-key", base_url=base) as stranger:
        with pytest.raises(AuthenticationError) as refused:
            stranger.voices.list()
        assert refused.value.status == 401 and "invalid API key" in refused.value.message
        with pytest.raises(AuthenticationError):
            stranger.tts.convert(text="hi")
    with pytest.raises(NotFoundError):
        fish.voices.get("0" * 32)
    with pytest.raises(APIError) as unknown_voice:
        fish.tts.convert(text="hi", reference_id="nobody")
    assert unknown_voice.value.status == 400 and "neither a stock voice" in unknown_voice.value.message
    untrained = fish.voices.create(title="not yet", voices=[sample])
    with pytest.raises(APIError) as busy:
        fish.tts.convert(text="hi", reference_id=untrained.id)
    assert busy.value.status == 409 and "not trained" in busy.value.message
    with pytest.raises(APIError) as too_many:
        fish.tts.convert(text="hi", references=[ReferenceAudio(audio=sample, text="")] * 6)
    assert too_many.value.status == 400 and "at most 5" in too_many.value.message
    with pytest.raises(APIError) as not_audio:
        fish.tts.convert(text="hi", references=[ReferenceAudio(audio=b"plain text, no sound" * 50, text="")])
    assert not_audio.value.status == 422 and "references[0]" in not_audio.value.message
    with pytest.raises(APIError) as bad_visibility:
        fish.voices.update(untrained.id, visibility="secret")  # type: ignore[arg-type]
    assert bad_visibility.value.status == 400 and "visibility" in bad_visibility.value.message
    run_queued(services)


def test_legacy_session_speaks_and_lists(server: tuple[str, Services], sample: bytes) -> None:
    from fish_audio_sdk import HttpCodeErr, ReferenceAudio as LegacyReference, Session, TTSRequest

    base, services = server
    session = Session(API_KEY, base_url=base)
    model = session.create_model(title="legacy", voices=[sample], texts=["words"], tags=["old"])
    assert (model.title, model.state, model.tags) == ("legacy", "training", ["old"])
    run_queued(services)
    assert session.get_model(model.id).state == "trained"
    assert model.id in [m.id for m in session.list_models(self_only=True, page_size=50).items]
    audio = b"".join(session.tts(TTSRequest(text="Hello there.", reference_id=model.id, format="wav")))
    assert wav_seconds(audio) > 0.5
    zero_shot = b"".join(session.tts(TTSRequest(text="Hello.", format="wav",
                                                references=[LegacyReference(audio=sample, text="words")])))
    assert zero_shot[:4] == b"RIFF"
    session.update_model(model.id, title="renamed")
    assert session.get_model(model.id).title == "renamed"
    session.delete_model(model.id)
    with pytest.raises(HttpCodeErr) as gone:
        session.get_model(model.id)
    assert gone.value.status == 404 and "does not exist" in gone.value.message


# -- real engines --------------------------------------------------------------------------------


@pytest.mark.media
def test_real_zero_shot_clone_is_fitted_once_and_checked(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A real recording cloned zero-shot through the SDK: fitted on the first call, read from storage after."""
    reference = shared("voice_ref/r01_*.wav")
    words = reference.with_suffix(".txt").read_text().strip()
    with api_server(tmp_path_factory.mktemp("fish-real") / "data", engine_factory=None) as (base, services), \
            FishAudio(api_key=API_KEY, base_url=base) as fish:
        refs = [ReferenceAudio(audio=reference.read_bytes(), text=words)]
        started = time.monotonic()
        first = fish.tts.convert(text="Please bring the blue book.", references=refs, format="wav")
        fitted_s = time.monotonic() - started
        started = time.monotonic()
        again = fish.tts.convert(text="Please bring the blue book.", references=refs, format="wav")
        cached_s = time.monotonic() - started
        assert 1.0 < wav_seconds(first) < 6.0 and 1.0 < wav_seconds(again) < 6.0
        folders = list((services.settings.files_dir / "voices" / "references").glob("*"))
        assert len(folders) == 1 and (folders[0] / "reference.json").is_file(), folders
        fit = json.loads((folders[0] / "reference.json").read_text())
        assert fit["languages"][0] == "en" and fit["speech_seconds"] > 3.0, fit
        # Another transcript is another reference: fitted again, now in a warm server.
        started = time.monotonic()
        fish.tts.convert(text="Please bring the blue book.", format="wav",
                         references=[ReferenceAudio(audio=reference.read_bytes(), text=words.upper())])
        warm_s = time.monotonic() - started
        assert len(list(folders[0].parent.glob("*"))) == 2
        print(f"zero-shot: first call {fitted_s:.1f} s (of which fitting {fit['fit_seconds']:.1f} s), "
              f"cached {cached_s:.1f} s, another reference in a warm server {warm_s:.1f} s")
        assert cached_s < fitted_s
        # A tone is refused with the training's own one-sentence reason.
        tone = make_wav(tmp_path_factory.mktemp("tone") / "tone.wav", seconds=5.0).read_bytes()
        with pytest.raises(APIError) as refused:
            fish.tts.convert(text="hi", references=[ReferenceAudio(audio=tone, text="hello")], format="wav")
        assert refused.value.status == 422 and "references[0]" in refused.value.message, refused.value.message
