"""The router zoo: docs/zoo-leaderboard.md, the tables and readings of docs/zoo.md, the zoo section of docs/routers.md.

The leaderboard is the sweep ``experiments/zoo.toml`` (every zoo router x every offline dataset x 3
seeds, clean protocol) rendered by ``benchmarks/zoo_targets.py``. The sweep is long, so its results store lives in
a fixed folder (``results/docs-zoo``, git-ignored): a later generator run resumes it (a finished
store costs a reload) as long as they hold the sweep file's grid and settings, and otherwise runs the sweep
into a folder named by them. The timing and calibration figures come from the JSON files in
``benchmarks/results/`` that ``benchmarks/zoo_hard.py`` and ``benchmarks/zoo_calibration.py`` wrote.

Every sentence that compares two numbers carries a paired 95% bootstrap interval (test prompts resampled,
1,000 resamples, seed 0) and its wording is chosen here from that interval.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

from registry import block
from reading import interval_side
from runner import REPO, benchmark_result

ZOO = "experiments/zoo.toml"
# In the repository's git-ignored results/ folder, so they outlive a reboot and stay beside the checkout.
FOLDERS = {ZOO: REPO / "results" / "docs-zoo"}
N_BOOT, SEED = 1000, 0
#: RouterEval's published baselines, as the pages name them.
PUBLISHED = {"linear": "LinearR", "mlp": "MLPR", "cluster": "C-RoBERTa", "knn": "PRknn", "best-single": "best single"}
BOUNDS = ("oracle", "ro(0.5)", "random")
SAFE_TARGET = -0.005  # zoo_targets.py: a cell meets the target when its interval's lower end is above this
GAP_TARGET = 0.10     # the best router closes >= 10% of the gap on average

_cache: dict[tuple, object] = {}


# -- the runs ----------------------------------------------------------------------------------------


def _grid(sweep) -> list:
    """What a store's rows depend on: the grid and the settings (comments and layout of the file aside)."""
    return [list(sweep.datasets), list(sweep.sizes), list(sweep.groups), [[r.name, sorted(r.params.items())] for r in sweep.routers],
            list(sweep.seeds), sweep.settings()]


def _folder(sweep_file: str) -> Path:
    """The fixed folder of a sweep's store when it is new or holds this grid and settings; else one named by them."""
    from routereval.sweeps.config import load_sweep, parse_sweep

    path = REPO / sweep_file
    want = json.loads(json.dumps(_grid(load_sweep(path)), default=str))
    folder = FOLDERS[sweep_file]
    if not (folder / "settings.json").is_file():
        return folder
    try:
        kept = parse_sweep((folder / "sweep.toml").read_text(), base=path.parent)
        have = json.loads(json.dumps(_grid(kept), default=str))
        same = have == want and json.loads((folder / "settings.json").read_text()) == want[-1]
    except Exception:  # noqa: BLE001 - a store this page cannot read is not reused
        same = False
    if same:
        return folder
    return folder.with_name(f"{folder.name}-{hashlib.sha256(json.dumps(want).encode()).hexdigest()[:10]}")


def _store(run, sweep_file: str) -> Path:
    """The sweep's results store, complete: ``routereval sweep`` runs the grid points it lacks (none when finished)."""
    folder = _folder(sweep_file)
    run.routereval("sweep", sweep_file, "--out", str(folder), "--quiet")
    return folder


def _targets(run, sweep_file: str) -> dict:
    """``benchmarks/zoo_targets.py`` on the sweep's store: its JSON, and its --summary and --markdown texts.

    Its figures go to a file of this run (``--name`` with an absolute path), not to benchmarks/results/.
    """
    store = _store(run, sweep_file)
    _, out = run.script("benchmarks/zoo_targets.py", str(store), "--name", "{out}",
                        "--summary", "{out}-summary.md", "--markdown", "{out}-leaderboard.md")
    figures = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
    figures["summary_md"] = Path(f"{out}-summary.md").read_text(encoding="utf-8")
    figures["leaderboard_md"] = Path(f"{out}-leaderboard.md").read_text(encoding="utf-8")
    return figures


def _rows(run, sweep_file: str) -> list[dict]:
    """Every row of the sweep's store, with the per-prompt scores."""
    store = _store(run, sweep_file)
    key = ("rows", id(run), str(store))
    if key not in _cache:
        from routereval.results.store import ResultsStore

        _cache[key] = ResultsStore(store).read_rows()
    return _cache[key]


