"""docs/serving.md: the proxy's load figures, read from the JSON ``benchmarks/serve_load.py`` wrote.

The benchmark takes minutes and measures wall-clock speed on whatever machine runs it, so the block does not
run it: it reads ``benchmarks/results/serve_load.json`` (rerun the script to refresh it, then this block).
"""

from __future__ import annotations


from registry import block
from runner import REPO, benchmark_result

RESULTS = "benchmarks/results/serve_load.json"
#: The same benchmark with a second encoder (``--encoder minilm --out`` this file), shown beside the first if present.
OTHER_ENCODER = "serve_load_minilm"


def ms(x: float) -> str:
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"


def secs(x: float) -> str:
    return f"{x:.2f} s"


def loads(values: list[float]) -> str:
    return " / ".join(f"{v:g}" for v in values)


def shortfall(t: dict) -> str:
    """How far a missed target is from its limit, in words; empty when it was met."""
    if t["met"]:
        return ""
    measured, limit = t["measured"], t["limit"]
    if t["at_most"]:
        if limit == 0:
            return f"{measured:,g} over"
        return f"{measured / limit:.1f} times the limit" if measured >= 2 * limit else (
            f"{(measured / limit - 1):.0%} over")
    return f"{1 - measured / limit:.0%} short" if limit else "short"


def target_rows(doc: dict) -> list[str]:
    """One row per target: what, the figure measured, met or missed (and by how much)."""
    t, load, hang, mem, fail = (doc["targets"], doc["load"], doc["hanging_backends"], doc["memory"],
                                doc["failing_backend"])
    m = load["medians"]
    hang_runs = [v for v in hang.values() if isinstance(v, dict) and "seconds" in v]
    answered = sum(r["answered_by_healthy"] for r in hang_runs)
    sent = sum(r["requests"] for r in hang_runs)
    rows = [
        ("proxy CPU per routed request <= 5 ms (its process tree, user + system, at concurrency "
         f"{load['concurrency']})", t["proxy_cpu_per_routed_request"],
         f"{ms(m['routed_proxy_cpu_ms_per_request'])} (forwarded: {ms(m['forwarded_proxy_cpu_ms_per_request'])})"),
        (f"routed throughput >= 0.6 x forwarding throughput, {load['requests']:,} requests each at concurrency "
         f"{load['concurrency']}", t["routed_vs_forwarded_throughput"],
         f"{m['routed_to_forwarded_throughput']:.2f} x ({m['routed_requests_per_s']:,.1f} routed against "
         f"{m['forwarded_requests_per_s']:,.1f} forwarded requests/s)"),
        (f"every candidate but one hanging ({hang['timeout_s']:g} s timeout): each routed request answered by "
         "the healthy backend within 5 s", t["hanging_backends_answered_within_5_s"],
         f"slowest {secs(t['hanging_backends_answered_within_5_s']['measured'])}; {answered} / {sent} answered by "
         f"`{hang['healthy']}`"),
        ("proxy RSS after sustained routed load within 15% of RSS after warm-up", t["rss_growth_under_sustained_load"],
         f"{mem['rss_after_warmup_mb']:,.0f} MB after {mem['warmup_requests']:,} requests, "
         f"{mem['rss_after_sustained_mb']:,.0f} MB after {mem['sustained_requests']:,} more "
         f"({mem['growth']:+.1%})"),
        ("no request lost with a backend failing every second request",
         t["no_request_lost_with_a_failing_backend"],
         f"{fail['lost']:,} of {fail['requests']:,} lost; {fail['with_own_prompt']:,} answered with their own prompt"),
    ]
    out = ["| target | measured | |", "|---|---|---|"]
    for what, result, figure in rows:
        verdict = "met" if result["met"] else f"**missed** ({shortfall(result)})" if shortfall(result) else (
            "**missed**")
        out.append(f"| {what} | {figure} | {verdict} |")
    return out


