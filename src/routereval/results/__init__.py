"""Where finished experiment rows live: the results store of sweeps."""

from routereval.evaluation.aggregate import summary_rows
from routereval.results.store import GridKey, ResultsStore, grid_key

__all__ = ["GridKey", "ResultsStore", "grid_key", "summary_rows"]
