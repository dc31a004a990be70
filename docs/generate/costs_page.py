"""docs/costs.md: the cost-quality curves of crux, llmrouter and the RouteLLM pairs, token counts and curve timings.

Each curve block runs the command the page shows, ``routereval curve ... --out docs/costs/<name>``, and reads
the ``curves.json`` that run wrote there. The output folder is the page's own rather than ``{out}``: the
page links the figures in ``docs/costs/<name>/``, and one run then writes both the figures and the numbers
the blocks print, so they cannot come from different runs (nor does each curve have to be computed twice).
The price: filling or checking a curve block rewrites that folder (figures, curves.json/csv, metrics.csv).

``routereval curve`` writes curves and metrics, not per-prompt results, so no paired interval of a
difference between two routers can be computed from its files. The sentences comparing a learned router
with the best single model therefore state the measured values, choose their wording from them, and say
that no interval is computed; they claim no win or loss beyond the numbers.

Token counts are read from ``benchmarks/results/token_counts.json`` (``python benchmarks/token_counts.py``)
and the curve timings from ``benchmarks/results/curve_speed.json`` (``python benchmarks/curve_speed.py``);
timing benchmarks are not rerun here.
"""

from __future__ import annotations

import json
import math
import textwrap
from typing import Any

from registry import block
from runner import REPO, benchmark_result

ROUTERS = ("--routers", "knn,mlp,best-single,oracle,random")
#: Folder under docs/costs/ -> the arguments of ``routereval curve`` before ``--out``.
CURVES: dict[str, tuple[str, ...]] = {
    "crux": ("--dataset", "crux", *ROUTERS),
    "llmrouter": ("--dataset", "llmrouter", "--cost", "input-dollars", *ROUTERS),
    "routellm-mtbench": ("--dataset", "routellm-mtbench", "--cost", "calls", *ROUTERS),
    "routellm-gsm8k": ("--dataset", "routellm-gsm8k", "--cost", "calls", "--folds", "5", *ROUTERS),
    "routellm-mmlu": ("--dataset", "routellm-mmlu", "--cost", "calls", "--folds", "1", "--encoder", "tfidf",
                      *ROUTERS),
    "routellm-gsm8k-dollars": ("--dataset", "routellm-gsm8k", "--cost", "dollars", "--folds", "5", *ROUTERS),
}
PAIRS = (("MT-Bench", "routellm-mtbench"), ("GSM8K", "routellm-gsm8k"), ("MMLU", "routellm-mmlu"))
LEARNED = ("knn", "mlp")
NAMES = {"knn": "kNN", "mlp": "MLP"}
PER = 1000.0  # costs are shown per 1,000 queries


def curve(run, name: str) -> dict[str, Any]:
    """The study ``routereval curve`` wrote to docs/costs/NAME (run once per generator run)."""
    folder = f"docs/costs/{name}"
    run.routereval("curve", *CURVES[name], "--out", folder)
    return json.loads((REPO / folder / "curves.json").read_text(encoding="utf-8"))


def command(name: str) -> str:
    """The command as the page shows it (indented as a code block)."""
    return "    routereval curve " + " ".join(CURVES[name]) + f" --out docs/costs/{name}"