def _zoo_targets_module():
    """benchmarks/zoo_targets.py as a module: its paired bootstrap of a difference in mu_o."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import zoo_targets
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return zoo_targets


def _results(name: str) -> dict:
    return benchmark_result(name)


# -- paired intervals --------------------------------------------------------------------------------


def _by_key(rows: list[dict]) -> dict[tuple, dict]:
    return {(r["dataset"], r["router"], int(r["m"]), r["group"], int(r["seed"])): r for r in rows}


def mu_difference(rows: list[dict], dataset: str, a: str, b: str) -> tuple[float, float, float]:
    """Mean and paired 95% interval of mu_o(a) - mu_o(b) over a dataset's pools and seeds (zoo_targets.py's bootstrap)."""
    index = _by_key(rows)
    keys = sorted(k[2:] for k in index if k[0] == dataset and k[1] == a and (dataset, b, *k[2:]) in index)
    return _zoo_targets_module().paired_interval([index[(dataset, a, *k)] for k in keys],
                                                 [index[(dataset, b, *k)] for k in keys])


def _draws(universe_size: int, rng: np.random.Generator) -> np.ndarray:
    """N_BOOT resamples of a dataset's test prompts, as counts per prompt (N_BOOT x prompts)."""
    picks = rng.integers(0, universe_size, (N_BOOT, universe_size)) + (np.arange(N_BOOT) * universe_size)[:, None]
    return np.bincount(picks.ravel(), minlength=N_BOOT * universe_size).reshape(N_BOOT, universe_size).astype(float)


def gap_difference(rows: list[dict], a: str, b: str, datasets: list[str] | None = None) -> tuple[float, float, float]:
    """Mean and paired 95% interval of gap closed(a) - gap closed(b), averaged over datasets as zoo_targets.py does.

    Per row (pool and seed), the difference of the two routers' gap closed is (mu_o(a) - mu_o(b)) / headroom
    on the prompts both scored, headroom = oracle - best single model chosen on train (held at its measured
    value); a dataset's figure is the mean over its rows, the page's the mean over datasets. The bootstrap
    resamples each dataset's test prompts, the same draws for both routers. ``b = "best-single"`` gives a's
    own gap closed (the best single model closes none).
    """
    index = _by_key(rows)
    datasets = datasets or sorted({r["dataset"] for r in rows})
    rng = np.random.default_rng(SEED)
    point, boots = [], []
    with np.errstate(all="ignore"):
        for dataset in datasets:
            keys = sorted(k[2:] for k in index if k[0] == dataset and k[1] == a and (dataset, b, *k[2:]) in index)
            universe = np.unique(np.concatenate([np.asarray(index[(dataset, r, *k)]["positions"], dtype=np.int64)
                                                 for k in keys for r in (a, b)]))
            table = np.full((len(keys), len(universe)), np.nan)
            scale = np.empty(len(keys))
            for i, k in enumerate(keys):
                ra, rb = index[(dataset, a, *k)], index[(dataset, b, *k)]
                sides = []
                for r in (ra, rb):
                    side = np.full(len(universe), np.nan)
                    side[np.searchsorted(universe, np.asarray(r["positions"], dtype=np.int64))] = r["per_prompt"]
                    sides.append(side)
                table[i] = sides[0] - sides[1]
                headroom = np.mean([r["oracle_test"] - r["best_single_train"] for r in (ra, rb)])
                scale[i] = 1 / headroom if headroom > 0 else np.nan
            scored = ~np.isnan(table)
            values = np.where(scored, table, 0.0)
            point.append(np.nanmean(values.sum(axis=1) / scored.sum(axis=1) * scale))
            counts = _draws(len(universe), rng)
            boots.append(np.nanmean((counts @ values.T) / (counts @ scored.T) * scale, axis=1))
    means = np.mean(boots, axis=0)
    lo, hi = np.nanquantile(means, [0.025, 0.975])
    return float(np.mean(point)), float(lo), float(hi)


def verdict(lo: float, hi: float, above: str, below: str, noise: str = "inside noise") -> str:
    """The wording a paired interval allows: ``above`` when it lies above 0, ``below`` when below, else ``noise``."""
    return {"above": above, "below": below, "noise": noise}[interval_side(lo, hi)]


