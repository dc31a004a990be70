"""A tiny routing problem with a known answer: three topics, and one model that is right on each.

A router that reads the prompts sends each topic to its own model; the serving
tests train kNN over TF-IDF on it and expect that order of candidates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from routereval.records import Benchmark

TOPICS = {
    "math": ["integral of x squared", "solve the quadratic equation", "prime factors of a number",
             "derivative of sine", "sum of an arithmetic series", "probability of two dice"],
    "code": ["write a python function", "fix this javascript bug", "sort a list in rust",
             "explain a sql join query", "reverse a linked list in java", "parse json in go"],
    "poem": ["a sonnet about the sea", "haiku on autumn leaves", "rhyming verse about love",
             "limerick about a cat", "ballad of a lonely knight", "ode to the morning sun"],
}
MODELS = ["math-model", "code-model", "poem-model"]
# code-model is the cheaper of the two others, so the tie between them (both wrong on a maths prompt) goes to
# code-model, the fallback the proxy tests expect after math-model (ties go to the cheaper candidate).
PRICES = {"math-model": (1.0, 2.0), "code-model": (0.1, 0.2), "poem-model": (0.5, 1.0)}


def tiny_benchmark(repeats: int = 4) -> Benchmark:
    """Three topics; the model named after a topic is right on it, the others are wrong (by construction)."""
    texts, tasks, rows = [], [], []
    for r in range(repeats):
        for j, (topic, phrases) in enumerate(TOPICS.items()):
            for phrase in phrases:
                texts.append(f"{phrase} please, case {r}")
                tasks.append(topic)
                rows.append([1.0 if k == j else 0.0 for k in range(3)])
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(len(texts))], "task": tasks, "text": texts})
    models = pd.DataFrame({"name": MODELS, "input_price": [p[0] for p in PRICES.values()],
                           "output_price": [p[1] for p in PRICES.values()]})
    return Benchmark.from_values("tiny", np.array(rows), prompts, models)


NEW_PROMPTS = ["solve this quadratic equation for x", "write a python function to sort", "a haiku about the sea"]
