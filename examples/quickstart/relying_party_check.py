#!/usr/bin/env python3
"""The checks of the OpenID Connect quickstarts (openid-client/app.mjs, authlib/app.py): a
browser without JavaScript, driven over HTTP, logs in to the quickstart's app through
gatehouse's hosted login page, and every answer on the way is checked, one line per check.

    QUICKSTART_PASSWORD=… python3 relying_party_check.py --app URL --gatehouse URL \
        --email ADDRESS --account ID

The app under test answers GET / and GET /me with {"logged_in", "sub", "email", "name"} (401
for /me without a login), GET /login sends the browser to gatehouse, GET /callback takes it back
and redeems the code, GET /refresh refreshes the tokens ({"refreshed", "sub"}) and GET /logout
sends the browser to gatehouse's end-session endpoint. Standard-library Python only. Prints
one line per check ("ok   …" or "FAIL …") and exits 1 at the first that fails; ../lib.sh's
qs_checks counts them. No token or password is ever printed.
"""

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

class CheckFailed(Exception):
    pass


def check(name, condition, why=""):
    if not condition:
        print(f"FAIL {name}", flush=True)
        if why:
            print(f"     {str(why)[:600]}", flush=True)
        raise CheckFailed(name)
    print(f"ok   {name}", flush=True)


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects)


class Answer:
    def __init__(self, url, status, headers, body):
        self.url, self.status, self.headers, self.body = url, status, headers, body
        self.location = urljoin(url, headers["Location"]) if headers.get("Location") else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return redact(f"{self.status} from {self.url} location={self.location} body={self.body[:300]!r}")


def redact(text):
    """Text for a failure's message, without the codes and tokens it may hold."""
    text = re.sub(r"\b(code|id_token_hint|token|mfa_token|form)=[^&\s'\"]+", r"\1=…", text)
    return re.sub(r'(name="(?:form|mfa_token)" value=")[^"]*', r"\1…", text)


