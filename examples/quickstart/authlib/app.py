"""A web app that logs people in through gatehouse, its OpenID Connect provider, with Authlib
and requests: discovery, the authorization code flow with PKCE and a nonce, the ID token
checked (its signature too), userinfo, refresh and logout.

    pip install Authlib requests
    GATEHOUSE_ISSUER=http://127.0.0.1:8080 CLIENT_ID=… CLIENT_SECRET=… python app.py

Register the app first, with the redirect URI http://127.0.0.1:5000/callback and the
post-logout redirect URI http://127.0.0.1:5000/ (docs/INTEGRATING.md, "Quickstarts").
"""

import json
import os
import secrets
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.jwk import KeySet

ISSUER = os.environ["GATEHOUSE_ISSUER"]  # the "issuer" of gatehouse's discovery, spelled exactly so
APP = os.environ.get("APP_URL", "http://127.0.0.1:5000")
CLIENT_ID, CLIENT_SECRET = os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"]
# Plain http works here only because gatehouse runs on a loopback address; in production its
# issuer is https, and nothing else changes.
meta = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == ISSUER, f"gatehouse's issuer is {meta['issuer']!r}: use exactly that"
sessions = {}  # this app's own sessions, by the random id in its cookie


def id_token_claims(id_token, nonce=None):
    """The ID token, verified: the signature with the key its kid names, by that key's own alg
    (the JWKS is read per login, so a rotated key is found), then iss, aud, exp, iat, nonce, azp."""
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    key = keys.get_by_kid(jws.extract_compact(id_token.encode()).headers()["kid"])
    token = jwt.decode(id_token, key, algorithms=[key.alg])
    options = {"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": CLIENT_ID}}
    claims = CodeIDToken(token.claims, token.header, options, {"nonce": nonce, "client_id": CLIENT_ID})
    claims.validate(leeway=60)
    return claims


def handle(path, query, sid, session):
    """An answer: (status, JSON body, headers)."""
    if path == "/login":
        sid = secrets.token_urlsafe(16)
        oauth = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="openid profile email offline_access",
                              redirect_uri=f"{APP}/callback", code_challenge_method="S256")
        verifier, nonce = generate_token(48), generate_token(24)
        url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        sessions[sid] = {"oauth": oauth, "verifier": verifier, "nonce": nonce, "state": state}
        return 302, None, {"Location": url, "Set-Cookie": f"sid={sid}; Path=/; HttpOnly; SameSite=Lax"}
    if path == "/callback" and session and "verifier" in session:
        if query.get("iss") != ISSUER or query.get("state") != session["state"]:
            return 400, {"error": "not the answer to this app's request"}, {}
        oauth = session["oauth"]
        token = oauth.fetch_token(meta["token_endpoint"], code=query.get("code"), state=session["state"],
                                  code_verifier=session.pop("verifier"))
        session["claims"] = id_token_claims(token["id_token"], session["nonce"])
        return 302, None, {"Location": f"{APP}/me"}
    if not session or "claims" not in session:
        return (200 if path == "/" else 401), {"logged_in": False}, {}
    oauth = session["oauth"]
    if path in ("/", "/me"):
        sub = session["claims"]["sub"]  # the account id: key your users on it
        answer = oauth.get(meta["userinfo_endpoint"], timeout=10)
        answer.raise_for_status()
        info = answer.json()
        if info["sub"] != sub:
            raise ValueError("userinfo names another account than the ID token")
        return 200, {"logged_in": True, "sub": sub, "email": info.get("email"), "name": info.get("name")}, {}
    if path == "/refresh":
        before = oauth.token["access_token"]
        token = oauth.refresh_token(meta["token_endpoint"])  # spends the refresh token
        session["claims"] = id_token_claims(token["id_token"]) if "id_token" in token else session["claims"]
        return 200, {"refreshed": token["access_token"] != before, "sub": session["claims"]["sub"]}, {}
    if path == "/logout":
        sessions.pop(sid, None)
        # Ends the login at gatehouse, and every app session granted through it.
        params = {"id_token_hint": oauth.token["id_token"], "post_logout_redirect_uri": f"{APP}/"}
        return 302, None, {"Location": f"{meta['end_session_endpoint']}?{urlencode(params)}"}
    return 404, {"error": "not found"}, {}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        cookies = dict(c.strip().split("=", 1) for c in self.headers.get("Cookie", "").split(";") if "=" in c)
        sid = cookies.get("sid")
        try:
            status, body, headers = handle(url.path, {k: v[0] for k, v in parse_qs(url.query).items()}, sid, sessions.get(sid))
        except Exception as error:  # noqa: BLE001 - a refusal of gatehouse's, or a token that did not verify
            status, body, headers = 502, {"error": type(error).__name__, "message": str(error)}, {}
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def log_request(self, code="-", size="-"):  # the path alone: a query may hold a code
        print(f"{self.command} {urlsplit(self.path).path} {code}", flush=True)


if __name__ == "__main__":
    where = urlsplit(APP)
    print(f"listening on {APP}", flush=True)
    ThreadingHTTPServer((where.hostname, where.port), Handler).serve_forever()
