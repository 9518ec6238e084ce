#!/usr/bin/env python3
"""gatehouse's forward auth (GET /auth/forward) through real reverse proxies, as e2e/proxy/run.sh
starts them: nginx (auth_request) and Caddy (forward_auth) with the configurations of
deploy/forward-auth/, in front of e2e/proxy/upstream.py, an app that logs the headers it gets;
and gatehouse's own site through them: deploy/nginx.conf (HTTPS, a throwaway certificate) and
the Caddyfile's auth.example.com.
Traefik's ForwardAuth is not run; the requests it makes (deploy/forward-auth/traefik.yml says
which headers they carry) are sent to gatehouse directly.

For each proxy:
  1  an API client without a token gets 401 (WWW-Authenticate: Bearer); the app never sees it
  2  a bearer token passes; the app gets Remote-User, -Email, -Name and -Groups of its account
  3  a browser goes to gatehouse's /login?next=<its URL>, logs in with the form and comes back
     (303) to its URL, which now passes with the Remote-* headers
  4  after a logout (POST /logout) the old cookie is refused at once: 302 / 401
  5  Remote-* headers a client sends itself never reach the app (5b: nor do X-Original-URL or
     X-Forwarded-* it sends move the decision to another path)
  6  a group:admin path: 403 for a user, 200 for an admin; group:staff from app_data.roles
  7  a public path: 200 without a login, and no Remote-* at the app
  8  a browser is never sent to log in for a URL outside GATEHOUSE_REDIRECT_ALLOW (the
     proxies' /app/): 401 on /outside/, and a Host header of evil.example never leads there
     (8b: nor does a Host header, or a # in the URL, get a request past a rule)
  9  gatehouse's own site through the proxy, from an address outside GATEHOUSE_TRUSTED_PROXIES
     (127.0.0.2 through nginx, 127.0.0.3 through Caddy: a per-IP budget each): 25 POST
     /password/forgot, each forging another client address in Forwarded, X-Real-IP and a
     left-most X-Forwarded-For, still get 429 rate_limited once the budget (20/1m) is spent,
     and the audit trail (GET /admin/events) has them from that address, never a forged one
     (9b: nor do X-Original-URL or X-Forwarded-* a client sends there reach gatehouse)
 11  a protected resource (RFC 9728): the proxy's /mcp (GATEHOUSE_RESOURCES, a
     resource:mcp:tools rule) answers no token 401 with the challenge naming its metadata,
     serves that metadata from gatehouse at its own host (a client's X-Forwarded-Host or
     X-Original-URL changes nothing), lets a client's token for it with mcp:tools through
     (Remote-Client and Remote-Scopes at the app) and passes on a 403 with insufficient_scope
     for a token without it
 12  a DPoP-bound token (RFC 9449) at that resource: with the DPoP scheme and a proof of its
     key for the URL the client called (signed with the openssl command line) it passes, and
     the app gets Remote-Dpop-Jkt (never the client's own); the proof replayed and the token
     as a bearer token are refused before the app
Then gatehouse alone and both proxies together:
 10  host spellings (e2e/proxy/differential.py): each guarded host (app.example.com/admin
     group:admin, grafana.example.com org:acme, *.example.org group:admin, bücher.example
     group:admin, [2001:db8::1] group:admin), served by the shipped nginx server and Caddy site
     on ports of their own, is asked for in every spelling (ports, a trailing dot, letter case,
     the A-label in upper case or the name in Unicode, an IPv6 address written out, user@host,
     lists, %, two Host or X-Forwarded-Host headers) without a login, as ann and as the admin:
     from gatehouse alone (the X-Forwarded-* Caddy would send), through nginx and through Caddy.
     Every spelling of the host gets the canonical request's verdict (or the proxy itself does
     not serve it, which the line shows); no login and ann never reach the app in any spelling;
     gatehouse alone refuses every malformed one
Then Traefik's request shape, and the same questions from a peer that is not in
GATEHOUSE_TRUSTED_PROXIES (a connection from 127.0.0.2), which must be refused whole (403).

    GATEHOUSE_E2E_ADMIN_PASSWORD=... python3 e2e/proxy/check.py --gatehouse URL \
        --nginx URL --caddy URL --nginx-api URL --upstream-log FILE --admin-email EMAIL \
        --hosts-nginx URL --hosts-caddy URL --site-ports P,P,...

Prints one line per check ("  ok: ..." or "  FAILED: ..."); exit status 1 when one failed.
"""

import argparse
import base64
import gzip
import hashlib
import http.client
import json
import os
import re
import secrets
import ssl
import sys
import time
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import differential

ROOT = Path(__file__).resolve().parents[2]
TRAEFIK_YML = ROOT / "deploy" / "forward-auth" / "traefik.yml"
REMOTE = ("Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups", "Remote-Org", "Remote-Org-Role", "Remote-Org-Id")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
API_ACCEPT = "application/json"


