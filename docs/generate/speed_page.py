"""docs/speed.md: each speed and memory target beside what its benchmark script measured.

The figures are read from ``benchmarks/results/<name>.json``, which each script in
``benchmarks/`` writes from its own runs (medians of several fresh processes). Timing
runs need a quiet machine, so the generator reads their results rather than rerunning
them; rerun a script to refresh its row.
"""

from __future__ import annotations

from registry import block
from runner import benchmark_result as _load


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _store() -> str:
    d = _load("store_scale")
    cold = d["cold"]
    ok = cold["load_s"] < 10 and cold["peak_rss_over_score_bytes"] < 1.5
    return (f"{d['n_models']:,} models x {d['n_prompts']:,} prompts: save {d['save_s']:.2f} s, open {cold['load_s']:.2f} s, "
            f"per-model means {cold['summary_s']:.2f} s, peak memory {cold['peak_rss_over_score_bytes']:.2f}x the "
            f"score bytes; {_met(ok)}")


def _easy() -> str:
    d = _load("bench_easy")
    return f"{d['wall_s']:.0f} s wall, {d['peak_rss_mb']} MB peak; {_met(d['wall_s'] < d['target_wall_s'])}"


def _hard() -> str:
    d = _load("bench_hard")
    slopes = {k: v for k, v in d["slope_vs_m"].items() if k != "pools"}
    low, high = min(slopes, key=slopes.get), max(slopes, key=slopes.get)
    pools = " / ".join(f"{v:.2f}" for v in d["pools_s"].values())
    return (f"log-log slope of time against m from {slopes[low]:.2f} ({low}) to {slopes[high]:.2f} ({high}); "
            f"pool selection {pools} s for m = {', '.join(d['pools_s'])}; {_met(max(slopes.values()) <= 1)}")


def _defaults() -> str:
    d = _load("router_defaults")["fast_vs_published"]
    parts = [f"{key}: {v['mean_fast_minus_published']:+.4f} [{v['interval_95'][0]:+.4f}, {v['interval_95'][1]:+.4f}] "
             f"over {v['n_pairs']} pools x seeds" for key, v in d.items()]
    worse = [key for key, v in d.items() if v["interval_95"][1] < 0]
    return "fast minus published mu_o, mean [95% interval]: " + "; ".join(parts) + f"; {_met(not worse)}"


def _executors() -> str:
    d = _load("sweep_executors")
    w = d["median_wall_seconds"]
    return (f"{d['grid']}: 1 worker {w['local-1']:.0f} s, 2 workers {w['local-2']:.0f} s "
            f"({d['speedup_local_2_vs_1_wall']:.2f}x), Ray joining a running instance {w['ray-cluster-2']:.0f} s, Ray "
            f"started by the command {w['ray-2']:.0f} s (+{100 * d['ray_overhead_vs_local_2_wall']:.0f}%, "
            f"its own start-up included); {_met(d['speedup_local_2_vs_1_wall'] > 1.5)} for local workers")


def _scaling() -> str:
    cases = _load("scaling_speed")["cases"]
    return "; ".join(f"{c['case']} {c['seconds']:.2f} s (m up to {c['largest_m']:,})" for c in cases.values())


def _select() -> str:
    d = _load("select_loto")
    s = d["median"]["total_s"]
    return f"{s:.1f} s with cached vectors ({d['dataset']}, {d['median']['n_tasks']} tasks); {_met(s < d['target_s'])}"


def _encoders() -> str:
    d = _load("encoders_speed")
    default = d["default_path"]
    paths, single = d["paths"], d["single_prompt_latency"]
    fast = paths[default]
    ok = fast["speedup_vs_minilm_st"] >= 2.5 and single[default]["p50_ms"] < 10
    return (f"`{default}` {fast['prompts_per_s']:.0f} prompts/s = {fast['speedup_vs_minilm_st']:.2f}x "
            f"sentence-transformers in batches of 64 ({paths['minilm-st']['prompts_per_s']:.0f}/s), `minilm-onnx` "
            f"{paths['minilm-onnx']['speedup_vs_minilm_st']:.2f}x, on {d['prompts']['n']} questions; one short prompt "
            f"p50 {single[default]['p50_ms']:.1f} ms; load average {d['machine']['load_average_at_start'][0]:.1f} at "
            f"the start; {_met(ok)}")


