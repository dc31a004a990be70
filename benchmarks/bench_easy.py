"""Target: RouterEval's easy setting (m = 3, 5; three groups; every router but mlc)
on MMLU-Pro with cached embeddings, in under 60 s on 2 cores.

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/bench_easy.py [--runs 3] [--encoder minilm]

Embeddings are computed (and cached) once before timing; each timed run is a
fresh process that loads the stored records, builds the pools, reads the cached
embeddings, fits and measures every router. Prints and writes
benchmarks/results/bench_easy.json (medians of the runs).
"""

from __future__ import annotations

import argparse
import json
import time

from _runs import medians, peak_rss_mb, run_child, write

ROUTERS = "oracle,ro,linear,mlp,cluster,knn,random,best-single"


def child(dataset: str, encoder: str) -> None:
    import routereval as rv
    from routereval.evaluation.specs import parse_routers

    started = time.perf_counter()
    data = rv.router_datasets(rv.load_dataset(dataset, progress=False), [3, 5])
    t_prepare = time.perf_counter() - started
    X = rv.embed(data, encoder, progress=False)
    t_features = time.perf_counter() - started - t_prepare
    per_router, mu = {}, {}
    for spec in parse_routers(ROUTERS):
        t0 = time.perf_counter()
        result = rv.evaluate(spec, data, X, progress=False)
        per_router[spec.label] = round(time.perf_counter() - t0, 3)
        mu.update({r["router"]: round(r["mean_score"], 4) for r in result.means if r["m"] == 5})
    total = time.perf_counter() - started
    print(json.dumps({
        "wall_s": round(total, 2), "prepare_s": round(t_prepare, 2), "features_s": round(t_features, 2),
        "routers_s": per_router, "peak_rss_mb": round(peak_rss_mb()), "n_pools": len(data.pools),
        "last_mu_o": mu,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="mmlu-pro")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(args.dataset, args.encoder)
        return
    # Warm-up: pull the records and fill the embedding cache (not timed).
    run_child(__file__, ["--dataset", args.dataset, "--encoder", args.encoder])
    runs = [run_child(__file__, ["--dataset", args.dataset, "--encoder", args.encoder]) for _ in range(args.runs)]
    result = medians(runs)
    result.update(dataset=args.dataset, encoder=args.encoder, routers=ROUTERS, target_wall_s=60,
                  wall_s_runs=[r["wall_s"] for r in runs], meets_target=result["wall_s"] < 60)
    write("bench_easy", result)


if __name__ == "__main__":
    main()
