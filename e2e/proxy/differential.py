"""Check 10 of e2e/proxy/check.py: every spelling of a guarded host gets the forward-auth verdict
of the host itself, from gatehouse alone, through nginx and through Caddy.

A proxy routes a request by its Host header, and the spellings it routes to one site are many:
any letter case, a trailing dot, a port (the scheme's, another scheme's, any other), an IDNA
A-label in upper case or the name in Unicode, an IPv6 address written out in full. Caddy passes
the Host as it came on to gatehouse (X-Forwarded-Host); nginx's check names its own server_name
and port (deploy/forward-auth/nginx.conf). gatehouse must judge each spelling as the host its
rule names, or a spelling would reach the app past the rule (as `Host: app.example.com:1` once
did through Caddy).

The guarded hosts (SITES; run.sh gives gatehouse their rules, render.py serves each with the
shipped site of deploy/forward-auth/, on ports of their own, in front of an app port of its
own, so that the app's log says which site a request came through) are asked for by three
callers: no login, ann (a plain user) and the admin (who owns the organization acme), with
bearer tokens, each in every spelling:

  gatehouse   GET /auth/forward from 127.0.0.1 (a trusted proxy) with X-Forwarded-Method,
              -Proto (http), -Host (the spelling, as it came) and -Uri, as Caddy asks it;
  nginx       a request to the hosts' nginx port with `Host: <spelling>`;
  caddy       the same to the hosts' Caddy port.

The canonical request (the host as its rule is written, lower case, A-label, no port) asked of
gatehouse alone sets the verdict: no login 401, ann 403, the admin 200 with his Remote-User
(and Remote-Org acme at the org: host); through each proxy it must get the same and reach the
app through the host's site. Then, for every spelling, caller and way of asking:

  - a request that reaches the app through a site (the app's log says which) is one the
    canonical request for that site's host and the path asked lets through, naming the same
    account and organization; no login and ann, whom every guarded host refuses (nginx's
    default server, the first of SITES, is guarded whole), never reach the app at all;
  - a spelling of the same host (`same`) gets the canonical verdict: from gatehouse alone the
    very status (and the same Remote-User and Remote-Org when let through); through a proxy
    that routes it to the host's site and asks gatehouse, the same status. A proxy may also not
    serve a spelling at all: it answers 400 itself, Caddy has no site of that name (an empty
    200), or nginx routes it to its default server, which judges it as its own name. That keeps
    the spelling from the host's app, the admin's too; it is shown in the check's line (by what
    each caller got), not failed: the proxy decided so, and nobody got past a rule;
  - a malformed spelling (`malformed`: credentials in the host, a list, a % escape, a port out of
    range, an IPv6 address without brackets or with a zone, Host or X-Forwarded-Host given
    twice) is refused by gatehouse alone for every caller, and through a proxy never lets no
    login or ann through; the admin may get what the site that served it gives him;
  - an answer 5xx is a failure wherever it comes from.

One line per way of asking and host, with the spellings grouped by what the three callers got.
"""

import concurrent.futures
import http.client
import json
import re
import secrets
import time
from pathlib import Path
from typing import NamedTuple, Optional

ACCEPT = "application/json"
SCHEME = "http"  # the proxies here serve plain HTTP; gatehouse alone is asked as for them
CALLERS = ("anonymous", "ann", "admin")
# The canonical verdict every guarded host gives: statuses, and whether Remote-* must name the
# caller (the admin is in group admin and owns acme; ann is in neither).
CANONICAL = {"anonymous": 401, "ann": 403, "admin": 200}


class Site(NamedTuple):
    host: str  # the canonical spelling: lower case, A-label, no port
    rule: str  # its rule in GATEHOUSE_FORWARD_RULES (e2e/proxy/run.sh)
    path: str  # what is asked for
    caddy: str  # the Caddyfile's site address (without scheme and port)
    nginx: str  # nginx's server_name: the exact name, which its check sends on
    org: str  # the Remote-Org of the admin's answer
    forms: tuple = ()  # (label, spelling): its other names (Unicode, an IPv6 address written out)


