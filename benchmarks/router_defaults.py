"""Is the fast default of LinearR and MLPR as good as the published (faithful) setting?

For each candidate pool of MMLU-Pro (RouterEval's pools of 3 and 5 models, by
default the all_weak group: near-tied models, so the choice rests entirely on
the router's per-prompt estimates) and each seed, the prompts are split at
random 80/10/10 per task; both settings are fitted on the training prompts
(MiniLM embeddings) and scored on the test prompts by mu_o, the mean true
score of the argmax choice. Medians over the seeds of mu_o and of the fit's
wall time go to ``benchmarks/results/router_defaults.json``, each run's
figures to ``router_defaults.jsonl`` beside it (a rerun skips runs already
logged there).

Run from the repository root; on 2 busy CPU cores it takes hours, almost all
of it the faithful MLPR (batch 1, 100 epochs):

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/router_defaults.py --jobs 2

``--quick`` (one seed, m = 3, faithful cut to 1 epoch) is a smoke test.
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

from routereval.datasets.pools import GROUPS, OracleScorer, PoolChoice, select_pools
from routereval.datasets.router_dataset import pool_dataset
from routereval.datasets.splits import SPLIT_SEED, split_by_task
from routereval.routers import Prompts, make_router

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SIZES = (3, 5)
SEEDS = (0, 1, 2)
ROUTERS = ("linear", "mlp")
SETTINGS = ("fast", "faithful")


def load_mmlu_pro():
    """The MMLU-Pro benchmark built from the offline mirror."""
    from routereval.sources.registry import get_spec

    spec = get_spec("mmlu-pro")
    mirror = os.environ.get("ROUTEREVAL_MIRROR", str(HERE.parents[1] / "shared" / "data" / "github"))
    local = {f.path: Path(mirror) / f.mirror_path for f in spec.files}
    missing = [str(p) for p in local.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"mirror files not found (set ROUTEREVAL_MIRROR): {missing[:3]} ...")
    return spec.build(local)


def published_pools(bench, sizes: tuple[int, ...], groups: list[str]) -> list[PoolChoice]:
    """RouterEval's pools (faithful selection, seed 42, random draws in the published order)."""
    rng = np.random.RandomState(SPLIT_SEED)
    split_by_task(bench.prompts["task"].to_numpy(), rng)  # the split's draws come first
    pools, skipped = select_pools(OracleScorer(bench), list(SIZES), rng)
    if skipped:
        raise SystemExit(f"pool sizes not available: {skipped}")
    return [p for p in pools if p.group in groups and p.m in sizes]


def mu_o(choice: np.ndarray, scores: np.ndarray) -> float:
    return float(scores[np.arange(len(choice)), choice].mean())


