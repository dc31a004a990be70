"""Performance records: the :class:`Benchmark` type and its on-disk store."""

from routereval.records.benchmark import BINARY, CONTINUOUS, Benchmark, decode_scores, encode_scores
from routereval.records.store import is_store, load_benchmark, read_manifest, save_benchmark, verify_store

__all__ = [
    "BINARY",
    "CONTINUOUS",
    "Benchmark",
    "decode_scores",
    "encode_scores",
    "is_store",
    "load_benchmark",
    "read_manifest",
    "save_benchmark",
    "verify_store",
]
