"""Binary records as bit sets: one uint64 word per 64 prompts, one row per model.

The oracle of a pool of binary models is a popcount of the OR of its members'
bit sets, so a 1,000-model pool over 23,000 prompts costs a few MB of memory
traffic instead of 23 M float comparisons. Pool selection and the scaling
study both count this way.
"""

from __future__ import annotations

import numpy as np

_BYTE_COUNTS = np.array([i.bit_count() for i in range(256)], dtype=np.uint16)


def pack_columns(mask: np.ndarray) -> np.ndarray:
    """n x k booleans -> k x ceil(n / 64) uint64 words (prompt j is bit j % 64 of word j // 64)."""
    packed = np.packbits(np.asarray(mask, dtype=bool), axis=0, bitorder="little").T
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def popcount_rows(words: np.ndarray) -> np.ndarray:
    """Set bits per row of a b x W uint64 array (a byte table: works on every numpy)."""
    words = np.ascontiguousarray(words)
    return _BYTE_COUNTS[words.view(np.uint8)].reshape(len(words), -1).sum(axis=1, dtype=np.int64)
