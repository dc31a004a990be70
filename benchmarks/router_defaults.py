"""Is the fast default of LinearR and MLPR as good as the published recipe?

For each offline dataset with pools (``--datasets``, default llmrouter and
mmlu-pro), each of RouterEval's pools of 3 and 5 models (``--groups``, by
default all three) and each seed, the prompts are split 80/10/10 per task with
that seed (``router_datasets(..., split_seed=seed)``); both recipes are fitted on the
training prompts (the fast one early-stops on the validation split, as in every
evaluation) with MiniLM embeddings, and scored on the test prompts by mu_o, the
mean true score of the argmax choice. Medians over the seeds of mu_o and of the fit's
wall time go to ``benchmarks/results/router_defaults.json``, each run's
figures to ``router_defaults.jsonl`` beside it (a rerun skips runs already
logged there).

Run from the repository root; on 2 busy CPU cores it takes hours, almost all
of it the published MLPR (batch 1, 100 epochs: about 25 minutes per fit on
MMLU-Pro):

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/router_defaults.py --jobs 2

``--routers linear`` or ``--recipes fast`` run a part; ``--quick`` (one seed,
m = 3, published recipe cut to 1 epoch) is a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from routereval.datasets.pools import GROUPS
from routereval.metrics.core import best_single_mean, mean_score, single_means
from routereval.routers import Labelled, Prompts, make_router
from routereval.routers.base import one_hot

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SIZES = (3, 5)
SEEDS = (0, 1, 2)
ROUTERS = ("linear", "mlp")
RECIPES = ("fast", "published")


def mu_o(choice: np.ndarray, scores: np.ndarray) -> float:
    """Mean true score of the choices over the prompts where the chosen model has a record (as every metric)."""
    return mean_score(scores, one_hot(choice, scores.shape[1]))


def pick(router, x: np.ndarray) -> np.ndarray:
    """The argmax policy's choice (ties: lowest index)."""
    return np.argmax(router.predict_quality(Prompts(embeddings=x)), axis=1)


def fit_and_score(name: str, params: dict, train_x, train_y, val_x, val_y, test_x, test_scores) -> dict:
    """One fit (timed) and its test mu_o; runs in a worker process."""
    router = make_router(name, **params)
    start = time.perf_counter()
    router.fit(Prompts(embeddings=train_x), train_y, validation=Labelled(Prompts(embeddings=val_x), val_y))
    seconds = time.perf_counter() - start
    choice = pick(router, test_x)
    return {
        "mean_score": mu_o(choice, test_scores),
        "fit_seconds": seconds,
        "epochs_run": router.train_log_["epochs_run"],
        "best_epoch": router.train_log_["best_epoch"],
        "choice_histogram": np.bincount(choice, minlength=test_scores.shape[1]).tolist(),
        "params": router.get_params(),
        "load_average_1min": os.getloadavg()[0],
    }


def reference_row(data, emb: np.ndarray) -> dict:
    """Context for one pool and split: oracle, best single model (on train / on test), kNN."""
    test = data.test.scores
    best = int(np.nanargmax(single_means(data.train.scores)))
    knn = make_router("knn").fit(Prompts(embeddings=emb[data.train.positions]), data.train.labels)
    complete = ~np.isnan(test).any(axis=1)  # the oracle is judged where every candidate has a record
    return {
        "oracle": float(np.max(test[complete], axis=1).mean()),
        "n_test_incomplete": int((~complete).sum()),
        "best_single_on_train": mu_o(np.full(len(test), best), test),
        "best_single_on_test": best_single_mean(test),
        "knn": mu_o(pick(knn, emb[data.test.positions]), test),
        "n_train": len(data.train),
        "n_test": len(data.test),
    }


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    pools = sorted({(r["dataset"], r["group"], r["m"]) for r in rows})
    for dataset, group, m in pools:
        block: dict = {}
        mine = [r for r in rows if r["dataset"] == dataset and r["group"] == group and r["m"] == m]
        for name in ROUTERS:
            for recipe in RECIPES:
                runs = sorted(
                    (r for r in mine if r["kind"] == "run" and r["router"] == name and r["recipe"] == recipe),
                    key=lambda r: r["seed"],
                )
                if runs:
                    block[f"{name}/{recipe}"] = {
                        "median_mean_score": round(statistics.median(r["mean_score"] for r in runs), 4),
                        "median_fit_seconds": round(statistics.median(r["fit_seconds"] for r in runs), 1),
                        "mean_score_by_seed": [round(r["mean_score"], 4) for r in runs],
                        "fit_seconds_by_seed": [round(r["fit_seconds"], 1) for r in runs],
                        "epochs_run_by_seed": [r["epochs_run"] for r in runs],
                    }
        refs = [r for r in mine if r["kind"] == "ref"]
        for key in ("oracle", "best_single_on_train", "best_single_on_test", "knn"):
            if refs:
                block[key] = {"median_mean_score": round(statistics.median(r[key] for r in refs), 4)}
        out[f"{dataset}/{group}/m={m}"] = block
    return out


