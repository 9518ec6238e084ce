#!/usr/bin/env python3
"""The growth benchmark, started by `bench/run.sh --growth`: what each request costs as the user
base grows.

For each size (1k, 100k and 1M active accounts by default), on a fresh database: seeds the
accounts and the history a service of that size has behind it (bench/tools/seed.rs and
bench/tools/seed_history.rs, bulk inserts through the store: as many live sessions as accounts,
ten audit events per account, a few thousand accounts with second factors and with social
identities, twenty client apps); measures start-up to ready and idle RSS; then, against the
release binary, token-checked GET /user, login, sign-up and refresh at c=64, the admin's account
list (a search term and a status filter, first page and a deep cursor page) and the audit
trail filtered by account at c=4, peak RSS, the database's size on disk; finally seeds as many
expired sessions (each with two refresh tokens) and spent links as accounts, and measures GET
/user second by second without a purge, while the server's own sweep works through them (at
its background pace; the server is restarted, since it sweeps at its start), and while
`gatehouse purge`, run by hand at full speed, removes the rest.

Writes bench/results/growth-<backend>.json, the growth section of docs/BENCHMARKS.md and
docs/bench-growth.svg (with --smoke: nothing), and prints as its last line
`growth <backend>: token_get=…% login=…% signup=…% search_p99_ms=… events_p99_ms=… startup_ms=…
peak_rss_mib=… purge_p99_ms=… without_p99_ms=…` (percentages: the largest size's figure over the
smallest's; the last two: GET /user during the server's sweep and without it, at the largest size).
Standard library only.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402  (the shared harness: server, wrk, backends)

ADMIN_EMAIL = "growthadmin@example.com"
ADMIN_PASSWORD = "growth admin passphrase"
CLIENTS = 20
# The accounts with second factors and identities, apart from those logged in with a password.
EXTRA_PREFIX = "growthextra"
# Sessions logged in through the API for the measured requests (the seeded ones have no token).
TOKENS = 128


def history(size, redis):
    """What seed_history writes for `size` accounts: (live sessions, expired sessions, spent links,
    audit events, second factors, identities, client apps)."""
    few = min(3000, max(10, size // 100))
    return {"live_sessions": size, "audit_events": 10 * size, "second_factors": few, "identities": few,
            "clients": CLIENTS, "expired_sessions": 0 if redis else size, "spent_links": size}


def seed_history(bench, plan, redis):
    args = [*bench.seed_history_command, bench.database_url, plan["live_sessions"], plan["expired_sessions"], plan["spent_links"],
            plan["audit_events"], plan["second_factors"], plan["identities"], plan["clients"]]
    if redis:
        args += [bench.extra_env["GATEHOUSE_REDIS_URL"], bench.extra_env["GATEHOUSE_REDIS_PREFIX"]]
    started = time.perf_counter()
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"seed_history failed: {done.stderr}{done.stdout}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["seconds"] = time.perf_counter() - started
    return report


def seed_accounts(bench, size, extra):
    """`size` accounts to log in with, then `extra` more (bench/lua/login.lua picks among the
    first ones) that get the second factors and identities."""
    started = time.perf_counter()
    for count, prefix in ((size, B.PREFIX), (extra, EXTRA_PREFIX)):
        done = subprocess.run([*bench.seed_command, bench.database_url, str(count), prefix, B.PASSWORD],
                              capture_output=True, text=True, check=True)
        B.log("seeded", done.stdout.strip())
    return time.perf_counter() - started


def settle(bench):
    """Brings a freshly seeded PostgreSQL database to the state a long-running one is in: the
    seeded rows vacuumed and analysed. Otherwise the server's autovacuum of millions of rows
    inserted a moment ago runs in the middle of the measurements, on the same two cores, and
    what they show is that. SQLite has no such background work. Returns the seconds it took."""
    if bench.backend == "sqlite":
        return 0.0
    started = time.perf_counter()
    subprocess.run(["psql", bench.database_url, "-qc", "VACUUM (ANALYZE)"], check=True)
    return time.perf_counter() - started


def database_bytes(bench):
    if bench.backend == "sqlite":
        path = Path(bench.database_url.split("://", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    done = subprocess.run(["psql", bench.database_url, "-tAc", "SELECT pg_database_size(current_database())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def get_json(server, path, token):
    status, body = B.http("GET", server.url + path, token=token)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    return body


def measure(server, path, token_file, concurrency, seconds):
    """wrk on GET `path` with the tokens of `token_file`: the summary row (req/s, p50, p99)."""
    result = B.run_wrk(B.wrk_command(server.url + path, "get_token.lua", concurrency, seconds,
                                     [token_file, min(concurrency, 2)]))
    row = B.summarize(result, None, 0)
    if row["errors"]:
        raise RuntimeError(f"GET {path}: {row['errors']} errors ({row.get('statuses')})")
    return {k: row[k] for k in ("req_per_s", "p50_ms", "p99_ms")}


def windows(server, token_file, while_running=None, count=None):
    """GET /user at c=16 in one-second windows, while `while_running` (a process) runs or for
    `count` windows: each window's p99 in ms."""
    found = []
    while (while_running is not None and while_running.poll() is None) or (count is not None and len(found) < count):
        found.append(measure(server, "/user", token_file, 16, 1)["p99_ms"])
    return found


