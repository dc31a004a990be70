"""RouterEval's own files: router datasets, leaderboard scores, and the hub registry entries.

The real files live on the Hugging Face hub, out of reach here, so every test
builds small pickles in exactly the published layout and checks each field
against the values it put in.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from routereval.errors import DataError
from routereval.records import BINARY, CONTINUOUS, load_benchmark, save_benchmark
from routereval.sources.routereval_native import leaderboard
from routereval.sources.routereval_native import (
    LEADERBOARD_SCENARIOS,
    read_leaderboard,
    read_router_dataset,
    router_dataset_to_benchmark,
)

from support.builders import GROUPS, router_layout, write  # noqa: E402


class _Touch:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


# -- router datasets ------------------------------------------------------------


def test_every_field_of_a_router_dataset(tmp_path):
    raw, truth = router_layout()
    raw["easy"][5]["all_weak"]["data"]["train_label"] = (
        raw["easy"][5]["all_weak"]["data"]["train_score"] >= 1
    ).astype(np.float64)
    ds = read_router_dataset(write(tmp_path / "mmlu_router_dataset.pkl", raw))

    assert ds.benchmark == "mmlu"
    assert ds.sizes == {"train": 32, "val": 4, "test": 4}
    for s in ("train", "val", "test"):
        np.testing.assert_array_equal(ds.split_index[s], truth["cut"][s])
        assert ds.split_index[s].dtype == np.int64
        assert ds.prompts[s] == [truth["texts"][i] for i in truth["cut"][s]]
        assert ds.embeddings[s].dtype == np.float32 and ds.embeddings[s].shape == (len(truth["cut"][s]), 768)
        np.testing.assert_array_equal(ds.embeddings[s], truth["emb"][truth["cut"][s]])

    assert [p.key for p in ds.pools] == [
        (setting, m, g) for setting, m in (("easy", 3), ("easy", 5), ("hard", 10)) for g in GROUPS
    ]
    for pool in ds.pools:
        cols = truth["pools"][pool.key]
        assert pool.models == [truth["names"][c] for c in cols]
        assert pool.m == len(pool.models)
        for s in ("train", "val", "test"):
            got = pool.score(s)
            assert got.dtype == np.float32 and got.shape == (len(truth["cut"][s]), pool.m)
            np.testing.assert_array_equal(got, truth["master"][truth["cut"][s]][:, cols])
    labelled = ds.pool("easy", 5, "all_weak")
    assert labelled.train_label is not None
    np.testing.assert_array_equal(labelled.train_label, labelled.train_score)
    assert ds.pool("easy", 5, "all_strong").train_label is None
    # hard -> 100 and hard -> 1000 are not in the file: absent, not an error.
    with pytest.raises(KeyError, match="no pool hard/100/all_weak"):
        ds.pool("hard", 100, "all_weak")


def test_router_dataset_to_benchmark(tmp_path):
    raw, truth = router_layout(seed=1)
    # A missing record in every pool that holds this model on this prompt stays missing.
    hole_model = truth["pools"][("hard", 10, "all_weak")][0]
    hole_row = 2  # third test prompt
    for key, cols in truth["pools"].items():
        if hole_model in cols:
            raw[key[0]][key[1]][key[2]]["data"]["test_score"][hole_row, list(cols).index(hole_model)] = np.nan
    ds = read_router_dataset(write(tmp_path / "arc_router_dataset.pkl", raw))
    bench = router_dataset_to_benchmark(ds)

    used = sorted({int(c) for cols in truth["pools"].values() for c in cols})
    assert sorted(bench.model_names) == sorted(truth["names"][c] for c in used)
    # Union in order of first appearance over the pools.
    first_seen = list(dict.fromkeys(truth["names"][c] for cols in truth["pools"].values() for c in cols))
    assert bench.model_names == first_seen

    order = np.concatenate([truth["cut"][s] for s in ("train", "val", "test")])
    assert bench.prompts["prompt_id"].tolist() == [str(i) for i in order]
    assert bench.prompts["split"].tolist() == ["train"] * 32 + ["val"] * 4 + ["test"] * 4
    assert bench.prompts["text"].tolist() == [truth["texts"][i] for i in order]
    assert set(bench.prompts["task"]) == {"arc"}
    assert bench.kind == BINARY
    np.testing.assert_array_equal(bench.embeddings["routereval-roberta"], truth["emb"][order])

    values = bench.values()
    for r, pid in enumerate(bench.prompts["prompt_id"]):
        for c, name in enumerate(bench.model_names):
            want = truth["master"][int(pid), truth["names"].index(name)]
            if name == truth["names"][hole_model] and r == 36 + hole_row:
                assert np.isnan(values[r, c])
            else:
                assert values[r, c] == want, (pid, name)
    assert bench.n_missing == 1

    pools = bench.provenance["routereval_pools"]
    assert [(p["setting"], p["m"], p["group"]) for p in pools] == [p.key for p in ds.pools]
    assert pools[0]["models"] == ds.pools[0].models

    # The benchmark survives the on-disk store with its split and embeddings.
    back = load_benchmark(save_benchmark(bench, tmp_path / "store"))
    np.testing.assert_array_equal(back.values(), values)
    assert back.prompts["split"].tolist() == bench.prompts["split"].tolist()


def test_continuous_router_dataset(tmp_path):
    raw, truth = router_layout(seed=2, continuous=True)
    ds = read_router_dataset(write(tmp_path / "harness_truthfulqa_mc_0_router_dataset.pkl", raw))
    assert ds.benchmark == "harness_truthfulqa_mc_0"
    bench = router_dataset_to_benchmark(ds, name="routereval-truthfulqa")
    assert bench.name == "routereval-truthfulqa"
    assert bench.kind == CONTINUOUS
    name = bench.model_names[0]
    pid = int(bench.prompts["prompt_id"][5])
    # Quarters are exact in float16.
    assert bench.values()[5, 0] == truth["master"][pid, truth["names"].index(name)]


def test_conflicting_pools_are_refused(tmp_path):
    raw, truth = router_layout(seed=3)
    # Find a model that sits in two pools and flip its score in the later one.
    seen = {}
    for key, cols in truth["pools"].items():
        shared = [c for c in cols if c in seen]
        if shared:
            later, earlier, model = key, seen[shared[0]], shared[0]
            break
        for c in cols:
            seen.setdefault(c, key)
    pos = list(truth["pools"][later]).index(model)
    score = raw[later[0]][later[1]][later[2]]["data"]["val_score"]
    score[1, pos] = 1.0 - score[1, pos]
    ds = read_router_dataset(write(tmp_path / "gsm8k_router_dataset.pkl", raw))
    with pytest.raises(DataError) as err:
        router_dataset_to_benchmark(ds)
    msg = str(err.value)
    assert f"model {truth['names'][model]!r}" in msg
    assert f"on prompt {truth['cut']['val'][1]} (val)" in msg
    assert " -> ".join(map(str, later)) in msg
    assert " -> ".join(map(str, earlier)) in msg
    assert "gsm8k_router_dataset.pkl" in msg


def test_flexible_containers_are_accepted(tmp_path):
    """String size keys, tuples and numpy arrays of names, and tuples of prompts occur in the wild."""
    raw, truth = router_layout(seed=4, sizes={"easy": (3,)})
    raw["easy"] = {"3": raw["easy"][3]}
    raw["easy"]["3"]["all_strong"]["model"] = np.array(raw["easy"]["3"]["all_strong"]["model"])
    raw["easy"]["3"]["all_weak"]["model"] = tuple(raw["easy"]["3"]["all_weak"]["model"])
    raw["prompt"]["test_prompt"] = tuple(raw["prompt"]["test_prompt"])
    raw["prompt"]["val_prompt"] = np.array(raw["prompt"]["val_prompt"], dtype=object)
    raw["split_index"]["val_indices"] = raw["split_index"]["val_indices"].tolist()
    ds = read_router_dataset(write(tmp_path / "bbh_router_dataset.pkl", raw, protocol=2))
    assert [p.key for p in ds.pools] == [("easy", 3, g) for g in GROUPS]
    assert ds.pools[0].models == [truth["names"][c] for c in truth["pools"][("easy", 3, "all_strong")]]
    assert ds.prompts["val"] == [truth["texts"][i] for i in truth["cut"]["val"]]


def _broken(edit, seed=5):
    raw, truth = router_layout(seed=seed)
    edit(raw, truth)
    return raw


def _drop(d, key):
    del d[key]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r, t: r["hard"][10]["all_weak"]["data"].__setitem__(
                "test_score", r["hard"][10]["all_weak"]["data"]["test_score"][:, :7]
            ),
            "hard -> 10 -> all_weak -> data -> test_score has 7 columns but the pool lists 10 models",
        ),
        (
            lambda r, t: r["easy"][3]["strong_to_weak"]["data"].__setitem__(
                "train_score", r["easy"][3]["strong_to_weak"]["data"]["train_score"][:30]
            ),
            "easy -> 3 -> strong_to_weak -> data -> train_score has 30 rows but the split has 32 prompts",
        ),
        (lambda r, t: _drop(r, "split_index"), "split_index is missing"),
        (lambda r, t: _drop(r["embedding"], "val_embed"), "embedding -> val_embed is missing"),
        (lambda r, t: _drop(r["easy"][5]["all_strong"]["data"], "val_score"),
         "easy -> 5 -> all_strong -> data -> val_score is missing"),
        (lambda r, t: _drop(r["hard"][10]["all_strong"], "model"), "hard -> 10 -> all_strong -> model is missing"),
        (lambda r, t: r["easy"][3].__setitem__("all_midde", r["easy"][3]["all_weak"]),
         "easy -> 3 -> all_midde: unknown group"),
        (lambda r, t: r["easy"][3]["all_weak"].__setitem__("model", ["a", "b"]),
         "easy -> 3 -> all_weak -> model lists 2 models, expected 3"),
        (lambda r, t: r["easy"][3]["all_weak"].__setitem__("model", ["a", "b", "a"]),
         "easy -> 3 -> all_weak -> model lists model 'a' twice"),
        (lambda r, t: r["easy"].__setitem__("three", {}), "easy -> three: pool size must be a whole number"),
        (lambda r, t: r["easy"].__setitem__("3", r["easy"][3]), "easy: pool size 3 appears twice"),
        (lambda r, t: r["prompt"].__setitem__("test_prompt", r["prompt"]["test_prompt"][:3]),
         "prompt -> test_prompt has 3 prompts but split_index -> test_indices has 4"),
        (lambda r, t: r["prompt"]["train_prompt"].__setitem__(4, None),
         "prompt -> train_prompt item 5 (1-based) is a NoneType, expected text"),
        (lambda r, t: r["embedding"].__setitem__("test_embed", r["embedding"]["test_embed"][:, :700]),
         "the splits have vectors of different lengths (train 768, val 768, test 700)"),
        (lambda r, t: r["split_index"].__setitem__(
            "test_indices", np.concatenate([r["split_index"]["test_indices"][:3], r["split_index"]["train_indices"][:1]])),
         "appears more than once across train/val/test"),
        (lambda r, t: r["split_index"].__setitem__("val_indices", np.array([0.5, 1, 2, 3])),
         "split_index -> val_indices must hold non-negative whole numbers"),
    ],
)
def test_malformed_router_datasets_name_the_key_path(tmp_path, edit, message):
    path = write(tmp_path / "mmlu_router_dataset.pkl", _broken(edit))
    with pytest.raises(DataError) as err:
        read_router_dataset(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_out_of_range_score_names_row_and_column(tmp_path):
    raw, _ = router_layout(seed=6)
    raw["hard"][10]["all_strong"]["data"]["val_score"][2, 8] = 2.0
    with pytest.raises(DataError) as err:
        read_router_dataset(write(tmp_path / "x_router_dataset.pkl", raw))
    assert "hard -> 10 -> all_strong -> data -> val_score holds 2.0 at row 3, column 9 (1-based)" in str(err.value)


def test_a_file_without_pools_or_not_a_dict_is_refused(tmp_path):
    raw, _ = router_layout(seed=7)
    del raw["easy"], raw["hard"]
    with pytest.raises(DataError, match="holds no candidate pools"):
        read_router_dataset(write(tmp_path / "a_router_dataset.pkl", raw))
    with pytest.raises(DataError, match="holds a list, expected a dict"):
        read_router_dataset(write(tmp_path / "b_router_dataset.pkl", [1, 2]))


def test_router_dataset_is_loaded_through_the_safe_unpickler(tmp_path):
    raw, _ = router_layout(seed=8)
    target = tmp_path / "should-not-exist"
    raw["easy"][3]["all_weak"]["model"] = _Touch(target)
    path = write(tmp_path / "mmlu_router_dataset.pkl", raw)
    with pytest.raises(DataError, match="refuses to load .*system: a routereval pickle may hold only"):
        read_router_dataset(path)
    assert not target.exists()


# -- leaderboard scores ---------------------------------------------------------


def test_scenario_lists():
    old, new = LEADERBOARD_SCENARIOS["old"], LEADERBOARD_SCENARIOS["new"]
    mmlu = old["mmlu"]
    assert len(mmlu) == 57 and len(set(mmlu)) == 57
    assert list(mmlu) == sorted(mmlu)  # the standard alphabetical subject order
    assert mmlu[0] == "harness_hendrycksTest_abstract_algebra_5"
    assert mmlu[-1] == "harness_hendrycksTest_world_religions_5"
    assert len(new["bbh"]) == 24 and list(new["bbh"]) == sorted(new["bbh"])
    assert len(new["math"]) == 7 and all(s.startswith("math_") and s.endswith("_hard") for s in new["math"])
    assert len(new["musr"]) == 3 and len(new["gpqa"]) == 3
    assert sorted(b for s in LEADERBOARD_SCENARIOS.values() for b in s) == sorted(
        ["arc", "hellaswag", "mmlu", "harness_truthfulqa_mc_0", "winogrande", "gsm8k",
         "ifeval", "bbh", "gpqa", "musr", "math", "mmlu_pro"]
    )
    everything = [x for s in LEADERBOARD_SCENARIOS.values() for subs in s.values() for x in subs]
    assert len(everything) == len(set(everything)) == 57 + 5 + 24 + 3 + 1 + 7 + 3 + 1


def leaderboard_layout(seed=0, n_models=12, model_key="models"):
    rng = np.random.default_rng(seed)
    names = [f"lab/llm-{k}" for k in range(n_models)]
    subs = {
        # Written out of RouterEval's order on purpose: the reader must reorder.
        "harness_hendrycksTest_anatomy_5": rng.integers(0, 2, (20, n_models)).astype(np.float64),
        "harness_truthfulqa_mc_0": rng.random((15, n_models)),
        "harness_hendrycksTest_abstract_algebra_5": rng.integers(0, 2, (10, n_models)).astype(np.float64),
        "my_extra_task": rng.integers(0, 2, (4, n_models)).astype(bool),
    }
    subs["harness_hendrycksTest_anatomy_5"][3, 5] = np.nan  # llm-5 never ran item 3
    subs["harness_truthfulqa_mc_0"][:, 11] = np.nan  # llm-11 never ran truthfulqa
    raw = {model_key: names, "data": {k: {"correctness": v} for k, v in subs.items()}}
    return raw, names, subs


@pytest.mark.parametrize("model_key", ["model", "models"])
def test_read_leaderboard(tmp_path, model_key):
    raw, names, subs = leaderboard_layout(model_key=model_key)
    benches = read_leaderboard(write(tmp_path / "leaderboard_old.pkl", raw))
    assert list(benches) == ["harness_truthfulqa_mc_0", "mmlu", "my_extra_task"]

    mmlu = benches["mmlu"]
    assert mmlu.model_names == names
    assert mmlu.kind == BINARY and mmlu.scores.dtype == np.uint8
    assert mmlu.tasks == ["harness_hendrycksTest_abstract_algebra_5", "harness_hendrycksTest_anatomy_5"]
    ids = mmlu.prompts["prompt_id"].tolist()
    assert ids[:2] == ["harness_hendrycksTest_abstract_algebra_5-0", "harness_hendrycksTest_abstract_algebra_5-1"]
    assert ids[10] == "harness_hendrycksTest_anatomy_5-0" and len(ids) == 30
    values = mmlu.values()
    for r, (pid, task) in enumerate(zip(ids, mmlu.prompts["task"])):
        sub, item = pid.rsplit("-", 1)
        assert sub == task
        np.testing.assert_array_equal(values[r], subs[sub][int(item)])
    assert np.isnan(values[13, 5]) and mmlu.scores[13, 5] == 255
    assert mmlu.n_missing == 1
    assert mmlu.prompts["text"].isna().all()

    tqa = benches["harness_truthfulqa_mc_0"]
    assert tqa.kind == CONTINUOUS and tqa.scores.dtype == np.float16
    np.testing.assert_allclose(tqa.values()[:, :11], subs["harness_truthfulqa_mc_0"][:, :11], atol=5e-4)
    assert np.isnan(tqa.values()[:, 11]).all()

    extra = benches["my_extra_task"]
    assert extra.tasks == ["my_extra_task"] and extra.kind == BINARY
    np.testing.assert_array_equal(extra.values(), subs["my_extra_task"].astype(np.float32))


def test_leaderboard_row_blocks_stitch_together(tmp_path, monkeypatch):
    """Encoding runs in row blocks; with tiny blocks the result must not change."""
    raw, _, subs = leaderboard_layout(seed=1)
    path = write(tmp_path / "leaderboard_old.pkl", raw)
    whole = read_leaderboard(path)
    monkeypatch.setattr(leaderboard, "_BLOCK_BYTES", 8 * 12 * 3)  # three rows per block
    assert len(list(leaderboard._row_blocks(20, 12))) == 7
    blocked = read_leaderboard(path)
    for name in whole:
        np.testing.assert_array_equal(blocked[name].scores, whole[name].scores)
    np.testing.assert_array_equal(
        blocked["mmlu"].values()[10:], np.where(np.isnan(subs["harness_hendrycksTest_anatomy_5"]), np.nan,
                                                subs["harness_hendrycksTest_anatomy_5"])
    )


def test_leaderboard_new_and_mmlu_pro_grouping(tmp_path):
    rng = np.random.default_rng(2)
    data = {
        "math_geometry_hard": {"correctness": rng.integers(0, 2, (3, 4)).astype(float)},
        "gpqa_main": {"correctness": rng.integers(0, 2, (2, 4)).astype(float)},
        "math_algebra_hard": {"correctness": rng.integers(0, 2, (5, 4)).astype(float)},
        "ifeval": {"correctness": rng.integers(0, 2, (6, 4)).astype(float)},
    }
    benches = read_leaderboard(write(tmp_path / "leaderboard_new.pkl", {"model": list("abcd"), "data": data}))
    assert list(benches) == ["gpqa", "ifeval", "math"]
    assert benches["math"].tasks == ["math_algebra_hard", "math_geometry_hard"]
    assert benches["math"].n_prompts == 8
    pro = read_leaderboard(write(tmp_path / "leaderboard_mmlu_pro.pkl",
                                 {"model": ["x", "y"], "data": {"mmlu_pro": {"correctness": np.eye(2)}}}))
    assert list(pro) == ["mmlu_pro"] and pro["mmlu_pro"].prompts["prompt_id"].tolist() == ["mmlu_pro-0", "mmlu_pro-1"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["data"]["harness_truthfulqa_mc_0"].__setitem__("correctness", np.zeros((15, 11))),
         "data -> harness_truthfulqa_mc_0 -> correctness has shape (15, 11), expected (items, 12)"),
        (lambda r: r["data"]["harness_hendrycksTest_anatomy_5"]["correctness"].__setitem__((6, 2), -1.0),
         "data -> harness_hendrycksTest_anatomy_5 -> correctness holds -1.0 at item 7, LLM 3 (1-based)"),
        (lambda r: r["data"]["my_extra_task"].pop("correctness"), "data -> my_extra_task -> correctness is missing"),
        (lambda r: r.pop("models"), "models is missing"),
        (lambda r: r["models"].__setitem__(3, "lab/llm-0"), "models lists model 'lab/llm-0' twice"),
        (lambda r: r["data"].__setitem__("s", {"correctness": np.array([["a"] * 12])}),
         "data -> s -> correctness has dtype <U1, expected numbers"),
    ],
)
def test_malformed_leaderboards(tmp_path, edit, message):
    raw, _, _ = leaderboard_layout(seed=3)
    edit(raw)
    path = write(tmp_path / "leaderboard_old.pkl", raw)
    with pytest.raises(DataError) as err:
        read_leaderboard(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_leaderboard_is_loaded_through_the_safe_unpickler(tmp_path):
    raw, _, _ = leaderboard_layout(seed=4)
    target = tmp_path / "touched"
    raw["data"]["my_extra_task"]["correctness"] = _Touch(target)
    with pytest.raises(DataError, match="refuses to load"):
        read_leaderboard(write(tmp_path / "leaderboard_old.pkl", raw))
    assert not target.exists()


@pytest.mark.slow
def test_leaderboard_at_full_v2_scale(tmp_path):
    """The v2 file's shape (3,811 LLMs x 9,574 items) reads in bounded time."""
    import time

    rng = np.random.default_rng(5)
    n_models, sizes = 3811, [1000] * 9 + [574]
    subs = [f"bbh_{t}" for t in leaderboard._BBH_TASKS[:10]]
    data = {s: {"correctness": (rng.random((k, n_models)) < 0.5).astype(np.float64)} for s, k in zip(subs, sizes)}
    data[subs[0]]["correctness"][0, :100] = np.nan
    path = write(tmp_path / "leaderboard_new.pkl", {"model": [f"m{i}" for i in range(n_models)], "data": data})
    start = time.perf_counter()
    bench = read_leaderboard(path)["bbh"]
    elapsed = time.perf_counter() - start
    assert bench.scores.shape == (9574, 3811)
    assert bench.n_missing == 100
    np.testing.assert_array_equal(bench.values(prompts=[1500]), data[subs[1]]["correctness"][500:501].astype(np.float32))
    assert elapsed < 60, elapsed


