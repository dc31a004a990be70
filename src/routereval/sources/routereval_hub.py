"""RouterEval's twelve router datasets, as published on the Hugging Face hub.

Each benchmark is one file, ``router_dataset/<bench>_router_dataset.pkl`` in
the dataset repository ``linggm/RouterEval``, registered here as
``routereval-<bench>`` (``routereval-truthfulqa`` for
``harness_truthfulqa_mc_0``).

No checksum is pinned: the hub is out of reach from where this list was
written, so ``sha256`` is None. The downloader records the checksum of the
first copy it fetches and checks every later use against it, so a file that
changes upstream is noticed rather than silently mixed in.

The licence is the one the dataset card declares in its metadata (MIT). The
records themselves derive from the Open LLM Leaderboard evaluations of the
listed models.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from routereval.sources.registry import DatasetSpec, RemoteFile, provenance, register

if TYPE_CHECKING:
    from routereval.records import Benchmark

HUB_ROOT = "https://huggingface.co/datasets/linggm/RouterEval/resolve/main/router_dataset/"
HOMEPAGE = "https://github.com/MilkThink-Lab/RouterEval"
LICENSE = "MIT (per the linggm/RouterEval dataset card)"
VERSION = "main (unpinned hub revision; checksum recorded at first download)"

# Registered short name -> RouterEval's benchmark name (the file's prefix).
BENCHMARKS: dict[str, str] = {
    "arc": "arc",
    "hellaswag": "hellaswag",
    "mmlu": "mmlu",
    "truthfulqa": "harness_truthfulqa_mc_0",
    "winogrande": "winogrande",
    "gsm8k": "gsm8k",
    "ifeval": "ifeval",
    "bbh": "bbh",
    "gpqa": "gpqa",
    "musr": "musr",
    "math": "math",
    "mmlu_pro": "mmlu_pro",
}

SPECS: dict[str, DatasetSpec] = {}


def _build(short: str, local: dict[str, Path]) -> Benchmark:
    # Imported here: listing datasets must not pay for numpy and pandas.
    from routereval.sources.routereval_native.router_dataset import (
        read_router_dataset,
        router_dataset_to_benchmark,
    )

    spec = SPECS[f"routereval-{short}"]
    file = spec.files[0]
    ds = read_router_dataset(local[file.path], benchmark=BENCHMARKS[short])
    bench = router_dataset_to_benchmark(ds, name=spec.name)
    bench.provenance = {**provenance(spec, local), **bench.provenance}
    return bench


for _short, _bench in BENCHMARKS.items():
    _spec = DatasetSpec(
        name=f"routereval-{_short}",
        description=(
            f"RouterEval router dataset for {_bench}: train/val/test prompts with 768-d RoBERTa "
            "embeddings and the published candidate pools (easy m = 3, 5; hard m = 10, 100, "
            "1000; all_strong, all_weak, strong_to_weak)"
        ),
        license=LICENSE,
        homepage=HOMEPAGE,
        version=VERSION,
        files=(RemoteFile(f"{HUB_ROOT}{_bench}_router_dataset.pkl", sha256=None),),
        build=partial(_build, _short),
    )
    SPECS[_spec.name] = register(_spec)