def _pm(d: tuple[float, float, float], digits: int = 3) -> str:
    return f"{d[0]:+.{digits}f} [{d[1]:+.{digits}f}, {d[2]:+.{digits}f}]"


def _points(d: tuple[float, float, float]) -> str:
    """A difference of two shares as percentage points, with its interval."""
    return f"{100 * d[0]:+.1f} [{100 * d[1]:+.1f}, {100 * d[2]:+.1f}] points"


def _name(router: str) -> str:
    return PUBLISHED.get(router, router)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# -- the blocks ----------------------------------------------------------------------------------------


@block("zoo-leaderboard")
def leaderboard(run) -> str:
    """Every (dataset, m) table of the zoo sweep: mu_o [95%], gap closed, V_B_train, E_sel per router."""
    return _targets(run, ZOO)["leaderboard_md"]


@block("zoo-grid")
def grid(run) -> str:
    """What the zoo sweep ran: routers, datasets with pools and their sizes, rows, encoder; datasets left out and why."""
    rows = _rows(run, ZOO)
    store = _store(run, ZOO)
    settings = json.loads((store / "settings.json").read_text())
    notes = json.loads((store / "notes.json").read_text()) if (store / "notes.json").is_file() else {}
    sizes: dict[str, set[int]] = {}
    for r in rows:
        sizes.setdefault(r["source"], set()).add(int(r["m"]))
    by_sizes: dict[tuple, list[str]] = {}
    for source in sorted(sizes, key=lambda s: (-len(sizes[s]), s)):
        by_sizes.setdefault(tuple(sorted(sizes[source])), []).append(source)
    pools = "; ".join(f"{_join(names)} at m = {', '.join(map(str, m))}" for m, names in by_sizes.items())
    n_routers = len({r["router"] for r in rows})
    n_groups, n_seeds = len({r["group"] for r in rows}), len({int(r["seed"]) for r in rows})
    text = (f"{n_routers} routers x {len(sizes)} datasets with pools ({pools}) x {n_groups} groups x {n_seeds} "
            f"seeds = {len(rows):,} rows, {settings['protocol']} protocol, encoder `{settings['encoder']}`.")
    for source in sorted(notes):
        if source in sizes or not notes[source]:
            continue
        found = [re.search(r"has (\d+) \(of (\d+)\)", why) for why in notes[source].values()]
        counts = {match.groups() if match else None for match in found}
        if len(counts) == 1 and None not in counts:
            passed, total = counts.pop()
            text += (f" {source} gets no pool: {passed} of its {total} models pass{'es' if passed == '1' else ''} "
                     "RouterEval's filter "
                     "(0.1 < mean <= 0.9).")
        else:
            text += f" {source} gets no pool: " + "; ".join(sorted(notes[source].values())) + "."
    return text


@block("zoo-gap-closed")
def gap_closed(run) -> str:
    """Gap closed per router and dataset (mean over each dataset's pools and seeds), sorted by the mean over datasets."""
    figures = _targets(run, ZOO)
    table = figures["summary_md"].split("\n\n")[0]
    n = len(figures["per_dataset"])
    return f"Gap closed per dataset (sorted by the mean over the {n} datasets):\n\n{table}\n"


@block("zoo-best-router")
def best_router(run) -> str:
    """The best router of each dataset beside the best RouterEval baseline, with their paired difference."""
    return _targets(run, ZOO)["summary_md"].split("\n\n", 1)[1]


def _below_best_single(run) -> dict[str, list[tuple[str, tuple]]]:
    """Per dataset, the routers whose paired mu_o difference to the best single model lies wholly below 0."""
    key = ("below", id(run))
    if key not in _cache:
        rows = _rows(run, ZOO)
        out: dict[str, list] = {}
        for dataset in sorted({r["dataset"] for r in rows}):
            routers = sorted({r["router"] for r in rows if r["dataset"] == dataset} - set(BOUNDS) - {"best-single"})
            diffs = [(router, mu_difference(rows, dataset, router, "best-single")) for router in routers]
            out[dataset] = [(router, d) for router, d in diffs if d[2] < 0]
        _cache[key] = out
    return _cache[key]