# -- hub registry entries -------------------------------------------------------


def test_hub_specs_declare_every_benchmark():
    from routereval.sources import routereval_hub as hub

    expected = {
        "arc", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k",
        "ifeval", "bbh", "gpqa", "musr", "math", "mmlu_pro",
    }
    assert set(hub.SPECS) == {f"routereval-{b}" for b in expected}
    tqa = hub.SPECS["routereval-truthfulqa"]
    (file,) = tqa.files
    assert file.url == (
        "https://huggingface.co/datasets/linggm/RouterEval/resolve/main/"
        "router_dataset/harness_truthfulqa_mc_0_router_dataset.pkl"
    )
    assert file.path == "router_dataset/harness_truthfulqa_mc_0_router_dataset.pkl"
    assert file.sha256 is None
    for spec in hub.SPECS.values():
        assert spec.files[0].filename.endswith("_router_dataset.pkl")
        assert "MIT" in spec.license


def test_hub_specs_are_in_the_registry():
    from routereval.sources.registry import get_spec
    from routereval.sources import routereval_hub as hub

    for name, spec in hub.SPECS.items():
        assert get_spec(name) is spec
    assert get_spec("routereval-mmlu_pro").files[0].path == "router_dataset/mmlu_pro_router_dataset.pkl"


def test_hub_build_reads_a_local_file(tmp_path):
    from routereval.sources import routereval_hub as hub

    spec = hub.SPECS["routereval-truthfulqa"]
    raw, truth = router_layout(seed=9, continuous=True)
    # The downloader may hand over a file under any name: the spec fixes the benchmark.
    local = {spec.files[0].path: write(tmp_path / "download.bin", raw)}
    bench = spec.build(local)
    assert bench.name == "routereval-truthfulqa"
    assert set(bench.prompts["task"]) == {"harness_truthfulqa_mc_0"}
    assert bench.kind == CONTINUOUS
    assert bench.provenance["source"] == "routereval-truthfulqa"
    assert bench.provenance["files"] == [{"url": spec.files[0].url, "sha256": None}]
    assert len(bench.provenance["routereval_pools"]) == 9
    assert bench.n_prompts == 40


def test_hub_module_imports_light():
    code = (
        "import sys, routereval.sources.routereval_hub as h; "
        "print(len(h.SPECS), 'huggingface_hub' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["12", "False", "False"]

