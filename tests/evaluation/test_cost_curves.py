"""Cost-quality curves: exactness against the policy, oracle dominance, a random router's APGR, the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from support.processes import REPO

from routereval import policies
from routereval.evaluation.curves import cost_quality, oracle_curve, router_curve, single_models
from routereval.metrics import cost as cm
from routereval.routers.base import Router


class RandomEstimates(Router):
    """A router that knows nothing: uniform random quality estimates (seeded)."""

    name = ""
    inputs = "none"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, prompts, labels, validation=None):
        self.m_ = labels.shape[1]
        self.rng_ = np.random.default_rng(self.random_state)
        return self

    def predict_quality(self, prompts):
        return self.rng_.random((len(prompts), self.m_))


def synthetic(n=300, m=6, seed=0):
    rng = np.random.default_rng(seed)
    skill = np.linspace(0.3, 0.9, m)
    scores = (rng.random((n, m)) < skill).astype(float)
    costs = np.exp(np.linspace(0, 4, m))[None, :] * rng.uniform(0.5, 1.5, (n, m))
    return scores, costs


def test_curve_points_are_the_policy_measured_on_the_truth():
    scores, costs = synthetic()
    rng = np.random.default_rng(1)
    quality = np.clip(scores * 0.6 + rng.random(scores.shape) * 0.4, 0, 1)
    decision = costs.mean(axis=0)
    curve = router_curve("r", quality, decision, scores, costs)
    rows = np.arange(len(scores))
    for k in (0, len(curve.lam) // 3, len(curve.lam) - 1):
        upper = curve.lam[k + 1] if k + 1 < len(curve.lam) else curve.lam[k] * 2 + 1
        lam = 0.0 if k == 0 else (curve.lam[k] + upper) / 2
        chosen = policies.cost_aware(lam).rank(quality, decision)[:, 0]
        assert curve.cost[k] == pytest.approx(costs[rows, chosen].mean())
        assert curve.quality[k] == pytest.approx(scores[rows, chosen].mean())


def test_oracle_curve_dominates_every_router_and_single_model():
    scores, costs = synthetic()
    oracle = oracle_curve(scores, costs)
    rng = np.random.default_rng(2)
    grid = np.linspace(costs.min(), costs.max(), 400)
    for noise in (0.0, 0.3, 1.0):
        quality = np.clip(scores * (1 - noise) + rng.random(scores.shape) * noise, 0, 1)
        curve = router_curve("r", quality, costs.mean(axis=0), scores, costs)
        assert (curve.quality <= cm.hull_height(oracle.hull, np.maximum(curve.cost, oracle.hull[0, 0])) + 1e-12).all()
        mine = cm.hull_height(curve.hull, grid)
        theirs = cm.hull_height(oracle.hull, grid)
        ok = ~np.isnan(mine)
        assert (mine[ok] <= theirs[ok] + 1e-12).all()
    singles = single_models([str(i) for i in range(6)], scores, costs)
    assert (singles["quality"] <= cm.hull_height(oracle.hull, singles["cost"].to_numpy()) + 1e-12).all()
    # The hull's top vertex (lambda just above 0) is the cheapest correct model on every prompt.
    best = policies.CheapestOracle().choose(scores=scores, costs=costs).argmax(axis=1)
    rows = np.arange(len(scores))
    assert oracle.hull[-1, 0] == pytest.approx(costs[rows, best].mean())
    assert oracle.hull[-1, 1] == pytest.approx(scores.max(axis=1).mean())


def test_pareto_front_of_single_models_by_hand():
    scores = np.array([[1, 1, 0, 1], [0, 1, 0, 1.0]])
    costs = np.array([[1, 2, 3, 2.0], [1, 2, 3, 2.0]])
    # Means: (1, .5) (2, 1) (3, 0) (2, 1): model 2 is dominated; models 1 and 3 tie and both stay on the front.
    front = single_models(["a", "b", "c", "d"], scores, costs)["pareto"].tolist()
    assert front == [True, True, False, True]


@pytest.fixture
def gsm8k(mirror):
    from routereval.sources import routellm

    local = {f.path: mirror / f.mirror_path for f in routellm.GSM8K_SPEC.files}
    return routellm.build_gsm8k(local)


class NoEstimateForTheFirst(RandomEstimates):
    """Estimates for every candidate but the first (NaN there), as a predictor gives for a model without records."""

    def predict_quality(self, prompts):
        quality = super().predict_quality(prompts)
        quality[:, 0] = np.nan
        return quality


def test_a_curve_refuses_estimates_that_are_not_finite_as_evaluate_does():
    from support.priced import costly_benchmark

    with pytest.raises(ValueError, match=r"quality estimates of .*NoEstimateForTheFirst holds a non-finite value"):
        cost_quality(costly_benchmark(), [f"{__name__}:NoEstimateForTheFirst"], unit="dollars", folds=2)


@pytest.mark.slow  # real data end to end
def test_random_router_apgr_is_one_half_on_a_real_pair(gsm8k):
    # 1,319 GSM8K prompts, every one held out once over 10 folds; cost = calls to the strong model.
    values = []
    for seed in range(5):
        study = cost_quality(gsm8k, [f"{__name__}:RandomEstimates:random_state={seed}", "random", "oracle"],
                             unit="calls", folds=10)
        pair = {r["router"]: r for r in study.pair}
        values.append(next(v["APGR_calls"] for k, v in pair.items() if "RandomEstimates" in k))
        assert pair["random"]["APGR_calls"] == pytest.approx(0.5)  # its exact point lies on the line
        assert pair["oracle"]["APGR_calls"] > 0.9
    # The hull of a random walk between the two models' points sits slightly above the line: the excess is
    # of the order of one standard error of PGR (sqrt(n) prompts' noise over the gap), here about 0.05.
    gap = study.singles["quality"].max() - study.singles["quality"].min()
    se = 0.5 / np.sqrt(len(study.singles) * 0 + study.n_test) / gap
    assert abs(np.mean(values) - 0.5) < 3 * se, (values, se)


def test_pair_prices_and_tokens(gsm8k):
    models = gsm8k.models.set_index("name")
    assert models.loc["gpt-4-1106-preview", "input_price"] == 24.7
    assert models.loc["mistralai/Mixtral-8x7B-Instruct-v0.1", "output_price"] == 0.24
    assert not np.isnan(gsm8k.output_tokens).any() and (gsm8k.output_tokens > 0).mean() > 0.99
    study = cost_quality(gsm8k, ["random", "oracle"], unit="dollars", folds=1)
    assert {"APGR_dollars", "CPT50_dollars"} <= set(study.pair[0])


@pytest.mark.slow  # real data end to end
def test_curve_command_writes_every_file(mirror, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), ROUTEREVAL_MIRROR=str(mirror))
    out = tmp_path / "curve"
    run = subprocess.run(
        [sys.executable, "-c", "from routereval.cli import main; main()", "curve", "--dataset", "routellm-gsm8k",
         "--routers", "best-single,oracle,random", "--cost", "calls", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    for name in ("curves.json", "curves.csv", "metrics.csv", "cost-quality.png", "cost-quality.svg"):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "curves.json").read_text())
    assert doc["unit"] == "calls" and doc["n_test"] == 1319
    assert "APGR_calls" in (out / "metrics.csv").read_text()
    bad = subprocess.run(
        [sys.executable, "-c", "from routereval.cli import main; main()", "curve", "--dataset", "routellm-gsm8k",
         "--cost", "euros", "--out", str(out)], capture_output=True, text=True, env=env, timeout=120,
    )
    assert bad.returncode == 1 and "--cost must be one of" in bad.stderr and "Traceback" not in bad.stderr


def test_folds_hold_out_every_prompt_once():
    import pandas as pd

    from routereval.evaluation.curves import study_splits
    from routereval.records import Benchmark

    bench = Benchmark.from_values("t", np.zeros((23, 2)), pd.DataFrame({"prompt_id": [str(i) for i in range(23)]}),
                                  ["a", "b"])
    splits = study_splits(bench, folds=5)
    held = np.sort(np.concatenate([s.test for s in splits]))
    assert held.tolist() == list(range(23))
    assert all(len(np.intersect1d(s.train, s.test)) == 0 and len(s.train) + len(s.test) == 23 for s in splits)
    assert study_splits(bench, folds=1)[0].sizes() == (18, 2, 3)
