"""The router contract, in the spirit of scikit-learn estimators (docs/routers.md, "Writing your own router").

A router is a class whose ``__init__`` only stores hyper-parameters; ``fit``
learns and returns ``self``; learned state ends in an underscore; prediction
never changes it. A router *estimates*; a policy (:mod:`routereval.policies`)
*chooses*.

``fit(prompts, labels, validation=None)``

* ``prompts`` is a :class:`Prompts`, not an array: ``prompts.embeddings``
  (n x d, row i = prompt i) for routers whose ``inputs`` is "embeddings",
  ``prompts.texts`` (n strings) for "texts", and ``prompts.scores`` (the true
  n x m training scores, raw where records are continuous; given to ``fit``
  only). ``len(prompts)`` is n, also for routers that read nothing.
* ``labels`` is n x m in [0, 1] over the m candidates of the pool, with NaN
  where a (prompt, candidate) record is missing: mask those cells, a missing
  record is not a wrong answer.
* ``validation`` is the pool's validation split as :class:`Labelled`
  ``(prompts, labels)``; routers that tune or early-stop use it. A router
  whose ``fit`` has no ``validation`` parameter is never given one.

Prediction, both n x m arrays over the same m candidates:

* :meth:`Router.predict_quality` (required): each candidate's expected score on
  each prompt, in [0, 1] (P(correct) for binary records). One scale for every
  router, so the same cost-aware or threshold policy can sit on any of them.
* :meth:`Router.predict_proba` (optional): pi, whose mean entropy is the paper's
  E_p. Without one, a router's pi is its quality estimates normalised over the
  candidates (:func:`probabilities`): the same rule whether or not it
  subclasses :class:`Router`.

Quality estimates are finite, with one exception: the correctness predictors
of model choice (:mod:`routereval.selection.predictors`, routers on 0/1
labels) give NaN in the column of a candidate that has no record at all in
their training labels, as there is nothing to estimate from. No policy is
meant to read such a column: model choice picks with its own rules, which
skip NaN (:mod:`routereval.selection.choice`), and
:func:`routereval.evaluate` refuses a non-finite estimate with an
error naming the router, as an argmax would take NaN for the largest value.

Class attributes: ``inputs`` ("embeddings", the default; "texts"; or "none")
says what the router reads, so evaluation computes only that; ``requires``
names optional packages (``("torch",)``): command lines and sweep files refuse
the router before any work, with the install command, where one is missing
(:func:`missing_packages`).

Three forms are evaluated alike: a :class:`Router` subclass (which adds
sklearn's ``get_params`` / ``set_params`` so ``sklearn.base.clone`` and
:func:`unfitted_copy` work, ``__repr__`` and the fitted check); any object
with ``fit`` and ``predict_quality``; and a scikit-learn style estimator on
arrays wrapped by :func:`routereval.routers.adapters.from_sklearn`. Registering: a class with a
``name``, decorated with :func:`register`, in a module of this package is found
without a list; another package exposes its routers through the
``routereval.routers`` entry-point group; ``pkg.module:Class`` names any
importable class on the command line and in sweep files.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from routereval.errors import ConfigError, NotFittedError

#: Entry-point group through which other packages register routers.
ENTRY_POINT_GROUP = "routereval.routers"
#: How a router is named on the command line when it is a class outside the registry.
CLASS_PATH_SEPARATOR = ":"


@dataclass(frozen=True)
class Prompts:
    """What a router may look at for a batch of n prompts.

    ``scores`` (the true n x m training scores, raw where the records are
    continuous) is given to ``fit`` only, for routers that need more than the
    0/1 labels (the best single model by mean score); never at prediction.
    ``n`` states the count when a router reads neither embeddings nor texts.
    """

    embeddings: np.ndarray | None = None
    texts: Sequence[str] | None = None
    scores: np.ndarray | None = None
    n: int | None = None

    def __len__(self) -> int:
        if self.n is not None:
            return int(self.n)
        for part in (self.embeddings, self.texts, self.scores):
            if part is not None:
                return len(part)
        return 0


class Labelled(NamedTuple):
    """Prompts with their n x m labels (NaN = no record): what ``fit`` receives as ``validation``."""

    prompts: Prompts
    labels: np.ndarray


def one_hot(choice: np.ndarray, m: int) -> np.ndarray:
    """Rows with a single 1 at ``choice``."""
    out = np.zeros((len(choice), m))
    out[np.arange(len(choice)), choice] = 1.0
    return out


def normalised_scores(scores: np.ndarray) -> np.ndarray:
    """Scores divided by their row sum; uniform where a row is all zero (the oracle's pi)."""
    m = scores.shape[1]
    total = scores.sum(axis=1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / m)


def probabilities(router: Any, prompts: Prompts, quality: np.ndarray) -> np.ndarray:
    """pi for E_p: the router's own ``predict_proba``, else ``quality`` (its estimates) normalised over the candidates.

    The one place the rule lives, so a plain object and a :class:`Router`
    subclass without ``predict_proba`` report the same E_p.
    """
    if callable(getattr(router, "predict_proba", None)):
        return np.asarray(router.predict_proba(prompts), dtype=float)
    return normalised_scores(np.asarray(quality, dtype=float))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function, stable for large |logits|: logits -> P(correct)."""
    x = np.asarray(logits, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def unfitted_copy(estimator: Any) -> Any:
    """An unfitted copy with the same hyper-parameters, for one fit (a seed, a fold, a candidate).

    The object given is never fitted in place. A scikit-learn estimator (it has
    ``__sklearn_clone__``) goes through ``sklearn.base.clone``. Any other object
    with ``get_params`` (a :class:`Router`, the correctness predictors of model
    choice included) is rebuilt from ``get_params(deep=False)``, its parameters
    passed as they are and its learned state (names ending in ``_``) left behind;
    sklearn is not imported for it, which keeps a sweep of cheap routers from
    paying its import. One whose ``__init__`` refuses its own parameters, or
    that has no ``get_params``, is deep-copied.
    """
    if hasattr(estimator, "__sklearn_clone__"):
        from sklearn.base import clone

        return clone(estimator)
    if hasattr(estimator, "get_params"):
        try:
            return type(estimator)(**estimator.get_params(deep=False))
        except (TypeError, AttributeError):
            # __init__ takes other arguments than get_params names, or does not store them under those names.
            pass
    return copy.deepcopy(estimator)


class Router:
    """Base class of routers (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    #: "embeddings", "texts" or "none": what ``fit`` / ``predict_*`` read.
    inputs: ClassVar[str] = "embeddings"
    #: Optional packages ``fit`` imports (``"torch"``): checked before any work, with the install command.
    requires: ClassVar[tuple[str, ...]] = ()

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> Router:
        """Learn from training prompts and their n x m labels in [0, 1] (NaN = no record)."""
        raise NotImplementedError

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """Each candidate's expected score on each prompt, n x m in [0, 1]."""
        raise NotImplementedError

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        """pi for E_p; by default the quality estimates normalised over the candidates.

        That is the rule RouterEval gives the oracle's pi (its scores normalised), so
        every router has an E_p without inventing a softmax temperature; a
        router that chooses with no spread (best single) overrides it.
        """
        return normalised_scores(np.asarray(self.predict_quality(prompts), dtype=float))

    def check_params(self) -> None:
        """Raise ValueError naming a hyper-parameter of the wrong type or out of range (called by ``fit``).

        Command lines and sweep files call it before any work, so a typo in
        ``knn:k=abc`` costs nothing. Routers with constraints override it.
        """

    # -- scikit-learn parameter protocol ----------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        # A class without its own __init__ has object's (*args, **kwargs): no parameters.
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind in plain]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``; with ``deep``, those of nested estimators as ``a__b``."""
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            out[name] = value
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self, **params: Any) -> Router:
        """Set hyper-parameters (``a__b`` reaches a nested router); unknown names are refused."""
        names = self._param_names()
        for key, value in params.items():
            head, _, rest = key.partition("__")
            if head not in names:
                raise ConfigError(
                    f"router {self.name or type(self).__name__!r} has no parameter {head!r}; "
                    f"known: {', '.join(names) or 'none'}"
                )
            if rest:
                getattr(self, head).set_params(**{rest: value})
            else:
                setattr(self, head, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"

    def requirements(self) -> tuple[str, ...]:
        """The optional packages this router needs (nested routers' included where a router holds others)."""
        return self.requires

    def _check_fitted(self, attr: str) -> None:
        if not hasattr(self, attr):
            raise NotFittedError(type(self).__name__)


# -- the registry ----------------------------------------------------------------------

_ROUTERS: dict[str, type] = {}
_DISCOVERED = False
# Modules of this package that hold no router found by name (the adapter wraps an estimator it is given).
_NOT_ROUTERS = frozenset({"base", "checks", "adapters"})


def register(cls: type) -> type:
    """Class decorator: make a router available by its ``name``."""
    name = getattr(cls, "name", "")
    if not name:
        raise ValueError(f"{cls.__name__} needs a non-empty `name`")
    if name in _ROUTERS and _ROUTERS[name] is not cls:
        raise ValueError(f"router name {name!r} is taken by {_ROUTERS[name].__name__}")
    _ROUTERS[name] = cls
    return cls


def _discover() -> None:
    """Import every router module of this package and every entry point of the group, once."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    package = importlib.import_module("routereval.routers")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name in _NOT_ROUTERS:
            continue
        importlib.import_module(f"routereval.routers.{info.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not hide the others
            raise ConfigError(f"router plug-in {ep.name!r} ({ep.value}) cannot be loaded: {exc}") from exc
        # An entry point names a router class (registered under its name) or a module that registers some.
        if isinstance(loaded, type):
            _ROUTERS.setdefault(getattr(loaded, "name", "") or ep.name, loaded)
    _DISCOVERED = True


def all_routers() -> dict[str, type]:
    """Every registered router class, by name (built-in modules and plug-ins)."""
    _discover()
    return dict(_ROUTERS)


def is_class_path(name: str) -> bool:
    """True for ``pkg.module:Class``, a router named by where its class lives."""
    module, sep, attr = name.partition(CLASS_PATH_SEPARATOR)
    return bool(sep) and bool(module) and attr.isidentifier()


def router_class(name: str) -> type:
    """The router class for a registered name or a ``pkg.module:Class`` path."""
    if is_class_path(name):
        module, _, attr = name.partition(CLASS_PATH_SEPARATOR)
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"router {name!r}: cannot import {attr} from {module} ({exc})") from exc
        if not (callable(getattr(cls, "fit", None)) and callable(getattr(cls, "predict_quality", None))):
            raise ConfigError(f"router {name!r} has no fit() and predict_quality(): not a router")
        return cls
    routers = all_routers()
    if name not in routers:
        raise ConfigError(f"unknown router {name!r}; known: {', '.join(sorted(routers))}")
    return routers[name]


def make_router(name: str, **params: Any) -> Any:
    """A router by registered name (or ``pkg.module:Class``) with hyper-parameters."""
    cls = router_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"router {name!r}: {exc}") from exc


#: How to install each optional package a router may require.
INSTALL = {"torch": "pip install 'routereval[torch]'", "transformers": "pip install 'routereval[torch]'"}


def missing_packages(router: Any) -> list[str]:
    """The packages ``router`` requires (see :attr:`Router.requires`) that are not installed here."""
    import importlib.util

    needed = router.requirements() if hasattr(router, "requirements") else getattr(router, "requires", ())
    return [p for p in needed if importlib.util.find_spec(p) is None]


def require(package: str, who: str) -> Any:
    """Import ``package`` for ``who``, or raise ConfigError with the command that installs it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ConfigError(f"{who} needs {package}, which is not installed: "
                          f"{INSTALL.get(package, f'pip install {package}')}") from None


def check_integer(router: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in [low, high], or a ValueError saying which parameter of which router."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"router {router!r}: {name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"router {router!r}: {name} must be {bound}, got {value}")
    return int(value)


def check_number(router: str, name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a finite float in [low, high], or a ValueError saying which parameter of which router."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"router {router!r}: {name} must be a number, got {value!r}")
    if not np.isfinite(value) or not low <= value <= high:
        raise ValueError(f"router {router!r}: {name} must be in [{low:g}, {high:g}], got {value}")
    return float(value)


def reads(router: Any) -> str:
    """What a router object reads: "embeddings" (the default for unknown objects), "texts" or "none"."""
    return getattr(router, "inputs", "embeddings")
