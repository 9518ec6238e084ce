"""What the tests share: real gatehouse processes, HTTP calls, accounts, tokens and emails.

Every gatehouse here is the binary that ``GATEHOUSE_E2E_BIN`` names (tests/run.sh sets it),
started on a free port of 127.0.0.1 with a fresh SQLite database in a temporary directory and
stopped with SIGTERM, which must end it with status 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ADMIN_EMAIL = "admin@example.com"

# Calls to 127.0.0.1 never go through a proxy of the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gatehouse_binary() -> Path:
    named = os.environ.get("GATEHOUSE_E2E_BIN")
    if named:
        path = Path(named)
    else:
        target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "gatehouse-target")
        path = Path(target) / "release" / "gatehouse"
    if not os.access(path, os.X_OK):
        pytest.exit(f"no gatehouse binary at {path}: set GATEHOUSE_E2E_BIN or run tests/run.sh", returncode=2)
    return path


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request; any status is an answer."""
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=15) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def redacted(body: bytes) -> str:
    """An answer's body for a failure message, without the tokens it may hold."""
    text = body[:500].decode(errors="replace")
    text = re.sub(r'"(access_token|refresh_token|mfa_token|id_token|client_secret|secret)"\s*:\s*"[^"]*"', r'"\1":"…"', text)
    return re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]*", "…", text)


def expect(answer: Answer, status: int, what: str) -> Any:
    assert answer.status == status, f"{what}: {answer.status} {redacted(answer.body)}"
    return answer.json() if answer.body else None


@dataclass
class Gatehouse:
    """One gatehouse process; restartable on the same port and database."""

    binary: Path
    directory: Path
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=lambda: f"python middleware tests {secrets.token_hex(8)}", repr=False)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "gatehouse.log"

    def environment(self) -> dict[str, str]:
        # None of the caller's gatehouse settings: only these.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_") and k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            GATEHOUSE_BIND=f"127.0.0.1:{self.port}",
            GATEHOUSE_PUBLIC_URL=self.base,
            GATEHOUSE_DATABASE_URL=f"sqlite://{self.directory}/gatehouse.db",
            GATEHOUSE_ADMIN_EMAIL=ADMIN_EMAIL,
            GATEHOUSE_ADMIN_PASSWORD=self.admin_password,
            GATEHOUSE_LOG_FORMAT="json",
        )
        env.update(self.settings)
        return env

    def start(self, **settings: str) -> Gatehouse:
        """Starts it (with these settings added) and waits until /healthz answers 200."""
        assert self.process is None, "already running"
        self.settings.update(settings)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve"],
                cwd=self.directory,  # no .env or gatehouse.toml of the clone is read
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gatehouse exited with {self.process.returncode} at start:\n{self.tail()}")
            try:
                if call("GET", f"{self.base}/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gatehouse did not answer /healthz within 60 s:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM; it must exit 0 within 15 s."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"gatehouse did not stop within 15 s of SIGTERM:\n{self.tail()}") from None
        assert status == 0, f"gatehouse exited with status {status} on SIGTERM (expected 0):\n{self.tail()}"

    def restart(self, **settings: str) -> Gatehouse:
        self.stop()
        return self.start(**settings)

    def command(self, *args: str) -> str:
        """Runs `gatehouse ARGS...` on the same database; its standard output."""
        done = subprocess.run(
            [str(self.binary), *args],
            cwd=self.directory,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"gatehouse {' '.join(args)}: {done.returncode}\n{done.stderr}"
        return done.stdout

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------------------------------
    # Accounts and tokens.

    def log_in(self, email: str, password: str) -> dict[str, Any]:
        """POST /auth: the token pair."""
        return dict(expect(call("POST", f"{self.base}/auth", body={"email": email, "password": password}), 200, f"log in {email}"))

    def admin_token(self) -> str:
        return str(self.log_in(ADMIN_EMAIL, self.admin_password)["access_token"])

    def active_account(self, label: str) -> tuple[str, str, str]:
        """An active account made by the admin: (id, email, password)."""
        email, password = fresh_email(label), fresh_password()
        made = expect(
            call("POST", f"{self.base}/admin/users", token=self.admin_token(), body={"email": email, "password": password}),
            201,
            "POST /admin/users",
        )
        return made["id"], email, password

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(expect(call("POST", f"{self.base}/auth/refresh", body={"refresh_token": refresh_token}), 200, "refresh"))

    def emailed_link(self, to: str, kind: str) -> str:
        """The link of the last email of a kind gatehouse wrote to its log for an address."""
        deadline = time.monotonic() + 10
        while True:
            link = None
            for line in self.log.read_text(errors="replace").splitlines():
                if not line.startswith("{"):
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("to") != to or entry.get("kind") != kind or not isinstance(entry.get("message"), str):
                    continue
                found = re.search(r"^(https?://\S+\?token=\S+)$", entry["message"], re.MULTILINE)
                if found:
                    link = found.group(1)
            if link:
                return link
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} email to {to} in {self.log}")
            time.sleep(0.2)

    def jwks_fetches(self) -> int:
        """How many times the JWKS was served since this process started (from /metrics)."""
        text = call("GET", f"{self.base}/metrics").body.decode()
        found = re.search(
            r'^gatehouse_http_requests_total\{method="GET",route="/\.well-known/jwks\.json",status="200"\} (\d+)',
            text,
            re.MULTILINE,
        )
        return int(found.group(1)) if found else 0