def metrics(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The study's metrics rows by router, with the pair's APGR/CPT merged in where it has them."""
    rows = {r["router"]: dict(r) for r in doc["metrics"]}
    for r in doc["pair"]:
        rows.setdefault(r["router"], {}).update(r)
    return rows


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def g4(value: Any) -> str:
    return "-" if missing(value) else f"{value:.4g}"


def per_1k(value: Any) -> str:
    return "never" if missing(value) else f"{value * PER:.4g}"


def pct(value: Any, digits: int = 1) -> str:
    return "-" if missing(value) else f"{100 * value:.{digits}f}%"


def para(text: str) -> str:
    """A prose paragraph wrapped for the Markdown source (no line break inside a word or a number)."""
    return textwrap.fill(" ".join(text.split()), 100, break_long_words=False, break_on_hyphens=False)


def secs(value: float) -> str:
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def count(n: int) -> str:
    return f"{n:,}"


def singles(doc: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(cheapest, dearest, best) single models of a study; ties on cost go to the better model."""
    by_cost = sorted(doc["singles"], key=lambda s: (s["cost"], -s["quality"]))
    return by_cost[0], by_cost[-1], max(doc["singles"], key=lambda s: s["quality"])


def dearest_names(doc: dict[str, Any]) -> list[str]:
    """Every model at the dearest single model's mean cost (several share one price)."""
    top = max(s["cost"] for s in doc["singles"])
    return [s["model"] for s in doc["singles"] if math.isclose(s["cost"], top, rel_tol=1e-9)]


def aiq_cell(row: dict[str, Any]) -> str:
    covered = row["AIQ_covered"]
    text = f"{row['AIQ']:.4f}"
    return text if covered > 0.995 else f"{text} (covers {100 * covered:.0f}% of the range)"


def cost_table(doc: dict[str, Any], reach_header: str, labels: dict[str, str]) -> str:
    """The metrics table of a study in $ per 1,000 queries."""
    lines = [f"| router | AIQ | max quality | $/1k at max | {reach_header} | saving | quality at the cheapest's cost |",
             "|---|---|---|---|---|---|---|"]
    for r in doc["metrics"]:
        name = r["router"]
        saving = r["saving_vs_best_single"]
        lines.append(f"| {labels.get(name, name)} | {aiq_cell(r)} | {r['max_quality']:.4f} | "
                     f"{per_1k(r['cost_at_max_quality'])} | {per_1k(r['cost_to_best_single'])} | "
                     f"{'0%' if saving == 0 else pct(saving)} | {g4(r['quality_at_cheapest_cost'])} |")
    return "\n".join(lines)


def joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def against_best_single(doc: dict[str, Any], best: dict[str, Any]) -> str:
    """The learned routers' AIQ and hulls against best-single's and the best single model's, worded from the
    numbers, with what they cannot say: the command gives no interval for a difference between routers."""
    rows = metrics(doc)
    base = rows["best-single"]["AIQ"]
    learned = [r for r in LEARNED if r in rows]
    aiqs = [f"the {NAMES[r]}'s AIQ is {rows[r]['AIQ']:.3f}" for r in learned]
    gaps = [f"{rows[r]['AIQ'] - base:+.3f} for the {NAMES[r]}" for r in learned]
    text = [f"{joined(aiqs)}, against {base:.3f} for best-single (one model chosen by its training mean and "
            f"price): {'a difference' if len(gaps) == 1 else 'differences'} of {joined(gaps)}."]
    target = f"{best['model']}'s {best['quality']:.3f}"
    never = [r for r in learned if missing(rows[r]["cost_to_best_single"])]
    for r in learned:
        if r not in never:
            got = rows[r]
            text.append(f"The {NAMES[r]}'s hull reaches {target} at "
                        f"{100 * got['cost_to_best_single'] / best['cost']:.0f}% of its cost and tops out at "
                        f"{got['max_quality']:.3f}.")
    tops = [f"the {NAMES[r]}'s {'hull ' if len(never) == 1 else ''}tops out at {rows[r]['max_quality']:.3f}"
            for r in never]
    if len(never) > 1:
        text.append(f"No learned hull reaches {target}: {joined(tops)}.")
    elif never:
        text.append(f"{tops[0][0].upper()}{tops[0][1:]} and never reaches {target}.")
    text.append(f"These are single measurements on the same {count(doc['n_test'])} prompts, and `routereval curve` "
                f"computes no interval for a difference between two routers, so none of these differences is tested "
                f"against sampling noise.")
    return " ".join(text)


# --- Section 1: token counts ---------------------------------------------------------------------------------


@block("costs-token-counts", checked=True)
def token_counts(run) -> str:
    """How far cl100k_base's token counts are from o200k_base's on crux text (benchmarks/results/token_counts.json)."""
    data = benchmark_result("token_counts")
    groups = data["groups"]

    def change(key: str) -> str:
        g = groups[key]
        ratio = g["cl100k_tokens"] / g["o200k_tokens"] - 1.0
        if round(100 * ratio, 1) == 0:
            return "as many"
        return f"{abs(100 * ratio):.1f}% {'more' if ratio > 0 else 'fewer'}"

    english = change("english (prompt instructions)")
    code = change("python code (prompt)")
    replies = change("replies (reasoning + code literals)")
    return para(f"""On crux text (`python benchmarks/token_counts.py`, results in
        `benchmarks/results/token_counts.json`), `{data['compared_with']}` (GPT-4's and GPT-3.5's tokenizer, which
        Llama 3's extends) counts {english} tokens than `{data['encoding_used']}` on the English instructions,
        {code} on the Python code and {replies} on the replies.""")


# --- Section 3: curve timing ---------------------------------------------------------------------------------


@block("costs-curve-speed")
def curve_speed(run) -> str:
    """Time of one exact curve against a grid of 200 weights (benchmarks/results/curve_speed.json)."""
    data = benchmark_result("curve_speed")
    case = data["cases"][f"random-{data['n_models']}x{data['n_prompts']}"]
    return para(f"""A full curve for {data['n_models']} models x {count(data['n_prompts'])} prompts (random
        quality estimates) takes {secs(case['seconds'])} s once the router is fitted, median of {case['n_runs']}
        runs (`python benchmarks/curve_speed.py`); a fixed grid of 200 weights takes
        {secs(case['grid_200_seconds'])} s and finds {count(case['grid_distinct_points'])} of the
        {count(case['operating_points'])} operating points.""")


# --- Section 5: crux -----------------------------------------------------------------------------------------


@block("costs-crux")
def crux(run) -> str:
    """crux's cost-quality study: the command, what it covers, its metrics table and what the table shows."""
    doc = curve(run, "crux")
    cheap, dear, best = singles(doc)
    rows = metrics(doc)
    oracle = rows["oracle"]
    n_all = len(doc["models"]) + len(doc["dropped_models"])
    table = cost_table(doc, "$/1k to reach the best single model",
                       {"best-single": "best-single (train mean - lambda x cost)", "oracle": "oracle (cost-aware)"})
    dropped = f" ({len(doc['dropped_models'])} without a public price are left out)" if doc["dropped_models"] else ""
    left = f"; {count(doc['n_dropped_prompts'])} prompts left out" if doc["n_dropped_prompts"] else ""
    about = para(f"""{count(doc['n_test'])} prompts, each held out once (10 folds){left}; {len(doc['models'])} of the
        {n_all} models have a price{dropped}; MiniLM embeddings (kNN averages the labels of each prompt's k = 5
        nearest training prompts). AIQ over [${doc['aiq_cost_range'][0] * PER:.4g},
        ${doc['aiq_cost_range'][1] * PER:.4g}] per 1,000 queries, from the cheapest model ({cheap['model']}) to the
        dearest ({dear['model']}). The best single model is {best['model']} ({best['quality']:.3f} at
        ${best['cost'] * PER:.4g} per 1,000 queries).""")
    reading = para(f"""On crux {against_best_single(doc, best)} The cost-aware oracle, which knows every prompt's
        scores and costs, shows the room: {best['model']}'s quality for
        {100 * oracle['cost_to_best_single'] / best['cost']:.0f}% of its cost, and {oracle['max_quality']:.3f} at
        ${oracle['cost_at_max_quality'] * PER:.4g} per 1,000 queries.""")
    return f"{command('crux')}\n\n{about}\n\n{table}\n\n{reading}"


# --- Section 5: llmrouter ------------------------------------------------------------------------------------


@block("costs-llmrouter")
def llmrouter(run) -> str:
    """llmrouter's cost-quality study in prompt dollars: the command, its range, metrics table and reading."""
    doc = curve(run, "llmrouter")
    cheap, dear, best = singles(doc)
    dearest = dearest_names(doc)
    if len(dearest) == 1:
        dear_text = f"the dearest, {dear['model']}"
    else:
        dear_text = f"the dearest, a price {len(dearest)} models share ({joined(dearest)})"
    if best["model"] == dear["model"] and len(dearest) == 1:
        dear_text += f", which is also the best single model ({best['quality']:.4f})"
    else:
        one_of = ", one of them" if best["model"] in dearest and len(dearest) > 1 else ""
        dear_text += f"; the best single model is {best['model']} ({best['quality']:.4f}){one_of}"
    table = cost_table(doc, "$/1k to reach the best single model", {"oracle": "oracle (cost-aware)"})
    left = f"; {count(doc['n_dropped_prompts'])} prompts left out" if doc["n_dropped_prompts"] else ""
    about = para(f"""The LLMRouter files record no replies, so the cost is the prompt's alone (o200k tokens of
        the query x the candidates file's input price); scores are continuous (exact match, F1, pass@1 by task).
        {len(doc['models'])} models, {count(doc['n_test'])} prompts, each held out once (10 folds){left}; AIQ over
        [${doc['aiq_cost_range'][0] * PER:.4g}, ${doc['aiq_cost_range'][1] * PER:.4g}] per 1,000 queries, from
        {cheap['model']} to {dear_text}.""")
    reading = para(f"Here {against_best_single(doc, best)}")
    return f"{command('llmrouter')}\n\n{about}\n\n{table}\n\n{reading}"


# --- Section 5: RouteLLM pairs -------------------------------------------------------------------------------


def on_line(rows: dict[str, Any], unit: str) -> bool:
    """Whether a router's hull is the straight line between the pair's two models: APGR 0.5, CPT(x%) = x%."""
    if not math.isclose(rows[f"APGR_{unit}"], 0.5, abs_tol=1e-9):
        return False
    return unit != "calls" or all(math.isclose(rows[f"CPT{x}_{unit}"], x, abs_tol=1e-6) for x in (20, 50, 80))


@block("costs-routellm")
def routellm(run) -> str:
    """The RouteLLM pairs in calls: the commands, the prompts each is measured on, APGR / CPT and the scores."""
    docs = {label: curve(run, name) for label, name in PAIRS}
    rows = {label: metrics(doc) for label, doc in docs.items()}
    n = {label: count(doc["n_test"]) for label, doc in docs.items()}
    straight = all(on_line(rows[p][r], "calls") for p in rows for r in ("random", "best-single"))
    line = ("The random router and best-single (all to GPT-4 or all to Mixtral) sit on the straight line on every "
            "pair: APGR 0.5, CPT(x%) = x%." if straight else
            "The random router's and best-single's APGR: " + "; ".join(
                f"{p} {rows[p]['random']['APGR_calls']:.3f} and {rows[p]['best-single']['APGR_calls']:.3f}"
                for p in rows) + ".")
    table = ["| pair | router | APGR | CPT(20%) | CPT(50%) | CPT(80%) |", "|---|---|---|---|---|---|"]
    for pair, got in rows.items():
        for r in ("knn", "mlp", "oracle", "random"):
            label = "oracle (cost-aware)" if r == "oracle" else r
            cpts = " | ".join(f"{got[r][f'CPT{x}_calls']:.1f}%" for x in (20, 50, 80))
            table.append(f"| {pair} | {label} | {got[r]['APGR_calls']:.3f} | {cpts} |")
    commands = "\n".join(command(name) for _, name in PAIRS)
    about = para(f"""Cost = calls to GPT-4; CPT in % of calls, as RouteLLM reports them. Our routers are the
        generic baselines (kNN over MiniLM embeddings, or TF-IDF on MMLU, and the MLP) trained on these records
        only, not RouteLLM's preference-data routers, so these are not its published numbers. MT-Bench
        ({n['MT-Bench']} prompts) held out over 10 folds, GSM8K ({n['GSM8K']}) over 5, MMLU on the 80/10/10 split's
        {n['MMLU']} test prompts. {line}""")
    return f"""{commands}

{about}

{chr(10).join(table)}"""


@block("costs-routellm-reading")
def routellm_reading(run) -> str:
    """The two models' scores on each pair, which learned routers reach GPT-4's score and with what share of calls."""
    docs = {label: curve(run, name) for label, name in PAIRS}
    scores = {}
    for label, doc in docs.items():
        cheap, _, best = singles(doc)
        if "gpt-4" not in best["model"] or "mixtral" not in cheap["model"].lower():
            raise ValueError(f"{label}: expected GPT-4 as the better, Mixtral as the cheaper model: {doc['singles']}")
        scores[label] = (best["quality"], cheap["quality"])
    rows = {label: metrics(doc) for label, doc in docs.items()}
    sentences = []
    for r in LEARNED:
        reached = sorted(((rows[p][r]["cost_to_best_single"], p) for p in rows
                          if not missing(rows[p][r]["cost_to_best_single"])))
        if not reached:
            sentences.append(f"The {NAMES[r]} never reaches GPT-4's score.")
            continue
        shares = [f"{100 * c:.0f}% of the calls on {p}" + (f" (a {100 * (1 - c):.0f}% saving)" if i == 0 else "")
                  for i, (c, p) in enumerate(reached)]
        shares = ", ".join(shares[:-1]) + (" and " if len(shares) > 1 else "") + shares[-1]
        never = [p for p in rows if p not in {p for _, p in reached}]
        sentences.append(f"The {NAMES[r]} reaches GPT-4's score with {shares}"
                         + (f", never on {' or '.join(never)}." if never else "."))
    reach = " ".join(sentences)
    oracle_above = all(rows[p]["oracle"]["APGR_calls"] > 1 for p in rows)
    oracle = ("The oracle's APGR above 1 on every pair means Mixtral alone does better than GPT-4 on some prompts: "
              "the oracle sends those to Mixtral and beats GPT-4's score." if oracle_above else
              "The oracle's APGR: " + ", ".join(f"{rows[p]['oracle']['APGR_calls']:.3f} on {p}" for p in rows) + ".")
    mt, gsm, mmlu = scores["MT-Bench"], scores["GSM8K"], scores["MMLU"]
    return para(f"""MT-Bench quality is the GPT-4 judge's score rescaled to [0, 1]; GPT-4 scores {mt[0]:.3f} and
        Mixtral {mt[1]:.3f} there, on GSM8K {gsm[0]:.3f} and {gsm[1]:.3f}, on the MMLU test prompts {mmlu[0]:.3f}
        and {mmlu[1]:.3f}. {reach} (Single measurements: no interval is computed.) {oracle}""")


@block("costs-routellm-dollars")
def routellm_dollars(run) -> str:
    """GSM8K in dollars: the two models' cost per 1,000 queries, the command and APGR / CPT in $."""
    doc = curve(run, "routellm-gsm8k-dollars")
    cheap, _, best = singles(doc)
    if "gpt-4" not in best["model"] or "mixtral" not in cheap["model"].lower():
        raise ValueError(f"expected GPT-4 as the better, Mixtral as the cheaper model: {doc['singles']}")
    rows = metrics(doc)
    table = ["| router | APGR ($) | CPT(20%) | CPT(50%) | CPT(80%) |", "|---|---|---|---|---|"]
    for r in ("knn", "mlp", "oracle", "random"):
        label = "oracle (cost-aware)" if r == "oracle" else r
        cpts = " | ".join(f"${rows[r][f'CPT{x}_dollars'] * PER:.2f}" for x in (20, 50, 80))
        table.append(f"| {label} | {rows[r]['APGR_dollars']:.3f} | {cpts} |")
    return f"""The same GSM8K curves in dollars (the RouteLLM authors' $24.7 and $0.24 per
1M tokens, o200k tokens of the prompt and of each model's response): sending
everything to Mixtral costs ${cheap['cost'] * PER:.2g} and everything to GPT-4 ${best['cost'] * PER:.3g} per 1,000
queries.

{command("routellm-gsm8k-dollars")}

{chr(10).join(table)}"""
