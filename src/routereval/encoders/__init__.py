"""Text encoders behind one interface, and a disk cache so each text is embedded once.

>>> from routereval.encoders import get_encoder, embed
>>> vectors = embed(get_encoder("minilm"), ["What is 2 + 2?"])   # 1 x 384, unit rows

Importing this package loads neither torch nor scikit-learn; each encoder
imports what it needs when it first works.
"""

from routereval.encoders.base import Encoder, EncoderNotFittedError, UnknownEncoderError, l2_normalise
from routereval.encoders.cache import EmbeddingCache, embed, text_key
from routereval.encoders.minilm import MiniLMEncoder
from routereval.encoders.precomputed import PrecomputedEncoder
from routereval.encoders.prompts import embed_prompts
from routereval.encoders.registry import DEFAULT_ENCODER, ENCODER_NAMES, get_encoder
from routereval.encoders.tfidf import TfidfEncoder

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODER_NAMES",
    "EmbeddingCache",
    "Encoder",
    "EncoderNotFittedError",
    "MiniLMEncoder",
    "PrecomputedEncoder",
    "TfidfEncoder",
    "UnknownEncoderError",
    "embed",
    "embed_prompts",
    "get_encoder",
    "l2_normalise",
    "text_key",
]
