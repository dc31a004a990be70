"""A user's own task: read its unlabelled prompts, score every model on them, choose one.

Everything is learned from all tasks of the dataset: the predictor's pool is
every prompt, BMA is the best mean of per-task accuracies over every task, and
the reference pairs for p come from leaving each of the dataset's tasks out in
turn. Repeated prompts in the file are counted once, as inside a task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from routereval.errors import ConfigError, DataError
from routereval.neighbours import padded_neighbours
from routereval.routers.base import Prompts, unfitted_copy
from routereval.selection import scores as sc
from routereval.selection.choice import choose
from routereval.selection.data import TaskData
from routereval.selection.engine import Engine
from routereval.selection.predictors import CorrectnessPredictor, KNNPredictor
from routereval.selection.references import reference_pairs
from routereval.selection.settings import Settings

_TABLES = {".csv": ",", ".tsv": "\t"}
_JSON_LINES = (".jsonl", ".ndjson")
PROMPT_COLUMNS = ("prompt", "text")


def read_prompts(path: str | Path) -> list[str]:
    """Prompts from a file: one per line (``.txt`` or any other suffix), or the
    ``prompt`` column (else ``text``) of a CSV, TSV, JSONL or Parquet table.

    Blank lines of a plain file are skipped; an empty cell of a table is an error
    naming its row (data rows counted from 1, the header line not counted).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("does not exist or is not a file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in _TABLES or suffix in _JSON_LINES or suffix == ".parquet":
        prompts = _read_table(path, suffix)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from exc
        prompts = [line for line in text.splitlines() if line.strip()]
    if not prompts:
        raise DataError("holds no prompts", file=str(path))
    return prompts


def _read_table(path: Path, suffix: str) -> list[str]:
    import pandas as pd

    try:
        if suffix in _TABLES:
            table = pd.read_csv(path, sep=_TABLES[suffix], dtype=str, keep_default_na=False)
        elif suffix in _JSON_LINES:
            table = pd.read_json(path, lines=True, dtype=False)
        else:
            table = pd.read_parquet(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot be read as a {suffix} table: {exc}", file=str(path)) from exc
    column = next((c for c in PROMPT_COLUMNS if c in table.columns), None)
    if column is None:
        found = ", ".join(map(str, table.columns)) or "none"
        raise DataError(f"has no 'prompt' (or 'text') column; its columns are: {found}", file=str(path))
    prompts = []
    for i, value in enumerate(table[column].tolist()):
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                "is empty or not text (data rows counted from 1, header not counted)",
                file=str(path), row=i + 1, column=column,
            )
        prompts.append(value)
    return prompts


def unique_prompts(prompts: list[str]) -> list[str]:
    """First occurrence of each prompt (white space at the ends ignored), in order."""
    seen: set[str] = set()
    out = []
    for p in prompts:
        if p.strip() not in seen:
            seen.add(p.strip())
            out.append(p)
    return out


@dataclass
class NewTaskChoice:
    """Scores of every model on the new prompts and the chosen model."""

    models: list[str]
    candidates: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    p: np.ndarray
    bma_scores: np.ndarray
    choices: dict[str, int]  # S1, S2, S3 (after the fallback), BMA
    m_star: int
    win_rate: float | None
    descriptor: float
    n_prompts: int
    ties: dict[str, list[int]] = field(default_factory=dict)  # method -> models tied at its top (S3: before the fallback)

    def rows(self, dataset: str) -> list[dict]:
        """One row per candidate model (its scores and which methods chose it), then the decision."""
        out = []
        for m, name in enumerate(self.models):
            if not self.candidates[m]:
                continue
            out.append(
                {
                    "kind": "model",
                    "dataset": dataset,
                    "model": name,
                    "s1": float(self.s1[m]),
                    "s2": float(self.s2[m]),
                    "p": float(self.p[m]),
                    "s3": float(self.s3[m]),
                    "bma_score": float(self.bma_scores[m]),
                    "chosen_by": [method for method, pick in self.choices.items() if pick == m],
                }
            )
        out.append(
            {
                "kind": "choice",
                "dataset": dataset,
                "model": self.models[self.choices["S3"]],
                "m_star": self.models[self.m_star],
                "bma": self.models[self.choices["BMA"]],
                "win_rate": self.win_rate,
                "fell_back": self.choices["S3"] != self.m_star,
                "descriptor": self.descriptor,
                "n_prompts": self.n_prompts,
                "ties": {method: [self.models[m] for m in tied] for method, tied in self.ties.items()},
            }
        )
        return out


def choose_for_prompts(
    data: TaskData,
    vectors: np.ndarray,
    predictor: CorrectnessPredictor | None = None,
    settings: Settings = Settings(),
) -> NewTaskChoice:
    """Choose a model for prompts with unit vectors ``vectors``, learning from every task of ``data``."""
    if data.vectors is None:
        raise ValueError("attach prompt vectors to the task data first")
    if data.n_tasks < 2:
        raise ConfigError(
            f"choosing for a new task needs at least 2 tasks in the dataset (for the reference pairs); "
            f"{data.name!r} has {data.n_tasks}"
        )
    predictor = predictor or KNNPredictor()
    all_tasks = list(range(data.n_tasks))
    refs = reference_pairs(Engine(data, predictor, settings.n_descriptor), all_tasks)
    fitted = unfitted_copy(predictor).fit(Prompts(embeddings=data.vectors), data.correct)
    new = Prompts(embeddings=vectors)
    est = fitted.predict_counts(new) if isinstance(fitted, KNNPredictor) else sc.Estimates(fitted.predict_quality(new))
    everyone = np.arange(len(data.vectors))
    _, sims = padded_neighbours(np.asarray(vectors, dtype=np.float32), data.vectors, settings.n_descriptor, everyone)
    u = sc.descriptor(sims)
    p = refs.p(u, settings.bandwidth)
    hits, counts = data.task_counts()
    candidates = (counts > 0).any(axis=0)
    bma_exact = sc.mean_accuracy_exact(hits, counts)
    bma_scores = sc.to_float(bma_exact)
    bma = sc.preference(bma_exact, candidates)[0]
    picked = choose(est, p, bma_exact, candidates, np.random.default_rng([int(settings.seed)]), settings)
    return NewTaskChoice(
        models=list(data.models),
        candidates=candidates,
        s1=picked.s1,
        s2=picked.s2,
        s3=picked.s3,
        p=p,
        bma_scores=bma_scores,
        choices={**picked.choices, "BMA": bma},
        m_star=picked.fallback.m_star,
        win_rate=picked.fallback.win_rate,
        descriptor=u,
        n_prompts=len(vectors),
        ties={name: list(pk.tied) for name, pk in picked.picks.items() if pk.is_tie},
    )