def _cold() -> str:
    d = _load("cold_main_job")
    stages = d["cold_runs"][0]["stages_s"]
    return (f"{d['cold_median_s']:.0f} s, median of {len(d['cold_runs'])} cold runs (embedding "
            f"{stages.get('prompt features', float('nan')):.0f} s of the first); warm {d['warm']['wall_s']:.0f} s; "
            f"rows {'identical' if d['identical_rows'] else '**different**'} across every run and worker count; "
            f"load average {d['machine']['load_average_at_end'][0]:.1f} at the end; {_met(d['meets_target'])}")


def _curve() -> str:
    d = _load("curve_speed")
    case = d["cases"]["random-48x800"]
    return (f"{case['seconds']:.2f} s ({case['operating_points']:,} operating points); a 200-point grid of cost "
            f"weights {case['grid_200_seconds']:.1f} s; {_met(case['seconds'] < d['target_seconds'])}")


def _zoo_hard() -> str:
    d = _load("zoo_hard")["fit_under_60s_at_1000"]
    slow = [k for k, ok in d.items() if not ok]
    return f"{sum(d.values())} of {len(d)} routers fit in time" + (f"; not: {', '.join(slow)}" if slow else "")


ROWS = [
    ("RouterEval-scale records (8,567 models x 23,400 prompts): open < 10 s, peak memory < 1.5x the score bytes",
     "store_scale.py", _store),
    ("the main job from a cold cache < 2 min on 2 cores, identical rows every run", "cold_main_job.py", _cold),
    ("the default encoder >= 2.5x sentence-transformers on MMLU-Pro questions; one short prompt p50 < 10 ms",
     "encoders_speed.py", _encoders),
    ("easy setting on MMLU-Pro, every router but MLC, cached vectors < 60 s", "bench_easy.py", _easy),
    ("hard setting: no router worse than linear in m (2,000 models x 5,000 prompts, m up to 1,000)",
     "bench_hard.py", _hard),
    ("fast LinearR / MLPR recipes no worse than the published batch-1 recipe", "router_defaults.py", _defaults),
    ("sweeps: near-linear speed-up with local workers", "sweep_executors.py", _executors),
    ("model-level scaling study, 1,000 pools per m", "scaling_speed.py", _scaling),
    ("leave-one-task-out model choice on MMLU-Pro < 5 min", "select_loto.py", _select),
    ("an exact cost-quality curve, 48 models x 800 prompts, after fitting < 2 s", "curve_speed.py", _curve),
    ("every zoo router fits a 1,000-candidate pool on 5,000 prompts < 1 min", "zoo_hard.py", _zoo_hard),
]


@block("speed-table")
def speed_table(run) -> str:
    """Every speed target with the figures its benchmark script last measured."""
    lines = ["| target | script | measured |", "|---|---|---|"]
    lines += [f"| {target} | `{script}` | {measure()} |" for target, script, measure in ROWS]
    return "\n".join(lines)


@block("encoder-cosines")
def encoder_cosines(run) -> str:
    """The lowest cosine of each fast MiniLM path to sentence-transformers, over every prompt where measured."""
    d = _load("encoders_speed")
    checks = d.get("check_all")
    if checks:  # `encoders_speed.py --check-all`: every MMLU-Pro and LLMRouter prompt
        parts = []
        for path in ("minilm-int8", "minilm-onnx"):
            got = {k.split("/")[0]: v["min"] for k, v in checks.items() if k.endswith(path)}
            parts.append(f"`{path}`: " + ", ".join(f"{data} {value:.4f}" for data, value in sorted(got.items())))
        return "Lowest cosine to sentence-transformers over every prompt: " + "; ".join(parts) + "."
    parts = [f"`{path}` {d['paths'][path]['cosine_to_reference']['min']:.4f}" for path in ("minilm-int8", "minilm-onnx")]
    return (f"Lowest cosine to sentence-transformers on the {d['prompts']['n']} sampled MMLU-Pro questions: "
            + ", ".join(parts) + " (`--check-all` measures every prompt).")
