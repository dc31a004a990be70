"""Fit a router on a pool, let a policy choose on the test prompts, measure: the one evaluation path.

:func:`evaluate_pool` is what every entry point runs for one (pool, router):
``routereval bench`` and ``routereval sweep`` (through the grid machinery of
:mod:`routereval.sweeps`) and :func:`evaluate` in a notebook. It returns one
row (a dict): the metrics of :mod:`routereval.metrics` under plain names (the
paper's symbols head the tables: :mod:`routereval.evaluation.row_keys`), plus
the per-prompt scores (``positions``, ``per_prompt``) from which
:mod:`routereval.evaluation.aggregate` makes means over groups and seeds with
joint intervals.

Row keys:

* ``mean_score`` (mu_o) with its 95% bootstrap interval ``mean_score_lo`` /
  ``mean_score_hi``; ``vs_reference`` (V_R) against ``reference_score``
  (mu_ref, from ``reference``); ``vs_best_single`` (V_B); ``proba_entropy``
  (E_p); ``choice_entropy`` (E_sel);
* ``n_test`` prompts scored, ``n_unscored`` test prompts that could not be
  (a possible choice has no record there; for the oracle family, any
  candidate has none);
* ``best_single_test``: the pool's best single model on the scored prompts
  (hindsight, V_B's denominator); ``best_single_train`` /
  ``vs_best_single_train`` (V_B_train): the model best on the training prompts
  (what a deployment can know) and the mean score against it on the same
  prompts;
* ``oracle_test`` and ``gap_closed`` = (mean_score - best_single_train) /
  (oracle_test - best_single_train): the share of the headroom above the
  deployable best single model that the router closes;
* ``mean_score_mc``, ``mean_score_mc_sd`` for r_o(p): the mean and spread of
  1,000 Monte Carlo runs beside the exact expectation.
* with ``costs`` (:class:`~routereval.records.costs.PoolCosts`):
  ``mean_cost``, ``total_cost``, ``cost_per_1k`` of the routed system on the
  test prompts and ``n_cost_unknown`` prompts left out of them
  (:func:`routereval.metrics.cost.cost_summary`). Policies weigh each
  candidate's mean training cost; the oracle family sees the test costs.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from routereval import metrics
from routereval.datasets.router_dataset import PoolDataset, RouterDatasets
from routereval.errors import ArgumentError
from routereval.evaluation.features import Features
from routereval.evaluation.reference import Reference
from routereval.evaluation.specs import SEED_PARAMETER, Contender, RouterSpec, contender
from routereval.metrics.core import DEFAULT_N_BOOT
from routereval.policies import OracleMix, Policy
from routereval.routers.base import Labelled, probabilities, reads, unfitted_copy
from routereval.routers.checks import check_matrix

if TYPE_CHECKING:
    from routereval.evaluation.aggregate import EvaluationResult

#: Monte Carlo runs of r_o(p), as RouterEval reports it beside the exact expectation.
MC_RUNS = 1000


def seeded(router: Any, seed: int, given: dict[str, Any] | None = None) -> Any:
    """Give ``seed`` to a router through its ``random_state`` parameter, unless the user set it."""
    if given and SEED_PARAMETER in given:
        return router
    if hasattr(router, "get_params") and SEED_PARAMETER in router.get_params(deep=False):
        router.set_params(**{SEED_PARAMETER: seed})
    return router


def fit_on_pool(router: Any, pool: PoolDataset, features: Features) -> None:
    """Fit ``router`` on the pool's training prompts, giving it the validation split where ``fit`` takes one."""
    train = features.prompts(pool.train.positions, scores=pool.train.scores)
    kwargs = {}
    if "validation" in inspect.signature(router.fit).parameters and len(pool.val):
        kwargs["validation"] = Labelled(features.prompts(pool.val.positions), pool.val.labels)
    _call(router, "fit", train, pool.train.labels, **kwargs)


