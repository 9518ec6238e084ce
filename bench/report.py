#!/usr/bin/env python3
"""Renders bench/results/latest*.json into docs/BENCHMARKS.md (between the `results` markers)
and docs/bench-throughput.svg (throughput and p99 against concurrency). Standard library only.

Usage: python3 bench/report.py
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
SVG = ROOT / "docs" / "bench-throughput.svg"
BEGIN, END = "<!-- results:begin (bench/report.py writes this part) -->", "<!-- results:end -->"

LABELS = {
    "healthz": "GET /healthz",
    "user": "GET /user",
    "protected": "GET /protected",
    "forward": "GET /auth/forward (forward-auth)",
    "login": "POST /auth (login)",
    "login_totp": "login with an authenticator app (2 requests)",
    "signup": "POST /user (sign-up)",
    "refresh": "POST /auth/refresh",
    "mixed": "GET /user during login flood",
}
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, float) and value >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def section(results):
    m, hb = results["machine"], results["hash_bound"]
    o = results["options"]
    lines = [
        f"### {results['backend']} — {results['when']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
        f"load generator {m['load_generator']} on the same machine, loopback. "
        f"{o['rounds']} interleaved rounds of {o['duration_s']} s per run; every figure is the median of the rounds.",
        "",
        f"Bare Argon2id bound (bench/tools/hash_bound.rs, {hb['threads']} threads, one work area each): "
        f"**{hb['per_second']:.1f} verifies/s**, {hb['cpu_ms_per_verify']:.1f} ms of CPU per verify. "
        f"Start-up to ready: **{results['startup_ms']['median']:.0f} ms** (median of {len(results['startup_ms']['all'])}). "
        f"Idle RSS after start: **{results['memory']['idle_rss_mib']:.1f} MiB**; "
        f"after the run: {results['memory']['rss_after_run_mib']:.1f} MiB.",
        "",
        "| scenario | c | req/s | ok/s | p50 ms | p99 ms | p99.9 ms | errors | CPU µs/req | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by_c in results["median"].items():
        for c, row in sorted(by_c.items(), key=lambda kv: int(kv[0])):
            statuses = row.get("statuses") or {}
            errors = fmt(row["errors"], 0)
            non_ok = {s: n for s, n in statuses.items() if not s.startswith("2") and n}
            if non_ok:
                errors += " (" + ", ".join(f"{n:.0f}×{s}" for s, n in sorted(non_ok.items())) + ")"
            lines.append(
                f"| {LABELS[name]} | {c} | {fmt(row['req_per_s'])} | {fmt(row['ok_per_s'])} | {fmt(row['p50_ms'], 2)} | "
                f"{fmt(row['p99_ms'], 2)} | {fmt(row['p999_ms'], 2)} | {errors} | {fmt(row['cpu_us_per_req'], 0)} | "
                f"{fmt(row['peak_rss_mib'])} |")
    floods = [(c, row["flood"]) for c, row in (results["median"].get("mixed") or {}).items() if row.get("flood")]
    if floods:
        lines += ["", "The login flood behind the mixed scenario (median of the rounds):", "",
                  "| GET /user c | flood offered/s | × bound | logins ok/s | answered 503 | refusals p50 ms | "
                  "refusals p99 ms | all answers p50 ms | all answers p99 ms |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for c, f in sorted(floods, key=lambda cf: int(cf[0])):
            lines.append(f"| {c} | {fmt(f['offered_per_s'])} | {f['offered_x_bound']:.1f} | {fmt(f['ok_per_s'])} | "
                         f"{f['rejected_503']:.0f} | {fmt(f.get('refused_p50_ms'))} | {fmt(f.get('refused_p99_ms'))} | "
                         f"{fmt(f['p50_ms'])} | {fmt(f['p99_ms'])} |")
    lines += ["", "| target | measured | needed | | note |", "|---|---:|---|---|---|"]
    for t in results["targets"]:
        ratio = "%" in t["need"] or (t["pass"] is None and "ms" not in t["need"])
        value = "–" if t["value"] is None else f"{t['value']:.0%}" if ratio else f"{t['value']:.3g}"
        verdict = "info" if t["pass"] is None else f"**{'PASS' if t['pass'] else 'MISS'}**"
        lines.append(f"| {t['target']} | {value} | {t['need']} | {verdict} | {t['note']} |")
    return "\n".join(lines)


def svg(results):
    """Two panels: throughput (log scale) and p99 latency (log scale) against concurrency."""
    median = results["median"]
    names = [n for n in LABELS if n in median]
    concurrencies = sorted({int(c) for by_c in median.values() for c in by_c})
    width, height, pad = 980, 420, 60
    panel_w = (width - 3 * pad) / 2
    import math

    def series(key):
        return {n: [(c, median[n].get(str(c), {}).get(key)) for c in concurrencies] for n in names}

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 120}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">gatehouse, {results["backend"]}: '
           f'{results["machine"]["nproc"]} cores, wrk on the same machine, median of {results["options"]["rounds"]} '
           f'rounds ({results["when"][:10]})</text>']
    for panel, (key, title) in enumerate([("ok_per_s", "successful requests/s (log)"), ("p99_ms", "p99 latency, ms (log)")]):
        data = series(key)
        values = [v for pts in data.values() for _, v in pts if v]
        lo, hi = math.log10(max(min(values), 0.01)), math.log10(max(values))
        lo, hi = math.floor(lo), math.ceil(hi) if hi > lo else lo + 1
        x0, y0 = pad + panel * (panel_w + pad), 50
        plot_h = height - 90

        def px(i):
            return x0 + (i + 0.5) * panel_w / len(concurrencies)

        def py(v):
            return y0 + plot_h - (math.log10(max(v, 10 ** lo)) - lo) / (hi - lo) * plot_h

        out.append(f'<text x="{x0 + panel_w / 2}" y="{y0 - 8}" text-anchor="middle">{title}</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{panel_w}" height="{plot_h}" fill="none" stroke="#888"/>')
        for e in range(lo, hi + 1):
            y = py(10 ** e)
            out.append(f'<line x1="{x0}" x2="{x0 + panel_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
        for i, c in enumerate(concurrencies):
            out.append(f'<text x="{px(i):.1f}" y="{y0 + plot_h + 16}" text-anchor="middle">c={c}</text>')
        for n, colour in zip(names, COLOURS):
            points = [(px(i), py(v)) for i, (_, v) in enumerate(data[n]) if v]
            if points:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
                out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
    for i, (n, colour) in enumerate(zip(names, COLOURS)):
        x, y = pad + (i % 4) * 230, height + 20 + (i // 4) * 22
        out.append(f'<rect x="{x}" y="{y - 10}" width="14" height="4" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="{y - 4}">{LABELS[n]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    found = sorted((ROOT / "bench" / "results").glob("latest*.json"))
    if not found:
        raise SystemExit("no bench/results/latest*.json: run bench/run.sh first")
    everything = [json.loads(p.read_text()) for p in found]
    body = "\n\n".join(section(r) for r in everything)
    doc = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n\n{body}\n\n{END}", doc, flags=re.S)
    DOC.write_text(doc)
    sqlite = next((r for r in everything if r["backend"] == "sqlite"), everything[0])
    SVG.write_text(svg(sqlite))
    print(f"wrote {DOC.relative_to(ROOT)} and {SVG.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
