"""What a report shows, gathered from a results store: the leaderboard rows, the
store's settings and notes, and the scaling-study and cost-quality documents beside it.

Everything a renderer (terminal, Markdown, HTML, figures) needs is in one
:class:`ReportData`, so renderers never read files and all of them show the
same numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routereval.errors import DataError
from routereval.metrics.core import DEFAULT_N_BOOT

#: Where a sweep writes its scaling documents, inside the store.
SCALING_DIR = "scaling"
#: What ``routereval curve --out DIR`` writes (DIR/curves.json); a store may hold more in ``curves/``.
CURVES_FILE = "curves.json"
CURVES_DIR = "curves"
_POINT_KEYS = ("m", "p", "mean", "lo", "hi")
_CURVE_KEYS = ("dataset", "unit", "aiq_cost_range", "singles", "curves")


@dataclass(frozen=True)
class Document:
    """One JSON document shown in a report (a scaling study or a cost-quality study) and its file."""

    path: Path
    doc: dict[str, Any]

    @property
    def dataset(self) -> str:
        return str(self.doc["dataset"])


@dataclass(frozen=True)
class Skipped:
    """A pool size a sweep could not build for a dataset, and why."""

    dataset: str
    m: str
    why: str

    @property
    def text(self) -> str:
        """'m = 10: why', without repeating the size where the reason already starts with it."""
        if not self.m or self.why.startswith(f"m = {self.m}"):
            return self.why
        return f"m = {self.m}: {self.why}"


@dataclass
class ReportData:
    """Everything one report shows.

    ``rows`` are the stored per-(group, seed) rows; ``means`` one row per
    (dataset, benchmark, m, router), averaged over groups and seeds; ``groups``
    (filled only when asked for) one row per (dataset, benchmark, m, group,
    router), averaged over seeds. Both are in leaderboard order.
    """

    store: Path
    settings: dict[str, Any]
    notes: dict[str, Any]
    rows: list[dict[str, Any]]
    means: list[dict[str, Any]]
    groups: list[dict[str, Any]] = field(default_factory=list)
    scaling: list[Document] = field(default_factory=list)
    curves: list[Document] = field(default_factory=list)
    #: Per pool size m (over the datasets measured at it): average ranks, Friedman and the critical difference.
    ranks: list[tuple[int, Any]] = field(default_factory=list)
    #: Row files that could not be read (moved to rows/broken/): the report lacks their grid points.
    unread: list[str] = field(default_factory=list)

    @property
    def partial_text(self) -> str:
        """What a report says when some stored rows could not be read ("" when none)."""
        if not self.unread:
            return ""
        n = len(self.unread)
        return (f"Partial: {n} stored row file{'s' if n > 1 else ''} could not be read and {'are' if n > 1 else 'is'} "
                f"left out (moved to rows/broken/); run the sweep again to recompute {'them' if n > 1 else 'it'}.")

    @property
    def no_rows_text(self) -> str:
        """What the leaderboard says when there are no rows."""
        if self.curves and not self.settings:
            return "This folder holds cost-quality curves only (from `routereval curve`); see Cost and quality."
        return "The store holds no finished rows yet."

    @property
    def seeds(self) -> list[int]:
        return sorted({int(r["seed"]) for r in self.rows})

    @property
    def split_seeds(self) -> list[int]:
        from routereval.evaluation.aggregate import split_seed_of

        return sorted({split_seed_of(r) for r in self.rows})

    @property
    def skipped(self) -> list[Skipped]:
        return skipped_sizes(self.notes)


def leaderboard_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows by dataset, benchmark, m, group, then best mu_o first (missing mu_o last)."""

    def key(r: dict[str, Any]) -> tuple:
        mu = r.get("mean_score")
        missing = mu is None or math.isnan(float(mu))
        return (str(r["dataset"]), str(r["benchmark"]), int(r["m"]), str(r["group"]),
                missing, 0.0 if missing else -float(mu), str(r["router"]))

    return sorted(rows, key=key)


