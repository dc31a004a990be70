"""From a dataset argument to what the runner needs: pools, features, reference.

A registered or imported dataset is split and pooled by the protocol asked for;
a RouterEval router-dataset pickle is used as it is (its own split, pools and
768-d embeddings), since those define the published benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from routereval.datasets.pools import GROUPS, setting_of
from routereval.datasets.router_dataset import (
    Part,
    PoolDataset,
    build_router_datasets,
    labels_from_scores,
)
from routereval.errors import ConfigError
from routereval.evaluation.bench import Features, Reference
from routereval.metrics import ROUTEREVAL_REFERENCE
from routereval.records import Benchmark

AUTO_ENCODER = "auto"


@dataclass
class Prepared:
    """A benchmark with its pool datasets, ready to run routers on."""

    bench: Benchmark
    benchmark: str
    pools: list[PoolDataset]
    train_positions: np.ndarray
    test_positions: np.ndarray
    skipped: dict[int, str] = field(default_factory=dict)
    source: str = "split and pooled here"


def _is_router_pickle(dataset: str) -> bool:
    path = Path(dataset.split("#", 1)[0])
    return path.suffix == ".pkl" and path.is_file()


def _from_router_pickle(path: str, sizes: list[int], groups: list[str]) -> Prepared:
    from routereval.sources import routereval_native as native

    if native.is_leaderboard(Path(path)):
        raise ConfigError(
            f"{path} is a raw leaderboard file; use {path}#<benchmark> to split and pool one of its benchmarks"
        )
    ds = native.read_router_dataset(path)
    bench = native.router_dataset_to_benchmark(ds)
    starts = np.cumsum([0] + [ds.sizes[s] for s in ("train", "val")])
    positions = {s: np.arange(a, a + ds.sizes[s]) for s, a in zip(("train", "val", "test"), starts)}
    pools, have = [], set()
    for p in ds.pools:
        have.add(p.m)
        if p.m not in sizes or p.group not in groups:
            continue
        parts, dropped = {}, {}
        for s in ("train", "val", "test"):
            scores = p.score(s)
            complete = ~np.isnan(scores).any(axis=1)
            labels = p.train_label if (s == "train" and p.train_label is not None) else None
            labels = labels_from_scores(scores, bench.kind) if labels is None else np.asarray(labels, np.float32)
            parts[s] = Part(positions[s][complete], scores[complete], labels[complete])
            dropped[s] = int((~complete).sum())
        pools.append(
            PoolDataset(
                dataset=bench.name, benchmark=ds.benchmark, m=p.m, group=p.group, models=list(p.models),
                n_dropped=dropped, **parts,
            )
        )
    skipped = {m: f"the file has no pools of size {m} ({setting_of(m)})" for m in sizes if m not in have}
    return Prepared(bench, ds.benchmark, pools, positions["train"], positions["test"], skipped,
                    source=f"pools and split as published in {Path(path).name}")


def prepare(
    dataset: str,
    sizes: list[int],
    groups: list[str] | None = None,
    protocol: str = "faithful",
    *,
    seed: int = 42,
    n_draws: int = 1000,
) -> Prepared:
    """Load ``dataset`` and build its pool datasets."""
    groups = list(groups or GROUPS)
    if _is_router_pickle(dataset) and "#" not in dataset:
        return _from_router_pickle(dataset, sizes, groups)
    from routereval.sources.catalog import load_dataset

    bench = load_dataset(dataset)
    split, pools, skipped = build_router_datasets(bench, sizes, groups, protocol, seed=seed, n_draws=n_draws)
    benchmark = bench.provenance.get("routereval_benchmark") or bench.name
    return Prepared(bench, benchmark, pools, split.train, split.test, skipped,
                    source=f"{protocol} protocol, split seed {seed}")


def features(
    prepared: Prepared,
    encoder: str = AUTO_ENCODER,
    *,
    need_texts: bool,
    need_vectors: bool = True,
    progress: bool = True,
) -> Features:
    """Embeddings of every prompt (by benchmark position) and texts, each only if a router reads them."""
    from routereval.encoders import embed_prompts, get_encoder

    bench = prepared.bench
    texts = bench.prompts["text"].fillna("").tolist() if need_texts else None
    if not need_vectors:
        return Features(embeddings=None, texts=texts)
    if encoder == AUTO_ENCODER:
        encoder = f"precomputed:{sorted(bench.embeddings)[0]}" if bench.embeddings else "minilm"
    if encoder.startswith("precomputed:"):
        enc = get_encoder(encoder, benchmark=bench)
    else:
        enc = get_encoder(encoder)
        if hasattr(enc, "fit"):
            # Fitted encoders learn their vocabulary from the training prompts only.
            train_texts = bench.prompts["text"].to_numpy()[prepared.train_positions].tolist()
            enc.fit([t for t in train_texts if t])
    vectors = embed_prompts(enc, bench, progress=progress, on_empty="zero")
    return Features(embeddings=vectors, texts=texts)


def reference(prepared: Prepared, given: str | None = None) -> Reference:
    """mu_ref for V_R: a number, a model name, RouterEval's constant, or the best model on test."""
    bench = prepared.bench
    test = prepared.test_positions
    if given is not None:
        try:
            return Reference(float(given), f"given ({float(given):g})")
        except ValueError:
            pass
        if given not in bench.model_names:
            raise ConfigError(f"--reference {given!r} is neither a number nor a model of {bench.name!r}")
        col = bench.model_index([given])
        value = float(np.nanmean(bench.values(prompts=test, models=col)))
        return Reference(value, f"{given} on the test prompts")
    key = prepared.benchmark
    if key in ROUTEREVAL_REFERENCE:
        return Reference(ROUTEREVAL_REFERENCE[key], f"RouterEval reference for {key}")
    test_means = np.array(
        [np.nanmean(col) if np.isfinite(col).any() else -1.0 for col in bench.values(prompts=test).T]
    )
    best = int(np.argmax(test_means))
    return Reference(float(test_means[best]), f"best model on the test prompts: {bench.model_names[best]}")
