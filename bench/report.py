"""Turns one bench/run.sh work folder into bench/results/latest.md and latest.png (and dated
copies). Reads ghz's JSON reports (every request's latency is in `details`), the server's CPU and
memory figures recorded around each run, and meta.json.

    python report.py WORK_DIR RESULTS_DIR
"""

import datetime
import json
import statistics
import math
import os
import shutil
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RPCS = [
    ("health", "Health/Check (floor)", "floor"),
    ("check_visitor", "BlockerService/CheckVisitor", "read"),
    ("smart_url_check", "SmartUrlService/Check", "read"),
    ("send_signal", "SignalService/SendSignal (durable)", "write"),
    ("track_event", "DecisionService/TrackEvent (durable)", "write"),
    ("get_decision", "DecisionService/GetDecision", "read"),
    # Measured, but not one of the read-path targets (a dashboard query, not on the
    # request path of a site).
    ("get_stats", "DecisionService/GetStats", "stats"),
    ("verify", "VerifyService/Verify", "read"),
]
SHORT = {
    "health": "Health (floor)",
    "check_visitor": "CheckVisitor",
    "smart_url_check": "SmartUrl Check",
    "send_signal": "SendSignal",
    "track_event": "TrackEvent",
    "get_decision": "GetDecision",
    "get_stats": "GetStats",
    "verify": "Verify",
}
READ_RPS_SHARE = 0.70
READ_P99_FACTOR = 2.0
WRITE_RPS_SHARE = 0.40
RSS_LIMIT_MB = 300
READY_LIMIT_MS = 2000


def percentile(sorted_values, share):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def load_run(work, name, concurrency):
    path = os.path.join(work, "runs", f"{name}.json")
    if not os.path.exists(path):
        return None
    report = json.load(open(path))
    server = json.load(open(os.path.join(work, "runs", f"{name}.server.json")))
    details = report.get("details") or []
    ok = sorted(d["latency"] / 1e6 for d in details if d.get("status") == "OK")
    statuses = {}
    for d in details:
        statuses[d.get("status", "?")] = statuses.get(d.get("status", "?"), 0) + 1
    # ghz stops at the end of the duration by cancelling the requests in flight (at most one
    # per worker): they end as Unavailable or Canceled and are not errors of the server.
    cut_off = 0
    for status in ("Unavailable", "Canceled"):
        take = min(statuses.get(status, 0), concurrency - cut_off)
        cut_off += take
        if take:
            statuses[status] -= take
            if not statuses[status]:
                del statuses[status]
    seconds = report["total"] / 1e9
    cpu_seconds = server["cpu_ticks"] / server["clk_tck"]
    return {
        "count": len(details),
        "cut_off": cut_off,
        "ok": len(ok),
        "errors": {k: v for k, v in statuses.items() if k != "OK"},
        "rps": len(ok) / seconds if seconds else 0.0,
        "p50": percentile(ok, 0.50),
        "p99": percentile(ok, 0.99),
        "p999": percentile(ok, 0.999),
        "cpu_cores": cpu_seconds / seconds if seconds else 0.0,
        "cpu_us_per_request": cpu_seconds * 1e6 / len(details) if details else float("nan"),
        "ghz_us_per_request": server.get("ghz_cpu_s", float("nan")) * 1e6 / len(details)
        if details
        else float("nan"),
        "peak_rss_mb": server["peak_rss_kb"] / 1024,
        "rss_mb": server["rss_kb"] / 1024,
    }


