"""Similarity-weighted ranking: Bradley-Terry over the training prompts, weighted by similarity.

Every training prompt is a tournament among the candidates with a record on
it: of two candidates, the one with the higher score wins; equal scores are a
tie, counted as half a win for each (so two models that both answer correctly
learn nothing about each other). For a new prompt, each training prompt's
outcomes count with weight ``base ** (s / s_max)``, s its cosine similarity to
the new prompt and s_max the largest such similarity, the weighting of
RouteLLM's similarity-weighted ranking router (its constant factor cancels).
``base`` = 1 weighs every training prompt alike (one global ranking, close to
the best single model); a larger base trusts the most similar prompts more.
Left out (None), ``base`` is chosen on the validation split from
``BASE_GRID`` by the rule of :mod:`routereval.routers._tuning`; without a
validation split it is 10, RouteLLM's value. On MiniLM vectors, where most
cosine similarities lie between 0 and 0.5, base 10 weighs the nearest prompt
only a few times more than a typical one, which is nearly the global ranking:
the validation split usually prefers a larger base.
A prompt with no positive similarity to any training prompt (an all-zero
vector) gets equal weights: the global ranking.

The Bradley-Terry strengths (P(i beats j) = p_i / (p_i + p_j)) are the
maximum-likelihood fit of the weighted wins, by Hunter's (2004) MM iteration,
with ``prior`` virtual ties between every pair (weights are scaled to sum to
the number of training prompts, so ``prior`` counts in prompts). The prior
keeps a candidate that never lost (or never won) at a finite strength.

The quality estimate of candidate i is its win probability against a
candidate drawn uniformly from the others, mean_j p_i / (p_i + p_j), in
[0, 1]: a ranking scale, not an expected score, so the argmax is the
Bradley-Terry winner and a cost-aware policy trades win rate against cost.
With one candidate it is that candidate's training mean.
"""

from __future__ import annotations

import numpy as np

from routereval.neighbours import unit_rows
from routereval.routers._tuning import grid, pick, setting_sums, validation_arrays
from routereval.routers.base import Labelled, Prompts, Router, check_integer, check_number, register
from routereval.routers.checks import check_labels, column_means, embeddings_of
from routereval.routers._derived import DerivedState, derived

#: The bases tried on the validation split, simplest (closest to one global ranking) first.
BASE_GRID = (10.0, 100.0, 1e3, 1e4, 1e5)
#: RouteLLM's base, used when there is no validation split to choose one.
DEFAULT_BASE = 10.0

# Test prompts per similarity block: 512 x 10^4 training prompts in float64 is ~40 MB.
_BLOCK_ROWS = 512
# Float64 copies of the tournament tables are kept for prediction up to this size (both together);
# beyond it (~30 candidates on 5,000 prompts) they are converted per call, as memory matters more there.
_CACHED_TABLES_BYTES = 128 * 2**20


def pairwise_outcomes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per training prompt, ``wins[p, i, j]`` (1 win, 0.5 tie, 0 loss) and ``played[p, i, j]`` (both present).

    Both n x m x m; the diagonal is zero (a candidate does not play itself).
    """
    y = labels[:, :, None], labels[:, None, :]
    played = ~np.isnan(y[0]) & ~np.isnan(y[1])
    played &= ~np.eye(labels.shape[1], dtype=bool)[None]
    wins = np.where(y[0] > y[1], 1.0, np.where(y[0] == y[1], 0.5, 0.0))
    return np.where(played, wins, 0.0), played.astype(np.float64)


def bradley_terry(wins: np.ndarray, played: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Strengths (q x m, geometric mean 1) maximising sum_ij wins_ij log(p_i / (p_i + p_j)), per row.

    ``wins`` and ``played`` are q x m x m weighted counts (played symmetric);
    Hunter's MM update p_i <- W_i / sum_j n_ij / (p_i + p_j) increases the
    likelihood at every step. Every pair needs some games (the prior sees to it).
    """
    total_wins = wins.sum(axis=2)
    p = np.ones(total_wins.shape)
    for _ in range(max_iter):
        pair_sums = p[:, :, None] + p[:, None, :]
        new = total_wins / (played / pair_sums).sum(axis=2)
        new /= np.exp(np.log(new).mean(axis=1, keepdims=True))
        done = np.max(np.abs(new - p) / p) < tol
        p = new
        if done:
            break
    return p


def win_rates(strengths: np.ndarray) -> np.ndarray:
    """Each candidate's mean probability of beating each other candidate (q x m, in [0, 1])."""
    m = strengths.shape[1]
    beats = strengths[:, :, None] / (strengths[:, :, None] + strengths[:, None, :])
    return (beats.sum(axis=2) - 0.5) / (m - 1)  # the diagonal adds p / 2p = 0.5


