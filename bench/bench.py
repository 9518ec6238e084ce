#!/usr/bin/env python3
"""The gatehouse benchmark driver, started by bench/run.sh (which builds the binaries first).

Starts the release binary on a fresh database, prepares accounts and tokens, drives each
scenario with wrk at each concurrency for a few seconds, round after round (interleaved, so a
noisy neighbour hurts every scenario alike), and takes the median of the rounds. Samples the
server's CPU time and memory from /proc, measures start-up to ready and the bare Argon2id
bound (bench/tools/hash_bound.rs) in the same run, and writes bench/results/*.json, the tables
in docs/BENCHMARKS.md and docs/bench-throughput.svg. Standard library only.

The backend is SQLite unless the environment names another: GATEHOUSE_BENCH_POSTGRES_URL (and
GATEHOUSE_BENCH_REDIS_URL beside it), or GATEHOUSE_BENCH_DYNAMODB=1, the DynamoDB store on a
local DynamoDB-compatible engine (moto's server, e2e/aws/dynamodb_engine.py, run by the python
GATEHOUSE_MOTO_PYTHON names) on a free loopback port. That engine serves one request at a time,
so its figures say what the server does around the store's calls, not what DynamoDB would give:
they are written to the temp directory only, never to the committed tables.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
PREFIX = "bench"
PASSWORD = "bench-password-9f3k2"
ENGINE = ROOT / "e2e" / "aws" / "dynamodb_engine.py"
# The region the local engine is named by (it accepts real regions only) and the credentials
# the AWS SDK wants even for a local engine (any will do).
DYNAMODB_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"}
# The scenarios a backend cannot prepare: `members` inserts its memberships with SQL.
NOT_ON = {"dynamodb": {"members": "its 10,000 memberships are inserted with SQL, which the DynamoDB store has no "
                                  "place for"}}
CLK_TCK = os.sysconf("SC_CLK_TCK")
HASH_MAX_WAIT_MS = 1000  # the server's default GATEHOUSE_HASH_MAX_WAIT, left as it is

# name -> (method, path, what it measures)
SCENARIOS = {
    "healthz": ("GET", "/healthz", "in-binary baseline"),
    "user": ("GET", "/user", "token check + session read + account read"),
    "user_key": ("GET", "/user", "GET /user with an API key for a token: the key read with its owner's status, "
                                 "then the account"),
    "protected": ("GET", "/protected", "token check + session read"),
    "user_org": ("GET", "/user", "GET /user with tokens of sessions in an organization (the org claim)"),
    "members": ("GET", "/orgs/big/members", "the first page (50) of an organization's 10,000 members"),
    "forward": ("GET", "/auth/forward", "forward-auth: token check + session and account read, Remote-* headers"),
    "forward_resource": ("GET", "/auth/forward", "forward-auth at a protected resource's rule with a client's "
                                                  "client-credentials token for it: signature, the client's read, "
                                                  "Remote-* headers"),
    "forward_dpop": ("GET", "/auth/forward", "forward_resource with a DPoP-bound token and a fresh proof per request: "
                                              "the proof's signature and its jti spent in the limit store besides"),
    "login": ("POST", "/auth", "Argon2id verify + session write"),
    "login_totp": ("POST", "/auth", "login of an account with an authenticator app: password (403 mfa_required), "
                                    "then POST /auth/mfa with the code; ok/s = completed logins"),
    "signup": ("POST", "/user", "Argon2id hash + account, token and outbox rows"),
    "refresh": ("POST", "/auth/refresh", "refresh-token rotation (one write transaction)"),
    "mixed": ("GET", "/user", "GET /user measured during a login flood at 4x hashing capacity"),
}
# forward_resource's protected resource, as the proxy in front of it names its host.
RESOURCE_HOST = "mcp.bench.test"
# The scenarios whose throughput is compared with the bare Argon2id bound.
HASHING = ("login", "signup")
TOTP_PREFIX = "benchtotp"
# login_totp uses each account once per run, spread over one wrk thread per connection: runs
# above this concurrency would leave each thread too few accounts.
TOTP_MAX_CONCURRENCY = 64


def totp_code(secret, step):
    """RFC 6238 (HMAC-SHA-1, 6 digits) for time step `step`, as an authenticator app computes it."""
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    at = mac[-1] & 0xF
    return f"{(struct.unpack('>I', mac[at:at + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def log(*parts):
    print("bench:", *parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=30):
    """One request; returns (status, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            return answer.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        return error.code, None


class WebhookReceiver:
    """A webhook endpoint in this process on loopback: answers every delivery 204 and counts them."""

    def __init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.count = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def register(self, server, email, password):
        """Registers the receiver for every event, as the bootstrap admin."""
        status, tokens = http("POST", server.url + "/auth", {"email": email, "password": password})
        assert status == 200, f"the bench admin could not log in: {status}"
        events = ["user.created", "user.activated", "user.updated", "user.deleted", "user.login",
                  "user.password_changed", "user.mfa_changed", "session.revoked", "identity.linked"]
        status, _ = http("POST", server.url + "/admin/webhooks", {"url": self.url, "events": events},
                         token=tokens["access_token"])
        assert status == 201, f"the webhook endpoint was not registered: {status}"

    def close(self):
        self.httpd.shutdown()


class Server:
    """One `gatehouse serve` process on a free loopback port."""

    def __init__(self, binary, database_url, workdir, extra_env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("GATEHOUSE_") or k in ("DATABASE_URL", "REDIS_URL"))}
        env.update({
            "GATEHOUSE_BIND": f"127.0.0.1:{self.port}",
            "GATEHOUSE_PUBLIC_URL": self.url,
            "GATEHOUSE_DATABASE_URL": database_url,
            "GATEHOUSE_RATE_LIMIT": "off",
            "GATEHOUSE_LOG": "warn",
            # JSON lines: the flood's refusals (503s are logged at warn) are read back from them.
            "GATEHOUSE_LOG_FORMAT": "json",
            # The tokens prepared at the start must outlive the whole run.
            "GATEHOUSE_ACCESS_TOKEN_TTL": "3h",
            # The forward scenario asks /auth/forward as a proxy on this host would; only a
            # trusted proxy may ask.
            "GATEHOUSE_TRUSTED_PROXIES": "127.0.0.1",
            # forward_resource's protected resource, behind a rule that asks for its scope.
            "GATEHOUSE_RESOURCES": f"https://{RESOURCE_HOST}/ mcp:tools",
            "GATEHOUSE_FORWARD_RULES": f"{RESOURCE_HOST}=resource:mcp:tools",
        })
        env.update(extra_env or {})
        self.env = env
        self.binary = binary
        self.log_path = Path(workdir) / f"server-{self.port}.log"
        self.process = None

    def start(self, ready_within=30.0):
        """Starts the server; returns the seconds from exec to the first 200 on /readyz."""
        log_file = open(self.log_path, "wb")
        started = time.perf_counter()
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=log_file,
                                        stderr=subprocess.STDOUT)
        while time.perf_counter() - started < ready_within:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            if self._ready():
                return time.perf_counter() - started
            time.sleep(0.002)
        raise RuntimeError(f"the server was not ready within {ready_within}s; see {self.log_path}")

    def _ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def log_size(self):
        return self.log_path.stat().st_size

    def refusal_latencies_ms(self, since, route):
        """Server-side latencies of the 503 and 429 answers on `route` logged after byte
        `since` of the log (a 503 is logged at warn with its latency; the bench turns rate
        limits off, so no 429 is expected)."""
        latencies = []
        with open(self.log_path, "rb") as log:
            log.seek(since)
            for line in log:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                # A 503 line names its route itself (at warn the request span is off).
                logged_route = event.get("route") or (event.get("span") or {}).get("route")
                if event.get("status") in (429, 503) and logged_route == route:
                    latencies.append(float(event["latency_ms"]))
        return latencies

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_kib(self):
        """(VmRSS, VmHWM) in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
        return int(found["VmRSS"]), int(found["VmHWM"])

    def reset_peak(self):
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        except OSError:
            pass  # not permitted here: the peak then covers the process's whole life

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def engine_answers(port):
    """Whether the DynamoDB engine on `port` answers its status page."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=5) as answer:
            return answer.status == 200
    except (OSError, ValueError):
        return False


