"""The figures of ``routereval scaling``: which formats can be written, and writing the curve in each.

Kept apart from the command so that only ``reports/`` ever touches matplotlib; the curve itself is
drawn by :func:`routereval.reports.figures.plot_scaling`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from routereval.errors import ConfigError
from routereval.reports.figures import plot_scaling, require_matplotlib, save_figure


def check_formats(formats: Sequence[str]) -> list[str]:
    """``formats`` as given when matplotlib can write every one; else a :class:`ConfigError` naming the first it cannot.

    Checked before the study runs, so a typo in ``--formats`` costs nothing.
    """
    if not formats:
        return []
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    known = FigureCanvasBase.get_supported_filetypes()
    bad = [f for f in formats if f not in known]
    if bad:
        raise ConfigError(f"--formats: matplotlib cannot write {bad[0]!r}; it writes {', '.join(sorted(known))}")
    return list(formats)


def write_scaling_figures(doc: dict[str, Any], stem: Path, formats: Sequence[str]) -> list[Path]:
    """Draw the scaling curve of ``doc`` and write ``stem.<format>`` for each format; the paths written."""
    return save_figure(plot_scaling(doc), stem, formats)
