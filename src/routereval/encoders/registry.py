"""Encoders by name: ``minilm`` (and its paths), ``minilm-static``, ``tfidf`` (or ``tfidf-<dim>``) and ``precomputed:<key>``.

all-MiniLM-L6-v2 runs along several paths, each its own name because each
gives (slightly) different vectors and the embedding cache is keyed by name:

* ``minilm-st``: sentence-transformers in fp32 on torch, the reference;
* ``minilm-onnx``: ONNX Runtime, fp32 (cosine >= 0.9999 to the reference);
* ``minilm-int8``: ONNX Runtime, int8 scaled per word piece (cosine >= 0.99).

``minilm`` picks the default path, :data:`DEFAULT_MINILM_PATH`: ``minilm-int8``,
the fastest path that meets its bar (cosine >= 0.99 to the reference on every
MMLU-Pro and LLMRouter prompt; on the main job every learned router's mu_o
within 0.002 of the fp32 path's, inside its bootstrap interval). Every path gives a text the same vector,
bit for bit, whatever else is encoded with it (each text runs alone), which
the cache (keyed by text) relies on. Both ONNX paths
import neither torch nor sentence-transformers, so a cold process starts
encoding seconds sooner. Measured in one process on 2 otherwise idle CPUs
(``benchmarks/encoders_speed.py``, MMLU-Pro questions): see
``benchmarks/results/encoders_speed.json`` and the README's speed table.
Torch bf16 and torch dynamic int8 were measured too and are not offered: bf16
autocast ran at 0.3x the reference (this CPU has no bf16 instructions),
dynamic int8 at cosine 0.84. Where onnxruntime is not installed, ``minilm``
falls back to ``minilm-st`` with a warning that says why (its vectors go to
that path's own cache).

``minilm-static`` is not a path of the model but a table distilled from it
(:mod:`routereval.encoders.static`): one vector per word piece, computed by
the model once, and a prompt embedded as the weighted mean of its pieces'
vectors. It embeds a prompt in well under a millisecond of CPU where the
model takes milliseconds, for vectors that are no longer the model's
(cosine about 0.47 to ``minilm-int8`` on average) and routers that lose part of
what they gain (``benchmarks/results/static_encoder.json``); it is meant
for serving on a small CPU.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from routereval.encoders.base import Encoder, UnknownEncoderError

DEFAULT_ENCODER = "minilm"
DEFAULT_MINILM_PATH = "minilm-int8"
MINILM_PATHS = ("minilm-st", "minilm-onnx", "minilm-int8")
# Names that once meant other vectors: refused with what to use, so no cache or saved router mixes the two.
RETIRED = {
    "minilm-onnx-int8": (
        "minilm-onnx-int8 (int8 scaled per batch, so a text's vector moved with its batch mates) was replaced by "
        "minilm-int8 (scaled per word piece); use --encoder minilm-int8, and re-embed what was stored under the old name"
    ),
}
STATIC_ENCODER = "minilm-static"
ENCODER_NAMES = ("minilm", *MINILM_PATHS, STATIC_ENCODER, "tfidf", "tfidf-<dim>", "precomputed:<key>")

_TFIDF_RE = re.compile(r"^tfidf(?:-(\d+))?$")


def is_encoder_name(name: str) -> bool:
    """True for a name :func:`get_encoder` builds (whether its package is installed is checked when it is built)."""
    if name in ("minilm", *MINILM_PATHS, STATIC_ENCODER) or _TFIDF_RE.match(name):
        return True
    return name.startswith("precomputed:") and len(name) > len("precomputed:")


def get_encoder(name: str = DEFAULT_ENCODER, **kw: Any) -> Encoder:
    """Build an encoder from its name; keyword arguments go to its constructor.

    * ``minilm``: the default MiniLM path (``minilm-int8``, or ``minilm-st``
      where onnxruntime is missing); ``num_threads=`` and ``max_seq_length=``
      apply to every path.
    * ``minilm-st``: :class:`~routereval.encoders.minilm.MiniLMEncoder`
      (sentence-transformers, the reference; also ``device=`` and ``batch_size=``).
    * ``minilm-onnx`` / ``minilm-int8``:
      :class:`~routereval.encoders.onnx.OnnxMiniLMEncoder`.
    * ``minilm-static``: :class:`~routereval.encoders.static.StaticMiniLMEncoder`
      (``max_seq_length=``; ``num_threads=`` for the one-time build of its table).
    * ``tfidf`` / ``tfidf-<dim>``: an unfitted
      :class:`~routereval.encoders.tfidf.TfidfEncoder`; call ``fit`` on the
      training prompts before encoding.
    * ``precomputed:<key>``: vectors that come with a dataset; pass
      ``benchmark=`` (uses ``benchmark.embeddings[key]``) or ``vectors=``
      (with optional ``ids=`` and ``texts=``).
    """
    if name == "minilm":
        name = _default_minilm_path()
    if name == "minilm-st":
        from routereval.encoders.minilm import MiniLMEncoder

        return MiniLMEncoder(**kw)
    if name in ("minilm-onnx", "minilm-int8"):
        from routereval.encoders.onnx import OnnxMiniLMEncoder

        return OnnxMiniLMEncoder("fp32" if name == "minilm-onnx" else "int8", **kw)
    if name == STATIC_ENCODER:
        from routereval.encoders.static import StaticMiniLMEncoder

        return StaticMiniLMEncoder(**kw)
    if name in RETIRED:
        raise UnknownEncoderError(RETIRED[name])
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


def _default_minilm_path() -> str:
    """:data:`DEFAULT_MINILM_PATH`, or the reference with a stated reason where it cannot run."""
    from routereval.encoders.onnx import onnxruntime_missing

    missing = onnxruntime_missing()
    if missing is None:
        return DEFAULT_MINILM_PATH
    warnings.warn(
        f"encoder 'minilm' uses minilm-st (sentence-transformers), not the faster {DEFAULT_MINILM_PATH}: {missing}",
        RuntimeWarning,
        stacklevel=3,
    )
    return "minilm-st"
