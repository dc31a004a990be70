"""Text encoders behind one interface, and a disk cache so each text is embedded once.

>>> from routereval.encoders import get_encoder, embed_texts
>>> vectors = embed_texts(["What is 2 + 2?"], get_encoder("minilm"))   # 1 x 384, unit rows

For one prompt at a time (serving), keep an encoder and call it directly: the
model stays loaded and a short prompt takes a few milliseconds::

    encoder = get_encoder("minilm"); encoder.load()
    vector = encoder.encode(["Hi! Can you help me plan a trip?"])[0]

Importing this package loads neither torch, onnxruntime nor scikit-learn; each encoder
imports what it needs when it first works.
"""

from routereval.encoders.base import Encoder, UnknownEncoderError, l2_normalise
from routereval.encoders.cache import CacheDamagedError, EmbeddingCache, text_key
from routereval.encoders.embedding import EmbedStats, embed, embed_texts
from routereval.encoders.minilm import MiniLMEncoder
from routereval.encoders.onnx import OnnxMiniLMEncoder
from routereval.encoders.precomputed import PrecomputedEncoder
from routereval.encoders.prompts import embed_prompts
from routereval.encoders.registry import DEFAULT_ENCODER, ENCODER_NAMES, get_encoder
from routereval.encoders.tfidf import TfidfEncoder

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODER_NAMES",
    "CacheDamagedError",
    "EmbedStats",
    "EmbeddingCache",
    "Encoder",
    "MiniLMEncoder",
    "OnnxMiniLMEncoder",
    "PrecomputedEncoder",
    "TfidfEncoder",
    "UnknownEncoderError",
    "embed",
    "embed_texts",
    "embed_prompts",
    "get_encoder",
    "l2_normalise",
    "text_key",
]
