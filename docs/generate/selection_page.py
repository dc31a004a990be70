"""docs/selection.md: every table, sentence with a measured number and figure of the model-choice page.

Each block reads the ``--json`` rows of a ``routereval select`` run (one run serves every block that names the
same arguments). A sentence that compares two numbers carries a 95% interval of the difference, paired over
tasks (or over a distance bin's task subsets), from a seeded bootstrap of 1,000 resamples, and its wording is
chosen here from that interval.
"""

from __future__ import annotations

import shlex
from collections import Counter

import numpy as np

from reading import interval_side
from registry import block
from runner import REPO, benchmark_result

ALPHAS = "0,0.04,0.1,0.2"
FIGURES = ("--figures", "docs/selection")
NEMOTRON = "llama-3.1-nemotron-51b-instruct"
LLAMA70 = "Llama-2-70b-hf"
SMALL_MMLU_PRO = ("Llama-2-13b-hf,Llama-2-7b-hf,Meta-Llama-3-8B,Meta-Llama-3_1-8B-Instruct,Meta-Llama-3_1-8B,"
                  "Mistral-7B-Instruct-v0.1,Mistral-7B-Instruct-v0.2,Mistral-7B-v0.1,Mistral-7B-v0.2-hf,"
                  "Phi-3-mini-4k-instruct,Qwen1.5-7B-Chat,Yi-6B,Yi-6b-Chat,gemma-7b,mathstral-7B")


def loto(dataset: str) -> tuple[str, ...]:
    """Leave one task out with per-prompt routing and the distance and correlation analyses (with figures)."""
    return ("select", "--dataset", dataset, "--pointwise", "--distance-bins", "5", "--correlation", *FIGURES,
            "--json", "{out}")


LR_PUBLISHED = ("select", "--dataset", "llmrouter", "--references", "published", "--json", "{out}")
LR_POOLED = ("select", "--dataset", "llmrouter", "--references", "published", "--pool-alphas", "--alpha", ALPHAS,
             "--json", "{out}")
AGAINST = {
    "llmrouter": ("select", "--dataset", "llmrouter", "--candidates", "params<=13e9", "--against", NEMOTRON,
                  "--alpha", ALPHAS, "--pointwise", *FIGURES, "--json", "{out}"),
    "mmlu-pro": ("select", "--dataset", "mmlu-pro", "--against", LLAMA70, "--alpha", ALPHAS, "--pointwise",
                 "--candidates", SMALL_MMLU_PRO, *FIGURES, "--json", "{out}"),
}
# The reference model alone as the only candidate: its accuracy per task is every row's oracle accuracy,
# which pairs the --against comparisons over tasks.
REFERENCE_ONLY = {
    "llmrouter": ("select", "--dataset", "llmrouter", "--candidates", NEMOTRON, "--json", "{out}"),
    "mmlu-pro": ("select", "--dataset", "mmlu-pro", "--candidates", LLAMA70, "--json", "{out}"),
}
SUMMARY_METHODS = ("S1", "S2", "S3", "S3 (true p)", "BMA", "Oracle", "Pointwise")
SEED, RESAMPLES = 0, 1000
RULES = {"bma": "(the BMA model)", "mean accuracy": "(the best mean accuracy on the training tasks)",
         "model order": "(the first in the dataset's model order)"}


# ---------------------------------------------------------------- helpers


def shown(args: tuple[str, ...], out: str = "results.json") -> str:
    """The command as a reader types it, in a bash block, broken before an option where a line grows long."""
    groups: list[list[str]] = []
    for word in (a.replace("{out}", out) for a in args):
        if word.startswith("--") or not groups or groups[-1][0] == "select":
            groups.append([word])
        else:
            groups[-1].append(word)
    lines = ["routereval"]
    for group in groups:
        piece = " ".join(shlex.quote(w) for w in group)
        if len(lines[-1]) + 1 + len(piece) > 100 and lines[-1].strip():
            lines.append("    " + piece)
        else:
            lines[-1] += " " + piece
    return "```bash\n" + " \\\n".join(lines) + "\n```\n"


