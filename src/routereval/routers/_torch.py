"""The one training loop behind LinearR and MLPR: a feed-forward net on embeddings.

The net maps an embedding to one logit per candidate and is trained with
binary cross-entropy against the label vector (Adam, cosine learning-rate decay
to zero over the planned steps, per step). Learned weights are kept as NumPy
arrays, so prediction, pickling and copying need no torch; torch is imported
only inside :func:`train_feedforward`.

Two named settings resolve the hyper-parameters that ``__init__`` leaves as
``None``; an explicit argument always wins:

* ``"faithful"``: RouterEval's published settings (batch 1, fixed epochs,
  every training prompt used for training).
* ``"fast"`` (the default): mini-batches with early stopping on a held-out
  slice of the training prompts; ``benchmarks/router_defaults.py`` measures that
  it reaches the faithful setting's quality in a fraction of the time.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from routereval.errors import ConfigError
from routereval.routers.base import Prompts, Router, softmax
from routereval.routers.policies import check_labels, embeddings_of


@dataclass(frozen=True)
class TrainConfig:
    """Resolved hyper-parameters of one training run."""

    epochs: int
    lr: float
    batch_size: int
    val_fraction: float  # share of the training prompts held out for early stopping (0: none)
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


def train_feedforward(
    x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...], cfg: TrainConfig
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """Train d -> hidden... (ReLU) -> m with BCE-with-logits; return weights and a log.

    The weights are ``[(W, b), ...]`` per layer with ``W`` of shape out x in.
    The log holds the epochs run, the best epoch and the held-out losses.
    """
    import torch
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

        fit_rows, val_rows = _split(len(x), cfg.val_fraction, cfg.seed)
        xt, yt = torch.from_numpy(x[fit_rows]), torch.from_numpy(y[fit_rows].astype(np.float32))
        xv, yv = torch.from_numpy(x[val_rows]), torch.from_numpy(y[val_rows].astype(np.float32))
        n, bs = len(xt), int(cfg.batch_size)
        steps_per_epoch = math.ceil(n / bs)
        total = max(1, steps_per_epoch * int(cfg.epochs))
        # Batch 1 makes per-step overhead the cost: the fused Adam kernel and
        # setting the learning rate by hand (not a scheduler object) halve it.
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        loss_fn = nn.BCEWithLogitsLoss()
        step = 0

        best_loss, best_epoch, best_state = math.inf, 0, None
        val_losses: list[float] = []
        epochs_run = 0
        for epoch in range(int(cfg.epochs)):
            net.train()
            # Shuffle once per epoch; batches are then cheap contiguous slices.
            perm = torch.randperm(n, generator=gen)
            xs, ys = xt[perm], yt[perm]
            for start in range(0, n, bs):
                opt.zero_grad(set_to_none=True)
                loss_fn(net(xs[start : start + bs]), ys[start : start + bs]).backward()
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
                val = float(loss_fn(net(xv), yv))
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
    """Shared behaviour of LinearR and MLPR: quality = logits, pi = softmax(logits).

    Subclasses set ``SETTINGS`` (setting name -> defaults) and ``_hidden()``.
    """

    inputs = "embeddings"
    SETTINGS: ClassVar[dict[str, dict[str, Any]]] = {}

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
        raise NotImplementedError

    def resolved_config(self) -> TrainConfig:
        """The training hyper-parameters: the setting's, overridden by explicit arguments."""
        if self.setting not in self.SETTINGS:
            raise ConfigError(
                f"router {self.name!r}: unknown setting {self.setting!r}; known: {', '.join(self.SETTINGS)}"
            )
        values = dict(self.SETTINGS[self.setting])
        for key in ("epochs", "lr", "batch_size", "val_fraction", "patience", "weight_decay"):
            given = getattr(self, key)
            if given is not None:
                values[key] = given
        cfg = TrainConfig(seed=int(self.seed), n_threads=int(self.n_threads), **values)
        if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0 or not 0 <= cfg.val_fraction < 1:
            raise ConfigError(f"router {self.name!r}: invalid training settings {cfg}")
        return cfg

    def fit(self, prompts: Prompts, labels: np.ndarray) -> FeedForwardRouter:
        x = embeddings_of(prompts, self.name)
        y = check_labels(labels, len(x))
        cfg = self.resolved_config()
        self.weights_, self.train_log_ = train_feedforward(x, y, self._hidden(), cfg)
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """The net's logits (higher = more likely correct)."""
        self._check_fitted("weights_")
        x = embeddings_of(prompts, self.name, self.weights_[0][0].shape[1])
        return forward(self.weights_, x)

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return softmax(self.predict_quality(prompts))
