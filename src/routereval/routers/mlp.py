"""MLPR: d -> 256 -> ReLU -> 256 -> ReLU -> m on the prompt embedding.

Trained with binary cross-entropy on the label vector; quality = sigmoid(logits),
pi = softmax(logits). ``recipe="published"`` is RouterEval's published recipe
(Adam lr 1e-4, cosine decay, 100 epochs, batch 1); the default ``"fast"``
recipe is measured against it in ``benchmarks/router_defaults.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from routereval.routers._torch import FeedForwardRouter
from routereval.routers.base import check_integer, register


@register
class MLPRouter(FeedForwardRouter):
    """MLPR: two hidden ReLU layers of ``hidden`` units; arguments left ``None`` come from ``recipe``."""

    name = "mlp"
    RECIPES: ClassVar[dict[str, dict[str, Any]]] = {
        "published": {"epochs": 100, "lr": 1e-4, "batch_size": 1, "val_fraction": 0.0, "patience": None, "weight_decay": 0.0},
        "fast": {"epochs": 50, "lr": 1e-3, "batch_size": 64, "val_fraction": 0.1, "patience": 5, "weight_decay": 0.0},
    }

    def __init__(
        self,
        recipe: str = "fast",
        hidden: int = 256,
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        val_fraction: float | None = None,
        patience: int | None = None,
        weight_decay: float | None = None,
        random_state: int = 0,
        n_threads: int = 1,
    ) -> None:
        super().__init__(recipe, epochs, lr, batch_size, val_fraction, patience, weight_decay, random_state, n_threads)
        self.hidden = hidden

    def _hidden(self) -> tuple[int, ...]:
        return (int(self.hidden), int(self.hidden))

    def check_params(self) -> None:
        check_integer(self.name, "hidden", self.hidden, 1)
        super().check_params()
