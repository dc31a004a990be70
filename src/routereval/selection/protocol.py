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

**Reference protocols** (``Settings.references``). ``loto`` (the default) is
step 1 above: the held-out task is kept out of the first pass entirely, so
nothing about d' but its unlabelled prompts reaches its choice. ``published``
is the scheme of the authors' code: the reference pairs come from one
leave-one-task-out pass over *all* tasks, so the pool of the predictor that
scores d_j still holds d' with its labels (and u(d_j) is measured against a
pool holding d'); d''s own pair is left out. It assumes the new task's labels
are available while the references are built, which is true when replaying a
benchmark and never for a new task; it is here to compare with published
numbers. ``Settings.pool_alphas`` pools the reference pairs of every alpha of
the run into one set for the Nadaraya-Watson estimate at each alpha, as the
authors' code does (pairs made with revealed prompts of their own task then
inform p at alpha = 0 and the other way round); off by default, so that p at
each alpha describes the predictor in that regime only.

**Ties** are settled by :func:`routereval.selection.scores.pick` (towards BMA,
then the best mean training accuracy, then the dataset's model order) on exact
scores, and each fold keeps the :class:`~routereval.selection.scores.Pick` of
every method, so a tie is reported, never hidden in a rounding.

**Per-prompt routing** (the paper's pointwise variant) is computed in every
fold from the same estimates: each unlabelled prompt of d' goes to the
candidate with the highest g_m(x) among those with a record on it (a record's
existence is not a label), ties by the same rule. With kNN, g is a ratio of
small integers, whose float values are equal exactly when the ratios are, so
comparing them as floats is exact.

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
from fractions import Fraction

import numpy as np

from routereval.errors import ConfigError
from routereval.selection import scores as sc
from routereval.selection.data import TaskData
from routereval.selection.neighbours import TaskNeighbours
from routereval.selection.predictors import CorrectnessPredictor, KNNPredictor, fresh

METHODS = ("S1", "S2", "S3", "S3 (true p)", "BMA", "Oracle")
POINTWISE = "Pointwise"
MAX_REVEALED = 50
REFERENCES = ("loto", "published")


@dataclass(frozen=True)
class Settings:
    """The published numbers, as defaults."""

    n_descriptor: int = 19
    bandwidth: float = sc.BANDWIDTH
    n_draws: int = sc.N_DRAWS
    win_share: float = sc.WIN_SHARE
    max_revealed: int = MAX_REVEALED
    seed: int = 0
    references: str = "loto"  # or "published" (see the module docstring)
    pool_alphas: bool = False  # one set of reference pairs over every alpha of the run

    def __post_init__(self) -> None:
        if self.references not in REFERENCES:
            raise ConfigError(f"unknown reference protocol {self.references!r}; known: {', '.join(REFERENCES)}")


@dataclass
class References:
    """(descriptor, held-out predictor accuracy) pairs of a set of training tasks."""

    tasks: np.ndarray  # task indices
    u: np.ndarray  # descriptor per task
    accuracy: np.ndarray  # tasks x models: accuracy of gbar_m on the task (NaN: no record)

    def p(self, u: float, bandwidth: float) -> np.ndarray:
        """Estimated predictor accuracy per model at descriptor ``u``."""
        return sc.nadaraya_watson(self.u, self.accuracy, u, bandwidth)

    def without(self, task: int) -> References:
        """The pairs of every task but ``task``."""
        keep = self.tasks != task
        return References(self.tasks[keep], self.u[keep], self.accuracy[keep])

    @staticmethod
    def pooled(parts: Sequence[References]) -> References:
        """All pairs of several sets in one (a task may appear once per set)."""
        return References(
            np.concatenate([r.tasks for r in parts]),
            np.concatenate([r.u for r in parts]),
            np.vstack([r.accuracy for r in parts]),
        )


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
    picks: dict[str, sc.Pick] = field(default_factory=dict)  # method -> pick (tie, rule); S3 rows: of m*
    queries: np.ndarray | None = None  # the unlabelled prompts scored
    estimates: sc.Estimates | None = None  # g on the queries
    prompt_u: np.ndarray | None = None  # per query, mean distance to its nearest pool prompts
    references: References | None = None  # the pairs p was estimated from
    order: list[int] = field(default_factory=list)  # tie-break order of the candidates (BMA first)
    bma_exact: list = field(default_factory=list)  # exact mean training accuracy per model
    pointwise: np.ndarray | None = None  # per query, the model it is routed to (-1: none has a record)
    pointwise_accuracy: float = float("nan")  # mean correctness of the routed answers


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

    def estimate(self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None) -> sc.Estimates:
        """As :meth:`predict`, with the kNN's integer counts kept for exact scores."""
        if self.fast:
            return self.lists.predict_counts(queries, tuple(sorted(int(t) for t in pool_tasks)), extra)
        return sc.Estimates(self.predict(queries, pool_tasks, extra))

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

    def prompt_distances(
        self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None
    ) -> np.ndarray:
        """Per query, its mean distance to its nearest prompts of the pool (u is their mean)."""
        return self.lists.prompt_distances(queries, list(pool_tasks), extra)


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


class ReferenceBook:
    """The reference pairs for each (held-out task, alpha) under ``settings.references`` and
    ``settings.pool_alphas``; the published scheme's single pass is made once per alpha."""

    def __init__(self, engine: Engine, alphas: Sequence[float], settings: Settings) -> None:
        self.engine, self.alphas, self.settings = engine, list(alphas), settings
        self._all: dict[float, References] = {}

    def _one(self, task: int, alpha: float) -> References:
        n_tasks = self.engine.data.n_tasks
        if self.settings.references == "published":
            if alpha not in self._all:
                self._all[alpha] = reference_pairs(self.engine, list(range(n_tasks)), alpha, self.settings)
            return self._all[alpha].without(task)
        return reference_pairs(self.engine, [j for j in range(n_tasks) if j != task], alpha, self.settings)

    def for_task(self, task: int) -> dict[float, References]:
        """alpha -> the pairs that estimate p for ``task`` at that alpha."""
        own = {a: self._one(task, a) for a in self.alphas}
        if self.settings.pool_alphas and len(own) > 1:
            pooled = References.pooled(list(own.values()))
            return {a: pooled for a in own}
        return own


@dataclass
class Choice:
    """S1, S2, S3 of every model for one task (floats for display, exact for choosing), and the picks."""

    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    p: np.ndarray
    choices: dict[str, int]
    picks: dict[str, sc.Pick]  # S1, S2, and S3's m* (before the fallback)
    fallback: sc.Fallback


def choose(
    est: sc.Estimates,
    p: np.ndarray,
    bma_scores: Sequence[sc.Score],
    candidates: np.ndarray,
    rng: np.random.Generator,
    settings: Settings = Settings(),
) -> Choice:
    """Scores and choices from estimates (prompts x models) and predictor accuracies p.

    ``bma_scores``: exact mean training accuracy per model; its best candidate is
    BMA, and it orders tied candidates (see :func:`routereval.selection.scores.pick`).
    """
    cand = np.asarray(candidates, dtype=bool)
    order = sc.preference(bma_scores, cand)
    bma = order[0]
    e1, e2 = sc.s1_exact(est), sc.s2_exact(est)
    e3 = sc.s3_exact(e2, p)
    v1, v2, v3 = sc.to_float(e1), sc.to_float(e2), sc.to_float(e3)
    for v in (v1, v2, v3):
        v[~cand] = np.nan
    picks = {name: sc.pick(e, cand, order, bma_scores) for name, e in (("S1", e1), ("S2", e2), ("S3", e3))}
    fb = sc.with_fallback(
        picks["S3"].model, est.positives(), len(est.g), p, bma, rng, n_draws=settings.n_draws,
        win_share=settings.win_share,
    )
    choices = {"S1": picks["S1"].model, "S2": picks["S2"].model, "S3": fb.choice}
    return Choice(v1, v2, v3, p, choices, picks, fb)


def route_pointwise(g: np.ndarray, have: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """Per prompt, the model with the highest g among the ``order`` models with a record on it
    (``have``: prompts x models); ties to the earliest in ``order``; -1 where none has a record."""
    rank = np.full(g.shape[1], len(order), dtype=np.int64)
    rank[list(order)] = np.arange(len(order))
    usable = have & (rank < len(order))[None, :] & ~np.isnan(g)
    masked = np.where(usable, g, -np.inf)
    top = masked.max(axis=1, initial=-np.inf)
    best = np.where(usable & (masked == top[:, None]), rank[None, :], len(order))
    chosen_rank = best.min(axis=1)
    lookup = np.append(np.asarray(order, dtype=np.int64), -1)
    return lookup[chosen_rank]


def _bma_pick(bma_exact: Sequence[sc.Score], order: Sequence[int]) -> sc.Pick:
    """BMA as a pick: a tie for the best mean accuracy is settled by model order."""
    tied = tuple(sorted(m for m in order if bma_exact[m] == bma_exact[order[0]]))
    return sc.Pick(order[0], tied, "model order") if len(tied) > 1 else sc.Pick(order[0])


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
    candidates: np.ndarray | None = None,
    on_fold: Callable[[str], None] | None = None,
) -> list[FoldResult]:
    """Hold each task out in turn; one result per (task, alpha), tasks in order.

    ``candidates`` (bool per model) restricts the models that may be chosen
    (BMA and Oracle included); every model's records still train the
    predictors. A task on which no model is a candidate is skipped.
    ``on_fold(task)`` is called as each task is done.
    """
    if data.n_tasks < 3:
        raise ConfigError(
            f"leave-one-task-out needs at least 3 tasks (one held out, two for the reference pairs); "
            f"{data.name!r} has {data.n_tasks}"
        )
    predictor = predictor or KNNPredictor()
    engine = Engine(data, predictor, settings.n_descriptor)
    book = ReferenceBook(engine, alphas, settings)
    hits, counts = data.task_counts()
    have = counts > 0
    allowed = np.ones(data.n_models, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    results = []
    for t, name in enumerate(data.tasks):
        train = [j for j in range(data.n_tasks) if j != t]
        cand = have[train].any(axis=0) & have[t] & allowed
        if not cand.any():
            if on_fold:
                on_fold(name)
            continue
        rows = data.task_rows(t)
        bma_exact = sc.mean_accuracy_exact(hits[train], counts[train])
        order = sc.preference(bma_exact, cand)
        bma = order[0]
        bma_scores = np.where(cand, sc.to_float(bma_exact), np.nan)
        truth_exact = [Fraction(int(hits[t, m]), int(counts[t, m])) if cand[m] else None
                       for m in range(data.n_models)]
        truth = sc.to_float(truth_exact)
        oracle = sc.pick(truth_exact, cand, order, bma_exact)
        refs_by_alpha = book.for_task(t)
        for alpha in alphas:
            refs = refs_by_alpha[alpha]
            revealed, queries = reveal(data, t, alpha, settings)
            extra = revealed if len(revealed) else None
            prompt_u = engine.prompt_distances(queries, train, extra)
            u = float(prompt_u.mean())
            p_est = refs.p(u, settings.bandwidth)
            est = engine.estimate(queries, train, extra)
            p_true = sc.predictor_accuracy(est.g, data.correct[queries])
            key = int(round(alpha * 1e6))
            by_est = choose(est, p_est, bma_exact, cand, _rng(settings.seed, t, key, 0), settings)
            by_true = choose(est, p_true, bma_exact, cand, _rng(settings.seed, t, key, 1), settings)
            y = data.correct[queries]
            routed = route_pointwise(est.g, ~np.isnan(y), order)
            answered = routed >= 0
            pointwise_acc = (
                float(y[np.flatnonzero(answered), routed[answered]].mean(dtype=np.float64)) if answered.any() else float("nan")
            )
            results.append(
                FoldResult(
                    task=name,
                    task_index=t,
                    alpha=float(alpha),
                    n_prompts=len(rows),
                    n_revealed=len(revealed),
                    candidates=cand,
                    true_accuracy=truth,
                    scores={"S1": by_est.s1, "S2": by_est.s2, "S3": by_est.s3, "S3 (true p)": by_true.s3,
                            "BMA": bma_scores, "Oracle": truth},
                    choices={"S1": by_est.choices["S1"], "S2": by_est.choices["S2"], "S3": by_est.choices["S3"],
                             "S3 (true p)": by_true.choices["S3"], "BMA": bma, "Oracle": oracle.model},
                    descriptor=u,
                    p_estimate=p_est,
                    p_true=p_true,
                    m_star={"S3": by_est.fallback.m_star, "S3 (true p)": by_true.fallback.m_star},
                    win_rate={"S3": by_est.fallback.win_rate, "S3 (true p)": by_true.fallback.win_rate},
                    picks={"S1": by_est.picks["S1"], "S2": by_est.picks["S2"], "S3": by_est.picks["S3"],
                           "S3 (true p)": by_true.picks["S3"], "BMA": _bma_pick(bma_exact, order),
                           "Oracle": oracle},
                    queries=queries,
                    estimates=est,
                    prompt_u=prompt_u,
                    references=refs,
                    order=order,
                    bma_exact=bma_exact,
                    pointwise=routed,
                    pointwise_accuracy=pointwise_acc,
                )
            )
        if on_fold:
            on_fold(name)
    return results
