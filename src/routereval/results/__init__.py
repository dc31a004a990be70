"""Where finished experiment rows live: the results store of sweeps."""

from routereval.results.store import (
    GridKey,
    ResultsStore,
    grid_key,
    result_record,
    summary_rows,
)

__all__ = ["GridKey", "ResultsStore", "grid_key", "result_record", "summary_rows"]
