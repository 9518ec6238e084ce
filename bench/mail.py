#!/usr/bin/env python3
"""The mail benchmark (`bench/run.sh --mail`): how fast gatehouse delivers what it queues, against
local receivers (bench/sink.py), on SQLite and, with GATEHOUSE_BENCH_POSTGRES_URL and
GATEHOUSE_BENCH_REDIS_URL, on PostgreSQL + Redis. Five measurements per backend, each on a fresh
database with the release binary at its defaults (rate limits off, as every bench run has them):

  drain     10,000 emails queued before the server starts, a sink answering at once:
            emails per second from ready to the last one received
  unpipelined  the drain again, against a sink whose EHLO does not offer PIPELINING (each
            command then waits for its answer): what pipelining is worth (no target)
  slow      1,000 emails, a sink that answers each message after 100 ms: emails per second
            between the first and the last received
  burst     16 clients signing up as fast as the server accepts for 60 s: the p99 of the time
            from each 201 to its confirmation email in the sink
  webhooks  10,000 deliveries (1,000 accounts x 10 events) to one endpoint, a receiver
            answering 204 at once: deliveries per second between the first and the last
            received, and whether each account's events arrived in the order written

Queued emails and deliveries are written straight into the database (the `jobs` table, or the
`outbox` and `webhook_deliveries` tables of a binary from before the job queue, so that the
same run measures both), as the transactions of sign-ups and changes would have written them.

It prints one line per backend, which docs/BENCHMARKS.md keeps whole:
    mail <backend>: drain_per_s=… unpipelined_per_s=… slow_per_s=… burst_p99_s=… webhooks_per_s=…

    python3 bench/mail.py [--smoke] [--only drain,unpipelined,slow,burst,webhooks] [--drain N]

--smoke: 500 emails (each drain), 100 slow ones, a 5-second burst, 500 deliveries; checks the harness (every
figure there, every email and delivery arrived, order kept), asserts no target.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402  (the server, HTTP and port helpers)

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password-9f3k2"
ADMIN = ("admin@bench.example", "bench admin password 7c1d9e")
TARGETS = {"drain_per_s": 1000.0, "slow_per_s": 60.0, "burst_p99_s": 2.0, "webhooks_per_s": 1000.0}


def log(*parts):
    print("mail:", *parts, file=sys.stderr, flush=True)


def stamp(at):
    """A time as gatehouse's SQLite columns hold it (nanoseconds, an offset)."""
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond:06d}000+00:00"


def uuid_at(ms, counter):
    """A UUIDv7-shaped id: `ms` then a counter, so that ids sort in the order they were made."""
    ms, counter = ms + counter // 4096, counter % 4096
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0x8 << 60
    return str(uuid.UUID(int=value))


