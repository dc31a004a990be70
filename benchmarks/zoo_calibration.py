"""Calibration of each router's quality estimates on real test prompts: Brier score and ECE.

Every router of the zoo (and the learned RouterEval baselines) is fitted on
the clean-protocol pools of one dataset (train, with the validation split),
and its P(correct) estimates on the test prompts are compared with the true
test scores: Brier score and the expected calibration error of a 10-bin
reliability table (:mod:`routereval.metrics.calibration`), pooled over the
pools. Figures to benchmarks/results/zoo_calibration_<dataset>.json.

    ROUTEREVAL_MIRROR=../shared/data/github PYTHONPATH=src python benchmarks/zoo_calibration.py --dataset llmrouter
"""

from __future__ import annotations

import argparse

import numpy as np
from _runs import write
from threadpoolctl import threadpool_limits

import routereval as rv
from routereval.metrics import brier_score, reliability_table
from routereval.routers import Labelled, Prompts

ROUTERS = ("best-single", "knn", "cluster", "linear", "mlp", "knn-tuned", "clusters", "logistic", "gbdt", "mf",
           "irt", "ensemble", "safe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="llmrouter")
    parser.add_argument("--sizes", default="5")
    parser.add_argument("--routers", default=",".join(ROUTERS))
    args = parser.parse_args()
    bench = rv.load_dataset(args.dataset)
    data = rv.router_datasets(bench, sizes=[int(s) for s in args.sizes.split(",")], protocol="clean")
    x = rv.embed(data, "auto", progress=False)
    results = {}
    with threadpool_limits(limits=1):
        for name in args.routers.split(","):
            quality, truth = [], []
            for pool in data.pools:
                router = rv.make_router(name)
                train = Prompts(embeddings=x[pool.train.positions], scores=pool.train.scores)
                if "validation" in router.fit.__code__.co_varnames:
                    router.fit(train, pool.train.labels,
                               validation=Labelled(Prompts(embeddings=x[pool.val.positions]), pool.val.labels))
                else:
                    router.fit(train, pool.train.labels)
                quality.append(router.predict_quality(Prompts(embeddings=x[pool.test.positions])).ravel())
                truth.append(np.asarray(pool.test.scores, dtype=float).ravel())
            q, s = np.concatenate(quality)[:, None], np.concatenate(truth)[:, None]
            table = reliability_table(q, s)
            results[name] = {"brier": brier_score(q, s), "ece": table.ece, "reliability": table.rows()}
            print(f"{name:12s} Brier {results[name]['brier']:.4f}  ECE {table.ece:.4f}", flush=True)
    write(f"zoo_calibration_{args.dataset}", {
        "what": f"Brier score and 10-bin ECE of quality estimates on the test prompts of {args.dataset}'s clean "
                f"pools of size {args.sizes}, pooled over pools and candidates",
        "results": results,
    })


if __name__ == "__main__":
    main()