# One-second windows of GET /user measured while the server's sweep runs (at a million accounts
# it goes on for an hour: these are its first seconds).
SWEEP_WINDOWS = 20
# Requests that warm a restarted server before GET /user is measured.
WARM_UP_REQUESTS = 50
# What the server logs (at info) when its sweep has removed every expired row.
SWEPT = "expired sessions and links removed"


def restart(server, token_file):
    """Restarts the server with its sweep's log lines on and warms it with a few requests, so
    that what is measured next starts from the same state each time."""
    server.stop()
    server.env["GATEHOUSE_LOG"] = "warn,gatehouse::app::housekeeping=info"
    server.start(ready_within=120)
    token = Path(token_file).read_text().split()[0]
    for _ in range(WARM_UP_REQUESTS):
        B.http("GET", server.url + "/user", token=token)


def purge(bench, server, token_file, plan, redis):
    """Seeds what the purge removes (the server is running, as in production), then measures
    GET /user second by second: without a purge; while the server's own sweep works through it,
    until the sweep is done or for SWEEP_WINDOWS; and while `gatehouse purge` removes the rest at
    full speed. The server sweeps at its start, so it is restarted for the sweep, and, so that
    the two are measured alike, before the backlog is seeded too (its sweep then finds nothing,
    and the next is ten minutes away)."""
    restart(server, token_file)
    time.sleep(2)
    quiet_from = server.log_size()
    seeded = seed_history(bench, {**plan, "live_sessions": 0, "audit_events": 0, "second_factors": 0,
                                  "identities": 0, "clients": 0}, redis)
    B.log(f"  seeded for the purge in {seeded['seconds']:.1f} s: {seeded}; vacuumed in {settle(bench):.1f} s")
    without = windows(server, token_file, count=SWEEP_WINDOWS)
    if "removed" in server.log_path.read_text()[quiet_from:]:
        raise RuntimeError(f"the server swept while GET /user was measured without a sweep; see {server.log_path}")
    B.log(f"  GET /user p99 ms without a sweep: {without}")

    restart(server, token_file)
    started = time.perf_counter()
    sweep = []
    while len(sweep) < SWEEP_WINDOWS and SWEPT not in server.log_path.read_text():
        sweep.append(measure(server, "/user", token_file, 16, 1)["p99_ms"])
    swept_all = SWEPT in server.log_path.read_text()
    if not sweep:
        raise RuntimeError("the server's sweep was over before GET /user could be measured")
    B.log(f"  the server's sweep: {len(sweep)} windows in {time.perf_counter() - started:.1f} s"
          f"{', then done' if swept_all else ', still going'}; GET /user p99 ms: {sweep}")

    started = time.perf_counter()
    process = subprocess.Popen([bench.binary, "purge"], env=server.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    by_hand = windows(server, token_file, while_running=process)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"gatehouse purge failed: {err}{out}")
    B.log(f"  {out.strip()}; GET /user p99 ms: {by_hand}")
    return {"p99_ms": max(sweep), "windows": sweep, "swept_all": swept_all,
            "without_p99_ms": max(without), "without_windows": without,
            "seconds": seconds, "printed": out.strip(), "by_hand_p99_ms": max(by_hand, default=None),
            "by_hand_windows": by_hand, "seeded": {k: seeded[k] for k in ("expired_sessions", "spent_links")}}