def fit_and_score(name: str, params: dict, train_x, train_y, test_x, test_scores) -> dict:
    """One fit (timed) and its test mu_o; runs in a worker process."""
    router = make_router(name, **params)
    start = time.perf_counter()
    router.fit(Prompts(embeddings=train_x), train_y)
    seconds = time.perf_counter() - start
    choice = router.predict(Prompts(embeddings=test_x))
    return {
        "mu_o": mu_o(choice, test_scores),
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
    best = int(np.argmax(data.train.scores.mean(axis=0)))
    knn = make_router("knn").fit(Prompts(embeddings=emb[data.train.positions]), data.train.labels)
    return {
        "oracle": float(test.max(axis=1).mean()),
        "best_single_on_train": mu_o(np.full(len(test), best), test),
        "best_single_on_test": float(test.mean(axis=0).max()),
        "knn": mu_o(knn.predict(Prompts(embeddings=emb[data.test.positions])), test),
        "n_train": len(data.train),
        "n_test": len(data.test),
    }


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    pools = sorted({(r["group"], r["m"]) for r in rows})
    for group, m in pools:
        block: dict = {}
        mine = [r for r in rows if r["group"] == group and r["m"] == m]
        for name in ROUTERS:
            for setting in SETTINGS:
                runs = sorted(
                    (r for r in mine if r["kind"] == "run" and r["router"] == name and r["setting"] == setting),
                    key=lambda r: r["seed"],
                )
                if runs:
                    block[f"{name}/{setting}"] = {
                        "median_mu_o": round(statistics.median(r["mu_o"] for r in runs), 4),
                        "median_fit_seconds": round(statistics.median(r["fit_seconds"] for r in runs), 1),
                        "mu_o_by_seed": [round(r["mu_o"], 4) for r in runs],
                        "fit_seconds_by_seed": [round(r["fit_seconds"], 1) for r in runs],
                        "epochs_run_by_seed": [r["epochs_run"] for r in runs],
                    }
        refs = [r for r in mine if r["kind"] == "ref"]
        for key in ("oracle", "best_single_on_train", "best_single_on_test", "knn"):
            if refs:
                block[key] = {"median_mu_o": round(statistics.median(r[key] for r in refs), 4)}
        out[f"{group}/m={m}"] = block
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, m = 3, faithful cut to 1 epoch")
    parser.add_argument("--groups", default="all_weak", help=f"comma-separated pool groups from {GROUPS}")
    parser.add_argument("--encoder", default="minilm", help="routereval encoder name (default minilm)")
    parser.add_argument("--jobs", type=int, default=1, help="fits run in parallel (each on one thread)")
    args = parser.parse_args()

    from routereval.encoders import embed_prompts, get_encoder

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    seeds = SEEDS[:1] if args.quick else SEEDS
    sizes = SIZES[:1] if args.quick else SIZES
    tag = "router_defaults_quick" if args.quick else "router_defaults"
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"{tag}.jsonl"
    rows = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    seen = {(r["kind"], r.get("router"), r.get("setting"), r["seed"], r["group"], r["m"]) for r in rows}

    bench = load_mmlu_pro()
    pools = published_pools(bench, sizes, groups)
    encoder = get_encoder(args.encoder)
    if hasattr(encoder, "is_fitted") and not encoder.is_fitted:  # TF-IDF learns its vocabulary first
        encoder.fit(bench.prompts["text"].fillna("").tolist())
    emb = embed_prompts(encoder, bench, on_empty="zero")

    tasks = []
    with log_path.open("a") as log:

        def record(row: dict) -> None:
            rows.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()

        for seed in seeds:
            split = split_by_task(bench.prompts["task"].to_numpy(), np.random.RandomState(seed))
            for pool in pools:
                data = pool_dataset(bench, split, pool)
                key = {"seed": seed, "group": pool.group, "m": pool.m}
                if ("ref", None, None, seed, pool.group, pool.m) not in seen:
                    record({"kind": "ref", **key, **reference_row(data, emb)})
                for name in ROUTERS:
                    for setting in SETTINGS:
                        if ("run", name, setting, seed, pool.group, pool.m) in seen:
                            continue
                        params = {"setting": setting, "seed": seed}
                        if setting == "faithful" and args.quick:
                            params["epochs"] = 1
                        payload = (name, params, emb[data.train.positions], data.train.labels,
                                   emb[data.test.positions], data.test.scores)
                        tasks.append(({"kind": "run", "router": name, "setting": setting, **key}, payload))

        # Seed by seed (each seed's results are complete early), longest fits first.
        tasks.sort(key=lambda t: (t[0]["seed"], t[0]["setting"] != "faithful", t[0]["router"] != "mlp"))
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool_exec:
            futures = {pool_exec.submit(fit_and_score, *payload): head for head, payload in tasks}
            for fut in as_completed(futures):
                head = futures[fut]
                row = {**head, **fut.result()}
                print(f"{head['group']} m={head['m']} seed={head['seed']} {head['router']}/{head['setting']}: "
                      f"mu_o {row['mu_o']:.4f}, fit {row['fit_seconds']:.1f} s, {row['epochs_run']} epochs", flush=True)
                record(row)

    wanted = [r for r in rows if r["group"] in groups and r["m"] in sizes and r["seed"] in seeds]
    summary = {
        "what": "LinearR / MLPR: fast default vs RouterEval's published (faithful) setting",
        "dataset": "mmlu-pro",
        "pools": [{"m": p.m, "group": p.group, "models": [bench.model_names[i] for i in p.models]} for p in pools],
        "split": "random 80/10/10 per task, RandomState(seed); fit on train, mu_o on test",
        "encoder": encoder.name,
        "seeds": list(seeds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "note": "fits ran one torch thread each, on a shared machine; load_average_1min is logged per run",
        "results": summarise(wanted),
    }
    (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["results"], indent=2))


if __name__ == "__main__":
    main()
