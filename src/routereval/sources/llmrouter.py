"""LLMRouter (ulab-uiuc/LLMRouter, MIT): 9 open LLMs x 6,108 queries from 14 tasks.

The score files (``data/dcrouter_preprocessed/{train,test}.json``) are JSON
lists of ``{question, scores[, cluster_id]}``, where ``scores`` maps model name
to a score in [0, 1] (exact match, F1, pass@1 ... depending on the task, so the
benchmark is continuous). Upstream documents that ``scores`` may be a Python
dict literal stored as a string; both forms are accepted, and strings are
parsed with :func:`ast.literal_eval`, which evaluates literals only.

The score files carry no task names: they come from joining each question's
exact text with ``default_query_{train,test}.jsonl`` of the same split, which
also give the reference answer. The candidates file gives sizes and prices.
Input token counts (``o200k_base``) come from the query texts; the files hold
no replies, so output tokens are unknown. Prompt ids are ``train-<i>`` / ``test-<i>`` (0-based position in the file) and
the ``split`` column keeps the source's own train/test split.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import CONTINUOUS, Benchmark
from routereval.sources.jsonl import json_objects
from routereval.sources.registry import DatasetSpec, github_file, provenance, register

REPO = "ulab-uiuc/LLMRouter"
COMMIT = "4e7a796942ce26e9d5f2b93191c7c2585c99c2e3"
SPLITS = ("train", "test")

SCORES = {s: f"data/dcrouter_preprocessed/{s}.json" for s in SPLITS}
QUERIES = {s: f"data/example_data/query_data/default_query_{s}.jsonl" for s in SPLITS}
CANDIDATES = "data/example_data/llm_candidates/default_llm.json"

_FILES = (
    (SCORES["train"], "ad3ae70149998f02cbf0dd4557ccb6afcf365ac9391b7371329ffc22201e90e3", 4018466),
    (SCORES["test"], "fbb6d3e3f62c7018e5446d3154cc05812d3124381f774738e9f0bac5bff79c79", 361757),
    (QUERIES["train"], "f1b2e3281dc3f9e082016812e1a778ca30e9828c7e58fa0a9f6dc52350ad4b8c", 3519579),
    (QUERIES["test"], "0fdf4b4236fb81c1a673a01950fb974e02599c83164b0e7832888aefaa490e27", 405273),
    (CANDIDATES, "278f790564efd758ab28a9b6ce141d3fa057219de9bad40b31562c4286549552", 6904),
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMBT])\s*$", re.IGNORECASE)
_SIZE_UNIT = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_size(size: Any) -> float:
    """Parameter count from a size label such as ``"7B"`` (NaN when it cannot be read)."""
    match = _SIZE.match(str(size)) if size is not None else None
    if match is None:
        return math.nan
    return float(match.group(1)) * _SIZE_UNIT[match.group(2).upper()]


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"is not valid JSON ({exc})", file=str(path)) from exc


def _score_dict(raw: Any, path: Path, entry: int) -> dict[str, float | None]:
    """One record's ``scores`` field, as a dict of model -> score (None = missing)."""
    if isinstance(raw, str):
        try:
            raw = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise DataError(
                f"entry {entry} of the JSON list (1-based): 'scores' is a string that is not a "
                f"Python dict literal ({type(exc).__name__})",
                file=str(path), row=entry, column="scores",
            ) from exc
    if not isinstance(raw, dict):
        raise DataError(
            f"entry {entry} of the JSON list (1-based): 'scores' should map model names to "
            f"scores, got {type(raw).__name__}",
            file=str(path), row=entry, column="scores",
        )
    out: dict[str, float | None] = {}
    for model, value in raw.items():
        if value is None:
            out[str(model)] = None
            continue
        # bool is an int subclass, but True/False here would be a different metric.
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not (0.0 <= float(value) <= 1.0):
            raise DataError(
                f"entry {entry} of the JSON list (1-based): score {value!r} for model {model!r} "
                "is not a number in [0, 1]",
                file=str(path), row=entry, column=f"scores.{model}",
            )
        out[str(model)] = float(value)
    return out


def _read_scores(path: Path) -> list[tuple[str, dict[str, float | None]]]:
    data = _load_json(path)
    if not isinstance(data, list):
        raise DataError(f"should hold a JSON list of records, got {type(data).__name__}", file=str(path))
    records = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise DataError(
                f"entry {i} of the JSON list (1-based) is not a record with a 'question' string",
                file=str(path), row=i, column="question",
            )
        if "scores" not in item:
            raise DataError(
                f"entry {i} of the JSON list (1-based) has no 'scores'",
                file=str(path), row=i, column="scores",
            )
        records.append((item["question"], _score_dict(item["scores"], path, i)))
    return records


