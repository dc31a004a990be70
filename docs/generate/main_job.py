"""The README's main job: RouterEval's easy setting on MMLU-Pro, and what its table shows."""

from __future__ import annotations

from reading import interval_side
from registry import block

# One run gives both: the tables as the command writes them, and the rows the sentence reads.
BENCH = ("bench", "--dataset", "mmlu-pro", "--markdown", "{out}", "--json", "{out:json}")


@block("main-job", checked=True)
def main_job_tables(run) -> str:
    """The main job's tables, exactly as ``--markdown`` writes them."""
    return run.text(*BENCH)


def verdict(lo: float, hi: float) -> str:
    """How a paired 95% interval of a difference to the best single model reads."""
    return {"above": "a gain beyond noise", "below": "a loss beyond noise", "noise": "inside noise"}[interval_side(lo, hi)]


@block("main-job-reading", checked=True)
def main_job_reading(run) -> str:
    """What the main job's table shows, read from its ``--json`` rows with paired intervals."""
    rows = [r for r in run.json(*BENCH, name="json") if r["group"] == "mean"]
    at = {(r["m"], r["router"]): r for r in rows}
    parts = []
    for m in sorted({r["m"] for r in rows}):
        learned = [r for r in rows if r["m"] == m and r["router"] in ("linear", "mlp", "cluster", "knn")]
        best = max(learned, key=lambda r: r["mean_score"])
        d, lo, hi = best["diff_vs_best_single"], best["diff_vs_best_single_lo"], best["diff_vs_best_single_hi"]
        parts.append(f"at m = {m} the best learned router, {best['router']}, scores {best['mean_score']:.3f} against the "
                     f"best single model's {at[(m, 'best-single')]['mean_score']:.3f} (paired difference {d:+.3f}, 95% "
                     f"interval {lo:+.3f} to {hi:+.3f}: {verdict(lo, hi)}), and the oracle reaches "
                     f"{at[(m, 'oracle')]['mean_score']:.3f}")
    reference = rows[0]["reference"].split(": ")[-1]
    return (f"Reading the tables: {'; '.join(parts)}. The strong pools hold {reference}, the best model on the "
            f"test prompts ({rows[0]['reference_score']:.3f}), so routing has little to add there; the oracle shows the "
            "headroom a better router could reach.")