def _overall(run) -> dict:
    """The routers by mean gap closed over datasets, and the paired intervals the readings need."""
    key = ("overall", id(run))
    if key not in _cache:
        figures, rows = _targets(run, ZOO), _rows(run, ZOO)
        mean_gap = figures["mean_gap_closed_over_datasets"]
        ranked = sorted(mean_gap, key=lambda k: -mean_gap[k])
        best, second = ranked[0], ranked[1]
        baselines = [b for b in ranked if b in PUBLISHED and b != "best-single"]
        _cache[key] = {
            "mean_gap": mean_gap, "ranked": ranked, "best": best, "second": second, "baseline": baselines[0],
            "best_alone": gap_difference(rows, best, "best-single"),
            "best_vs_second": gap_difference(rows, best, second),
            "best_vs_baseline": gap_difference(rows, best, baselines[0]),
        }
    return _cache[key]


@block("zoo-reading")
def reading(run) -> str:
    """What the two tables show: llmrouter's spread, the routers below the best single model, the best router overall."""
    figures, rows = _targets(run, ZOO), _rows(run, ZOO)
    per = figures["per_dataset"]
    llm = per["llmrouter"]["gap_closed_by_router"]
    learned = {k: v for k, v in llm.items() if k not in ("best-single", "cluster", "knn")}
    low, high = min(learned, key=learned.get), max(learned, key=learned.get)
    others = {d: v for d, v in per.items() if d != "llmrouter"}
    best_gaps = [v["gap_closed"] for v in others.values()]
    parts = [f"Reading it: on llmrouter the learned routers close {learned[low]:.3f} ({low}) to {learned[high]:.3f} "
             f"({high}) of the gap (C-RoBERTa {llm['cluster']:.3f}, PRknn {llm['knn']:.3f}); on "
             f"{_join(sorted(others))} the best router (by mu_o) closes {min(best_gaps):.3f} to {max(best_gaps):.3f}."]
    below = {d: v for d, v in _below_best_single(run).items() if v}
    if below:
        listed = "; ".join(f"{d}: " + ", ".join(f"{_name(r)} {_pm(diff)}" for r, diff in v) for d, v in below.items())
        parts.append(f"Below the best single model, with the paired 95% interval of the mu_o difference wholly "
                     f"below 0: {listed}.")
    else:
        parts.append("No router's paired 95% interval of the mu_o difference to the best single model lies wholly "
                     "below 0.")
    o = _overall(run)
    best, second = o["best"], o["second"]
    lead = o["best_vs_second"]
    parts.append(
        f"{_name(best)} has the highest mean gap closed ({o['mean_gap'][best]:.3f}); its lead over {_name(second)} "
        f"({o['mean_gap'][second]:.3f}) is {_pm(lead)} (paired bootstrap over test prompts), "
        + verdict(lead[1], lead[2], "beyond noise" + (', as "kNN beats complex routers" found' if best == "knn-tuned"
                                                      else ""), "a deficit", "inside noise") + ".")
    knn_below = [d for d, v in _below_best_single(run).items() if any(r == "knn" for r, _ in v)]
    rest = sorted(set(per) - set(knn_below))
    parts.append(f"The published PRknn (k = 5) closes {o['mean_gap']['knn']:.3f} on average: below the best single "
                 f"model on {_join(knn_below) if knn_below else 'no dataset'}"
                 + (f", inside noise on {_join(rest)}" if rest and knn_below else "") + ".")
    crux = [r for r in rows if r["dataset"] == "crux"]
    if crux:
        n_test = int(round(np.mean([r["n_test"] for r in crux])))
        half = (per["crux"]["mean_score_hi"] - per["crux"]["mean_score_lo"]) / 2
        parts.append(f"crux has {n_test} test prompts per pool, so its intervals are about +-{half:.2f}.")
    return " ".join(parts)


def _safe_cells(figures: dict, router: str = "safe") -> list[dict]:
    return [c for c in figures["safe_vs_best_single"] if c["router"] == router]


