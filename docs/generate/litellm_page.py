"""docs/serving-vs-litellm.md: routereval's proxy beside LiteLLM's, read from the JSON the benchmark wrote.

The benchmark starts both proxies several times and measures wall-clock speed on whatever machine runs it, so
the block does not run it: it reads ``benchmarks/results/serve_vs_litellm.json`` (rerun
``benchmarks/serve_vs_litellm.py`` to refresh it, then this block).
"""

from __future__ import annotations

from registry import block
from runner import benchmark_result

RESULTS = "benchmarks/results/serve_vs_litellm.json"
LABELS = {"routereval": "routereval", "litellm": "LiteLLM", "direct": "straight to the backend"}


def ms(x: float) -> str:
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"


def seconds(x: float) -> str:
    return f"{x:.1f} s" if x >= 1 else f"{x:.2f} s"


def loads(values: list[float]) -> str:
    return " / ".join(f"{v:g}" for v in values)


def _row(label: str, cells: list[str]) -> str:
    return "| " + " | ".join([label, *cells]) + " |"


def comparison_table(results: dict, proxies: list[str], roles: dict, settings: dict, setup: dict) -> list[str]:
    """One column per proxy and one for the backend on its own; a dash where a figure has no meaning."""
    columns = [*proxies, "direct"]
    forwarding = results["forwarding"]
    failing, hanging, started = results["failing_backend"], results["hanging_backend"], results["startup_s"]

    def per(make, for_direct: bool = False) -> list[str]:
        return [make(c) if c != "direct" or for_direct else "-" for c in columns]

    c1 = {c: forwarding[c]["concurrency_1"] for c in columns}
    c50 = {c: forwarding[c]["concurrency_50"] for c in columns}

    def answered(c: str) -> str:
        f = failing[c]
        once = "each exactly once" if f["answered_exactly_once"] else (
            f"{f['backend_side']['answered_twice_or_more']:,.0f} answered twice or more, "
            f"{f['backend_side']['never_answered']:,.0f} never")
        return f"{f['answered_with_own_prompt']:,.0f} / {f['requests']:,.0f} ({once})"

    n_hang = settings["hang_requests"]
    return [
        _row("", [LABELS[c] for c in columns]),
        "|---|" + "---:|" * len(columns),
        _row("start-up: process start to the first 200 on `/health/readiness`",
             per(lambda c: seconds(started[c]))),
        _row(f"forwarding at concurrency 1 ({settings['latency_requests']:,} requests): latency p50 / p99",
             per(lambda c: f"{ms(c1[c]['p50_ms'])} / {ms(c1[c]['p99_ms'])}", True)),
        _row(f"forwarding at concurrency {setup['forwarding_concurrency']} ({settings['requests']:,} requests): "
             "requests/s", per(lambda c: f"{c50[c]['requests_per_s']:,.1f}", True)),
        _row(f"forwarding at concurrency {setup['forwarding_concurrency']}: latency p50 / p99",
             per(lambda c: f"{ms(c50[c]['p50_ms'])} / {ms(c50[c]['p99_ms'])}", True)),
        _row("proxy CPU per forwarded request (its process tree, user + system)",
             per(lambda c: ms(c50[c]["proxy_cpu_ms_per_request"]))),
        _row(f"`{roles['failing']}` failing every second request, concurrency {setup['failing_concurrency']}: "
             "answered with their own prompt", per(answered)),
        _row("... of which answered by the fallback", per(lambda c: f"{failing[c]['answered_by_fallback']:,.0f}")),
        _row("... requests/s; latency p50 / p99", per(
            lambda c: f"{failing[c]['requests_per_s']:,.1f}; {ms(failing[c]['latency']['p50_ms'])} / "
                      f"{ms(failing[c]['latency']['p99_ms'])}")),
        _row(f"`{roles['hanging']}` hanging: seconds for each of the first {n_hang} requests, in order",
             per(lambda c: ", ".join(f"{s:.2f}" for s in hanging[c]["seconds_per_request"]))),
    ]


@block("serve-vs-litellm", checked=True)
def serve_vs_litellm(run) -> str:
    """routereval's proxy beside LiteLLM's: start-up, forwarding speed and CPU, a failing and a hanging backend."""
    doc = benchmark_result("serve_vs_litellm")
    machine, versions, setup, settings = doc["machine"], doc["versions"], doc["setup"], doc["settings"]
    results, roles, policy = doc["results"], setup["roles"], setup["policy"]
    proxies = list(results["startup_s"])
    runs = settings["runs"]
    out = [
        f"The figures below are read from `{RESULTS}`, written by `{doc['command']}`: medians of {runs} "
        f"run{'s' if runs != 1 else ''}, each starting the proxies afresh, on a machine with {machine['cpus']} "
        f"CPUs (Python {versions['python']}) shared with other work: load average "
        f"{loads(machine['load_average_at_start'])} (1, 5, 15 minutes) at the start and "
        f"{loads(machine['load_average_at_end'])} at the end. routereval {versions['routereval']}"
        + (f", LiteLLM {versions['litellm']} (its proxy, one worker)." if versions.get("litellm") else "."),
        "",
    ]
    if doc.get("litellm_skipped"):
        out += [f"LiteLLM's side was not measured in this run ({doc['litellm_skipped']}).", ""]
    out += comparison_table(results, proxies, roles, settings, setup)
    out += [
        "",
        f"Backends: echo servers on 127.0.0.1. Forwarding requests name `{roles['healthy']}` (no routing on either "
        f"proxy). The router ranks `{roles['failing']}`, `{roles['hanging']}`, `{roles['healthy']}` for every "
        f"prompt; the failing-backend requests go to `{roles['failing']}` first with `{roles['healthy']}` behind "
        f"it, the hanging-backend ones to `{roles['hanging']}` first with `{roles['healthy']}` behind it "
        "(routereval: `model: \"router\"` with the routing option `exclude` or `candidates`; LiteLLM: the first "
        "backend's name, with a `fallbacks` entry to the second).",
        "",
        f"The same failure policy on both: {policy['retries']} retries of the same backend (LiteLLM: "
        f"`num_retries: {setup['litellm_config']['num_retries']}`); a timeout of {policy['hang_timeout']:g} s for "
        f"the hanging backend and {policy['healthy_timeout']:g} s for the others (LiteLLM: each deployment's "
        f"`timeout`); a cool-down of {policy['cooldown_seconds']:g} s after {policy['cooldown_failures']} failures "
        f"(LiteLLM: `cooldown_time: {setup['litellm_config']['cooldown_time']:g}`, `allowed_fails: "
        f"{setup['litellm_config']['allowed_fails']}`, since it cools a deployment down once its failures this "
        "minute exceed that number). What cannot be made the same:",
        "",
        *[f"* {difference}" for difference in setup["differences"]],
    ]
    return "\n".join(out)