def f3(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def signed(x: float, digits: int = 3) -> str:
    return f"{0:.{digits}f}" if x == 0 else f"{x:+.{digits}f}"


def words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def interval(diffs) -> tuple[float, float, float]:
    """(mean, 2.5% and 97.5% points) of the mean of paired differences, bootstrapped over the pairs."""
    d = np.asarray(diffs, dtype=np.float64)
    rng = np.random.default_rng(SEED)
    means = d[rng.integers(0, len(d), size=(RESAMPLES, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)


def side(ci: tuple[float, float, float]) -> str:
    """'above', 'below', 'equal' (every pair identical) or 'noise' (the interval holds 0)."""
    mean, lo, hi = ci
    if lo == hi == mean == 0:
        return "equal"
    return interval_side(lo, hi)


def ci_text(ci: tuple[float, float, float]) -> str:
    mean, lo, hi = ci
    return f"{signed(mean)} (95% interval {signed(lo)} to {signed(hi)})"


def verdict(a: str, b: str, ci: tuple[float, float, float]) -> str:
    """'A is below B by ...' / 'A is above B by ...' / 'A and B differ by ..., inside noise'."""
    s = side(ci)
    if s == "equal":
        return f"{a} and {b} choose the same on every task"
    if s == "noise":
        return f"{a} minus {b} is {ci_text(ci)}, inside noise"
    return f"{a} is {s} {b}: {ci_text(ci)}"


def average_ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def spearman(u: np.ndarray, c: np.ndarray) -> float:
    a, b = average_ranks(u), average_ranks(c)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def spearman_interval(u, c) -> tuple[float, float]:
    """Bootstrap 95% interval over tasks of Spearman(u, c)."""
    u, c = np.asarray(u, dtype=np.float64), np.asarray(c, dtype=np.float64)
    rng = np.random.default_rng(SEED)
    values = [spearman(u[i], c[i]) for i in rng.integers(0, len(u), size=(RESAMPLES, len(u)))]
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def kind(rows: list[dict], name: str, alpha: float | None = 0.0) -> list[dict]:
    return [r for r in rows if r["kind"] == name and (alpha is None or r.get("alpha") == alpha)]


def per_task(rows: list[dict], method: str, alpha: float = 0.0) -> dict[str, dict]:
    """task -> the task row of one method at one alpha."""
    return {r["task"]: r for r in kind(rows, "task", alpha) if r["method"] == method}


def paired(rows_a: dict[str, dict], rows_b: dict[str, dict], key: str = "accuracy") -> tuple[float, float, float]:
    tasks = [t for t in rows_a if t in rows_b]
    return interval([rows_a[t][key] - rows_b[t][key] for t in tasks])


def summary(rows: list[dict], alpha: float = 0.0) -> dict[str, dict]:
    return {r["method"]: r for r in kind(rows, "summary", alpha)}


def title(rows: list[dict], what: str = "leave one task out") -> str:
    first = kind(rows, "task")[0]
    n_tasks = len({r["task"] for r in kind(rows, "task")})
    return (f"**{first['dataset']}: {what}, {n_tasks} tasks x {first['n_candidates']} models "
            f"({first['encoder']}, {first['predictor']}, references: {first['references']})**")


def summary_table(rows: list[dict]) -> str:
    head = ["method", "accuracy", "ratio to oracle", "Pearson", "Spearman", "BMA chosen", "mean rank", "ties"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    by = summary(rows)
    for m in SUMMARY_METHODS:
        if m in by:
            r = by[m]
            lines.append(f"| {m} | {f3(r['accuracy'])} | {f3(r['ratio'])} | {f3(r['pearson'])} | "
                         f"{f3(r['spearman'])} | {100 * r['bma_share']:.0f}% | {f3(r['mean_rank'], 2)} | "
                         f"{r['n_ties']} |")
    return "\n".join(lines) + "\n"


def accuracy_of(rows: list[dict], task: str, model: str) -> float | None:
    """A model's accuracy on a task, if any row of that task chose it."""
    for r in kind(rows, "task", None):
        if r["task"] == task and r["model"] == model and r["method"] != "Pointwise":
            return r["accuracy"]
    return None


def ties_sentence(rows: list[dict], alpha: float | None = 0.0) -> str:
    """Every tie at the top of a score, how the rule settled it, and what it chose (one clause for all alphas)."""
    tied = [r for r in kind(rows, "task", alpha) if r["tie"]]
    if not tied:
        return "No score has a tie at its top."
    every = list(dict.fromkeys(r["alpha"] for r in kind(rows, "task", None)))
    found: dict[tuple, list[float]] = {}
    for r in tied:
        key = (r["task"], r["method"], r.get("m_star", r["model"]), tuple(r["tied_with"]), r["tie_rule"])
        found.setdefault(key, []).append(r["alpha"])
    parts = []
    for (task, method, top, others, rule), alphas in found.items():
        at = ("" if len(every) == 1 else " at every alpha" if alphas == every
              else f" at alpha = {words([f'{a:g}' for a in alphas])}")
        acc = accuracy_of(rows, task, top)
        mine = top + (f" (accuracy {f3(acc)} on the task)" if acc is not None else "")
        if len(others) == 1:
            acc_other = accuracy_of(rows, task, others[0])
            shared = f"{mine} and {others[0]}" + (f" ({f3(acc_other)})" if acc_other is not None else "")
        else:
            shared = f"{len(others) + 1} models"
        how = RULES.get(rule, f"by {rule}")
        parts.append(f"on {task}{at}, {method}'s top score is shared by {shared}, and the tie rule picks {top} {how}")
    n = len(found)
    return f"{'One tie' if n == 1 else f'{n} ties'}: " + "; ".join(parts) + "."


# ---------------------------------------------------------------- intro: timing from the benchmark's JSON


@block("select-timing")
def timing(run) -> str:
    """How long a leave-one-task-out run on MMLU-Pro takes with cached vectors (benchmarks/results/select_loto*.json)."""
    got = {}
    for refs, name in (("loto", "select_loto"), ("published", "select_loto_published")):
        got[refs] = benchmark_result(name)
    loto_s, pub_s = (got[k]["median"]["total_s"] for k in ("loto", "published"))
    runs = {got[k]["median"]["n_runs"] for k in got}
    cpus = got["loto"]["machine"]["cpus"]
    how = "one timed run each" if runs == {1} else f"median of {max(runs)} runs"
    return (f"With the vectors cached, a leave-one-task-out run on MMLU-Pro took {loto_s:.0f} s with the "
            f"default reference scheme and {pub_s:.0f} s with `--references published` on {cpus} busy cores "
            f"(`python benchmarks/select_loto.py [--references published]`, {how}).")


# ---------------------------------------------------------------- leave one task out: tables


@block("select-llmrouter-loto")
def llmrouter_loto(run) -> str:
    """LLMRouter leave-one-task-out: the command and its summary table (with per-prompt routing and ties)."""
    return loto_block(run, "llmrouter")


@block("select-mmlu-pro-loto")
def mmlu_pro_loto(run) -> str:
    """MMLU-Pro leave-one-task-out: the command and its summary table (with per-prompt routing and ties)."""
    return loto_block(run, "mmlu-pro")


def loto_block(run, dataset: str) -> str:
    rows = run.json(*loto(dataset))
    return shown(loto(dataset)) + "\n" + title(rows) + "\n\n" + summary_table(rows)


@block("select-llmrouter-ties")
def llmrouter_ties(run) -> str:
    """The ties at the top of a score on LLMRouter and how the rule settled them."""
    return ties_sentence(run.json(*loto("llmrouter")))


# ---------------------------------------------------------------- reference schemes


@block("select-references")
def references_table(run) -> str:
    """S3 on LLMRouter under each reference scheme (alpha = 0), from three runs."""
    lines = ["| references | S3 accuracy | ratio to oracle | BMA chosen | command |", "|---|---:|---:|---:|---|"]
    for label, args in (("`loto` (default)", loto("llmrouter")), ("`published`", LR_PUBLISHED),
                        ("`published --pool-alphas`, alphas " + ALPHAS.replace(",", ", "), LR_POOLED)):
        s3 = summary(run.json(*args))["S3"]
        command = " ".join(shlex.quote(a) for a in args if a not in FIGURES)
        command = command.replace(" --json '{out}'", "").replace(" --json {out}", "")
        lines.append(f"| {label} | {f3(s3['accuracy'])} | {f3(s3['ratio'])} | {100 * s3['bma_share']:.0f}% | "
                     f"`routereval {command}` |")
    return "\n".join(lines) + "\n"


@block("select-references-reading")
def references_reading(run) -> str:
    """What the reference-scheme table shows: S3 against the authors' 0.6145 and against BMA, with intervals."""
    loto_rows, pub_rows, pool_rows = (run.json(*a) for a in (loto("llmrouter"), LR_PUBLISHED, LR_POOLED))
    pub = summary(pub_rows)["S3"]["accuracy"]
    same = f"{pub:.4f}" == "0.6145"
    first = (f"The authors' code gives S3 = 0.6145 on LLMRouter (the same tasks and 0/1 records, MiniLM vectors, "
             f"kNN k = 5, its reference scheme, alpha = 0); `--references published` gives {pub:.4f}"
             + (", the same to four digits" if same else "")
             + f", and the leak-free default {summary(loto_rows)['S3']['accuracy']:.4f}. Pooling the pairs over "
             f"alphas gives {summary(pool_rows)['S3']['accuracy']:.4f} at alpha = 0 with this grid.")
    bma = summary(loto_rows)["BMA"]["accuracy"]
    cis = {name: paired(per_task(rows, "S3"), per_task(rows, "BMA"))
           for name, rows in (("`loto`", loto_rows), ("`published`", pub_rows), ("pooled alphas", pool_rows))}
    n = len(per_task(loto_rows, "S3"))
    grouped = {s: [name for name, ci in cis.items() if side(ci) == s] for s in ("below", "above", "noise", "equal")}
    if len(grouped["below"]) == len(cis):
        claim = "S3 is below BMA with every scheme"
    elif len(grouped["above"]) == len(cis):
        claim = "S3 is above BMA with every scheme"
    elif not grouped["below"] and not grouped["above"]:
        claim = f"with no scheme does S3 differ from BMA beyond noise over {n} tasks"
    else:
        claim = "S3 is " + ", ".join(
            f"{label} with {words(grouped[s])}" for s, label in
            (("below", "below BMA"), ("above", "above BMA"), ("noise", "within noise of it"),
             ("equal", "equal to it")) if grouped[s])
    diffs = ", ".join(f"{name} {ci_text(ci)}" for name, ci in cis.items())
    u = [r["u"] for r in kind(loto_rows, "correlation")]
    return (first + f" S3 minus BMA ({bma:.3f}), paired over the {n} tasks: {diffs}; {claim}. "
            f"LLMRouter's tasks are far apart (task descriptor u from {min(u):.2f} to {max(u):.2f}), where p is "
            f"estimated from few, distant references.")


@block("select-llmrouter-pointwise")
def llmrouter_pointwise(run) -> str:
    """Per-prompt routing on LLMRouter against S1 and BMA, paired over tasks."""
    rows = run.json(*loto("llmrouter"))
    pw = per_task(rows, "Pointwise")
    mean = summary(rows)["Pointwise"]["accuracy"]
    vs_s1, vs_bma = paired(pw, per_task(rows, "S1")), paired(pw, per_task(rows, "BMA"))
    text = (f"**Per-prompt routing** (`--pointwise`) from the same kNN estimates reaches {mean:.3f} on LLMRouter. "
            f"Paired over tasks, {verdict('per-prompt routing', 'S1', vs_s1)}; "
            f"{verdict('per-prompt routing', 'BMA', vs_bma)}.")
    if side(vs_s1) == "below":
        text += (" With five neighbours per prompt the estimate is coarse (six possible values); averaging it "
                 "over a task's prompts, as S1 does, smooths that out.")
    return text


# ---------------------------------------------------------------- MMLU-Pro


@block("select-mmlu-pro-reading")
def mmlu_pro_reading(run) -> str:
    """MMLU-Pro leave-one-task-out: ties, the dominant model, and per-prompt routing with intervals."""
    rows = run.json(*loto("mmlu-pro"))
    oracle = per_task(rows, "Oracle")
    n = len(oracle)
    best, count = Counter(r["model"] for r in oracle.values()).most_common(1)[0]
    s3_bma = sum(r["bma_chosen"] for r in per_task(rows, "S3").values())
    pw = per_task(rows, "Pointwise")
    used = [r["n_models_used"] for r in pw.values()]
    away = [1 - r["bma_chosen"] for r in pw.values()]
    n_models = next(iter(pw.values()))["n_candidates"]
    vs_s1, vs_bma = paired(pw, per_task(rows, "S1")), paired(pw, per_task(rows, "BMA"))
    return (f"{ties_sentence(rows)} One model ({best}) is the best on {count} of {n} categories, and S3 chose "
            f"BMA on {'all ' + str(n) if s3_bma == n else f'{s3_bma} of {n}'}. Per-prompt routing reaches {summary(rows)['Pointwise']['accuracy']:.3f}: it "
            f"spreads a category's questions over {min(used)} to {max(used)} of the {n_models} models and sends "
            f"{100 * min(away):.0f}-{100 * max(away):.0f}% of them away from BMA, per category. Paired over categories, "
            f"{verdict('per-prompt routing', 'S1', vs_s1)}; {verdict('per-prompt routing', 'BMA', vs_bma)}.")


# ---------------------------------------------------------------- analysis 1: distance


def distance_table(rows: list[dict]) -> str:
    summ = kind(rows, "distance_summary")
    methods = ["S1", "S2", "S3", "BMA", "Pointwise"]
    lines = ["| bin | distance range | mean u | task subsets | prompts | " + " | ".join(methods) + " |",
             "|---|---|---:|---:|---:|" + "---:|" * len(methods)]
    for b in sorted({r["bin"] for r in summ}):
        by = {r["method"]: r for r in summ if r["bin"] == b}
        first = by["S1"]
        low, high = first["low"], first["high"]
        span = (f"< {high:.3f}" if low is None else f">= {low:.3f}" if high is None else f"{low:.3f} - {high:.3f}")
        lines.append(f"| {b + 1} | {span} | {f3(first['u'])} | {first['n_subsets']} | {first['n_prompts']} | "
                     + " | ".join(f3(by[m]["ratio"]) for m in methods) + " |")
    return "\n".join(lines) + "\n"


def distance_reading(rows: list[dict]) -> str:
    """Per method, the bins where it is above, below, equal to or within noise of BMA (ratios, paired over subsets)."""
    per = kind(rows, "distance")
    bins = sorted({r["bin"] for r in per})
    subsets = [len({r["task"] for r in per if r["bin"] == b}) for b in bins]
    parts = []
    for m in ("S1", "S2", "S3", "Pointwise"):
        groups: dict[str, list[str]] = {"above": [], "below": [], "equal": [], "noise": []}
        for b in bins:
            mine = {r["task"]: r["ratio"] for r in per if r["bin"] == b and r["method"] == m}
            bma = {r["task"]: r["ratio"] for r in per if r["bin"] == b and r["method"] == "BMA"}
            pairs = [mine[t] - bma[t] for t in mine if t in bma and mine[t] == mine[t] and bma[t] == bma[t]]
            groups[side(interval(pairs))].append(str(b + 1))
        said = [f"{label} in bin{'s' if len(groups[key]) > 1 else ''} {words(groups[key])}"
                for key, label in (("above", "above BMA"), ("below", "below BMA"), ("equal", "equal to BMA"),
                                   ("noise", "within noise of BMA")) if groups[key]]
        parts.append(f"{m} is {'; '.join(said)}")
    return (f"Each bin holds {min(subsets)} to {max(subsets)} task subsets. Against BMA, paired over a bin's task "
            f"subsets (95% bootstrap interval of the difference in ratio): " + ". ".join(parts) + ".")


@block("select-llmrouter-distance")
def llmrouter_distance(run) -> str:
    """LLMRouter: the distance-bin table (ratio to each subset's oracle)."""
    return distance_table(run.json(*loto("llmrouter")))


@block("select-llmrouter-distance-reading")
def llmrouter_distance_reading(run) -> str:
    """LLMRouter: each score against BMA per distance bin, with paired intervals."""
    return distance_reading(run.json(*loto("llmrouter")))


@block("select-mmlu-pro-distance")
def mmlu_pro_distance(run) -> str:
    """MMLU-Pro: the distance-bin table (ratio to each subset's oracle)."""
    return distance_table(run.json(*loto("mmlu-pro")))


@block("select-mmlu-pro-distance-reading")
def mmlu_pro_distance_reading(run) -> str:
    """MMLU-Pro: each score against BMA per distance bin, with paired intervals."""
    return distance_reading(run.json(*loto("mmlu-pro")))


# ---------------------------------------------------------------- analysis 2: against a reference model


def against_table(rows: list[dict]) -> str:
    ag = kind(rows, "against", None)
    alphas = list(dict.fromkeys(r["alpha"] for r in ag))
    methods = [m for m in ("S1", "S2", "S3", "BMA", "Oracle", "Pointwise") if any(r["method"] == m for r in ag)]
    lines = ["| method | " + " | ".join(f"alpha {a:g}" for a in alphas) + " |", "|---|" + "---:|" * len(alphas)]
    for m in methods:
        cells = []
        for a in alphas:
            r = next(x for x in ag if x["method"] == m and x["alpha"] == a)
            cells.append(f"{f3(r['accuracy'])} ({r['match_share'] * r['n_tasks']:.0f}/{r['n_tasks']}, "
                         f"{r['mean_difference']:+.3f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    r = ag[0]
    return ("\n".join(lines) + f"\n\nReference {r['reference']}: mean accuracy {f3(r['reference_accuracy'])} over "
            f"{r['n_tasks']} tasks.\n")


def against_reading(rows: list[dict], ref_rows: list[dict]) -> str:
    """Intervals of each method against the reference (first and last alpha) and of the last alpha against 0."""
    ref = {t: r["oracle_accuracy"] for t, r in per_task(ref_rows, "Oracle").items()}
    ag = kind(rows, "against", None)
    name = ag[0]["reference"]
    alphas = list(dict.fromkeys(r["alpha"] for r in ag))
    a0, a1 = alphas[0], alphas[-1]
    methods = [m for m in ("S1", "S2", "S3", "Pointwise", "BMA", "Oracle") if any(r["method"] == m for r in ag)]
    head = (f"| method | minus {name}, alpha {a0:g} | minus {name}, alpha {a1:g} | alpha {a1:g} minus alpha {a0:g} |")
    lines = [head, "|---|---:|---:|---:|"]
    at_end: dict[str, str] = {}
    moved: dict[str, str] = {}
    for m in methods:
        first, last = per_task(rows, m, a0), per_task(rows, m, a1)
        vs0 = interval([first[t]["accuracy"] - ref[t] for t in first if t in ref])
        vs1 = interval([last[t]["accuracy"] - ref[t] for t in last if t in ref])
        change = paired(last, first)
        at_end[m], moved[m] = side(vs1), side(change)
        cell = lambda ci: f"{signed(ci[0])} ({signed(ci[1])} to {signed(ci[2])})"  # noqa: E731
        lines.append(f"| {m} | {cell(vs0)} | {cell(vs1)} | "
                     + ("-" if m in ("BMA", "Oracle") else cell(change)) + " |")
    groups = {s: [m for m in methods if at_end[m] == s] for s in ("above", "below", "noise", "equal")}
    said = [f"{words(groups[s])} {'is' if len(groups[s]) == 1 else 'are'} {label}"
            for s, label in (("above", f"above {name}"), ("below", f"below {name}"),
                             ("noise", f"within noise of {name}")) if groups[s]]
    scores = [m for m in methods if m not in ("BMA", "Oracle")]
    gain = [m for m in scores if moved[m] == "above"]
    loss = [m for m in scores if moved[m] == "below"]
    still = [m for m in scores if moved[m] in ("noise", "equal")]
    if gain or loss:
        said_move = [f"{words(g)} {verb} beyond noise" for g, verb in ((gain, "gain" if len(gain) > 1 else "gains"),
                                                                      (loss, "lose" if len(loss) > 1 else "loses")) if g]
        if still:
            said_move.append(f"{words(still)} {'stay' if len(still) > 1 else 'stays'} within noise")
        alpha_text = f"From alpha = {a0:g} to {a1:g}, " + "; ".join(said_move) + "."
    else:
        alpha_text = f"No score moves beyond noise between alpha = {a0:g} and {a1:g}."
    bma = per_task(rows, "BMA", a0)
    model, count = Counter(r["model"] for r in bma.values()).most_common(1)[0]
    n = len(bma)
    bma_text = f"The subset's BMA is {model} on " + ("every fold" if count == n else f"{count} of {n} folds")
    return ("\n".join(lines) + "\n\n" + bma_text + f". Paired over the {n} tasks, at alpha = {a1:g}, "
            + "; ".join(said) + f". {alpha_text} {ties_sentence(rows, None)}")


@block("select-llmrouter-against")
def llmrouter_against(run) -> str:
    """LLMRouter: the models of at most 13B against nemotron-51b, per alpha (command and table)."""
    return shown(AGAINST["llmrouter"]) + "\n" + against_table(run.json(*AGAINST["llmrouter"]))


@block("select-llmrouter-against-reading")
def llmrouter_against_reading(run) -> str:
    """LLMRouter against nemotron-51b: paired intervals per method and alpha, ties."""
    rows = run.json(*AGAINST["llmrouter"])
    n = kind(rows, "task")[0]["n_candidates"]
    return (f"LLMRouter's records carry parameter counts, so `params<=13e9` selects its {n} models of at most "
            f"13B. Differences to {NEMOTRON} in accuracy, paired over tasks (95% bootstrap interval):\n\n"
            + against_reading(rows, run.json(*REFERENCE_ONLY["llmrouter"])))


@block("select-mmlu-pro-against")
def mmlu_pro_against(run) -> str:
    """MMLU-Pro: the 15 models of at most 13B against Llama-2-70b-hf, per alpha (command and table)."""
    return shown(AGAINST["mmlu-pro"]) + "\n" + against_table(run.json(*AGAINST["mmlu-pro"]))


@block("select-mmlu-pro-against-reading")
def mmlu_pro_against_reading(run) -> str:
    """MMLU-Pro against Llama-2-70b-hf: paired intervals per method and alpha, ties."""
    rows = run.json(*AGAINST["mmlu-pro"])
    return (f"Differences to {LLAMA70} in accuracy, paired over categories (95% bootstrap interval):\n\n"
            + against_reading(rows, run.json(*REFERENCE_ONLY["mmlu-pro"])))


# ---------------------------------------------------------------- analysis 3: correlation against u


def correlation_table(rows: list[dict]) -> str:
    per = sorted(kind(rows, "correlation"), key=lambda r: r["u"])
    lines = ["| task | u | S1 | S2 | S3 |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['task']} | {f3(r['u'])} | {f3(r['S1'])} | {f3(r['S2'])} | {f3(r['S3'])} |" for r in per]
    summ = kind(rows, "correlation_summary")
    line = ", ".join(f"{r['method']} {r['spearman_u']:+.2f} (mean Pearson {f3(r['mean_pearson'])})" for r in summ)
    return "\n".join(lines) + ("\n\nSpearman correlation over tasks between u and each score's Pearson "
                               f"correlation: {line}.\n")


def spearman_reading(rows: list[dict]) -> tuple[str, dict[str, str]]:
    per = kind(rows, "correlation")
    u = np.array([r["u"] for r in per])
    parts, sides = [], {}
    for m in ("S1", "S2", "S3"):
        c = np.array([r[m] for r in per])
        keep = np.isfinite(c)
        rho = spearman(u[keep], c[keep])
        lo, hi = spearman_interval(u[keep], c[keep])
        sides[m] = "falls" if hi < 0 else "rises" if lo > 0 else "noise"
        parts.append(f"{m} {rho:+.2f} ({lo:+.2f} to {hi:+.2f})")
    falls = [m for m in sides if sides[m] == "falls"]
    rises = [m for m in sides if sides[m] == "rises"]
    flat = [m for m in sides if sides[m] == "noise"]
    said = []
    if falls:
        said.append(f"{words(falls)}'s correlation with true accuracy falls with u")
    if rises:
        said.append(f"{words(rises)}'s rises with u")
    if flat:
        said.append(f"for {words(flat)} no trend with u is distinguishable from noise")
    return (f"The Spearman correlations over tasks, with 95% bootstrap intervals over the {len(per)} tasks: "
            + ", ".join(parts) + ": " + "; ".join(said) + "."), sides


@block("select-llmrouter-correlation")
def llmrouter_correlation(run) -> str:
    """LLMRouter: each score's correlation with true accuracy per task, against u."""
    return correlation_table(run.json(*loto("llmrouter")))


@block("select-llmrouter-correlation-reading")
def llmrouter_correlation_reading(run) -> str:
    """LLMRouter: the farthest tasks' correlations and the trend with u, with intervals."""
    rows = run.json(*loto("llmrouter"))
    per = sorted(kind(rows, "correlation"), key=lambda r: r["u"])
    far, rest = per[-2:], per[:-2]
    far_text = " and ".join(f"{r['task']} (u = {r['u']:.2f}; S1 {r['S1']:.2f}, S2 {r['S2']:.2f}, S3 {r['S3']:.2f})"
                            for r in far)
    low = {m: sorted(per, key=lambda r: r[m])[:2] for m in ("S1", "S2", "S3")}
    lowest = [m for m in low if {r["task"] for r in low[m]} == {r["task"] for r in far}]
    med = {m: float(np.median([r[m] for r in rest])) for m in ("S1", "S2", "S3")}
    text = (f"The two farthest tasks are {far_text}; over the other tasks the median correlation is "
            f"{med['S1']:.2f} (S1), {med['S2']:.2f} (S2) and {med['S3']:.2f} (S3)")
    text += (f", and they are the two lowest for {words(lowest)}." if lowest else ".")
    return text + " " + spearman_reading(rows)[0]


@block("select-mmlu-pro-correlation")
def mmlu_pro_correlation(run) -> str:
    """MMLU-Pro: each score's correlation with true accuracy per category, against u."""
    return correlation_table(run.json(*loto("mmlu-pro")))


@block("select-mmlu-pro-correlation-reading")
def mmlu_pro_correlation_reading(run) -> str:
    """MMLU-Pro: the lowest correlations, the span of u and the trend with u, with intervals."""
    rows = run.json(*loto("mmlu-pro"))
    per = kind(rows, "correlation")
    u = [r["u"] for r in per]
    lr_u = [r["u"] for r in kind(run.json(*loto("llmrouter")), "correlation")]
    mins = ", ".join(f"{min(r[m] for r in per):.2f} for {m}" for m in ("S1", "S2", "S3"))
    return (f"On every category each score correlates with the models' true accuracies at least {mins}, and "
            f"the categories' u spans only {min(u):.2f}-{max(u):.2f} (LLMRouter's tasks: "
            f"{min(lr_u):.2f}-{max(lr_u):.2f}). " + spearman_reading(rows)[0])
