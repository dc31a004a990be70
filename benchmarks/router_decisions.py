"""Routing decisions per second of fitted routers, one prompt at a time and in batches of 64.

    ROUTEREVAL_MIRROR=../shared/data/github PYTHONPATH=src python benchmarks/router_decisions.py [--runs 5]

What the proxy (``routereval serve``) pays per request once the prompt is
embedded: ``predict_quality`` on a few prompt vectors, then the argmax choice.
``knn``, ``knn-tuned``, ``mf`` and ``mlp`` are fitted on the llmrouter training
split (4,884 prompts; the first pool of five candidates; ``knn-tuned`` and
``mf`` tune on its validation split) with the default encoder's vectors, read
from the embedding cache. Queries are the split's validation and test prompts.

Baselines in the same process, interleaved with the routers run by run:

* ``knn``, ``knn-tuned``: scikit-learn's ``NearestNeighbors(metric="cosine",
  algorithm="brute")`` fitted on the same training vectors, then the router's
  formula on the neighbours it returns (mean label; for knn-tuned its chosen k,
  weighting and shrinkage);
* ``mf``: plain NumPy scoring with the fitted weights,
  sigmoid(((x - mean) / scale) P^T V^T + b), no input checks;
* ``mlp``: none (its figures are given for scale).

One BLAS thread throughout (the machine is shared; the proxy's calls are
small). Every figure is the median of ``--runs`` runs; ratios are router /
baseline. The load average at start and end is recorded. Writes
benchmarks/results/router_decisions.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from _runs import write
from threadpoolctl import threadpool_limits

import routereval as rv
from routereval.routers import Labelled, Prompts

ROUTERS = ("knn", "knn-tuned", "mf", "mlp")
# What each router was fitted with, for the record (chosen on validation where the name ends in "_").
SETTINGS = {"knn": ("k",), "knn-tuned": ("k_", "weights_", "shrinkage_"), "mf": ("dim_",), "mlp": ("recipe",)}
BATCH = 64
# At least this long per timed case, so a figure is not one timer tick.
MIN_SECONDS = 0.3


def rate(decide: Callable[[np.ndarray], np.ndarray], batches: list[np.ndarray]) -> float:
    """Decisions per second of ``decide`` over ``batches``, cycled until MIN_SECONDS have passed."""
    decide(batches[0])  # the first call may build caches or load code; not what a serving process pays
    done, started = 0, time.perf_counter()
    while True:
        for batch in batches:
            decide(batch)
            done += len(batch)
        elapsed = time.perf_counter() - started
        if elapsed >= MIN_SECONDS:
            return done / elapsed


def fitted(name: str, pool, x: np.ndarray):
    router = rv.make_router(name)
    train = Prompts(embeddings=x[pool.train.positions])
    if "validation" in router.fit.__code__.co_varnames:
        return router.fit(train, pool.train.labels,
                          validation=Labelled(Prompts(embeddings=x[pool.val.positions]), pool.val.labels))
    return router.fit(train, pool.train.labels)


def neighbour_baseline(router, train_x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """scikit-learn's brute-force cosine neighbours, then the router's estimate from them."""
    from sklearn.neighbors import NearestNeighbors

    k = int(getattr(router, "k_", router.k))
    weights = getattr(router, "weights_", "uniform")
    shrinkage = float(getattr(router, "shrinkage_", 0.0))
    labels = router.train_labels_.astype(np.float64)
    present, filled, means = ~np.isnan(labels), np.nan_to_num(labels), router.train_means_
    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(train_x)

    def decide(batch: np.ndarray) -> np.ndarray:
        distance, idx = index.kneighbors(batch)
        w = 1.0 / (distance + 1e-6) if weights == "distance" else np.ones(idx.shape)
        w *= k / w.sum(axis=1, keepdims=True)
        num = np.einsum("nk,nkm->nm", w, filled[idx]) + shrinkage * means
        den = np.einsum("nk,nkm->nm", w, present[idx]) + shrinkage
        quality = np.where(den > 0, num / np.where(den > 0, den, 1.0), means)
        return quality.argmax(axis=1)

    return decide


def mf_baseline(router) -> Callable[[np.ndarray], np.ndarray]:
    """The fitted MF weights scored with plain NumPy."""
    mean, scale, proj, models, bias = router.mean_, router.scale_, router.proj_, router.models_, router.bias_

    def decide(batch: np.ndarray) -> np.ndarray:
        logits = (((batch - mean) / scale) @ proj.T) @ models.T + bias
        return (1.0 / (1.0 + np.exp(-logits))).argmax(axis=1)

    return decide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--single", type=int, default=200, help="distinct prompts routed one at a time per run")
    args = parser.parse_args()
    load_start, started = os.getloadavg(), time.perf_counter()

    bench = rv.load_dataset("llmrouter", progress=False)
    data = rv.router_datasets(bench, [5])
    x = rv.embed(data, progress=False)
    pool = data.pools[0]
    train_x = x[pool.train.positions]
    queries = np.vstack([x[pool.val.positions], x[pool.test.positions]])
    singles = [queries[i : i + 1] for i in range(min(args.single, len(queries)))]
    batches = [queries[i : i + BATCH] for i in range(0, len(queries) - BATCH + 1, BATCH)]

    results = {}
    with threadpool_limits(limits=1):
        for name in ROUTERS:
            fit_started = time.perf_counter()
            router = fitted(name, pool, x)
            fit_seconds = time.perf_counter() - fit_started

            def decide(batch: np.ndarray, router=router) -> np.ndarray:
                return router.predict_quality(Prompts(embeddings=batch)).argmax(axis=1)

            if name in ("knn", "knn-tuned"):
                baseline = neighbour_baseline(router, train_x)
            elif name == "mf":
                baseline = mf_baseline(router)
            else:
                baseline = None
            cases = {"single": singles, f"batch{BATCH}": batches}
            runs: dict[str, list[tuple[float, float | None]]] = {case: [] for case in cases}
            for _ in range(args.runs):
                for case, prompts in cases.items():
                    runs[case].append((rate(decide, prompts), None if baseline is None else rate(baseline, prompts)))
            entry = {"fit_seconds": round(fit_seconds, 2),
                     "settings": {k: getattr(router, k) for k in SETTINGS[name]}}
            if baseline is not None:
                entry["same_choice_as_baseline"] = float(np.mean(decide(queries) == baseline(queries)))
            for case, pairs in runs.items():
                own = statistics.median(p[0] for p in pairs)
                figures = {"decisions_per_s": round(own, 1)}
                if baseline is not None:
                    other = statistics.median(p[1] for p in pairs)
                    # Median of the per-run ratios: each run's pair saw the same machine load.
                    ratio = statistics.median(p[0] / p[1] for p in pairs)
                    figures.update(baseline_decisions_per_s=round(other, 1), ratio=round(ratio, 2))
                entry[case] = figures
            results[name] = entry
            print(name, {k: v for k, v in entry.items() if k in cases}, flush=True)

    write("router_decisions", {
        "what": "routing decisions per second (predict_quality + argmax) of fitted routers on llmrouter's real "
                "vectors, one prompt at a time and in batches of 64; ratios are router / same-process baseline",
        "setup": {"dataset": "llmrouter", "pool": pool.group, "candidates": int(pool.train.labels.shape[1]),
                  "train_prompts": len(train_x), "dimensions": int(x.shape[1]), "queries": len(queries),
                  "single_prompts_per_run": len(singles), "batches_per_run": len(batches), "runs": args.runs,
                  "blas_threads": 1, "min_seconds_per_case": MIN_SECONDS,
                  "baselines": {"knn": "sklearn NearestNeighbors(metric='cosine', algorithm='brute') + mean label",
                                "knn-tuned": "sklearn NearestNeighbors(metric='cosine', algorithm='brute') + the "
                                             "router's chosen weighting and shrinkage",
                                "mf": "plain numpy sigmoid(((x - mean) / scale) P^T V^T + b)", "mlp": None}},
        "load_average": {"start": [round(v, 2) for v in load_start],
                         "end": [round(v, 2) for v in os.getloadavg()], "cpus": os.cpu_count()},
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    })


if __name__ == "__main__":
    main()
