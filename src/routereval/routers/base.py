"""The router contract, in the spirit of scikit-learn estimators.

A router is a class whose ``__init__`` only stores hyper-parameters; ``fit``
learns from training prompts and their per-candidate labels and returns
``self``; learned state ends in an underscore; prediction never changes it.

A router answers three questions about new prompts, all as n x m arrays over
the m candidates of its pool:

* :meth:`Router.predict_quality`: its estimate of each candidate's quality
  (the *scorer*). Policies (argmax, cost-aware, threshold) turn it into choices;
  see :mod:`routereval.routers.policies`.
* :meth:`Router.predict_proba`: the probability vector pi whose entropy is the
  paper's E_p; each router defines it as SPEC section 5 does.
* :meth:`Router.choice_distribution`: the probability that the router sends each
  prompt to each candidate. Deterministic routers put 1 on the argmax of their
  quality estimate (ties to the lowest index); r_o(p) and Random spread it.
  Metrics (mu_o, E_sel, intervals) are computed from this once, for every router.

A new router is one file: subclass :class:`Router`, implement ``fit`` and
``predict_quality`` (and ``predict_proba`` if its pi differs from the default),
and decorate it with :func:`register`. Every metric, table and contract test
then applies to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from routereval.errors import ConfigError


@dataclass(frozen=True)
class Prompts:
    """What a router may look at for a batch of n prompts.

    ``scores`` (the true n x m scores) is set only where a router declares
    ``uses_true_scores`` (the oracle family); learned routers never see it.
    """

    embeddings: np.ndarray | None = None
    texts: Sequence[str] | None = None
    scores: np.ndarray | None = None

    def __len__(self) -> int:
        for part in (self.embeddings, self.texts, self.scores):
            if part is not None:
                return len(part)
        return 0


def argmax_choice(quality: np.ndarray) -> np.ndarray:
    """Index of the best candidate per row; ties go to the lowest index."""
    return np.argmax(quality, axis=1)


def one_hot(choice: np.ndarray, m: int) -> np.ndarray:
    """Rows with a single 1 at ``choice``."""
    out = np.zeros((len(choice), m))
    out[np.arange(len(choice)), choice] = 1.0
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Router:
    """Base class of all routers (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    #: "embeddings", "texts" or "none": what ``fit`` / ``predict_*`` read.
    inputs: ClassVar[str] = "embeddings"
    #: True only for the oracle family, which looks at the true test scores.
    uses_true_scores: ClassVar[bool] = False

    def fit(self, prompts: Prompts, labels: np.ndarray) -> Router:
        """Learn from training prompts and their n x m labels in [0, 1]."""
        raise NotImplementedError

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """Estimated quality of each candidate on each prompt (n x m)."""
        raise NotImplementedError

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        """pi for E_p; by default the one-hot choice (a router with no spread)."""
        return self.choice_distribution(prompts)

    def choice_distribution(self, prompts: Prompts) -> np.ndarray:
        """Probability of sending each prompt to each candidate (rows sum to 1)."""
        quality = self.predict_quality(prompts)
        return one_hot(argmax_choice(quality), quality.shape[1])

    def predict(self, prompts: Prompts) -> np.ndarray:
        """The chosen candidate per prompt: argmax of the quality estimate."""
        return argmax_choice(self.predict_quality(prompts))

    # -- scikit-learn style parameter access -------------------------------

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        # A router without its own __init__ has object's (*args, **kwargs): no parameters.
        return {n: getattr(self, n) for n, p in sig.parameters.items() if n != "self" and p.kind in plain}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self, attr: str) -> None:
        if not hasattr(self, attr):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")


_ROUTERS: dict[str, type[Router]] = {}


def register(cls: type[Router]) -> type[Router]:
    """Class decorator: make a router available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty `name`")
    if cls.name in _ROUTERS and _ROUTERS[cls.name] is not cls:
        raise ValueError(f"router name {cls.name!r} is taken by {_ROUTERS[cls.name].__name__}")
    _ROUTERS[cls.name] = cls
    return cls


# Modules that register routers; importing them is cheap (torch loads in fit).
ROUTER_MODULES = (
    "routereval.routers.oracle",
    "routereval.routers.best_single",
    "routereval.routers.knn",
    "routereval.routers.cluster",
    "routereval.routers.linear",
    "routereval.routers.mlp",
    "routereval.routers.mlc",
)


def all_routers() -> dict[str, type[Router]]:
    """Every registered router class, by name."""
    import importlib

    for mod in ROUTER_MODULES:
        importlib.import_module(mod)
    return dict(_ROUTERS)


def make_router(name: str, **params: Any) -> Router:
    """Instantiate a registered router by name with hyper-parameters."""
    routers = all_routers()
    if name not in routers:
        raise ConfigError(f"unknown router {name!r}; known: {', '.join(sorted(routers))}")
    try:
        return routers[name](**params)
    except TypeError as exc:
        raise ConfigError(f"router {name!r}: {exc}") from exc


RouterFactory = Callable[..., Router]