class Fail(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Fail(message)


# ------------------------------------------------------------------------------------------
# HTTP, without any automatic redirect, cookie or proxy handling.

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __str__(self):
        shown = [f"{k}: {v}" for k, v in self.headers
                 if k.lower() in ("location", "www-authenticate", "content-type", "set-cookie") or k.lower().startswith("remote-")]
        body = re.sub(r"\s+", " ", self.text())[:200]
        return f"{self.status} [{'; '.join(shown)}] {body!r}"


def request(url, method="GET", headers=None, body=None, source=None, target=None):
    """One request on a new connection; `target` sends that request target as it is. HTTPS
    is not verified (deploy/nginx.conf runs with a throwaway certificate)."""
    parts = urllib.parse.urlsplit(url)
    source_address = (source, 0) if source else None
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=20,
                                           source_address=source_address, context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20, source_address=source_address)
    target = target or (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        if resp.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return Response(resp.status, resp.getheaders(), data)
    finally:
        conn.close()


class Jar:
    """A browser's cookies for 127.0.0.1: cookies are not port-specific, so gatehouse's reach
    the proxies on the other ports, as they do in a browser."""

    def __init__(self):
        self.cookies = {}

    def take(self, response):
        for line in response.all("Set-Cookie"):
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            if re.search(r"(?i)max-age=0\b", attributes) or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


class Forms(HTMLParser):
    """The forms of a page: [{"action": ..., "fields": {name: value}}]."""

    def __init__(self, html):
        super().__init__()
        self.forms = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "method": attrs.get("method"), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def form_of(response, action):
    """The fields of the page's first form posting to `action` (the login page's first is the
    password form; "Email me a link" follows it)."""
    forms = [f for f in Forms(response.text()).forms if f["action"] == action]
    expect(forms and (forms[0]["method"] or "").lower() == "post",
           f"no <form method=\"post\" action=\"{action}\"> on the page: {response}")
    return forms[0]["fields"]


# ------------------------------------------------------------------------------------------
# The app behind the proxies.

class Upstream:
    def __init__(self, log):
        self.log = Path(log)

    def seen(self, probe):
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [r for r in records if f"probe={probe}" in r["path"]]

    def one(self, probe):
        seen = self.seen(probe)
        expect(len(seen) == 1, f"the app saw the request {len(seen)} times, expected once")
        return seen[0]

    def none(self, probe):
        seen = self.seen(probe)
        expect(not seen, f"the request reached the app: {seen}")


class DpopKey:
    """An Ed25519 key pair made and used by the openssl command line (the standard library has no
    Ed25519), and the DPoP proofs (RFC 9449) it signs."""

    def __init__(self):
        import subprocess
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="dpop-")
        self.pem = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", self.pem], check=True,
                       capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", self.pem, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x = b64url(der[-32:])
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": self.x}, separators=(",", ":"), sort_keys=True)
        self.jkt = b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(self, method, url, token=None):
        import subprocess
        header = {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": self.x}}
        claims = {"jti": secrets.token_hex(12), "htm": method, "htu": url, "iat": int(time.time())}
        if token:
            claims["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims))
        # Ed25519 signs in one shot, from a file whose size openssl reads first (not a pipe).
        message = os.path.join(self.dir, "input")
        Path(message).write_text(signing_input)
        signature = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", self.pem, "-rawin", "-in", message],
                                   check=True, capture_output=True).stdout
        return f"{signing_input}.{b64url(signature)}"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def remote_at_upstream(record):
    """The Remote-* headers the app got: lower-case name with `_` read as `-` (as CGI-style
    frameworks read them) -> every value."""
    found = {}
    for name, value in record["headers"]:
        key = name.lower().replace("_", "-")
        if key.startswith("remote-"):
            found.setdefault(key, []).append(value)
    return found


def expect_remote(record, expected):
    """The app got exactly the expected Remote-* values, once each (an expected empty value
    may arrive empty or not at all), and no other Remote-* header."""
    got = remote_at_upstream(record)
    wanted = {k.lower() for k in REMOTE}
    expect(set(got) <= wanted, f"the app got other Remote-* headers: {got}")
    for name in REMOTE:
        values = got.get(name.lower(), [])
        want = expected[name]
        if want:
            expect(values == [want], f"the app got {name}: {values}, expected [{want!r}] (all it got: {got})")
        else:
            expect(all(v == "" for v in values), f"the app got {name}: {values}, expected none")
    return got


def expect_no_remote(record):
    got = remote_at_upstream(record)
    expect(all(v == "" for values in got.values() for v in values), f"the app got Remote-* headers: {got}")
    return "none" if not got else "only empty ones"


# ------------------------------------------------------------------------------------------

class Suite:
    def __init__(self, args, admin_password):
        self.gatehouse = args.gatehouse.rstrip("/")
        self.proxies = {"nginx": args.nginx.rstrip("/"), "caddy": args.caddy.rstrip("/")}
        # gatehouse's own site through each proxy: the URL to connect to, and the Host to send.
        caddy_port = urllib.parse.urlsplit(self.proxies["caddy"]).port
        self.sites = {"nginx": (args.nginx_api.rstrip("/"), "auth.example.com"),
                      "caddy": (self.proxies["caddy"], f"auth.example.com:{caddy_port}")}
        self.upstream = Upstream(args.upstream_log)
        # Check 10's proxies for the guarded hosts, and the app's port behind each host's site.
        self.hosts = {name: urllib.parse.urlsplit(url).port for name, url in (("nginx", args.hosts_nginx),
                                                                               ("caddy", args.hosts_caddy))}
        self.site_ports = [int(p) for p in args.site_ports.split(",")]
        self.admin_email, self.admin_password = args.admin_email, admin_password
        self.passed = self.failed = 0
        self.users = {}

    def run(self, label, check, *args):
        try:
            detail = check(*args)
        except Fail as failure:
            self.failed += 1
            print(f"  FAILED: {label}: {failure}", flush=True)
        except Exception as error:  # a crash of the check is a failure too
            self.failed += 1
            print(f"  FAILED: {label}: {type(error).__name__}: {error}", flush=True)
        else:
            self.passed += 1
            print(f"  ok: {label}: {detail}", flush=True)

    # -- accounts -------------------------------------------------------------------------

    def api(self, method, path, body=None, token=None):
        headers = {"Accept": API_ACCEPT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return request(self.gatehouse + path, method, headers, json.dumps(body) if body is not None else None)

    def token(self, email, password):
        resp = self.api("POST", "/auth", {"email": email, "password": password})
        expect(resp.status == 200 and (resp.json() or {}).get("access_token"), f"POST /auth as {email}: {resp}")
        return resp.json()["access_token"]

    def setup(self):
        admin = self.token(self.admin_email, self.admin_password)
        password = f"a long passphrase for the proxy test {secrets.token_hex(8)}"
        made = []
        people = [
            ("ann", {"email": "ann@example.com", "username": "ann", "name": "Ann Example"}),
            # Groups are the role plus the strings of the admin-set app_data.roles.
            ("sam", {"email": "sam@example.com", "username": "sam", "name": "Sam Staff",
                     "app_data": {"roles": ["staff"]}}),
        ]
        for key, fields in people:
            resp = self.api("POST", "/admin/users", dict(fields, password=password), admin)
            expect(resp.status == 201, f"POST /admin/users {fields['email']}: {resp}")
            if "app_data" in fields:
                expect((resp.json() or {}).get("app_data") == fields["app_data"],
                       f"POST /admin/users did not keep app_data {fields['app_data']}: {resp}")
            made.append((key, fields))
        tokens = {"admin": admin, "ann": self.token("ann@example.com", password),
                  "sam": self.token("sam@example.com", password)}
        for key, token in tokens.items():
            resp = self.api("GET", "/user", token=token)
            expect(resp.status == 200, f"GET /user as {key}: {resp}")
            account = resp.json()
            roles = [r for r in (account.get("app_data") or {}).get("roles", []) if isinstance(r, str)]
            self.users[key] = {
                "token": token,
                "login": account.get("username") or account["email"],
                "password": password if key != "admin" else self.admin_password,
                "remote": {
                    # The account id: a name that never passes to another person.
                    "Remote-User": account["id"],
                    "Remote-Email": account["email"],
                    "Remote-Name": account.get("name") or "",
                    "Remote-Groups": ",".join([account["role"]] + roles),
                    # No session here has an active organization: the app gets none, whatever
                    # the client sends.
                    "Remote-Org": "",
                    "Remote-Org-Role": "",
                    "Remote-Org-Id": "",
                },
            }
        for key, fields in made:
            account_of = {"username": self.users[key]["login"] if fields.get("username") else None,
                          "email": self.users[key]["remote"]["Remote-Email"],
                          "name": self.users[key]["remote"]["Remote-Name"]}
            expect(all(account_of[f] == fields.get(f) for f in account_of if fields.get(f) is not None),
                   f"GET /user as {key} shows {account_of}, not what was created: {fields}")
        expect([u["remote"]["Remote-Groups"] for u in self.users.values()] == ["admin", "user", "user,staff"],
               f"unexpected roles: {[u['remote']['Remote-Groups'] for u in self.users.values()]}")
        return (f"admin {self.admin_email} logged in; created {', '.join(k for k, _ in made)} "
                f"(sam with app_data.roles [\"staff\"]); groups: "
                + ", ".join(f"{k}={u['remote']['Remote-Groups']}" for k, u in self.users.items()))

    # -- the browser's login at gatehouse -----------------------------------------------------

    def browser_login(self, jar, login_url, who, next_expected):
        """GET the login page, POST its form; returns the 303's Location."""
        user = self.users[who]
        page = request(login_url, headers={"Accept": BROWSER_ACCEPT, "Cookie": jar.header()})
        jar.take(page)
        expect(page.status == 200, f"GET {login_url}: {page}")
        expect("gatehouse_form" in jar.cookies, f"the login page set no gatehouse_form cookie: {page}")
        fields = form_of(page, "login")
        expect("form" in fields and "login" in fields and "password" in fields,
               f"the login form lacks form/login/password inputs: {fields}")
        expect(fields.get("next") == next_expected,
               f"the login form's next is {fields.get('next')!r}, expected {next_expected!r}")
        fields.update(login=user["login"], password=user["password"])
        post = request(urllib.parse.urljoin(login_url, "login"), "POST", {
            "Accept": BROWSER_ACCEPT,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.gatehouse,
            "Cookie": jar.header(),
        }, urllib.parse.urlencode(fields))
        jar.take(post)
        expect(post.status == 303, f"POST /login: {post}")
        session = [c for c in post.all("Set-Cookie") if c.startswith("gatehouse_session=")]
        expect(len(session) == 1, f"POST /login set no gatehouse_session cookie: {post}")
        attributes = {a.strip().lower() for a in session[0].split(";")[1:]}
        for attribute in ("path=/", "httponly", "samesite=lax"):
            expect(attribute in attributes, f"the session cookie lacks {attribute}: {session[0]}")
        return post.header("Location")

    def browser_logout(self, jar):
        page = request(self.gatehouse + "/login", headers={"Accept": BROWSER_ACCEPT, "Cookie": jar.header()})
        jar.take(page)
        expect(page.status == 200, f"GET /login with the session: {page}")
        fields = form_of(page, "logout")
        expect("form" in fields, f"the logout form has no hidden form input: {fields}")
        post = request(self.gatehouse + "/logout", "POST", {
            "Accept": BROWSER_ACCEPT,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.gatehouse,
            "Cookie": jar.header(),
        }, urllib.parse.urlencode({"form": fields["form"]}))
        expect(post.status == 200, f"POST /logout: {post}")
        cleared = [c for c in post.all("Set-Cookie") if c.startswith("gatehouse_session=")]
        expect(cleared and all(re.search(r"(?i)max-age=0", c) for c in cleared),
               f"POST /logout did not clear the session cookie: {post}")

    def login_redirect(self, resp, original):
        """resp is the 302 to gatehouse's login page with next=original; returns its URL."""
        location = resp.header("Location") or ""
        expect(resp.status == 302, f"expected 302 to the login page, got {resp}")
        parts = urllib.parse.urlsplit(location)
        expect(f"{parts.scheme}://{parts.netloc}{parts.path}" == self.gatehouse + "/login",
               f"the 302 goes to {location!r}, not to {self.gatehouse}/login")
        nexts = urllib.parse.parse_qs(parts.query).get("next")
        expect(nexts == [original], f"the login page's next is {nexts}, expected [{original!r}]")
        return location

    # -- through a proxy ------------------------------------------------------------------

    def via(self, proxy, path, headers=None, method="GET"):
        """A request through the proxy with a fresh probe; returns (response, probe, url)."""
        probe = secrets.token_hex(6)
        url = f"{self.proxies[proxy]}{path}?probe={probe}"
        return request(url, method, headers or {}), probe, url

    def c1_no_token(self, proxy):
        resp, probe, _ = self.via(proxy, "/app/api", {"Accept": API_ACCEPT})
        expect(resp.status == 401, f"expected 401, got {resp}")
        challenge = resp.header("WWW-Authenticate") or ""
        expect(challenge.startswith("Bearer"), f"the 401 has no WWW-Authenticate: Bearer: {resp}")
        self.upstream.none(probe)
        return f"401, WWW-Authenticate: {challenge}; the app never saw it"

    def c2_bearer(self, proxy):
        details = []
        for who in ("ann", "sam"):
            user = self.users[who]
            resp, probe, _ = self.via(proxy, "/app/api", {"Accept": API_ACCEPT, "Authorization": f"Bearer {user['token']}"})
            expect(resp.status == 200, f"{who}'s token: expected 200, got {resp}")
            expect_remote(self.upstream.one(probe), user["remote"])
            details.append(f"{who}: " + ", ".join(f"{k}={v!r}" for k, v in user["remote"].items() if k != "Remote-Name"))
        return "200; the app got " + "; ".join(details)

    def c3_browser(self, proxy):
        jar = Jar()
        resp, probe, url = self.via(proxy, "/app/page", {"Accept": BROWSER_ACCEPT})
        login_url = self.login_redirect(resp, url)
        self.upstream.none(probe)
        back = self.browser_login(jar, login_url, "ann", url)
        expect(back == url, f"the login sent the browser to {back!r}, expected {url!r}")
        again = request(url, headers={"Accept": BROWSER_ACCEPT, "Cookie": jar.header()})
        expect(again.status == 200, f"back at {url} with the session cookie: {again}")
        expect_remote(self.upstream.one(probe), self.users["ann"]["remote"])
        return "302 to /login?next=<the URL>, login form, 303 back, then 200 with ann's Remote-* at the app"

    def c4_logout(self, proxy):
        jar = Jar()
        resp, probe, url = self.via(proxy, "/app/logout-test", {"Accept": BROWSER_ACCEPT})
        back = self.browser_login(jar, self.login_redirect(resp, url), "ann", url)
        expect(back == url, f"the login sent the browser to {back!r}")
        old = jar.header()
        live = request(url, headers={"Accept": BROWSER_ACCEPT, "Cookie": old})
        expect(live.status == 200, f"before the logout, with the cookie: {live}")
        self.browser_logout(jar)
        browser, probe_b, url_b = self.via(proxy, "/app/after-logout", {"Accept": BROWSER_ACCEPT, "Cookie": old})
        self.login_redirect(browser, url_b)
        api, probe_a, _ = self.via(proxy, "/app/after-logout", {"Accept": API_ACCEPT, "Cookie": old})
        expect(api.status == 401, f"an API client with the old cookie: expected 401, got {api}")
        self.upstream.none(probe_b)
        self.upstream.none(probe_a)
        return "200 before; after POST /logout the old cookie gets 302 to the login (browser) and 401 (API) at once"

    FORGED = {
        "Remote-User": "admin", "Remote-Groups": "admin", "Remote-Email": "evil@x", "Remote-Name": "Mallory",
        "Remote_User": "admin", "Remote_Groups": "admin", "Remote-Org": "acme", "Remote-Org-Role": "owner",
        "Remote-Org-Id": "0193f1e2-0000-7000-8000-000000000001", "Remote_Org": "acme", "Remote_Org_Role": "owner",
    }

    def c5_forged_identity(self, proxy):
        user = self.users["ann"]
        resp, probe, _ = self.via(proxy, "/app/forged", dict(self.FORGED, Accept=API_ACCEPT, Authorization=f"Bearer {user['token']}"))
        expect(resp.status == 200, f"ann's token with forged headers: expected 200, got {resp}")
        expect_remote(self.upstream.one(probe), user["remote"])
        resp, probe, _ = self.via(proxy, "/public/forged", dict(self.FORGED, Accept=API_ACCEPT))
        expect(resp.status == 200, f"the public path with forged headers: expected 200, got {resp}")
        public = expect_no_remote(self.upstream.one(probe))
        return (f"with Remote-User: admin, Remote-Groups: admin, Remote-Email: evil@x, Remote-Org: acme (and Remote_User) sent: "
                f"the app got ann's real values (token), {public} (public path)")

    def c5b_forged_routing(self, proxy):
        base = self.proxies[proxy]
        host = urllib.parse.urlsplit(base).netloc
        lies = {
            "X-Original-URL": f"{base}/public/x", "X-Original-Method": "GET",
            "X-Forwarded-Uri": "/public/x", "X-Forwarded-Host": host, "X-Forwarded-Proto": "http",
            "X-Forwarded-Method": "GET",
        }
        resp, probe, _ = self.via(proxy, "/admin/x", dict(lies, Accept=API_ACCEPT))
        expect(resp.status == 401, f"no login, /admin with headers naming /public: expected 401, got {resp}")
        self.upstream.none(probe)
        resp, probe, _ = self.via(proxy, "/admin/x", dict(lies, Accept=API_ACCEPT, Authorization=f"Bearer {self.users['ann']['token']}"))
        expect(resp.status == 403, f"ann on /admin with headers naming /public: expected 403, got {resp}")
        self.upstream.none(probe)
        return "X-Original-URL / X-Forwarded-* naming the public path, sent on /admin: still 401 (no login), 403 (ann)"

    def c6_groups(self, proxy):
        for who, path, status in (("ann", "/admin/x", 403), ("admin", "/admin/x", 200),
                                  ("ann", "/staff/x", 403), ("sam", "/staff/x", 200)):
            user = self.users[who]
            resp, probe, _ = self.via(proxy, path, {"Accept": API_ACCEPT, "Authorization": f"Bearer {user['token']}"})
            expect(resp.status == status, f"{who} on {path} (group rule): expected {status}, got {resp}")
            if status == 200:
                expect_remote(self.upstream.one(probe), user["remote"])
            else:
                self.upstream.none(probe)
        return ("/admin (group:admin): 403 ann, 200 admin; /staff (group:staff, from app_data.roles): "
                "403 ann, 200 sam with Remote-Groups user,staff")

    def c7_public(self, proxy):
        for accept in (BROWSER_ACCEPT, API_ACCEPT):
            resp, probe, _ = self.via(proxy, "/public/page", {"Accept": accept})
            expect(resp.status == 200, f"the public path without a login (Accept {accept}): expected 200, got {resp}")
            shown = expect_no_remote(self.upstream.one(probe))
        return f"200 without a login (browser and API), Remote-* at the app: {shown}"

    def c11_resource(self, proxy):
        """The proxy's /mcp is a protected resource (GATEHOUSE_RESOURCES, a resource:mcp:tools
        rule): no token gets RFC 9728's challenge, the metadata is served at the resource's
        host through the proxy, a client's token for it with the scope passes (Remote-Client
        at the app), and one without the scope gets 403 with insufficient_scope, passed on."""
        resource = f"{self.proxies[proxy]}/mcp"
        metadata_url = f"{self.proxies[proxy]}/.well-known/oauth-protected-resource/mcp"
        resp, probe, _ = self.via(proxy, "/mcp/tools", {"Accept": API_ACCEPT})
        challenge = resp.header("WWW-Authenticate") or ""
        expect(resp.status == 401 and f'resource_metadata="{metadata_url}"' in challenge,
               f"no token: expected 401 with the challenge naming {metadata_url}, got {resp}")
        self.upstream.none(probe)
        metadata = request(metadata_url, headers={"Accept": "application/json"})
        expect(metadata.status == 200 and (metadata.json() or {}).get("resource") == resource
               and (metadata.json() or {}).get("authorization_servers") == [self.gatehouse],
               f"the metadata through the proxy: {metadata}")
        forged = request(metadata_url, headers={"X-Forwarded-Host": "elsewhere.example", "X-Original-URL": "http://x/"})
        expect(forged.status == 200 and (forged.json() or {}).get("resource") == resource,
               f"the metadata with a client's forwarded headers: still this resource's, got {forged}")
        admin = self.users["admin"]["token"]
        passed = {}
        for scope, status in (("mcp:tools", 200), ("mcp:admin", 403)):
            made = self.api("POST", "/admin/clients", {"name": f"agent {scope}", "grant_types": ["client_credentials"],
                                                       "scopes": [scope]}, admin)
            expect(made.status == 201, f"POST /admin/clients: {made}")
            client = made.json()
            basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope, "resource": resource})
            issued = request(self.gatehouse + "/oauth2/token", "POST",
                             {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}, form)
            expect(issued.status == 200, f"a token for {resource} with {scope}: {issued}")
            token = issued.json()["access_token"]
            resp, probe, _ = self.via(proxy, "/mcp/tools", {"Accept": API_ACCEPT, "Authorization": f"Bearer {token}"})
            expect(resp.status == status, f"a client's token with {scope}: expected {status}, got {resp}")
            if status == 200:
                got = remote_at_upstream(self.upstream.one(probe))
                expect(got.get("remote-client") == [client["client_id"]] and got.get("remote-scopes") == [scope],
                       f"the app got {got}")
                passed = got
            else:
                self.upstream.none(probe)
                challenge = resp.header("WWW-Authenticate") or ""
                expect('error="insufficient_scope"' in challenge and 'scope="mcp:tools"' in challenge,
                       f"without the scope: expected the insufficient_scope challenge, got {resp}")
        return (f"401 with the challenge; the metadata names gatehouse; a client's token with the scope passes "
                f"(the app got {passed}); without it 403 insufficient_scope, passed on")

    def c12_dpop(self, proxy):
        """A client-credentials token bound to the client's key (DPoP, RFC 9449) passes the
        proxy's /mcp with the DPoP scheme and a proof of that key for the URL the client
        called (the app gets Remote-Dpop-Jkt); the same proof again, and the token as a bearer
        token, are refused before the app; a Remote-Dpop-Jkt the client sends itself never
        reaches the app."""
        resource = f"{self.proxies[proxy]}/mcp"
        key = DpopKey()
        made = self.api("POST", "/admin/clients", {"name": f"bound agent {proxy}", "grant_types": ["client_credentials"],
                                                   "scopes": ["mcp:tools"]}, self.users["admin"]["token"])
        expect(made.status == 201, f"POST /admin/clients: {made}")
        client = made.json()
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "mcp:tools", "resource": resource})
        token_url = self.gatehouse + "/oauth2/token"
        issued = request(token_url, "POST", {"Authorization": f"Basic {basic}", "DPoP": key.proof("POST", token_url),
                                             "Content-Type": "application/x-www-form-urlencoded"}, form)
        expect(issued.status == 200 and issued.json().get("token_type") == "DPoP", f"a bound token: {issued}")
        token = issued.json()["access_token"]
        proof = key.proof("GET", f"{resource}/tools", token)
        bound = {"Accept": API_ACCEPT, "Authorization": f"DPoP {token}", "DPoP": proof, "Remote-Dpop-Jkt": "forged"}
        resp, probe, _ = self.via(proxy, "/mcp/tools", bound)
        expect(resp.status == 200, f"the bound token with its proof: expected 200, got {resp}")
        got = remote_at_upstream(self.upstream.one(probe))
        expect(got.get("remote-dpop-jkt") == [key.jkt] and got.get("remote-client") == [client["client_id"]],
               f"the app got {got}, expected Remote-Dpop-Jkt {key.jkt}")
        again, probe, _ = self.via(proxy, "/mcp/tools", bound)
        expect(again.status == 401, f"the same proof again: expected 401, got {again}")
        self.upstream.none(probe)
        challenges = again.all("WWW-Authenticate")
        expect(any(c.startswith("Bearer ") for c in challenges), f"the replay's challenge: {challenges}")
        as_bearer, probe, _ = self.via(proxy, "/mcp/tools", {"Accept": API_ACCEPT, "Authorization": f"Bearer {token}",
                                                              "Remote-Dpop-Jkt": key.jkt})
        expect(as_bearer.status == 401, f"the bound token as a bearer token: expected 401, got {as_bearer}")
        self.upstream.none(probe)
        return (f"a bound token with its proof passes (Remote-Dpop-Jkt {key.jkt[:12]}…, the client's own dropped); "
                f"the proof replayed: 401 {challenges}; as a bearer token: 401")

    def expect_not_passed(self, proxy, resp, probe, what):
        """The request never reached the app, and the client was sent nowhere but to gatehouse's
        login page for a URL of the proxy's own origin."""
        self.upstream.none(probe)
        location = resp.header("Location")
        if location:
            parts = urllib.parse.urlsplit(location)
            nexts = urllib.parse.parse_qs(parts.query).get("next", [])
            expect(f"{parts.scheme}://{parts.netloc}{parts.path}" == self.gatehouse + "/login"
                   and len(nexts) == 1 and nexts[0].startswith(self.proxies[proxy] + "/"),
                   f"{what}: sent to {location!r}")
        if location:
            return f"{resp.status} to the login for {nexts[0]}"
        return f"{resp.status}{' (empty: the proxy serves no site of that name)' if resp.status == 200 and not resp.body else ''}"

    def c8_outside_redirect_allow(self, proxy):
        # GATEHOUSE_REDIRECT_ALLOW lists the proxies' /app/ only.
        resp, probe, url = self.via(proxy, "/outside/page", {"Accept": BROWSER_ACCEPT})
        expect(resp.status == 401 and not resp.header("Location"),
               f"a browser without a login on {url} (not under GATEHOUSE_REDIRECT_ALLOW): expected 401, got {resp}")
        self.upstream.none(probe)
        port = urllib.parse.urlsplit(self.proxies[proxy]).port
        answers = ["/outside/ (not listed): 401 without Location"]
        for host in ("evil.example", f"evil.example:{port}"):
            resp, probe, _ = self.via(proxy, "/app/page", {"Accept": BROWSER_ACCEPT, "Host": host})
            answers.append(f"{host}: " + self.expect_not_passed(proxy, resp, probe, f"a browser with Host: {host}"))
        return "a browser without a login, never sent elsewhere, the app never reached: " + "; ".join(answers)

    def c8b_host_tricks(self, proxy):
        """A Host header that names another host, or ends the URL before its path, must not make
        gatehouse judge another host or path than the one the app gets."""
        host = urllib.parse.urlsplit(self.proxies[proxy]).netloc
        token = self.users["ann"]["token"]
        answers = []
        for sent in ("evil.example", f"{host}?", f"{host}#", f"{host}/public"):
            resp, probe, _ = self.via(proxy, "/admin/x", {"Accept": API_ACCEPT, "Authorization": f"Bearer {token}", "Host": sent})
            expect(resp.status != 200 or not self.upstream.seen(probe),
                   f"ann on /admin/x (group:admin) with Host: {sent}: let through to the app: {resp}")
            answers.append(f"{sent!r} {self.expect_not_passed(proxy, resp, probe, f'Host: {sent}')}")
        # A fragment in the request target: gatehouse must not judge only the path before it.
        # (The probe goes into the path, before the #.)
        probe = secrets.token_hex(6)
        resp = request(self.proxies[proxy], headers={"Accept": API_ACCEPT}, target=f"/public/probe={probe}#/../../admin/x")
        expect(not self.upstream.seen(probe), f"GET /public/…#/../../admin/x without a login reached the app: {resp}")
        return ("ann on /admin never reaches the app with Host " + ", ".join(answers)
                + f"; GET /public/…#/../../admin/x without a login: {resp.status}, not passed on")

    # -- gatehouse's own site through the proxy ---------------------------------------------

    # The address outside GATEHOUSE_TRUSTED_PROXIES check 9 connects from: one per proxy, so
    # that each has a per-IP budget of its own.
    UNTRUSTED = {"nginx": "127.0.0.2", "caddy": "127.0.0.3"}
    FORGOT_BUDGET = 20  # GATEHOUSE_RATE_LIMIT_FORGOT's default, 20/1m: one more every 3 s
    FORGERIES = 25

    def events_of(self, prefix, wanted):
        """The audit events of POST /password/forgot (one a request: password.reset_requested,
        or rate_limited) whose X-Request-Id starts with `prefix`, once there are `wanted` of
        them or 10 s have passed (the trail is written a moment after the answer)."""
        admin = self.users["admin"]["token"]
        deadline = time.monotonic() + 10
        while True:
            found = []
            for kind in ("rate_limited", "password.reset_requested"):
                resp = self.api("GET", f"/admin/events?kind={kind}&limit=500", token=admin)
                expect(resp.status == 200, f"GET /admin/events?kind={kind}: {resp}")
                found += [e for e in resp.json()["events"] if (e.get("request_id") or "").startswith(prefix)]
            if len(found) >= wanted or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def c9_forged_client_address(self, proxy):
        url, host = self.sites[proxy]
        source = self.UNTRUSTED[proxy]
        prefix = f"forged-{proxy}-{secrets.token_hex(4)}-"
        answers, forged = [], set()
        started = time.monotonic()
        for i in range(1, self.FORGERIES + 1):
            lies = {"Forwarded": f"for=198.51.100.{i}", "X-Real-IP": f"203.0.113.{i}",
                    "X-Forwarded-For": f"192.0.2.{i}"}
            forged |= {f"198.51.100.{i}", f"203.0.113.{i}", f"192.0.2.{i}"}
            resp = request(url + "/password/forgot", "POST", dict(lies, **{
                "Host": host, "Accept": API_ACCEPT, "Content-Type": "application/json",
                "X-Request-Id": f"{prefix}{i}",
            }), json.dumps({"email": f"nobody-{i}@example.com"}), source=source)
            answers.append((resp, time.monotonic() - started))
        statuses = [r.status for r, _ in answers]
        first = next((i for i, (r, _) in enumerate(answers, 1) if r.status == 429), None)
        events = self.events_of(prefix, len(answers))
        seen = sorted({e.get("ip") or "none" for e in events})
        shown = ", ".join(seen[:3]) + (f" and {len(seen) - 3} more addresses" if len(seen) > 3 else "")
        trail = f"the audit trail has this check's {len(events)} events from {shown or 'nowhere'}"
        expect(statuses[0] == 202, f"the first POST /password/forgot: expected 202, got {answers[0][0]}")
        expect(first is not None,
               f"{self.FORGERIES} requests from {source}, each forging another address, never got 429 "
               f"(statuses {statuses}): the forged addresses escaped the per-IP budget; {trail}")
        expect(all(s == 202 for s in statuses[:first - 1]), f"before the 429: {statuses}")
        limited, after = answers[first - 1]
        expect((limited.json() or {}).get("code") == "rate_limited" and limited.header("Retry-After"),
               f"request {first}: expected 429 rate_limited with Retry-After, got {limited}")
        regained = int(after // 3)
        expect(first <= self.FORGOT_BUDGET + 1 + regained,
               f"the first 429 came at request {first}, {after:.1f} s in: past the budget of "
               f"{self.FORGOT_BUDGET} (+{regained} regained): {statuses}")
        expect(not forged & set(seen), f"{trail}: forged ones among them")
        expect(seen == [source], f"{trail}, expected {source} only")
        expect(any(e["kind"] == "rate_limited" and (e.get("detail") or {}).get("action") == "forgot" for e in events),
               f"no rate_limited event with action forgot: {trail}")
        return (f"{self.FORGERIES} POST /password/forgot from {source} with Forwarded: for=198.51.100.N, "
                f"X-Real-IP: 203.0.113.N, X-Forwarded-For: 192.0.2.N: 202, then 429 rate_limited from request "
                f"{first} ({after:.1f} s in, Retry-After: {limited.header('Retry-After')}); {trail} "
                f"({sum(e['kind'] == 'rate_limited' for e in events)} rate_limited), none forged")

    def c9b_forged_routing_at_gatehouse(self, proxy):
        """X-Original-URL and X-Forwarded-* a client sends to gatehouse's own site must not reach
        it: GET /auth/forward there would judge the request they name."""
        url, host = self.sites[proxy]
        lies = {
            "X-Original-URL": "https://app.example.com/public/x", "X-Original-Method": "GET",
            "X-Forwarded-Uri": "/public/x", "X-Forwarded-Method": "GET",
        }
        answers = []
        # gatehouse's own name; and for nginx the app's too, which deploy/nginx.conf (the only
        # server on its port) serves all the same and sends on as X-Forwarded-Host. Caddy routes
        # no other name to gatehouse's site.
        for sent in (host, "app.example.com") if proxy == "nginx" else (host,):
            resp = request(url + "/auth/forward", headers=dict(lies, Host=sent, Accept=API_ACCEPT))
            answers.append((sent, resp))
        wrong = [f"Host: {sent}: {resp}" for sent, resp in answers if resp.status != 401 or resp.header("Remote-User")]
        expect(not wrong, "GET /auth/forward with headers naming https://app.example.com/public/x (a public rule), "
                          "no login: expected 401 as for any request without one, got " + "; ".join(wrong))
        return ("GET /auth/forward at gatehouse's site, no login, with X-Original-URL and X-Forwarded-Uri naming "
                "a public path: " + ", ".join(f"Host: {sent} 401" for sent, _ in answers))

    # -- every spelling of a guarded host ------------------------------------------------------

    def c10_setup(self):
        resp = self.api("POST", "/orgs", {"name": "Acme", "slug": "acme"}, self.users["admin"]["token"])
        expect(resp.status == 201 and (resp.json() or {}).get("slug") == "acme", f"POST /orgs as the admin: {resp}")
        return "the admin made the organization acme (grafana.example.com's org:acme); ann is not in it"

    def c10_host_spellings(self):
        callers = {"anonymous": (None, None)}
        callers.update({who: (self.users[who]["token"], self.users[who]["remote"]["Remote-User"])
                        for who in ("ann", "admin")})
        check = differential.Differential(urllib.parse.urlsplit(self.gatehouse).port, self.hosts, self.site_ports,
                                          callers, self.upstream.log)
        try:
            results = check.run()
        except Exception as error:  # a crash of the check is a failure too
            self.failed += 1
            print(f"  FAILED: 10 host spellings: {type(error).__name__}: {error}", flush=True)
            return
        for label, problems, detail in results:
            self.run(label, self.none_of, problems, detail)
        print(f"  {check.count} requests in {check.elapsed:.1f} s", flush=True)

    @staticmethod
    def none_of(problems, detail):
        expect(not problems, "; ".join(problems))
        return detail

    # -- Traefik's requests, sent directly ----------------------------------------------------

    def traefik_shape(self):
        """What traefik.yml configures: the address' path, and which headers go either way."""
        text = TRAEFIK_YML.read_text()

        def listed(key):
            block = re.search(rf"\n(\s*){key}:\n((?:\1\s+- .*\n)+)", text)
            expect(block, f"traefik.yml has no {key} list")
            return [item.strip().strip('"') for item in re.findall(r"- (.*)", block.group(2))]

        address = re.search(r'address:\s*"?(http[^"\s]+)', text)
        expect(address and urllib.parse.urlsplit(address.group(1)).path == "/auth/forward",
               "traefik.yml's forwardAuth address is not gatehouse's /auth/forward")
        expect(re.search(r"trustForwardHeader:\s*true", text), "traefik.yml does not set trustForwardHeader: true")
        return listed("authRequestHeaders"), listed("authResponseHeaders")

    def traefik(self, uri, *, accept=API_ACCEPT, token=None, cookie=None, method="GET",
                host="app.example.com", source=None):
        """The request Traefik's ForwardAuth makes for a client's `method` https://host/uri: a
        GET to the address, with the client's headers authRequestHeaders lets through and
        X-Forwarded-* of the entry point."""
        client = {"accept": accept, "authorization": f"Bearer {token}" if token else None, "cookie": cookie}
        headers = {name: client[name.lower()] for name in self.request_headers if client.get(name.lower())}
        headers.update({
            "User-Agent": "Go-http-client/1.1",
            "Accept-Encoding": "gzip",
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Method": method,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Host": host,
            "X-Forwarded-Uri": uri,
        })
        return request(self.gatehouse + "/auth/forward", "GET", headers, source=source)

    def expect_remote_response(self, resp, who):
        expect(resp.status == 200, f"{who}: expected 200, got {resp}")
        sent = {k.lower() for k, _ in resp.headers if k.lower().startswith("remote-")}
        listed = {h.lower() for h in self.response_headers}
        expect(sent <= listed, f"gatehouse sent {sorted(sent - listed)}, which authResponseHeaders does not list")
        for name, value in self.users[who]["remote"].items():
            expect((resp.header(name) or "") == value, f"{who}: {name} is {resp.header(name)!r}, expected {value!r}")

    def t1_api(self):
        resp = self.traefik("/dash")
        expect(resp.status == 401 and (resp.header("WWW-Authenticate") or "").startswith("Bearer")
               and not resp.header("Location"), f"expected 401 with WWW-Authenticate: Bearer, got {resp}")
        return "no token: 401, WWW-Authenticate: Bearer, no Location"

    def t2_bearer(self):
        self.expect_remote_response(self.traefik("/dash", token=self.users["ann"]["token"]), "ann")
        return "ann's token: 200 with exactly the Remote-* traefik.yml's authResponseHeaders copies"

    def t3_browser(self):
        original = "https://app.example.com/dash?tab=1"
        self.login_redirect(self.traefik("/dash?tab=1", accept=BROWSER_ACCEPT), original)
        posted = self.traefik("/dash", accept=BROWSER_ACCEPT, method="POST")
        expect(posted.status == 401 and not posted.header("Location"),
               f"a browser's POST without a login: expected 401 (not a page load), got {posted}")
        return f"a browser: 302 to /login?next={original}; a forwarded POST: 401"

    def t4_cookie(self):
        original = "https://app.example.com/dash?tab=2"
        jar = Jar()
        login_url = self.login_redirect(self.traefik("/dash?tab=2", accept=BROWSER_ACCEPT), original)
        back = self.browser_login(jar, login_url, "ann", original)
        expect(back == original, f"the login sent the browser to {back!r}, expected {original!r}")
        old = jar.header()
        self.expect_remote_response(self.traefik("/dash?tab=2", accept=BROWSER_ACCEPT, cookie=old), "ann")
        self.browser_logout(jar)
        self.login_redirect(self.traefik("/dash?tab=2", accept=BROWSER_ACCEPT, cookie=old), original)
        return "the session cookie: 200 with Remote-*; after the logout the same cookie: 302 to the login"

    def t5_groups(self):
        refused = self.traefik("/admin/users", token=self.users["ann"]["token"])
        expect(refused.status == 403, f"ann on /admin: expected 403, got {refused}")
        self.expect_remote_response(self.traefik("/admin/users", token=self.users["admin"]["token"]), "admin")
        self.expect_remote_response(self.traefik("/staff", token=self.users["sam"]["token"]), "sam")
        return "/admin: 403 ann, 200 admin; /staff: 200 sam"

    def t6_public(self):
        resp = self.traefik("/public/x", accept=BROWSER_ACCEPT)
        expect(resp.status == 200 and not any(k.lower().startswith("remote-") for k, _ in resp.headers),
               f"the public path: expected 200 without Remote-*, got {resp}")
        return "the public path: 200 without a login and without Remote-*"

    def t7_evil(self):
        resp = self.traefik("/dash", accept=BROWSER_ACCEPT, host="evil.example")
        expect(resp.status == 401 and not resp.header("Location"), f"X-Forwarded-Host: evil.example: expected 401, got {resp}")
        page = request(self.gatehouse + "/login?" + urllib.parse.urlencode({"next": "http://evil.example/"}),
                       headers={"Accept": BROWSER_ACCEPT})
        fields = form_of(page, "login")
        expect("next" not in fields, f"the login page kept next=http://evil.example/: {fields}")
        # The form posted with that next all the same: the login goes to gatehouse's own page.
        jar = Jar()
        jar.take(page)
        fields.update(next="http://evil.example/", login="ann", password=self.users["ann"]["password"])
        post = request(self.gatehouse + "/login", "POST", {
            "Accept": BROWSER_ACCEPT, "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.gatehouse, "Cookie": jar.header(),
        }, urllib.parse.urlencode(fields))
        expect(post.status == 303 and (post.header("Location") or "").startswith(self.gatehouse + "/"),
               f"a login posted with next=http://evil.example/: expected 303 to gatehouse itself, got {post}")
        return ("X-Forwarded-Host: evil.example: 401 without Location; /login?next=http://evil.example/ drops "
                f"the next, and a login posted with it goes to {post.header('Location')}")

    def t8_untrusted(self):
        source = "127.0.0.2"
        ann = self.users["ann"]["token"]
        pairs = [
            ("the public path, no login", dict(uri="/public/x"), 200, 403),
            ("ann on /admin", dict(uri="/admin/x", token=ann), 403, 403),
            ("a browser without a login", dict(uri="/dash", accept=BROWSER_ACCEPT), 302, 403),
        ]
        for what, kwargs, trusted, untrusted in pairs:
            near = self.traefik(**kwargs)
            far = self.traefik(**kwargs, source=source)
            expect(near.status == trusted, f"{what} from 127.0.0.1: expected {trusted}, got {near}")
            expect(far.status == untrusted and not far.header("Location"),
                   f"{what} from {source} (not trusted): expected {untrusted}, got {far}")
        return (f"the same questions from {source}, not in GATEHOUSE_TRUSTED_PROXIES, are refused whole (403): "
                "public path 200 -> 403, ann on /admin 403 -> 403, browser 302 -> 403; only a proxy may ask")

    def main(self):
        print("setup", flush=True)
        self.run("accounts", self.setup)
        if self.failed:
            return 1
        for proxy in self.proxies:
            print(f"{proxy} ({self.proxies[proxy]})", flush=True)
            for label, check in (
                ("1 API client without a token", self.c1_no_token),
                ("2 bearer token", self.c2_bearer),
                ("3 browser login round trip", self.c3_browser),
                ("4 logged-out session", self.c4_logout),
                ("5 forged Remote-* headers", self.c5_forged_identity),
                ("5b forged routing headers", self.c5b_forged_routing),
                ("6 group rules", self.c6_groups),
                ("7 public rule", self.c7_public),
                ("8 next outside GATEHOUSE_REDIRECT_ALLOW", self.c8_outside_redirect_allow),
                ("8b Host and URL tricks", self.c8b_host_tricks),
                ("9 forged client address at gatehouse's site", self.c9_forged_client_address),
                ("9b forged routing headers at gatehouse's site", self.c9b_forged_routing_at_gatehouse),
                ("11 a protected resource (RFC 9728)", self.c11_resource),
                ("12 a DPoP-bound token at the protected resource", self.c12_dpop),
            ):
                self.run(f"{proxy} {label}", check, proxy)
        print(f"host spellings (gatehouse alone; nginx on {self.hosts['nginx']} and Caddy on {self.hosts['caddy']} "
              f"serving the guarded hosts)", flush=True)
        before = self.failed
        self.run("10 the organization acme", self.c10_setup)
        if self.failed == before:
            self.c10_host_spellings()
        print("traefik (its ForwardAuth requests, sent to gatehouse directly)", flush=True)
        try:
            self.request_headers, self.response_headers = self.traefik_shape()
        except Fail as failure:
            self.failed += 1
            print(f"  FAILED: traefik.yml: {failure}")
            return 1
        print(f"  traefik.yml: authRequestHeaders {self.request_headers}, authResponseHeaders {self.response_headers}")
        for label, check in (
            ("1 API client", self.t1_api), ("2 bearer token", self.t2_bearer), ("3 browser", self.t3_browser),
            ("4 session cookie and logout", self.t4_cookie), ("5 group rules", self.t5_groups),
            ("6 public rule", self.t6_public), ("7 next outside GATEHOUSE_REDIRECT_ALLOW", self.t7_evil),
            ("8 untrusted peer", self.t8_untrusted),
        ):
            self.run(f"traefik {label}", check)
        print(f"passed: {self.passed}, failed: {self.failed}", flush=True)
        return 1 if self.failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gatehouse", required=True)
    parser.add_argument("--nginx", required=True)
    parser.add_argument("--caddy", required=True)
    parser.add_argument("--nginx-api", required=True)
    parser.add_argument("--upstream-log", required=True)
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--hosts-nginx", required=True, help="nginx's port for the guarded hosts of check 10")
    parser.add_argument("--hosts-caddy", required=True, help="Caddy's port for the guarded hosts of check 10")
    parser.add_argument("--site-ports", required=True, help="the app's port behind each guarded host's site")
    args = parser.parse_args()
    password = os.environ.get("GATEHOUSE_E2E_ADMIN_PASSWORD")
    if not password:
        sys.exit("GATEHOUSE_E2E_ADMIN_PASSWORD is not set")
    started = time.monotonic()
    status = Suite(args, password).main()
    print(f"({time.monotonic() - started:.1f} s)")
    sys.exit(status)


if __name__ == "__main__":
    main()