@register
class SimilarityRankingRouter(DerivedState, Router):
    """Bradley-Terry ranking of the candidates from training prompts weighted by similarity."""

    name = "sw-ranking"
    inputs = "embeddings"

    def __init__(self, base: float | None = None, prior: float = 1.0, max_iter: int = 200, tol: float = 1e-9) -> None:
        self.base = base
        self.prior = prior
        self.max_iter = max_iter
        self.tol = tol

    def check_params(self) -> None:
        if self.base is not None:
            check_number(self.name, "base", self.base, 1.0, 1e12)
        # A positive prior keeps every strength finite; see the module docstring.
        check_number(self.name, "prior", self.prior, 1e-6, 1e6)
        check_integer(self.name, "max_iter", self.max_iter, 1, 100_000)
        check_number(self.name, "tol", self.tol, 0.0, 1.0)

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> SimilarityRankingRouter:
        self.check_params()
        x = embeddings_of(prompts, self.name)
        y = check_labels(labels, len(x))
        wins, played = pairwise_outcomes(y)
        m = y.shape[1]
        self.train_embeddings_ = unit_rows(x).astype(np.float32)
        self.train_wins_ = wins.reshape(len(x), m * m).astype(np.float32)
        self.train_played_ = played.reshape(len(x), m * m).astype(np.float32)
        self.train_means_ = column_means(y)
        # Built once here and read by every prediction.
        self._train_vectors()
        self._tables()
        val = validation_arrays(validation, self.name, x.shape[1], m)
        bases = grid(self.base, BASE_GRID, DEFAULT_BASE, val is not None)
        if len(bases) > 1:
            sims = self._similarities(val[0])
            chosen = pick([setting_sums(self._rank(sims, float(b)), val[1]) for b in bases])
            self.base_ = float(bases[chosen])
        else:
            self.base_ = float(bases[0])
        return self

    def _train_vectors(self) -> np.ndarray:
        """The unit training vectors as float64 (what similarities are computed in)."""
        return derived(self, "train64", (self.train_embeddings_,), lambda e: e.astype(np.float64))

    def _similarities(self, x: np.ndarray) -> np.ndarray:
        return unit_rows(x).astype(np.float64) @ self._train_vectors().T

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The training prompts' wins and games as float64 (what the weighted sums are computed in)."""
        if 2 * (self.train_wins_.size + self.train_played_.size) * 8 > _CACHED_TABLES_BYTES:
            return self.train_wins_.astype(np.float64), self.train_played_.astype(np.float64)
        return derived(self, "tables64", (self.train_wins_, self.train_played_),
                       lambda w, p: (w.astype(np.float64), p.astype(np.float64)))

    def _rank(self, sims: np.ndarray, base: float) -> np.ndarray:
        """Win rates (q x m) for query rows with these similarities to the training prompts."""
        m = len(self.train_means_)
        if m == 1:
            return np.tile(self.train_means_, (len(sims), 1))
        off_diagonal = 1.0 - np.eye(m)
        train_wins, train_played = self._tables()
        out = np.empty((len(sims), m))
        for start in range(0, len(sims), _BLOCK_ROWS):
            w = similarity_weights(sims[start : start + _BLOCK_ROWS], base)
            wins = (w @ train_wins).reshape(-1, m, m)
            played = (w @ train_played).reshape(-1, m, m)
            wins += 0.5 * float(self.prior) * off_diagonal
            played += float(self.prior) * off_diagonal
            strengths = bradley_terry(wins, played, int(self.max_iter), float(self.tol))
            out[start : start + len(w)] = win_rates(strengths)
        return out

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("train_wins_")
        x = embeddings_of(prompts, self.name, self.train_embeddings_.shape[1])
        out = np.empty((len(x), len(self.train_means_)))
        # Similarities in blocks: all of them at once would be test x train doubles.
        for start in range(0, len(x), _BLOCK_ROWS):
            out[start : start + _BLOCK_ROWS] = self._rank(self._similarities(x[start : start + _BLOCK_ROWS]), self.base_)
        return out


def similarity_weights(sims: np.ndarray, base: float) -> np.ndarray:
    """Each training prompt's weight ``base ** (s / s_max)`` per query row, scaled to sum to the training prompts.

    A row with no positive similarity gets equal weights (see the module docstring).
    """
    top = sims.max(axis=1, keepdims=True)
    informative = top > 0
    w = np.where(informative, base ** (sims / np.where(informative, top, 1.0)), 1.0)
    return w * (w.shape[1] / w.sum(axis=1, keepdims=True))
