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
fitted once per pool, D(D-1)/2 + D fits (see :class:`~routereval.selection.engine.Engine`). For the MLP of
the paper that is hours on a 2-core CPU for MMLU-Pro (one 10-epoch fit on
11,646 prompts takes several minutes there): use it on smaller data or with patience.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from routereval.errors import ConfigError
from routereval.selection import scores as sc
from routereval.selection.choice import Choice, bma_pick, choose, route_pointwise
from routereval.selection.data import TaskData
from routereval.selection.engine import Engine
from routereval.selection.predictors import CorrectnessPredictor, KNNPredictor
from routereval.selection.references import ReferenceBook, References, n_revealed, reference_pairs, reveal, task_rng
from routereval.selection.settings import MAX_REVEALED, REFERENCES, Settings

METHODS = ("S1", "S2", "S3", "S3 (true p)", "BMA", "Oracle")
POINTWISE = "Pointwise"


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
            by_est = choose(est, p_est, bma_exact, cand, task_rng(settings.seed, t, key, 0), settings)
            by_true = choose(est, p_true, bma_exact, cand, task_rng(settings.seed, t, key, 1), settings)
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
                           "S3 (true p)": by_true.picks["S3"], "BMA": bma_pick(bma_exact, order),
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


__all__ = [
    "MAX_REVEALED", "METHODS", "POINTWISE", "REFERENCES", "Choice", "Engine", "FoldResult", "ReferenceBook",
    "References", "Settings", "choose", "leave_one_task_out", "n_revealed", "reference_pairs", "reveal",
    "route_pointwise",
]
