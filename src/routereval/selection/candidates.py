"""Which models may be chosen: ``--candidates`` as model names or a size filter.

Two forms, decided by whether the text holds a comparison:

* ``params<=13e9`` (also ``<``, ``>=``, ``>``): the models whose parameter
  count (the records' ``n_params``) passes the test. Models without a count
  are left out and named, since nothing says which side they fall on; if no
  model has a count the filter is an error that says to name models instead.
* ``a,b,c``: these models, by exact name.
"""

from __future__ import annotations

import difflib
import operator
import re

import numpy as np
import pandas as pd

from routereval.errors import ConfigError

_FILTER = re.compile(r"^\s*params\s*(<=|>=|<|>)\s*([0-9.eE+_]+)\s*$")
_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


def model_index(name: str, names: list[str], option: str) -> int:
    """Position of ``name`` in ``names``, or a ConfigError naming the option and the closest names."""
    if name in names:
        return names.index(name)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names)}"
    raise ConfigError(f"{option}: unknown model {name!r}{hint}")


def parse_candidates(spec: str, models: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(bool per model, notes) for a ``--candidates`` text over the records' model table."""
    names = [str(n) for n in models["name"]]
    match = _FILTER.match(spec)
    if match:
        op, raw = match.groups()
        try:
            limit = float(raw.replace("_", ""))
        except ValueError as exc:
            raise ConfigError(f"--candidates: {raw!r} is not a number (e.g. params<=13e9)") from exc
        counts = pd.to_numeric(models["n_params"], errors="coerce").to_numpy(dtype=np.float64)
        known = ~np.isnan(counts)
        if not known.any():
            raise ConfigError(
                "--candidates: these records carry no parameter counts, so a size filter cannot apply; "
                "name the models instead (--candidates a,b,c)"
            )
        mask = known & _OPS[op](np.where(known, counts, 0.0), limit)
        notes = []
        if (~known).any():
            missing = [n for n, k in zip(names, known) if not k]
            notes.append(f"left out for lack of a parameter count: {', '.join(missing)}")
        if not mask.any():
            raise ConfigError(f"--candidates: no model has params {op} {limit:g}")
        return mask, notes
    if any(c in spec for c in "<>="):
        raise ConfigError(f"--candidates: cannot read {spec!r}; write params<=13e9 (or <, >=, >) or a,b,c")
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    if not wanted:
        raise ConfigError("--candidates needs at least one model name or a filter such as params<=13e9")
    mask = np.zeros(len(names), dtype=bool)
    for name in wanted:
        mask[model_index(name, names, "--candidates")] = True
    return mask, []
