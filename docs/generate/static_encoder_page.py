"""docs/routers.md, section Encoders: what ``minilm-static`` costs and gives up, read from its benchmark's JSON.

``benchmarks/static_encoder.py`` times encoders on whatever machine runs it and runs ``routereval bench``
four times (minutes), so the block does not run it: it reads ``benchmarks/results/static_encoder.json``
(rerun the script to refresh it, then this block).
"""

from __future__ import annotations

from registry import block
from runner import benchmark_result

RESULTS = "benchmarks/results/static_encoder.json"
FAST, FULL = "minilm-static", "minilm-int8"


def _ms(x: float) -> str:
    return f"{x:.2f} ms" if x < 1 else f"{x:.1f} ms"


@block("static-encoder", checked=True)
def static_encoder(run) -> str:
    """minilm-static against the default MiniLM path: CPU per prompt, cosine, routing quality per router."""
    doc = benchmark_result("static_encoder")
    speed, agree, routing, machine = doc["speed"], doc["agreement"], doc["routing"], doc["machine"]
    one, many = speed["batches"]["1"], speed["batches"]["64"]
    out = [
        f"Read from `{RESULTS}` (`python benchmarks/static_encoder.py`, {machine['cpus']} CPUs shared with other "
        f"work, load average {machine['load_average_at_start'][0]:.1f} at the start). CPU time per prompt on "
        f"{speed['prompts']['n']} MMLU-Pro questions, medians of {speed['runs']} rounds:",
        "",
        "| encoder | one prompt per call | 64 prompts per call | loading (once per process) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in (FAST, FULL):
        out.append(f"| `{name}` | {_ms(one[name]['cpu_ms_per_prompt'])} | {_ms(many[name]['cpu_ms_per_prompt'])} | "
                   f"{speed['load_s'][name]:.1f} s |")
    out += [
        "",
        f"`{FAST}` needs {one['cpu_ratio_int8_to_static']:.0f}x less CPU than `{FULL}` for a prompt alone and "
        f"{many['cpu_ratio_int8_to_static']:.0f}x less in batches of 64. Its vectors are not the model's: cosine "
        "to `minilm-int8` " + ", ".join(f"{a['cosine_mean']:.2f} on average over the {a['n']:,} {name} prompts"
                                        for name, a in agree.items())
        + "; of a prompt's 10 nearest neighbours, " + " and ".join(
            f"{a['neighbours_shared_at_10']:.0%} ({name})" for name, a in agree.items()) + " are the same.",
        "",
        "What routers lose, from `routereval bench` on each encoder (mean over the run's "
        f"{next(iter(next(iter(routing['runs'].values()))['routers'].values()))['pools']} pools, m = 3 and 5, "
        "three groups each; gap closed: the share of the gap from the best single model to the oracle):",
        "",
        "| dataset | router | mu_o, default encoder | mu_o, `minilm-static` | gap closed, default | gap closed, `minilm-static` |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    datasets = list(dict.fromkeys(key.split("/")[0] for key in routing["runs"]))
    for dataset in datasets:
        base, fast = routing["runs"][f"{dataset}/default"]["routers"], routing["runs"][f"{dataset}/{FAST}"]["routers"]
        for router in routing["routers"]:
            b, f = base[router], fast[router]
            out.append(f"| {dataset} | `{router}` | {b['mean_score']:.3f} | {f['mean_score']:.3f} | {b['gap_closed']:+.3f} | "
                       f"{f['gap_closed']:+.3f} |")
    return "\n".join(out)
