#!/usr/bin/env python3
"""End-to-end regression test of a running gatehouse, over HTTP, with a real mail catcher.

Runs the whole user story (sign up, confirm by the emailed link, log in, protected resources,
profile, refresh-token rotation and reuse detection, logout, password change, password reset by
the emailed link, deletion) against a gatehouse that is already running, reading the emails
from Mailpit or MailDev. Every run uses fresh, unique addresses, so it can run against a shared
stack, any number of times.

    python3 e2e/e2e.py --base http://127.0.0.1:8080 --mailpit http://127.0.0.1:8025
    python3 e2e/e2e.py --base http://127.0.0.1:8080 --maildev http://127.0.0.1:1080

Prints one line per step ("ok  <step>", "FAIL <step>: expected ..., got ...", or "SKIP <step>"
when an earlier failure left it nothing to work with), then "N passed, M failed" alone on the
last line. Exit status: 0 when every step passed, 1 otherwise, 2 on a usage error. Passwords
and tokens are never printed.

Python 3.11+, standard library only.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import re
import secrets
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

PROBLEM_JSON = "application/problem+json"

# --------------------------------------------------------------------------------------------
# Keeping secrets out of the output


SECRETS: set[str] = set()


def secret(value: str) -> str:
    """Registers a password or token so that it is never printed, and returns it."""
    if value:
        SECRETS.add(value)
    return value


_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)*")
_TOKEN_PARAM = re.compile(r"(token=)[^&\s\"'<>]+")
_SECRET_FIELD = re.compile(r"(\"(?:access_token|refresh_token|token|password|current_password|new_password)\"\s*:\s*\")[^\"]*(\")")


def redact(text: str) -> str:
    for value in sorted(SECRETS, key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    text = _JWT.sub("<redacted-jwt>", text)
    text = _TOKEN_PARAM.sub(r"\1<redacted>", text)
    return _SECRET_FIELD.sub(r"\1<redacted>\2", text)


def shorten(text: str, limit: int = 240) -> str:
    """Redacts, then shortens (in this order, so no secret is cut to an unrecognisable piece)."""
    text = redact(text)
    return text if len(text) <= limit else text[:limit] + "…"


# --------------------------------------------------------------------------------------------
# HTTP


class Fail(Exception):
    """A deviation from the contract; the message says what was expected and what came."""


class Skip(Exception):
    """An earlier step failed to produce what this one needs."""


class Response:
    def __init__(self, method: str, url: str, status: int, headers: Any, body: bytes):
        self.method = method
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise Fail(f"expected a JSON body from {self.method} {redact(self.path)}, got {self.describe()}") from None

    @property
    def path(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def describe(self) -> str:
        """The status, type, problem code and (a redacted, shortened) body, for failure messages."""
        summary = f"HTTP {self.status}"
        if self.content_type:
            summary += f" ({self.content_type})"
        if self.content_type in ("application/json", PROBLEM_JSON):
            try:
                body = json.loads(self.body)
                if isinstance(body, dict) and "code" in body:
                    summary += f" code={body['code']!r}"
            except ValueError:
                pass
        snippet = shorten(" ".join(self.text.split()))
        if snippet:
            summary += f": {snippet}"
        return redact(summary)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


class Client:
    def __init__(self, base: str, timeout: float):
        self.base = base.rstrip("/")
        self.timeout = timeout
        # No proxies (the service is usually on localhost) and no redirects (we assert on them).
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def url(self, path: str) -> str:
        return path if re.match(r"https?://", path) else self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Response:
        url = self.url(path)
        data = None
        all_headers = {"Accept": accept, "User-Agent": "gatehouse-e2e"}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers["Content-Type"] = content_type
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                return Response(method, url, resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(method, url, err.code, err.headers, err.read())
        except (urllib.error.URLError, OSError, http.client.HTTPException, socket.timeout) as err:
            reason = getattr(err, "reason", err)
            raise Fail(f"expected an HTTP answer to {method} {redact(self.url(path))}, got no answer: {redact(str(reason))}") from None


# --------------------------------------------------------------------------------------------
# Assertions


def expect_status(resp: Response, status: int) -> None:
    if resp.status != status:
        raise Fail(f"expected HTTP {status} from {resp.method} {redact(resp.path)}, got {resp.describe()}")


def expect_json(resp: Response, status: int) -> dict:
    expect_status(resp, status)
    if resp.content_type != "application/json":
        raise Fail(f"expected application/json from {resp.method} {redact(resp.path)}, got {resp.describe()}")
    body = resp.json()
    if not isinstance(body, dict):
        raise Fail(f"expected a JSON object from {resp.method} {redact(resp.path)}, got {resp.describe()}")
    return body


def expect_problem(resp: Response, status: int, code: str) -> dict:
    """An RFC 9457 problem with this status and this stable `code`."""
    if resp.status != status or resp.content_type != PROBLEM_JSON:
        raise Fail(f"expected HTTP {status} {PROBLEM_JSON} code={code!r} from {resp.method} {redact(resp.path)}, got {resp.describe()}")
    body = resp.json()
    if not isinstance(body, dict) or body.get("code") != code:
        raise Fail(f"expected problem code {code!r} from {resp.method} {redact(resp.path)}, got {resp.describe()}")
    if body.get("status") != status:
        raise Fail(f"expected problem \"status\": {status}, got {body.get('status')!r}")
    return body


def expect_eq(what: str, expected: Any, got: Any) -> None:
    if expected != got:
        raise Fail(f"expected {what} {shorten(repr(expected))}, got {shorten(repr(got))}")


def expect_true(what: str, condition: bool, got: Any) -> None:
    if not condition:
        raise Fail(f"expected {what}, got {shorten(repr(got))}")


def expect_unauthorized(resp: Response, token_sent: bool) -> None:
    """401 unauthorized with the RFC 6750 challenge."""
    expect_problem(resp, 401, "unauthorized")
    challenge = resp.header("www-authenticate") or ""
    expect_true('a WWW-Authenticate: Bearer realm="gatehouse" challenge', challenge.startswith("Bearer") and 'realm="gatehouse"' in challenge, challenge)
    if token_sent:
        expect_true('error="invalid_token" in WWW-Authenticate', 'error="invalid_token"' in challenge, challenge)


def jwt_part(token: str, index: int) -> dict:
    try:
        part = token.split(".")[index]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as err:
        raise Fail(f"expected the access token to be a JWT, got an undecodable token ({type(err).__name__})") from None


# --------------------------------------------------------------------------------------------
# Mail catchers


class MailCatcher:
    """Finds the newest link of a kind in the plain-text part of the emails to one address."""

    name = "mail catcher"

    def __init__(self, url: str, timeout: float):
        self.client = Client(url, timeout)
        self.used: set[str] = set()

    def messages_to(self, address: str) -> list[tuple[str, str]]:
        """(id, plain text) of every message to this address, oldest first."""
        raise NotImplementedError

    def get_json(self, path: str) -> Any:
        resp = self.client.request("GET", path)
        if resp.status != 200:
            raise Fail(f"expected HTTP 200 from the {self.name} API at {resp.url}, got {resp.describe()}")
        return resp.json()

    def wait_for_link(self, address: str, public_url: str, path: str, deadline_s: float) -> str:
        pattern = re.compile(r"^" + re.escape(public_url.rstrip("/") + path) + r"\?token=[^\s]+$")
        deadline = time.monotonic() + deadline_s
        while True:
            messages = self.messages_to(address)
            others = []
            for message_id, text in messages:
                if message_id in self.used:
                    continue
                for line in text.splitlines():
                    if "token=" in line and path in line:
                        others.append(line.strip())
                    if pattern.match(line.strip()):
                        self.used.add(message_id)
                        link = secret(line.strip())
                        for token in urllib.parse.parse_qs(urllib.parse.urlsplit(link).query).get("token", []):
                            secret(token)
                        return link
            if time.monotonic() >= deadline:
                found = f"; the {path} links in them: {', '.join(others)}" if others else ""
                hint = " (pass --public-url when GATEHOUSE_PUBLIC_URL differs from --base)" if others else ""
                raise Fail(
                    f"expected an email to {address} with a line of its own holding {public_url.rstrip('/')}{path}?token=<token>"
                    f" within {deadline_s:g} s, got {len(messages)} message(s) to that address and no such line{found}{hint}"
                )
            time.sleep(0.5)


class MailDev(MailCatcher):
    """MailDev: GET /email (MailDev 1–2) or GET /api/email (MailDev 3), a list with "to", "text"."""

    name = "MailDev"

    def __init__(self, url: str, timeout: float):
        super().__init__(url, timeout)
        self.list_path: str | None = None

    def _list(self) -> list:
        if self.list_path is None:
            for path in ("/email", "/api/email"):
                resp = self.client.request("GET", path)
                if resp.status == 200 and resp.content_type == "application/json" and isinstance(resp.json(), list):
                    self.list_path = path
                    return resp.json()
            raise Fail(f"expected MailDev's API (a JSON list at GET /email or /api/email) at {self.client.base}, got {resp.describe()}")
        body = self.get_json(self.list_path)
        if not isinstance(body, list):
            raise Fail(f"expected a JSON list from MailDev's GET {self.list_path}, got {type(body).__name__}")
        return body

    def messages_to(self, address: str) -> list[tuple[str, str]]:
        found = []
        for email in self._list():
            recipients = [str(r.get("address", "")).lower() for r in email.get("to") or [] if isinstance(r, dict)]
            if address.lower() in recipients:
                found.append((str(email.get("id")), email.get("text") or ""))
        return found


class Mailpit(MailCatcher):
    """Mailpit: GET /api/v1/messages (newest first), GET /api/v1/message/{ID} with "Text"."""

    name = "Mailpit"

    def __init__(self, url: str, timeout: float):
        super().__init__(url, timeout)
        self.texts: dict[str, str] = {}

    def messages_to(self, address: str) -> list[tuple[str, str]]:
        body = self.get_json("/api/v1/messages?limit=200")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise Fail(f'expected Mailpit\'s {{"messages": [...]}} from GET /api/v1/messages, got {shorten(str(body))}')
        found = []
        for summary in reversed(body["messages"]):
            recipients = [str(r.get("Address", "")).lower() for r in summary.get("To") or [] if isinstance(r, dict)]
            if address.lower() not in recipients:
                continue
            message_id = str(summary.get("ID"))
            if message_id not in self.texts:
                message = self.get_json(f"/api/v1/message/{urllib.parse.quote(message_id)}")
                self.texts[message_id] = message.get("Text") or "" if isinstance(message, dict) else ""
            found.append((message_id, self.texts[message_id]))
        return found


# --------------------------------------------------------------------------------------------
# The story


class Story:
    def __init__(self, api: Client, mail: MailCatcher, public_url: str, mail_wait: float):
        self.api = api
        self.mail = mail
        self.public_url = public_url.rstrip("/")
        self.mail_wait = mail_wait
        self.state: dict[str, Any] = {}

        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        tag = secrets.token_hex(3)
        self.email = f"e2e-{stamp}-{tag}@example.com"
        self.unknown_email = f"e2e-{stamp}-{tag}-nobody@example.com"
        self.username = f"e2e_{stamp}_{tag}"
        self.phone = "+49 30 1234567"
        # Long random passwords: never common, never reused between runs.
        self.password = secret("E2e-first-" + secrets.token_urlsafe(15))
        self.changed_password = secret("E2e-changed-" + secrets.token_urlsafe(15))
        self.reset_password = secret("E2e-reset-" + secrets.token_urlsafe(15))

    # helpers ---------------------------------------------------------------------------------

    def need(self, *keys: str) -> Any:
        missing = [k for k in keys if k not in self.state]
        if missing:
            raise Skip(f"needs {', '.join(missing)} from an earlier step that failed")
        values = [self.state[k] for k in keys]
        return values[0] if len(values) == 1 else values

    def link_on_base(self, link: str) -> str:
        """The emailed link, requested on --base (the same URL unless --public-url differs)."""
        return self.api.base + link[len(self.public_url):]

    def login(self, password: str) -> Response:
        return self.api.request("POST", "/auth", json_body={"email": self.email, "password": password})

    def login_ok(self, password: str, key: str) -> dict:
        body = expect_json(self.login(password), 200)
        expect_true("an access_token", isinstance(body.get("access_token"), str) and body["access_token"], "(missing)")
        self.state[key] = secret(body["access_token"])
        if isinstance(body.get("refresh_token"), str):
            secret(body["refresh_token"])
        return body

    def protected(self, token: str) -> Response:
        return self.api.request("GET", "/protected", token=token)

    def still_valid(self, key: str) -> None:
        body = expect_json(self.protected(self.need(key)), 200)
        expect_eq("/protected user_id", self.need("id"), body.get("user_id"))

    def revoked(self, key: str) -> None:
        expect_unauthorized(self.protected(self.need(key)), token_sent=True)

    # steps -----------------------------------------------------------------------------------

    def step_ready(self) -> None:
        resp = self.api.request("GET", "/readyz")
        expect_status(resp, 200)
        anonymous = expect_json(self.api.request("GET", "/"), 200)
        expect_eq('anonymous GET / "message"', "Hello World", anonymous.get("message"))

    def step_sign_up(self) -> None:
        body = {
            "email": self.email,
            "password": self.password,
            "username": self.username,
            "name": "E2E Tester",
            "phone": self.phone,
        }
        resp = self.api.request("POST", "/user", json_body=body, headers={"X-Request-Id": "e2e-sign-up"})
        account = expect_json(resp, 201)
        if isinstance(account.get("id"), str) and account["id"]:
            self.state["id"] = account["id"]
        expect_true("an account id (UUID)", re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", str(account.get("id"))) is not None, account.get("id"))
        location = resp.header("location") or ""
        expect_true(f"a Location header ending in /user/{account['id']}", location.endswith(f"/user/{account['id']}"), location)
        expect_eq('"status"', "pending", account.get("status"))
        expect_eq('"email"', self.email, account.get("email"))
        expect_eq('"username"', self.username, account.get("username"))
        expect_eq('"email_verified"', False, account.get("email_verified"))
        expect_eq('"data" (unknown top-level fields are kept in data)', {"phone": self.phone}, account.get("data"))
        leaked = [k for k in account if "password" in k.lower()]
        expect_eq("no password field in the account", [], leaked)
        expect_eq("the echoed x-request-id", "e2e-sign-up", resp.header("x-request-id"))

    def step_protected_anonymous(self) -> None:
        expect_unauthorized(self.api.request("GET", "/protected"), token_sent=False)

    def step_login_pending(self) -> None:
        self.need("id")
        expect_problem(self.login(self.password), 403, "account_not_activated")

    def step_activation_email(self) -> None:
        self.need("id")
        link = self.mail.wait_for_link(self.email, self.public_url, "/activate", self.mail_wait)
        self.state["activation_link"] = link

    def step_activate(self) -> None:
        link = self.need("activation_link")
        body = expect_json(self.api.request("GET", self.link_on_base(link)), 200)
        user = body.get("user") or {}
        expect_eq('"user.status" after following the link', "active", user.get("status"))
        self.state["activated"] = True
        expect_eq('"user.email_verified"', True, user.get("email_verified"))
        expect_eq('"user.id"', self.need("id"), user.get("id"))

    def step_activate_again(self) -> None:
        link = self.need("activation_link")
        body = expect_json(self.api.request("GET", self.link_on_base(link)), 200)
        expect_eq('"user.status" on the second click', "active", (body.get("user") or {}).get("status"))

    def step_login(self) -> None:
        self.need("activated")
        body = self.login_ok(self.password, "access")
        expect_eq('"token_type"', "Bearer", body.get("token_type"))
        expires_in = body.get("expires_in")
        expect_true('"expires_in" a positive integer', isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0, expires_in)
        refresh = body.get("refresh_token")
        expect_true('a "refresh_token" string', isinstance(refresh, str) and len(refresh) >= 16, "(missing or short)")
        self.state["refresh"] = secret(refresh)
        expect_eq('"user.id"', self.need("id"), (body.get("user") or {}).get("id"))
        header = jwt_part(body["access_token"], 0)
        claims = jwt_part(body["access_token"], 1)
        expect_eq("JWT alg", "EdDSA", header.get("alg"))
        expect_true("a JWT kid", isinstance(header.get("kid"), str) and header["kid"], header.get("kid"))
        self.state["kid"] = header["kid"]
        expect_eq("JWT sub", self.state["id"], claims.get("sub"))
        for claim in ("iss", "sid", "iat", "exp", "jti"):
            expect_true(f"JWT claim {claim!r}", claim in claims, sorted(claims))
        expect_eq("JWT exp - iat (= expires_in)", expires_in, claims["exp"] - claims["iat"])

    def step_jwks(self) -> None:
        kid = self.need("kid")
        body = expect_json(self.api.request("GET", "/.well-known/jwks.json"), 200)
        keys = [k for k in body.get("keys") or [] if isinstance(k, dict) and k.get("kid") == kid]
        expect_true(f"the token's kid {kid!r} in the JWKS", len(keys) == 1, [k.get("kid") for k in body.get("keys") or [] if isinstance(k, dict)])
        expect_eq("JWKS key type", ("OKP", "Ed25519"), (keys[0].get("kty"), keys[0].get("crv")))

    def step_protected(self) -> None:
        body = expect_json(self.protected(self.need("access")), 200)
        expect_eq('"user_id"', self.need("id"), body.get("user_id"))
        expect_true('a "message"', isinstance(body.get("message"), str), body.get("message"))

    def step_hello(self) -> None:
        body = expect_json(self.api.request("GET", "/", token=self.need("access")), 200)
        expect_eq('"message"', f"Hello {self.username}", body.get("message"))
        expect_eq('"user.id"', self.need("id"), (body.get("user") or {}).get("id"))

    def step_me(self) -> None:
        body = expect_json(self.api.request("GET", "/user", token=self.need("access")), 200)
        expect_eq('"id"', self.need("id"), body.get("id"))
        expect_eq('"email"', self.email, body.get("email"))
        expect_eq('"status"', "active", body.get("status"))
        expect_eq('"role"', "user", body.get("role"))

    def step_patch(self) -> None:
        resp = self.api.request(
            "PATCH",
            f"/user/{self.username}",
            json_body={"data": {"city": "Berlin"}},
            token=self.need("access"),
            content_type="application/merge-patch+json",
        )
        body = expect_json(resp, 200)
        expect_eq('"data" after the merge patch', {"phone": self.phone, "city": "Berlin"}, body.get("data"))
        expect_eq('"name" (untouched by the patch)', "E2E Tester", body.get("name"))
        again = expect_json(self.api.request("GET", "/user", token=self.need("access")), 200)
        expect_eq('"data" read back', {"phone": self.phone, "city": "Berlin"}, again.get("data"))

    def step_refresh(self) -> None:
        old = self.need("refresh")
        body = expect_json(self.api.request("POST", "/auth/refresh", json_body={"refresh_token": old}), 200)
        new_access, new_refresh = body.get("access_token"), body.get("refresh_token")
        expect_true("a new access_token and refresh_token", isinstance(new_access, str) and isinstance(new_refresh, str), "(missing)")
        self.state["refreshed_access"] = secret(new_access)
        self.state["refreshed_refresh"] = secret(new_refresh)
        expect_true("a refresh_token different from the spent one", new_refresh != old, "the same token")
        expect_eq('"token_type"', "Bearer", body.get("token_type"))
        self.still_valid("refreshed_access")

    def step_refresh_replay(self) -> None:
        old = self.need("refresh", "refreshed_refresh")[0]
        body = expect_json(self.api.request("POST", "/auth/refresh", json_body={"refresh_token": old}), 200)
        expect_eq("the refresh token of a replay within the grace period", self.state["refreshed_refresh"], body.get("refresh_token"))

    def step_refresh_again(self) -> None:
        current = self.need("refreshed_refresh")
        body = expect_json(self.api.request("POST", "/auth/refresh", json_body={"refresh_token": current}), 200)
        newest = body.get("refresh_token")
        expect_true("a new refresh_token", isinstance(newest, str) and newest != current, "(missing or the same)")
        self.state["newest_refresh"] = secret(newest)
        self.state["refreshed_access"] = secret(body.get("access_token"))

    def step_refresh_reuse(self) -> None:
        old = self.need("refresh", "refreshed_access")[0]
        expect_problem(self.api.request("POST", "/auth/refresh", json_body={"refresh_token": old}), 400, "token_invalid")

    def step_reuse_revokes(self) -> None:
        self.revoked("refreshed_access")
        expect_problem(
            self.api.request("POST", "/auth/refresh", json_body={"refresh_token": self.need("newest_refresh")}),
            400,
            "token_invalid",
        )

    def step_login_again(self) -> None:
        self.need("activated")
        self.login_ok(self.password, "access2")
        self.still_valid("access2")

    def step_logout(self) -> None:
        resp = self.api.request("DELETE", "/auth", token=self.need("access2"))
        expect_status(resp, 204)
        expect_eq("an empty 204 body", b"", resp.body)

    def step_logged_out(self) -> None:
        self.revoked("access2")

    def step_password_change(self) -> None:
        self.need("activated")
        self.login_ok(self.password, "before_change")
        resp = self.api.request(
            "POST",
            "/password/change",
            json_body={"email": self.email, "current_password": self.password, "new_password": self.changed_password},
        )
        expect_status(resp, 204)
        self.state["changed"] = True

    def step_change_ends_sessions(self) -> None:
        self.need("changed")
        self.revoked("before_change")

    def step_old_password_refused(self) -> None:
        self.need("changed")
        expect_problem(self.login(self.password), 401, "invalid_credentials")

    def step_new_password(self) -> None:
        self.need("changed")
        self.login_ok(self.changed_password, "after_change")
        self.still_valid("after_change")

    def step_forgot(self) -> None:
        self.need("activated")
        known = self.api.request("POST", "/password/forgot", json_body={"email": self.email})
        expect_status(known, 202)
        unknown = self.api.request("POST", "/password/forgot", json_body={"email": self.unknown_email})
        expect_status(unknown, 202)
        expect_eq("the same 202 body for an unknown address", known.body, unknown.body)
        expect_eq("the same content type for an unknown address", known.content_type, unknown.content_type)
        self.state["forgot"] = True

    def step_reset_email(self) -> None:
        self.need("forgot")
        self.state["reset_link"] = self.mail.wait_for_link(self.email, self.public_url, "/password/reset", self.mail_wait)

    def step_reset_form(self) -> None:
        link = self.need("reset_link")
        resp = self.api.request("GET", self.link_on_base(link), accept="text/html")
        expect_status(resp, 200)
        expect_eq("the reset form's content type", "text/html", resp.content_type)
        form = re.search(r"<form\b([^>]*)>(.*?)</form>", resp.text, re.IGNORECASE | re.DOTALL)
        expect_true("an HTML <form> on the page", form is not None, resp.text)
        attributes, inner = form.group(1), form.group(2)
        method = re.search(r"""method\s*=\s*["']?(\w+)""", attributes, re.IGNORECASE)
        expect_eq("the form's method", "post", method.group(1).lower() if method else "get")
        action = re.search(r"""action\s*=\s*["']([^"']*)["']""", attributes, re.IGNORECASE)
        target = urllib.parse.urljoin(resp.url, action.group(1) if action else "")
        expect_eq("the path the form posts to", "/password/reset", urllib.parse.urlsplit(target).path)
        for field in ("token", "new_password"):
            expect_true(f"a form field named {field!r}", re.search(rf"""name\s*=\s*["']{field}["']""", inner) is not None, "(none)")

    def step_reset(self) -> None:
        link = self.need("reset_link")
        token = secret(urllib.parse.parse_qs(urllib.parse.urlsplit(link).query).get("token", [""])[0])
        self.state["reset_token"] = token
        resp = self.api.request("POST", "/password/reset", json_body={"token": token, "new_password": self.reset_password})
        expect_status(resp, 204)
        self.state["reset"] = True

    def step_reset_again(self) -> None:
        token = self.need("reset_token")
        resp = self.api.request("POST", "/password/reset", json_body={"token": token, "new_password": self.reset_password + "x"})
        expect_problem(resp, 400, "token_invalid")

    def step_reset_ends_sessions(self) -> None:
        self.need("reset")
        self.revoked("after_change")

    def step_login_reset(self) -> None:
        self.need("reset")
        self.login_ok(self.reset_password, "after_reset")
        self.still_valid("after_reset")
        expect_problem(self.login(self.changed_password), 401, "invalid_credentials")

    def step_delete(self) -> None:
        resp = self.api.request("DELETE", f"/user/{self.need('id')}", token=self.need("after_reset"))
        expect_status(resp, 204)
        self.state["deleted"] = True

    def step_deleted_session(self) -> None:
        self.need("deleted")
        self.revoked("after_reset")

    def step_deleted_login(self) -> None:
        self.need("deleted")
        expect_problem(self.login(self.reset_password), 401, "invalid_credentials")

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("service ready (GET /readyz 200, anonymous GET / Hello World)", self.step_ready),
            ("sign up (201, Location, status pending)", self.step_sign_up),
            ("GET /protected without a token is 401 unauthorized", self.step_protected_anonymous),
            ("login before activation is 403 account_not_activated", self.step_login_pending),
            ("confirmation email arrives with the link on a line of its own", self.step_activation_email),
            ("GET the activation link (200, status active)", self.step_activate),
            ("GET the activation link again (200, still active)", self.step_activate_again),
            ("login (200, Bearer, expires_in, refresh_token, EdDSA JWT)", self.step_login),
            ("the token's kid is in /.well-known/jwks.json", self.step_jwks),
            ("GET /protected with the token (200, user_id)", self.step_protected),
            ("GET / with the token (Hello <username>)", self.step_hello),
            ("GET /user (own account)", self.step_me),
            ('PATCH /user/{username} {"data":{"city":"Berlin"}} (merged)', self.step_patch),
            ("refresh (200, new refresh token differs, new access token works)", self.step_refresh),
            ("the spent refresh token again at once (a second tab): the same new refresh token", self.step_refresh_replay),
            ("refresh once more (the first token is now two rotations old)", self.step_refresh_again),
            ("reusing the first, long-spent refresh token is 400 token_invalid", self.step_refresh_reuse),
            ("the reuse revoked the session (new access token 401, new refresh token 400)", self.step_reuse_revokes),
            ("login again (200)", self.step_login_again),
            ("logout (204)", self.step_logout),
            ("the logged-out token is 401", self.step_logged_out),
            ("password change with email/current/new (204)", self.step_password_change),
            ("password change without a token ended the earlier session (401)", self.step_change_ends_sessions),
            ("login with the old password is 401 invalid_credentials", self.step_old_password_refused),
            ("login with the new password (200)", self.step_new_password),
            ("forgot password (202, same body for an unknown address)", self.step_forgot),
            ("reset email arrives with the link on a line of its own", self.step_reset_email),
            ("GET the reset link shows the form (200, text/html)", self.step_reset_form),
            ("POST /password/reset JSON (204)", self.step_reset),
            ("the same reset link again is 400 token_invalid", self.step_reset_again),
            ("the reset ended every session (401)", self.step_reset_ends_sessions),
            ("login with the reset password (200; the previous one is 401)", self.step_login_reset),
            ("DELETE /user/{id} (204)", self.step_delete),
            ("the deleted account's token is 401", self.step_deleted_session),
            ("login to the deleted account is 401 invalid_credentials", self.step_deleted_login),
        ]


