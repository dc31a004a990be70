"""How fast does each MiniLM path embed what the main job embeds, against sentence-transformers?

The main job (``routereval bench --dataset mmlu-pro``) embeds the MMLU-Pro
question texts, ``bench.prompts["text"]`` (see ``evaluation/prepare.py`` and
``encoders/prompts.py``). This script embeds a seeded sample of those same
texts with every path, in rounds: each round times every path once, in turn,
so a change in machine load hits all paths alike; figures are medians over
rounds and speed-ups are medians of the per-round ratios to the
sentence-transformers reference (``minilm-st`` in batches of 64, as
sentence-transformers runs by default) measured in this process.

Paths measured: the offered ones (``minilm-st``, ``minilm-onnx``,
``minilm-int8``) and candidates that were not kept, measured here so the
choice stays checkable: torch fp32 with our length-sorted batches (batching
alone), torch bf16 autocast and torch dynamic int8 (on the reference's own
module), and ONNX Runtime's own dynamic int8 of the fused graph (activations
scaled per batch). Also: achieved GFLOP/s (MiniLM-L6 costs ~23 MFLOP per word piece)
against a plain fp32 torch matrix multiply timed in the same rounds; cosine
to the reference per path; one short prompt's latency (p50, p90) with the
encoder kept loaded; and the embedding cache alone at scale.

    python benchmarks/encoders_speed.py                    # ~5 minutes on a quiet 2-CPU machine
    python benchmarks/encoders_speed.py --n 256 --runs 3   # quick look
    python benchmarks/encoders_speed.py --check-all        # cosine over every MMLU-Pro and LLMRouter prompt

Writes ``benchmarks/results/encoders_speed.json``. Needs ROUTEREVAL_MIRROR
(default ``../shared/data/github``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _runs import write_json

REPO = Path(__file__).resolve().parents[1]
MFLOP_PER_TOKEN = 23.0
CHAT_TURN = "Hi! Could you help me write a short, polite email to my landlord about the broken heater?"


def mmlu_pro_texts(n: int, seed: int) -> list[str]:
    """A seeded sample of ``n`` distinct MMLU-Pro question texts, as the bench command embeds them (all for 0)."""
    from routereval.sources.catalog import load_dataset

    texts = list(dict.fromkeys(t for t in load_dataset("mmlu-pro").prompts["text"].tolist() if isinstance(t, str)))
    if n and n < len(texts):
        rng = np.random.default_rng(seed)
        texts = [texts[i] for i in rng.choice(len(texts), n, replace=False)]
    return texts


def torch_candidates(reference) -> dict:
    """Candidate paths on the reference's own torch module: fp32, bf16 autocast, dynamic int8."""
    import torch

    from routereval.encoders.minilm import model_path
    from routereval.encoders.wordpieces import WordPieces

    st = reference.load()
    bert = st[0].auto_model.eval()
    pieces = WordPieces(model_path(), 256)

    def runner(module, dtype=None):
        def encode(texts: list[str]) -> np.ndarray:
            out = np.empty((len(texts), 384), dtype=np.float32)
            with torch.inference_mode():
                for positions, ids, mask in pieces.batches(texts, 32):
                    ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
                    if dtype is None:
                        hidden = module(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
                    else:
                        with torch.autocast("cpu", dtype=dtype):
                            hidden = module(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
                    m = mask_t.unsqueeze(-1).to(torch.float32)
                    out[positions] = ((hidden.float() * m).sum(1) / m.sum(1)).numpy()
            return out / np.linalg.norm(out, axis=1, keepdims=True)

        return encode

    candidates = {"torch-fp32-sorted": runner(bert), "torch-bf16": runner(bert, torch.bfloat16)}
    try:
        quantised = torch.ao.quantization.quantize_dynamic(bert, {torch.nn.Linear}, dtype=torch.qint8)
        candidates["torch-dynamic-int8"] = runner(quantised)
    except Exception as exc:  # noqa: BLE001 - an unsupported build is a finding, not a crash
        print(f"torch dynamic int8 unavailable: {exc}")
    return candidates


def ort_dynamic_int8() -> dict:
    """ONNX Runtime's own dynamic int8 of the fused fp32 graph (per-batch activation scales), not offered."""
    import logging

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from routereval.encoders.export import FP32_FILE, export_dir
    from routereval.encoders.minilm import model_path
    from routereval.encoders.wordpieces import WordPieces

    out = Path(tempfile.mkdtemp(prefix="ort-dynamic-int8-")) / "model.onnx"
    logging.disable(logging.WARNING)  # the quantiser's advice on static quantisation
    try:
        quantize_dynamic(str(export_dir(model_path()) / FP32_FILE), str(out), weight_type=QuantType.QInt8,
                         per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.disable(logging.NOTSET)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    pieces = WordPieces(model_path(), 256)

    def encode(texts: list[str]) -> np.ndarray:
        vectors = np.empty((len(texts), 384), dtype=np.float32)
        for positions, ids, mask in pieces.batches(texts, 32):
            vectors[positions] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return {"ort-dynamic-int8": encode}


def cpu_flags() -> list[str]:
    """The CPU's vector instruction sets that decide int8 and bf16 speed (from /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set(next((line for line in text.splitlines() if line.startswith("flags")), "").split())
    return sorted(f for f in flags if f.startswith(("avx", "amx")) or "vnni" in f or "bf16" in f)


def matmul_gflops() -> float:
    """One timing of a plain fp32 torch matrix multiply (1024^3, 20 times)."""
    import torch

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    t0 = time.perf_counter()
    for _ in range(20):
        a @ b
    return 20 * 2 * 1024**3 / (time.perf_counter() - t0) / 1e9


def latency_ms(encode, calls: int) -> dict:
    encode([CHAT_TURN])
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        encode([CHAT_TURN])
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90)), "calls": calls}


def check_all() -> dict:
    """Cosine of each offered fast path to the reference over every MMLU-Pro and LLMRouter prompt."""
    from routereval.encoders import get_encoder
    from routereval.sources.catalog import load_dataset

    report = {}
    encoders = {name: get_encoder(name) for name in ("minilm-st", "minilm-onnx", "minilm-int8")}
    for dataset in ("mmlu-pro", "llmrouter"):
        texts = list(dict.fromkeys(t for t in load_dataset(dataset).prompts["text"].tolist() if isinstance(t, str)))
        ref = encoders["minilm-st"].encode(texts, progress=True)
        for name in ("minilm-onnx", "minilm-int8"):
            cos = np.sum(encoders[name].encode(texts, progress=True) * ref, axis=1)
            report[f"{dataset}/{name}"] = {"n": len(texts), "min": float(cos.min()), "mean": float(cos.mean())}
            print(dataset, name, report[f"{dataset}/{name}"], flush=True)
    return report


def make_shake_encoder(dim: int):
    """Near-free deterministic vectors (bytes of a SHAKE-256 digest): isolates the cache's cost."""
    from routereval.encoders import Encoder

    class _Shake(Encoder):
        @property
        def name(self) -> str:
            return f"shake-{dim}"

        @property
        def dim(self) -> int:
            return dim

        def _encode(self, texts, *, progress):
            raw = b"".join(hashlib.shake_256(t.encode()).digest(dim) for t in texts)
            return np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), dim).astype(np.float32) - 127.5

    return _Shake()


def cache_scale(n: int, runs: int) -> dict:
    """``embed`` of ``n`` synthetic texts through a near-free encoder: cold (write) and cached (read)."""
    from routereval.encoders import embed_texts

    shake = make_shake_encoder(384)
    texts = [f"synthetic prompt {i}: " + "lorem ipsum " * (i % 7) for i in range(n)]
    cold, cached = [], []
    for _ in range(runs):
        folder = Path(tempfile.mkdtemp(prefix="routereval-cache-speed-"))
        try:
            t0 = time.perf_counter()
            embed_texts(texts, shake, folder, progress=False)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            embed_texts(texts, shake, folder, progress=False)
            cached.append(time.perf_counter() - t0)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "n_texts": n,
        "cold_s": statistics.median(cold),
        "cached_s": statistics.median(cached),
        "cached_texts_per_s": n / statistics.median(cached),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="MMLU-Pro question texts per run (0: all distinct ones)")
    parser.add_argument("--runs", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-calls", type=int, default=200)
    parser.add_argument("--cache-n", type=int, default=50_000, help="synthetic texts for the cache figure (0: skip)")
    parser.add_argument("--check-all", action="store_true", help="also check cosines over every prompt (slow)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "encoders_speed.json")
    args = parser.parse_args()
    os.environ.setdefault("ROUTEREVAL_MIRROR", str(REPO.parent / "shared" / "data" / "github"))

    import torch

    from routereval.encoders import get_encoder
    from routereval.encoders.minilm import model_path
    from routereval.encoders.wordpieces import WordPieces

    load_start = os.getloadavg()
    texts = mmlu_pro_texts(args.n, args.seed)
    n_pieces = sum(len(ids) for ids in WordPieces(model_path(), 256).ids(texts))
    print(f"{len(texts)} MMLU-Pro question texts, {n_pieces / len(texts):.1f} word pieces on average; "
          f"load average {load_start[0]:.1f} on {len(os.sched_getaffinity(0))} CPUs", flush=True)

    # The reference as a sentence-transformers user runs it: its usual batches of 64 (our minilm-st
    # encodes one text at a time, for vectors that do not depend on batch mates, about 4x slower).
    offered = {"minilm-st": get_encoder("minilm-st", batch_size=64),
               **{name: get_encoder(name) for name in ("minilm-onnx", "minilm-int8")}}
    load_s = {}
    for name, encoder in offered.items():
        t0 = time.perf_counter()
        encoder.load()
        load_s[name] = time.perf_counter() - t0
    paths = {name: (lambda e: lambda t: e.encode(t, progress=False))(enc) for name, enc in offered.items()}
    paths.update(torch_candidates(offered["minilm-st"]))
    paths.update(ort_dynamic_int8())

    for encode in paths.values():
        encode(texts[:16])  # warm-up: first calls allocate

    seconds: dict[str, list[float]] = {name: [] for name in paths}
    vectors: dict[str, np.ndarray] = {}
    matmul: list[float] = []
    for run in range(args.runs):
        matmul.append(matmul_gflops())
        for name, encode in paths.items():
            t0 = time.perf_counter()
            vectors[name] = encode(texts)
            seconds[name].append(time.perf_counter() - t0)
        line = ", ".join(f"{name} {len(texts) / seconds[name][-1]:.0f}/s" for name in paths)
        print(f"round {run + 1}: matmul {matmul[-1]:.0f} GFLOP/s; {line}", flush=True)

    cosines = {}
    for name in paths:
        cos = np.sum(vectors[name] * vectors["minilm-st"], axis=1)
        cosines[name] = {"min": float(cos.min()), "mean": float(cos.mean())}
    results_paths = {}
    for name in paths:
        med = statistics.median(seconds[name])
        ratios = [r / s for r, s in zip(seconds["minilm-st"], seconds[name], strict=True)]
        results_paths[name] = {
            "offered": name in offered,
            "prompts_per_s": len(texts) / med,
            "speedup_vs_minilm_st": statistics.median(ratios),
            "gflop_per_s": n_pieces * MFLOP_PER_TOKEN / 1e3 / med,
            "cosine_to_reference": cosines[name],
            "runs_s": seconds[name],
        }
        if name in load_s:
            results_paths[name]["load_s"] = load_s[name]
    latency = {name: latency_ms(paths[name], args.latency_calls) for name in offered}

    from routereval.encoders.registry import DEFAULT_MINILM_PATH

    results = {
        "what": "MMLU-Pro question texts, as `routereval bench --dataset mmlu-pro` embeds them",
        "prompts": {"n": len(texts), "seed": args.seed, "mean_word_pieces": n_pieces / len(texts)},
        "rounds": args.runs,
        "default_path": DEFAULT_MINILM_PATH,
        "matmul_fp32_gflop_per_s": statistics.median(matmul),
        "matmul_runs_gflop_per_s": matmul,
        "paths": results_paths,
        "single_prompt_latency": {"text": CHAT_TURN, **latency},
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "cpu_flags": cpu_flags(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": load_start,
        },
    }
    for name, r in results_paths.items():
        print(f"{name:20s} {r['prompts_per_s']:7.1f} prompts/s  x{r['speedup_vs_minilm_st']:.2f}  "
              f"{r['gflop_per_s']:6.1f} GFLOP/s  cosine min {r['cosine_to_reference']['min']:.5f}")
    print(f"matmul fp32: {results['matmul_fp32_gflop_per_s']:.0f} GFLOP/s")
    for name, r in latency.items():
        print(f"one prompt, {name}: p50 {r['p50_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms")
    if args.cache_n:
        results["cache_scale"] = cache_scale(args.cache_n, 3)
        print(f"cache, {args.cache_n} texts: cold {results['cache_scale']['cold_s']:.1f} s, "
              f"cached {results['cache_scale']['cached_s']:.2f} s")
    if args.check_all:
        results["check_all"] = check_all()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    # Others' work on the machine slows every figure; ratios within a round stay comparable.
    results["machine"]["loaded"] = max(load_start[0], results["machine"]["load_average_at_end"][0]) > 1.5 * len(
        os.sched_getaffinity(0)
    )
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