def fresh_email(label: str) -> str:
    return f"{label}-{secrets.token_hex(5)}@example.com"


def fresh_password() -> str:
    return f"amber {secrets.token_hex(6)} lantern orchard"


def totp(secret: str, at: float | None = None) -> str:
    """The RFC 6238 code (HMAC-SHA1, 30 s, 6 digits) of a base32 secret."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int((time.time() if at is None else at) // 30))
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{number:06d}"


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (to read exp)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def header_of(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def until_expired(token: str, leeway: float) -> None:
    """Sleeps until a verifier with this leeway refuses the token as expired."""
    wait = claims_of(token)["exp"] + leeway + 1.2 - time.time()
    if wait > 0:
        time.sleep(wait)


def start_gatehouse(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str) -> Gatehouse:
    return Gatehouse(gatehouse_binary(), tmp_path_factory.mktemp(name), dict(settings)).start()


@pytest.fixture(scope="session")
def gatehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gatehouse]:
    """The gatehouse most tests share. Access tokens live 3 s, so that they expire in a test."""
    server = start_gatehouse(tmp_path_factory, "gatehouse", GATEHOUSE_ACCESS_TOKEN_TTL="3s")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def enrolment_gatehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gatehouse]:
    """A gatehouse requiring a second factor of admins: the bootstrap admin, without one, logs
    in to an enrolment-only session (aal 0)."""
    server = start_gatehouse(tmp_path_factory, "enrolment", GATEHOUSE_MFA_REQUIRED="admins")
    yield server
    server.stop()


@dataclass
class Login:
    id: str
    email: str
    password: str
    pair: dict[str, Any]

    @property
    def token(self) -> str:
        return str(self.pair["access_token"])


def logged_in(gatehouse: Gatehouse, label: str) -> Login:
    account_id, email, password = gatehouse.active_account(label)
    return Login(account_id, email, password, gatehouse.log_in(email, password))


def with_second_factor(gatehouse: Gatehouse, login: Login) -> Login:
    """Enrols an authenticator app for the login's account; the pair refreshed at aal 2."""
    base = gatehouse.base
    secret = expect(call("POST", f"{base}/mfa/totp", token=login.token, body={"password": login.password}), 200, "enrol")["secret"]
    expect(call("POST", f"{base}/mfa/totp/confirm", token=login.token, body={"code": totp(secret)}), 200, "confirm")
    return Login(login.id, login.email, login.password, gatehouse.refresh(login.pair["refresh_token"]))