def rank_summaries(means: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """Per pool size m: the learned routers ranked within each dataset by mean mu_o, across datasets.

    Decision: one analysis per m, because the cells of one dataset at several m share
    prompts and models and are not the independent data sets Friedman's test counts;
    the oracle family is left out (a bound, always first). Only routers measured on
    every dataset of that m are ranked, and only where there are 2 datasets and 2
    routers or more.
    """
    from routereval.evaluation.aggregate import is_bound
    from routereval.evaluation.significance import rank_summary

    out = []
    for m in sorted({int(r["m"]) for r in means}):
        cells = {(display(r), str(r["router"])): float(r["mean_score"]) for r in means
                 if int(r["m"]) == m and r["group"] == "mean" and not is_bound(str(r["router"]))
                 and r.get("mean_score") is not None and not math.isnan(float(r["mean_score"]))}
        datasets = sorted({d for d, _ in cells})
        routers = sorted({x for _, x in cells})
        routers = [x for x in routers if all((d, x) in cells for d in datasets)]
        if len(datasets) < 2 or len(routers) < 2:
            continue
        table = [[cells[(d, x)] for x in routers] for d in datasets]
        out.append((m, rank_summary(table, routers, datasets)))
    return out


def display(row: dict[str, Any]) -> str:
    """A row's dataset as tables name it."""
    from routereval.reports.tables import display_name

    return display_name(str(row["dataset"]), str(row["benchmark"]))


def skipped_sizes(notes: dict[str, Any]) -> list[Skipped]:
    """The notes' skipped sizes as flat entries.

    A sweep writes ``{dataset: {m: why}}``; a list of sizes or one text per
    dataset is accepted too, so an older or hand-written notes file still shows.
    """
    out = []
    for dataset, entry in sorted(notes.items()):
        if isinstance(entry, dict):
            sizes = sorted(entry, key=lambda m: (int(m), "") if str(m).isdigit() else (float("inf"), str(m)))
            out += [Skipped(str(dataset), str(m), str(entry[m])) for m in sizes]
        elif isinstance(entry, list):
            out += [Skipped(str(dataset), "", str(item)) for item in entry]
        else:
            out.append(Skipped(str(dataset), "", str(entry)))
    return out


def per_group_rows(rows: list[dict[str, Any]], *, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (dataset, benchmark, m, group, router): the mean over seeds, with a joint interval.

    Without this a store with several seeds would show each router once per seed.
    """
    from routereval.evaluation.aggregate import summarise

    return leaderboard_order(summarise(rows, by_group=True, n_boot=n_boot, seed=seed))


def _check_scaling(path: Path, doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise DataError("a scaling document must be a JSON object", file=str(path))
    for key in ("dataset", "points"):
        if key not in doc:
            raise DataError(f"not a scaling document: no {key!r} field", file=str(path))
    if not isinstance(doc["points"], list):
        raise DataError("'points' must be a list", file=str(path))
    for i, point in enumerate(doc["points"]):
        missing = [k for k in _POINT_KEYS if not isinstance(point, dict) or k not in point]
        if missing:
            raise DataError(f"point {i} lacks {', '.join(missing)}", file=str(path))
    return doc


def _check_curves(path: Path, doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise DataError("a cost-quality document must be a JSON object", file=str(path))
    missing = [k for k in _CURVE_KEYS if k not in doc]
    if missing:
        raise DataError(f"not a cost-quality document (`routereval curve` writes them): no {', '.join(missing)}",
                        file=str(path))
    for i, curve in enumerate(doc["curves"]):
        lacks = [k for k in ("router", "points", "hull") if not isinstance(curve, dict) or k not in curve]
        if lacks:
            raise DataError(f"curve {i} lacks {', '.join(lacks)}", file=str(path))
    return doc


def _load_documents(paths: list[Path], what: str, check: Any, given: int = 0) -> list[Document]:
    """JSON documents from files and folders (every ``*.json`` directly inside), each file once, checked.

    The last ``given`` paths are the user's own (``--scaling``, ``--curves``): a folder among them
    holding no document is an error, not an empty section.
    """
    files: dict[Path, None] = {}
    for at, path in enumerate(paths):
        path = Path(path)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found and at >= len(paths) - given:
                raise DataError(f"{path}: holds no {what} document (*.json)")
            for f in found:
                files.setdefault(f.resolve(), None)
        elif path.is_file():
            files.setdefault(path.resolve(), None)
        else:
            raise DataError(f"{path}: no such {what} file or folder")
    docs = []
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read the {what} document ({exc})", file=str(f)) from exc
        docs.append(Document(f, check(f, doc)))
    return sorted(docs, key=lambda d: (d.dataset, str(d.doc.get("benchmark", "")), str(d.path)))


def load_scaling(paths: list[Path], given: int = 0) -> list[Document]:
    """Scaling documents from files and folders (every ``*.json`` directly inside), each file once."""
    return _load_documents(paths, "scaling", _check_scaling, given)


def load_curves(paths: list[Path], given: int = 0) -> list[Document]:
    """Cost-quality documents (``routereval curve``'s curves.json) from files and folders, each file once."""
    return _load_documents(paths, "cost-quality", _check_curves, given)


def collect(
    store: str | Path,
    scaling: list[Path] | tuple[Path, ...] = (),
    *,
    curves: list[Path] | tuple[Path, ...] = (),
    by_group: bool = False,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> ReportData:
    """Read a results store (and scaling and cost-quality documents) into what a report shows.

    ``scaling`` adds files or folders of scaling documents to those in
    ``<store>/scaling/``; ``curves`` adds cost-quality documents to
    ``<store>/curves.json`` and ``<store>/curves/``. ``store`` may also be the
    ``--out`` folder of ``routereval curve`` alone. Raises :class:`DataError`
    for a folder that is neither.
    """
    from routereval.evaluation.aggregate import summarise
    from routereval.metrics.core import check_n_boot
    from routereval.results.store import ResultsStore

    n_boot = check_n_boot(n_boot)  # before any file is read: a bad number fails at once

    folder = Path(store)
    if not folder.exists():
        raise DataError(f"{folder}: no such folder; give the --out folder of a `routereval sweep` or `routereval curve`")
    if not folder.is_dir():
        raise DataError(f"{folder} is a file, not a results store folder")
    results = ResultsStore(folder)
    own_curves = [p for p in (folder / CURVES_FILE, folder / CURVES_DIR) if p.exists()]
    if own_curves and not results.exists():
        settings: dict[str, Any] = {}
        notes: dict[str, Any] = {}
        rows: list[dict[str, Any]] = []
    else:
        settings, notes = results.settings(), results.notes()
        # Files come back in hash order; a fixed order keeps group lists and tables stable between runs.
        rows = sorted(results.read_rows(), key=lambda r: (str(r["dataset"]), str(r["benchmark"]), int(r["m"]),
                                                          str(r["group"]), str(r["router"]), int(r["seed"])))
    # Every report compares each router with the best of its block (paired, Holm-corrected).
    means = leaderboard_order(summarise(rows, n_boot=n_boot, seed=seed, compare=True)) if rows else []
    groups = per_group_rows(rows, n_boot=n_boot, seed=seed) if by_group and rows else []
    own = folder / SCALING_DIR
    docs = load_scaling(([own] if own.is_dir() else []) + [Path(p) for p in scaling], given=len(scaling))
    cost_docs = load_curves(own_curves + [Path(p) for p in curves], given=len(curves))
    return ReportData(folder, settings, notes, rows, means, groups, docs, cost_docs, rank_summaries(means),
                      unread=list(results.quarantined))