def verdicts(rows: list[dict]) -> dict:
    """Per dataset and router: fast minus published mu_o over the pools and seeds both ran on.

    The interval resamples those (group, m, seed) pairs (10,000 bootstrap draws, seed 0). The fast
    recipe stays the default unless the whole interval lies below zero (worse beyond the interval).
    """
    runs = {(r["dataset"], r["group"], r["m"], r["seed"], r["router"], r["recipe"]): r["mean_score"]
            for r in rows if r["kind"] == "run"}
    out: dict = {}
    for dataset in sorted({k[0] for k in runs}):
        for name in ROUTERS:
            pairs = sorted(k[1:4] for k in runs if k[0] == dataset and k[4] == name and k[5] == "fast"
                           and (dataset, *k[1:4], name, "published") in runs)
            if not pairs:
                continue
            diff = np.array([runs[(dataset, *k, name, "fast")] - runs[(dataset, *k, name, "published")] for k in pairs])
            draws = np.random.default_rng(0).integers(0, len(diff), (10_000, len(diff)))
            lo, hi = np.percentile(diff[draws].mean(axis=1), [2.5, 97.5])
            out[f"{dataset}/{name}"] = {
                "n_pairs": len(diff), "mean_fast_minus_published": round(float(diff.mean()), 4),
                "interval_95": [round(float(lo), 4), round(float(hi), 4)],
                "fast_worse_in": int((diff < 0).sum()),
                "default": "published" if hi < 0 else "fast",
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, m = 3, published recipe cut to 1 epoch")
    parser.add_argument("--datasets", default="llmrouter,mmlu-pro", help="offline datasets with pools of 3 and 5")
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated pool groups from {GROUPS}")
    parser.add_argument("--routers", default=",".join(ROUTERS))
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--encoder", default="minilm", help="routereval encoder name (default minilm)")
    parser.add_argument("--jobs", type=int, default=1, help="fits run in parallel (each on one thread)")
    parser.add_argument("--summarise", action="store_true", help="only rewrite the JSON summary from the runs logged")
    args = parser.parse_args()

    import routereval as rv

    def names(text: str) -> list[str]:
        return [t.strip() for t in text.split(",") if t.strip()]

    groups, routers, recipes = names(args.groups), names(args.routers), names(args.recipes)
    seeds = [int(s) for s in names(args.seeds)][:1 if args.quick else None]
    sizes = SIZES[:1] if args.quick else SIZES
    tag = "router_defaults_quick" if args.quick else "router_defaults"
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"{tag}.jsonl"
    rows = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    rows = [r for r in rows if "dataset" in r]  # runs logged before datasets were recorded are not comparable
    # Rows scored before missing records were left out of the mean hold NaN: they are made again.
    rows = [r for r in rows if all(v == v for k, v in r.items() if isinstance(v, float))]
    seen = {(r["dataset"], r["kind"], r.get("router"), r.get("recipe"), r["seed"], r["group"], r["m"]) for r in rows}

    tasks, described = [], []
    with log_path.open("a") as log:

        def record(row: dict) -> None:
            rows.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()

        for dataset in names(args.datasets):
            bench = rv.load_dataset(dataset)
            emb = None if args.summarise else rv.embed(bench, args.encoder)
            for seed in seeds:
                data = rv.router_datasets(bench, list(sizes), groups, split_seed=seed)
                for pool in data.pools:
                    key = {"dataset": dataset, "seed": seed, "group": pool.group, "m": pool.m}
                    described.append({**key, "models": pool.models})
                    if args.summarise:
                        continue
                    if (dataset, "ref", None, None, seed, pool.group, pool.m) not in seen:
                        record({"kind": "ref", **key, **reference_row(pool, emb)})
                    for name in routers:
                        for recipe in recipes:
                            if (dataset, "run", name, recipe, seed, pool.group, pool.m) in seen:
                                continue
                            params = {"recipe": recipe, "random_state": seed}
                            if recipe == "published" and args.quick:
                                params["epochs"] = 1
                            payload = (name, params, emb[pool.train.positions], pool.train.labels,
                                       emb[pool.val.positions], pool.val.labels,
                                       emb[pool.test.positions], pool.test.scores)
                            tasks.append(({"kind": "run", "router": name, "recipe": recipe, **key}, payload))

        # Seed by seed (each seed's results are complete early), longest fits last so quick answers come first.
        tasks.sort(key=lambda t: (t[0]["seed"], t[0]["recipe"] == "published", t[0]["router"] == "mlp"))
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool_exec:
            futures = {pool_exec.submit(fit_and_score, *payload): head for head, payload in tasks}
            for fut in as_completed(futures):
                head = futures[fut]
                row = {**head, **fut.result()}
                print(f"{head['dataset']} {head['group']} m={head['m']} seed={head['seed']} "
                      f"{head['router']}/{head['recipe']}: mu_o {row['mean_score']:.4f}, fit {row['fit_seconds']:.1f} s, "
                      f"{row['epochs_run']} epochs", flush=True)
                record(row)

    wanted = [r for r in rows if r["group"] in groups and r["m"] in sizes and r["seed"] in seeds]
    summary = {
        "what": "LinearR / MLPR: fast default (early stop on the validation split) vs RouterEval's published recipe",
        "pools": described,
        "split": "80/10/10 per task, RandomState(seed); fit on train (fast: early stop on val), mu_o on test",
        "encoder": args.encoder,
        "seeds": list(seeds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "note": "fits ran one torch thread each, on a shared machine; load_average_1min is logged per run",
        "results": summarise(wanted),
        "fast_vs_published": verdicts(wanted),
    }
    (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["results"], indent=2))


if __name__ == "__main__":
    main()