# In this order in the rendered configurations: the first is nginx's default server on its port,
# which serves every name no other server has (as its own: nginx's check names the server). It
# is a host its rule guards whole, as an operator would keep a default server, so that no
# spelling nginx routes to it reaches an app without the admin's login (app.example.com's rule
# guards /admin only). Caddy's host matcher compares ASCII only, and Go refuses a Host that is
# not ASCII: the IDNA host's site is written as its A-label for both proxies.
SITES = (
    Site("x.example.org", "*.example.org=group:admin", "/x", "*.example.org", "x.example.org", ""),
    Site("app.example.com", "app.example.com/admin=group:admin", "/admin/x", "app.example.com", "app.example.com", ""),
    Site("grafana.example.com", "grafana.example.com=org:acme", "/d/home", "grafana.example.com",
         "grafana.example.com", "acme"),
    Site("xn--bcher-kva.example", "bücher.example=group:admin", "/x", "xn--bcher-kva.example",
         "xn--bcher-kva.example", "",
         (("Unicode", "bücher.example"), ("Unicode upper case", "BÜCHER.EXAMPLE"), ("Unicode :1", "bücher.example:1"))),
    Site("[2001:db8::1]", "[2001:db8::1]=group:admin", "/x", "[2001:db8::1]", "[2001:db8::1]", "",
         (("zeros written", "[2001:db8:0:0:0:0:0:1]"), ("full form", "[2001:0db8:0000:0000:0000:0000:0000:0001]"),
          ("full form in upper case :1", "[2001:0DB8:0000:0000:0000:0000:0000:0001]:1"))),
)


class Spelling(NamedTuple):
    label: str
    kind: str  # "same" or "malformed"
    hosts: tuple  # the Host header lines a client sends a proxy (and Caddy sends on)
    client_forwarded: tuple = ()  # X-Forwarded-Host lines the client sends a proxy itself


def mixed_case(text):
    flip, out = False, []
    for c in text:
        if c.isalpha():
            out.append(c.upper() if flip else c.lower())
            flip = not flip
        else:
            out.append(c)
    return "".join(out)


def spellings(site, proxy_ports):
    """Every spelling of `site` this check sends, the canonical one first. `proxy_ports`: the
    ports the proxies listen on here, which a browser would write into the Host."""
    h = site.host
    same = [("canonical", h), (":80 (http's)", f"{h}:80"), (":443 (https's)", f"{h}:443"),
            (":8443", f"{h}:8443"), (":1", f"{h}:1"), ("empty port", f"{h}:")]
    same += [(f":{port} ({proxy}'s)", f"{h}:{port}") for proxy, port in proxy_ports.items()]
    same += [("mixed case", mixed_case(h)), ("upper case", h.upper())] + list(site.forms)
    malformed = [("user@", f"user@{h}"), ("@evil.example", f"{h}@evil.example"), ("list", f"{h},evil.example"),
                 ("list of itself", f"{h}, {h}"), (":0", f"{h}:0"), (":99999", f"{h}:99999")]
    if h.startswith("["):
        address = h[1:-1]
        malformed += [("no brackets", address), ("zone", f"[{address}%25eth0]"), ("trailing dot", f"{h}.")]
    else:
        same += [("trailing dot", f"{h}."), ("trailing dot :1", f"{h}.:1"), ("upper case and trailing dot", f"{h.upper()}.")]
        first, rest = h.split(".", 1)
        malformed += [("%2e", f"{first}%2e{rest}")]
    result = [Spelling(label, "same", (host,)) for label, host in same]
    result += [Spelling(label, "malformed", (host,)) for label, host in malformed]
    result += [
        Spelling("two Host (the same)", "malformed", (h, h)),
        Spelling("two Host (another)", "malformed", (h, "evil.example")),
        Spelling("two X-Forwarded-Host", "malformed", (h,), (h, h)),
    ]
    return result


# ------------------------------------------------------------------------------------------
# Raw requests: header lines exactly as given (twice, or not ASCII), no Host of their own.

class Answer(NamedTuple):
    status: Optional[int]  # None: the connection ended without an answer
    headers: dict  # lower-case name -> the first value
    body: bytes


def send(port, target, lines):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        for name, value in lines:
            conn.putheader(name, value.encode("utf-8"))
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        headers = {}
        for name, value in resp.getheaders():
            headers.setdefault(name.lower(), value)
        return Answer(resp.status, headers, body)
    except (http.client.HTTPException, ConnectionError) as error:
        return Answer(None, {"error": f"{type(error).__name__}: {error}"}, b"")
    finally:
        conn.close()


class Outcome(NamedTuple):
    status: Optional[int]
    site: Optional[Site]  # the site whose app the request reached (the proxies), or None
    identity: tuple  # (Remote-User, Remote-Org) the app (or, alone, gatehouse's 200) names
    own: bool  # a proxy's own answer: it did not ask gatehouse, or did not serve the host