@block("zoo-target-safe")
def target_safe(run) -> str:
    """The safe target: cells whose paired interval against the best single model starts above -0.005, and the misses."""
    cells = _safe_cells(_targets(run, ZOO))
    ok = [c for c in cells if c["ok"]]
    nonneg = [c for c in cells if c["diff"] >= 0]
    misses = [c for c in cells if not c["ok"]]
    head = ("met" if len(ok) == len(cells) else f"met in {len(ok)} of {len(cells)} cells")
    text = (f"* **safe never below the deployable best single model: {head}, and its mean difference is >= 0 in "
            f"{'all ' + str(len(cells)) if len(nonneg) == len(cells) else f'{len(nonneg)} of {len(cells)}'}.** "
            "Per (dataset, m, group) cell, the 95% paired bootstrap interval of mu_o(safe) - mu_o(best single chosen "
            f"on train), test prompts resampled jointly over the {len(cells[0]['seeds'])} seeds; target: lower end > "
            f"{SAFE_TARGET}.")
    if not misses:
        return text
    text += (f" The cell that misses it:\n\n" if len(misses) == 1 else f" The {len(misses)} cells that miss it:\n\n")
    text += "  | dataset | m | group | difference [95% interval] | safe routed? |\n  |---|---|---|---|---|\n"
    for c in misses:
        text += (f"  | {c['dataset']} | {c['m']} | {c['group']} | {c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}] | "
                 f"{'yes' if c['routed'] else 'no: E_sel = 0'} |\n")
    anchor = [c for c in misses if not c["routed"]]
    routed = [c for c in misses if c["routed"]]
    said = []
    if anchor:
        where = _join(sorted({c["dataset"] for c in anchor}))
        diffs = _join(sorted({format(c["diff"], "+.3f") for c in anchor}))
        if all(c["lo"] > 0 for c in anchor):
            reading = f"safe's anchor does better on the test prompts (mean differences {diffs})"
        elif all(c["hi"] < 0 for c in anchor):
            reading = f"safe's anchor does worse on the test prompts (mean differences {diffs})"
        else:
            reading = f"the mean differences ({diffs}) are inside noise"
        widths = sorted({round((c["hi"] - c["lo"]) / 2, 3) for c in anchor})
        n_test = sorted({int(r["n_test"]) for r in _rows(run, ZOO) if r["dataset"] in {c["dataset"] for c in anchor}
                         and r["router"] == "best-single"})
        said.append(
            f"In the {len(anchor)} {where} cell{'s' if len(anchor) > 1 else ''} where safe never leaves its anchor the "
            "difference is that between its anchor and the best single model of the comparison, which differ there, "
            f"and {reading}, with intervals of "
            f"{_join([f'+-{w:.3f}' for w in widths])} on {_join([str(n) for n in n_test])} test prompts per pool.")
    for c in routed:
        said.append(f"In the {c['dataset']}, m = {c['m']}, {c['group']} cell safe routes; its difference to the best "
                    f"single model is {c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}], "
                    + verdict(c["lo"], c["hi"], "a gain", "a loss", "inside noise") + ".")
    return text + "\n  " + " ".join(said)


@block("zoo-target-gap")
def target_gap(run) -> str:
    """The gap-closed target: the best router's mean over datasets, with its interval, beside the others."""
    figures = _targets(run, ZOO)
    o = _overall(run)
    best, alone = o["best"], o["best_alone"]
    per = {d: v["gap_closed_by_router"][best] for d, v in sorted(figures["per_dataset"].items())}
    met = o["mean_gap"][best] >= GAP_TARGET
    target = f"{100 * GAP_TARGET:g}%"
    sure = verdict(alone[1] - GAP_TARGET, alone[2] - GAP_TARGET, f"lies above {target}", f"lies below {target}",
                   f"includes {target}")
    base = o["baseline"]
    vs_base = o["best_vs_baseline"]
    return (
        f"* **Best router closes >= {target} of the gap on average: {'met' if met else 'not met'}.** {best} closes "
        f"{_pct(o['mean_gap'][best])} averaged over the {len(per)} datasets ("
        + ", ".join(f"{_pct(v)} {d}" for d, v in sorted(per.items(), key=lambda kv: -kv[1]))
        + f"); its 95% interval [{_pct(alone[1])}, {_pct(alone[2])}] {sure}. {o['second']} "
        f"{_pct(o['mean_gap'][o['second']])}; the best RouterEval baseline, {_name(base)}, "
        f"{_pct(o['mean_gap'][base])} (paired difference {_points(vs_base)}, "
        + verdict(vs_base[1], vs_base[2], f"{best} ahead beyond noise", f"{_name(base)} ahead beyond noise",
                  "inside noise")
        + f"); PRknn {_pct(o['mean_gap']['knn'])}."
    )


