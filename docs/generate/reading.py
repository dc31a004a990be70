"""How a paired 95% interval of a difference may be read: one rule for every page's wording."""

from __future__ import annotations


def interval_side(lo: float, hi: float) -> str:
    """'above' when the whole interval lies above 0, 'below' when below, else 'noise'."""
    return "above" if lo > 0 else "below" if hi < 0 else "noise"
