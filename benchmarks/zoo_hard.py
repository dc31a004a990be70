"""How each router's fit time and quality grow with the pool, up to 1,000 candidates on 5,000 prompts.

A synthetic benchmark at RouterEval's scale (its hard setting has pools of
10, 100 and 1,000 of its 8,567 models): 5,000 training, 500 validation and
1,000 test prompts with 384-wide unit embeddings (all-MiniLM-L6-v2's width),
and m candidates whose P(correct) on a prompt is sigmoid(ability_i +
u_i . (P x_j)) with a rank-8 projection P (prompt skills) and abilities spread
like a leaderboard's; 5% of records are missing. Each router is fitted with
the validation split and scored on the test prompts by mu_o (argmax choice),
gap closed (against the best single model chosen on train), its fit and
predict wall times and the fit's CPU seconds (on a shared machine the CPU time
is what an idle core would take; medians of ``--repeats`` runs, one run when a fit takes
longer than ``--slow`` seconds). Figures go to benchmarks/results/zoo_hard.json.

Target: every router fits the 1,000-candidate pool in under a minute on 2
cores (``--threads 2`` lets one fit use both; the load average during the run
is recorded beside the times).

    PYTHONPATH=src python benchmarks/zoo_hard.py                 # m = 10, 100, 1000, every zoo router
    PYTHONPATH=src python benchmarks/zoo_hard.py --sizes 10 --routers knn-tuned,mf
    PYTHONPATH=src python benchmarks/zoo_hard.py --sizes 1000 --threads 2 --name zoo_hard_1000   # one fit, both cores
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
from _runs import RESULTS, write
from threadpoolctl import threadpool_limits

from routereval.routers import Labelled, Prompts, make_router
from routereval.routers.base import sigmoid
from routereval.routers.ensemble import member_list

ROUTERS = ("best-single", "knn", "cluster", "linear", "mlp", "knn-tuned", "clusters", "logistic", "gbdt", "mf", "irt",
           "ensemble", "safe")
N_TRAIN, N_VAL, N_TEST, WIDTH, RANK = 5000, 500, 1000, 384, 8


def synthetic(m: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Embeddings and 0/1 labels (NaN = missing) of train, validation and test prompts for m candidates."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_VAL + N_TEST
    x = rng.normal(size=(n, WIDTH))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    # Unit prompts against unit-variance directions: each prompt skill is about N(0, 1).
    proj = rng.normal(size=(RANK, WIDTH))
    skills = rng.normal(size=(m, RANK)) * 0.5
    ability = rng.normal(size=m) * 1.0
    p = sigmoid(ability[None, :] + (x @ proj.T) @ skills.T)
    y = (rng.random(p.shape) < p).astype(float)
    y[rng.random(p.shape) < 0.05] = np.nan
    cut = (N_TRAIN, N_TRAIN + N_VAL)
    return {"x": x.astype(np.float32), "y": y, "train": np.arange(cut[0]), "val": np.arange(*cut),
            "test": np.arange(cut[1], n)}


def on_cores(router, threads: int):
    """The router with ``threads`` for its own fit (n_threads, n_jobs), also inside an ensemble's members or safe's base."""
    params = router.get_params(deep=False)
    for key in ("n_threads", "n_jobs"):
        if key in params:
            router.set_params(**{key: threads})
    if "members" in params:
        router.set_params(members=[on_cores(m, threads) for m in member_list(params["members"])])
    if "base" in params:
        base = make_router(params["base"]) if isinstance(params["base"], str) else params["base"]
        router.set_params(base=on_cores(base, threads))
    return router


def measure(name: str, data: dict[str, np.ndarray], threads: int = 1) -> dict[str, float]:
    """One fit and prediction: times, mu_o and gap closed on the test prompts."""
    x, y = data["x"], data["y"]
    tr, va, te = data["train"], data["val"], data["test"]
    router = on_cores(make_router(name), threads)
    train = Prompts(embeddings=x[tr], scores=y[tr])
    started, cpu = time.perf_counter(), time.process_time()
    if name == "best-single" or "validation" in router.fit.__code__.co_varnames:
        router.fit(train, y[tr], validation=Labelled(Prompts(embeddings=x[va]), y[va]))
    else:
        router.fit(train, y[tr])
    fit_s, fit_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    quality = router.predict_quality(Prompts(embeddings=x[te]))
    predict_s = time.perf_counter() - started
    truth = y[te]
    got = truth[np.arange(len(te)), np.argmax(quality, axis=1)]
    mu = float(np.nanmean(got))
    best_train = int(np.nanargmax(np.nanmean(y[tr], axis=0)))
    single = float(np.nanmean(truth[:, best_train]))
    oracle = float(np.nanmax(np.where(np.isnan(truth), -np.inf, truth), axis=1).mean())
    return {"fit_s": fit_s, "fit_cpu_s": fit_cpu_s, "predict_s": predict_s, "mean_score": mu, "best_single_train": single, "oracle": oracle,
            "gap_closed": (mu - single) / (oracle - single) if oracle > single else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--routers", default=",".join(ROUTERS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="zoo_hard", help="results file: benchmarks/results/<name>.json")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads one fit may use (1 = as a sweep worker runs it; 2 = the whole 2-core machine)")
    parser.add_argument("--slow", type=float, default=20.0, help="seconds of fit beyond which a point is run once")
    args = parser.parse_args()
    results = []
    # One thread by default, as a sweep worker runs a router.
    with threadpool_limits(limits=args.threads):
        for m in [int(s) for s in args.sizes.split(",")]:
            data = synthetic(m)
            for name in args.routers.split(","):
                runs = [measure(name, data, args.threads)]
                while len(runs) < args.repeats and runs[0]["fit_s"] < args.slow:
                    runs.append(measure(name, data, args.threads))
                row = {"router": name, "m": m, "runs": len(runs), "threads": args.threads,
                       "load_avg_1m": os.getloadavg()[0],
                       **{k: statistics.median(r[k] for r in runs) for k in runs[0]}}
                results.append(row)
                print(f"m={m:5d} {name:12s} fit {row['fit_s']:7.2f}s predict {row['predict_s']:6.2f}s "
                      f"mu_o {row['mean_score']:.4f} gap {row['gap_closed']:.3f} (load {row['load_avg_1m']:.1f})", flush=True)
                # Written after every point, so a long run that is stopped keeps what it measured.
                save(results, args.name, quiet=True)
    save(results, args.name)


def save(results: list[dict], name: str, quiet: bool = False) -> None:
    """benchmarks/results/<name>.json with the points measured so far."""
    document = {
        "what": "fit/predict seconds (median), mu_o and gap closed per router and pool size on a synthetic "
                f"{N_TRAIN}-prompt, {WIDTH}-wide benchmark; target: every fit under 60 s at m = 1000",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "results": results,
        "fit_under_60s_at_1000": {r["router"]: r["fit_s"] < 60 for r in results if r["m"] == 1000},
    }
    if quiet:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    else:
        write(name, document)


if __name__ == "__main__":
    main()
