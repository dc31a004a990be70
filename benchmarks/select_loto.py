"""How long does `routereval select` take on MMLU-Pro? The whole leave-one-task-out run, timed.

MMLU-Pro (14 categories x 29 models, 12,032 questions, 11,646 after removing
repeats inside a category): every category held out in turn, with the nested
leave-one-task-out pass for S3's reference pairs inside each fold (14 x 13
inner folds). Each run is a fresh process that opens the stored records, reads
the MiniLM vectors from the embedding cache, builds the per-task neighbour
lists and runs every fold; the figures are the medians over ``--runs`` runs.
Target: under 5 minutes on 2 cores with cached embeddings.

The MiniLM cache must be warm for the figure to mean "cached embeddings": the
first run on a machine embeds the 11,642 distinct questions (about 10 minutes on
2 cores); run once with ``--warm`` to fill it, untimed. The script reports how
many vectors were missing from the cache at the start of each timed run.

    python benchmarks/select_loto.py --warm          # fill the cache, then time 3 runs
    python benchmarks/select_loto.py --runs 1 --encoder tfidf
    python benchmarks/select_loto.py --references published   # the authors' reference scheme

Writes ``benchmarks/results/select_loto.json`` (``select_loto_published.json``
with ``--references published``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import medians, peak_rss_mb, run_child, write

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 300.0


def default_mirror() -> str | None:
    root = os.environ.get("ROUTEREVAL_MIRROR") or str(REPO.parent / "shared" / "data" / "github")
    return root if Path(root).is_dir() else None


def missing_from_cache(bench, rows, encoder: str) -> int:
    """How many distinct texts of these prompts the embedding cache lacks (0 for fitted encoders)."""
    from routereval.encoders import EmbeddingCache, get_encoder, text_key

    if encoder != "minilm":
        return 0
    texts = {t for t in bench.prompts["text"].to_numpy()[rows] if isinstance(t, str) and t.strip()}
    with EmbeddingCache.for_encoder(get_encoder(encoder)) as cache:
        found, _ = cache.get([text_key(t) for t in texts])
    return int((~found).sum())


def child(dataset: str, encoder: str, alphas: list[float], references: str = "loto") -> dict:
    """One timed run in this process; prints one JSON line."""
    t0 = time.perf_counter()
    from routereval.selection.data import task_data
    from routereval.selection.predictors import KNNPredictor
    from routereval.selection.protocol import Engine, Settings, leave_one_task_out
    from routereval.selection.summary import summary_rows, task_rows
    from routereval.selection.vectors import attach_vectors
    from routereval.sources.catalog import load_dataset

    bench = load_dataset(dataset, progress=False)
    data = task_data(bench)
    t_load = time.perf_counter()
    uncached = missing_from_cache(bench, data.rows, encoder)
    attach_vectors(data, bench, encoder, progress=False)
    t_vectors = time.perf_counter()
    Engine(data, KNNPredictor())  # the neighbour lists alone, timed separately
    t_lists = time.perf_counter()
    folds = leave_one_task_out(data, alphas=alphas, settings=Settings(references=references))
    t_end = time.perf_counter()
    summary = {
        (r["alpha"], r["method"]): round(r["accuracy"], 4)
        for r in summary_rows(task_rows(folds, data.models, data.name))
    }
    return {
        "load_s": t_load - t0,
        "vectors_s": t_vectors - t_load,
        "neighbour_lists_s": t_lists - t_vectors,
        # leave_one_task_out builds its own lists, so this includes them once more.
        "loto_s": t_end - t_lists,
        "total_s": (t_load - t0) + (t_vectors - t_load) + (t_end - t_lists),
        "uncached_texts": uncached,
        "n_prompts": len(data.rows),
        "n_tasks": data.n_tasks,
        "n_models": data.n_models,
        "peak_rss_mb": peak_rss_mb(),
        "accuracy": {f"alpha={a:g} {m}": v for (a, m), v in summary.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mmlu-pro")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--alpha", default="0", help="comma-separated alphas, as for `routereval select`")
    parser.add_argument("--references", default="loto", choices=["loto", "published"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", action="store_true", help="embed everything once (untimed) before timing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    alphas = [float(a) for a in args.alpha.split(",")]
    if args.child:
        print(json.dumps(child(args.dataset, args.encoder, alphas, args.references)))
        return
    mirror = default_mirror()
    if mirror and "ROUTEREVAL_MIRROR" not in os.environ:
        os.environ["ROUTEREVAL_MIRROR"] = mirror
    forwarded = ["--dataset", args.dataset, "--encoder", args.encoder, "--alpha", args.alpha,
                 "--references", args.references]
    load_start = os.getloadavg()
    if args.warm:
        run_child(__file__, forwarded)
    runs = [run_child(__file__, forwarded) for _ in range(args.runs)]
    result = medians(runs)
    result["accuracy"] = runs[0]["accuracy"]
    document = {
        "dataset": args.dataset,
        "encoder": args.encoder,
        "predictor": "knn (k = 5)",
        "references": args.references,
        "alphas": alphas,
        "target_s": TARGET_S,
        "within_target": result["total_s"] < TARGET_S and result["uncached_texts"] == 0,
        "median": result,
        "runs_total_s": [r["total_s"] for r in runs],
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Other work on the machine slows every figure; this says how much there was.
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
        },
    }
    write("select_loto" if args.references == "loto" else "select_loto_published", document)


if __name__ == "__main__":
    main()
