"""Means over candidate groups, seeds and splits, with intervals: the one aggregation.

A published table cell is the mean over the three groups of a (benchmark, m);
with several seeds and split seeds, the mean runs over all of them together.
Metrics are averaged row by row (V_B as the mean of the per-pool ratios, as
published). The interval of mu_o is a bootstrap of that mean:

* one split: the test prompts are resampled *jointly* for every row of the
  cell (one draw of prompt positions applied to all of them), so it is the
  interval of the mean itself rather than a mix of separate intervals;
* several splits: a two-level bootstrap. Each resample draws the splits with
  replacement, then, within each split drawn, the prompts (jointly for the
  split's rows, as above); its value is the mean over the drawn splits. The
  spread thus holds both the split-to-split variance (which router wins moves
  with the split) and the prompt variance inside a split. Decision: splits are
  the outer level because they are the unit a user's next deployment is drawn
  from; a bootstrap of split means alone would ignore that each split's mean
  is itself measured on a few hundred prompts, and pooling all prompts of all
  splits would treat overlapping test sets of different splits as new data.
  With one split it is exactly the joint interval (same draws, same bytes).

``routereval bench``, ``routereval report`` and :func:`routereval.evaluate`
all summarise through :func:`summarise`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.datasets.splits import SPLIT_SEED
from routereval.datasets.pools import GROUPS
from routereval.metrics.core import DEFAULT_N_BOOT, check_n_boot

#: Per-row arrays, kept for the joint interval and dropped from tables.
ARRAY_FIELDS = ("positions", "per_prompt")
#: Metrics averaged over the rows of a cell.
MEAN_FIELDS = ("mean_score", "vs_reference", "vs_best_single", "proba_entropy", "choice_entropy", "vs_best_single_train",
               "gap_closed", "best_single_test",
               "best_single_train", "oracle_test", "mean_score_mc", "seconds",
               "mean_cost", "cost_per_1k")  # cost columns: present where evaluate_pool was given costs
#: What a cell is keyed by; ``group`` is added for per-group tables.
CELL = ("dataset", "benchmark", "m", "router")
MEAN_GROUP = "mean"
BEST_SINGLE = "best-single"
# Prompt counts (resamples x prompts) held at once by joint_interval.
_BOOT_CELLS = 4_000_000
#: What a row that names no split seed (stored before split seeds were a grid axis) was cut with.
DEFAULT_SPLIT_SEED = SPLIT_SEED


def split_seed_of(row: dict[str, Any]) -> int:
    """The split seed a row was measured on.

    Rows stored before split seeds were part of the grid have no ``split_seed``
    field; their split seed is in the settings JSON every sweep row carries
    (that run had exactly one), else RouterEval's 42.
    """
    if row.get("split_seed") is not None:
        return int(row["split_seed"])
    try:
        recorded = json.loads(row.get("settings") or "{}").get("split_seed")
    except (TypeError, ValueError, AttributeError):
        recorded = None
    return DEFAULT_SPLIT_SEED if recorded is None else int(recorded)


def row_order(row: dict[str, Any]) -> tuple:
    """Sort key of a result row: the sweep's own order (dataset, m, group, router, seed, split seed),
    never completion order."""
    dataset_at, router_at = row.get("order") or (0, 0)
    group_at = GROUPS.index(row["group"]) if row["group"] in GROUPS else len(GROUPS)
    return (dataset_at, str(row.get("source", row["dataset"])), int(row["m"]), group_at, str(row["group"]),
            router_at, str(row["router"]), int(row.get("seed", 0)), split_seed_of(row))


def _quantiles(means: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% quantiles of the resampled means that are numbers (NaN, NaN for none)."""
    means = means[~np.isnan(means)]
    if not len(means):
        return float("nan"), float("nan")
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def joint_interval(rows: Sequence[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the mean of the rows' mu_o, resampling test prompts jointly."""
    n_boot = check_n_boot(n_boot)
    return _quantiles(_resampled_means(rows, n_boot, np.random.default_rng(seed)))


def split_interval(rows: Sequence[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean of the rows' mu_o over splits and prompts (the two-level bootstrap).

    Rows are grouped by their split seed; with one split this is :func:`joint_interval` exactly.
    """
    n_boot = check_n_boot(n_boot)
    return _quantiles(bootstrap_means(rows, n_boot=n_boot, seed=seed))


def _by_split(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows split by split seed, splits in ascending seed order."""
    parts: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        parts.setdefault(split_seed_of(r), []).append(r)
    return [parts[k] for k in sorted(parts)]


def bootstrap_means(rows: Sequence[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> np.ndarray:
    """``n_boot`` resampled means of the rows' per-prompt scores (NaN where a resample scored nothing).

    One split: prompts resampled jointly for all rows. Several: the two-level
    bootstrap of the module docstring: each resample draws S splits out of the S
    with replacement, then an independent joint prompt resample of each split
    drawn, and averages the S split means.
    """
    parts = _by_split(rows)
    rng = np.random.default_rng(seed)
    if len(parts) <= 1:
        return _resampled_means(rows, n_boot, rng)
    n_splits = len(parts)
    picks = rng.integers(0, n_splits, (n_boot, n_splits))
    values = np.full((n_boot, n_splits), np.nan)
    for at, part in enumerate(parts):
        drawn = picks == at
        if drawn.any():
            # Each time a split is drawn it gets its own prompt resample (row-major order of the draws).
            values[drawn] = _resampled_means(part, int(drawn.sum()), rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=1)


def _resampled_means(rows: Sequence[dict[str, Any]], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` means over the rows of each row's mean over one joint resample of the prompt positions."""
    universe = np.unique(np.concatenate([np.asarray(r["positions"], dtype=np.int64) for r in rows]))
    if len(universe) == 0:
        return np.full(n_boot, np.nan)
    table = np.full((len(rows), len(universe)), np.nan)
    for i, r in enumerate(rows):
        table[i, np.searchsorted(universe, np.asarray(r["positions"], dtype=np.int64))] = \
            np.asarray(r["per_prompt"], dtype=float)
    scored = ~np.isnan(table)
    values = np.where(scored, table, 0.0)
    n = len(universe)
    means = np.empty(n_boot)
    # Each resample as counts of how often it drew each prompt: a row's resampled sum is then one
    # product, counts @ values. Resamples go in blocks (the same draws, in the same order, as one
    # at a time) of a few million counts at most, so memory stays small for any test set.
    block = max(1, _BOOT_CELLS // n)
    # A resample may hold only unscored prompts of a row: its NaN mean is meant, not warned about.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for start in range(0, n_boot, block):
            size = min(block, n_boot - start)
            picks = rng.integers(0, n, (size, n)) + (np.arange(size) * n)[:, None]
            counts = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n).astype(float)
            row_means = (counts @ values.T) / (counts @ scored.T)
            means[start : start + size] = np.nanmean(row_means, axis=1)
    return means


def paired_difference(a_rows: Sequence[dict[str, Any]], b_rows: Sequence[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT,
                      seed: int = 0, p_value: bool = False) -> tuple[float, ...]:
    """mean(a) - mean(b) over matched rows (the same pool, seed and split), and its 95% bootstrap interval.

    Each pair is compared on the test prompts both scored; the difference is the
    mean over pairs of the mean per-prompt difference. The per-prompt differences
    are resampled as :func:`bootstrap_means` resamples scores: prompts jointly for
    all pairs of a split, and splits too where the pairs come from several, so the
    interval keeps the pairing that makes it narrower than the two intervals side
    by side.

    With ``p_value`` the result is (difference, lo, hi, p): p is the two-sided
    bootstrap p-value of "no difference", from the resampled differences shifted
    to a mean of zero: (1 + #{|d* - d| >= |d|}) / (n_boot + 1). The +1s keep it
    above zero, as a test from n_boot resamples can resolve no finer.
    """
    n_boot = check_n_boot(n_boot)
    diffs = []
    for a, b in zip(a_rows, b_rows, strict=True):
        common, ia, ib = np.intersect1d(np.asarray(a["positions"], dtype=np.int64),
                                        np.asarray(b["positions"], dtype=np.int64), return_indices=True)
        d = np.asarray(a["per_prompt"], dtype=float)[ia] - np.asarray(b["per_prompt"], dtype=float)[ib]
        keep = ~np.isnan(d)
        diffs.append({"positions": common[keep], "per_prompt": d[keep], "split_seed": split_seed_of(a)})
    point = _mean([float(d["per_prompt"].mean()) if len(d["per_prompt"]) else None for d in diffs])
    resampled = bootstrap_means(diffs, n_boot=n_boot, seed=seed)
    lo, hi = _quantiles(resampled)
    if not p_value:
        return point, lo, hi
    resampled = resampled[~np.isnan(resampled)]
    if not len(resampled) or np.isnan(point):
        return point, lo, hi, float("nan")
    extreme = int(np.count_nonzero(np.abs(resampled - point) >= abs(point) - 1e-12))
    return point, lo, hi, (1 + extreme) / (len(resampled) + 1)


def _mean(values: list[Any]) -> float:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")


def summarise(
    rows: Sequence[dict[str, Any]], *, by_group: bool = False, n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
    compare: bool = False,
) -> list[dict[str, Any]]:
    """One row per cell (dataset, benchmark, m, router[, group]), averaged over groups, seeds and splits.

    Raises ArgumentError for an ``n_boot`` outside 1..100,000, before any work.

    Without ``by_group`` the cell's ``group`` is ``"mean"``; with it, one row
    per group (averaged over seeds and splits only). Rows come back in the order
    of the first row of each cell, after sorting the inputs by sweep order,
    dataset, m, group, router, seed and split seed. ``mu_o_lo`` / ``mu_o_hi``
    are :func:`split_interval`'s (the joint interval where there is one split).

    With ``compare``, each learned router's cell also gets its paired difference
    to the best learned router of its (dataset, benchmark, m[, group]) and
    whether it is tied with it (see :func:`_add_comparisons_to_best`).
    """
    n_boot = check_n_boot(n_boot)
    ordered = sorted(rows, key=row_order)
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for r in ordered:
        key = tuple(r[k] for k in CELL) + ((r["group"],) if by_group else ())
        cells.setdefault(key, []).append(r)
    out = []
    for key, part in cells.items():
        first = part[0]
        row = {k: first[k] for k in CELL}
        row["group"] = first["group"] if by_group else MEAN_GROUP
        for k in MEAN_FIELDS:
            if any(k in r for r in part):
                row[k] = _mean([r.get(k) for r in part])
        row["mean_score_lo"], row["mean_score_hi"] = split_interval(part, n_boot=n_boot, seed=seed)
        row["n_test"] = int(round(_mean([r["n_test"] for r in part])))
        row["n_unscored"] = int(round(_mean([r.get("n_unscored", 0) for r in part])))
        for k in ("reference", "reference_score", "policy"):
            if k in first:
                row[k] = first[k]
        row["groups"] = list(dict.fromkeys(str(r["group"]) for r in part))
        row["seeds"] = sorted({int(r.get("seed", 0)) for r in part})
        splits = sorted({split_seed_of(r) for r in part})
        if len(splits) > 1:
            # Only where there are several: a one-split table keeps the columns it always had.
            row["split_seeds"] = splits
        row["n_rows"] = len(part)
        out.append(row)
    _add_differences_to_best_single(out, cells, by_group, n_boot=n_boot, seed=seed)
    if compare:
        _add_comparisons_to_best(out, cells, n_boot=n_boot, seed=seed)
    return out


def is_bound(router: str) -> bool:
    """True for the oracle family (oracle, r_o(p), random): bounds that read the test scores, not contenders."""
    from routereval.policies import REFERENCE_POLICIES

    return router.split("(")[0].split("[")[0] in REFERENCE_POLICIES


def _add_comparisons_to_best(out: list[dict[str, Any]], cells: dict[tuple, list[dict[str, Any]]], *,
                             n_boot: int, seed: int, alpha: float | None = None) -> None:
    """Mark each learned router's cell with its paired comparison to the best learned router of its block.

    The best is the highest mean mu_o among routers that learn (the oracle family
    reads the test scores, so it is a bound, never "the best router"). Every other
    router gets ``diff_vs_best`` (its mean minus the best's, over the pools, seeds
    and splits both measured) with the paired 95% interval, the two-sided bootstrap
    p-value, ``p_holm`` (Holm-corrected over the block's comparisons) and
    ``tied_with_best``: not significantly worse at the corrected level. The best
    itself gets ``tied_with_best`` True and a zero difference.
    """
    from routereval.evaluation.significance import ALPHA, holm

    alpha = ALPHA if alpha is None else alpha
    blocks: dict[tuple, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
    for row, (key, part) in zip(out, cells.items()):
        if is_bound(str(row["router"])) or any("per_prompt" not in r for r in part):
            continue
        if row.get("mean_score") is None or np.isnan(row["mean_score"]):
            continue
        blocks.setdefault((*key[:3], *key[4:]), []).append((row, part))
    for members in blocks.values():
        best_row, best_part = max(members, key=lambda m: (m[0]["mean_score"], -members.index(m)))
        theirs = {_pool_of(r): r for r in best_part}
        tests = []
        for row, part in members:
            row["best"] = best_row["router"]
            if row is best_row:
                row.update(diff_vs_best=0.0, diff_vs_best_lo=0.0, diff_vs_best_hi=0.0, p_vs_best=float("nan"),
                           p_holm=float("nan"), tied_with_best=True)
                continue
            pairs = [(r, theirs[_pool_of(r)]) for r in part if _pool_of(r) in theirs]
            if not pairs:
                continue
            d, lo, hi, p = paired_difference([a for a, _ in pairs], [b for _, b in pairs], n_boot=n_boot,
                                             seed=seed, p_value=True)
            row.update(diff_vs_best=d, diff_vs_best_lo=lo, diff_vs_best_hi=hi, p_vs_best=p)
            tests.append(row)
        for row, adjusted in zip(tests, holm([r["p_vs_best"] for r in tests])):
            row["p_holm"] = adjusted
            # Tied: not significantly different at the corrected level. A router that is
            # significantly *better* cannot occur: the best has the highest mean.
            row["tied_with_best"] = bool(np.isnan(adjusted) or adjusted > alpha)


def _add_differences_to_best_single(out: list[dict[str, Any]], cells: dict[tuple, list[dict[str, Any]]],
                                    by_group: bool, *, n_boot: int, seed: int) -> None:
    """Give each router's cell its paired difference to ``best-single`` on the same pools and seeds.

    A sentence such as "the router beats the best single model" is read from two
    means whose intervals overlap; the paired interval says whether the gap is more
    than noise. Only cells with arrays (per-prompt scores) and a best-single cell get it.
    """
    for row, (key, part) in zip(out, cells.items()):
        if row["router"] == BEST_SINGLE:
            continue
        anchor = cells.get((*key[:3], BEST_SINGLE, *key[4:]))
        if not anchor or any("per_prompt" not in r for r in (*part, *anchor)):
            continue
        theirs = {_pool_of(r): r for r in anchor}
        pairs = [(r, theirs[_pool_of(r)]) for r in part if _pool_of(r) in theirs]
        if not pairs:
            continue
        diff = paired_difference([a for a, _ in pairs], [b for _, b in pairs], n_boot=n_boot, seed=seed)
        row["diff_vs_best_single"], row["diff_vs_best_single_lo"], row["diff_vs_best_single_hi"] = diff


def _pool_of(row: dict[str, Any]) -> tuple[str, int, int]:
    """The (group, seed, split seed) a row of a cell was measured on: what pairs two routers' rows."""
    return row["group"], int(row.get("seed", 0)), split_seed_of(row)


def without_arrays(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without their per-prompt arrays (for tables and JSON)."""
    return [{k: v for k, v in r.items() if k not in ARRAY_FIELDS} for r in rows]


class EvaluationResult:
    """What :func:`routereval.evaluate` returns: the per-pool rows and their means.

    ``table()`` is the published table (one row per (dataset, m, router), the
    mean over groups, with the bootstrap interval); ``frame()`` has one row per
    pool with every metric. Columns have plain names (``mean_score``,
    ``vs_reference``, ...); :data:`routereval.evaluation.row_keys.SYMBOLS`
    gives the paper's symbol for each.
    """

    def __init__(self, rows: list[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> None:
        self.rows = rows
        self.means = summarise(rows, n_boot=n_boot, seed=seed)

    def frame(self) -> Any:
        """One row per pool (and seed), every metric, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(without_arrays(self.rows))

    def table(self) -> Any:
        """The published table: per (dataset, m, router) the mean over groups, with mu_o's 95% interval."""
        import pandas as pd

        cols = ["dataset", "m", "router", "mean_score", "mean_score_lo", "mean_score_hi", "vs_reference",
                "vs_best_single", "proba_entropy", "choice_entropy", "vs_best_single_train", "gap_closed", "n_test"]
        from routereval.evaluation.tables import FullTable

        frame = pd.DataFrame(self.means)
        return FullTable(frame[[c for c in cols if c in frame.columns]])

    def __repr__(self) -> str:
        return f"EvaluationResult({len(self.rows)} pool rows)\n{self.table().to_string(index=False)}"


def summary_rows(rows: Sequence[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
                 compare: bool = False) -> list[dict[str, Any]]:
    """Per-group rows (averaged over seeds and splits) followed by the mean rows: what tables show.

    ``compare`` adds the paired comparisons to the best router (:func:`summarise`).
    """
    return (summarise(rows, by_group=True, n_boot=n_boot, seed=seed, compare=compare)
            + summarise(rows, n_boot=n_boot, seed=seed, compare=compare))
