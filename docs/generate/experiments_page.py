"""docs/experiments.md: the model-level scaling study and the report's figures for the easy grid.

The scaling blocks run ``routereval scaling`` into ``docs/scaling`` (JSON, CSV, PNG, SVG: the page shows the
PNGs) and read its JSON. The comparisons in the prose ("the oracle over 5 random models beats the best single
model") come with a paired bootstrap interval over the prompts: the pools the command drew are drawn again
here (same seed and draw rule, checked against the command's means), and the prompts are resampled.

The report blocks run the easy grid into a fresh store, ``routereval report --plots`` over it, copy the two
figures the page shows into ``docs/report`` and read the store's rows for the sentence about them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from registry import block
from runner import REPO, benchmark_result

SCALING_DATASETS = ("mmlu-pro", "llmrouter")
SCALING_DIR = "docs/scaling"
REPORT_DIR = REPO / "docs/report"
REPORT_FIGURES = ("selection-mmlu-pro-m5.png", "tradeoff-mmlu-pro.png")
SWEEP = ("sweep", "experiments/routereval-easy.toml", "--out", "{out}", "--quiet")

N_BOOT = 1000
BOOT_SEED = 0
# The band-stability study: seeds of the pool draws, and the sizes and p it looks at.
STABILITY_SEEDS = range(10)
STABILITY_SIZES = "3,5,10,20"
STABILITY_PS = "0,1"


# ---------------------------------------------------------------- executors


@block("sweep-executors")
def sweep_executors(run) -> str:
    """Wall time of the easy grid with 1 and 2 local workers and on Ray, from benchmarks/sweep_executors.py."""
    doc = benchmark_result("sweep_executors")
    wall, grid = doc["median_wall_seconds"], doc["median_grid_seconds"]
    runs = len(doc["wall_seconds"]["local-1"])
    return (f"Timings on {doc['cores']} cores (`benchmarks/sweep_executors.py`, medians of {runs} runs in "
            f"`benchmarks/results/sweep_executors.json`; the easy grid without the scaling study, cached "
            f"embeddings): 1 worker {wall['local-1']:.0f} s, 2 workers {wall['local-2']:.0f} s "
            f"({wall['local-1'] / wall['local-2']:.1f}x; {grid['local-1'] / grid['local-2']:.1f}x on the part "
            f"spent running grid points); Ray on 2 workers started by the command {wall['ray-2']:.0f} s "
            f"({100 * (wall['ray-2'] / wall['local-2'] - 1):+.0f}% against 2 local workers, its start-up "
            f"included), joining a running Ray instance (`--address auto`) {wall['ray-cluster-2']:.0f} s "
            f"({100 * (wall['ray-cluster-2'] / wall['local-2'] - 1):+.0f}%).")


# ---------------------------------------------------------------- the scaling study


def scaling_doc(run, dataset: str) -> dict:
    """``routereval scaling --dataset DATASET --out docs/scaling`` (figures included), its JSON parsed."""
    run.routereval("scaling", "--dataset", dataset, "--out", SCALING_DIR)
    return json.loads((REPO / SCALING_DIR / f"{dataset}.json").read_text(encoding="utf-8"))


def point(doc: dict, m: int, p: float) -> dict:
    return next(pt for pt in doc["points"] if pt["m"] == m and abs(pt["p"] - p) < 1e-9)


def in_pool(doc: dict, m: int) -> dict:
    return next(r for r in doc["best_in_pool"] if r["m"] == m)


@block("scaling-table")
def scaling_table(run) -> str:
    """r_o(0), r_o(0.5), r_o(1) and the best model inside the pool at m = 1, 5 and all, per dataset."""
    lines = ["| dataset | m | r_o(0) (random) | r_o(0.5) | r_o(1) (oracle) | best single model in the pool |",
             "|---|---:|---:|---:|---:|---:|"]
    for dataset in SCALING_DATASETS:
        doc = scaling_doc(run, dataset)
        top = doc["n_models"]
        for m in (1, 5, top):
            cells = [f"{point(doc, m, p)['mean']:.3f}" for p in (0.0, 0.5, 1.0)]
            label = f"{m} (all)" if m == top else str(m)
            lines.append(f"| {dataset} | {label} | {' | '.join(cells)} | {in_pool(doc, m)['mean']:.3f} |")
    return "\n".join(lines)


def _pools(n_models: int, m: int, n_draws: int, seed: int):
    """The pools ``routereval scaling`` draws for size m: every subset when there are at most n_draws, else
    ``default_rng([seed, m])`` keys, the m smallest per draw (see routereval.evaluation.scaling)."""
    import itertools
    import math

    import numpy as np

    if math.comb(n_models, m) <= n_draws:
        return np.array(list(itertools.combinations(range(n_models), m)), dtype=np.int64)
    keys = np.random.default_rng([seed, m]).random((n_draws, n_models))
    return np.argpartition(keys, m - 1, axis=1)[:, :m]


class PairedScaling:
    """Per-prompt parts of the scaling study on one dataset, for paired bootstrap intervals over prompts.

    For each pool P drawn by the command: which prompts it covers (a record from at least one member), the best
    score on each (the oracle) and the mean score (random choice). A pool's r_o(p) is
    sum(p * best + (1 - p) * mean) / sum(covered), as the command computes it; the best single model's mean is
    over its present records. A bootstrap resample weights the prompts by how often they were drawn.
    """

    def __init__(self, doc: dict) -> None:
        import numpy as np

        from routereval.sources.catalog import load_dataset

        bench = load_dataset(doc["dataset"], progress=False)
        values = bench.values()
        if np.isnan(values).all(axis=0).any() or values.shape[1] != doc["n_models"]:
            raise RuntimeError(f"{doc['dataset']}: models without records; the pools cannot be redrawn here")
        self.doc, self.values, self.names = doc, values, list(bench.model_names)
        n = values.shape[0]
        rng = np.random.default_rng(BOOT_SEED)
        draws = rng.integers(0, n, size=(N_BOOT, n))
        self.weights = np.stack([np.bincount(row, minlength=n) for row in draws]).astype(np.float32)
        best = self.names.index(doc["best_single"]["model"])
        present = ~np.isnan(values[:, best])
        scores = np.where(present, values[:, best], 0.0)
        self.best_value = scores.sum() / present.sum()
        self.best_boot = (self.weights @ scores.astype(np.float32)) / (self.weights @ present.astype(np.float32))
        self._cache: dict[int, tuple] = {}

    def _parts(self, m: int):
        """(point estimates, bootstrap sums) of oracle and random per pool: each an array over pools."""
        import numpy as np

        if m in self._cache:
            return self._cache[m]
        idx = _pools(self.values.shape[1], m, self.doc["n_draws"], self.doc["seed"])
        cov, top, avg = [], [], []
        for a in range(0, len(idx), 50):
            block = self.values[:, idx[a:a + 50]]  # prompts x pools x m
            covered = ~np.isnan(block).all(axis=2)
            with np.errstate(invalid="ignore"), warnings_off():
                top.append(np.where(covered, np.nanmax(block, axis=2), 0.0).T)
                avg.append(np.where(covered, np.nanmean(block, axis=2), 0.0).T)
            cov.append(covered.T.astype(float))
        cov, top, avg = (np.concatenate(x) for x in (cov, top, avg))  # pools x prompts
        point_est = (top.sum(axis=1) / cov.sum(axis=1), avg.sum(axis=1) / cov.sum(axis=1))
        w = self.weights
        boot = tuple(w @ x.T.astype(np.float32) for x in (top, avg, cov))  # resamples x pools
        self._cache[m] = (point_est, boot)
        return self._cache[m]

    def ro(self, m: int, p: float) -> float:
        """The mean over pools of r_o(p), checked against the command's JSON."""
        (top, avg), _ = self._parts(m)
        value = float((p * top + (1 - p) * avg).mean())
        said = point(self.doc, m, p)["mean"]
        if abs(value - said) > 1e-6:  # the command sums some parts in float32
            raise RuntimeError(f"{self.doc['dataset']} m = {m}, p = {p}: pools redrawn here give {value}, "
                               f"routereval scaling {said}: the draw rule changed; update docs/generate")
        return value

    def versus_best(self, m: int, p: float) -> tuple[float, float, float]:
        """r_o(p) over pools of size m minus the best single model: (difference, 95% interval low, high)."""
        import numpy as np

        diff = self.ro(m, p) - self.best_value
        _, (top, avg, cov) = self._parts(m)
        boot = ((p * top + (1 - p) * avg) / cov).mean(axis=1) - self.best_boot
        lo, hi = np.quantile(boot, [0.025, 0.975])
        return diff, float(lo), float(hi)