def run(story: Story) -> int:
    passed = failed = skipped = 0
    for name, step in story.steps():
        try:
            step()
        except Skip as why:
            skipped += 1
            print(f"SKIP {name}: {why}", flush=True)
        except Fail as why:
            failed += 1
            print(f"FAIL {name}: {redact(str(why))}", flush=True)
        except Exception as err:  # a bug here, or an answer shaped so oddly that it broke a check
            failed += 1
            print(f"FAIL {name}: unexpected {type(err).__name__}: {redact(str(err))}", flush=True)
        else:
            passed += 1
            print(f"ok  {name}", flush=True)
    if skipped:
        print(f"({skipped} skipped after an earlier failure)", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and skipped == 0 else 1


def http_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="End-to-end test of a running gatehouse over HTTP, reading emails from Mailpit or MailDev."
    )
    parser.add_argument("--base", type=http_url, default="http://127.0.0.1:8080", help="gatehouse's base URL (default: %(default)s)")
    catcher = parser.add_mutually_exclusive_group(required=True)
    catcher.add_argument("--mailpit", type=http_url, metavar="URL", help="Mailpit's web/API URL, e.g. http://127.0.0.1:8025")
    catcher.add_argument("--maildev", type=http_url, metavar="URL", help="MailDev's web/API URL, e.g. http://127.0.0.1:1080")
    parser.add_argument(
        "--public-url",
        type=http_url,
        help="GATEHOUSE_PUBLIC_URL, the base of the emailed links, when it differs from --base (default: --base);"
        " the links are then requested on --base",
    )
    parser.add_argument("--mail-wait", type=float, default=20.0, help="seconds to wait for each email, at most 20 (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per HTTP request (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 0 < args.mail_wait <= 20:
        parser.error("--mail-wait must be more than 0 and at most 20 seconds")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")

    api = Client(args.base, args.timeout)
    mail: MailCatcher = Mailpit(args.mailpit, args.timeout) if args.mailpit else MailDev(args.maildev, args.timeout)
    story = Story(api, mail, args.public_url or args.base, args.mail_wait)
    print(f"gatehouse e2e: {args.base}, {mail.name} at {mail.client.base}, account {story.email}", flush=True)
    return run(story)


if __name__ == "__main__":
    sys.exit(main())
