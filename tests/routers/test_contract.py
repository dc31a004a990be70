"""The contract every registered router keeps, checked on a tiny learnable matrix.

Sixty hand-written prompts: thirty about mathematics, where candidate 2 is
right, and thirty about history, where candidate 0 is right; candidate 1 is
right on every fourth prompt whatever the topic. Embeddings are TF-IDF vectors
of the texts (L2-normalised). A router that reads the prompts can reach a mean
score of 1 on it; chance is about 0.42 and the best single candidate 0.5.
"""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from support import planted_topics
from support.requirements import SLOW_TO_FIT, router_params

from routereval import policies
from routereval.errors import ConfigError, NotFittedError
from routereval.routers import Labelled, Prompts, Router, all_routers, make_router

# Small enough that the text encoder fine-tunes in seconds; still learns the topics.
ROUTER_PARAMS: dict[str, dict] = {
    "mlc": {
        "epochs": 3, "batch_size": 8, "max_length": 24, "lr": 1e-4, "head_lr": 1e-2, "warmup_steps": 2,
        "n_threads": 1,
    },
    # IRT's default step budget suits thousands of prompts; forty need more steps to find the topics.
    "irt": {"max_steps": 3000},
}

MATH_SUBJECTS = [
    "the derivative of x squared plus three x",
    "the integral of sine x from zero to pi",
    "the square root of one hundred forty four",
    "the roots of the quadratic equation x squared minus five x plus six",
    "the sum of an arithmetic series with ten terms",
    "the determinant of a two by two matrix",
    "the probability of rolling two sixes with fair dice",
    "the limit of one over n as n grows",
    "the area of a circle with radius four",
    "the greatest common divisor of forty eight and eighteen",
]
MATH_TEMPLATES = ["Compute {}.", "Solve and show the algebra for {}.", "Using calculus or arithmetic, find {}."]
HISTORY_SUBJECTS = [
    "the fall of the Roman Empire",
    "the French Revolution of 1789",
    "the signing of the Magna Carta",
    "the reign of Queen Victoria",
    "the Ming dynasty in China",
    "the American Civil War",
    "the voyages of the Portuguese explorers",
    "the unification of Germany under Bismarck",
    "the Ottoman conquest of Constantinople",
    "the Meiji Restoration in Japan",
]
HISTORY_TEMPLATES = [
    "Describe the historical causes of {}.",
    "Which kings, leaders and armies shaped {}?",
    "Explain what historians say about {}.",
]


@dataclass(frozen=True)
class TinyMatrix:
    train: Prompts
    train_labels: np.ndarray
    test_texts: list[str]
    test_embeddings: np.ndarray
    test_scores: np.ndarray

    def test_prompts(self) -> Prompts:
        """What a router may see at prediction: never the true scores."""
        return Prompts(embeddings=self.test_embeddings, texts=self.test_texts)


def build_tiny_matrix() -> TinyMatrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, labels = [], []
    for subjects, templates, right in ((MATH_SUBJECTS, MATH_TEMPLATES, 2), (HISTORY_SUBJECTS, HISTORY_TEMPLATES, 0)):
        for subject in subjects:
            for template in templates:
                row = [0.0, 0.0, 0.0]
                row[right] = 1.0
                texts.append(template.format(subject))
                labels.append(row)
    labels = np.array(labels)
    labels[::4, 1] = 1.0
    emb = TfidfVectorizer().fit_transform(texts).toarray().astype(np.float32)  # rows already unit length
    order = np.random.default_rng(0).permutation(len(texts))
    tr, te = order[:40], order[40:]
    return TinyMatrix(
        train=Prompts(embeddings=emb[tr], texts=[texts[i] for i in tr], scores=labels[tr]),
        train_labels=labels[tr],
        test_texts=[texts[i] for i in te],
        test_embeddings=emb[te],
        test_scores=labels[te],
    )


