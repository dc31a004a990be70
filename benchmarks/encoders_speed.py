"""How fast do the encoders and the embedding cache go on this machine?

Measures, as the median of ``--runs`` runs:

* MiniLM and TF-IDF throughput (prompts/s) on real MMLU-Pro questions, read
  straight from the offline mirror's zips (synthetic text if no mirror);
* ``embed()`` cold (empty cache: encode + write) against cached (read back);
* the cache alone at scale: ``--cache-n`` synthetic texts through a near-free
  encoder, so the figure is the cache's own cost (hashing, SQLite, shards).

Prints the figures and writes ``benchmarks/results/encoders_speed.json``.

    python benchmarks/encoders_speed.py            # ~5-10 minutes on 2 CPUs
    python benchmarks/encoders_speed.py --n 300 --cache-n 20000 --runs 1   # quick look
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MMLU_PRO = "TIGER-AI-Lab/MMLU-Pro/f418b116db00b065c2aea046518d8fcf74d39872/eval_results"


def mirror_root() -> Path | None:
    env = os.environ.get("ROUTEREVAL_MIRROR")
    root = Path(env) if env else REPO.parent / "shared" / "data" / "github"
    return root if root.is_dir() else None


def mmlu_pro_prompts(n: int) -> tuple[list[str], str]:
    """Up to ``n`` distinct MMLU-Pro questions with their options, and where they came from."""
    root = mirror_root()
    zips = sorted((root / MMLU_PRO).glob("*.zip")) if root else []
    texts: dict[str, None] = {}
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            member = next(m for m in zf.namelist() if m.endswith(".json"))
            rows = json.loads(zf.read(member))
        for row in rows:
            if not isinstance(row, dict) or not row.get("question"):
                continue  # a few upstream rows are bare strings
            options = row.get("options")
            if isinstance(options, str):  # some files store the list as its repr
                options = options.strip("[]")
            elif isinstance(options, list):
                options = "\n".join(map(str, options))
            texts.setdefault(f"{row['question']}\nOptions:\n{options}", None)
            if len(texts) >= n:
                return list(texts), f"MMLU-Pro questions from {path.name} (mirror)"
    if texts:
        return list(texts), "MMLU-Pro questions (mirror)"
    rng = np.random.default_rng(0)
    words = "model answer question number value energy cell market river theory law price force".split()
    synth = [" ".join(rng.choice(words, size=int(rng.integers(20, 120)))) + f" ({i})" for i in range(n)]
    return synth, "synthetic text (no mirror found)"


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def cold_and_cached(encoder, texts: list[str], runs: int, workdir: Path) -> dict:
    """``embed`` into an empty cache (cold) and again from it (cached), median over runs."""
    from routereval.encoders import embed

    cold, cached = [], []
    for run in range(runs):
        folder = workdir / f"cache-{encoder.name}-{run}"
        t0 = time.perf_counter()
        first = embed(encoder, texts, folder, progress=False)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        second = embed(encoder, texts, folder, progress=False)
        cached.append(time.perf_counter() - t0)
        if not np.array_equal(first, second):
            raise SystemExit("cached vectors differ from the ones just written")
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
    n = len(texts)
    return {
        "cold_s": statistics.median(cold),
        "cold_prompts_per_s": n / statistics.median(cold),
        "cached_s": statistics.median(cached),
        "cached_prompts_per_s": n / statistics.median(cached),
        "cache_bytes": size,
        "cold_runs_s": cold,
        "cached_runs_s": cached,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="real prompts to encode (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument("--cache-n", type=int, default=100_000, help="synthetic texts for the cache-scale figure")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--tfidf-dim", type=int, default=256)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "encoders_speed.json")
    args = parser.parse_args()

    texts, source = mmlu_pro_prompts(args.n)
    lengths = [len(t) for t in texts]
    print(f"{len(texts)} prompts: {source}; mean {np.mean(lengths):.0f} characters")
    results: dict = {
        "prompts": {"source": source, "n": len(texts), "mean_chars": float(np.mean(lengths))},
        "runs": args.runs,
        "machine": {
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Other work on the machine slows every figure; this says how much there was.
            "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
    }
    workdir = Path(tempfile.mkdtemp(prefix="routereval-encoders-speed-"))
    try:
        # -- MiniLM
        from routereval.encoders import MiniLMEncoder, TfidfEncoder

        try:
            t0 = time.perf_counter()
            minilm = MiniLMEncoder(batch_size=args.batch_size)
            minilm.load()
            load_s = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - report and carry on with tfidf
            print(f"minilm unavailable: {exc}")
            results["minilm"] = {"error": str(exc)}
            minilm = None
        if minilm is not None:
            import torch

            minilm.encode(texts[:32], progress=False)  # warm-up: first batches allocate
            enc_s, enc_runs = median_time(lambda: minilm.encode(texts, progress=False), args.runs)
            results["minilm"] = {
                "load_s": load_s,
                "torch_threads": torch.get_num_threads(),
                "batch_size": args.batch_size,
                "encode_s": enc_s,
                "encode_prompts_per_s": len(texts) / enc_s,
                "encode_runs_s": enc_runs,
                **cold_and_cached(minilm, texts, args.runs, workdir),
            }
            r = results["minilm"]
            print(
                f"minilm: load {load_s:.1f} s; encode {r['encode_prompts_per_s']:.0f} prompts/s "
                f"({torch.get_num_threads()} threads, batch {args.batch_size}); embed cold "
                f"{r['cold_prompts_per_s']:.0f}/s, cached {r['cached_prompts_per_s']:.0f}/s"
            )

        # -- TF-IDF (fit on the same prompts: stands in for a training split)
        dim = min(args.tfidf_dim, len(texts) - 1)
        fit_s, fit_runs = median_time(lambda: TfidfEncoder(dim).fit(texts), args.runs)
        tfidf = TfidfEncoder(dim).fit(texts)
        enc_s, enc_runs = median_time(lambda: tfidf.encode(texts, progress=False), args.runs)
        results["tfidf"] = {
            "dim": dim,
            "fit_s": fit_s,
            "fit_runs_s": fit_runs,
            "encode_s": enc_s,
            "encode_prompts_per_s": len(texts) / enc_s,
            "encode_runs_s": enc_runs,
            **cold_and_cached(tfidf, texts, args.runs, workdir),
        }
        r = results["tfidf"]
        print(
            f"tfidf-{dim}: fit {fit_s:.2f} s; encode {r['encode_prompts_per_s']:.0f} prompts/s; "
            f"embed cold {r['cold_prompts_per_s']:.0f}/s, cached {r['cached_prompts_per_s']:.0f}/s"
        )

        # -- the cache at scale
        if args.cache_n:
            shake = make_shake_encoder(384)
            synth = [f"synthetic prompt {i}: " + "lorem ipsum " * (i % 7) for i in range(args.cache_n)]
            raw_s, _ = median_time(lambda: shake.encode(synth, progress=False), args.runs)
            results["cache_scale"] = {
                "n_texts": args.cache_n,
                "dim": 384,
                "encoder_alone_s": raw_s,
                **cold_and_cached(shake, synth, args.runs, workdir),
            }
            r = results["cache_scale"]
            print(
                f"cache, {args.cache_n} texts x 384: cold {r['cold_s']:.1f} s "
                f"(encoder alone {raw_s:.1f} s), cached {r['cached_s']:.1f} s "
                f"({r['cached_prompts_per_s']:.0f} texts/s), {r['cache_bytes'] / 2**20:.0f} MiB on disk"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


if __name__ == "__main__":
    sys.exit(main())