class warnings_off:
    """Silence NumPy's all-NaN slice warnings (those prompts are masked out anyway)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def versus(diff: float, lo: float, hi: float, above: str, below: str, level: str) -> str:
    """The wording the interval allows: ``above`` when it lies above 0, ``below`` under 0, else ``level``."""
    return above if lo > 0 else below if hi < 0 else level


def interval(diff: float, lo: float, hi: float) -> str:
    return f"{diff:+.3f}, 95% interval [{lo:+.3f}, {hi:+.3f}]"


@block("scaling-reading")
def scaling_reading(run) -> str:
    """What the scaling table shows, with paired bootstrap intervals over the prompts for each comparison."""
    sentences = []
    for k, dataset in enumerate(SCALING_DATASETS):
        doc = scaling_doc(run, dataset)
        study = PairedScaling(doc)
        top, best = doc["n_models"], doc["best_single"]
        d5 = study.versus_best(5, 1.0)
        verb = versus(*d5, "beats", "stays below", "is level with (the difference is inside noise)")
        name = "MMLU-Pro" if dataset == "mmlu-pro" else "LLMRouter"
        subject = f"On {name}, the oracle over 5 random models" if k else f"The oracle over 5 random {name} models"
        sentences.append(
            f"{subject} ({study.ro(5, 1.0):.3f}) {verb} the best of all {top} "
            f"({best['model']}, {best['value']:.3f}; difference {interval(*d5)}); over all {top} it reaches "
            f"{point(doc, top, 1.0)['mean']:.3f}.")
        if k:
            continue
        # The smallest p on the grid from which r_o(p) over 10 random models is above the best single model
        # with an interval above 0, and the p just below it.
        ps = sorted(pt["p"] for pt in doc["points"] if pt["m"] == 10)
        tested = {p: study.versus_best(10, p) for p in ps}
        above = [p for p in ps if all(tested[q][1] > 0 for q in ps if q >= p)]
        if not above:
            sentences.append(f"With 10 random candidates, not even the oracle is above {best['model']} "
                             "beyond noise.")
            continue
        p_star = above[0]
        text = (f"With 10 random candidates, a router that follows the oracle on a share p of the prompts and "
                f"picks at random on the rest beats that best single model from p = {p_star:g} on "
                f"(r_o({p_star:g}) = {study.ro(10, p_star):.3f}; {interval(*tested[p_star])})")
        below = [p for p in ps if p < p_star]
        if below:
            q = below[-1]
            verb = versus(*tested[q], "is above it too", "is still below it", "is level with it within noise")
            text += f"; at p = {q:g} ({study.ro(10, q):.3f}; {interval(*tested[q])}) it {verb}"
        sentences.append(text + ".")
    return (" ".join(sentences) + " (Differences are paired over the prompts: a bootstrap of the prompts, "
            f"{N_BOOT:,} resamples, seed {BOOT_SEED}, over the pools the study drew.)")


@block("scaling-draws")
def scaling_draws(run) -> str:
    """How much the band of pools moves between seeds of the draws, and what the study costs on MMLU-Pro."""
    import numpy as np

    edges: dict[tuple, list] = {}
    for seed in STABILITY_SEEDS:
        _, out = run.routereval("scaling", "--dataset", "mmlu-pro", "--seed", str(seed), "--sizes", STABILITY_SIZES,
                                "--ps", STABILITY_PS, "--formats", "", "--out", "{out}")
        doc = json.loads((out / "mmlu-pro.json").read_text(encoding="utf-8"))
        n_draws = doc["n_draws"]
        for pt in doc["points"]:
            edges.setdefault((pt["m"], pt["p"]), []).append((pt["lo"], pt["hi"]))
    moves = []
    for pairs in edges.values():
        lo, hi = np.array(pairs).T
        half = float(np.mean(hi - lo) / 2)
        moves += [float(np.std(lo, ddof=1)) / half, float(np.std(hi, ddof=1)) / half]
    speed = benchmark_result("scaling_speed")["cases"]
    mmlu = speed["mmlu-pro"]
    sizes = ", ".join(STABILITY_SIZES.split(","))
    return (f"With {n_draws:,} draws, the edges of the 2.5-97.5% band of pools move between {len(STABILITY_SEEDS)} "
            f"seeds of the draws by {100 * min(moves):.0f}-{100 * max(moves):.0f}% of the band's half-width "
            f"(standard deviation over the seeds; MMLU-Pro, m = {sizes}, p = 0 and 1). The whole study of "
            f"MMLU-Pro takes {mmlu['seconds']:.2f} s (median of {mmlu['n_runs']} runs of "
            "`benchmarks/scaling_speed.py`, in `benchmarks/results/scaling_speed.json`).")


# ---------------------------------------------------------------- the report over the easy grid


def easy_store(run) -> Path:
    """A fresh results store of the easy grid (``routereval sweep experiments/routereval-easy.toml``)."""
    return run.routereval(*SWEEP)[1]


def report_rows(run) -> list[dict]:
    """The store's rows, after ``routereval report STORE --plots`` has drawn its figures into docs/report."""
    import pandas as pd

    store = easy_store(run)
    _, plots = run.routereval("report", str(store), "--plots", "{out}")
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FIGURES:
        shutil.copyfile(plots / name, REPORT_DIR / name)
    frames = [pd.read_parquet(f) for f in sorted((store / "rows").glob("*.parquet"))]
    return pd.concat(frames, ignore_index=True).to_dict("records")


