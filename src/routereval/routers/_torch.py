"""The one training loop behind LinearR and MLPR: a feed-forward net on embeddings.

The net maps an embedding to one logit per candidate and is trained with
binary cross-entropy against the label vector (Adam, cosine learning-rate decay
to zero over the planned steps, per step); missing labels (NaN) are masked out
of the loss. The quality estimate is sigmoid(logit), the net's P(correct);
pi for E_p is softmax(logits), as RouterEval defines it. Learned weights are
kept as NumPy arrays, so prediction, pickling, copying and saving need no
torch; torch is imported only inside :func:`train_feedforward`.

Two named recipes resolve the hyper-parameters that ``__init__`` leaves as
``None``; an explicit argument always wins:

* ``"published"``: RouterEval's published settings (batch 1, fixed epochs,
  every training prompt used for training).
* ``"fast"`` (the default): mini-batches with early stopping on the pool's
  validation split (given to ``fit`` as ``validation``; only when none is
  given, on a held-out ``val_fraction`` of the training prompts), keeping the
  epoch with the best validation loss. ``benchmarks/router_defaults.py``
  measures it against the published recipe on every offline dataset.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from routereval.errors import ConfigError
from routereval.routers.base import (
    Labelled,
    Prompts,
    Router,
    check_integer,
    require,
    sigmoid,
    softmax,
)
from routereval.routers.checks import check_labels, embeddings_of


@dataclass(frozen=True)
class TrainConfig:
    """Resolved hyper-parameters of one training run."""

    epochs: int
    lr: float
    batch_size: int
    val_fraction: float  # share of the training prompts held out for early stopping when no validation is given
    patience: int | None  # epochs without a better held-out loss before stopping (None: never)
    weight_decay: float
    seed: int
    n_threads: int


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` intra-op torch threads, restoring the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / held-out row indices: a seeded shuffle, the last ``val_fraction`` held out."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(math.ceil(val_fraction * n)) if val_fraction > 0 else 0
    # Too few prompts to spare any: train on all and stop on the epoch count.
    if n_val < 1 or n - n_val < 1:
        return np.sort(order), order[:0]
    return np.sort(order[: n - n_val]), np.sort(order[n - n_val :])


def _masked_bce(loss_fn: Any, logits: Any, target: Any, mask: Any | None) -> Any:
    """Mean BCE over the present labels (all of them when ``mask`` is None)."""
    if mask is None:
        return loss_fn(logits, target).mean()
    return (loss_fn(logits, target) * mask).sum() / mask.sum().clamp(min=1.0)


def train_feedforward(
    x: np.ndarray,
    y: np.ndarray,
    hidden: tuple[int, ...],
    cfg: TrainConfig,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """Train d -> hidden... (ReLU) -> m with masked BCE-with-logits; return weights and a log.

    Early stopping (``cfg.patience``) watches ``validation`` when given, else a
    held-out ``cfg.val_fraction`` of the training rows. The weights are
    ``[(W, b), ...]`` per layer with ``W`` of shape out x in. The log holds the
    epochs run, the best epoch and the held-out losses.
    """
    torch = require("torch", "LinearR / MLPR training")
    from torch import nn

    with torch_threads(cfg.n_threads):
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        sizes = (x.shape[1], *hidden, y.shape[1])
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(d_in, d_out))
        net = nn.Sequential(*layers)

        if cfg.patience is None:
            x_fit, y_fit, x_val, y_val = x, y, x[:0], y[:0]
        elif validation is not None and len(validation[0]):
            x_fit, y_fit, (x_val, y_val) = x, y, validation
        else:
            fit_rows, val_rows = _split(len(x), cfg.val_fraction, cfg.seed)
            x_fit, y_fit, x_val, y_val = x[fit_rows], y[fit_rows], x[val_rows], y[val_rows]

        def tensors(a: np.ndarray, b: np.ndarray) -> tuple[Any, Any, Any]:
            b = np.asarray(b, dtype=np.float32)
            present = ~np.isnan(b)
            mask = None if present.all() else torch.from_numpy(present.astype(np.float32))
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)), torch.from_numpy(np.nan_to_num(b)), mask

        xt, yt, mt = tensors(x_fit, y_fit)
        xv, yv, mv = tensors(x_val, y_val)
        n, bs = len(xt), int(cfg.batch_size)
        steps_per_epoch = math.ceil(n / bs)
        total = max(1, steps_per_epoch * int(cfg.epochs))
        # Batch 1 makes per-step overhead the cost: the fused Adam kernel and
        # setting the learning rate by hand (not a scheduler object) halve it.
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        loss_fn = nn.BCEWithLogitsLoss(reduction="none")
        step = 0

        best_loss, best_epoch, best_state = math.inf, 0, None
        val_losses: list[float] = []
        epochs_run = 0
        for epoch in range(int(cfg.epochs)):
            net.train()
            # Shuffle once per epoch; batches are then cheap contiguous slices.
            perm = torch.randperm(n, generator=gen)
            xs, ys = xt[perm], yt[perm]
            ms = None if mt is None else mt[perm]
            for start in range(0, n, bs):
                opt.zero_grad(set_to_none=True)
                batch_mask = None if ms is None else ms[start : start + bs]
                _masked_bce(loss_fn, net(xs[start : start + bs]), ys[start : start + bs], batch_mask).backward()
                opt.step()
                step += 1
                lr = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
                for group in opt.param_groups:
                    group["lr"] = lr
            epochs_run = epoch + 1
            if len(xv) == 0:
                continue
            net.eval()
            with torch.no_grad():
                val = float(_masked_bce(loss_fn, net(xv), yv, mv))
            val_losses.append(val)
            if val < best_loss:
                best_loss, best_epoch = val, epoch + 1
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            elif cfg.patience is not None and epoch + 1 - best_epoch >= cfg.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)

    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    weights = [(lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()) for lin in linears]
    log = {
        "epochs_run": epochs_run,
        "best_epoch": best_epoch if len(xv) else epochs_run,
        "n_fit": int(len(xt)),
        "n_held_out": int(len(xv)),
        "held_out_loss": val_losses,
    }
    return weights, log


def forward(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Logits of the trained net in NumPy (ReLU between layers)."""
    h = x
    for i, (w, b) in enumerate(weights):
        if i:
            h = np.maximum(h, 0.0)
        h = h @ w.T + b
    return h.astype(np.float64)


