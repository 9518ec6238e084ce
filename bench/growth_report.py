#!/usr/bin/env python3
"""Renders bench/results/growth-*.json into docs/BENCHMARKS.md (between the `growth` markers)
and docs/bench-growth.svg (each request's throughput at each size, as a share of its figure at
the smallest size). Standard library only; bench/growth.py runs it after a full run.

Usage: python3 bench/growth_report.py
"""

import json
import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
SVG = ROOT / "docs" / "bench-growth.svg"
BEGIN, END = "<!-- growth:begin (bench/growth_report.py writes this part) -->", "<!-- growth:end -->"

THROUGHPUT = {"user": "GET /user", "login": "login", "signup": "sign-up", "refresh": "refresh"}
LATENCY = {
    "search": "admin search, rare term",
    "search_deep": "admin search, deep page",
    "status": "status filter, first page",
    "status_deep": "status filter, deep page",
    "events": "audit trail of one account",
}
COLOURS = {"user": "#1f77b4", "login": "#d62728", "signup": "#2ca02c", "refresh": "#ff7f0e"}


def throughput(row, name):
    return row["ok_per_s"] if name in ("login", "signup") else row["req_per_s"]


def sweep_p99(purge):
    """GET /user p99 during the server's own sweep; None in a run from before the harness
    measured it (it measured `gatehouse purge` only)."""
    return purge["p99_ms"] if "swept_all" in purge else None


def by_hand_p99(purge):
    return purge["by_hand_p99_ms"] if "swept_all" in purge else purge["p99_ms"]


def fixed(value):
    return "—" if value is None else f"{value:.1f}"


def size_label(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)


def section(results):
    sizes = results["sizes"]
    o, m = results["options"], results["machine"]
    heads = " | ".join(size_label(s["size"]) for s in sizes)
    rule = "|".join("---:" for _ in sizes)
    lines = [
        f"### {results['backend']} — {results['when']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB; load generator on the same machine. "
        f"{o['rounds']} round{'' if o['rounds'] == 1 else 's'} of {o['duration_s']} s per figure (the median); start-up is the median of {o['starts']}.",
        "",
        f"| at this many accounts | {heads} |",
        f"|---|{rule}|",
    ]

    def line(label, values):
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    for name, label in THROUGHPUT.items():
        first = throughput(sizes[0]["requests"][name], name)
        line(f"{label}, c=64: req/s (% of {size_label(sizes[0]['size'])}) · p99 ms",
             [f"{throughput(s['requests'][name], name):,.0f} ({100 * throughput(s['requests'][name], name) / first:.0f} %)"
              f" · {s['requests'][name]['p99_ms']:.1f}" for s in sizes])
    for name, label in LATENCY.items():
        line(f"{label}, c=4: p50 · p99 ms",
             [f"{s['requests'][name]['p50_ms']:.1f} · {s['requests'][name]['p99_ms']:.1f}" for s in sizes])
    line("start-up to ready, ms", [f"{s['startup_ms']:.0f}" for s in sizes])
    line("idle RSS · peak RSS, MiB", [f"{s['idle_rss_mib']:.1f} · {s['peak_rss_mib']:.1f}" for s in sizes])
    line("database on disk, MiB", [f"{s['database_mib']:,.0f}" for s in sizes])
    line("expired rows awaiting the purge (sessions and spent links; their refresh tokens go with them)",
         [f"{sum(s['purge']['seeded'].values()):,}" for s in sizes])
    line("GET /user p99 ms during the server's sweep · without", [
        f"{fixed(sweep_p99(s['purge']))} · {s['purge']['without_p99_ms']:.1f}" for s in sizes])
    line("`gatehouse purge` by hand (full speed): seconds · GET /user p99 ms during it",
         [f"{s['purge']['seconds']:.1f} · {fixed(by_hand_p99(s['purge']))}" for s in sizes])
    line("seeding: accounts · history, s",
         [f"{s['seed_accounts_s']:.0f} · {s['history']['seconds']:.0f}" for s in sizes])
    return "\n".join(lines)


def svg(all_results):
    width, height, left, right, top, bottom = 720, 340, 60, 170, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    sizes = sorted({s["size"] for r in all_results for s in r["sizes"]})
    low, high = sizes[0], sizes[-1]

    def x(n):
        return left + plot_w * (0.5 if high == low else (math.log10(n) - math.log10(low)) / (math.log10(high) - math.log10(low)))

    def y(percent):
        return top + plot_h * (1 - (min(max(percent, 50), 110) - 50) / 60)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14">Throughput at each size, as a share of the figure at '
           f'{size_label(low)} accounts</text>']
    for percent in range(50, 111, 10):
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(percent):.1f}" y2="{y(percent):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y(percent) + 4:.1f}" text-anchor="end">{percent} %</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(90):.1f}" y2="{y(90):.1f}" stroke="#999" stroke-dasharray="2,3"/>')
    for n in sizes:
        out.append(f'<text x="{x(n):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{size_label(n)}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">accounts (log scale)</text>')
    legend_y = top + 10
    for dashes, results in zip(("", "6,4"), all_results):
        for name, label in THROUGHPUT.items():
            first = throughput(results["sizes"][0]["requests"][name], name)
            points = " ".join(f"{x(s['size']):.1f},{y(100 * throughput(s['requests'][name], name) / first):.1f}"
                              for s in results["sizes"])
            dash = f' stroke-dasharray="{dashes}"' if dashes else ""
            out.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[name]}" stroke-width="2"{dash}/>')
            out.append(f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 36}" y1="{legend_y}" y2="{legend_y}" '
                       f'stroke="{COLOURS[name]}" stroke-width="2"{dash}/>')
            out.append(f'<text x="{left + plot_w + 42}" y="{legend_y + 4}">{label}, {results["backend"]}</text>')
            legend_y += 18
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    found = [json.loads(p.read_text()) for p in sorted((ROOT / "bench" / "results").glob("growth-*.json"))]
    found.sort(key=lambda r: r["backend"] != "sqlite")
    text = DOC.read_text()
    body = "\n\n".join(section(r) for r in found)
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no growth markers")
    DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{body}\n{END}", text))
    SVG.write_text(svg(found))
    print(f"wrote {DOC} and {SVG}")


if __name__ == "__main__":
    main()
