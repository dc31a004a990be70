"""Calibration of quality estimates: are a router's P(correct) numbers right on average?

Cost-aware and threshold policies, and the ``safe`` router, act on the size
of the estimates, not only on their order, so their numbers should mean what
they say. Two measures of estimates ``q`` (n x m, in [0, 1]) against the true
test scores ``s`` (n x m in [0, 1], NaN where a record is missing), over every
present (prompt, candidate) cell:

* :func:`brier_score`: mean (q - s)^2 (0 is perfect; always 0.25 for a constant 0.5 on 0/1 scores).
* :func:`reliability_table`: cells grouped by estimate into equal-width bins,
  with each bin's mean estimate and mean true score (a reliability diagram's
  points), and its expected calibration error, the count-weighted mean gap
  |mean estimate - mean score| over the bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _pairs(quality: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(quality, dtype=float)
    s = np.asarray(scores, dtype=float)
    if q.shape != s.shape:
        raise ValueError(f"quality has shape {q.shape}, scores {s.shape}: one estimate per score expected")
    present = ~np.isnan(s)
    q, s = q[present], s[present]
    if np.isnan(q).any() or (q < 0).any() or (q > 1).any():
        raise ValueError("quality estimates must lie in [0, 1] wherever a score is present")
    if (s < 0).any() or (s > 1).any():
        raise ValueError("scores must lie in [0, 1] (rescale continuous records first)")
    return q, s


def brier_score(quality: np.ndarray, scores: np.ndarray) -> float:
    """Mean squared gap between estimates and true scores over the present cells (NaN if none)."""
    q, s = _pairs(quality, scores)
    return float(((q - s) ** 2).mean()) if len(q) else float("nan")


@dataclass(frozen=True)
class Reliability:
    """Per bin: its edges, how many cells fell in it, their mean estimate and mean true score (NaN when empty)."""

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray
    mean_estimate: np.ndarray
    mean_score: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: sum over bins of count / total x |mean estimate - mean score|."""
        total = self.count.sum()
        if not total:
            return float("nan")
        filled = self.count > 0
        gaps = np.abs(self.mean_estimate[filled] - self.mean_score[filled])
        return float((self.count[filled] * gaps).sum() / total)

    def rows(self) -> list[dict[str, float]]:
        """The table as rows (for JSON and reports)."""
        return [
            {"lower": float(lo), "upper": float(hi), "count": int(c), "mean_estimate": float(e), "mean_score": float(s)}
            for lo, hi, c, e, s in zip(self.lower, self.upper, self.count, self.mean_estimate, self.mean_score)
        ]


def reliability_table(quality: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> Reliability:
    """Estimates in ``n_bins`` equal-width bins of [0, 1] (each closed on the left; the last also on the right)."""
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    q, s = _pairs(quality, scores)
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    which = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, int(n_bins) - 1)
    count = np.bincount(which, minlength=int(n_bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_estimate = np.bincount(which, weights=q, minlength=int(n_bins)) / count
        mean_score = np.bincount(which, weights=s, minlength=int(n_bins)) / count
    return Reliability(edges[:-1], edges[1:], count, mean_estimate, mean_score)