def one_size(options, size, workdir):
    """Everything measured at one size, on a fresh database."""
    workdir = workdir / str(size)
    workdir.mkdir()
    bench = B.Bench(types.SimpleNamespace(accounts=size), workdir)
    redis = bench.backend == "postgres+redis"
    server = None
    figures = {"size": size}
    try:
        B.log(f"{bench.backend}: {size:,} accounts")
        plan = history(size, redis)
        figures["seed_accounts_s"] = seed_accounts(bench, size, max(plan["second_factors"], plan["identities"]))
        figures["history"] = seed_history(bench, {**plan, "expired_sessions": 0, "spent_links": 0}, redis)
        B.log(f"  seeded the history in {figures['history']['seconds']:.1f} s: {figures['history']}")
        figures["vacuum_s"] = settle(bench)
        B.log(f"  vacuumed and analysed in {figures['vacuum_s']:.1f} s")
        starts = []
        for _ in range(options.starts):
            server = B.Server(bench.binary, bench.database_url, workdir, bench.extra_env)
            try:
                starts.append(server.start(ready_within=120) * 1000)
            finally:
                server.stop()
        figures["startup_ms"] = statistics.median(starts)
        # The bootstrap admin (its password is hashed at each start, so not in the starts above).
        env = dict(bench.extra_env or {}, GATEHOUSE_ADMIN_EMAIL=ADMIN_EMAIL, GATEHOUSE_ADMIN_PASSWORD=ADMIN_PASSWORD)
        server = B.Server(bench.binary, bench.database_url, workdir, env)
        server.start(ready_within=120)
        time.sleep(1)
        figures["idle_rss_mib"] = server.memory_kib()[0] / 1024
        server.reset_peak()

        pairs = bench.log_in_many(server, TOKENS)
        bench.tokens_file.write_text("\n".join(a for a, _ in pairs) + "\n")
        bench.refresh_file.write_text("\n".join(r for _, r in pairs) + "\n")
        status, body = B.http("POST", server.url + "/auth", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        if status != 200:
            raise RuntimeError(f"the admin could not log in: {status}")
        admin_token = workdir / "admin-token.txt"
        admin_token.write_text((body["access_token"] + "\n") * 2)  # one line for each wrk thread

        # Deep pages start at the account in the middle; the rare term matches one or a few.
        middle = f"{B.PREFIX}{max(1, size // 2)}"
        found = get_json(server, f"/admin/users?q={middle}%40&limit=1", body["access_token"])["users"]
        if len(found) != 1:
            raise RuntimeError(f"the search for {middle}@ found {len(found)} accounts")
        middle_id = found[0]["id"]
        rare = f"{B.PREFIX}{max(1, size * 7 // 10)}"

        rows = {}
        for _ in range(options.rounds):
            for name in ("user", "login", "signup", "refresh"):
                row = bench.scenario(server, name, 64, options.duration, None)
                if name in ("login", "signup"):
                    # A full hashing queue answers 503 at once, by design: ok/s is the figure.
                    row["errors"] -= row["statuses"].get("503", 0)
                if row["errors"]:
                    raise RuntimeError(f"{name}: {row['errors']} errors ({row.get('statuses')})")
                rows.setdefault(name, []).append({k: row[k] for k in ("req_per_s", "ok_per_s", "p50_ms", "p99_ms")})
                time.sleep(0.5)
            admin = {
                "search": f"/admin/users?q={rare}&limit=50",
                "search_deep": f"/admin/users?q=example.com&limit=50&cursor={middle_id}",
                "status": "/admin/users?status=active&limit=50",
                "status_deep": f"/admin/users?status=active&limit=50&cursor={middle_id}",
                "events": f"/admin/events?account={middle_id}&limit=50",
            }
            for name, path in admin.items():
                rows.setdefault(name, []).append(measure(server, path, admin_token, 4, options.duration))
        figures["requests"] = {name: B.median_rows(found) for name, found in rows.items()}
        figures["peak_rss_mib"] = server.memory_kib()[1] / 1024
        figures["database_mib"] = database_bytes(bench) / 2**20
        figures["purge"] = purge(bench, server, bench.tokens_file, plan, redis)
        for name, row in figures["requests"].items():
            B.log(f"  {name:12} {row['req_per_s']:9.1f} req/s  p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms")
        B.log(f"  start-up {figures['startup_ms']:.1f} ms, idle {figures['idle_rss_mib']:.1f} MiB, peak "
              f"{figures['peak_rss_mib']:.1f} MiB, database {figures['database_mib']:.0f} MiB; GET /user p99 "
              f"{figures['purge']['p99_ms']:.2f} ms during the server's sweep (without: "
              f"{figures['purge']['without_p99_ms']:.2f} ms); `gatehouse purge` of the rest "
              f"{figures['purge']['seconds']:.1f} s")
        return figures
    finally:
        if server:
            server.stop()
        bench.close()


def summary_line(backend, sizes):
    first, last = sizes[0], sizes[-1]

    def ratio(name):
        key = "ok_per_s" if name in ("login", "signup") else "req_per_s"
        return 100 * last["requests"][name][key] / first["requests"][name][key]

    search_p99 = max(last["requests"][n]["p99_ms"] for n in ("search", "search_deep", "status", "status_deep"))
    return (f"growth {backend}: token_get={ratio('user'):.0f}% login={ratio('login'):.0f}% "
            f"signup={ratio('signup'):.0f}% search_p99_ms={search_p99:.1f} "
            f"events_p99_ms={last['requests']['events']['p99_ms']:.1f} startup_ms={last['startup_ms']:.0f} "
            f"peak_rss_mib={last['peak_rss_mib']:.1f} purge_p99_ms={last['purge']['p99_ms']:.1f} "
            f"without_p99_ms={last['purge']['without_p99_ms']:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="account counts, smallest first")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--starts", type=int, default=5, help="starts timed at each size")
    parser.add_argument("--smoke", action="store_true",
                        help="1k and 2k accounts, one round of 1-second runs: checks that the harness works "
                             "(every figure present, no errors), asserts no target, writes nothing")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the results, docs or plot")
    options = parser.parse_args()
    if options.smoke:
        options.sizes, options.rounds, options.duration, options.starts, options.no_docs = "1000,2000", 1, 1, 1, True
    sizes = [int(s) for s in options.sizes.split(",")]
    if sizes != sorted(sizes) or len(sizes) < 2:
        parser.error("--sizes: two or more, smallest first")

    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-growth-"))
    try:
        found = [one_size(options, size, workdir) for size in sizes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    backend = found_backend()
    results = {"when": time.strftime("%Y-%m-%d %H:%M:%S %z"), "backend": backend, "machine": B.machine(),
               "options": {"rounds": options.rounds, "duration_s": options.duration, "starts": options.starts},
               "sizes": found}
    line = summary_line(backend, found)
    if not options.no_docs:
        name = f"growth-{backend.replace('+', '-')}.json"
        (B.ROOT / "bench" / "results" / name).write_text(json.dumps(results, indent=1) + "\n")
        subprocess.run([sys.executable, str(B.ROOT / "bench" / "growth_report.py")], check=True)
    print(line)
    return 0


def found_backend():
    if not os.environ.get("GATEHOUSE_BENCH_POSTGRES_URL"):
        return "sqlite"
    return "postgres+redis" if os.environ.get("GATEHOUSE_BENCH_REDIS_URL") else "postgres"


if __name__ == "__main__":
    sys.exit(main())
