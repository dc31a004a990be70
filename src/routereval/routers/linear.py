"""LinearR: a linear layer from the prompt embedding to one logit per candidate.

Trained with binary cross-entropy on the label vector; quality = sigmoid(logits),
pi = softmax(logits). ``recipe="published"`` is RouterEval's published recipe
(Adam lr 0.01, cosine decay, 10 epochs, batch 1); the default ``"fast"``
recipe is measured against it in ``benchmarks/router_defaults.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from routereval.routers._torch import FeedForwardRouter
from routereval.routers.base import register


@register
class LinearRouter(FeedForwardRouter):
    """LinearR: Linear(d, m) on embeddings, BCE-with-logits; arguments left ``None`` come from ``recipe``."""

    name = "linear"
    RECIPES: ClassVar[dict[str, dict[str, Any]]] = {
        "published": {"epochs": 10, "lr": 0.01, "batch_size": 1, "val_fraction": 0.0, "patience": None, "weight_decay": 0.0},
        "fast": {"epochs": 30, "lr": 0.01, "batch_size": 64, "val_fraction": 0.1, "patience": 3, "weight_decay": 0.0},
    }

    def _hidden(self) -> tuple[int, ...]:
        return ()
