#!/usr/bin/env python3
"""The MCP Python SDK's own OAuth client (mcp.client.auth.OAuthClientProvider, over
streamable_http_client) against examples/mcp/server.py behind nginx and gatehouse, as an MCP
client does it with no set-up: its first call is refused with gatehouse's RFC 9728 challenge, it
reads the protected resource metadata through nginx, discovers gatehouse (RFC 8414), registers
itself (RFC 7591), opens the authorization URL in the browser (e2e/mcp/browser.mjs, where the
person logs in and consents), takes the code at its loopback callback and calls `whoami`, which
answers with who gatehouse let in (and `reindex`, the admin tool, is unknown at /mcp). Then
`reindex` at /mcp/admin: the mcp:tools token is refused with 403 insufficient_scope, and the SDK
asks the person again for the wider scope (step-up) and calls again: the SDK registered with the
first challenge's scope alone, and gatehouse registered it for the whole resource's. Revoking the grant (RFC 7009) refuses its token at the next request, and the
SDK's next call authorizes anew. Last, without the SDK, another app gets a token for another
resource of gatehouse (/reports), which userinfo takes and /mcp refuses.

    python_client.py --gatehouse URL --mcp URL --browser URL --account-id ID --reports URL

Prints one line per check ("  ok: …" or "  FAILED: …: why"); exit status 1 when one failed.
"""

import argparse
import base64
import logging
import hashlib
import json
import queue
import re
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

LABEL = "python SDK"
CLIENT_NAME = "Notes agent (mcp on PyPI)"
# The whole run, and each HTTP request, give up after these.
RUN_TIMEOUT_S = 75
REQUEST_TIMEOUT_S = 15


# The SDK logs each failure of its OAuth flow with a traceback; here the failure reaches the
# checks as the exception it raises, with its reason.
logging.getLogger("mcp.client.auth").setLevel(logging.CRITICAL)


class Fail(Exception):
    pass


def expect(condition, why):
    if not condition:
        raise Fail(why)


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, name):
        self.passed += 1
        print(f"  ok: {LABEL}: {name}", flush=True)

    def fail(self, name, why):
        self.failed += 1
        print(f"  FAILED: {LABEL}: {name}: {why}", flush=True)

    def check(self, name, condition, why):
        self.ok(name) if condition else self.fail(name, why)
        return bool(condition)


def claims(jwt):
    """A JWT's header and payload, unverified: what the token says, for the checks."""
    header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in jwt.split(".")[:2])
    return header, payload


def challenge(value):
    """The parameters of a WWW-Authenticate: Bearer challenge, as a dict."""
    return {key.lower(): val for key, val in re.findall(r'(\w+)="([^"]*)"', value or "")}


# ------------------------------------------------------------------------------------------
# What the client has around the SDK: its token store, its loopback callback, the browser.

class Storage:
    """The SDK's TokenStorage, in memory: one for the client, shared by its connections."""

    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class Callback:
    """The client's loopback redirect URI (RFC 8252): http://127.0.0.1:PORT/callback."""

    def __init__(self):
        self.answers = queue.Queue()
        answers = self.answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                address = urllib.parse.urlsplit(self.path)
                if address.path != "/callback":  # the browser asks for /favicon.ico too
                    self.send_error(404)
                    return
                answers.put(dict(urllib.parse.parse_qsl(address.query)))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"Done: you may close this window.\n")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self):
        """The query the browser brought back, once it has: the browser's answer comes after it."""
        try:
            return self.answers.get(timeout=REQUEST_TIMEOUT_S)
        except queue.Empty:
            raise Fail("the browser never reached the callback") from None


class Person:
    """The browser of e2e/mcp/browser.mjs, asked to walk authorization URLs to `callback`."""

    def __init__(self, browser, callback):
        self.browser, self.callback = browser.rstrip("/"), callback
        self.walks = []

    async def open(self, url):
        while not self.callback.answers.empty():  # what an earlier walk left
            self.callback.answers.get_nowait()
        async with httpx2.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_S * 2) as http:
            answer = await http.post(f"{self.browser}/authorize", json={"url": url, "callback": self.callback.url})
        walk = answer.json()
        walk["url"] = url
        self.walks.append(walk)
        if answer.status_code != 200:
            raise Fail(f"the browser: {walk.get('error')}")

    async def come_back(self):
        """The SDK's callback_handler: the code, or gatehouse's refusal as an error."""
        query = await anyio.to_thread.run_sync(self.callback.take)
        if "error" in query:
            raise Fail(f"gatehouse answered the authorization with {query['error']}: {query.get('error_description')}")
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