@block("zoo-target-separate")
def target_separate(run) -> str:
    """The separate-intervals target, and what the paired differences to the best baseline say per dataset."""
    per = _targets(run, ZOO)["per_dataset"]
    beats = [d for d, v in sorted(per.items()) if v["beats_every_baseline_with_separate_intervals"]]
    widths = [(v["mean_score_hi"] - v["mean_score_lo"]) / 2 for v in per.values()]
    paired = {d: v["paired_diff_vs_best_baseline"] for d, v in sorted(per.items())}
    ahead = [d for d, p in paired.items() if p["lo"] > 0]
    behind = [d for d, p in paired.items() if p["hi"] < 0]
    noise = [d for d in paired if d not in ahead and d not in behind]
    text = (f"* **Strictly above every RouterEval baseline with non-overlapping intervals on two datasets: "
            f"{'met' if len(beats) >= 2 else 'not met'}** ({'on ' + _join(beats) if beats else 'on no dataset'}). The best routers' intervals of the means are +-{min(widths):.2f} "
            f"to +-{max(widths):.2f} wide. The paired difference to the best baseline (same prompts, pools and seeds) ")
    if ahead:
        text += (f"excludes zero on {len(ahead)} dataset{'' if len(ahead) == 1 else 's'}: "
                 + "; ".join(f"on {d} {per[d]['best_router']} beats {_name(per[d]['best_baseline'])} by "
                             f"{paired[d]['mean']:+.4f} [{paired[d]['lo']:+.4f}, {paired[d]['hi']:+.4f}]" for d in ahead))
    else:
        text += "excludes zero on no dataset"
    if behind:
        text += "; " + "; ".join(f"on {d} {per[d]['best_router']} is below {_name(per[d]['best_baseline'])}" for d in behind)
    if noise:
        leads = [paired[d]["mean"] for d in noise]
        text += (f"; on {_join(noise)} the best router's paired lead over the best baseline is {min(leads):+.3f} to "
                 f"{max(leads):+.3f} with intervals that include zero")
    return text + "."


@block("zoo-routers-reading")
def routers_reading(run) -> str:
    """The zoo section of docs/routers.md in three sentences: best router, safe's cells, the separate-intervals target."""
    figures = _targets(run, ZOO)
    o = _overall(run)
    best, base, vs_base = o["best"], o["baseline"], o["best_vs_baseline"]
    cells = _safe_cells(figures)
    per = figures["per_dataset"]
    ahead = [d for d, v in sorted(per.items()) if v["paired_diff_vs_best_baseline"]["lo"] > 0]
    beats = [d for d, v in per.items() if v["beats_every_baseline_with_separate_intervals"]]
    nonneg = sum(c["diff"] >= 0 for c in cells)
    return (
        f"{best} closes {100 * o['mean_gap'][best]:.0f}% of the gap averaged over the {len(per)} datasets (the best "
        f"RouterEval baseline, {_name(base)}, {100 * o['mean_gap'][base]:.0f}%: a paired difference of "
        f"{_points(vs_base)}, "
        + verdict(vs_base[1], vs_base[2], "beyond noise", "a deficit", "inside noise")
        + f"; PRknn {100 * o['mean_gap']['knn']:.0f}%); `safe`'s mean difference to the deployable best single model "
        f"is >= 0 in {'all ' if nonneg == len(cells) else ''}{nonneg}{'' if nonneg == len(cells) else f' of {len(cells)}'} "
        f"(dataset, m, group) cells, and the lower end of its 95% interval is above {SAFE_TARGET} in "
        f"{sum(c['ok'] for c in cells)} of them. "
        + (f"No router beats every baseline with non-overlapping intervals" if not beats else
           f"A router beats every baseline with non-overlapping intervals on {_join(sorted(beats))}")
        + f" (the paired difference to the best baseline excludes zero on "
        + (_join(ahead) if ahead else "no dataset") + ")."
    )


# -- calibration and the synthetic hard setting (JSON of benchmarks/zoo_calibration.py, zoo_hard.py) --


@block("zoo-calibration")
def calibration(run) -> str:
    """Brier score and 10-bin ECE per router on llmrouter's clean m = 5 pools (benchmarks/results/zoo_calibration_llmrouter.json)."""
    results = _results("zoo_calibration_llmrouter")["results"]
    lines = ["| router | Brier | ECE (10 bins) |", "|---|---:|---:|"]
    for router, r in sorted(results.items(), key=lambda kv: kv[1]["brier"]):
        lines.append(f"| {router} | {r['brier']:.4f} | {r['ece']:.4f} |")
    return "\n".join(lines)