class Forms(HTMLParser):
    """The forms of a page: action, hidden fields, and the names of the other inputs."""

    def __init__(self):
        super().__init__()
        self.forms, self.current = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.current = {"action": attrs.get("action", ""), "hidden": {}, "inputs": []}
            self.forms.append(self.current)
        elif tag == "input" and self.current is not None and attrs.get("name"):
            if attrs.get("type") == "hidden":
                self.current["hidden"][attrs["name"]] = attrs.get("value") or ""
            else:
                self.current["inputs"].append(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None


class Browser:
    """Cookies by name (every server here is 127.0.0.1, and a browser's cookies ignore the port),
    no redirects followed on its own, forms posted with the page's origin as browsers do."""

    def __init__(self):
        self.cookies = {}

    def request(self, url, form=None):
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if form is not None:
            parts = urlsplit(url)
            headers["Origin"] = f"{parts.scheme}://{parts.netloc}"
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urlencode(form).encode()
        try:
            with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=30) as response:
                answer = Answer(url, response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            answer = Answer(url, error.code, error.headers, error.read().decode())
        for line in answer.headers.get_all("Set-Cookie") or []:
            pair, *attributes = line.split(";")
            name, _, value = pair.partition("=")
            gone = any(a.strip().lower() in ("max-age=0",) for a in attributes)
            if gone or not value.strip():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        return answer


def login_form(page):
    parser = Forms()
    parser.feed(page.body)
    return next((f for f in parser.forms if "login" in f["inputs"] and "password" in f["inputs"]), None)


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def where(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def main():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--app", required=True)
    arguments.add_argument("--gatehouse", required=True)
    arguments.add_argument("--email", required=True)
    arguments.add_argument("--account", required=True)
    args = arguments.parse_args()
    app, gatehouse = args.app.rstrip("/"), args.gatehouse.rstrip("/")
    password = os.environ["QUICKSTART_PASSWORD"]

    discovery = json.loads(opener.open(f"{gatehouse}/.well-known/openid-configuration", timeout=30).read())
    check(f"discovery's issuer is {gatehouse}, the spelling the app is given", discovery["issuer"] == gatehouse, discovery["issuer"])

    browser = Browser()
    answer = browser.request(f"{app}/me")
    check("GET /me at the app without a login: 401", answer.status == 401 and answer.json().get("logged_in") is False, answer)

    # The login: the app sends the browser to gatehouse, which shows its login page.
    answer = browser.request(f"{app}/login")
    request = query(answer.location or "")
    check("GET /login at the app: 302 to gatehouse's authorization endpoint, PKCE S256, state and nonce",
          answer.status == 302 and where(answer.location) == discovery["authorization_endpoint"]
          and request.get("code_challenge_method") == "S256" and request.get("code_challenge")
          and request.get("state") and request.get("nonce") and request.get("redirect_uri") == f"{app}/callback", answer)
    answer = browser.request(answer.location)
    check("gatehouse sends the browser without a login to its login page (303 to /login?next=…)",
          answer.status == 303 and where(answer.location) == f"{gatehouse}/login", answer)
    page = browser.request(answer.location)
    form = login_form(page)
    check("the login page has its form: the hidden form token and next, the gatehouse_form cookie",
          page.status == 200 and form and form["hidden"].get("form") and form["hidden"].get("next")
          and "gatehouse_form" in browser.cookies, page)
    answer = browser.request(urljoin(page.url, form["action"]), {**form["hidden"], "login": args.email, "password": password})
    check("the login form is accepted: 303, and the gatehouse_session cookie",
          answer.status == 303 and "gatehouse_session" in browser.cookies, answer)
    answer = browser.request(answer.location)
    callback = query(answer.location or "")
    check("gatehouse answers the authorization request: 303 to the app's /callback with code, state and iss",
          answer.status == 303 and where(answer.location) == f"{app}/callback" and callback.get("code")
          and callback.get("state") == request["state"] and callback.get("iss") == gatehouse, answer)
    answer = browser.request(answer.location)
    check("the app redeems the code and accepts the ID token (signature, iss, aud, exp, nonce): 302 to /me",
          answer.status == 302 and where(answer.location) == f"{app}/me", answer)
    answer = browser.request(answer.location)
    me = answer.json() if answer.status == 200 else {}
    check("GET /me: the account id (sub) and the address, from the ID token and userinfo",
          me.get("logged_in") is True and me.get("sub") == args.account and me.get("email") == args.email, answer)

    # Refresh, then logout.
    answer = browser.request(f"{app}/refresh")
    body = answer.json() if answer.status == 200 else {}
    check("GET /refresh: the refresh token is spent for a new access token, for the same sub",
          body.get("refreshed") is True and body.get("sub") == args.account, answer)
    answer = browser.request(f"{app}/me")
    check("GET /me after the refresh: userinfo answers the new access token",
          answer.status == 200 and answer.json().get("sub") == args.account, answer)
    answer = browser.request(f"{app}/logout")
    logout = query(answer.location or "")
    check("GET /logout at the app: 302 to gatehouse's end-session endpoint with id_token_hint",
          answer.status == 302 and where(answer.location) == discovery["end_session_endpoint"]
          and logout.get("id_token_hint") and logout.get("post_logout_redirect_uri") == f"{app}/", answer)
    answer = browser.request(answer.location)
    check("gatehouse ends its login at once (id_token_hint): 303 to the app, the gatehouse_session cookie removed",
          answer.status == 303 and where(answer.location) == f"{app}/" and "gatehouse_session" not in browser.cookies, answer)
    answer = browser.request(answer.location)
    check("back at the app: logged out", answer.status == 200 and answer.json().get("logged_in") is False, answer)
    answer = browser.request(f"{app}/me")
    check("GET /me at the app: 401 again", answer.status == 401, answer)
    answer = browser.request(browser.request(f"{app}/login").location)
    check("a new login asks for the password again (303 to gatehouse's /login)",
          answer.status == 303 and where(answer.location) == f"{gatehouse}/login", answer)


if __name__ == "__main__":
    try:
        main()
    except CheckFailed:
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - anything unexpected fails the run, loudly
        print(f"FAIL unexpected error: {redact(f'{type(error).__name__}: {error}')}")
        sys.exit(1)
