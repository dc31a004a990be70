"""Building the benchmark from a long or a wide table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from routereval.records import Benchmark
from routereval.sources.tables.cells import FALSE, TRUE, read_amounts, read_ids, read_scores
from routereval.sources.tables.headers import ALIASES, PER_RECORD, header_key
from routereval.sources.tables.parsed import MODEL, Column, Table

_PROMPT_FIELDS = {"prompt": "text", "task": "task", "reference": "reference"}
_NOUNS = {"prompt": "texts", "task": "task names", "reference": "references"}


def build_long(
    table: Table, name: str, scale: tuple[float, float] | None, provenance: dict
) -> Benchmark:
    pid_col, model_col = table.role("prompt_id"), table.role("model")
    pids = read_ids(table, pid_col, "prompt_id")
    models = read_ids(table, model_col, "model")
    p_codes, p_names = pd.factorize(pids)
    m_codes, m_names = pd.factorize(models)
    n_p, n_m = len(p_names), len(m_names)

    scores = read_scores(table, table.role("score"), scale)
    amounts = {role: read_amounts(table, col, role.replace("_", " ")) for role in PER_RECORD
               if (col := table.role(role)) is not None}

    key = p_codes.astype(np.int64) * n_m + m_codes
    dup = pd.Series(key).duplicated().to_numpy()
    if dup.any():
        j = int(np.argmax(dup))
        i = int(np.argmax(key == key[j]))
        raise table.error(
            f"duplicate record: prompt {pids[j]!r} and model {models[j]!r} appear on {table.unit}s "
            f"{table.at(i)} and {table.at(j)}; keep one",
            j,
            pid_col.header,
        )

    prompts = pd.DataFrame({"prompt_id": np.asarray(p_names, dtype=object)})
    for role, field in _PROMPT_FIELDS.items():
        col = table.role(role)
        if col is not None:
            prompts[field] = _per_prompt(table, col, p_codes, n_p, pids)

    values = np.full((n_p, n_m), np.nan, dtype=np.float32)
    values[p_codes, m_codes] = scores
    matrices = {}
    for role, column in amounts.items():
        matrices[role] = np.full((n_p, n_m), np.nan, dtype=np.float32)
        matrices[role][p_codes, m_codes] = column
    return Benchmark.from_values(
        name, values, prompts, list(m_names), costs=matrices.get("cost"), provenance=provenance,
        input_tokens=matrices.get("input_tokens"), output_tokens=matrices.get("output_tokens"),
    )


def _per_prompt(table: Table, col: Column, p_codes: np.ndarray, n_p: int, pids: np.ndarray) -> np.ndarray:
    """One value per prompt from lines that may repeat it; two different values are an error."""
    cells = col.cells
    given = np.flatnonzero(cells != "")
    out = np.full(n_p, None, dtype=object)
    if len(given) == 0:
        return out
    codes = p_codes[given]
    uniq, first = np.unique(codes, return_index=True)
    first_line = np.empty(n_p, dtype=np.int64)
    first_line[uniq] = given[first]
    out[uniq] = cells[given[first]]
    differs = cells[given] != out[codes]
    if differs.any():
        j = int(given[np.argmax(differs)])
        i = int(first_line[p_codes[j]])
        raise table.error(
            f"prompt {pids[j]!r} has two different {_NOUNS[col.role]}: {_short(cells[i])} on {table.unit} "
            f"{table.at(i)} and {_short(cells[j])} on {table.unit} {table.at(j)}",
            j,
            col.header,
        )
    return out


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _refuse_score_like(table: Table, col: Column) -> None:
    """A wide table's column named like a prompt field (``target``) that holds scores may be a model.

    Reading it as the prompt field would make that model vanish without a word,
    and reading it as a model would lose a field the user named; so it is an
    error that names the column. The canonical names (``reference``) are never ambiguous.
    """
    if header_key(col.header) == col.role:
        return
    cells = col.cells
    given = cells[cells != ""]
    if len(given) == 0:
        return
    low = np.array([c.lower() for c in given], dtype=object)
    values = pd.to_numeric(pd.Series(given, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    is_score = np.isin(low, list(TRUE | FALSE)) | ((values >= 0) & (values <= 1))
    if is_score.all():
        raise table.error(
            f"column {col.header!r} holds scores, but {col.header!r} is also a name for the {col.role} column: "
            f"rename it to {col.role!r} if it holds {_NOUNS[col.role]}, or give the model a name that is not "
            f"one of {', '.join(repr(a) for a in (col.role, *ALIASES[col.role]))}",
            None,
            col.header,
        )


def build_wide(
    table: Table, name: str, scale: tuple[float, float] | None, provenance: dict
) -> Benchmark:
    pid_col = table.role("prompt_id")
    pids = read_ids(table, pid_col, "prompt_id")
    codes, uniques = pd.factorize(pids)
    if len(uniques) < len(pids):
        j = int(np.argmax(pd.Series(codes).duplicated().to_numpy()))
        i = int(np.argmax(codes == codes[j]))
        raise table.error(
            f"prompt_id {pids[j]!r} appears on {table.unit}s {table.at(i)} and {table.at(j)}; "
            "a wide table has one line per prompt",
            j,
            pid_col.header,
        )
    prompts = pd.DataFrame({"prompt_id": pids})
    for role, field in _PROMPT_FIELDS.items():
        col = table.role(role)
        if col is not None:
            _refuse_score_like(table, col)
            prompts[field] = np.where(col.cells == "", None, col.cells)
    model_cols = [c for c in table.columns if c.role.startswith(MODEL)]
    values = np.empty((len(pids), len(model_cols)), dtype=np.float32, order="F")
    for k, col in enumerate(model_cols):
        values[:, k] = read_scores(table, col, scale)
    return Benchmark.from_values(
        name, values, prompts, [c.header for c in model_cols], provenance=provenance
    )
