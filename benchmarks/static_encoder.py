"""What does ``minilm-static`` cost and give up against the default MiniLM path ``minilm-int8``?

Three measurements, written to ``benchmarks/results/static_encoder.json``:

* Speed: CPU milliseconds per prompt (``time.process_time``, every thread of this process) on a seeded
  sample of MMLU-Pro question texts, as ``routereval bench --dataset mmlu-pro`` embeds them, one prompt per
  call (as when serving) and 64 per call; both encoders in this process, loaded first, timed in turn in each
  round; medians over rounds and the median of the per-round ratios.
* Agreement: cosine between the two encoders' vectors of every LLMRouter and MMLU-Pro prompt, and the share
  of each prompt's 10 nearest neighbours (1,000 prompts per dataset) that the two encoders share.
* Routing: ``routereval bench --dataset D --encoder E --routers R --json FILE`` run as a user runs it, for
  both datasets, with ``--encoder minilm-static`` and with the default encoder; mean mu_o and gap closed
  per router over the pools of the run (m = 3 and 5, three groups each).

``--choices`` also scores the design choices of :mod:`routereval.encoders.static` (pooling, weights,
centring, dimension) on every prompt of both datasets, as its docstring reports them (a few minutes more).

    python benchmarks/static_encoder.py                 # ~15 minutes on 2 CPUs with a warm home
    python benchmarks/static_encoder.py --choices

Needs ROUTEREVAL_MIRROR (default ``../shared/data/github``); a warm ROUTEREVAL_HOME saves the embedding.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _runs import write_json

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("llmrouter", "mmlu-pro")
FAST, FULL = "minilm-static", "minilm-int8"


def mmlu_pro_texts(n: int, seed: int) -> list[str]:
    """A seeded sample of ``n`` distinct MMLU-Pro question texts."""
    from routereval.sources.catalog import load_dataset

    texts = list(dict.fromkeys(t for t in load_dataset("mmlu-pro").prompts["text"].tolist() if isinstance(t, str)))
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.choice(len(texts), n, replace=False)]


def cpu_ms_per_prompt(encoder, texts: list[str], batch: int) -> tuple[float, float]:
    """``(CPU ms, wall ms)`` per prompt to encode ``texts`` in calls of ``batch``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), batch):
        encoder.encode(texts[start : start + batch], progress=False)
    return (time.process_time() - cpu) * 1000 / len(texts), (time.perf_counter() - wall) * 1000 / len(texts)


def speed(n: int, seed: int, runs: int) -> dict:
    from routereval.encoders import get_encoder

    texts = mmlu_pro_texts(n, seed)
    encoders = {name: get_encoder(name) for name in (FAST, FULL)}
    load_s = {}
    for name, encoder in encoders.items():
        t0 = time.perf_counter()
        encoder.load()
        load_s[name] = time.perf_counter() - t0
        encoder.encode(texts[:8], progress=False)  # warm-up: first calls allocate
    timings = {(name, b): [] for name in encoders for b in (1, 64)}
    for run in range(runs):
        for batch in (1, 64):
            for name, encoder in encoders.items():
                timings[name, batch].append(cpu_ms_per_prompt(encoder, texts, batch))
        print(f"round {run + 1}: " + ", ".join(f"{name} b{b} {t[-1][0]:.3f} ms CPU" for (name, b), t in timings.items()),
              flush=True)
    out = {"prompts": {"n": len(texts), "seed": seed}, "runs": runs, "load_s": load_s, "batches": {}}
    for batch in (1, 64):
        entry = {}
        for name in encoders:
            cpu = [c for c, _ in timings[name, batch]]
            entry[name] = {"cpu_ms_per_prompt": statistics.median(cpu),
                           "wall_ms_per_prompt": statistics.median(w for _, w in timings[name, batch]),
                           "cpu_ms_runs": cpu}
        ratios = [f[0] / s[0] for f, s in zip(timings[FULL, batch], timings[FAST, batch], strict=True)]
        entry["cpu_ratio_int8_to_static"] = statistics.median(ratios)
        out["batches"][str(batch)] = entry
    return out