class Sink:
    """bench/sink.py in a process of its own; its record file says what arrived when."""

    def __init__(self, kind, workdir, delay_ms=0, pipelining=True):
        self.port = B.free_port()
        self.path = Path(workdir) / f"sink-{kind}-{self.port}.txt"
        self.path.write_text("")
        command = [sys.executable, str(HERE / "sink.py"), kind, str(self.port), str(self.path)]
        if delay_ms:
            command += ["--delay-ms", str(delay_ms)]
        if not pipelining:
            command.append("--no-pipelining")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert "listening" in self.process.stdout.readline(), "the sink did not start"

    def arrivals(self):
        """[(ms, key, value)] in the order received."""
        rows = []
        for line in self.path.read_text().splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3:
                rows.append((int(parts[0]), parts[1], parts[2]))
        return rows

    def count(self):
        with open(self.path, "rb") as f:
            return sum(1 for _ in f)

    def wait_for(self, count, within):
        deadline = time.time() + within
        while time.time() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class Backend:
    """A fresh database for each measurement: a SQLite file, or a PostgreSQL database (with a
    Redis key prefix of its own)."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.postgres = os.environ.get("GATEHOUSE_BENCH_POSTGRES_URL")
        self.redis = os.environ.get("GATEHOUSE_BENCH_REDIS_URL")
        self.name = "postgres+redis" if self.postgres and self.redis else ("postgres" if self.postgres else "sqlite")
        self.cleanup = []
        self.n = 0

    def fresh(self):
        """(database URL, extra server environment, a function running SQL)."""
        self.n += 1
        if not self.postgres:
            path = self.workdir / f"mail-{self.n}.db"
            return f"sqlite://{path}", {}, lambda sql, rows=(): sqlite_run(path, sql, rows)
        name = f"gatehouse_mail_{os.getpid()}_{self.n}"
        subprocess.run(["psql", self.postgres, "-qc", f"CREATE DATABASE {name}"], check=True)
        self.cleanup.append(["psql", self.postgres, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
        url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", self.postgres, count=1)
        extra = {}
        if self.redis:
            prefix = f"gatehouse-mail-{os.getpid()}-{self.n}:"
            extra = {"GATEHOUSE_REDIS_URL": self.redis, "GATEHOUSE_REDIS_PREFIX": prefix}
            self.cleanup.append(["sh", "-c", f"redis-cli -u '{self.redis}' --scan --pattern '{prefix}*' "
                                             f"| xargs -r redis-cli -u '{self.redis}' del >/dev/null"])
        return url, extra, lambda sql, rows=(): postgres_run(url, sql, rows)

    def close(self):
        for command in self.cleanup:
            subprocess.run(command, check=False, capture_output=True)


def sqlite_run(path, sql, rows=()):
    with sqlite3.connect(path, timeout=30) as db:
        if rows:
            db.executemany(sql, rows)
            return []
        return db.execute(sql).fetchall()


def postgres_run(url, sql, rows=()):
    """Runs SQL with psql; with rows, `sql` is an INSERT whose VALUES are given as batches of
    literals."""
    def literal(value):
        if value is None:
            return "NULL"
        if isinstance(value, int):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"
    if rows:
        head, _, tail = sql.partition("VALUES")
        for start in range(0, len(rows), 1000):
            values = ",".join("(" + ",".join(literal(v) for v in row) + ")" for row in rows[start:start + 1000])
            subprocess.run(["psql", url, "-qv", "ON_ERROR_STOP=1"], input=f"{head} VALUES {values};",
                           check=True, capture_output=True, text=True)
        return []
    out = subprocess.run(["psql", url, "-qAt", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True)
    return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]


def migrate(binary, url, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(extra, GATEHOUSE_DATABASE_URL=url)
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)


def has_jobs(run):
    try:
        run("SELECT COUNT(*) FROM jobs")
        return True
    except (sqlite3.Error, subprocess.CalledProcessError):
        return False


def queue_emails(run, count, is_postgres):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    ms = int(now.timestamp() * 1000)
    at = now.isoformat() if is_postgres else stamp(now)
    jobs = has_jobs(run)
    rows = []
    for n in range(count):
        id_ = uuid_at(ms, n)
        to = f"bench{n}@mail{n % 50}.example"
        text = f"Confirm: https://app.example/activate?token=bench{n}"
        if jobs:
            rows.append((id_, "email", f"email {to}", "activation", to, json.dumps({"subject": "Confirm", "message_id": f"<{id_}@bench>"}),
                         json.dumps({"text": text, "html": f"<p>{text}</p>"}), "queued", 0, at, at))
        else:
            rows.append((id_, "activation", to, "Confirm", text, f"<p>{text}</p>", f"<{id_}@bench>", "queued", 0, at, at))
    if jobs:
        sql = ("INSERT INTO jobs (id, kind, lane, topic, target, payload, body, status, attempts, next_attempt_at, created_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    else:
        sql = ("INSERT INTO outbox (id, kind, recipient, subject, body_text, body_html, message_id, status, attempts, "
               "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    run(sql, rows)


def server(binary, url, extra, workdir, smtp_port=None, more=None):
    env = dict(extra)
    if smtp_port:
        env["GATEHOUSE_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    env.update(more or {})
    return B.Server(binary, url, workdir, env)


def measure_drain(binary, backend, count, pipelining=True):
    url, extra, run = backend.fresh()
    sink = Sink("smtp", backend.workdir, pipelining=pipelining)
    gatehouse = server(binary, url, extra, backend.workdir, sink.port)
    try:
        migrate(binary, url, extra)
        queue_emails(run, count, backend.postgres is not None)
        gatehouse.start()
        ready = time.time()
        assert sink.wait_for(count, 600), f"drain: {sink.count()} of {count} emails arrived"
        last = max(ms for ms, _, _ in sink.arrivals()) / 1000
        per_s = count / max(last - ready, 1e-3)
        offered = "" if pipelining else " (a server without PIPELINING)"
        log(f"drain{offered}: {count} emails in {last - ready:.2f} s after ready: {per_s:,.0f}/s")
        return per_s
    finally:
        gatehouse.stop()
        sink.stop()


def measure_slow(binary, backend, count):
    url, extra, run = backend.fresh()
    sink = Sink("smtp", backend.workdir, delay_ms=100)
    gatehouse = server(binary, url, extra, backend.workdir, sink.port)
    try:
        migrate(binary, url, extra)
        queue_emails(run, count, backend.postgres is not None)
        gatehouse.start()
        assert sink.wait_for(count, 600), f"slow: {sink.count()} of {count} emails arrived"
        times = sorted(ms for ms, _, _ in sink.arrivals())
        per_s = (len(times) - 1) / max((times[-1] - times[0]) / 1000, 1e-3)
        log(f"slow: {count} emails at 100 ms each: {per_s:,.1f}/s")
        return per_s
    finally:
        gatehouse.stop()
        sink.stop()


def measure_burst(binary, backend, seconds, clients=16):
    url, extra, _ = backend.fresh()
    sink = Sink("smtp", backend.workdir)
    gatehouse = server(binary, url, extra, backend.workdir, sink.port)
    acknowledged = {}
    lock = threading.Lock()
    try:
        gatehouse.start()
        stop_at = time.time() + seconds

        def client(c):
            n = 0
            while time.time() < stop_at:
                email = f"burst{c}x{n}@mail{n % 7}.example"
                n += 1
                status, _ = B.http("POST", gatehouse.url + "/user", {"email": email, "password": PASSWORD}, timeout=60)
                if status == 201:
                    at = time.time()
                    with lock:
                        acknowledged[email] = at

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        signed_up = len(acknowledged)
        assert sink.wait_for(signed_up, 300), f"burst: {sink.count()} of {signed_up} emails arrived"
        delays = []
        for ms, recipient, _ in sink.arrivals():
            if recipient in acknowledged:
                delays.append(max(ms / 1000 - acknowledged.pop(recipient), 0.0))
        assert not acknowledged, f"burst: {len(acknowledged)} acknowledged sign-ups got no email"
        delays.sort()
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        log(f"burst: {signed_up} sign-ups in {seconds} s ({signed_up / seconds:,.1f}/s); "
            f"201 to email p50 {delays[len(delays) // 2]:.3f} s, p99 {p99:.3f} s, max {delays[-1]:.3f} s")
        return p99
    finally:
        gatehouse.stop()
        sink.stop()


def measure_webhooks(binary, backend, accounts, events):
    url, extra, run = backend.fresh()
    receiver = Sink("http", backend.workdir)
    more = {"GATEHOUSE_WEBHOOK_ALLOW_PRIVATE": "true", "GATEHOUSE_ADMIN_EMAIL": ADMIN[0],
            "GATEHOUSE_ADMIN_PASSWORD": ADMIN[1]}
    gatehouse = server(binary, url, extra, backend.workdir, more=more)
    count = accounts * events
    try:
        gatehouse.start()
        status, tokens = B.http("POST", gatehouse.url + "/auth", {"email": ADMIN[0], "password": ADMIN[1]})
        assert status == 200, f"the admin could not log in: {status}"
        status, endpoint = B.http("POST", gatehouse.url + "/admin/webhooks",
                                  {"url": f"http://127.0.0.1:{receiver.port}/hooks", "events": ["user.created"]},
                                  token=tokens["access_token"])
        assert status == 201, f"the endpoint was not registered: {status}"
        # One real event gives the stored form of an account, which the queued ones copy.
        status, account = B.http("POST", gatehouse.url + "/user", {"email": "model@bench.example", "password": PASSWORD})
        assert status == 201 and receiver.wait_for(1, 30), "the model event was not delivered"
        jobs = has_jobs(run)
        model = run("SELECT payload FROM jobs WHERE kind = 'webhook'" if jobs else "SELECT data FROM webhook_deliveries")[0][0]
        queued, order = queue_webhooks(run, jobs, endpoint["id"], account["id"], model, accounts, events,
                                       backend.postgres is not None)
        assert receiver.wait_for(count + 1, 600), f"webhooks: {receiver.count() - 1} of {count} deliveries arrived"
        arrivals = [row for row in receiver.arrivals() if row[2] != account["id"]]
        times = sorted(ms for ms, _, _ in arrivals)
        per_s = (len(times) - 1) / max((times[-1] - times[0]) / 1000, 1e-3)
        seen = {}
        out_of_order = 0
        for _, event, owner in arrivals:
            if seen.get(owner, "") > event:
                out_of_order += 1
            seen[owner] = max(seen.get(owner, ""), event)
        assert out_of_order == 0, f"webhooks: {out_of_order} deliveries arrived before an earlier one of their account"
        log(f"webhooks: {count} deliveries for {accounts} accounts at {per_s:,.0f}/s, each account's in order")
        return per_s
    finally:
        gatehouse.stop()
        receiver.stop()


def queue_webhooks(run, jobs, endpoint, model_account, model, accounts, events, is_postgres):
    now = datetime.datetime.now(datetime.timezone.utc)
    ms = int(now.timestamp() * 1000)
    rows = []
    seq = 0
    owners = [str(uuid.uuid4()) for _ in range(accounts)]
    for k in range(events):
        for owner in owners:
            seq += 1
            at = now + datetime.timedelta(microseconds=seq)
            at = at.isoformat() if is_postgres else stamp(at)
            event = uuid_at(ms, seq)
            data = model.replace(model_account, owner)
            if jobs:
                rows.append((str(uuid.uuid4()), "webhook", f"{endpoint} {owner}", "user.created", endpoint, owner, event,
                             data, "queued", 0, at, at))
            else:
                rows.append((endpoint, event, "user.created", owner, data, at, "queued", 0, at))
    if jobs:
        sql = ("INSERT INTO jobs (id, kind, lane, topic, target, account_id, ref_id, payload, status, attempts, "
               "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    else:
        sql = ("INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, account_id, data, occurred_at, status, "
               "attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    run(sql, rows)
    return len(rows), owners


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", default="drain,unpipelined,slow,burst,webhooks")
    parser.add_argument("--drain", type=int, help="emails queued for the drain (10,000; 500 with --smoke)")
    options = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", HERE.parent / "target")) / "release"
    binary = str(target / "gatehouse")
    only = set(options.only.split(","))
    sizes = dict(drain=500, slow=100, burst=5, accounts=50, events=10) if options.smoke else \
        dict(drain=10_000, slow=1_000, burst=60, accounts=1_000, events=10)
    if options.drain:
        sizes["drain"] = options.drain
    with tempfile.TemporaryDirectory(prefix="gatehouse-mail-") as workdir:
        backend = Backend(workdir)
        figures = {}
        try:
            log(f"backend {backend.name}, binary {binary}")
            if "drain" in only:
                figures["drain_per_s"] = measure_drain(binary, backend, sizes["drain"])
            if "unpipelined" in only:
                figures["unpipelined_per_s"] = measure_drain(binary, backend, sizes["drain"], pipelining=False)
            if "slow" in only:
                figures["slow_per_s"] = measure_slow(binary, backend, sizes["slow"])
            if "burst" in only:
                figures["burst_p99_s"] = measure_burst(binary, backend, sizes["burst"])
            if "webhooks" in only:
                figures["webhooks_per_s"] = measure_webhooks(binary, backend, sizes["accounts"], sizes["events"])
        finally:
            backend.close()
    shown = {"drain_per_s": "{:.0f}", "unpipelined_per_s": "{:.0f}", "slow_per_s": "{:.1f}", "burst_p99_s": "{:.2f}", "webhooks_per_s": "{:.0f}"}
    line = " ".join(f"{name}={shown[name].format(value)}" for name, value in figures.items())
    print(f"mail {backend.name}: {line}", flush=True)
    if not options.smoke:
        for name, value in figures.items():
            if name not in TARGETS:
                continue
            met = value <= TARGETS[name] if name.endswith("_s") and name.startswith("burst") else value >= TARGETS[name]
            log(f"{'PASS' if met else 'MISS'}  {name} {shown[name].format(value)} (target "
                f"{'<' if name.startswith('burst') else '>='} {TARGETS[name]:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