def _hard() -> tuple[dict, set]:
    """zoo_hard.json's figures by (router, m), with zoo_hard_1000.json's in place of theirs (and those keys)."""
    first = {(r["router"], r["m"]): r for r in _results("zoo_hard")["results"]}
    later = {(r["router"], r["m"]): r for r in _results("zoo_hard_1000")["results"]}
    return {**first, **later}, set(later)


def _seconds(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


@block("zoo-hard-conditions")
def hard_conditions(run) -> str:
    """The load average of the machine while zoo_hard.py ran (recorded beside each measurement)."""
    loads = [r["load_avg_1m"] for name in ("zoo_hard", "zoo_hard_1000") for r in _results(name)["results"]]
    first = _results("zoo_hard")["results"]
    by = {(r["router"], r["m"]): r for r in first}
    return (f"The machine's load average during the runs was {min(loads):.1f} to {max(loads):.1f} (the benchmark's own "
            f"threads included); "
            f"in the first run gbdt took {by[('gbdt', 1000)]['fit_s']:.0f} s at m = 1,000 with one booster at a time and "
            f"ensemble {by[('ensemble', 1000)]['fit_s']:.1f} s with its mf on one thread.")


@block("zoo-hard")
def hard_table(run) -> str:
    """Fit seconds and gap closed per router at m = 10, 100, 1,000 (benchmarks/results/zoo_hard.json, zoo_hard_1000.json)."""
    figures, later = _hard()
    sizes = sorted({m for _, m in figures})
    routers = list(dict.fromkeys(r for r, _ in figures))
    lines = ["| router | fit s, m = 10 | m = 100 | m = 1,000 | gap closed m = 10 / 100 / 1,000 |",
             "|---|---:|---:|---:|---|"]
    for router in routers:
        fits = [_seconds(figures[(router, m)]["fit_s"]) + (" *" if (router, m) in later else "") for m in sizes]
        gaps = " / ".join(f"{figures[(router, m)]['gap_closed']:.2f}" for m in sizes)
        lines.append(f"| {router} | " + " | ".join(fits) + f" | {gaps} |")
    return "\n".join(lines)


@block("zoo-hard-target")
def hard_target(run) -> str:
    """The 1,000-candidate fit target (under a minute on 2 cores) and gbdt's arithmetic, from zoo_hard's JSON."""
    figures, _ = _hard()
    first = {(r["router"], r["m"]): r for r in _results("zoo_hard")["results"]}
    at = {r: v for (r, m), v in figures.items() if m == 1000}
    over = [r for r, v in at.items() if v["fit_s"] >= 60]
    head = ("met" if not over else f"met for every router but {_join(over)}" if len(over) < len(at) / 2
            else f"not met ({_join(over)} take a minute or more)")
    text = f"**Target (every router fits m = 1,000 in under a minute on 2 cores): {head}.**"
    if "gbdt" in over:
        threads, one = at["gbdt"]["fit_s"], first[("gbdt", 1000)]["fit_s"]
        text += (f" gbdt fits one histogram-boosting model per candidate (about {threads / 1000:.2f} s each at 5,000 "
                 f"prompts and 50 rounds), so its time grows linearly with m; running boosters in two threads gives "
                 f"{one / threads:.2f}x (their Python-level loop holds the GIL), processes would give at most 2x: "
                 f"{one / 2:.0f} s, {'still over' if one / 2 >= 60 else 'under'} a minute.")
    return text


@block("zoo-hard-reading")
def hard_reading(run) -> str:
    """What the synthetic table shows at m = 1,000: mf's and MLPR's gap closed, and PRknn's small denominators."""
    figures, _ = _hard()
    mf, mlp = figures[("mf", 1000)], figures[("mlp", 1000)]
    knn = {m: figures[("knn", m)] for m in (100, 1000)}
    loss = [v["best_single_train"] - v["mean_score"] for v in knn.values()]
    room = [v["oracle"] - v["best_single_train"] for v in knn.values()]
    return (f"On this planted low-rank benchmark mf closes {mf['gap_closed']:.3f} of the gap at m = 1,000 (the data "
            f"follow its model); MLPR {mlp['gap_closed']:.3f}. PRknn's large negative gaps at m = 100 and 1,000 come "
            f"from a small denominator: there the best single model is within {min(room):.3f} to {max(room):.3f} of the "
            f"oracle, and PRknn loses {min(loss):.2f} to {max(loss):.2f} of mu_o.")
