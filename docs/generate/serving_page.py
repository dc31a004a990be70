"""docs/serving.md: the proxy's load figures, read from the JSON ``benchmarks/serve_load.py`` wrote.

The benchmark takes minutes and measures wall-clock speed on whatever machine runs it, so the block does not
run it: it reads ``benchmarks/results/serve_load.json`` (rerun the script to refresh it, then this block).
"""

from __future__ import annotations


from registry import block
from runner import benchmark_result

RESULTS = "benchmarks/results/serve_load.json"

# The targets the script checks, by the key it writes them under.
TARGETS = {
    "decision_p50_under_15_ms": "decision p50 under 15 ms",
    "forwarding_overhead_p50_under_3_ms": "forwarding overhead p50 under 3 ms",
    "at_least_200_requests_per_s": "at least 200 requests/s",
}


def ms(x: float) -> str:
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"


def loads(values: list[float]) -> str:
    return " / ".join(f"{v:g}" for v in values)


@block("serve-load", checked=True)
def serve_load(run) -> str:
    """The proxy under load: requests lost, requests/s, added latency, CPU per request, decisions/s."""
    doc = benchmark_result("serve_load")
    machine, setup, decision = doc["machine"], doc["setup"], doc["decision_in_process"]
    healthy, failing = doc["healthy"], doc["one_backend_fails_half"]
    h, f = healthy["load"], failing["load"]
    knn, mlp = doc["route_file"]["knn"], doc["route_file"]["mlp"]
    command = (f"python benchmarks/serve_load.py --requests {h['requests']} --concurrency {h['concurrency']} "
               f"--latency-requests {decision['n']} --runs {knn['runs']}")
    out = [
        f"The figures below are read from `{RESULTS}`, written by `{command}` on a machine with "
        f"{machine['cpus']} CPUs (Python {machine['python']}) shared with other work: load average "
        f"{loads(machine['load_average_at_start'])} (1, 5, 15 minutes) at the start and "
        f"{loads(machine['load_average_at_end'])} at the end. Router: `{setup['router']}` over the "
        f"`{decision['encoder']}` encoder, on {len(setup['candidates'])} llmrouter models "
        f"({', '.join(setup['candidates'])}), echo backends on 127.0.0.1.",
        "",
    ]
    runs = [(h, "all backends healthy"), (f, f"{failing['failing_backend']} failing every second request")]
    lost = sum(r["lost"] for r, _ in runs)
    exact = all(r["answered_with_own_prompt"] == r["requests"] for r, _ in runs)
    answered = ", ".join(f"{r['answered_200']:,} / {r['requests']:,} answered with {what}" for r, what in runs)
    out.append(
        ("* No request was lost" if lost == 0 else f"* {lost:,} requests were lost")
        + f", with or without a failing backend: {answered}"
        + ("; each request was answered by one backend, with its own prompt" if exact else "")
        + f". With the failing backend {f['requests_with_a_retry_or_fallback']:,} requests needed a retry or a "
        f"fallback (with all healthy, {h['requests_with_a_retry_or_fallback']:,}).")
    out.append(
        f"* Throughput at concurrency {h['concurrency']}: {h['requests_per_s']:g} routed requests/s "
        f"({f['requests_per_s']:g} with the failing backend); latency under that load p50 "
        f"{ms(h['latency']['p50_ms'])}, p99 {ms(h['latency']['p99_ms'])}. The proxy process spent "
        f"{h['proxy_cpu_ms_per_request']:g} ms of CPU per routed request (decision and forwarding), about "
        f"{h['proxy_capacity_requests_per_s_per_cpu']:g} requests/s per CPU it has to itself.")
    out.append(
        f"* One decision in-process (embed one prompt with `{decision['encoder']}`, then the router): p50 "
        f"{ms(decision['p50_ms'])} wall ({ms(decision['cpu_p50_ms'])} CPU), p99 {ms(decision['p99_ms'])}.")
    over = healthy["forwarding_overhead_ms"]
    out.append(
        f"* Forwarding at concurrency 1 (a request naming a backend: no decision): p50 "
        f"{ms(healthy['forwarding']['p50_ms'])} through the proxy against {ms(healthy['backend_direct']['p50_ms'])} "
        f"straight to the backend, an overhead of {ms(over['p50'])} (p99 {ms(over['p99'])}).")
    out.append(
        f"* Decisions on prompts already embedded (what `route --file` does after embedding): "
        f"{mlp['decisions_per_s']:,}/s for an MLP router, {knn['decisions_per_s']:,}/s for kNN (which compares "
        "each prompt with every training prompt).")
    targets = doc["targets"]
    checks = {**{text: targets[key] for key, text in TARGETS.items()},
              **{f"100,000 decisions/s on embedded prompts ({name})": ok
                 for name, ok in targets["route_file_at_least_100k_per_s"].items()}}
    met = [text for text, ok in checks.items() if ok]
    missed = [text for text, ok in checks.items() if not ok]
    out.append("")
    if missed:
        out.append("Against the script's speed targets for 2 CPUs, on that machine: missed " + "; ".join(missed)
                   + (f"; met {'; '.join(met)}" if met else "") + ". Rerun it on an idle machine before quoting "
                   "speed.")
    else:
        out.append("The script's speed targets for 2 CPUs (" + "; ".join(met) + ") were all met.")
    return "\n".join(out)