class FeedForwardRouter(Router):
    """Shared behaviour of LinearR and MLPR: quality = sigmoid(logits), pi = softmax(logits).

    Subclasses set ``RECIPES`` (recipe name -> defaults) and ``_hidden()``.
    """

    inputs = "embeddings"
    requires = ("torch",)
    RECIPES: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(
        self,
        recipe: str = "fast",
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        val_fraction: float | None = None,
        patience: int | None = None,
        weight_decay: float | None = None,
        random_state: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.recipe = recipe
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.patience = patience
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.n_threads = n_threads

    def _hidden(self) -> tuple[int, ...]:
        raise NotImplementedError

    def resolved_config(self) -> TrainConfig:
        """The training hyper-parameters: the recipe's, overridden by explicit arguments."""
        if self.recipe not in self.RECIPES:
            raise ConfigError(
                f"router {self.name!r}: unknown recipe {self.recipe!r}; known: {', '.join(self.RECIPES)}"
            )
        values = dict(self.RECIPES[self.recipe])
        for key in ("epochs", "lr", "batch_size", "val_fraction", "patience", "weight_decay"):
            given = getattr(self, key)
            if given is not None:
                values[key] = given
        for key in ("epochs", "batch_size"):
            check_integer(self.name, key, values[key], 1)
        if values["patience"] is not None:
            check_integer(self.name, "patience", values["patience"], 1)
        check_integer(self.name, "random_state", self.random_state, 0, 2**32 - 1)
        check_integer(self.name, "n_threads", self.n_threads, 1)
        for key, ok, what in (("lr", lambda v: v > 0, "> 0"), ("val_fraction", lambda v: 0 <= v < 1, "in [0, 1)"),
                              ("weight_decay", lambda v: v >= 0, ">= 0")):
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
                raise ConfigError(f"router {self.name!r}: {key} must be a number {what}, got {value!r}")
        return TrainConfig(seed=int(self.random_state), n_threads=int(self.n_threads), **values)

    def check_params(self) -> None:
        self.resolved_config()

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> FeedForwardRouter:
        x = embeddings_of(prompts, self.name)
        y = check_labels(labels, len(x))
        cfg = self.resolved_config()
        val = None
        if validation is not None:
            xv = embeddings_of(validation.prompts, self.name, x.shape[1])
            val = (xv, check_labels(validation.labels, len(xv)))
        self.weights_, self.train_log_ = train_feedforward(x, y, self._hidden(), cfg, val)
        return self

    def decision_function(self, prompts: Prompts) -> np.ndarray:
        """The net's logits per candidate (higher = more likely correct)."""
        self._check_fitted("weights_")
        x = embeddings_of(prompts, self.name, self.weights_[0][0].shape[1])
        return forward(self.weights_, x)

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """sigmoid(logits): the net's P(correct) per candidate."""
        return sigmoid(self.decision_function(prompts))

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return softmax(self.decision_function(prompts))
