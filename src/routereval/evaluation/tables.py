"""The table :meth:`EvaluationResult.table` returns: a pandas DataFrame that prints in full.

``print(df)`` follows pandas' display options (60 rows, the terminal's width)
and cuts a leaderboard with ``...``; a results table is small and read whole,
so this one renders every row and column. It is still a DataFrame (indexing,
``to_csv``, ``to_markdown`` and everything else are pandas'), and frames made
from it (``table.round(3)``, ``table[table.router == "knn"]``) print in full too.
"""

from __future__ import annotations

import pandas as pd


class FullTable(pd.DataFrame):
    """A DataFrame whose ``print`` / ``repr`` show every row and column (pandas' ``to_string()``)."""

    @property
    def _constructor(self) -> type[FullTable]:
        return FullTable

    def __repr__(self) -> str:
        return self.to_string()