def neighbour_share(a: np.ndarray, b: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of each query's ``k`` nearest neighbours (cosine, itself left out) under ``a`` also nearest under ``b``."""
    shares = []
    for x in (a, b):
        sims = x[queries] @ x.T
        sims[np.arange(len(queries)), queries] = -np.inf
        shares.append(np.argpartition(-sims, k, axis=1)[:, :k])
    return float(np.mean([len(set(p) & set(q)) / k for p, q in zip(*shares, strict=True)]))


def dataset_vectors(dataset: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, scores and ``minilm-int8`` vectors (through the cache) of every prompt of ``dataset``."""
    from routereval.encoders import embed_texts, get_encoder
    from routereval.sources.catalog import load_dataset

    bench = load_dataset(dataset)
    texts = bench.prompts["text"].tolist()
    return texts, np.asarray(bench.scores, dtype=np.float64), embed_texts(texts, get_encoder(FULL))


def agreement() -> dict:
    from routereval.encoders import get_encoder

    static = get_encoder(FAST)
    out = {}
    for dataset in DATASETS:
        texts, _, full = dataset_vectors(dataset)
        fast = static.encode(texts, progress=False)
        cos = np.sum(fast * full, axis=1)
        queries = np.random.default_rng(0).choice(len(texts), 1000, replace=False)
        out[dataset] = {"n": len(texts), "cosine_mean": float(cos.mean()), "cosine_median": float(np.median(cos)),
                        "cosine_min": float(cos.min()), "cosine_max": float(cos.max()),
                        "neighbours_shared_at_10": neighbour_share(full, fast, queries)}
        print(dataset, out[dataset], flush=True)
    return out


def bench_runs(routers: str) -> dict:
    """``routereval bench`` per dataset and encoder; mean mu_o and gap closed per router over the run's pools."""
    out = {}
    folder = Path(tempfile.mkdtemp(prefix="static-encoder-bench-"))
    for dataset in DATASETS:
        for encoder in (FAST, "auto"):
            file = folder / f"{dataset}-{encoder}.json"
            command = [sys.executable, "-m", "routereval", "bench", "--dataset", dataset, "--routers", routers,
                       "--json", str(file)] + ([] if encoder == "auto" else ["--encoder", encoder])
            t0 = time.perf_counter()
            proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "ROUTEREVAL_PROGRESS": "off"})
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
            # One row per pool names its encoder; the rows without one are means over groups, left out here.
            rows = [r for r in json.loads(file.read_text()) if "encoder" in r]
            used = sorted({r["encoder"] for r in rows})
            per_router = {}
            for router in routers.split(","):
                mine = [r for r in rows if r["router"] == router]
                per_router[router] = {"mean_score": statistics.fmean(r["mean_score"] for r in mine),
                                      "gap_closed": statistics.fmean(r["gap_closed"] for r in mine),
                                      "pools": len(mine)}
            key = f"{dataset}/{FAST if encoder == FAST else 'default'}"
            display = " ".join(command[1:]).replace(sys.executable, "python").replace(str(file), "FILE")
            out[key] = {"command": display.replace("-m routereval", "routereval"), "encoder": used,
                        "seconds": time.perf_counter() - t0, "routers": per_router}
            print(key, used, {r: round(v["gap_closed"], 3) for r, v in per_router.items()}, flush=True)
    return out


