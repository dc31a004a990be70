"""The one training loop of the latent-factor routers (``mf``, ``irt``).

Each is a small torch module from a (standardised) prompt embedding to one
logit per candidate, fitted to every present (prompt, candidate) record at
once by full-batch Adam on the masked binary cross-entropy. Full batches make
a run deterministic and cheap at these sizes (a 5,000 x 1,000 pool is one
matrix product per step). With a validation split the loss on its present
records is checked every ``EVAL_EVERY`` steps and the best state is kept,
stopping after ``PATIENCE`` checks without improvement; without one every
step runs. Weights come back as NumPy arrays; torch is imported only here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from routereval.routers._torch import torch_threads
from routereval.routers.base import require

EVAL_EVERY = 10
PATIENCE = 5


@dataclass(frozen=True)
class LatentConfig:
    """Settings of one run."""

    lr: float = 0.002
    weight_decay: float = 1e-4
    max_steps: int = 500
    seed: int = 0
    n_threads: int = 1


def gradient_terms(labels: Any, mask: Any, n_present: float) -> tuple[Any, Any]:
    """(weight, offset) with d loss / d logits = sigmoid(logits) * weight + offset, for the masked BCE summed / n.

    The gradient is (sigmoid(logit) - label) * mask / n; in this form it takes one fused pass
    (``torch.addcmul``) after the sigmoid.
    """
    return mask / n_present, -(labels * mask) / n_present


def train_latent(
    build: Callable[[Any, int, int], Any],
    x: np.ndarray,
    y: np.ndarray,
    cfg: LatentConfig,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Fit ``build(torch, d, m)``'s module; return its parameters as arrays (by name) and a log."""
    torch = require("torch", "training mf / irt")

    def tensors(a: np.ndarray, b: np.ndarray) -> tuple[Any, Any, Any, float]:
        present = ~np.isnan(b)
        return (torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)),
                torch.from_numpy(np.nan_to_num(b).astype(np.float32)),
                torch.from_numpy(present.astype(np.float32)),
                max(1.0, float(present.sum())))

    def loss(module: Any, xs: Any, ys: Any, mask: Any, n_present: float) -> Any:
        # The mask as BCE's weight: one pass over the n x m logits instead of three (a 5,000 x 1,000
        # pool spends most of each step in these element-wise passes).
        return torch.nn.functional.binary_cross_entropy_with_logits(module(xs), ys, weight=mask,
                                                                    reduction="sum") / n_present

    with torch_threads(cfg.n_threads):
        torch.manual_seed(cfg.seed)
        module = build(torch, x.shape[1], y.shape[1])
        opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        xs, ys, mask, n_present = tensors(x, y)
        val = None if validation is None else tensors(*validation)
        best, best_state, since, steps = float("inf"), None, 0, 0
        # The loss's gradient with respect to the logits goes straight to backward: training never
        # needs the loss value, and skipping it saves the log and exp passes over the n x m logits
        # that dominate a 5,000 x 1,000 step.
        weight, offset = gradient_terms(ys, mask, n_present)
        for step in range(1, int(cfg.max_steps) + 1):
            opt.zero_grad(set_to_none=True)
            logits = module(xs)
            with torch.no_grad():
                grad = torch.addcmul(offset, torch.sigmoid(logits), weight)
            logits.backward(grad)
            opt.step()
            steps = step
            if val is None or step % EVAL_EVERY:
                continue
            with torch.no_grad():
                current = float(loss(module, *val))
            if current < best:
                best, since = current, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                since += 1
                if since >= PATIENCE:
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
        weights = {k: v.detach().numpy().astype(np.float64).copy() for k, v in module.state_dict().items()}
    return weights, {"steps": steps, "best_val_loss": best if val is not None else None}


def logit_means(y: np.ndarray) -> np.ndarray:
    """Each column's logit of (present sum + 0.5) / (present count + 1): a neutral starting intercept."""
    present = ~np.isnan(y)
    p = (np.where(present, y, 0.0).sum(axis=0) + 0.5) / (present.sum(axis=0) + 1.0)
    return np.log(p / (1 - p))


@dataclass
class LatentFit:
    """What :func:`fit_latent` chose: the dimension, the standardisation and the trained weights."""

    dim: int
    mean: np.ndarray
    scale: np.ndarray
    weights: dict[str, np.ndarray]
    steps: int


def fit_latent(
    router: Any,
    prompts: Any,
    labels: np.ndarray,
    validation: Any,
    build: Callable[[int, np.ndarray], Any],
    logits: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray],
    dims: tuple[int, ...],
    default_dim: int,
) -> LatentFit:
    """The fit shared by the latent-factor routers (mf, irt): standardise, train per dimension, pick on validation.

    ``build(dim, labels)`` makes the torch module, ``logits(z, weights)`` scores
    standardised embeddings with trained weights; ``router`` supplies ``dim``,
    ``lr``, ``weight_decay``, ``max_steps``, ``random_state`` and ``n_threads``.
    """
    from routereval.routers._tuning import best_setting, grid, validation_arrays
    from routereval.routers.base import sigmoid
    from routereval.routers.checks import check_labels, embeddings_of
    from routereval.routers.logistic import standardiser

    x = embeddings_of(prompts, router.name).astype(np.float64)
    y = check_labels(labels, len(x))
    if router.dim is not None and int(router.dim) < 1:
        raise ValueError(f"dim must be at least 1, got {router.dim}")
    mean, scale = standardiser(x)
    z = (x - mean) / scale
    val = validation_arrays(validation, router.name, x.shape[1], y.shape[1])
    zval = None if val is None else ((val[0] - mean) / scale, val[1])
    cfg = LatentConfig(lr=float(router.lr), weight_decay=float(router.weight_decay), max_steps=int(router.max_steps),
                       seed=int(router.random_state), n_threads=int(router.n_threads))
    fits = [(int(dim), *train_latent(build(int(dim), y), z, y, cfg, zval))
            for dim in grid(router.dim, dims, default_dim, val is not None)]
    if len(fits) > 1:
        estimates = [sigmoid(logits(zval[0], w)) for _, w, _ in fits]
        dim, weights, log = fits[best_setting(estimates, zval[1])]
    else:
        dim, weights, log = fits[0]
    return LatentFit(dim, mean, scale, weights, int(log["steps"]))
