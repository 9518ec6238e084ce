"""What e2e/review/check.py drives gatehouse with: HTTP without any automatic redirect, cookie
or proxy handling; a browser that keeps cookies by hand; the DNS zone and the mailbox that
e2e/review/servers.py serves; the SAML IdP (e2e/saml/idp.py), the OpenID Connect provider
(e2e/oidc/provider.mjs) and a client app of gatehouse's own provider. Standard library only.
"""

import base64
import email
import email.policy
import hashlib
import http.client
import json
import os
import re
import secrets
import subprocess
import time
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where browsers end: an app gatehouse may send them to (GATEHOUSE_REDIRECT_ALLOW), never fetched.
APP = "http://app.test/"


class Fail(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Fail(message)


class Response:
    def __init__(self, method, url, status, headers, body):
        self.method, self.url, self.status, self.headers, self.body = method, url, status, headers, body

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def code(self):
        """The problem document's `code`, if the body is one."""
        body = self.json()
        return body.get("code") if isinstance(body, dict) else None

    def __str__(self):
        shown = [f"{k}: {v}" for k, v in self.headers if k.lower() == "location" or k.lower().startswith("remote-")]
        text = re.sub(r"\s+", " ", self.body.decode("utf-8", "replace"))[:240]
        return f"{self.method} {self.url} -> {self.status} [{'; '.join(shown)}] {text!r}"


def request(url, method="GET", headers=None, body=None):
    """One request on a new connection; `body` is bytes, str or None."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(method, url, resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def query_of(url):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Browser:
    """Cookies per host and port, kept by hand: every cookie a server set goes back to it,
    `Secure` ones included (gatehouse's SAML binding cookie is `Secure`; here it runs over
    http on loopback, where browsers send such cookies too)."""

    def __init__(self):
        self.jars = {}

    def jar(self, url):
        return self.jars.setdefault(urllib.parse.urlsplit(url).netloc, {})

    def cookie_header(self, url, leave_out=()):
        return "; ".join(f"{k}={v}" for k, v in self.jar(url).items() if k not in leave_out)

    def take(self, url, resp):
        jar = self.jar(url)
        for line in resp.all("Set-Cookie"):
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            if re.search(r"(?i)max-age=0\b", attributes) or not value:
                jar.pop(name, None)
            else:
                jar[name] = value
        return resp

    def get(self, url, headers=None):
        sent = {"Accept": "text/html", "Cookie": self.cookie_header(url), **(headers or {})}
        return self.take(url, request(url, "GET", sent))

    def post(self, url, fields, leave_out=(), origin=None, headers=None):
        sent = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                "Cookie": self.cookie_header(url, leave_out), **(headers or {})}
        if origin:
            sent["Origin"] = origin
        return self.take(url, request(url, "POST", sent, urllib.parse.urlencode(fields)))

    def follow(self, url, until, hops=12):
        """GETs `url` and the redirects after it until `until(url)`: that URL."""
        for _ in range(hops):
            if until(url):
                return url
            resp = self.get(url)
            expect(resp.status in (301, 302, 303, 307) and resp.header("Location"), f"a redirect expected: {resp}")
            url = urllib.parse.urljoin(url, resp.header("Location"))
        raise Fail(f"too many redirects, the last to {url}")


class Forms(HTMLParser):
    """A page's forms: [{"action", "fields": {name: value}}]."""

    def __init__(self, html):
        super().__init__()
        self.forms = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


class Gatehouse:
    """gatehouse's API, its DNS zone and its mailbox."""

    def __init__(self, base, zone, mailbox):
        self.base, self.zone, self.mailbox = base.rstrip("/"), Path(zone), Path(mailbox)

    def api(self, method, path, body=None, token=None, headers=None):
        sent = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        if token:
            sent["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.base + path
        return request(url, method, sent, json.dumps(body) if body is not None else None)

    def ok(self, resp, status, what=""):
        """The answer's JSON, once its status is `status`."""
        expect(resp.status == status, f"{what or 'expected ' + str(status)}: {resp}")
        return resp.json()

    def refused(self, resp, status, code, what):
        """`resp` is the problem `code` with `status`."""
        expect(resp.status == status and resp.code() == code, f"{what}: expected {status} {code}, got {resp}")
        return f"{status} {code}"

    def login(self, email_address, password, **extra):
        body = self.ok(self.api("POST", "/auth", {"email": email_address, "password": password, **extra}), 200,
                       f"POST /auth as {email_address}")
        return body["access_token"]

    # -- DNS: the TXT records e2e/review/servers.py answers ------------------------------------

    def publish_txt(self, name, value):
        zone = json.loads(self.zone.read_text()) if self.zone.exists() else {}
        zone.setdefault(name.lower().rstrip("."), []).append(value)
        temporary = self.zone.with_suffix(".tmp")
        temporary.write_text(json.dumps(zone))
        temporary.replace(self.zone)

    def verify_domain(self, org, domain, token):
        """The organization claims `domain`, its TXT record is published, and it verifies."""
        claim = self.ok(self.api("POST", f"/orgs/{org}/domains", {"domain": domain}, token), 201,
                        f"{org} claims {domain}")
        self.publish_txt(claim["challenge"]["name"], claim["challenge"]["value"])
        verified = self.ok(self.api("POST", f"/orgs/{org}/domains/{domain}/verify", {}, token), 200,
                           f"{org} verifies {domain}")
        expect(verified.get("verified") is True, f"{domain} not verified: {verified}")

    # -- the mailbox e2e/review/servers.py writes ----------------------------------------------

    def mails(self):
        """Every message delivered so far: [(recipients, subject, plain text)]."""
        found = []
        if not self.mailbox.exists():
            return found
        for line in self.mailbox.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # the line the sink is writing now
                continue
            message = email.message_from_string(record["data"], policy=email.policy.default)
            body = message.get_body(("plain",)) or message
            found.append(([r.lower() for r in record["to"]], str(message["Subject"]), body.get_content()))
        return found

    def wait_mail(self, to, contains="", seconds=20, after=0):
        """The first message to `to` among those after the first `after`, holding `contains`."""
        deadline = time.monotonic() + seconds
        while True:
            for recipients, subject, text in self.mails()[after:]:
                if to.lower() in recipients and contains in text:
                    return subject, text
            if time.monotonic() > deadline:
                raise Fail(f"no email to {to} holding {contains!r} within {seconds} s")
            time.sleep(0.2)

    # -- the SAML identity provider (e2e/saml/idp.py) -------------------------------------------

    def idp(self, python, *args):
        done = subprocess.run([python, str(ROOT / "e2e/saml/idp.py"), *args], capture_output=True, text=True)
        expect(done.returncode == 0, f"idp.py {args[0]} failed: {done.stderr.strip()[-400:]}")
        return json.loads(done.stdout)

    def saml_login(self, python, connection, sp_metadata, name_id, idp):
        """A browser starts a login at the connection's login_url; the IdP `idp` (entity id,
        SSO URL, key) answers that request naming `name_id`, and the browser posts the answer
        to the ACS. The ACS's answer (a 303 to the app) and the browser."""
        browser = Browser()
        start = browser.get(connection["login_url"] + "?redirect_to=" + urllib.parse.quote(APP + "done"))
        expect(start.status == 302 and start.header("Location"), f"the login should go to the IdP: {start}")
        entity, sso_url, key = idp
        answer = self.idp(python, "response", "--sp-metadata", sp_metadata, "--idp-entity-id", entity,
                          "--sso-url", sso_url, "--name-id", name_id, "--key", key,
                          "--authn-request-url", start.header("Location"))
        # The IdP's post is cross-site: a browser leaves the SameSite=Lax hand-off cookie out.
        fields = {"SAMLResponse": answer["saml_response"], "RelayState": answer.get("relay_state") or ""}
        return browser.post(answer["acs_url"], fields, leave_out=("gatehouse_handoff",)), browser

    def landing(self, resp):
        """Where the ACS or callback sent the browser (a 303 to the app): its query."""
        expect(resp.status == 303 and (resp.header("Location") or "").startswith(APP), f"a 303 to the app: {resp}")
        return query_of(resp.header("Location"))

    def exchange(self, code, browser):
        """The tokens a landing's `code` gives, exchanged from the browser that logged in."""
        resp = self.api("POST", "/auth/exchange", {"code": code}, headers={"Cookie": browser.cookie_header(self.base)})
        return self.ok(resp, 200, "POST /auth/exchange")


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def start_provider(redirect_uri, work):
    """e2e/oidc/provider.mjs, knowing `redirect_uri`: (the process, its issuer). Its log is
    `work`/provider.log; its pid goes to `work`/provider.pid, so that run.sh stops it whatever
    becomes of this process."""
    with open(Path(work) / "provider.log", "w") as log:
        node = subprocess.Popen(["node", str(ROOT / "e2e/oidc/provider.mjs")], stdout=subprocess.PIPE, stderr=log,
                                env={**os.environ, "REDIRECT_URIS": redirect_uri}, text=True)
    (Path(work) / "provider.pid").write_text(str(node.pid))
    line = node.stdout.readline()
    expect(line.strip(), "provider.mjs printed no ready line")
    return node, json.loads(line)["issuer"]


def code_grant(gatehouse, client, login, password, **params):
    """A browser's authorization request for `client` (a confidential client of gatehouse's own
    provider, first-party: no consent page), logged in through the hosted login form with a
    password; the token endpoint's answer to the code."""
    verifier, challenge = pkce()
    redirect = client["redirect_uris"][0]
    query = {"client_id": client["client_id"], "redirect_uri": redirect, "response_type": "code",
             "code_challenge": challenge, "code_challenge_method": "S256", "state": secrets.token_hex(8), **params}
    url = f"{gatehouse.base}/oauth2/authorize?{urllib.parse.urlencode(query)}"
    browser = Browser()
    for _ in range(6):
        resp = browser.get(url)
        if resp.status == 200 and urllib.parse.urlsplit(url).path == "/login":
            forms = [f for f in Forms(resp.body.decode()).forms if f["action"] in ("login", "/login")]
            expect(forms and "form" in forms[0]["fields"], f"the login page has no login form: {resp}")
            fields = {**forms[0]["fields"], "login": login, "password": password}
            resp = browser.post(f"{gatehouse.base}/login", fields, origin=gatehouse.base)
        expect(resp.status in (302, 303) and resp.header("Location"), f"the authorization should go on: {resp}")
        url = urllib.parse.urljoin(url, resp.header("Location"))
        if url.startswith(redirect):
            break
    else:
        raise Fail(f"the authorization did not come back to {redirect}")
    code = query_of(url).get("code")
    expect(code, f"no code at {url}")
    basic = ":".join(urllib.parse.quote(part, safe="") for part in (client["client_id"], client["client_secret"]))
    headers = {"Authorization": "Basic " + base64.b64encode(basic.encode()).decode(), "Accept": "application/json",
               "Content-Type": "application/x-www-form-urlencoded"}
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier}
    resp = request(f"{gatehouse.base}/oauth2/token", "POST", headers, urllib.parse.urlencode(form))
    return gatehouse.ok(resp, 200, "the token endpoint's answer to the code")