def choices() -> dict:
    """Pooling x weights x centring (and a PCA) scored on every prompt of both datasets (module docstring of static)."""
    from routereval.encoders.minilm import model_path
    from routereval.encoders.static import FIRST_WORD, piece_states, piece_weights, read_vocabulary
    from routereval.encoders.wordpieces import WordPieces

    folder = model_path()
    vocab = read_vocabulary(folder)
    own = np.empty((len(vocab), 384), dtype=np.float32)
    mean = np.empty_like(own)
    for pieces, hidden in piece_states(folder):
        own[pieces], mean[pieces] = hidden[:, 1], hidden.mean(axis=1)
    first = vocab[FIRST_WORD]
    chars_full = piece_weights(len(vocab), first)
    chars_full[:first] = 1.0
    weights = {"none": np.ones(len(vocab)), "rank/(rank+5)": piece_weights(len(vocab), first),
               "rank/(rank+0.5)": piece_weights(len(vocab), first, 0.5), "log(1+rank)":
               np.log1p(np.maximum(np.arange(len(vocab)) - first + 1, 1)),
               "rank/(rank+5), characters 1": chars_full}
    variants = [(p, w, c, None) for p in ("own", "mean") for w in list(weights)[:4] for c in (False, True)]
    variants += [("own", "rank/(rank+5), characters 1", True, None), ("own", "rank/(rank+5)", True, 256)]
    wordpieces = WordPieces(folder, 256)
    rng = np.random.default_rng(0)
    out = {"how": "kNN skill: share of the per-model Brier score of the training mean that a 20-nearest-neighbour "
                  "estimate removes; ridge skill: the same for a ridge regression (alpha 1) on the vectors; means "
                  "over 3 random 70/30 splits. neighbours: share of 10 nearest neighbours (1,000 prompts) also "
                  "nearest under minilm-int8.", "datasets": {}}
    for dataset in DATASETS:
        texts, scores, full = dataset_vectors(dataset)
        pieces = [ids[1:-1] or [vocab["[UNK]"]] for ids in wordpieces.ids(texts)]
        n = len(texts)
        queries = rng.choice(n, 1000, replace=False)
        splits = [rng.permutation(n) for _ in range(3)]

        def skills(x: np.ndarray) -> dict:
            knn, ridge = [], []
            for order in splits:
                train, test = order[: int(0.7 * n)], order[int(0.7 * n) :]
                base = ((scores[test] - scores[train].mean(axis=0)) ** 2).mean()
                near = np.argpartition(-(x[test] @ x[train].T), 20, axis=1)[:, :20]
                knn.append(1 - ((scores[test] - scores[train][near].mean(axis=1)) ** 2).mean() / base)
                a = np.c_[x[train], np.ones(len(train))]
                w = np.linalg.solve(a.T @ a + np.eye(a.shape[1]), a.T @ scores[train])
                ridge.append(1 - ((scores[test] - np.c_[x[test], np.ones(len(test))] @ w) ** 2).mean() / base)
            return {"knn_skill": float(np.mean(knn)), "ridge_skill": float(np.mean(ridge))}

        rows = [{"variant": "minilm-int8 (the model)", **skills(full), "neighbours_shared_at_10": 1.0}]
        for pooling, weight, centred, dim in variants:
            table = (own if pooling == "own" else mean).astype(np.float64)
            if centred:
                table = table - table.mean(axis=0)
            if dim:
                table = table @ np.linalg.svd(table, full_matrices=False)[2][:dim].T
            w = weights[weight]
            x = np.stack([(table[p] * w[p, None]).sum(axis=0) for p in pieces])
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            name = f"{pooling} output, weights {weight}, {'centred' if centred else 'not centred'}" + (
                f", PCA to {dim}" if dim else "")
            rows.append({"variant": name, **skills(x), "neighbours_shared_at_10": neighbour_share(full, x, queries)})
            print(dataset, rows[-1], flush=True)
        out["datasets"][dataset] = rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256, help="MMLU-Pro question texts timed")
    parser.add_argument("--runs", type=int, default=3, help="timing rounds; medians are reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--routers", default="knn,knn-tuned,linear,mlp")
    parser.add_argument("--choices", action="store_true", help="also score the design choices (minutes)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "static_encoder.json")
    args = parser.parse_args()
    os.environ.setdefault("ROUTEREVAL_MIRROR", str(REPO.parent / "shared" / "data" / "github"))
    started, load_start = time.perf_counter(), os.getloadavg()
    results = {
        "what": f"{FAST} against {FULL} (the default MiniLM path): CPU per prompt, agreement, routing",
        "speed": speed(args.n, args.seed, args.runs),
        "agreement": agreement(),
        "routing": {"routers": args.routers.split(","), "runs": bench_runs(args.routers)},
    }
    if args.choices:
        results["choices"] = choices()
    elif args.out.is_file():  # keep the last choices run: it takes minutes and does not change with speed
        previous = json.loads(args.out.read_text())
        if "choices" in previous:
            results["choices"] = previous["choices"]
    results["machine"] = {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                          "python": platform.python_version(), "load_average_at_start": load_start,
                          "load_average_at_end": os.getloadavg(), "seconds": time.perf_counter() - started}
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
