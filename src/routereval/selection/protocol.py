"""Leave one task out: choose a model for each task in turn from the other tasks' records.

For each held-out task d' (the "new task"), with T the other tasks:

1. Reference pairs: a first leave-one-task-out pass over T. For each d_j in T
   a predictor learns from T minus d_j and is scored on d_j, giving
   (u(d_j), accuracy of gbar_m on d_j) for every model m.
2. The predictor learns from all of T and estimates g on d''s prompts;
   u(d') is their mean distance to T; p(d', m) is the Nadaraya-Watson
   estimate at u(d') from the reference pairs.
3. S1, S2, S3 and the fallback choose; BMA is the best mean of per-task
   accuracies over T; "S3 (true p)" uses the real accuracy of gbar_m on d'
   (including in its fallback test); Oracle is the best model on d'.

Candidates for d' are the models with a record in T (something to learn
from) and in d' (something to be measured on).

**Alpha variant.** alpha > 0 reveals r = min(floor(alpha n), 50) labelled
prompts of d' (n = its prompts after deduplication) and adds them to the
predictor's pool. Which prompts: the first r of a permutation of d' seeded by
(seed, task), so the revealed sets are nested as alpha grows. The revealed
prompts are left out of the scores S1-S3 (their labels are known; as queries
they would find themselves), of "true p" and of the descriptor's queries, but
the chosen model is always measured on the **whole** task, as it would be
deployed on it, so every alpha is measured on the same prompts and BMA and
Oracle do not move with alpha. S3's p must describe the predictor in the same
regime, so the reference pairs are built the same way: each training task d_j,
when left out, reveals its own r_j prompts to the pool (the same seeded
permutation it uses as a held-out task), and the descriptors u(d_j) and u(d')
count the revealed prompts as part of the pool.

With the kNN predictor every search is answered from per-task neighbour lists
built once (:mod:`routereval.selection.neighbours`); other predictors are
fitted once per pool, D(D-1)/2 + D fits (see :class:`Engine`). For the MLP of
the paper that is hours on a 2-core CPU for MMLU-Pro (one 10-epoch fit on
11,646 prompts takes several minutes there): use it on smaller data or with patience.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from routereval.errors import ConfigError
from routereval.selection import scores as sc
from routereval.selection.data import TaskData
from routereval.selection.neighbours import TaskNeighbours
from routereval.selection.predictors import CorrectnessPredictor, KNNPredictor, fresh

METHODS = ("S1", "S2", "S3", "S3 (true p)", "BMA", "Oracle")
MAX_REVEALED = 50


@dataclass(frozen=True)
class Settings:
    """The published numbers, as defaults."""

    n_descriptor: int = 19
    bandwidth: float = sc.BANDWIDTH
    n_draws: int = sc.N_DRAWS
    win_share: float = sc.WIN_SHARE
    max_revealed: int = MAX_REVEALED
    seed: int = 0


@dataclass
class References:
    """(descriptor, held-out predictor accuracy) pairs of a set of training tasks."""

    tasks: np.ndarray  # task indices
    u: np.ndarray  # descriptor per task
    accuracy: np.ndarray  # tasks x models: accuracy of gbar_m on the task (NaN: no record)

    def p(self, u: float, bandwidth: float) -> np.ndarray:
        """Estimated predictor accuracy per model at descriptor ``u``."""
        return sc.nadaraya_watson(self.u, self.accuracy, u, bandwidth)


@dataclass
class FoldResult:
    """Everything decided and measured for one held-out task at one alpha."""

    task: str
    task_index: int
    alpha: float
    n_prompts: int  # prompts of the task after deduplication
    n_revealed: int
    candidates: np.ndarray  # bool per model
    true_accuracy: np.ndarray  # per model on the whole task (NaN: not a candidate)
    scores: dict[str, np.ndarray]  # method -> score per model (NaN: not a candidate)
    choices: dict[str, int]  # method -> chosen model
    descriptor: float
    p_estimate: np.ndarray
    p_true: np.ndarray
    m_star: dict[str, int] = field(default_factory=dict)  # S3 rows: argmax before the fallback
    win_rate: dict[str, float | None] = field(default_factory=dict)


class Engine:
    """Correctness estimates and descriptors for (query prompts, pool of tasks).

    The kNN predictor is answered from per-task neighbour lists. Any other
    predictor is fitted on the pool's prompts. A pool that leaves out two tasks
    is met twice in leave-one-task-out (holding out d' and scoring d_j, and the
    other way round), so one fit predicts both tasks and the second answer is
    kept until asked for: D(D-1)/2 + D fits instead of D^2.
    """

    def __init__(self, data: TaskData, predictor: CorrectnessPredictor, n_descriptor: int = 19) -> None:
        if data.vectors is None:
            raise ValueError("attach prompt vectors to the task data first")
        self.data = data
        self.predictor = predictor
        self.fast = type(predictor) is KNNPredictor
        self.lists = TaskNeighbours(
            data.vectors,
            data.task_of,
            data.correct if self.fast else None,
            k=int(predictor.k) if self.fast else 1,
            n_descriptor=n_descriptor,
        )
        self._kept: dict[tuple[tuple[int, ...], int], np.ndarray] = {}
        self.n_fits = 0

    def predict(self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None) -> np.ndarray:
        """g (queries x models) learned from the prompts of ``pool_tasks`` plus the ``extra`` prompts."""
        pool = tuple(sorted(int(t) for t in pool_tasks))
        if self.fast:
            return self.lists.predict(queries, pool, extra)
        data = self.data
        whole = len(queries) > 0 and len(np.unique(data.task_of[queries])) == 1 and np.array_equal(
            queries, data.task_rows(int(data.task_of[queries[0]]))
        )
        if extra is None and whole and (pool, int(data.task_of[queries[0]])) in self._kept:
            return self._kept.pop((pool, int(data.task_of[queries[0]])))
        rows = np.flatnonzero(np.isin(data.task_of, pool))
        if extra is not None:
            rows = np.concatenate([rows, np.asarray(extra, dtype=np.int64)])
        model = fresh(self.predictor).fit(data.vectors[rows], data.correct[rows])
        self.n_fits += 1
        if extra is None and whole:
            asked = int(data.task_of[queries[0]])
            for t in sorted(set(range(data.n_tasks)) - set(pool) - {asked}):
                self._kept[(pool, t)] = model.predict(data.vectors[data.task_rows(t)])
        return model.predict(data.vectors[queries])

    def descriptor(self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None) -> float:
        """u: mean distance of the queries to their nearest prompts of the pool (and ``extra``)."""
        return self.lists.descriptor(queries, list(pool_tasks), extra)


def reveal(data: TaskData, task: int, alpha: float, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """(revealed, unlabelled) prompts of ``task`` at ``alpha``: the first r of a permutation seeded by (seed, task)."""
    rows = data.task_rows(task)
    order = _rng(settings.seed, task).permutation(len(rows))
    r = n_revealed(alpha, len(rows), settings.max_revealed)
    return rows[np.sort(order[:r])], rows[np.sort(order[r:])]


def reference_pairs(
    engine: Engine, train_tasks: Sequence[int], alpha: float = 0.0, settings: Settings = Settings()
) -> References:
    """Leave each training task out of the others in turn: its descriptor and the held-out accuracy of gbar.

    At ``alpha`` > 0 each left-out training task reveals its own labelled prompts
    to the pool, as the new task does, so the references describe the same regime.
    """
    data = engine.data
    if len(train_tasks) < 2:
        raise ConfigError("reference pairs need at least 2 training tasks")
    u, acc = [], []
    for j in train_tasks:
        pool = [t for t in train_tasks if t != j]
        revealed, queries = reveal(data, j, alpha, settings)
        extra = revealed if len(revealed) else None
        g = engine.predict(queries, pool, extra)
        acc.append(sc.predictor_accuracy(g, data.correct[queries]))
        u.append(engine.descriptor(queries, pool, extra))
    return References(np.asarray(train_tasks), np.asarray(u), np.vstack(acc))


@dataclass
class Choice:
    """S1, S2, S3 of every model for one task, and what each picks."""

    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    p: np.ndarray
    choices: dict[str, int]
    fallback: sc.Fallback


def choose(
    g: np.ndarray,
    p: np.ndarray,
    bma: int,
    candidates: np.ndarray,
    rng: np.random.Generator,
    settings: Settings = Settings(),
) -> Choice:
    """Scores and choices from estimates g (prompts x models) and predictor accuracies p."""
    v1, v2 = sc.s1(g), sc.s2(g)
    v3 = sc.s3(v2, p)
    for v in (v1, v2, v3):
        v[~candidates] = np.nan
    fb = sc.with_fallback(v3, g, p, bma, candidates, rng, n_draws=settings.n_draws, win_share=settings.win_share)
    picks = {"S1": sc.argmax_among(v1, candidates), "S2": sc.argmax_among(v2, candidates), "S3": fb.choice}
    return Choice(v1, v2, v3, p, picks, fb)


def n_revealed(alpha: float, n: int, max_revealed: int = MAX_REVEALED) -> int:
    """min(floor(alpha n), max_revealed), leaving at least one prompt unlabelled."""
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha}")
    # The small epsilon keeps floor(0.29 * 100) at 29 despite binary rounding.
    return max(0, min(math.floor(alpha * n + 1e-9), int(max_revealed), n - 1))


def _rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *[int(p) for p in parts]])


def leave_one_task_out(
    data: TaskData,
    predictor: CorrectnessPredictor | None = None,
    *,
    alphas: Sequence[float] = (0.0,),
    settings: Settings = Settings(),
    on_fold: Callable[[str], None] | None = None,
) -> list[FoldResult]:
    """Hold each task out in turn; one result per (task, alpha), tasks in order.

    A task on which no model is a candidate is skipped. ``on_fold(task)`` is
    called as each task is done.
    """
    if data.n_tasks < 3:
        raise ConfigError(
            f"leave-one-task-out needs at least 3 tasks (one held out, two for the reference pairs); "
            f"{data.name!r} has {data.n_tasks}"
        )
    predictor = predictor or KNNPredictor()
    engine = Engine(data, predictor, settings.n_descriptor)
    task_acc = data.task_accuracy()
    have = ~np.isnan(task_acc)
    results = []
    for t, name in enumerate(data.tasks):
        train = [j for j in range(data.n_tasks) if j != t]
        candidates = have[train].any(axis=0) & have[t]
        if not candidates.any():
            if on_fold:
                on_fold(name)
            continue
        rows = data.task_rows(t)
        bma_scores = sc.mean_task_accuracy(task_acc[train])
        bma_scores[~candidates] = np.nan
        bma = sc.argmax_among(bma_scores, candidates)
        truth = np.where(candidates, task_acc[t], np.nan)
        oracle = sc.argmax_among(truth, candidates)
        for alpha in alphas:
            refs = reference_pairs(engine, train, alpha, settings)
            revealed, queries = reveal(data, t, alpha, settings)
            extra = revealed if len(revealed) else None
            u = engine.descriptor(queries, train, extra)
            p_est = refs.p(u, settings.bandwidth)
            g = engine.predict(queries, train, extra)
            p_true = sc.predictor_accuracy(g, data.correct[queries])
            key = int(round(alpha * 1e6))
            est = choose(g, p_est, bma, candidates, _rng(settings.seed, t, key, 0), settings)
            true = choose(g, p_true, bma, candidates, _rng(settings.seed, t, key, 1), settings)
            results.append(
                FoldResult(
                    task=name,
                    task_index=t,
                    alpha=float(alpha),
                    n_prompts=len(rows),
                    n_revealed=len(revealed),
                    candidates=candidates,
                    true_accuracy=truth,
                    scores={"S1": est.s1, "S2": est.s2, "S3": est.s3, "S3 (true p)": true.s3,
                            "BMA": bma_scores, "Oracle": truth},
                    choices={"S1": est.choices["S1"], "S2": est.choices["S2"], "S3": est.choices["S3"],
                             "S3 (true p)": true.choices["S3"], "BMA": bma, "Oracle": oracle},
                    descriptor=u,
                    p_estimate=p_est,
                    p_true=p_true,
                    m_star={"S3": est.fallback.m_star, "S3 (true p)": true.fallback.m_star},
                    win_rate={"S3": est.fallback.win_rate, "S3 (true p)": true.fallback.win_rate},
                )
            )
        if on_fold:
            on_fold(name)
    return results
