"""The official SDKs against a real server, changing only their base URL: ten calls, as a user makes them.

Starts ``digihuman serve`` (real engines, one worker) on a free port with a temporary data dir, then runs
the Fish Audio SDK (``fishaudio``) and the OpenAI SDK against it: clone a voice from 14 s of a05 and wait
until it is trained, list voices, speak with the clone (whole and streamed), clone zero-shot from r01 in
the request, list models, chat with the bundled model, speech with an OpenAI voice name, transcribe a01.
Prints a table and writes bench/results/sdk_calls.json.

    .venv/bin/python bench/sdk_calls.py
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

sys.path.insert(0, str(Path(__file__).parent))
from render_e2e import KEY, Server  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
RESULTS = Path(__file__).parent / "results"


def seconds_of(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def main() -> int:
    from fishaudio import FishAudio, ReferenceAudio
    from openai import OpenAI

    rows: list[dict[str, Any]] = []

    def call(name: str, fn: Callable[[], str]) -> None:
        started = time.monotonic()
        try:
            result, ok = fn(), True
        except Exception as e:  # a failing call is a row of the table, not the end of the run
            result, ok = f"{type(e).__name__}: {e}"[:160], False
        rows.append({"call": name, "ok": ok, "seconds": round(time.monotonic() - started, 1), "result": result})
        print(f"{name:40} {'pass' if ok else 'FAIL'} {rows[-1]['seconds']:7.1f} s  {result}", flush=True)

    with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp) / "data") as server:
        fish = FishAudio(api_key=KEY, base_url=server.url)
        oai = OpenAI(api_key=KEY, base_url=server.url + "/v1")
        a05 = (MEDIA / "audio" / "a05_en_m_musetalk_eng_60s.wav").read_bytes()
        voice: dict[str, str] = {}

        def create() -> str:
            created = fish.voices.create(title="a05", voices=[a05[: 44 + 16000 * 2 * 14]], description="14 s")
            voice["id"] = created.id
            return f"state {created.state}"

        def trained() -> str:
            deadline = time.monotonic() + 300
            while (state := fish.voices.get(voice["id"]).state) not in ("trained", "failed"):
                if time.monotonic() > deadline:
                    break
                time.sleep(1)
            if state != "trained":
                raise RuntimeError(f"the voice is {state}")
            return state

        ref = MEDIA / "voice_ref" / "r01_en_m_f5tts_basic_ref_en"
        reference = ReferenceAudio(audio=ref.with_suffix(".wav").read_bytes(),
                                   text=ref.with_suffix(".txt").read_text().strip())
        call("fish voices.create", create)
        call("fish voices.get (until trained)", trained)
        call("fish voices.list", lambda: f"total {fish.voices.list(page_size=10).total}")
        def spoken(audio: bytes) -> str:
            return f"{seconds_of(audio):.1f} s of audio"

        call("fish tts.convert", lambda: spoken(fish.tts.convert(
            text="Good morning. This is my cloned voice.", reference_id=voice["id"])))
        call("fish tts.stream", lambda: spoken(b"".join(fish.tts.stream(
            text="Streaming a second sentence now.", reference_id=voice["id"]))))
        call("fish tts zero-shot references", lambda: spoken(fish.tts.convert(
            text="Zero shot cloning in one request.", references=[reference])))
        call("openai models.list", lambda: ", ".join(m.id for m in oai.models.list().data))
        call("openai chat.completions", lambda: repr(oai.chat.completions.create(
            model="gemma3-270m", messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=16).choices[0].message.content[:60]))
        call("openai audio.speech", lambda: spoken(oai.audio.speech.create(
            model="tts-1", voice="alloy", input="The meeting starts at ten thirty.").content))
        with open(MEDIA / "audio" / "a01_en_m_hdtf_radio34.wav", "rb") as a01:
            call("openai audio.transcriptions", lambda: repr(oai.audio.transcriptions.create(
                model="whisper-1", file=a01).text[:60]))

    passed = sum(row["ok"] for row in rows)
    print(f"\n{passed} of {len(rows)} calls pass")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sdk_calls.json").write_text(json.dumps({"passed": passed, "calls": rows}, indent=2))
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
