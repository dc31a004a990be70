"""Results stores: where finished grid points are kept (a folder, or memory for one-process runs)."""

from routereval.results.store import GridKey, MemoryStore, ResultsStore, grid_key

__all__ = ["GridKey", "MemoryStore", "ResultsStore", "grid_key"]