@block("serve-load", checked=True)
def serve_load(run) -> str:
    """The proxy under load: CPU per routed request, routed against forwarded throughput, hanging backends, RSS."""
    doc = benchmark_result("serve_load")
    machine, setup, prompts, load = doc["machine"], doc["setup"], doc["prompts"], doc["load"]
    hang, fail, mem, m = doc["hanging_backends"], doc["failing_backend"], doc["memory"], load["medians"]
    runs = setup["settings"]["runs"]
    params = ", ".join(f"{k}={v}" for k, v in setup["router_params"].items())
    encoder = f"`{setup['encoder']}` encoder" + (f" (asked for as `{setup['encoder_requested']}`)"
                                                 if setup["encoder_requested"] != setup["encoder"] else "")
    options = ("MMLU-Pro questions with their lettered options" if prompts["options"]
               else "the longest MMLU-Pro questions, without their options (the options file could not be read)")
    busy = max(machine["load_average_at_start"][0], machine["load_average_at_end"][0]) > machine["cpus"]
    out = [
        f"The figures below are read from `{RESULTS}`, written by `{doc['command']}` in {doc['seconds']:,.0f} s "
        f"on a machine with {machine['cpus']} CPUs (Python {machine['python']}): load average "
        f"{loads(machine['load_average_at_start'])} (1, 5, 15 minutes) at the start and "
        f"{loads(machine['load_average_at_end'])} at the end"
        + (", so the machine was shared with other work and the speed figures are pessimistic. " if busy else ". ")
        + f"Router: `{setup['router']}` ({params}) over the {encoder}, trained with `routereval train` on "
        f"{setup['dataset']} for {len(setup['candidates'])} candidates ({', '.join(setup['candidates'])}); "
        f"`routereval serve --workers {setup['workers']}` in front of echo backends on 127.0.0.1; the client is "
        f"the script's own process (one kept-alive connection per concurrent worker). Prompts: {options}, "
        f"{prompts['distinct_in_pool']:,} distinct, median "
        f"{prompts['chars_p50']:,.0f} characters (seed {prompts['seed']}); "
        + (f"each of the {prompts['routed_requests']:,} routed requests carried a prompt not routed before in the "
           "run (counted by the script), so the proxy's memo of recent prompts' vectors never stood in for the "
           "encoder." if prompts["every_routed_prompt_new"] else
           f"{prompts['routed_requests_with_a_prompt_routed_before']:,} of the {prompts['routed_requests']:,} routed "
           "requests repeated a prompt, which the proxy's memo may have answered without the encoder.")
        + (f" Figures at concurrency 1 and {load['concurrency']} are medians of {runs} runs." if runs > 1 else ""),
        "",
        *target_rows(doc),
        "",
        f"* Concurrency 1 ({load['latency_requests']:,} requests each way): p50 {ms(m['direct_p50_ms'])} straight "
        f"to a backend, {ms(m['forwarded_p50_ms'])} forwarded through the proxy (an overhead of "
        f"{ms(m['forwarding_overhead_p50_ms'])} at p50, {ms(m['forwarding_overhead_p99_ms'])} at p99), "
        f"{ms(m['routed_p50_ms'])} routed, of which the decision (`routing.decision_ms`) "
        f"{ms(m['decision_ms_p50_concurrency_1'])}; the proxy spent "
        f"{ms(m['routed_proxy_cpu_ms_per_request_concurrency_1'])} of CPU per routed request.",
        f"* Concurrency {load['concurrency']}: latency p50 {ms(m['routed_latency_p50_ms'])} routed (p99 "
        f"{ms(m['routed_latency_p99_ms'])}; the decision, waiting for its batch included, "
        f"{ms(m['decision_ms_p50_at_concurrency'])} at p50) against {ms(m['forwarded_latency_p50_ms'])} forwarded. "
        f"The client spent {ms(m['client_cpu_ms_per_request'])} of CPU per request.",
    ]
    for key, run_ in hang.items():
        if not isinstance(run_, dict) or "seconds" not in run_:
            continue
        how = "one after another" if run_["concurrency"] == 1 else f"at concurrency {run_['concurrency']}"
        out.append(
            f"* Hanging backends ({', '.join(f'`{h}`' for h in hang['hanging'])} accept and never answer), "
            f"{run_['requests']} routed requests {how} on a fresh proxy, "
            + ("each ranking" if run_["healthy_ranked_last"] == run_["requests"] else
               f"{run_['healthy_ranked_last']} of them ranking")
            + f" `{hang['healthy']}` last: p50 {secs(run_['seconds']['p50'])}, slowest "
            f"{secs(run_['seconds']['max'])}; {run_['requests_that_met_a_timeout']} met a timeout (after which "
            "the remaining candidates are tried at once, and the hanging ones cool down). Seconds in order: "
            + ", ".join(f"{x:.2f}" for x in run_["seconds_in_order"]) + ".")
    out.append(
        f"* `{fail['failing']}` (the router's most frequent first choice) answering 500 to every second request, "
        f"{fail['requests']:,} routed requests at concurrency {fail['concurrency']}: {fail['answered_200']:,} "
        f"answered 200, {fail['with_a_retry_or_fallback']:,} after a retry or a fallback, at "
        f"{fail['requests_per_s']:,.1f} requests/s.")
    out.append(
        f"* Memory: RSS sampled every {mem['requests_per_sample']:,} requests over {mem['sustained_s']:,.0f} s of "
        f"sustained routed load (at most {mem['request_cap']:,} requests or {mem['seconds_cap']:,.0f} s): "
        + ", ".join(f"{rss:,.0f}" for _, rss in mem["samples_requests_rss_mb"]) + " MB.")
    rf = doc["route_file"]
    out.append(
        f"* Decisions on prompts already embedded (what `route --file` does after embedding; measured only here): "
        f"{rf['decisions_per_s']:,}/s for `{rf['router']}` on {rf['prompts']:,} prompts, one thread.")
    other = REPO / "benchmarks" / "results" / f"{OTHER_ENCODER}.json"
    if other.exists():
        o = benchmark_result(OTHER_ENCODER)
        om, ot = o["load"]["medians"], o["targets"]
        out.append(
            f"* The same load with the `{o['setup']['encoder']}` encoder (`{o['command']}`"
            + (", a quick run" if o["quick"] else "") + f"): {ms(om['routed_proxy_cpu_ms_per_request'])} of proxy "
            f"CPU per routed request against {ms(om['forwarded_proxy_cpu_ms_per_request'])} forwarded, routed "
            f"throughput {om['routed_to_forwarded_throughput']:.2f} x forwarded, decision p50 "
            f"{ms(om['decision_ms_p50_at_concurrency'])} at concurrency {o['load']['concurrency']}; the two speed "
            "targets " + ("met" if ot["proxy_cpu_per_routed_request"]["met"] and
                          ot["routed_vs_forwarded_throughput"]["met"] else "missed") + " with it.")
    if doc["quick"]:
        out += ["", "This is a `--quick` smoke run: too few requests to quote. Run "
                "`python benchmarks/serve_load.py` on an idle machine for the figures."]
    elif busy:
        out += ["", "Rerun it on an idle machine before quoting speed."]
    return "\n".join(out)