class Recorder(httpx2.AsyncBaseTransport):
    """Every request the SDK sends (the MCP calls and its OAuth requests) and its answer; and
    the registrations' answers whole (what gatehouse registered the SDK for)."""

    def __init__(self, log, registrations):
        self.inner, self.log, self.registrations = httpx2.AsyncHTTPTransport(), log, registrations

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        self.log.append({"method": request.method, "url": str(request.url), "status": response.status_code,
                         "auth": request.headers.get("authorization", ""),
                         "challenge": response.headers.get("www-authenticate", "")})
        if request.method == "POST" and request.url.path == "/oauth2/register" and response.status_code == 201:
            body = await response.aread()
            self.registrations[json.loads(body)["client_id"]] = json.loads(body)
            response = httpx2.Response(response.status_code, headers=response.headers, content=body, request=request)
        return response

    async def aclose(self):
        await self.inner.aclose()


# ------------------------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.gatehouse = args.gatehouse.rstrip("/")
        self.mcp = args.mcp.rstrip("/")
        self.origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(self.mcp))
        self.metadata_url = f"{self.origin}/.well-known/oauth-protected-resource/mcp"
        self.checks = Checks()
        self.log = []
        self.registrations = {}
        self.callback = Callback()
        self.person = Person(args.browser, self.callback)
        self.storage = Storage()

    def provider(self, url):
        """The SDK's provider for the server at `url`: what an MCP client configures, and no more."""
        return OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(client_name=CLIENT_NAME, redirect_uris=[self.callback.url],
                                                token_endpoint_auth_method="none"),
            storage=self.storage,
            redirect_handler=self.person.open,
            callback_handler=self.person.come_back,
        )

    async def call(self, url, tool, provider=None, allow_error=False):
        """Connects to the MCP server at `url` (the SDK's Client over streamable_http_client) and
        calls `tool`: its structured answer (the whole result with `allow_error`), or the SDK's error."""
        async with httpx2.AsyncClient(auth=provider or self.provider(url), transport=Recorder(self.log, self.registrations),
                                      trust_env=False, timeout=REQUEST_TIMEOUT_S) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                result = await client.call_tool(tool, {})
        if allow_error:
            return result
        expect(not result.is_error, f"{tool} answered an error: {result.content}")
        return result.structured_content

    def sent(self, since, method, url):
        """The requests of the log from `since` on to `url` (without its query) by `method`."""
        return [r for r in self.log[since:] if r["method"] == method and r["url"].split("?")[0] == url]

    async def attempt(self, name, action):
        """Runs `action`; a failure is the check `name`'s, with the reason."""
        try:
            return await action()
        except Exception as error:  # noqa: BLE001: whatever stopped the SDK is the failure
            while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
                error = error.exceptions[0]  # the task groups' wrapping, around the one cause
            self.checks.fail(name, f"{type(error).__name__}: {error}")
            return None

    # --------------------------------------------------------------------------------------
    async def first_call(self):
        c, log_start = self.checks, len(self.log)
        tools_provider = self.provider(self.mcp)
        answer = await self.attempt("whoami at /mcp, the SDK doing the whole flow",
                                    lambda: self.call(self.mcp, "whoami", tools_provider))
        if answer is None:
            return False
        first = self.sent(log_start, "POST", self.mcp)[0]
        said = challenge(first["challenge"])
        c.check("the first call carries no token and is refused: 401 with gatehouse's RFC 9728 challenge through nginx",
                not first["auth"] and first["status"] == 401 and said.get("resource_metadata") == self.metadata_url
                and said.get("scope") == "mcp:tools", first)
        prm = tools_provider.context.protected_resource_metadata
        fetched = self.sent(log_start, "GET", self.metadata_url)
        c.check("the SDK read the protected resource metadata at nginx's well-known address (served by gatehouse)",
                fetched and fetched[0]["status"] == 200 and prm and str(prm.resource) == self.mcp
                and [str(s).rstrip("/") for s in prm.authorization_servers] == [self.gatehouse]
                and prm.scopes_supported == ["mcp:tools", "mcp:admin"], (fetched, prm))
        metadata = tools_provider.context.oauth_metadata
        discovered = self.sent(log_start, "GET", f"{self.gatehouse}/.well-known/oauth-authorization-server")
        c.check("the SDK discovered gatehouse (RFC 8414 /.well-known/oauth-authorization-server)",
                discovered and discovered[0]["status"] == 200 and metadata
                and str(metadata.registration_endpoint) == f"{self.gatehouse}/oauth2/register", (discovered, metadata))
        registered = self.sent(log_start, "POST", f"{self.gatehouse}/oauth2/register")
        info = self.storage.client_info
        c.check("the SDK registered itself (RFC 7591): 201, a public client with a client_id",
                [r["status"] for r in registered] == [201] and info and info.client_id
                and info.token_endpoint_auth_method == "none", (registered, info))
        walk = self.person.walks[0] if self.person.walks else {}
        c.check("the browser opened the authorization URL: gatehouse asked for the login, then for consent",
                walk.get("pages") == ["login", "consent"], walk)
        c.check("the consent page names the app, says it registered itself, and names the MCP server",
                CLIENT_NAME in walk.get("consent", "") and "registered itself" in walk.get("consent", "")
                and self.mcp in walk.get("consent", ""), walk.get("consent"))
        asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(walk.get("url", "")).query))
        c.check("the authorization request named the resource (RFC 8707), PKCE S256 and the challenged scope",
                asked.get("resource") == self.mcp and asked.get("code_challenge_method") == "S256"
                and "mcp:tools" in asked.get("scope", "").split(), asked)
        exchanged = self.sent(log_start, "POST", f"{self.gatehouse}/oauth2/token")
        tokens = self.storage.tokens
        header, payload = claims(tokens.access_token) if tokens else ({}, {})
        c.check("the code was exchanged at /oauth2/token for an at+jwt whose aud is the MCP server, with mcp:tools",
                [r["status"] for r in exchanged] == [200] and header.get("typ") == "at+jwt"
                and payload.get("aud") == self.mcp and "mcp:tools" in payload.get("scope", "").split()
                and "mcp:admin" not in payload.get("scope", "").split(), (exchanged, header, payload))
        retried = self.sent(log_start, "POST", self.mcp)[1:2]
        c.check("the SDK sent the call again with the token, and nginx let it through",
                retried and retried[0]["auth"] == f"Bearer {tokens.access_token}" and retried[0]["status"] == 200, retried)
        scopes = answer.get("remote-scopes", "").split(",")
        c.check("whoami answers with who gatehouse let in: Remote-User the person, Remote-Client the app, Remote-Scopes mcp:tools",
                answer.get("remote-user") == self.args.account_id and answer.get("remote-client") == info.client_id
                and "mcp:tools" in scopes and "mcp:admin" not in scopes, answer)
        unknown = await self.attempt("reindex at /mcp", lambda: self.call(self.mcp, "reindex", allow_error=True))
        if unknown is not None:
            c.check("the admin tool is not served at /mcp: reindex there is an unknown tool",
                    unknown.is_error and "Unknown tool" in str(unknown.content), unknown)
        return True

    async def step_up(self):
        c, log_start, walks = self.checks, len(self.log), len(self.person.walks)
        admin_url = f"{self.mcp}/admin"
        granted_before = self.storage.tokens
        registered = self.registrations.get(self.storage.client_info.client_id, {})
        c.check("gatehouse registered the SDK (which named the first challenge's scope) for all of the resource's",
                {"mcp:tools", "mcp:admin"} <= set(registered.get("scope", "").split()), registered.get("scope"))
        answer = await self.attempt("reindex at /mcp/admin: gatehouse lets the SDK step up to mcp:admin by itself",
                                    lambda: self.call(admin_url, "reindex"))
        refused = self.sent(log_start, "POST", admin_url)[:1]
        said = challenge(refused[0]["challenge"]) if refused else {}
        c.check("the mcp:tools token is refused at /mcp/admin: 403 insufficient_scope naming mcp:admin (nginx passes the challenge on)",
                refused and refused[0]["auth"] == f"Bearer {granted_before.access_token}" and refused[0]["status"] == 403
                and said.get("error") == "insufficient_scope" and said.get("scope") == "mcp:admin"
                and said.get("resource_metadata") == self.metadata_url, refused)
        walk = self.person.walks[walks] if len(self.person.walks) > walks else {}
        asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(walk.get("url", "")).query))
        c.check("the SDK asked the person again for mcp:admin beside what it had (SEP-2350), with the same registration",
                {"mcp:tools", "mcp:admin"} <= set(asked.get("scope", "").split())
                and asked.get("client_id") == self.storage.client_info.client_id, asked)
        c.check("the browser still had its session: consent only, no login", walk.get("pages") == ["consent"], walk)
        if answer is None:
            return False
        header, payload = claims(self.storage.tokens.access_token)
        c.check("the new token carries mcp:tools and mcp:admin, its aud still the MCP server",
                {"mcp:tools", "mcp:admin"} <= set(payload.get("scope", "").split()) and payload.get("aud") == self.mcp, payload)
        c.check("reindex answers, for the same person and app, with mcp:admin in Remote-Scopes",
                answer.get("reindexed") == "yes" and answer.get("remote-user") == self.args.account_id
                and answer.get("remote-client") == self.storage.client_info.client_id
                and "mcp:admin" in answer.get("remote-scopes", "").split(","), answer)
        return True

    async def bare_call(self, http, token):
        """`tools/list` at /mcp with `token`, without the SDK (which would authorize anew)."""
        return await http.post(self.mcp, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    async def revocation(self):
        c = self.checks
        tokens, client_id = self.storage.tokens, self.storage.client_info.client_id
        async with httpx2.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_S) as http:
            revoked = await http.post(f"{self.gatehouse}/oauth2/revoke",
                                      data={"token": tokens.refresh_token or tokens.access_token, "client_id": client_id})
            c.check("the app revokes its grant at /oauth2/revoke (RFC 7009): 200", revoked.status_code == 200,
                    f"{revoked.status_code} {revoked.text[:200]}")
            answer = await self.bare_call(http, tokens.access_token)
        said = challenge(answer.headers.get("www-authenticate", ""))
        c.check("its access token is refused at the next request: 401 invalid_token",
                answer.status_code == 401 and said.get("error") == "invalid_token", (answer.status_code, said))
        log_start, walks = len(self.log), len(self.person.walks)
        again = await self.attempt("whoami after the revocation, the SDK authorizing anew",
                                   lambda: self.call(self.mcp, "whoami"))
        refused = [r["status"] for r in self.sent(log_start, "POST", self.mcp)[:1]]
        if again is not None:
            c.check("the SDK's next call is refused (401), it asks the person again, and the call goes through",
                    refused == [401] and len(self.person.walks) == walks + 1
                    and again.get("remote-user") == self.args.account_id, (refused, self.person.walks[walks:]))

    async def another_resource(self):
        """Another app, registered by hand (no SDK), gets a token for another resource
        (/reports) of the same gatehouse: a live token, which /mcp refuses for its audience."""
        c = self.checks
        async with httpx2.AsyncClient(trust_env=False, timeout=REQUEST_TIMEOUT_S) as http:
            registered = await http.post(f"{self.gatehouse}/oauth2/register", json={
                "client_name": "Reports desktop app", "redirect_uris": [self.callback.url],
                "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]})
            expect(registered.status_code == 201, f"registering the reports app: {registered.status_code} {registered.text[:200]}")
            client_id = registered.json()["client_id"]
            verifier = secrets.token_urlsafe(48)
            state = secrets.token_urlsafe(16)
            challenge_ = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            url = f"{self.gatehouse}/oauth2/authorize?" + urllib.parse.urlencode({
                "response_type": "code", "client_id": client_id, "redirect_uri": self.callback.url, "state": state,
                "code_challenge": challenge_, "code_challenge_method": "S256", "resource": self.args.reports})
            await self.person.open(url)
            query = self.callback.take()
            expect(query.get("state") == state and "code" in query, f"the reports app's callback: {query}")
            answer = await http.post(f"{self.gatehouse}/oauth2/token", data={
                "grant_type": "authorization_code", "code": query["code"], "redirect_uri": self.callback.url,
                "code_verifier": verifier, "client_id": client_id})
            expect(answer.status_code == 200, f"the reports app's token: {answer.status_code} {answer.text[:200]}")
            token = answer.json()["access_token"]
            _, payload = claims(token)
            c.check("another app's token for another resource of gatehouse: aud is that resource", payload.get("aud") == self.args.reports, payload)
            userinfo = await http.get(f"{self.gatehouse}/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
            c.check("the token is live (userinfo answers 200 for the person)",
                    userinfo.status_code == 200 and userinfo.json().get("sub") == self.args.account_id,
                    f"{userinfo.status_code} {userinfo.text[:200]}")
            refused = await self.bare_call(http, token)
        said = challenge(refused.headers.get("www-authenticate", ""))
        c.check("the MCP server's nginx refuses it: 401 invalid_token with the challenge",
                refused.status_code == 401 and said.get("error") == "invalid_token"
                and said.get("resource_metadata") == self.metadata_url, (refused.status_code, said))

    async def main(self):
        with anyio.fail_after(RUN_TIMEOUT_S):
            if await self.first_call():
                await self.step_up()
                await self.revocation()
            await self.attempt("a token for another resource", self.another_resource)
        return self.checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gatehouse", required=True, help="gatehouse's URL, its issuer")
    parser.add_argument("--mcp", required=True, help="the MCP server's URL through nginx, the resource (…/mcp)")
    parser.add_argument("--browser", required=True, help="e2e/mcp/browser.mjs's URL")
    parser.add_argument("--account-id", required=True, help="the id of the account the browser logs in as")
    parser.add_argument("--reports", required=True, help="another resource of gatehouse, which /mcp must refuse tokens of")
    args = parser.parse_args()
    try:
        checks = anyio.run(Run(args).main)
    except TimeoutError:
        print(f"  FAILED: {LABEL}: the whole did not end within {RUN_TIMEOUT_S} s", flush=True)
        sys.exit(1)
    print(f"{LABEL}: {checks.passed} passed, {checks.failed} failed", flush=True)
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