class Differential:
    """The requests of check 10 and what they show. `callers`: name -> (bearer token or None,
    account id or None); `site_ports`: the app's port of each of SITES, in its order."""

    def __init__(self, gatehouse_port, proxies, site_ports, callers, upstream_log):
        self.gatehouse_port = gatehouse_port
        self.proxies = proxies  # name -> port
        self.by_port = dict(zip(site_ports, SITES))
        self.callers = callers
        self.upstream_log = Path(upstream_log)
        self.elapsed = 0.0
        self.count = 0
        self.asked = {}  # canonical_at's answers

    # -- asking ---------------------------------------------------------------------------

    def caller_lines(self, caller):
        token = self.callers[caller][0]
        return [("Accept", ACCEPT)] + ([("Authorization", f"Bearer {token}")] if token else [])

    def alone(self, site, spelling, caller, path=None):
        """The request Caddy makes of gatehouse for this Host (each Host line one
        X-Forwarded-Host line; the client's own X-Forwarded-Host lines as if passed on)."""
        forwarded = spelling.client_forwarded or spelling.hosts
        lines = [("Host", f"127.0.0.1:{self.gatehouse_port}")] + self.caller_lines(caller)
        lines += [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Method", "GET"), ("X-Forwarded-Proto", SCHEME)]
        lines += [("X-Forwarded-Host", host) for host in forwarded]
        lines += [("X-Forwarded-Uri", path or site.path)]
        return send(self.gatehouse_port, "/auth/forward", lines), None

    def canonical_at(self, other, path, caller):
        """gatehouse alone on the canonical request for another site's host and this path: what
        a request that site served must have been let through by."""
        key = (other.host, path, caller)
        if key not in self.asked:
            answer, _ = self.alone(other, Spelling("canonical", "same", (other.host,)), caller, path)
            self.asked[key] = self.outcome("gatehouse", answer, None, {})
        return self.asked[key]

    def through(self, proxy, site, spelling, caller):
        probe = secrets.token_hex(8)
        lines = [("Host", host) for host in spelling.hosts] + self.caller_lines(caller)
        lines += [("X-Forwarded-Host", host) for host in spelling.client_forwarded]
        return send(self.proxies[proxy], f"{site.path}?probe={probe}", lines), probe

    def ask_all(self):
        """Every request, a few at a time; returns {(way, site, label, caller): (answer, probe)}."""
        jobs = {}
        for site in SITES:
            for spelling in spellings(site, self.proxies):
                for caller in CALLERS:
                    jobs[("gatehouse", site.host, spelling.label, caller)] = (self.alone, site, spelling, caller)
                    for proxy in self.proxies:
                        jobs[(proxy, site.host, spelling.label, caller)] = (self.through, proxy, site, spelling, caller)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futures = {key: pool.submit(job[0], *job[1:]) for key, job in jobs.items()}
            answers = {key: future.result() for key, future in futures.items()}
        self.elapsed, self.count = time.monotonic() - started, len(jobs)
        return answers

    def reached(self):
        """probe -> the app's records of it (read once all requests are answered: the app writes
        its line before it answers)."""
        found = {}
        if self.upstream_log.exists():
            for line in self.upstream_log.read_text(encoding="utf-8").splitlines():
                record = json.loads(line) if line.strip() else None
                match = record and re.search(r"[?&]probe=([0-9a-f]+)", record["path"])
                if match:
                    found.setdefault(match.group(1), []).append(record)
        return found

    # -- judging --------------------------------------------------------------------------

    def outcome(self, way, answer, probe, records):
        if way == "gatehouse":
            identity = (answer.headers.get("remote-user", ""), answer.headers.get("remote-org", ""))
            return Outcome(answer.status, None, identity if answer.status == 200 else ("", ""), False)
        seen = records.get(probe, [])
        if seen:
            record = seen[0]
            headers = {}
            for name, value in record["headers"]:
                headers.setdefault(name.lower(), value)
            port = record.get("port")
            # A port no guarded host's site proxies to: a site with no rule (a failure below).
            site = self.by_port.get(port) or Site(f"the app on port {port}", "", "", "", "", "")
            return Outcome(answer.status, site, (headers.get("remote-user", ""), headers.get("remote-org", "")), False)
        # Not at the app: gatehouse's refusal (401, 403, or nginx's 302 to the login), or the
        # proxy's own answer.
        own = answer.status not in (401, 403, 302)
        return Outcome(answer.status, None, ("", ""), own)

    def allowed_identity(self, site, caller):
        return (self.callers[caller][1], site.org)

    @staticmethod
    def show(outcome, site, way):
        if outcome.status is None:
            return "no answer"
        if way == "gatehouse":
            return "let through" if outcome.status == 200 else str(outcome.status)
        if outcome.site is not None:
            return "let through" if outcome.site == site else f"let through by {outcome.site.host}"
        if outcome.own:
            return "empty 200 (no site)" if outcome.status == 200 else f"{outcome.status} from {way}"
        return str(outcome.status)

    def problems_of(self, way, site, spelling, caller, outcome, canonical):
        """What is wrong with one answer (empty: nothing)."""
        where = f"{spelling.label} ({' + '.join(spelling.hosts)}"
        where += f", X-Forwarded-Host {' + '.join(spelling.client_forwarded)})" if spelling.client_forwarded else ")"
        said = f"{where}, {caller}: {self.show(outcome, site, way)}"
        if outcome.status is not None and outcome.status >= 500:
            return [f"{said}: a server error"]
        if way == "gatehouse":
            if spelling.kind == "malformed":
                return [f"{said}, a malformed host"] if outcome.status == 200 else []
            if (outcome.status, outcome.identity) != (canonical.status, canonical.identity):
                got = f" {outcome.identity}" if outcome.status == 200 else ""
                want = f" {canonical.identity}" if canonical.status == 200 else ""
                return [f"{said}{got}; the canonical request: {canonical.status}{want}"]
            return []
        if outcome.site is not None:
            # Served by a site: the canonical request for its host (and this path) must let the
            # caller through, naming the same account and organization.
            if not outcome.site.rule:
                return [f"{said}: reached the app where no guarded host's site sends it"]
            if spelling.kind == "malformed" and CANONICAL[caller] != 200:
                return [f"{said}, a malformed host"]
            there = canonical if outcome.site == site else self.canonical_at(outcome.site, site.path, caller)
            if there.status != 200:
                return [f"{said}, where the canonical request for {outcome.site.host}{site.path} gets {there.status}"]
            if outcome.identity != there.identity:
                return [f"{said}: the app got Remote-User/-Org {outcome.identity}, expected {there.identity}"]
            return []
        if spelling.kind == "same" and not outcome.own and outcome.status != canonical.status:
            return [f"{said}; the canonical request: {self.show(canonical, site, 'gatehouse')}"]
        return []

    def run(self):
        """[(label, problems, detail)], one per way of asking and site."""
        answers = self.ask_all()
        records = self.reached()
        results = []
        for way in ("gatehouse",) + tuple(self.proxies):
            for site in SITES:
                results.append(self.judge(way, site, answers, records))
        return results

    def judge(self, way, site, answers, records):
        label = f"10 host spellings, {way if way != 'gatehouse' else 'gatehouse alone'}, {site.rule}"
        problems = []
        canonical = {}
        for caller in CALLERS:
            alone = self.outcome("gatehouse", *answers[("gatehouse", site.host, "canonical", caller)], records)
            canonical[caller] = alone
            expected = (CANONICAL[caller], self.allowed_identity(site, caller) if CANONICAL[caller] == 200 else ("", ""))
            if way == "gatehouse" and (alone.status, alone.identity) != expected:
                problems.append(f"the canonical request from gatehouse alone, {caller}: {alone.status} {alone.identity}, "
                                f"expected {expected[0]} {expected[1] if expected[0] == 200 else ''} (is the rule set?)")
        groups = {}
        for spelling in spellings(site, self.proxies):
            shown = []
            for caller in CALLERS:
                outcome = self.outcome(way, *answers[(way, site.host, spelling.label, caller)], records)
                if spelling.label == "canonical" and way != "gatehouse":
                    want = "let through" if CANONICAL[caller] == 200 else str(CANONICAL[caller])
                    if self.show(outcome, site, way) != want:
                        problems.append(f"the canonical request through {way}, {caller}: {self.show(outcome, site, way)}, "
                                        f"expected {want} (is the site served?)")
                problems += self.problems_of(way, site, spelling, caller, outcome, canonical[caller])
                shown.append(f"{caller} {self.show(outcome, site, way)}")
            groups.setdefault((spelling.kind, ", ".join(shown)), []).append(spelling.label)
        parts = []
        for (kind, shown), labels in groups.items():
            parts.append(f"{kind} [{shown}]: {', '.join(labels)}")
        if len(problems) > 8:
            problems = problems[:8] + [f"and {len(problems) - 8} more"]
        return label, problems, "; ".join(parts)