def wrk_command(url, script, concurrency, seconds, args, threads=None):
    threads = threads or min(concurrency, 2)
    return ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "10s",
            "-s", str(LUA / script), url, "--", *[str(a) for a in args]]


def parse_wrk(output):
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise RuntimeError(f"wrk printed no summary:\n{output}")


def wrk_env(extra=None):
    env = dict(os.environ, GATEHOUSE_BENCH_LUA=str(LUA))
    env.update(extra or {})
    return env


def run_wrk(command, env=None):
    done = subprocess.run(command, env=wrk_env(env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


class Bench:
    def __init__(self, options, workdir):
        self.o = options
        self.workdir = Path(workdir)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
        self.binary = str(target / "gatehouse")
        # The helper programs (bench/tools): one binary, the tool named first.
        tools = str(target / "gatehouse-bench")
        self.hash_bound_command = [tools, "hash-bound"]
        self.seed_command = [tools, "seed"]
        self.seed_history_command = [tools, "seed-history"]
        self.io_bound_command = [tools, "io-bound"]
        self.dpop_command = [tools, "dpop"]
        self.dpop_key_file = self.workdir / "dpop-key.pk8"
        self.bound_tokens_file = self.workdir / "bound-access-tokens.txt"
        self.tokens_file = self.workdir / "access-tokens.txt"
        self.org_tokens_file = self.workdir / "org-access-tokens.txt"
        self.owner_tokens_file = self.workdir / "owner-access-tokens.txt"
        self.client_tokens_file = self.workdir / "client-access-tokens.txt"
        self.keys_file = self.workdir / "api-keys.txt"
        self.refresh_file = self.workdir / "refresh-tokens.txt"
        self.cleanup = []
        self.engine = None
        # The environment of the helper programs that open the database (the seed program).
        self.tool_env = dict(os.environ)
        self.database_url, self.extra_env, self.backend = self.prepare_backend()

    # --- backends -------------------------------------------------------------------------

    def prepare_backend(self):
        postgres = os.environ.get("GATEHOUSE_BENCH_POSTGRES_URL")
        redis = os.environ.get("GATEHOUSE_BENCH_REDIS_URL")
        if os.environ.get("GATEHOUSE_BENCH_DYNAMODB", "") not in ("", "0"):
            if postgres or redis:
                raise SystemExit("bench: GATEHOUSE_BENCH_DYNAMODB goes alone, without GATEHOUSE_BENCH_POSTGRES_URL "
                                 "or GATEHOUSE_BENCH_REDIS_URL")
            return self.prepare_dynamodb()
        if not postgres:
            return f"sqlite://{self.workdir}/gatehouse.db", {}, "sqlite"
        name = f"gatehouse_bench_{os.getpid()}_{int(time.time())}"
        subprocess.run(["psql", postgres, "-qc", f"CREATE DATABASE {name}"], check=True)
        self.cleanup.append(["psql", postgres, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
        url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", postgres.split("://", 1)[1], count=1)
        url = postgres.split("://", 1)[0] + "://" + url
        extra = {}
        backend = "postgres"
        if redis:
            prefix = f"gatehouse-bench-{os.getpid()}-{int(time.time())}:"
            extra = {"GATEHOUSE_REDIS_URL": redis, "GATEHOUSE_REDIS_PREFIX": prefix}
            backend = "postgres+redis"
            if shutil.which("redis-cli"):
                self.cleanup.append(["sh", "-c", f"redis-cli -u '{redis}' --scan --pattern '{prefix}*' "
                                                 f"| xargs -r redis-cli -u '{redis}' del >/dev/null"])
        return url, extra, backend

    def prepare_dynamodb(self):
        """The DynamoDB store on a local engine started here (stopped by close()), under a table
        prefix of this run's, its tables made by `gatehouse migrate`."""
        python = os.environ.get("GATEHOUSE_MOTO_PYTHON")
        if not python:
            raise SystemExit('bench: GATEHOUSE_BENCH_DYNAMODB needs GATEHOUSE_MOTO_PYTHON, the python of moto\'s '
                             'virtualenv: eval "$(e2e/aws/tools.sh --print-env)"')
        port = free_port()
        self.engine_log = self.workdir / "dynamodb-engine.log"
        with open(self.engine_log, "wb") as engine_log:
            self.engine = subprocess.Popen([python, str(ENGINE), "-H", "127.0.0.1", "-p", str(port)],
                                           stdout=engine_log, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        while not engine_answers(port):
            if self.engine.poll() is not None or time.perf_counter() - started > 60:
                self.close()
                raise RuntimeError(f"the DynamoDB engine did not answer on port {port}; see {self.engine_log}")
            time.sleep(0.1)
        self.dynamodb_endpoint = f"http://127.0.0.1:{port}"
        self.tool_env.update(DYNAMODB_ENV)
        try:
            url = self.dynamodb_tables(f"bench{os.getpid()}-")
        except BaseException:
            self.close()
            raise
        log(f"DynamoDB engine (moto) on port {port}, ready in {time.perf_counter() - started:.1f}s")
        return url, dict(DYNAMODB_ENV), "dynamodb"

    def dynamodb_tables(self, prefix):
        """Fresh tables under `prefix` on the engine (`gatehouse migrate`); their database URL."""
        url = f"dynamodb://{prefix}?region={DYNAMODB_ENV['AWS_REGION']}&endpoint={self.dynamodb_endpoint}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env.update(DYNAMODB_ENV, GATEHOUSE_DATABASE_URL=url, GATEHOUSE_LOG="warn")
        done = subprocess.run([self.binary, "migrate"], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"gatehouse migrate on the DynamoDB engine failed: {done.stderr}{done.stdout}")
        return url

    def engine_calls(self):
        """The DynamoDB calls the engine has answered so far (its log has a line for each)."""
        with open(self.engine_log, "rb") as engine_log:
            return sum(1 for line in engine_log if b'"POST / HTTP' in line)

    def close(self):
        for command in self.cleanup:
            subprocess.run(command, check=False, capture_output=True)
        if self.engine and self.engine.poll() is None:
            self.engine.terminate()
            try:
                self.engine.wait(10)
            except subprocess.TimeoutExpired:
                self.engine.kill()
                self.engine.wait()

    # --- preparation ----------------------------------------------------------------------

    def seed(self, count):
        done = subprocess.run([*self.seed_command, self.database_url, str(count), PREFIX, PASSWORD],
                              capture_output=True, text=True, check=True, env=self.tool_env)
        log("seeded", done.stdout.strip())

    def log_in_many(self, server, count, start=0):
        """Logs `count` sessions in (spread over the seeded accounts); returns token pairs."""
        def one(n):
            account = (start + n) % self.o.accounts + 1
            for _ in range(50):
                status, body = http("POST", server.url + "/auth",
                                    {"email": f"{PREFIX}{account}@example.com", "password": PASSWORD})
                if status == 200:
                    return body["access_token"], body["refresh_token"]
                time.sleep(0.05)  # 503: the hashing queue is full, try again
            raise RuntimeError(f"login kept failing with {status}")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(count)))

    def enter_orgs(self, server, pairs):
        """Each session creates an organization and enters it (POST /orgs, POST /auth/org): the
        access tokens then carry the org claim, for user_org."""
        def one(item):
            n, (access, _) = item
            status, _ = http("POST", server.url + "/orgs", {"name": f"Bench {n}", "slug": f"bench-{n}"}, access)
            if status != 201:
                raise RuntimeError(f"creating an organization answered {status}")
            status, body = http("POST", server.url + "/auth/org", {"org": f"bench-{n}"}, access)
            if status != 200:
                raise RuntimeError(f"entering an organization answered {status}")
            return body["access_token"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            tokens = list(pool.map(one, enumerate(pairs)))
        self.org_tokens_file.write_text("\n".join(tokens) + "\n")

    def make_keys(self, server, pairs):
        """An API key for each session's account (POST /user/api-keys), for user_key."""
        def one(item):
            n, (access, _) = item
            status, body = http("POST", server.url + "/user/api-keys", {"name": f"bench {n}"}, access)
            if status != 201:
                raise RuntimeError(f"making an API key answered {status}")
            return body["key"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(one, enumerate(pairs)))
        self.keys_file.write_text("\n".join(keys) + "\n")

    def client_tokens(self, server, count):
        """`count` client-credentials tokens of a client registered at the command line, for the
        protected resource, for forward_resource."""
        env = dict(self.tool_env, GATEHOUSE_DATABASE_URL=self.database_url, GATEHOUSE_RESOURCES=server.env["GATEHOUSE_RESOURCES"])
        made = subprocess.run([self.binary, "client", "create", "--name", "Bench agent", "--grant-type", "client_credentials",
                               "--scope", "mcp:tools", "--json"], capture_output=True, text=True, check=True, env=env)
        client = json.loads(made.stdout)
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "mcp:tools",
                                       "resource": f"https://{RESOURCE_HOST}/"}).encode()

        def one(_):
            request = urllib.request.Request(server.url + "/oauth2/token", data=form, method="POST")
            request.add_header("Authorization", f"Basic {basic}")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())["access_token"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            issued = list(pool.map(one, range(count)))
        self.client_tokens_file.write_text("\n".join(issued) + "\n")

    def bound_tokens(self, server, count):
        """`count` client-credentials tokens bound to one key (DPoP) for the protected resource, for
        forward_dpop."""
        env = dict(self.tool_env, GATEHOUSE_DATABASE_URL=self.database_url, GATEHOUSE_RESOURCES=server.env["GATEHOUSE_RESOURCES"])
        made = subprocess.run([self.binary, "client", "create", "--name", "Bench bound agent", "--grant-type",
                               "client_credentials", "--scope", "mcp:tools", "--json"],
                              capture_output=True, text=True, check=True, env=env)
        client = json.loads(made.stdout)
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "mcp:tools",
                                       "resource": f"https://{RESOURCE_HOST}/"}).encode()
        proofs = subprocess.run(self.dpop_command + [str(self.dpop_key_file), "POST", server.url + "/oauth2/token", str(count)],
                                capture_output=True, text=True, check=True).stdout.split()

        def one(proof):
            request = urllib.request.Request(server.url + "/oauth2/token", data=form, method="POST")
            request.add_header("Authorization", f"Basic {basic}")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            request.add_header("DPoP", proof)
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = json.loads(answer.read())
                if body.get("token_type") != "DPoP":
                    raise RuntimeError(f"a DPoP proof gave a {body.get('token_type')} token")
                return body["access_token"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            issued = list(pool.map(one, proofs))
        self.bound_tokens_file.write_text("\n".join(issued) + "\n")

    def dpop_proofs(self, concurrency, seconds):
        """A file of `<token> <proof>` lines for one run of forward_dpop, made just before it (a
        proof is good for a minute): enough for the fastest rate this machine is seen to reach."""
        count = max(2_000, int(seconds * (4_000 if concurrency == 1 else 30_000)))
        out = self.workdir / "dpop-proofs.txt"
        with open(out, "w") as lines:
            subprocess.run(self.dpop_command + [str(self.dpop_key_file), "GET", f"https://{RESOURCE_HOST}/tools",
                                                str(count), str(self.bound_tokens_file)], stdout=lines, check=True)
        return out

    def seed_members(self, server, owner, count):
        """An organization `big` of `count` seeded members beside its owner (whose token asks
        for the first page), for the member list."""
        status, org = http("POST", server.url + "/orgs", {"name": "Big", "slug": "big"}, owner)
        if status != 201:
            raise RuntimeError(f"creating the big organization answered {status}")
        done = subprocess.run([*self.seed_command, self.database_url, str(count), "benchmember", PASSWORD],
                              capture_output=True, text=True, check=True, env=self.tool_env)
        log("seeded members' accounts", done.stdout.strip())
        insert = ("INSERT INTO memberships (org_id, account_id, role, joined_at) "
                  f"SELECT '{org['id']}', id, 'member', created_at FROM accounts WHERE email LIKE 'benchmember%'")
        if self.backend == "sqlite":
            with sqlite3.connect(self.database_url.split("://", 1)[1], timeout=60) as db:
                db.execute(insert)
        else:
            subprocess.run(["psql", self.database_url, "-qc", insert], check=True)
        # Two lines: each wrk thread takes its share of the file.
        self.owner_tokens_file.write_text(f"{owner}\n{owner}\n")

    def top_up_refresh(self, server, needed):
        have = [t for t in self.refresh_file.read_text().split("\n") if t] if self.refresh_file.exists() else []
        if len(have) < needed:
            pairs = self.log_in_many(server, needed - len(have), start=len(have))
            have += [refresh for _, refresh in pairs]
            self.refresh_file.write_text("\n".join(have) + "\n")

    # --- measurements ---------------------------------------------------------------------

    def enrol_totp(self, server):
        """Seeds --totp-accounts accounts apart from the others and turns an authenticator app on
        for each through the API, as a person would; keeps their secrets."""
        count = self.o.totp_accounts
        done = subprocess.run([*self.seed_command, self.database_url, str(count), TOTP_PREFIX, PASSWORD],
                              capture_output=True, text=True, check=True, env=self.tool_env)
        log("seeded for login_totp", done.stdout.strip())

        def one(n):
            email = f"{TOTP_PREFIX}{n}@example.com"
            for _ in range(50):
                status, body = http("POST", server.url + "/auth", {"email": email, "password": PASSWORD})
                if status == 200:
                    break
                time.sleep(0.05)  # 503: the hashing queue is full, try again
            else:
                raise RuntimeError(f"login of {email} kept failing with {status}")
            token = body["access_token"]
            status, body = http("POST", server.url + "/mfa/totp", {"password": PASSWORD}, token=token)
            if status != 200:
                raise RuntimeError(f"POST /mfa/totp for {email}: {status} {body}")
            secret = base64.b32decode(body["secret"] + "=" * (-len(body["secret"]) % 8))
            step = int(time.time()) // 30
            status, body = http("POST", server.url + "/mfa/totp/confirm", {"code": totp_code(secret, step)},
                                token=token)
            if status != 200:
                raise RuntimeError(f"POST /mfa/totp/confirm for {email}: {status} {body}")
            return email, secret, step
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            enrolled = list(pool.map(one, range(1, count + 1)))
        self.totp_accounts = [(email, secret) for email, secret, _ in enrolled]
        self.totp_last_step = max(step for _, _, step in enrolled)

    def totp_codes(self):
        """Writes each account's code for a time step none of them has used yet: the next one
        while the server still takes it (one step ahead of its clock), else after waiting for
        the clock to move on. Every run gets codes that have never been accepted."""
        while int(time.time()) // 30 + 1 <= self.totp_last_step:
            time.sleep(0.2)
        step = max(self.totp_last_step + 1, int(time.time()) // 30)
        self.totp_last_step = step
        path = self.workdir / "totp-codes.txt"
        path.write_text("".join(f"{email} {totp_code(secret, step)}\n" for email, secret in self.totp_accounts))
        return path

    def hash_bound(self, seconds):
        done = subprocess.run([*self.hash_bound_command, str(os.cpu_count()), str(seconds)],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    def io_bound(self, seconds):
        """On PostgreSQL + Redis: req/s at c=64 of a bare axum server doing only the I/O of a
        token-checked GET /user there (bench/tools/io_bound.rs): /healthz, one Redis HMGET, and
        the HMGET plus one primary-key SELECT."""
        port = free_port()
        process = subprocess.Popen([*self.io_bound_command, f"127.0.0.1:{port}", os.environ["GATEHOUSE_BENCH_REDIS_URL"],
                                    self.database_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"io_bound did not start: {process.stderr.read()}")
            found = {}
            for route in ("healthz", "redis", "both"):
                result = run_wrk(wrk_command(f"http://127.0.0.1:{port}/{route}", "get_token.lua", 64, seconds,
                                                [self.tokens_file, 2]))
                found[route] = result["requests"] / (result["duration_us"] / 1e6)
                time.sleep(0.5)
            return found
        finally:
            process.terminate()
            process.wait(10)

    def startup(self, starts):
        """Seconds from exec to ready, each start on a fresh database: a SQLite file (on every
        SQL backend), or on DynamoDB fresh tables on the engine (made before the clock starts)."""
        times = []
        for n in range(starts):
            if self.backend == "dynamodb":
                url = self.dynamodb_tables(f"bench{os.getpid()}-start{n}-")
                server = Server(self.binary, url, self.workdir, DYNAMODB_ENV)
                try:
                    times.append(server.start(ready_within=120))
                finally:
                    server.stop()
                continue
            fresh = self.workdir / f"startup-{n}"
            fresh.mkdir()
            server = Server(self.binary, f"sqlite://{fresh}/gatehouse.db", self.workdir)
            try:
                times.append(server.start())
            finally:
                server.stop()
        return times

    def scenario(self, server, name, concurrency, seconds, bound):
        url = server.url + SCENARIOS[name][1]
        threads = min(concurrency, 2)
        env = None
        if name in ("healthz", "user", "protected", "forward"):
            # /healthz gets the same Authorization header, so the requests differ only in route.
            command = wrk_command(url, "get_token.lua", concurrency, seconds, [self.tokens_file, threads])
        elif name == "user_org":
            command = wrk_command(url, "get_token.lua", concurrency, seconds, [self.org_tokens_file, threads])
        elif name == "user_key":
            command = wrk_command(url, "get_token.lua", concurrency, seconds, [self.keys_file, threads])
        elif name == "forward_resource":
            command = wrk_command(url, "get_token.lua", concurrency, seconds,
                                  [self.client_tokens_file, threads, RESOURCE_HOST])
        elif name == "forward_dpop":
            proofs = self.dpop_proofs(concurrency, seconds)
            command = wrk_command(url, "get_dpop.lua", concurrency, seconds, [proofs, threads, RESOURCE_HOST])
        elif name == "members":
            command = wrk_command(url, "get_token.lua", concurrency, seconds, [self.owner_tokens_file, threads])
        elif name == "login":
            command = wrk_command(url, "login.lua", concurrency, seconds, [PREFIX, self.o.accounts, PASSWORD, threads])
        elif name == "signup":
            run_id = f"{os.getpid()}{int(time.time() * 1000) % 10**8}c{concurrency}"
            command = wrk_command(url, "signup.lua", concurrency, seconds, [run_id, threads])
        elif name == "login_totp":
            # One connection per thread: each thread's answers then belong to its last request.
            command = wrk_command(url, "login_totp.lua", concurrency, seconds,
                                  [self.totp_codes(), PASSWORD, concurrency], threads=concurrency)
        elif name == "refresh":
            self.top_up_refresh(server, 2 * concurrency + 32)
            out = self.workdir / "refresh-left.txt"
            command = wrk_command(url, "refresh.lua", concurrency, seconds, [self.refresh_file, threads])
            env = {"GATEHOUSE_BENCH_REFRESH_OUT": str(out)}
        elif name == "mixed":
            return self.mixed(server, concurrency, seconds, bound)
        else:
            raise ValueError(name)
        server.reset_peak()
        calls_before = self.engine_calls() if self.engine else None
        cpu_before = server.cpu_seconds()
        result = run_wrk(command, env)
        cpu = server.cpu_seconds() - cpu_before
        if name == "refresh":
            shutil.move(self.workdir / "refresh-left.txt", self.refresh_file)
        row = summarize(result, cpu, server.memory_kib()[1])
        if calls_before is not None and result["requests"]:
            # The server's background work (its polling of the tables) is counted in too.
            row["engine_calls_per_req"] = (self.engine_calls() - calls_before) / result["requests"]
        if name == "login_totp":
            # The first step's 403 mfa_required is the expected answer, not an error.
            row["errors"] -= row["statuses"].get("403", 0)
        return row

    def mixed(self, server, concurrency, seconds, bound):
        """A login flood at 4x the hashing bound while GET /user is measured."""
        flood_connections = self.o.flood_connections
        # One wrk thread whose connections share one schedule of `offered` logins/s (login.lua).
        offered = 4 * bound
        flood_seconds = seconds + 2
        log_from = server.log_size()
        flood = subprocess.Popen(
            wrk_command(server.url + "/auth", "login.lua", flood_connections, flood_seconds,
                        [PREFIX, self.o.accounts, PASSWORD, 1, f"{offered:.1f}"], threads=1),
            env=wrk_env({"GATEHOUSE_BENCH_DELAY": "1"}), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        server.reset_peak()
        time.sleep(1)
        threads = min(concurrency, 2)
        measured = run_wrk(wrk_command(server.url + "/user", "get_token.lua", concurrency, seconds,
                                       [self.tokens_file, threads]))
        out, err = flood.communicate(timeout=flood_seconds + 30)
        flood_result = parse_wrk(out)
        row = summarize(measured, None, server.memory_kib()[1])
        # wrk gives one latency distribution for all the flood's answers, the logins let in
        # (which may wait up to the hashing bound, then hash on a starved thread) and the
        # refused ones alike; the refusals' own come from the server's log.
        refused = sorted(server.refusal_latencies_ms(log_from, "/auth"))
        statuses = flood_result.get("statuses", {})
        duration = flood_result["duration_us"] / 1e6
        # Offered: the logins sent, answered or not (those sent in the last second or so are
        # still waiting for their answer when wrk stops).
        sent = flood_result.get("sent") or flood_result["requests"]
        row["flood"] = {
            "offered_per_s": sent / duration,
            "offered_x_bound": sent / duration / bound,
            "ok_per_s": statuses.get("200", 0) / duration,
            "rejected_503": statuses.get("503", 0),
            "rejected_429": statuses.get("429", 0),
            "requests": flood_result["requests"],
            "p50_ms": flood_result["latency_us"]["p50"] / 1000,
            "p99_ms": flood_result["latency_us"]["p99"] / 1000,
            "other_errors": sum(flood_result["errors"][k] for k in ("connect", "read", "write", "timeout")),
            "refused_logged": len(refused),
            "refused_p50_ms": percentile(refused, 0.5),
            "refused_p99_ms": percentile(refused, 0.99),
        }
        return row


def percentile(sorted_values, fraction):
    """The nearest-rank percentile of an ascending list; None for an empty one."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))]


def summarize(result, cpu_seconds, peak_kib):
    duration = result["duration_us"] / 1e6
    statuses = result.get("statuses") or {}
    transport = sum(result["errors"][k] for k in ("connect", "read", "write", "timeout"))
    if statuses:
        ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    else:
        ok = result["requests"] - result["errors"]["status"]
    latency = result["latency_us"]
    return {
        "req_per_s": result["requests"] / duration,
        "ok_per_s": ok / duration,
        "p50_ms": latency["p50"] / 1000,
        "p99_ms": latency["p99"] / 1000,
        "p999_ms": latency["p999"] / 1000,
        "requests": result["requests"],
        "errors": transport + result["errors"]["status"],
        "statuses": statuses,
        "cpu_us_per_req": (cpu_seconds * 1e6 / result["requests"]) if cpu_seconds is not None and result["requests"]
        else None,
        "peak_rss_mib": peak_kib / 1024,
    }


def median_rows(rows):
    """The median of each number over the rounds (statuses and the flood's numbers too)."""
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows if r.get(key) is not None]
        if not values:
            out[key] = None
        elif isinstance(values[0], dict):
            out[key] = median_rows(values) if all(isinstance(v, dict) for v in values) else values[0]
        elif isinstance(values[0], (int, float)):
            out[key] = statistics.median(values)
        else:
            out[key] = values[0]
    # statuses: sum-like counts keyed by code; a median per code is fine for reading.
    return out


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    wrk_version = " ".join(banner.split()[:2]) if banner else "wrk"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "kernel": os.uname().release, "load_generator": wrk_version or "wrk"}


def targets(results):
    """The issue's targets, as ratios measured in this run."""
    m = results["median"]
    bound = results["hash_bound"]["per_second"]
    cpu_verify_us = results["hash_bound"]["cpu_ms_per_verify"] * 1000
    pg = results["backend"] != "sqlite"

    def get(name, c, key):
        return (m.get(name) or {}).get(str(c), {}).get(key)

    def paired(name, key, denominators):
        """The median over the rounds of this round's `key` of `name` at c=64 over the round's
        denominator: each ratio compares two figures taken a few seconds apart, so slow drifts
        in the machine's speed cancel out."""
        rows = (results["rounds"].get(name) or {}).get("64") or []
        ratios = [row[key] / d for row, d in zip(rows, denominators) if d]
        return statistics.median(ratios) if ratios else None

    healthz_rounds = [row["req_per_s"] for row in (results["rounds"].get("healthz") or {}).get("64", [])]
    user_rounds = (results["rounds"].get("user") or {}).get("64", [])
    healthz_rounds = [(h + row["healthz_after"]) / 2 if row.get("healthz_after") else h
                      for h, row in zip(healthz_rounds, user_rounds)]
    bound_rounds = [b["per_second"] for b in results["hash_bound"]["all"]]

    def bounds_next_to(name):
        """The bare bound measured right before each round's run of `name` at c=64 (the
        round's own bound when there is none, as in a smoke run)."""
        rows = (results["rounds"].get(name) or {}).get("64") or []
        return [row.get("adjacent_bound") or {"per_second": b, "cpu_ms_per_verify": cpu_verify_us / 1000}
                for row, b in zip(rows, bound_rounds)]

    checks = []
    healthz, user = get("healthz", 64, "req_per_s"), get("user", 64, "ok_per_s")
    if healthz and user is not None:
        need = 0.40 if pg else 0.75
        ratio = paired("user", "ok_per_s", healthz_rounds)
        checks.append(("1. GET /user vs GET /healthz at c=64", ratio, f">= {need:.0%}", ratio >= need,
                       f"median of per-round ratios to /healthz measured just before and after; medians "
                       f"{user:,.0f} vs {statistics.median(healthz_rounds):,.0f} req/s"))
        io = results.get("io_bound")
        if io:
            # Not targets: what the round trips alone allow here. GET /user reads the session
            # and the account's copy in one Redis round trip; a database read per request
            # instead would cap it near the SELECT row.
            checks.append(("1. (bound) bare Redis HMGET vs bare /healthz", io["redis"] / io["healthz"],
                           "not a target", None, f"{io['redis']:,.0f} vs {io['healthz']:,.0f} req/s; "
                           f"with a PostgreSQL SELECT too: {io['both'] / io['healthz']:.0%}"))
            checks.append(("1. (bound) GET /user vs that bare HMGET", user / io["redis"], "not a target", None,
                           f"{user:,.0f} vs {io['redis']:,.0f} req/s"))
    keyed = get("user_key", 64, "ok_per_s")
    if user is not None and keyed is not None:
        ratio = paired("user_key", "ok_per_s", [row["ok_per_s"] for row in user_rounds])
        checks.append(("1. GET /user with an API key vs with an access token (c=64)", ratio, ">= 90%", ratio >= 0.9,
                       f"median of per-round ratios; medians {keyed:,.0f} vs {user:,.0f} req/s"))
    forward, resource = get("forward", 64, "ok_per_s"), get("forward_resource", 64, "ok_per_s")
    if forward is not None and resource is not None:
        forward_rounds = [row["ok_per_s"] for row in (results["rounds"].get("forward") or {}).get("64", [])]
        ratio = paired("forward_resource", "ok_per_s", forward_rounds)
        checks.append(("1. forward-auth with a client's token for a resource vs with an access token (c=64)", ratio,
                       ">= 90%", ratio >= 0.9, f"median of per-round ratios; medians {resource:,.0f} vs {forward:,.0f} req/s"))
    bound = get("forward_dpop", 64, "ok_per_s")
    if resource is not None and bound is not None:
        resource_rounds = [row["ok_per_s"] for row in (results["rounds"].get("forward_resource") or {}).get("64", [])]
        ratio = paired("forward_dpop", "ok_per_s", resource_rounds)
        checks.append(("1. forward-auth with a DPoP-bound token and its proof vs with a bearer token (c=64)", ratio,
                       ">= 75%", ratio >= 0.75, f"median of per-round ratios; medians {bound:,.0f} vs {resource:,.0f} req/s"))
    login = get("login", 64, "ok_per_s")
    if login is not None:
        next_to = bounds_next_to("login")
        ratio = paired("login", "ok_per_s", [b["per_second"] for b in next_to])
        beside = statistics.median(b["per_second"] for b in next_to)
        checks.append(("2. login vs bare Argon2id verifies (c=64)", ratio, ">= 90%", ratio >= 0.9,
                       f"median of per-round ratios to the bound measured just before and after; medians {login:.1f} "
                       f"vs {beside:.1f} /s"))
        rows = results["rounds"]["login"]["64"]
        cpu_ratios = [row["cpu_us_per_req"] / (b["cpu_ms_per_verify"] * 1000)
                      for row, b in zip(rows, next_to) if row.get("cpu_us_per_req") and b.get("cpu_ms_per_verify")]
        if cpu_ratios:
            cpu, verify_ms = get("login", 64, "cpu_us_per_req"), statistics.median(b["cpu_ms_per_verify"] for b in next_to)
            checks.append(("2. server CPU per login vs one verify", statistics.median(cpu_ratios), "<= 1.15x",
                           statistics.median(cpu_ratios) <= 1.15,
                           f"median of per-round ratios; medians {cpu / 1000:.1f} ms vs {verify_ms:.1f} ms"))
    signup = get("signup", 64, "ok_per_s")
    if signup is not None:
        next_to = bounds_next_to("signup")
        ratio = paired("signup", "ok_per_s", [b["per_second"] for b in next_to])
        beside = statistics.median(b["per_second"] for b in next_to)
        checks.append(("3. sign-up vs bare hashing (c=64)", ratio, ">= 85%", ratio >= 0.85,
                       f"median of per-round ratios to the bound measured just before and after; medians {signup:.1f} "
                       f"vs {beside:.1f} /s"))
    mixed = (m.get("mixed") or {}).get("64")
    if mixed:
        flood = mixed["flood"]
        checks.append(("4. GET /user p99 during the login flood (c=64)", mixed["p99_ms"], "< 10 ms",
                       mixed["p99_ms"] < 10,
                       f"flood offered {flood['offered_x_bound']:.1f}x the bound"))
        calm = get("user", 64, "p99_ms")
        if calm is not None:
            # Not a target: the same GETs' p99 in the same rounds without the flood, which shows
            # what the flood adds and what the two cores shared with wrk give on their own.
            checks.append(("4. (bound) GET /user p99 without the flood (c=64)", calm, "not a target (ms)", None,
                           "same rounds; the flood's own share is the difference"))
        # Promptly: the excess is refused (a refusal for a full queue is held 100 ms, so the
        # typical refusal is answered within a few times that), and no refusal comes much past
        # the server's wait bound for a hashing thread (GATEHOUSE_HASH_MAX_WAIT, left at 1 s).
        # The refusals' latencies are the server's own (its log); the flood's p99 over all its
        # answers, the admitted logins' included, is shown beside them.
        limit_ms = 1.2 * HASH_MAX_WAIT_MS
        refused_p50, refused_p99 = flood.get("refused_p50_ms"), flood.get("refused_p99_ms")
        prompt = (flood["rejected_503"] + flood["rejected_429"] > 0 and refused_p99 is not None
                  and refused_p50 < 250 and refused_p99 < limit_ms)
        checks.append(("4. excess logins answered 503/429 promptly, queue bounded", refused_p99,
                       f"refusals p50 < 250 ms, p99 < {limit_ms:.0f} ms", prompt,
                       f"{flood['rejected_503']:.0f} answered 503, refusals p50 {refused_p50 or 0:.1f} ms; "
                       f"all the flood's answers p50 {flood['p50_ms']:.1f} ms, p99 {flood['p99_ms']:.0f} ms"))
    memory = results["memory"]
    checks.append(("5. idle RSS", memory["idle_rss_mib"], "<= 15 MiB", memory["idle_rss_mib"] <= 15, "after start"))
    if mixed:
        checks.append(("5. peak RSS during the login flood", mixed["peak_rss_mib"], "<= 64 MiB",
                       mixed["peak_rss_mib"] <= 64, "VmHWM"))
    start = results["startup_ms"]["median"]
    fresh = ("DynamoDB on the local engine, fresh tables" if results["backend"] == "dynamodb"
             else "SQLite, fresh database")
    checks.append((f"6. start-up to ready ({fresh})", start, "< 200 ms", start < 200,
                   f"median of {len(results['startup_ms']['all'])}"))
    return [{"target": t, "value": v, "need": n, "pass": None if p is None else bool(p), "note": note}
            for t, v, n, p, note in checks]


def verdict(passed):
    """PASS or MISS for a target; INFO for a figure that only explains one."""
    return "INFO" if passed is None else "PASS" if passed else "MISS"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--concurrency", default="1,64,256")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--accounts", type=int, default=512, help="seeded accounts")
    parser.add_argument("--members", type=int, default=10_000, help="members of the organization of `members`")
    parser.add_argument("--flood-connections", type=int, default=512,
                        help="connections offering the mixed scenario's login flood (the rate stays 4x the bound; "
                             "each open connection holds about 18 KiB of the server's memory)")
    parser.add_argument("--sessions", type=int, default=256, help="access tokens used by the GET scenarios")
    parser.add_argument("--totp-accounts", type=int, default=512,
                        help="accounts with an authenticator app for login_totp (each logs in once per run)")
    parser.add_argument("--webhooks", action="store_true",
                        help="register a webhook endpoint for every event (a receiver in this process answering 204), "
                             "to measure what telling of each change costs; implies --no-docs")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/BENCHMARKS.md, the plot or bench/results (the figures go to the temp directory)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the measured server (repeatable), to compare a setting against its "
                             "default; implies --no-docs")
    options = parser.parse_args()
    options.no_docs = options.no_docs or options.webhooks or bool(options.server_env)
    for setting in options.server_env:
        if "=" not in setting or not setting.startswith("GATEHOUSE_"):
            parser.error(f"--server-env wants GATEHOUSE_NAME=VALUE, not {setting!r}")
    if options.smoke:
        options.rounds, options.duration, options.concurrency = 1, 1, "1,16"
        options.scenarios, options.accounts, options.sessions = "healthz,user,forward,login,login_totp", 32, 32
        # Each login spends its account's code for the run, and each wrk thread cycles through
        # its own share: the share must outlast a second of logins at c=16 on a fast machine
        # (64 accounts, 4 a thread, were spent and replayed at 58 logins/s).
        options.totp_accounts = 256
        options.no_docs = True
    concurrencies = [int(c) for c in options.concurrency.split(",")]
    names = options.scenarios.split(",")
    for name in names:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name}")

    workdir = tempfile.mkdtemp(prefix="gatehouse-bench-")
    bench = Bench(options, workdir)
    for name, why in NOT_ON.get(bench.backend, {}).items():
        if name in names:
            log(f"skipping {name} on {bench.backend}: {why}")
            names.remove(name)
    if bench.backend == "dynamodb" and not options.no_docs:
        log("dynamodb: the local engine's figures are indicative only; they go to the temp directory (--no-docs)")
        options.no_docs = True
    server = None
    try:
        log(f"backend {bench.backend}, work in {workdir}")
        startup = bench.startup(1 if options.smoke else 7)
        bench.seed(options.accounts)
        extra_env = dict(bench.extra_env or {})
        extra_env.update(setting.split("=", 1) for setting in options.server_env)
        receiver = None
        if options.webhooks:
            # The receiver is on loopback, which webhooks may reach only when allowed.
            extra_env.update({"GATEHOUSE_WEBHOOK_ALLOW_PRIVATE": "true", "GATEHOUSE_ADMIN_EMAIL": "benchadmin@example.com",
                              "GATEHOUSE_ADMIN_PASSWORD": "bench admin passphrase"})
        server = Server(bench.binary, bench.database_url, workdir, extra_env)
        server.start()
        if options.webhooks:
            receiver = WebhookReceiver()
            receiver.register(server, "benchadmin@example.com", "bench admin passphrase")
        time.sleep(1)
        idle_rss = server.memory_kib()[0]
        if "login_totp" in names:
            bench.enrol_totp(server)
        pairs = bench.log_in_many(server, options.sessions)
        bench.tokens_file.write_text("\n".join(a for a, _ in pairs) + "\n")
        if "members" in names:
            owner, _ = bench.log_in_many(server, 1)[0]
            bench.seed_members(server, owner, options.members)
        if "user_org" in names:
            bench.enter_orgs(server, pairs)
        if "user_key" in names:
            bench.make_keys(server, pairs)
        if "forward_resource" in names:
            bench.client_tokens(server, options.sessions)
        if "forward_dpop" in names:
            bench.bound_tokens(server, options.sessions)
        bench.refresh_file.write_text("\n".join(r for _, r in pairs) + "\n")
        bounds, io_bounds, rounds = [], [], {}
        for n in range(options.rounds):
            bounds.append(bench.hash_bound(1 if options.smoke else 3))
            bound = statistics.median(b["per_second"] for b in bounds)
            log(f"round {n + 1}/{options.rounds}: bare Argon2id bound {bounds[-1]['per_second']:.1f}/s")
            if bench.backend == "postgres+redis" and "user" in names and not options.smoke:
                io_bounds.append(bench.io_bound(options.duration))
                log("  bare I/O bound at c=64: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in io_bounds[-1].items()))
            # Concurrency by concurrency, and each ratio's denominator measured on both sides of
            # its numerator (/healthz right before and right after GET /user at c=64, the bare
            # bound right before and right after each hashing scenario at c=64): this machine's
            # speed drifts by a quarter within a minute, and the mean of the two sides cancels a
            # steady drift.
            bracket = not options.smoke
            for c in concurrencies:
                for name in names:
                    if name == "login_totp" and c > TOTP_MAX_CONCURRENCY:
                        continue
                    before = bench.hash_bound(2) if bracket and name in HASHING and c == 64 else None
                    row = bench.scenario(server, name, c, options.duration, bound)
                    if before:
                        after = bench.hash_bound(2)
                        row["adjacent_bound"] = {
                            key: (before[key] + after[key]) / 2 for key in ("per_second", "cpu_ms_per_verify")}
                    if bracket and name == "user" and c == 64 and "healthz" in names:
                        time.sleep(0.5)
                        row["healthz_after"] = bench.scenario(server, "healthz", c, options.duration, bound)["req_per_s"]
                    rounds.setdefault(name, {}).setdefault(str(c), []).append(row)
                    calls = (f"  engine calls/req {row['engine_calls_per_req']:.2f}"
                             if row.get("engine_calls_per_req") is not None else "")
                    log(f"  {name:9} c={c:<3} {row['req_per_s']:9.1f} req/s  ok {row['ok_per_s']:9.1f}/s  "
                        f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  errors {row['errors']}{calls}")
                    time.sleep(0.5)
        time.sleep(2)
        after_rss, lifetime_peak = server.memory_kib()
        if receiver:
            log(f"webhook deliveries received: {receiver.count}")
            receiver.close()
    finally:
        if server:
            server.stop()
        bench.close()

    results = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "backend": bench.backend,
        "machine": machine(),
        "options": {"rounds": options.rounds, "duration_s": options.duration, "concurrency": concurrencies,
                    "flood_connections": options.flood_connections,
                    "accounts": options.accounts, "sessions": options.sessions, "smoke": options.smoke},
        "hash_bound": {"per_second": statistics.median(b["per_second"] for b in bounds),
                       "cpu_ms_per_verify": statistics.median(b["cpu_ms_per_verify"] for b in bounds),
                       "threads": bounds[0]["threads"], "all": bounds},
        "io_bound": {k: statistics.median(b[k] for b in io_bounds) for k in io_bounds[0]} if io_bounds else None,
        "startup_ms": {"median": statistics.median(startup) * 1000, "all": [s * 1000 for s in startup]},
        "memory": {"idle_rss_mib": idle_rss / 1024, "rss_after_run_mib": after_rss / 1024},
        "median": {name: {c: median_rows(rows) for c, rows in by_c.items()} for name, by_c in rounds.items()},
        "rounds": rounds,
    }
    results["targets"] = targets(results)

    if options.smoke:
        problems = []
        for name, by_c in results["median"].items():
            for c, row in by_c.items():
                if not row["ok_per_s"] or row["errors"]:
                    problems.append(f"{name} c={c}: {row['ok_per_s']:.1f} ok/s, {row['errors']} errors")
        print(json.dumps({k: results[k] for k in ("backend", "hash_bound", "startup_ms", "memory")}, indent=1))
        for name, by_c in results["median"].items():
            for c, row in by_c.items():
                print(f"{name:9} c={c:<3} {row['req_per_s']:9.1f} req/s  p99 {row['p99_ms']:7.2f} ms  "
                      f"errors {row['errors']}")
        shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            print("benchmark smoke run FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print("benchmark smoke run: the harness works (targets are not asserted here)")
        return 0

    # With --no-docs (a partial or experimental run) the committed results stay as they are.
    out_dir = Path(tempfile.gettempdir()) if options.no_docs else ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    name = "latest.json" if bench.backend == "sqlite" else f"latest-{bench.backend.replace('+', '-')}.json"
    if options.no_docs:
        name = f"gatehouse-bench-{name}"
    (out_dir / name).write_text(json.dumps(results, indent=1) + "\n")
    log(f"wrote {out_dir / name}")
    for check in results["targets"]:
        value = "–" if check["value"] is None else f"{check['value']:.3g}"
        log(f"{verdict(check['pass'])}  {check['target']}: {value} ({check['need']}) "
            f"{check['note']}")
    if not options.no_docs:
        subprocess.run([sys.executable, str(ROOT / "bench" / "report.py")], check=True)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
