"""Means over candidate groups and seeds, with joint intervals: the one aggregation.

A published table cell is the mean over the three groups of a (benchmark, m);
with several seeds, the mean runs over groups and seeds together. Metrics are
averaged row by row (V_B as the mean of the per-pool ratios, as published);
the interval of mu_o resamples the test prompts *jointly* for every row of
the cell (one draw of prompt positions applied to all of them), so it is the
interval of the mean itself rather than a mix of separate intervals.

``routereval bench``, ``routereval report`` and :func:`routereval.evaluate`
all summarise through :func:`summarise`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.datasets.pools import GROUPS
from routereval.metrics.core import check_n_boot

#: Per-row arrays, kept for the joint interval and dropped from tables.
ARRAY_FIELDS = ("positions", "per_prompt")
#: Metrics averaged over the rows of a cell.
MEAN_FIELDS = ("mu_o", "V_R", "V_B", "E_p", "E_sel", "V_B_train", "gap_closed", "best_single_test",
               "best_single_train", "oracle_test", "mu_o_mc", "seconds",
               "mean_cost", "cost_per_1k")  # cost columns: present where evaluate_pool was given costs
#: What a cell is keyed by; ``group`` is added for per-group tables.
CELL = ("dataset", "benchmark", "m", "router")
MEAN_GROUP = "mean"
BEST_SINGLE = "best-single"
# Prompt counts (resamples x prompts) held at once by joint_interval.
_BOOT_CELLS = 4_000_000


def row_order(row: dict[str, Any]) -> tuple:
    """Sort key of a result row: the sweep's own order (dataset, m, group, router, seed), never completion order."""
    dataset_at, router_at = row.get("order") or (0, 0)
    group_at = GROUPS.index(row["group"]) if row["group"] in GROUPS else len(GROUPS)
    return (dataset_at, str(row.get("source", row["dataset"])), int(row["m"]), group_at, str(row["group"]),
            router_at, str(row["router"]), int(row.get("seed", 0)))


def joint_interval(rows: Sequence[dict[str, Any]], *, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the mean of the rows' mu_o, resampling test prompts jointly."""
    n_boot = check_n_boot(n_boot)
    universe = np.unique(np.concatenate([np.asarray(r["positions"], dtype=np.int64) for r in rows]))
    if len(universe) == 0:
        return float("nan"), float("nan")
    table = np.full((len(rows), len(universe)), np.nan)
    for i, r in enumerate(rows):
        table[i, np.searchsorted(universe, np.asarray(r["positions"], dtype=np.int64))] = \
            np.asarray(r["per_prompt"], dtype=float)
    rng = np.random.default_rng(seed)
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
    means = means[~np.isnan(means)]
    if not len(means):
        return float("nan"), float("nan")
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def paired_difference(a_rows: Sequence[dict[str, Any]], b_rows: Sequence[dict[str, Any]], *, n_boot: int = 1000,
                      seed: int = 0) -> tuple[float, float, float]:
    """mean(a) - mean(b) over matched rows (the same pool and seed), and its 95% bootstrap interval.

    Each pair is compared on the test prompts both scored; the difference is the
    mean over pairs of the mean per-prompt difference, and prompts are resampled
    jointly for all pairs (as :func:`joint_interval` does), so the interval keeps
    the pairing that makes it narrower than the two intervals side by side.
    """
    diffs = []
    for a, b in zip(a_rows, b_rows, strict=True):
        common, ia, ib = np.intersect1d(np.asarray(a["positions"], dtype=np.int64),
                                        np.asarray(b["positions"], dtype=np.int64), return_indices=True)
        d = np.asarray(a["per_prompt"], dtype=float)[ia] - np.asarray(b["per_prompt"], dtype=float)[ib]
        keep = ~np.isnan(d)
        diffs.append({"positions": common[keep], "per_prompt": d[keep]})
    point = _mean([float(d["per_prompt"].mean()) if len(d["per_prompt"]) else None for d in diffs])
    lo, hi = joint_interval(diffs, n_boot=n_boot, seed=seed)
    return point, lo, hi


def _mean(values: list[Any]) -> float:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")


def summarise(
    rows: Sequence[dict[str, Any]], *, by_group: bool = False, n_boot: int = 1000, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per cell (dataset, benchmark, m, router[, group]), averaged over groups and seeds.

    Raises ArgumentError for an ``n_boot`` outside 1..100,000, before any work.

    Without ``by_group`` the cell's ``group`` is ``"mean"``; with it, one row
    per group (averaged over seeds only). Rows come back in the order of the
    first row of each cell, after sorting the inputs by sweep order, dataset,
    m, group, router and seed.
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
        row["mu_o_lo"], row["mu_o_hi"] = joint_interval(part, n_boot=n_boot, seed=seed)
        row["n_test"] = int(round(_mean([r["n_test"] for r in part])))
        row["n_unscored"] = int(round(_mean([r.get("n_unscored", 0) for r in part])))
        for k in ("reference", "mu_ref", "policy"):
            if k in first:
                row[k] = first[k]
        row["groups"] = list(dict.fromkeys(str(r["group"]) for r in part))
        row["seeds"] = sorted({int(r.get("seed", 0)) for r in part})
        row["n_rows"] = len(part)
        out.append(row)
    _add_differences_to_best_single(out, cells, by_group, n_boot=n_boot, seed=seed)
    return out


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


def _pool_of(row: dict[str, Any]) -> tuple[str, int]:
    """The (group, seed) a row of a cell was measured on: what pairs two routers' rows."""
    return row["group"], int(row.get("seed", 0))


def without_arrays(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without their per-prompt arrays (for tables and JSON)."""
    return [{k: v for k, v in r.items() if k not in ARRAY_FIELDS} for r in rows]


class EvaluationResult:
    """What :func:`routereval.evaluate` returns: the per-pool rows and their means.

    ``table()`` is the published table (one row per (dataset, m, router), the
    mean over groups, with the bootstrap interval); ``frame()`` has one row per
    pool with every metric. Column names are the paper's symbols: mu_o (mean
    score), V_R (vs reference), V_B (vs best single), E_p (entropy of pi),
    E_sel (entropy of the choices).
    """

    def __init__(self, rows: list[dict[str, Any]], *, n_boot: int = 1000, seed: int = 0) -> None:
        self.rows = rows
        self.means = summarise(rows, n_boot=n_boot, seed=seed)

    def frame(self) -> Any:
        """One row per pool (and seed), every metric, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(without_arrays(self.rows))

    def table(self) -> Any:
        """The published table: per (dataset, m, router) the mean over groups, with mu_o's 95% interval."""
        import pandas as pd

        cols = ["dataset", "m", "router", "mu_o", "mu_o_lo", "mu_o_hi", "V_R", "V_B", "E_p", "E_sel",
                "V_B_train", "gap_closed", "n_test"]
        frame = pd.DataFrame(self.means)
        return frame[[c for c in cols if c in frame.columns]]

    def __repr__(self) -> str:
        return f"EvaluationResult({len(self.rows)} pool rows)\n{self.table().to_string(index=False)}"


def summary_rows(rows: Sequence[dict[str, Any]], *, n_boot: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """Per-group rows (averaged over seeds) followed by the mean rows: what tables show."""
    return summarise(rows, by_group=True, n_boot=n_boot, seed=seed) + summarise(rows, n_boot=n_boot, seed=seed)
