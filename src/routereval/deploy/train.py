"""Fit an encoder and a router on a benchmark's records and wrap them as a :class:`RoutingModel`.

Two protocols: ``all`` fits on every prompt (what a deployment wants);
``train`` fits on the training split only (the source's own split where it
ships one, else RouterEval's per-task 80/10/10 with seed 42) and writes the
router's score on the held-out test prompts to the manifest, next to the
best single model and the oracle, so the artifact says what it achieved.
The candidates are all the benchmark's models unless ``models`` names some.

A candidate with no score on any training prompt is refused, naming it: the
router would have nothing to learn its quality from, and kNN-style routers
would rank it by a made-up default (first, in the case of an empty mean).
Dropping it quietly would change the candidate list behind the user's back,
so the message says to leave it out with ``--models``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.deploy.model import DEFAULT_OUTPUT_TOKENS, RoutingModel
from routereval.errors import ConfigError
from routereval.records.fingerprint import content_sha256

SPLITS = ("all", "train")


def _split(bench: Any, split: str) -> tuple[Any, str]:
    """The :class:`~routereval.datasets.splits.Split` the router learns on, and how it was made."""
    from routereval.datasets.splits import SPLIT_SEED, Split, source_split, split_by_task

    if split == "all":
        return Split(np.arange(bench.n_prompts), np.zeros(0, np.int64), np.zeros(0, np.int64)), "all prompts"
    if "split" in bench.prompts.columns:
        s = source_split(bench.prompts["split"].to_numpy())
        how = "the source's own train / validation / test split"
    else:
        s = split_by_task(bench.prompts["task"].to_numpy(), np.random.RandomState(SPLIT_SEED))
        how = f"RouterEval's per-task 80/10/10 split, seed {SPLIT_SEED}"
    if not len(s.train) or not len(s.test):
        raise ConfigError(f"{bench.name}: the split has {len(s.train)} training and {len(s.test)} test prompts")
    return s, how


def data_sha256(bench: Any, rows: np.ndarray, cols: np.ndarray) -> str:
    """sha256 of what the router learned from: prompt ids, texts and the candidates' scores on ``rows``.

    The bytes are the ``"router"`` layout of :func:`routereval.records.fingerprint.content_sha256`.
    """
    return content_sha256(bench, "router", rows=rows, cols=cols)


def held_out_metrics(chosen: np.ndarray, scores: np.ndarray, train_scores: np.ndarray) -> dict[str, float]:
    """The router's test score beside the best single model (picked on train) and the oracle.

    The figures are :func:`routereval.metrics.against_best_single`'s, the ones
    ``bench`` and ``sweep`` report, under the artifact's own field names.
    """
    from routereval.metrics.core import against_best_single, single_means
    from routereval.routers.base import one_hot

    against = against_best_single(scores, one_hot(chosen, scores.shape[1]), single_means(train_scores))
    return {"n_test": against.n_scored, "mean_score": against.mean_score,
            "best_single_on_train": against.best_single_train, "oracle": against.oracle,
            "gain_vs_best_single": against.mean_score - against.best_single_train}


def check_models(bench: Any, models: Sequence[str]) -> None:
    """Refuse candidate names the benchmark does not hold, naming each with its close matches."""
    import difflib

    known = list(bench.model_names)
    unknown = [m for m in dict.fromkeys(models) if m not in set(known)]
    if not unknown:
        return
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
        parts.append(f"{name} (did you mean {' or '.join(close)}?)" if close else name)
    listing = (f"its models: {', '.join(known)}" if len(known) <= 12
               else f"see its {len(known)} models with: routereval data info {bench.name}")
    raise ConfigError(f"--models names {len(unknown)} model{'s' * (len(unknown) > 1)} not in {bench.name}: "
                      f"{'; '.join(parts)}; {listing}")


def train_model(
    bench: Any,
    router: str = "auto",
    params: dict[str, Any] | None = None,
    encoder: str = "minilm",
    *,
    models: Sequence[str] | None = None,
    split: str = "all",
    output_tokens: int = DEFAULT_OUTPUT_TOKENS,
    progress: bool = True,
) -> RoutingModel:
    """Fit ``encoder`` + ``router`` on ``bench`` (a loaded Benchmark) and return the routing model.

    The default router is ``auto``: a user who names none gets the zoo member that
    nested validation shows to beat the best single model with confidence, else
    that model (:mod:`routereval.routers.auto`), as scikit-learn users expect a
    default that is safe to deploy rather than the simplest learner.
    """
    from routereval.datasets.router_dataset import pool_dataset
    from routereval.encoders import embed_prompts, get_encoder
    from routereval.evaluation.evaluate import fit_on_pool
    from routereval.evaluation.features import Features
    from routereval.routers.base import make_router

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if models:
        check_models(bench, models)
    cols = np.arange(bench.n_models) if not models else np.asarray(bench.model_index(list(models)))
    if len(cols) < 2:
        raise ConfigError("a router needs at least two candidate models")
    est = make_router(router, **(params or {}))
    parts, how = _split(bench, split)
    train, val, test = parts.train, parts.val, parts.test
    inputs = getattr(est, "inputs", "embeddings")
    if inputs == "texts":
        raise ConfigError(f"router {router!r} reads raw texts with its own network and cannot be saved as data; "
                          "choose a router that reads embeddings (knn, mlp, linear, cluster)")
    texts = bench.prompts["text"].to_numpy()
    enc = None
    vectors = None
    if inputs == "embeddings":
        if encoder.startswith("precomputed"):
            raise ConfigError("vectors shipped with a dataset cannot embed a new prompt; use --encoder minilm or tfidf")
        enc = get_encoder(encoder)
        used = np.concatenate([train, val, test])
        vectors = np.zeros((bench.n_prompts, enc.dim), dtype=np.float32)
        if hasattr(enc, "fit"):
            # A fitted encoder is new each time: its vectors are worth nothing in the shared cache.
            enc.fit([str(t) for t in texts[train]])
            vectors[used] = enc.encode([str(t) for t in texts[used]], progress=progress)
        else:
            vectors[used] = embed_prompts(bench, enc, used, progress=progress)

    # One pool of every candidate: the same fit (validation split included) as bench and sweep.
    pool = pool_dataset(bench, parts, tuple(int(c) for c in cols), len(cols), "all")
    labels = pool.train.labels
    unseen = [bench.model_names[c] for c, seen in zip(cols, (~np.isnan(labels)).any(axis=0)) if not seen]
    if unseen:
        keep = ",".join(bench.model_names[c] for c in cols if bench.model_names[c] not in unseen)
        raise ConfigError(
            f"{bench.name}: {len(unseen)} candidate(s) have no score on any of the {len(train)} training prompts, "
            f"so the router cannot learn their quality: {', '.join(unseen[:5])}"
            f"{' ...' if len(unseen) > 5 else ''}; leave them out with --models"
            f"{' ' + keep if len(keep) <= 200 else ''}"
        )
    fit_on_pool(est, pool, Features(vectors, None))

    names = [bench.model_names[c] for c in cols]
    table = bench.models.set_index("name")
    prices = {}
    for name in names:
        row = table.loc[name]
        prices[name] = (float(row.get("input_price", np.nan)), float(row.get("output_price", np.nan)))
    info: dict[str, Any] = {"training": {
        "dataset": bench.name, "kind": bench.kind, "protocol": split, "split": how,
        "n_train": len(train), "n_val": len(val), "n_test": len(test),
        "sha256": data_sha256(bench, train, cols),
        "source_files": [{"url": f.get("url"), "sha256": f.get("sha256")} for f in bench.provenance.get("files", [])],
    }}
    from routereval.routers.checks import column_means

    model = RoutingModel(est, enc, names, prices, int(output_tokens), info, prior=column_means(labels))
    if len(test):
        quality = model.quality(embeddings=None if vectors is None else vectors[test],
                                texts=[str(t) for t in texts[test]])
        chosen = np.argmax(quality, axis=1)
        info["held_out"] = held_out_metrics(chosen, pool.test.scores, pool.train.scores)
    return model