def share_list(models, shares) -> str:
    ranked = sorted(zip(models, shares), key=lambda t: -t[1])
    return ", ".join(f"{model} {100 * s:.0f}%" for model, s in ranked)


@block("report-reading")
def report_reading(run) -> str:
    """What the selection chart of the easy grid shows on the strong-to-weak pool of MMLU-Pro (m = 5)."""
    rows = [r for r in report_rows(run) if r["dataset"] == "mmlu-pro" and r["m"] == 5
            and r["group"] == "strong_to_weak"]
    by = {r["router"]: r for r in rows}
    single, oracle = by["best-single"], by["oracle"]
    pick = single["models"][int(max(range(len(single["selection"])), key=lambda i: single["selection"][i]))]
    learned = [name for name in ("linear", "mlp", "cluster", "knn") if name in by]
    # A router whose every test prompt goes to the best single model's pick is that model: same scores.
    same = [name for name in learned if list(by[name]["selection"]) == list(single["selection"])
            and abs(by[name]["mean_score"] - single["mean_score"]) < 1e-12]
    names = {"linear": "Linear", "mlp": "MLP", "cluster": "Cluster", "knn": "kNN"}
    if same:
        listed = " and ".join(names[n] for n in same) if len(same) <= 2 else \
            ", ".join(names[n] for n in same[:-1]) + f" and {names[same[-1]]}"
        text = (f"The classification bias the RouterEval paper warns about is plain here: on the strong-to-weak "
                f"pool {listed} send every test prompt to {pick} (E_sel = 0) and so score exactly what "
                f"the best-single baseline scores ({single['mean_score']:.3f})")
        others = [n for n in learned if n not in same]
        close = [n for n in others if max(by[n]["selection"]) >= 0.9]
        if close:
            text += ("; " + ", ".join(f"{names[n]} sends {100 * max(by[n]['selection']):.0f}% there "
                                      f"(E_sel {by[n]['choice_entropy']:.2f})" for n in close))
    else:
        text = (f"On the strong-to-weak pool no learned router sends every test prompt to {pick}; their E_sel: "
                + ", ".join(f"{names[n]} {by[n]['choice_entropy']:.2f}" for n in learned))
    used = sum(1 for s in oracle["selection"] if s > 0)
    spread = "all five" if used == len(oracle["models"]) == 5 else f"{used} of its {len(oracle['models'])} models"
    text += (f", while the oracle spreads its picks over {spread} ({share_list(oracle['models'], oracle['selection'])};"
             f" E_sel {oracle['choice_entropy']:.2f}, mu_o {oracle['mean_score']:.3f}).")
    first = oracle["models"][0]
    if max(oracle["selection"]) == oracle["selection"][0]:
        text += (f" (The oracle's lean towards {first}, the first model of the pool, is its tie rule: where "
                 "several models are right, the first one is picked.)")
    return text
