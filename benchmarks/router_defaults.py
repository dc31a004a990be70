"""Is the fast default of LinearR and MLPR as good as the published (faithful) setting?

For each pool (MMLU-Pro, strong_to_weak pools of 3 and 5 models, as RouterEval
selects them) and each seed, the prompts are split at random 80/10/10 per
task, both settings are fitted on the training prompts (MiniLM embeddings) and
scored on the test prompts by mu_o: the mean true score of the argmax choice.
The medians over seeds of mu_o and of the fit's wall time go to
``benchmarks/results/router_defaults.json``, with each run's figures.

Run from the repository root (a few hours on 2 busy CPU cores, mostly the
faithful MLPR at batch 1 for 100 epochs):

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/router_defaults.py

Results are appended run by run to a JSON-lines log next to the summary, and
a rerun skips the runs already there. ``--quick`` runs one seed, 3-model pool
and a shortened faithful schedule, as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from routereval.datasets.pools import OracleScorer, Pool, select_pools
from routereval.datasets.router_dataset import pool_dataset
from routereval.datasets.splits import SPLIT_SEED, split_by_task
from routereval.routers import Prompts, make_router

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SIZES = (3, 5)
GROUP = "strong_to_weak"
SEEDS = (0, 1, 2)
ROUTERS = ("linear", "mlp")


def load_mmlu_pro():
    """The MMLU-Pro benchmark built from the offline mirror (or the download cache)."""
    from routereval.sources.registry import get_spec

    spec = get_spec("mmlu-pro")
    mirror = os.environ.get("ROUTEREVAL_MIRROR", str(HERE.parents[1] / "shared" / "data" / "github"))
    local = {f.path: Path(mirror) / f.mirror_path for f in spec.files}
    missing = [str(p) for p in local.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"mirror files not found (set ROUTEREVAL_MIRROR): {missing[:3]} ...")
    return spec.build(local)


def published_pools(bench) -> list[Pool]:
    """RouterEval's pools for the sizes asked (faithful selection, seed 42, draws in published order)."""
    rng = np.random.RandomState(SPLIT_SEED)
    split_by_task(bench.prompts["task"].to_numpy(), rng)  # the split draws come first
    pools, skipped = select_pools(OracleScorer(bench), list(SIZES), rng)
    if skipped:
        raise SystemExit(f"pool sizes not available: {skipped}")
    return [p for p in pools if p.group == GROUP]


def mu_o(choice: np.ndarray, scores: np.ndarray) -> float:
    return float(scores[np.arange(len(choice)), choice].mean())


def run_one(name: str, setting: str, seed: int, data, emb: np.ndarray, faithful_epochs: int | None) -> dict:
    params = {"setting": setting, "seed": seed}
    if setting == "faithful" and faithful_epochs is not None:
        params["epochs"] = faithful_epochs
    router = make_router(name, **params)
    train = Prompts(embeddings=emb[data.train.positions])
    start = time.perf_counter()
    router.fit(train, data.train.labels)
    seconds = time.perf_counter() - start
    choice = router.predict(Prompts(embeddings=emb[data.test.positions]))
    return {
        "router": name,
        "setting": setting,
        "seed": seed,
        "m": data.m,
        "models": data.models,
        "mu_o": mu_o(choice, data.test.scores),
        "fit_seconds": seconds,
        "epochs_run": router.train_log_["epochs_run"],
        "best_epoch": router.train_log_["best_epoch"],
        "n_train": len(data.train),
        "n_test": len(data.test),
        "choice_histogram": np.bincount(choice, minlength=data.m).tolist(),
        "params": router.get_params(),
        "load_average_1min": os.getloadavg()[0],
    }


def reference_rows(data, emb: np.ndarray, seed: int) -> dict:
    """Context for one pool and seed: oracle, best single model on train, and kNN."""
    test = data.test.scores
    best = int(np.argmax(data.train.scores.mean(axis=0)))
    knn = make_router("knn").fit(Prompts(embeddings=emb[data.train.positions]), data.train.labels)
    return {
        "m": data.m,
        "seed": seed,
        "oracle": float(test.max(axis=1).mean()),
        "best_single_on_train": mu_o(np.full(len(test), best), test),
        "best_single_on_test": float(test.mean(axis=0).max()),
        "knn": mu_o(knn.predict(Prompts(embeddings=emb[data.test.positions])), test),
    }


