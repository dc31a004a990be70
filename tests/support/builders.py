"""Builders of small files in RouterEval's exact published layouts, shared by tests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

GROUPS = ("all_strong", "all_weak", "strong_to_weak")


# -- builders -------------------------------------------------------------------


def router_layout(seed=0, n=40, n_models=20, continuous=False, sizes=None):
    """A router dataset dict in RouterEval's layout, plus the truth it was cut from.

    Every pool's scores are columns of one master matrix, so pools agree with
    each other exactly as in the published files.
    """
    rng = np.random.default_rng(seed)
    if continuous:
        master = rng.choice(np.array([0.0, 0.25, 0.5, 0.75, 1.0], dtype=np.float32), (n, n_models))
    else:
        master = rng.integers(0, 2, (n, n_models)).astype(np.float32)
    names = [f"org-{k % 3}/model-{k:02d}" for k in range(n_models)]
    perm = rng.permutation(n)
    cut = {"train": perm[:32], "val": perm[32:36], "test": perm[36:]}
    texts = [f"Question number {i}: what is {i} + {i}?" for i in range(n)]
    emb = rng.standard_normal((n, 768)).astype(np.float32)
    raw = {
        "split_index": {f"{s}_indices": cut[s] for s in cut},
        "prompt": {f"{s}_prompt": [texts[i] for i in cut[s]] for s in cut},
        "embedding": {f"{s}_embed": emb[cut[s]] for s in cut},
    }
    pools = {}
    for setting, ms in (sizes or {"easy": (3, 5), "hard": (10,)}).items():
        raw[setting] = {}
        for m in ms:
            raw[setting][m] = {}
            for group in GROUPS:
                cols = rng.choice(n_models, m, replace=False)
                pools[(setting, m, group)] = cols
                raw[setting][m][group] = {
                    "data": {f"{s}_score": master[cut[s]][:, cols] for s in cut},
                    "model": [names[c] for c in cols],
                }
    return raw, {"master": master, "names": names, "cut": cut, "texts": texts, "emb": emb, "pools": pools}


def write(path: Path, obj, protocol=4) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path
