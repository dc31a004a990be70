"""Encoders by name: ``minilm``, ``tfidf`` (or ``tfidf-<dim>``) and ``precomputed:<key>``."""

from __future__ import annotations

import re
from typing import Any

from routereval.encoders.base import Encoder, UnknownEncoderError

DEFAULT_ENCODER = "minilm"
ENCODER_NAMES = ("minilm", "tfidf", "tfidf-<dim>", "precomputed:<key>")

_TFIDF_RE = re.compile(r"^tfidf(?:-(\d+))?$")


def get_encoder(name: str = DEFAULT_ENCODER, **kw: Any) -> Encoder:
    """Build an encoder from its name; keyword arguments go to its constructor.

    * ``minilm``: :class:`~routereval.encoders.minilm.MiniLMEncoder` (``batch_size=``, ...).
    * ``tfidf`` / ``tfidf-<dim>``: an unfitted
      :class:`~routereval.encoders.tfidf.TfidfEncoder`; call ``fit`` on the
      training prompts before encoding.
    * ``precomputed:<key>``: vectors that come with a dataset; pass
      ``benchmark=`` (uses ``benchmark.embeddings[key]``) or ``vectors=``
      (with optional ``ids=`` and ``texts=``).
    """
    if name == "minilm":
        from routereval.encoders.minilm import MiniLMEncoder

        return MiniLMEncoder(**kw)
    match = _TFIDF_RE.match(name)
    if match:
        from routereval.encoders.tfidf import TfidfEncoder

        if match.group(1):
            if "dim" in kw and int(kw["dim"]) != int(match.group(1)):
                raise ValueError(f"encoder {name!r} and dim={kw['dim']} disagree")
            kw["dim"] = int(match.group(1))
        return TfidfEncoder(**kw)
    if name.startswith("tfidf-"):
        raise UnknownEncoderError(
            f"{name!r} names one fitted tfidf encoder; it cannot be rebuilt from its name. "
            "Use 'tfidf' or 'tfidf-<dim>' and fit it on the training prompts"
        )
    if name.startswith("precomputed:") and len(name) > len("precomputed:"):
        from routereval.encoders.precomputed import PrecomputedEncoder

        key = name.split(":", 1)[1]
        bench = kw.pop("benchmark", None)
        if bench is not None:
            if kw:
                raise TypeError(f"unexpected arguments with benchmark=: {', '.join(kw)}")
            return PrecomputedEncoder.from_benchmark(bench, key)
        if "vectors" not in kw:
            raise TypeError(f"encoder {name!r} needs benchmark= or vectors=")
        return PrecomputedEncoder(kw.pop("vectors"), key=key, **kw)
    raise UnknownEncoderError(f"unknown encoder {name!r}; known: {', '.join(ENCODER_NAMES)}")
