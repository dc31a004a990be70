"""LinearR: a linear layer from the prompt embedding to one logit per candidate.

Trained with binary cross-entropy on the label vector; quality = logits,
pi = softmax(logits). ``setting="faithful"`` is RouterEval's published recipe
(Adam lr 0.01, cosine decay, 10 epochs, batch 1); the default ``"fast"``
setting is measured against it in ``benchmarks/router_defaults.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from routereval.routers._torch import FeedForwardRouter
from routereval.routers.base import register


@register
class LinearRouter(FeedForwardRouter):
    """LinearR: Linear(d, m) on embeddings, BCE-with-logits; arguments left ``None`` come from ``setting``."""

    name = "linear"
    SETTINGS: ClassVar[dict[str, dict[str, Any]]] = {
        "faithful": {"epochs": 10, "lr": 0.01, "batch_size": 1, "val_fraction": 0.0, "patience": None, "weight_decay": 0.0},
        "fast": {"epochs": 30, "lr": 0.01, "batch_size": 64, "val_fraction": 0.1, "patience": 3, "weight_decay": 0.0},
    }

    def __init__(
        self,
        setting: str = "fast",
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        val_fraction: float | None = None,
        patience: int | None = None,
        weight_decay: float | None = None,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.setting = setting
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.patience = patience
        self.weight_decay = weight_decay
        self.seed = seed
        self.n_threads = n_threads

    def _hidden(self) -> tuple[int, ...]:
        return ()