def fmt(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def main():
    work, results = sys.argv[1], sys.argv[2]
    meta = json.load(open(os.path.join(work, "meta.json")))
    levels = meta["levels"]
    top = levels[-1]
    verify_unavailable = os.path.exists(os.path.join(work, "runs", "verify.unavailable.json"))
    runs = {
        (name, c): load_run(work, f"{name}-c{c}", c) for name, _, _ in RPCS for c in levels
    }
    sweep = {
        share: load_run(work, f"sweep-{share}", meta["sweep_concurrency"])
        for share in (10, 50, 90)
    }
    peak_rss = max(
        [r["peak_rss_mb"] for r in list(runs.values()) + list(sweep.values()) if r] or [0]
    )

    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        "# Gatehouse benchmark",
        "",
        f"Run {now:%Y-%m-%d %H:%M} UTC, commit `{meta['commit']}`, {meta['cpus']} cores (ghz runs "
        f"on the same machine), load average at the end {meta['load_average_at_end']}. "
        f"Each run {meta['duration']} at the top concurrency and "
        f"{meta.get('short_duration', meta['duration'])} below it, over loopback, secret key; "
        "reverse DNS off.",
        "",
        f"Data: {meta['seed_report'].get('identities')} identities and "
        f"{meta['seed_report'].get('click_events')} click events "
        f"({meta['seed_report'].get('decisions')} decided) seeded through the engine in "
        f"{meta['seed_report'].get('seconds')} s; {meta['lists'].get('entries')} IP list entries "
        f"in {meta['lists'].get('files')} files; GeoLite2-layout City and ASN databases "
        f"({meta['mmdb']}); data dir {meta['data_dir_mb']} MB. "
        f"Start-up to ready: **{meta['ready_ms']} ms** on a restart, "
        f"**{meta['ready_after_writes_ms']} ms** on a restart after the benchmark's writes; the "
        f"first start after the bulk load took {meta['first_start_ms']} ms (sled replays its whole "
        f"log once; peak RSS {meta['first_start_rss_mb']} MB). "
        f"Peak RSS while serving: **{peak_rss:.0f} MB**. "
        f"Whole command: {meta['total_seconds']} s ({meta['phases']}).",
        "",
    ]
    for c in levels:
        floor = runs[("health", c)]
        lines += [
            f"## Concurrency {c}",
            "",
            "| RPC | requests/s | p50 ms | p99 ms | p99.9 ms | server CPU (cores) | CPU µs/request "
            "| ghz CPU µs/request | peak RSS MB | throughput vs floor | p99 vs floor | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, label, _ in RPCS:
            r = runs[(name, c)]
            if r is None:
                why = "not available (VerifyService not in this server)" if (
                    name == "verify" and verify_unavailable) else "not run"
                lines.append(f"| {label} | {why} | | | | | | | | | | |")
                continue
            ratio = r["rps"] / floor["rps"] if floor and floor["rps"] else float("nan")
            p99_ratio = r["p99"] / floor["p99"] if floor and floor["p99"] else float("nan")
            errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "0"
            lines.append(
                f"| {label} | {r['rps']:.0f} | {fmt(r['p50'])} | {fmt(r['p99'])} | "
                f"{fmt(r['p999'])} | {fmt(r['cpu_cores'])} | {fmt(r['cpu_us_per_request'], 0)} | "
                f"{fmt(r['ghz_us_per_request'], 0)} | {r['peak_rss_mb']:.0f} | {fmt(ratio)} | {fmt(p99_ratio)} | {errors} |"
            )
        lines += [
            "",
            "Errors leave out the requests still in flight when ghz stops at the end of the "
            "run (at most one per worker, cancelled by ghz). ghz CPU is the load generator's "
            "own CPU time per request: it runs on the same 2 cores as the server.",
            "",
        ]

    lines += [
        f"## CheckVisitor under a fixed rate (concurrency {meta['sweep_concurrency']})",
        "",
        "| offered rate | requests/s | p50 ms | p99 ms | p99.9 ms | server CPU (cores) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for share, r in sweep.items():
        if r:
            lines.append(
                f"| {share}% of max | {r['rps']:.0f} | {fmt(r['p50'])} | {fmt(r['p99'])} | "
                f"{fmt(r['p999'])} | {fmt(r['cpu_cores'])} |"
            )
    lines.append("")

    # Targets, at the highest concurrency.
    floor = runs[("health", top)]
    lines += [
        f"## Targets (concurrency {top})",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    for name, label, kind in RPCS:
        r = runs[(name, top)]
        if kind in ("floor", "stats"):
            continue
        if r is None:
            lines.append(f"| {label} | not available | – |")
            continue
        share = r["rps"] / floor["rps"]
        if kind == "read":
            p99_ratio = r["p99"] / floor["p99"]
            met = share >= READ_RPS_SHARE and p99_ratio <= READ_P99_FACTOR
            lines.append(
                f"| {SHORT[name]}: ≥ 70% of floor throughput, p99 ≤ 2× floor p99 | "
                f"{share:.0%}, p99 {p99_ratio:.2f}× | {'met' if met else '**missed**'} |"
            )
        else:
            met = share >= WRITE_RPS_SHARE
            lines.append(
                f"| {SHORT[name]} (durable): ≥ 40% of floor throughput | {share:.0%} | "
                f"{'met' if met else '**missed**'} |"
            )
    lines.append(
        f"| server RSS < {RSS_LIMIT_MB} MB | {peak_rss:.0f} MB peak | "
        f"{'met' if peak_rss < RSS_LIMIT_MB else '**missed**'} |"
    )
    ready = max(meta["ready_ms"], meta["ready_after_writes_ms"])
    lines.append(
        f"| start-up to ready < {READY_LIMIT_MS / 1000:.0f} s (restart) | {ready} ms | "
        f"{'met' if ready < READY_LIMIT_MS else '**missed**'} |"
    )
    lines.append(
        f"| start-up to ready < {READY_LIMIT_MS / 1000:.0f} s (first start after the bulk load) | "
        f"{meta['first_start_ms']} ms | "
        f"{'met' if meta['first_start_ms'] < READY_LIMIT_MS else '**missed**'} |"
    )
    lines.append("")
    # What TLS and metrics cost: server CPU per request of the floor and CheckVisitor, each
    # variant over its rounds (the median), against the default measured in the same rounds.
    rounds = meta.get("edge_rounds", 0)
    edge = {}
    for variant in ("default", "metrics_off", "tls"):
        for rpc in ("health", "check_visitor"):
            runs_of = [
                load_run(work, f"edge-{variant}-{rpc}-r{r}", top) for r in range(1, rounds + 1)
            ]
            runs_of = [r for r in runs_of if r]
            if runs_of:
                edge[(variant, rpc)] = statistics.median(r["cpu_us_per_request"] for r in runs_of)
    if edge.get(("default", "check_visitor")):
        base_floor = edge[("default", "health")]
        base_cv = edge[("default", "check_visitor")]
        lines.append("")
        lines.append(
            f"## What TLS and metrics cost ({meta.get('edge_rate', '?')} requests/s at concurrency "
            f"{top}, median of {rounds} alternating rounds)"
        )
        lines.append("")
        lines.append(
            "| edge | floor server CPU µs/request | CheckVisitor server CPU µs/request | "
            "CheckVisitor vs its floor | CheckVisitor vs default |"
        )
        lines.append("|---|---:|---:|---:|---:|")
        labels = {
            "default": "plaintext, metrics on (default)",
            "metrics_off": "plaintext, metrics off (access log on)",
            "tls": "TLS (rustls), metrics on",
        }
        for variant in ("default", "metrics_off", "tls"):
            floor_cpu = edge.get((variant, "health"))
            cv_cpu = edge.get((variant, "check_visitor"))
            if floor_cpu is None or cv_cpu is None:
                continue
            lines.append(
                f"| {labels[variant]} | {fmt(floor_cpu, 0)} | {fmt(cv_cpu, 0)} | "
                f"{cv_cpu / floor_cpu:.2f}× | {cv_cpu / base_cv - 1:+.1%} |"
            )
        if edge.get(("metrics_off", "check_visitor")):
            cost = base_cv / edge[("metrics_off", "check_visitor")] - 1
            lines.append("")
            lines.append(
                f"Metrics cost {cost:+.1%} of CheckVisitor's server CPU here (target: at most "
                f"5%: {'met' if cost <= 0.05 else '**missed**'}); the criterion bench `telemetry` "
                "measures the observer alone, without the noise of a shared machine. TLS costs "
                f"{edge.get(('tls', 'check_visitor'), float('nan')) / base_cv - 1:+.1%} on "
                f"CheckVisitor and {edge.get(('tls', 'health'), float('nan')) / base_floor - 1:+.1%} "
                "on the floor (TLS records on every request and response; handshakes are "
                "amortised over ghz's 4 long-lived connections)."
            )
    lines.append("")
    lines.append("![latency percentiles per RPC](latest.png)")
    lines.append("")

    # Chart: p50 / p99 / p99.9 per RPC at each level, and the CheckVisitor rate sweep.
    fig, axes = plt.subplots(
        1, len(levels) + 1, figsize=(6 * len(levels) + 4, 4.8),
        gridspec_kw={"width_ratios": [3] * len(levels) + [1.6]},
    )
    colors = {"p50": "#4c72b0", "p99": "#dd8452", "p99.9": "#c44e52"}
    for ax, c in zip(axes, levels):
        names = [n for n, _, _ in RPCS if runs[(n, c)]]
        xs = range(len(names))
        width = 0.26
        for offset, (key, label) in enumerate([("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")]):
            values = [runs[(n, c)][key] for n in names]
            ax.bar([x + (offset - 1) * width for x in xs], values, width, label=label,
                   color=colors[label])
        ax.set_yscale("log")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([SHORT[n] for n in names], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("latency, ms (log)")
        ax.set_title(f"concurrency {c}")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[-1]
    shares = [s for s, r in sweep.items() if r]
    for key, label in [("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")]:
        ax.plot(shares, [sweep[s][key] for s in shares], marker="o", label=label,
                color=colors[label])
    ax.set_yscale("log")
    ax.set_xticks(shares)
    ax.set_xticklabels([f"{s}%" for s in shares])
    ax.set_xlabel("share of CheckVisitor's max rate")
    ax.set_title("CheckVisitor, fixed rate")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"Gatehouse RPC latency ({now:%Y-%m-%d}, {meta['cpus']} cores, ghz on the same machine)")
    fig.tight_layout()

    os.makedirs(results, exist_ok=True)
    stamp = f"{now:%Y-%m-%d-%H%M}"
    fig.savefig(os.path.join(results, "latest.png"), dpi=100)
    with open(os.path.join(results, "latest.md"), "w") as out:
        out.write("\n".join(lines))
    shutil.copy(os.path.join(results, "latest.png"), os.path.join(results, f"{stamp}.png"))
    with open(os.path.join(results, f"{stamp}.md"), "w") as out:
        out.write("\n".join(lines).replace("(latest.png)", f"({stamp}.png)"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