def _read_queries(path: Path) -> dict[str, list[tuple[str, str | None]]]:
    """Query text -> every (task_name, ground_truth) given for it, in file order."""
    by_text: dict[str, list[tuple[str, str | None]]] = {}
    for line_no, row in json_objects(path):
        for key in ("task_name", "query"):
            if not isinstance(row.get(key), str):
                raise DataError(
                    f"line {line_no} has no {key!r} string", file=str(path), row=line_no, column=key
                )
        truth = row.get("ground_truth")
        by_text.setdefault(row["query"], []).append(
            (row["task_name"], None if truth is None else str(truth))
        )
    return by_text


def _price(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _read_candidates(path: Path) -> dict[str, dict[str, float]]:
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"should map model names to descriptions, got {type(data).__name__}", file=str(path))
    out = {}
    for name, info in data.items():
        info = info if isinstance(info, dict) else {}
        out[str(name)] = {
            "n_params": parse_size(info.get("size")),
            "input_price": _price(info.get("input_price")),
            "output_price": _price(info.get("output_price")),
        }
    return out


def build(local: dict[str, Path]) -> Benchmark:
    """Read the LLMRouter files into one continuous benchmark (train and test prompts)."""
    candidates = _read_candidates(local[CANDIDATES])
    rows: list[dict[str, Any]] = []
    score_dicts: list[dict[str, float | None]] = []
    n_multi_task = n_multi_ref = n_unmatched = 0
    for split in SPLITS:
        queries = _read_queries(local[QUERIES[split]])
        for i, (question, scores) in enumerate(_read_scores(local[SCORES[split]])):
            matches = queries.get(question)
            if not matches:
                n_unmatched += 1
                task, reference = "unknown", None
            else:
                # A few texts are listed under two tasks (an MMLU question also in
                # ARC, ...): the first listing wins, and the count goes in the notes.
                task, reference = matches[0]
                if len({t for t, _ in matches}) > 1:
                    n_multi_task += 1
                elif len({r for _, r in matches}) > 1:
                    n_multi_ref += 1
            rows.append(
                {"prompt_id": f"{split}-{i}", "task": task, "text": question,
                 "reference": reference, "split": split}
            )
            score_dicts.append(scores)

    seen = list(dict.fromkeys(m for s in score_dicts for m in s))
    # Candidates-file order is stable upstream; models it does not list go last.
    scored = set(seen)
    names = [m for m in candidates if m in scored] + [m for m in seen if m not in candidates]
    col = {m: j for j, m in enumerate(names)}
    values = np.full((len(rows), len(names)), np.nan, dtype=np.float32)
    for i, scores in enumerate(score_dicts):
        for model, value in scores.items():
            if value is not None:
                values[i, col[model]] = value
    n_missing = int(np.isnan(values).sum())

    unknown = {"n_params": math.nan, "input_price": math.nan, "output_price": math.nan}
    models = pd.DataFrame([{"name": m, **candidates.get(m, unknown)} for m in names])
    notes = []
    if n_multi_task:
        notes.append(
            f"{n_multi_task} questions are listed under two task names in the query files; "
            "the first listing in file order gives their task and reference"
        )
    if n_multi_ref:
        notes.append(
            f"{n_multi_ref} questions are listed twice under one task with different ground "
            "truths; the first listing in file order gives the reference"
        )
    if n_unmatched:
        notes.append(f"{n_unmatched} questions have no entry in the query files; their task is 'unknown'")
    if n_missing:
        notes.append(f"{n_missing} (question, model) scores are absent from the score files: missing records")
    not_candidates = [m for m in names if m not in candidates]
    if not_candidates:
        notes.append(f"models without size or prices in the candidates file: {', '.join(not_candidates)}")

    from routereval.sources.tokens import count_tokens

    # The source records no replies: input tokens are known, output tokens are not (NaN).
    input_tokens = np.repeat(count_tokens([r["text"] for r in rows])[:, None], len(names), axis=1)
    notes.append("input_tokens: o200k_base counts of each query; output tokens are not in the source, so "
                 "dollar costs from tokens x prices are unknown (the input-dollars cost uses the queries alone)")
    prov = provenance(SPEC, local)
    prov["notes"] = notes
    return Benchmark.from_values(
        SPEC.name, values, pd.DataFrame(rows), models, kind=CONTINUOUS, provenance=prov,
        input_tokens=input_tokens, output_tokens=np.full_like(input_tokens, np.nan),
    )


SPEC = register(
    DatasetSpec(
        name="llmrouter",
        description=(
            "LLMRouter: 9 open LLMs x 6,108 queries from 14 tasks (MMLU, GSM8K, MATH, GPQA, "
            "ARC-C, NQ, TriviaQA, MBPP, HumanEval, ...), continuous scores, with prices"
        ),
        license="MIT",
        homepage=f"https://github.com/{REPO}",
        version=COMMIT,
        files=tuple(
            github_file(REPO, COMMIT, path, sha, size) for path, sha, size in _FILES
        ),
        build=build,
        n_prompts=6108,
        n_models=9,
    )
)
