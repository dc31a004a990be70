"""Headers: accepted names and aliases, and the layout (long or wide) they imply."""

from __future__ import annotations

import re

from routereval.errors import DataError
from routereval.sources.tables.parsed import MODEL, Plan, PlanFor

LAYOUTS = ("long", "wide")

ALIASES: dict[str, tuple[str, ...]] = {
    "prompt_id": ("id", "question_id", "item_id", "sample_id", "example_id", "doc_id", "qid"),
    "prompt": ("text", "question", "query", "input", "prompt_text"),
    "model": ("llm", "model_name", "model_id"),
    "score": ("correct", "accuracy", "acc", "is_correct", "correctness"),
    "task": ("task_name", "category", "subject", "subset", "domain"),
    "reference": ("reference_answer", "gold", "gold_answer", "target", "ground_truth"),
    "cost": ("cost_usd",),
    "input_tokens": ("prompt_tokens", "tokens_in", "n_input_tokens"),
    "output_tokens": ("completion_tokens", "tokens_out", "n_output_tokens"),
}
_CANONICAL = {alias: canon for canon, aliases in ALIASES.items() for alias in (canon, *aliases)}
#: Columns with one value per record, so only the long layout has them.
PER_RECORD = ("cost", "input_tokens", "output_tokens")
LONG_COLUMNS = ("prompt_id", "model", "score", "prompt", "task", "reference", *PER_RECORD)

def header_key(header: str) -> str:
    """A header as matched against the accepted names: lower case, spaces and hyphens as ``_``."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def canonical(header: str) -> str | None:
    return _CANONICAL.get(header_key(header))


def _accepted() -> str:
    return "; ".join(f"{c} (or {', '.join(ALIASES[c])})" for c in LONG_COLUMNS)


def planner(file: str, layout: str | None) -> PlanFor:
    def plan(headers: list[str], header_line: int | None = None) -> Plan:
        return _plan(file, headers, layout, header_line)

    return plan


def _plan(file: str, headers: list[str], layout: str | None, line: int | None) -> Plan:
    """Give every column its role, checking names and the layout.

    ``line`` is the header's line in a CSV/TSV file (None where there is no header line).
    """
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        if h == "":
            raise DataError(
                f"column {i + 1} has no header; every column needs a name (a saved index? write without it)",
                file=file,
                row=line,
            )
        if h in seen:
            raise DataError(
                f"column {h!r} appears twice (columns {seen[h] + 1} and {i + 1})", file=file, row=line, column=h
            )
        seen[h] = i
    canon = [canonical(h) for h in headers]
    by_role: dict[str, int] = {}
    for i, c in enumerate(canon):
        if c is None:
            continue
        if c in by_role:
            a = headers[by_role[c]]
            raise DataError(
                f"columns {a!r} and {headers[i]!r} both mean {c!r}; keep one of them",
                file=file,
                row=line,
                column=headers[i],
            )
        by_role[c] = i
    if layout is None:
        layout = "long" if "model" in by_role and "score" in by_role else "wide"
    if layout == "long":
        missing = [c for c in ("prompt_id", "model", "score") if c not in by_role]
        if missing:
            raise DataError(
                f"the long layout needs the columns prompt_id, model and score; missing: {', '.join(missing)} "
                f"({'; '.join(f'{c} is also accepted as ' + ', '.join(ALIASES[c]) for c in missing)})",
                file=file,
                row=line,
                column=missing[0],
            )
        unknown = [h for h, c in zip(headers, canon) if c is None]
        if unknown:
            raise DataError(
                f"unknown column(s) {', '.join(map(repr, unknown))} in the long layout; accepted columns: "
                f"{_accepted()}",
                file=file,
                row=line,
                column=unknown[0],
            )
        return Plan("long", [c for c in canon if c is not None])
    if "prompt_id" not in by_role:
        raise DataError(
            "the wide layout needs a prompt_id column (or one of: "
            f"{', '.join(ALIASES['prompt_id'])}) and one score column per model",
            file=file,
            row=line,
            column="prompt_id",
        )
    long_only = [headers[by_role[c]] for c in ("model", "score", *PER_RECORD) if c in by_role]
    if long_only:
        raise DataError(
            f"column {long_only[0]!r} belongs to the long layout, but this table is read as wide (a long table "
            "needs prompt_id, model and score columns; a wide one has one score column per model)",
            file=file,
            row=line,
            column=long_only[0],
        )
    roles = [c if c is not None else MODEL + h for h, c in zip(headers, canon)]
    if not any(r.startswith(MODEL) for r in roles):
        raise DataError(
            "has no model columns: a wide table needs one score column per model besides "
            f"{', '.join(repr(h) for h in headers)}",
            file=file,
            row=line,
        )
    return Plan("wide", roles)
