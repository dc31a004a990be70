"""Splits: RouterEval's per-task 80/10/10 cut with the legacy seeded generator."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from routereval.datasets.splits import split_by_task

ROUTELLM_MMLU = "lm-sys/RouteLLM/0b64fdafe049e596a3f5657c219329f24af24198/routellm/evals/mmlu/responses"


def test_cut_points_and_order_by_hand():
    # Two tasks: 10 prompts of "a" then 5 of "b" (interleaved positions).
    tasks = ["a", "b"] * 5 + ["a"] * 5
    split = split_by_task(tasks, np.random.RandomState(42))
    a_pos = [i for i, t in enumerate(tasks) if t == "a"]
    b_pos = [i for i, t in enumerate(tasks) if t == "b"]
    # The same stream drawn by hand: seed once, permute task a, then task b.
    np.random.seed(42)
    perm_a = np.array(a_pos)[np.random.permutation(10)]
    perm_b = np.array(b_pos)[np.random.permutation(5)]
    assert split.train.tolist() == perm_a[:8].tolist() + perm_b[:4].tolist()
    assert split.val.tolist() == perm_a[8:9].tolist() + perm_b[4:4].tolist()
    assert split.test.tolist() == perm_a[9:].tolist() + perm_b[4:].tolist()
    assert sorted(np.concatenate([split.train, split.val, split.test]).tolist()) == list(range(15))


def test_generator_state_is_passed_on():
    rng = np.random.RandomState(42)
    split_by_task(["x"] * 7, rng)
    np.random.seed(42)
    np.random.permutation(7)
    assert rng.randint(0, 10**9) == np.random.randint(0, 10**9)


def test_gsm8k_published_sizes():
    split = split_by_task(["gsm8k"] * 1319, np.random.RandomState(42))
    assert split.sizes() == (1055, 132, 132)


def test_mmlu_published_sizes(mirror: Path):
    # The 57 MMLU subjects with their real sizes (from RouteLLM's per-subject files,
    # counted here with the csv module), split per subject: 11,215 / 1,397 / 1,430.
    folder = mirror / ROUTELLM_MMLU
    if not folder.is_dir():
        pytest.skip(f"{folder} not in the mirror")
    tasks: list[str] = []
    for path in sorted(folder.glob("mmlu_*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            tasks += [path.stem] * (sum(1 for _ in csv.reader(f)) - 1)
    assert len(tasks) == 14042
    split = split_by_task(tasks, np.random.RandomState(42))
    assert split.sizes() == (11215, 1397, 1430)