NAMES = sorted(all_routers())
# Model choice's correctness predictors are routers too (not registered; named by class path); a small network
# learns the tiny matrix in under a second.
KNN_PREDICTOR = "routereval.selection.predictors:KNNPredictor"
MLP_PREDICTOR = "routereval.selection.predictors:MLPPredictor"
ROUTER_PARAMS[MLP_PREDICTOR] = {"hidden": 64, "epochs": 100, "batch_size": 8, "n_threads": 1}
CHECKED = [*NAMES, KNN_PREDICTOR, MLP_PREDICTOR]


def new_router(name: str) -> Router:
    return make_router(name, **ROUTER_PARAMS.get(name, {}))


def is_learned(cls: type[Router]) -> bool:
    """Routers that learn from the prompts (not a constant choice)."""
    return cls.inputs != "none"


def snapshot(value: object) -> object:
    """A comparable copy of an object's state: arrays and torch weights by value."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [snapshot(v) for v in value]
    module = sys.modules.get("torch")
    if module is not None:
        if isinstance(value, module.nn.Module):
            state = {k: v.detach().numpy().tobytes() for k, v in value.state_dict().items()}
            return ("module", value.training, [m.training for m in value.modules()], state)
        if isinstance(value, module.Tensor):
            return ("tensor", value.detach().numpy().tobytes())
    if isinstance(value, (str, int, float, bool, type(None), np.generic)):
        return value
    return ("pickled", pickle.dumps(value))


def outputs(router: Router, prompts: Prompts) -> dict[str, np.ndarray]:
    quality = router.predict_quality(prompts)
    return {
        "quality": quality,
        "proba": router.predict_proba(prompts),
        "choice": policies.argmax().choose(quality),
    }


@pytest.fixture(scope="module")
def tiny() -> TinyMatrix:
    return build_tiny_matrix()


def fit(router: Router, prompts: Prompts, labels: np.ndarray) -> Router:
    """Fit as an evaluation does: a router whose fit takes a validation split gets one (here, in-sample)."""
    if "validation" in inspect.signature(router.fit).parameters:
        return router.fit(prompts, labels, validation=Labelled(prompts, labels))
    return router.fit(prompts, labels)


@pytest.fixture(scope="module", params=router_params(CHECKED, slow=SLOW_TO_FIT))
def fitted(request, tiny):
    """(name, router, what fit returned, attribute names before fit), fitted once per module."""
    router = new_router(request.param)
    before = set(vars(router))
    returned = fit(router, tiny.train, tiny.train_labels)
    return request.param, router, returned, before


def test_the_registry_holds_the_baselines_without_a_list():
    assert {"best-single", "knn", "cluster", "linear", "mlp", "mlc"} <= set(NAMES)


@pytest.mark.parametrize("name", CHECKED)  # construction needs no optional package
def test_init_only_stores_parameters_and_clone_works(name):
    from sklearn.base import clone

    router = new_router(name)
    params = router.get_params()
    assert not [a for a in vars(router) if a.endswith("_")], "learned state before fit"
    copy = clone(router)
    assert type(copy) is type(router) and copy.get_params() == params
    assert repr(copy) == repr(router)
    with pytest.raises(ConfigError, match="no parameter 'no_such'"):
        router.set_params(no_such=1)


@pytest.mark.parametrize("name", [n for n in NAMES if "random_state" in make_router(n).get_params()])
def test_seeded_routers_take_the_seed_as_random_state(name):
    assert new_router(name).set_params(random_state=7).get_params()["random_state"] == 7


def test_every_router_with_randomness_has_random_state():
    # One parameter name for the seed, so that an evaluation's seed reaches every router.
    for name in ("cluster", "linear", "mlp", "mlc"):
        assert "random_state" in make_router(name).get_params(), name


def test_fit_returns_self_and_learned_state_ends_in_underscore(fitted):
    name, router, returned, before = fitted
    assert returned is router
    added = set(vars(router)) - before
    assert all(a.endswith("_") for a in added), f"{name}: non-underscore attributes set by fit: {added}"
    assert added, f"{name}: fit learned nothing"


@pytest.mark.parametrize("name", CHECKED)
def test_predict_before_fit_is_refused(name, tiny):
    with pytest.raises(NotFittedError, match="not fitted"):
        new_router(name).predict_quality(tiny.test_prompts())


def test_prediction_does_not_change_the_router(fitted, tiny):
    _, router, _, _ = fitted
    before = snapshot(vars(router))
    outputs(router, tiny.test_prompts())
    assert snapshot(vars(router)) == before


def test_quality_is_an_expected_score_in_0_1_and_pi_a_distribution(fitted, tiny):
    name, router, _, _ = fitted
    out = outputs(router, tiny.test_prompts())
    n, m = len(tiny.test_texts), tiny.train_labels.shape[1]
    for key in ("quality", "proba", "choice"):
        assert out[key].shape == (n, m), key
        assert np.all(np.isfinite(out[key])), key
    assert out["quality"].min() >= 0.0 and out["quality"].max() <= 1.0, f"{name}: quality outside [0, 1]"
    proba_sums = out["proba"].sum(axis=1)
    assert np.all(out["proba"] >= 0)
    if name == "mlc":  # rows with no positive logit are all zero by definition
        assert np.all(np.isclose(proba_sums, 1.0) | (proba_sums == 0.0))
    else:
        np.testing.assert_allclose(proba_sums, 1.0, atol=1e-9)


def assert_same_outputs(name: str, one: Router, other: Router, prompts: Prompts) -> None:
    first, second = outputs(one, prompts), outputs(other, prompts)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=f"{name}: {key}")


def test_same_seed_same_outputs(fitted, tiny):
    name, router, _, _ = fitted
    assert_same_outputs(name, router, fit(new_router(name), tiny.train, tiny.train_labels), tiny.test_prompts())


def test_pickle_round_trip_keeps_predictions(fitted, tiny):
    name, router, _, _ = fitted
    assert_same_outputs(name, router, pickle.loads(pickle.dumps(router)), tiny.test_prompts())


def test_learned_routers_beat_chance(fitted, tiny):
    name, router, _, _ = fitted
    if not is_learned(type(router)):
        pytest.skip(f"{name} does not learn from the prompts")
    chosen = outputs(router, tiny.test_prompts())["choice"].argmax(axis=1)
    score = tiny.test_scores[np.arange(len(chosen)), chosen].mean()
    # Chance is ~0.42 and the best single candidate 0.5 on this matrix.
    assert score >= 0.8, f"{name}: mean score of chosen candidates {score:.2f}"


@pytest.mark.parametrize("name", router_params(CHECKED, slow=SLOW_TO_FIT))
def test_missing_labels_are_masked_not_read_as_wrong(name, tiny):
    # Candidate 1 is right on every prompt it has a record for, and has records on a quarter of them.
    labels = tiny.train_labels.copy()
    labels[:, 1] = 1.0
    hidden = np.arange(len(labels)) % 4 != 0
    masked, zeroed = labels.copy(), labels.copy()
    masked[hidden, 1] = np.nan
    zeroed[hidden, 1] = 0.0
    train = Prompts(embeddings=tiny.train.embeddings, texts=tiny.train.texts)
    q_masked = fit(new_router(name), train, masked).predict_quality(tiny.test_prompts())[:, 1].mean()
    q_zeroed = fit(new_router(name), train, zeroed).predict_quality(tiny.test_prompts())[:, 1].mean()
    assert np.isfinite(q_masked)
    assert q_masked > q_zeroed + 0.2, f"{name}: {q_masked:.2f} with NaN vs {q_zeroed:.2f} with zeros"


def test_importing_every_router_does_not_import_torch():
    code = (
        "import sys, routereval.routers as r; r.all_routers(); "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


class NeedsAMissingPackage(Router):
    """A router whose training would import a package that is not installed anywhere."""

    requires = ("routereval_no_such_package",)

    def fit(self, prompts, labels, validation=None):
        import routereval_no_such_package  # noqa: F401

        return self

    def predict_quality(self, prompts):
        return np.zeros((len(prompts), 2))


def test_a_router_whose_package_is_missing_is_refused_before_any_work(tmp_path):
    from routereval.evaluation.specs import parse_routers

    (spec,) = parse_routers("test_contract:NeedsAMissingPackage")
    with pytest.raises(ConfigError, match="needs routereval_no_such_package, which is not installed"):
        spec.check()
    # The same from the command line: one line, exit 1, before any dataset is read. The child imports this
    # module, which imports tests/support, so both folders go on its path.
    child_path = os.pathsep.join([str(Path(__file__).parent), str(Path(__file__).parents[1])])
    proc = subprocess.run(
        [sys.executable, "-c", "from routereval.cli import main; main()", "bench", "--dataset", "nowhere",
         "--routers", "test_contract:NeedsAMissingPackage"],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": child_path},
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "needs routereval_no_such_package" in proc.stderr and "nowhere" not in proc.stderr


# -- the zoo on a planted problem ----------------------------------------------------------------------------
# Three well-separated topics, each with its own right candidate (support/planted_topics.py). Each zoo router
# runs under the settings its own tests use (members without torch for the ensemble, fewer steps for the
# torch factorisations), so these cases stay quick; the defaults are covered by the checks above.

QUICK_STEPS = {"lr": 0.01, "max_steps": 200}
LEARNING_ZOO = [("clusters", {}), ("ensemble", {"members": "knn-tuned+logistic"}), ("gbdt", {}), ("irt", QUICK_STEPS),
                ("knn-tuned", {}), ("logistic", {}), ("mf", QUICK_STEPS)]
ZOO_SLOW = frozenset({"gbdt"})  # fits many boosters


def _fit_planted(name: str, params: dict, **planted):
    train, y, val, test, topic = planted_topics.split(**planted)
    return make_router(name, **params).fit(train, y, validation=val), test, topic


@pytest.mark.parametrize("setting", router_params(LEARNING_ZOO, slow=ZOO_SLOW))
def test_zoo_routers_send_each_planted_topic_to_its_candidate(setting):
    name, params = setting
    router, test, topic = _fit_planted(name, params)
    quality = router.predict_quality(test)
    assert quality.shape == (len(topic), planted_topics.N_TOPICS)
    assert np.isfinite(quality).all() and quality.min() >= 0 and quality.max() <= 1
    assert (np.argmax(quality, axis=1) == topic).mean() > 0.9


@pytest.mark.parametrize("setting", router_params([*LEARNING_ZOO, ("safe", {"margin": 0.0})], slow=ZOO_SLOW))
def test_zoo_routers_read_a_missing_record_as_missing_not_wrong(setting):
    # Candidate 0 is right wherever it has a record, on half the prompts; read as 0, the missing half would
    # pull its estimate to about 0.5.
    name, params = setting
    train, y, val, test, _ = planted_topics.split()
    y = y.copy()
    y[:, 0] = 1.0
    y[np.random.default_rng(5).random(len(y)) < 0.5, 0] = np.nan
    yv = val.labels.copy()
    yv[:, 0] = 1.0
    router = make_router(name, **params).fit(train, y, validation=Labelled(val.prompts, yv))
    assert router.predict_quality(test)[:, 0].mean() > 0.8


@pytest.mark.parametrize("setting", router_params(
    [*LEARNING_ZOO, ("safe", {}), ("auto", {"members": "best-single+knn"})], slow=ZOO_SLOW))
def test_zoo_routers_are_deterministic_and_survive_a_pickle(setting):
    name, params = setting
    one, test, _ = _fit_planted(name, params, missing=0.1)
    two, _, _ = _fit_planted(name, params, missing=0.1)
    np.testing.assert_array_equal(one.predict_quality(test), two.predict_quality(test))
    restored = pickle.loads(pickle.dumps(one))
    np.testing.assert_array_equal(restored.predict_quality(test), one.predict_quality(test))