def _call(router: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``router.method(*args)``, saying what it was given where it treated a ``Prompts`` as an array.

    A router written for arrays (``fit(X, y)``) fails deep inside numpy with
    "float() argument must be ..., not 'Prompts'"; the message names the fix.
    """
    try:
        return getattr(router, method)(*args, **kwargs)
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        if "Prompts" not in str(exc):
            raise
        raise TypeError(
            f"{type(router).__name__}.{method}() failed on its prompts ({exc}): {method} receives a "
            "routereval.routers.Prompts (fields embeddings, texts, scores, n), not an array; read "
            "prompts.embeddings, or wrap an estimator written for arrays with routereval.routers.from_sklearn(...)"
        ) from exc


def checked_quality(router: Any, prompts: Any, label: str, m: int) -> np.ndarray:
    """The router's n x m quality estimates, refused (ValueError naming it) unless finite and within [0, 1]."""
    quality = check_matrix(_call(router, "predict_quality", prompts), f"quality estimates of {label}",
                           n_rows=len(prompts), n_cols=m)
    if quality.size and (quality.min() < 0 or quality.max() > 1):
        raise ValueError(
            f"router {label} returned quality estimates outside [0, 1] ({quality.min():.3g} .. {quality.max():.3g}); "
            "predict_quality must give each candidate's expected score (e.g. sigmoid of a logit)"
        )
    return quality


def evaluate_pool(
    entry: Contender,
    pool: PoolDataset,
    features: Features,
    reference: Reference,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    costs: Any | None = None,
) -> dict[str, Any]:
    """Fit ``entry``'s router on the pool's train part, choose on its test part, and measure."""
    started = time.perf_counter()
    scores = pool.test.scores
    positions = pool.test.positions
    train_means = metrics.single_means(pool.train.scores)
    row: dict[str, Any] = {}
    # -- costs (optional): what a policy weighs, and what the test prompts cost --
    test_costs = None if costs is None else np.asarray(costs.test, dtype=float)
    weigh: dict[str, Any] = {}
    if costs is not None:
        from routereval.records.costs import mean_costs_per_model

        per_model = mean_costs_per_model(costs.train)
        # A candidate without any known cost leaves the policy without costs: a policy that needs
        # them says so; argmax and the metrics do not need them (the cost columns count unknowns).
        if np.isfinite(per_model).all():
            weigh = {"costs": per_model}
    if entry.router is None:
        # The oracle family reads the true scores: only prompts where every candidate has a record.
        complete = ~np.isnan(scores).any(axis=1)
        scores, positions = scores[complete], positions[complete]
        if test_costs is not None:
            test_costs = test_costs[complete]
            weigh = {"costs": test_costs}
        choice = entry.policy.choose(None, scores=scores, **weigh)
        pi = entry.policy.proba(scores)
        if isinstance(entry.policy, OracleMix) and 0 < entry.policy.p < 1:
            runs = entry.policy.sample(scores, runs=MC_RUNS, seed=seed)
            mc = scores[np.arange(len(scores))[None, :], runs].mean(axis=1) if len(scores) else np.full(1, np.nan)
            row.update(mean_score_mc=float(mc.mean()), mean_score_mc_sd=float(mc.std()))
    else:
        fit_on_pool(entry.router, pool, features)
        test = features.prompts(positions)
        quality = checked_quality(entry.router, test, entry.label, pool.m)
        choice = entry.policy.choose(quality, prefer=train_means, **weigh)
        pi = probabilities(entry.router, test, quality)
    seconds = time.perf_counter() - started

    per_prompt = metrics.per_prompt_score(scores, choice)
    scored = ~np.isnan(per_prompt)
    lo, hi = metrics.bootstrap_interval(per_prompt, n_boot=n_boot, seed=seed)
    on_scored = scores[scored]
    against = metrics.against_best_single(scores, choice, train_means)
    mu, best_train_score = against.mean_score, against.best_single_train
    selection = metrics.selection_histogram(choice) if len(choice) else np.zeros(pool.m)
    row = {
        "dataset": pool.dataset,
        "benchmark": pool.benchmark,
        "m": pool.m,
        "group": pool.group,
        "router": entry.label,
        "policy": entry.policy.label,
        "mean_score": mu,
        "mean_score_lo": lo,
        "mean_score_hi": hi,
        "vs_reference": metrics.vs_reference(mu, reference.value),
        "vs_best_single": metrics.vs_best_single(scores, choice) if scored.any() else float("nan"),
        "proba_entropy": metrics.proba_entropy(pi) if len(pi) else float("nan"),
        "choice_entropy": metrics.choice_entropy(choice) if len(choice) else float("nan"),
        "n_test": int(scored.sum()),
        "n_unscored": int(len(pool.test) - scored.sum()),
        "reference": reference.source,
        "reference_score": reference.value,
        "best_single_test": metrics.best_single_mean(on_scored) if len(on_scored) else float("nan"),
        "best_single_train": best_train_score,
        "best_single_train_model": pool.models[against.best_single_train_index],
        "vs_best_single_train": mu / best_train_score if best_train_score > 0 else float("nan"),
        "oracle_test": against.oracle,
        "gap_closed": against.gap_closed,
        "models": list(pool.models),
        "selection": selection.tolist(),
        "seconds": seconds,
        **row,
        **({} if test_costs is None else metrics.cost_summary(test_costs, choice)),
        "positions": positions,
        "per_prompt": per_prompt,
    }
    return row


def _contenders_of(router: Any, policy: Policy | None, seed: int) -> list[Contender]:
    """One router as given to :func:`evaluate` (object, name, spec or policy) -> what is evaluated.

    A name may list several routers (``"knn,best-single"``, ``"baselines"``): one contender each.
    """
    if isinstance(router, RouterSpec):
        entry = contender(router, policy)
        if entry.router is not None:
            seeded(entry.router, seed, router.params)
        return [entry]
    if isinstance(router, str):
        from routereval.evaluation.specs import parse_routers

        specs = parse_routers(router)
        if not specs:
            raise ArgumentError(f"router: {router!r} names no router")
        return [c for spec in specs for c in _contenders_of(spec, policy, seed)]
    if isinstance(router, Policy) and router.needs_scores:
        return [Contender(router.label, None, router)]
    from routereval.policies import argmax

    what = type(router).__name__
    if not callable(getattr(router, "predict_quality", None)) and callable(getattr(router, "fit", None)) and \
            any(callable(getattr(router, m, None)) for m in ("predict", "predict_proba")):
        raise TypeError(f"{what} looks like a scikit-learn estimator (fit(X, y) and predict(X) on arrays), not a "
                        f"router; wrap it with routereval.routers.from_sklearn({what}(...))")
    for method in ("fit", "predict_quality"):
        if not callable(getattr(router, method, None)):
            raise TypeError(f"{what} has no {method}(): a router needs fit() and predict_quality()")
    label = getattr(router, "name", "") or what
    return [Contender(label, seeded(unfitted_copy(router), seed), policy or argmax())]


def contenders(routers: Any, policy: Policy | None = None, seed: int = 0) -> list[Contender]:
    """What :func:`evaluate` measures, in the order given, each under a label of its own.

    ``routers`` is one router (object, name, :class:`RouterSpec` or oracle-family
    policy), a list of them, or a dict label -> router (the label is what rows
    report). Two routers under one label would be averaged into one table
    cell, so that is refused with the fix (a dict).
    """
    if isinstance(routers, dict):
        found = []
        for label, router in routers.items():
            if not isinstance(label, str) or not label:
                raise ArgumentError(f"router: a dict's keys are the labels rows report, non-empty strings; got {label!r}")
            entries = _contenders_of(router, policy, seed)
            if len(entries) != 1:
                raise ArgumentError(f"router {label!r}: {router!r} names {len(entries)} routers; a dict entry is one")
            found.append(replace(entries[0], label=label))
    elif isinstance(routers, (list, tuple)):
        if not routers:
            raise ArgumentError("router: the list is empty; give at least one router")
        found = [c for router in routers for c in _contenders_of(router, policy, seed)]
    else:
        found = _contenders_of(routers, policy, seed)
    labels = [c.label for c in found]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ArgumentError(f"router: {', '.join(map(repr, twice))} named more than once; rows are told apart by "
                            "label, so give each its own: rv.evaluate({'a': router_a, 'b': router_b}, ...)")
    return found


def evaluate(
    router: Any,
    data: RouterDatasets | PoolDataset,
    X: np.ndarray | None = None,
    *,
    policy: Policy | None = None,
    reference: str | float | None = None,
    encoder: str = "auto",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationResult:
    """Fit and measure ``router`` (or several) on every pool of ``data``.

    ``router`` is a router object (anything with ``fit`` and
    ``predict_quality``; each pool gets a fresh unfitted copy; an estimator on
    arrays goes through :func:`routereval.routers.from_sklearn`), a registered
    name with parameters (``"knn:k=7"``), or an oracle-family policy. Several
    at once: a list (``["knn", "best-single", my_router]``), a dict
    label -> router, or a name listing several (``"knn,best-single"``); the
    result's rows and table follow the order given, and embeddings are
    computed once for all of them.
    ``X`` holds the embeddings of every prompt of the benchmark (row i =
    prompt i, from :func:`routereval.embed`); when a router needs them and
    ``X`` is None they are computed with ``encoder``. ``policy`` chooses from
    the estimates (argmax by default).
    """
    from routereval.evaluation.aggregate import EvaluationResult
    from routereval.evaluation.features import embed

    pools = [data] if isinstance(data, PoolDataset) else list(data.pools)
    entries = contenders(router, policy, seed)
    inputs = {"none" if entry.router is None else reads(entry.router) for entry in entries}
    texts = vectors = None
    if isinstance(data, RouterDatasets):
        bench = data.bench
        if "texts" in inputs:
            from routereval.evaluation.features import features_for

            texts = features_for(data, encoder, need_texts=True, need_vectors=False).texts
        if "embeddings" in inputs:
            vectors = X if X is not None else embed(data, encoder, progress=progress)
        ref = reference_for(data, reference)
    else:
        if inputs != {"none"} and X is None:
            raise ValueError("evaluating one PoolDataset needs X (the benchmark's embeddings)")
        vectors, bench = X, None
        ref = Reference(float(reference), f"given ({float(reference):g})") if reference is not None else \
            Reference(float("nan"), "none given")
    if vectors is not None and bench is not None and len(vectors) != bench.n_prompts:
        raise ValueError(f"X has {len(vectors)} rows; the benchmark has {bench.n_prompts} prompts (one row each)")
    features = Features(vectors, texts)
    rows = []
    for at, entry in enumerate(entries):
        for pool in pools:
            fresh = Contender(entry.label, None if entry.router is None else unfitted_copy(entry.router), entry.policy)
            row = evaluate_pool(fresh, pool, features, ref, n_boot=n_boot, seed=seed) | {"seed": seed}
            if len(entries) > 1:
                # Tables sort rows by this key (as a sweep's are): routers keep the order given, not the alphabet's.
                row["order"] = [0, at]
            rows.append(row)
    return EvaluationResult(rows, n_boot=n_boot, seed=seed)


def reference_for(data: RouterDatasets, given: str | float | None = None) -> Reference:
    """mu_ref of router datasets: chosen on test (faithful) or on train + val (clean), measured on test."""
    from routereval.evaluation.reference import resolve_reference

    test = data.split.test
    choose_on = test if data.protocol == "faithful" else np.sort(np.concatenate([data.split.train, data.split.val]))
    return resolve_reference(data.bench, given, choose_on=choose_on, measure_on=test)
