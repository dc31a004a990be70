"""Model-level scaling: how mu_o of r_o(p) grows with the size m of a random candidate pool.

r_o(p) sends each prompt to the oracle's pick (the best score among the
candidates) with probability p and to a uniformly random candidate otherwise.
On a pool P its expected mu_o is exact, with no Monte Carlo over prompts::

    mu_o(P, p) = p * oracle(P) + (1 - p) * random(P)
    oracle(P)  = mean over prompts of max over P of the score
    random(P)  = mean over prompts of mean over P of the score

For each m the study draws random m-subsets of the benchmark's models (or, when
there are at most ``n_draws`` distinct subsets, takes every one of them) and
reports, per (m, p), the mean over pools, a 95% band of pools (the 2.5% and
97.5% quantiles: how much the result depends on which m models one has) and the
standard error of that mean. It also reports the best single model inside each
pool, the benchmark's best single model and a reference line.

Missing records (NaN) are never zeros. A prompt counts for a pool when at least
one of the pool's models has a record on it; the max and the mean over the pool
use the present records only. Models with no record at all are left out.

Speed: a binary benchmark is packed into one bit set per model, so the oracle
of a pool is a popcount of the OR of its members' bit sets; random(P) is a sum
of per-model column sums over the prompts every model answered, plus one matrix
product over the prompts with missing records. Continuous scores take the max
over the pool on float32 rows. Draws are processed in blocks that bound memory.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.datasets.bitsets import pack_columns, popcount_rows
from routereval.errors import ConfigError
from routereval.progress import progress as progress_bar
from routereval.datasets.router_dataset import benchmark_name
from routereval.evaluation.reference import Reference, resolve_reference
from routereval.records import Benchmark
from routereval.records.benchmark import BINARY

# Why 1,000 draws (measured on mmlu-pro, 29 models, m = 3, 5, 10, 20, p = 0 and 1,
# the study repeated under 10 seeds): the band's half-width across pools is
# 0.014-0.16 and the standard error of the mean over 1,000 draws is 1/60 of it
# (1/19 with 100 draws), so the mean curve is exact to within a line's width.
# The band's edges are 2.5% / 97.5% quantiles, resting on ~25 pools each with
# 1,000 draws: between seeds they move by 4-6% of the half-width (sd), against
# 9-18% with 100 draws and 2-4% with 3,000. 1,000 draws take 0.15 s on
# mmlu-pro and about 1 s on a binary 2,000-model x 5,000-prompt benchmark; more
# would cost time linearly for no change one can see on the figure.
DEFAULT_DRAWS = 1000
DEFAULT_PS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
BAND = (0.025, 0.975)

# The grid of pool sizes: 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, ...
_GRID_HEAD = (1, 2, 3, 5)
_GRID_STEPS = (1, 2, 5)

# Each block of draws keeps its working arrays near this size.
_BLOCK_BYTES = 16 * 2**20
# Sums over small pools gather rows; from m >= M / 32 a matrix product is faster
# (measured at M = 2,000: equal cost near m = 40).
_GATHER_BELOW = 32


def default_sizes(n_models: int) -> list[int]:
    """Pool sizes 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, ... below ``n_models``, then ``n_models``."""
    grid = list(_GRID_HEAD)
    scale = 10
    while scale < n_models:
        grid += [scale * s for s in _GRID_STEPS]
        scale *= 10
    return sorted({m for m in grid if m < n_models} | {n_models})


def check_ps(ps: Sequence[float]) -> list[float]:
    """Probabilities of the oracle: each in [0, 1], in increasing order, no repeats."""
    out = sorted({float(p) for p in ps})
    if not out:
        raise ConfigError("need at least one p")
    bad = [p for p in out if not 0.0 <= p <= 1.0]
    if bad:
        raise ConfigError(f"p (the probability of following the oracle, --ps) must lie in [0, 1], got {bad[0]:g}")
    return out


def check_sizes(sizes: Sequence[int], n_models: int) -> list[int]:
    """Pool sizes: integers in [1, n_models], sorted, no repeats."""
    out = sorted({int(m) for m in sizes})
    if not out:
        raise ConfigError("need at least one pool size")
    if out[0] < 1:
        raise ConfigError(f"pool sizes must be >= 1, got {out[0]}")
    if out[-1] > n_models:
        raise ConfigError(f"pool size {out[-1]} is larger than the {n_models} models with records")
    return out


@dataclass
class _Packed:
    """A benchmark laid out for fast per-pool reductions (models with records only)."""

    n_prompts: int
    names: list[str]
    means: np.ndarray  # per model, over its present records
    kind: str
    bits: np.ndarray | None  # binary: M x W uint64, bit j set where the score on prompt j is 1
    rows: np.ndarray | None  # continuous: M x N float32, NaN = missing
    present_bits: np.ndarray | None  # M x W uint64, bit j set where there is a record; None if none is missing
    full_sums: np.ndarray  # per model, sum of scores over the prompts every model answered
    partial: np.ndarray | None  # M x n_partial float32 scores (0 where missing) on the other prompts
    partial_present: np.ndarray | None  # M x n_partial float32, 1 where there is a record

    @property
    def n_models(self) -> int:
        return len(self.names)


def _pack(bench: Benchmark) -> _Packed:
    n, m_all = bench.n_prompts, bench.n_models
    per_col = max(1, n * 4)
    step = max(1, _BLOCK_BYTES // per_col)
    counts = np.zeros(m_all, dtype=np.int64)
    sums = np.zeros(m_all)
    row_missing = np.zeros(n, dtype=bool)
    bits, present_bits, rows = [], [], []
    binary = bench.kind == BINARY
    for a in range(0, m_all, step):
        block = bench.values(models=slice(a, min(a + step, m_all)))
        present = ~np.isnan(block)
        counts[a:a + block.shape[1]] = present.sum(axis=0)
        sums[a:a + block.shape[1]] = np.nansum(block, axis=0, dtype=np.float64)
        row_missing |= ~present.all(axis=1)
        present_bits.append(pack_columns(present))
        if binary:
            bits.append(pack_columns(block == 1))
        else:
            rows.append(np.ascontiguousarray(block.T))
    keep = np.flatnonzero(counts > 0)
    if len(keep) == 0:
        raise ConfigError(f"{bench.name!r} has no records")
    means = sums[keep] / counts[keep]
    any_missing = bool(row_missing.any())
    partial_idx = np.flatnonzero(row_missing)
    if any_missing:
        partial = bench.values(prompts=partial_idx, models=keep)
        present = ~np.isnan(partial)
        partial = np.where(present, partial, 0.0).astype(np.float32)
        full_sums = sums[keep] - partial.sum(axis=0, dtype=np.float64)
        partial_t = np.ascontiguousarray(partial.T)
        present_t = np.ascontiguousarray(present.T, dtype=np.float32)
    else:
        full_sums, partial_t, present_t = sums[keep], None, None
    names = bench.model_names
    return _Packed(
        n_prompts=n,
        names=[names[k] for k in keep],
        means=means,
        kind=bench.kind,
        bits=np.concatenate(bits)[keep] if binary else None,
        rows=None if binary else np.concatenate(rows)[keep],
        present_bits=np.concatenate(present_bits)[keep] if any_missing else None,
        full_sums=full_sums,
        partial=partial_t,
        partial_present=present_t,
    )


def _reduce_over_pool(rows: np.ndarray, idx: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """b x width: ``ufunc`` folded over the rows of each pool (one pool per row of ``idx``).

    Used with bitwise_or (bit sets), fmax (best present score: fmax ignores NaN
    unless both sides are NaN, so a missing record never wins) and add. Pools are
    gathered a chunk of members at a time, so memory stays near _BLOCK_BYTES.
    """
    b, m = idx.shape
    chunk = max(1, _BLOCK_BYTES // max(1, b * rows.shape[1] * rows.itemsize))
    acc = rows[idx[:, 0]].copy()
    for t in range(1, m, chunk):
        ufunc(acc, ufunc.reduce(rows[idx[:, t:t + chunk]], axis=1), out=acc)
    return acc


def _pool_stats(data: _Packed, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """oracle(P), random(P) and the best single model's mean for each pool (row of ``idx``)."""
    b, m = idx.shape
    if data.present_bits is None:
        covered = np.full(b, data.n_prompts, dtype=np.float64)
    else:
        covered = popcount_rows(_reduce_over_pool(data.present_bits, idx, np.bitwise_or)).astype(np.float64)
    if data.bits is not None:
        best_sum = popcount_rows(_reduce_over_pool(data.bits, idx, np.bitwise_or)).astype(np.float64)
    else:
        best_sum = np.nansum(_reduce_over_pool(data.rows, idx, np.fmax), axis=1, dtype=np.float64)
    # On prompts every model answered, the mean over the pool separates by model.
    mean_sum = data.full_sums[idx].sum(axis=1) / m
    if data.partial is not None:
        if m * _GATHER_BELOW <= data.n_models:
            s, c = _reduce_over_pool(data.partial, idx, np.add), _reduce_over_pool(data.partial_present, idx, np.add)
        else:
            # A 0/1 membership matrix times the scores: BLAS beats gathering m rows per pool.
            member = np.zeros((b, data.n_models), dtype=np.float32)
            np.put_along_axis(member, idx, 1.0, axis=1)
            s, c = member @ data.partial, member @ data.partial_present
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_sum += np.where(c > 0, s / np.maximum(c, 1), 0.0).sum(axis=1, dtype=np.float64)
    return best_sum / covered, mean_sum / covered, data.means[idx].max(axis=1)