def summarise(runs: list[dict], refs: list[dict]) -> dict:
    out: dict = {}
    for m in SIZES:
        block: dict = {}
        for name in ROUTERS:
            for setting in ("fast", "faithful"):
                rows = [r for r in runs if r["m"] == m and r["router"] == name and r["setting"] == setting]
                if rows:
                    block[f"{name}/{setting}"] = {
                        "median_mu_o": statistics.median(r["mu_o"] for r in rows),
                        "median_fit_seconds": statistics.median(r["fit_seconds"] for r in rows),
                        "mu_o_by_seed": [round(r["mu_o"], 4) for r in sorted(rows, key=lambda r: r["seed"])],
                        "n_seeds": len(rows),
                    }
        ref = [r for r in refs if r["m"] == m]
        if ref:
            for key in ("oracle", "best_single_on_train", "best_single_on_test", "knn"):
                block[key] = {"median_mu_o": statistics.median(r[key] for r in ref)}
        out[f"m={m}"] = block
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, m = 3, faithful cut to 1 epoch")
    parser.add_argument("--encoder", default="minilm", help="routereval encoder name (default minilm)")
    args = parser.parse_args()

    from routereval.encoders import embed_prompts, get_encoder

    seeds = SEEDS[:1] if args.quick else SEEDS
    sizes = SIZES[:1] if args.quick else SIZES
    faithful_epochs = 1 if args.quick else None
    tag = "router_defaults_quick" if args.quick else "router_defaults"
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"{tag}.jsonl"
    done = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    seen = {(r.get("kind"), r.get("router"), r.get("setting"), r["seed"], r["m"]) for r in done}

    bench = load_mmlu_pro()
    pools = [p for p in published_pools(bench) if p.m in sizes]
    encoder = get_encoder(args.encoder)
    if hasattr(encoder, "fit"):  # TF-IDF learns its vocabulary from all prompt texts
        encoder.fit(bench.prompts["text"].fillna("").tolist())
    emb = embed_prompts(encoder, bench, on_empty="zero")

    with log_path.open("a") as log:
        for seed in seeds:
            split = split_by_task(bench.prompts["task"].to_numpy(), np.random.RandomState(seed))
            for pool in pools:
                data = pool_dataset(bench, split, pool)
                if ("ref", None, None, seed, pool.m) not in seen:
                    row = {"kind": "ref", **reference_rows(data, emb, seed)}
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    done.append(row)
                for name in ROUTERS:
                    for setting in ("fast", "faithful"):
                        if ("run", name, setting, seed, pool.m) in seen:
                            continue
                        row = {"kind": "run", **run_one(name, setting, seed, data, emb, faithful_epochs)}
                        print(f"m={pool.m} seed={seed} {name}/{setting}: mu_o {row['mu_o']:.4f} "
                              f"in {row['fit_seconds']:.1f} s ({row['epochs_run']} epochs)", flush=True)
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                        done.append(row)

    runs = [r for r in done if r.get("kind") == "run"]
    refs = [r for r in done if r.get("kind") == "ref"]
    summary = {
        "what": "LinearR / MLPR: fast default vs RouterEval's published (faithful) setting",
        "dataset": "mmlu-pro",
        "pools": [{"m": p.m, "group": p.group, "models": [bench.model_names[i] for i in p.models]} for p in pools],
        "split": "random 80/10/10 per task (RandomState(seed)); fit on train, mu_o on test",
        "encoder": encoder.name,
        "seeds": list(seeds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "note": "wall times were measured on a shared machine; load_average_1min is kept per run",
        "results": summarise(runs, refs),
    }
    (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["results"], indent=2))


if __name__ == "__main__":
    main()