def _pools(n_models: int, m: int, n_draws: int, seed: int, block: int) -> tuple[Iterator[np.ndarray], int, bool]:
    """Blocks of pools of size m: every subset when there are at most ``n_draws``, else random draws.

    Each m has its own stream, ``default_rng([seed, m])``, so adding or removing
    a size leaves the draws of the others unchanged. Random draws are
    independent, so two draws may hold the same subset.
    """
    total = math.comb(n_models, m)
    if total <= n_draws:
        combos = itertools.combinations(range(n_models), m)

        def every() -> Iterator[np.ndarray]:
            while chunk := list(itertools.islice(combos, block)):
                yield np.array(chunk, dtype=np.int64).reshape(len(chunk), m)

        return every(), total, True
    rng = np.random.default_rng([seed, m])

    def drawn() -> Iterator[np.ndarray]:
        for a in range(0, n_draws, block):
            keys = rng.random((min(block, n_draws - a), n_models))
            yield np.argpartition(keys, m - 1, axis=1)[:, :m]

    return drawn(), n_draws, False


def _block_size(data: _Packed) -> int:
    per_pool = data.n_models * 8  # random keys or the membership row
    if data.bits is not None:
        per_pool = max(per_pool, data.bits.shape[1] * 8)
    if data.rows is not None:
        per_pool = max(per_pool, data.rows.shape[1] * 4)
    if data.partial is not None:
        per_pool = max(per_pool, data.partial.shape[1] * 8)
    return max(1, _BLOCK_BYTES // per_pool)


def _summary(values: np.ndarray, enumerated: bool) -> dict[str, Any]:
    lo, hi = np.quantile(values, BAND)
    if enumerated:
        sem: float | None = 0.0  # every pool was taken: the mean is exact
    elif len(values) > 1:
        sem = float(values.std(ddof=1) / math.sqrt(len(values)))
    else:
        sem = None
    return {"mean": float(values.mean()), "lo": float(lo), "hi": float(hi), "sem": sem}


def scaling_study(
    bench: Benchmark,
    *,
    sizes: Sequence[int] | None = None,
    ps: Sequence[float] = DEFAULT_PS,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    reference: Reference | str | float | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """mu_o of r_o(p) against the pool size m, over random pools of the benchmark's models.

    Args:
        bench: the benchmark; all its prompts are used.
        sizes: pool sizes (default :func:`default_sizes`); each in [1, M].
        ps: probabilities of following the oracle, each in [0, 1].
        n_draws: random pools per size; sizes with at most this many distinct
            pools use every pool instead (exact: ``enumerated`` is true, ``sem`` 0).
        seed: seed of the draws (each size m uses ``default_rng([seed, m])``).
        reference: the reference line as a :class:`Reference`, or a number or model
            name given by the user (see :func:`resolve_reference`, which also
            gives the default).
        progress: show a progress bar over the sizes on stderr.

    Returns:
        A JSON-ready document: ``dataset``, ``benchmark``, ``n_prompts``,
        ``n_models`` (models with at least one record), ``kind``, ``n_draws``,
        ``seed``, ``band``, ``reference`` {value, source}, ``best_single``
        {model, value}, ``points`` (one per (m, p): mean, lo, hi, sem over
        pools, n_subsets, enumerated) and ``best_in_pool`` (per m: mean, lo, hi
        of the best single model inside the pool). ``sem`` is None only for a
        single random draw.
    """
    if n_draws < 1:
        raise ConfigError(f"the number of draws must be >= 1, got {n_draws}")
    p_list = check_ps(ps)
    data = _pack(bench)
    size_list = check_sizes(default_sizes(data.n_models) if sizes is None else sizes, data.n_models)
    ref = reference if isinstance(reference, Reference) else resolve_reference(bench, reference)
    ref_value, ref_source = ref.value, ref.source
    best_name, best_value = data.names[int(np.argmax(data.means))], float(data.means.max())
    block = _block_size(data)
    points, in_pool = [], []
    with progress_bar(f"scaling study of {bench.name}: pool sizes", total=len(size_list), enabled=progress) as bar:
        for m in size_list:
            blocks, n_subsets, enumerated = _pools(data.n_models, m, n_draws, seed, block)
            stats = [_pool_stats(data, idx) for idx in blocks]
            oracle, uniform, best = (np.concatenate(s) for s in zip(*stats))
            for p in p_list:
                ro = p * oracle + (1.0 - p) * uniform
                points.append({"m": m, "p": p, **_summary(ro, enumerated),
                               "n_subsets": n_subsets, "enumerated": enumerated})
            pool_best = _summary(best, enumerated)
            in_pool.append({"m": m, "mean": pool_best["mean"], "lo": pool_best["lo"], "hi": pool_best["hi"]})
            bar.description = f"scaling study of {bench.name}: m = {m}"
            bar.advance(1)
    return {
        "dataset": bench.name,
        "benchmark": benchmark_name(bench),
        "n_prompts": data.n_prompts,
        "n_models": data.n_models,
        "kind": data.kind,
        "n_draws": n_draws,
        "seed": seed,
        "band": list(BAND),
        "reference": {"value": float(ref_value), "source": ref_source},
        "best_single": {"model": best_name, "value": best_value},
        "points": points,
        "best_in_pool": in_pool,
    }


TABLE_COLUMNS = ("m", "p", "mean", "lo", "hi", "sem", "n_subsets", "enumerated")


def scaling_table(doc: dict[str, Any]) -> pd.DataFrame:
    """The study's points as a flat :class:`pandas.DataFrame` (columns :data:`TABLE_COLUMNS`)."""
    return pd.DataFrame([{k: pt[k] for k in TABLE_COLUMNS} for pt in doc["points"]], columns=list(TABLE_COLUMNS))


def write_study(doc: dict[str, Any], stem: Path) -> list[Path]:
    """Write ``<stem>.json`` and ``<stem>.csv``, each atomically; returns their paths.

    Suffixes are appended, so a stem with a dot in its name keeps it. Pictures
    are drawn from the JSON by :mod:`routereval.reports.figures`.
    """
    from routereval.atomic import write_text_atomic

    stem = Path(stem)
    return [
        write_text_atomic(stem.with_name(f"{stem.name}.json"), json.dumps(doc, indent=2, allow_nan=False) + "\n"),
        write_text_atomic(stem.with_name(f"{stem.name}.csv"), scaling_table(doc).to_csv(index=False)),
    ]


def file_stem(name: str) -> str:
    """A dataset name made safe as a file name (``file.pkl#bbh`` -> ``file.pkl_bbh``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dataset"
