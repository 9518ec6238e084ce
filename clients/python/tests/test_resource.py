"""The package as a protected resource (``resource=``), against a gatehouse of its own that lists
two resources in GATEHOUSE_RESOURCES: real client-credentials tokens for one pass in FastAPI,
Starlette and Flask with their client and scopes, and are refused without the option, at the
other resource, bound to a DPoP key, or lacking a route's scope; every refusal carries RFC
9728's challenge, and each app serves the metadata it names. Then what needs no gatehouse: the
canonical form, the requirements of a client's token, settings that cannot work."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps import FRAMEWORKS, serve_asgi, serve_wsgi
from conftest import ADMIN_EMAIL, Answer, Gatehouse, call, claims_of, expect, free_port, header_of, redacted, start_gatehouse
from gatehouse_middleware import (
    Auth,
    ConfigurationError,
    Forbidden,
    InsufficientAal,
    InsufficientScope,
    ProtectedResource,
    Unauthorized,
    Verifier,
    canonical_resource,
    require,
)
from gatehouse_middleware import fastapi as gh_fastapi
from gatehouse_middleware import flask as gh_flask
from gatehouse_middleware import starlette as gh_starlette

SCOPES = ["mcp:tools", "mcp:admin"]
NAME = "Test tools"


@dataclass
class Resources:
    """The gatehouse of these tests, its two resources, and a client registered for both."""

    gatehouse: Gatehouse
    mcp: str
    reports: str
    client_id: str
    client_secret: str

    @property
    def metadata_url(self) -> str:
        return self.mcp.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")

    def token_answer(self, resource: str, scope: str, headers: dict[str, str] | None = None) -> Answer:
        """``POST /oauth2/token``, client credentials for a resource."""
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return call(
            "POST",
            f"{self.gatehouse.base}/oauth2/token",
            body={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            headers={"Authorization": f"Basic {basic}", **(headers or {})},
        )

    def token(self, resource: str, scope: str) -> str:
        answer = expect(self.token_answer(resource, scope), 200, "client credentials")
        assert answer["token_type"] == "Bearer"
        return str(answer["access_token"])


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Resources]:
    port = free_port()  # the resource's URL only: the apps listen where they can
    mcp, reports = f"http://127.0.0.1:{port}/mcp", f"http://127.0.0.1:{port}/reports"
    server = start_gatehouse(tmp_path_factory, "resources", GATEHOUSE_RESOURCES=f"{mcp} {' '.join(SCOPES)}, {reports} reports:read")
    client = expect(
        call(
            "POST",
            f"{server.base}/admin/clients",
            token=server.admin_token(),
            body={"name": "Agent", "grant_types": ["client_credentials"], "scopes": [*SCOPES, "reports:read"]},
        ),
        201,
        "register a client",
    )
    yield Resources(server, mcp, reports, client["client_id"], client["client_secret"])
    server.stop()


def caller(auth: Auth) -> dict[str, Any]:
    return {
        "subject": auth.subject,
        "is_client": auth.is_client,
        "client_id": auth.client_id,
        "scopes": list(auth.scopes),
        "email": auth.email,
    }


# The same protected resource in each framework:
#   GET /mcp                            any token for the resource
#   GET /mcp/admin                      one with the scope mcp:admin
#   GET /plain                          a verifier without resource=
#   GET /.well-known/oauth-protected-resource/mcp, served by the integration


def fastapi_app(issuer: str, resource: str) -> FastAPI:
    app = FastAPI()
    mcp = gh_fastapi.GatehouseAuth(app, issuer=issuer, resource=resource, resource_scopes=SCOPES, resource_name=NAME)
    plain = gh_fastapi.GatehouseAuth(app, issuer=issuer)

    @app.get("/mcp")
    def tools(user: Auth = Depends(mcp)) -> dict[str, Any]:
        return caller(user)

    @app.get("/mcp/admin")
    def admin(user: Auth = Depends(mcp.require(scopes=["mcp:admin"]))) -> dict[str, Any]:
        return caller(user)

    @app.get("/plain")
    def plain_route(user: Auth = Depends(plain)) -> dict[str, Any]:
        return caller(user)

    return app


def starlette_app(issuer: str, resource: str) -> Starlette:
    mcp = gh_starlette.GatehouseAuth(issuer=issuer, resource=resource, resource_scopes=SCOPES, resource_name=NAME)
    plain = gh_starlette.GatehouseAuth(issuer=issuer)

    @mcp.required()
    async def tools(request: Request) -> JSONResponse:
        return JSONResponse(caller(request.state.gatehouse))

    @mcp.required(scopes="mcp:admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse(caller(request.state.gatehouse))

    @plain.required()
    async def plain_route(request: Request) -> JSONResponse:
        return JSONResponse(caller(request.state.gatehouse))

    app = Starlette(routes=[Route("/mcp", tools), Route("/mcp/admin", admin), Route("/plain", plain_route)])
    mcp.init_app(app)
    plain.init_app(app)
    return app


def flask_app(issuer: str, resource: str) -> Flask:
    app = Flask(__name__)
    mcp = gh_flask.Gatehouse(app, issuer=issuer, resource=resource, resource_scopes=SCOPES, resource_name=NAME)
    plain = gh_flask.Gatehouse(app, issuer=issuer)

    @app.get("/mcp")
    @mcp.required
    def tools() -> dict[str, Any]:
        return caller(gh_flask.current_auth())

    @app.get("/mcp/admin")
    @mcp.required(scopes=["mcp:admin"])
    def admin() -> dict[str, Any]:
        return caller(gh_flask.current_auth())

    @app.get("/plain")
    @plain.required
    def plain_route() -> dict[str, Any]:
        return caller(gh_flask.current_auth())

    return app


@pytest.fixture(scope="module", params=FRAMEWORKS)
def api(request: pytest.FixtureRequest, resources: Resources) -> Iterator[str]:
    issuer, framework = resources.gatehouse.base, request.param
    if framework == "flask":
        with serve_wsgi(flask_app(issuer, resources.mcp)) as base:
            yield base
    else:
        with serve_asgi((fastapi_app if framework == "fastapi" else starlette_app)(issuer, resources.mcp)) as base:
            yield base


def refused(answer: Answer, status: int, code: str, www_authenticate: str) -> None:
    assert answer.status == status, f"{answer.status} {redacted(answer.body)}"
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["type"], body["status"], body["code"]) == (f"urn:gatehouse:problem:{code}", status, code)
    assert answer.headers["www-authenticate"] == www_authenticate


def test_a_clients_token_for_the_resource_passes_with_its_client_and_scopes(api: str, resources: Resources) -> None:
    # Asked for in another spelling: gatehouse writes the one canonical form in aud.
    token = resources.token(resources.mcp.replace("http://", "HTTP://") + "/", "mcp:tools")
    assert header_of(token)["typ"] == "at+jwt" and claims_of(token)["aud"] == resources.mcp
    assert expect(call("GET", f"{api}/mcp", token=token), 200, "a client's token") == {
        "subject": resources.client_id,
        "is_client": True,
        "client_id": resources.client_id,
        "scopes": ["mcp:tools"],
        "email": "",
    }


def test_without_resource_a_clients_token_is_refused_as_before(api: str, resources: Resources) -> None:
    token = resources.token(resources.mcp, "mcp:tools")
    refused(call("GET", f"{api}/plain", token=token), 401, "unauthorized", 'Bearer error="invalid_token"')


def test_a_token_for_the_other_resource_is_refused_with_the_challenge(api: str, resources: Resources) -> None:
    token = resources.token(resources.reports, "reports:read")
    assert claims_of(token)["aud"] == resources.reports
    refused(
        call("GET", f"{api}/mcp", token=token),
        401,
        "unauthorized",
        f'Bearer error="invalid_token", scope="mcp:tools mcp:admin", resource_metadata="{resources.metadata_url}"',
    )


def test_no_token_is_challenged_with_the_resource_metadata_and_the_routes_scope(api: str, resources: Resources) -> None:
    metadata = f'resource_metadata="{resources.metadata_url}"'
    refused(call("GET", f"{api}/mcp"), 401, "unauthorized", f'Bearer scope="mcp:tools mcp:admin", {metadata}')
    refused(call("GET", f"{api}/mcp/admin"), 401, "unauthorized", f'Bearer scope="mcp:admin", {metadata}')
    refused(
        call("GET", f"{api}/mcp", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        401,
        "unauthorized",
        f'Bearer error="invalid_request", scope="mcp:tools mcp:admin", {metadata}',
    )


def test_a_scope_the_token_lacks_is_403_insufficient_scope(api: str, resources: Resources) -> None:
    narrow = resources.token(resources.mcp, "mcp:tools")
    refused(
        call("GET", f"{api}/mcp/admin", token=narrow),
        403,
        "forbidden",
        f'Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="{resources.metadata_url}"',
    )
    wide = resources.token(resources.mcp, "mcp:tools mcp:admin")
    assert expect(call("GET", f"{api}/mcp/admin", token=wide), 200, "wide")["scopes"] == SCOPES


def test_the_metadata_document_is_served_at_its_path(api: str, resources: Resources) -> None:
    answer = call("GET", f"{api}/.well-known/oauth-protected-resource/mcp")
    assert answer.status == 200, redacted(answer.body)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "public, max-age=60"
    assert answer.json() == {
        "resource": resources.mcp,
        "authorization_servers": [resources.gatehouse.base],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": NAME,
    }


def test_a_token_bound_to_a_dpop_key_is_refused_as_a_bearer_token(api: str, resources: Resources) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {k: v for k, v in jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True).items() if k in ("kty", "crv", "x", "y")}
    claims = {"htm": "POST", "htu": f"{resources.gatehouse.base}/oauth2/token", "iat": int(time.time()), "jti": secrets.token_hex(16)}
    proof = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})
    answer = expect(resources.token_answer(resources.mcp, "mcp:tools", {"DPoP": proof}), 200, "a DPoP-bound token")
    assert answer["token_type"] == "DPoP"
    bound = answer["access_token"]
    thumbprint = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":")).encode()
    assert claims_of(bound)["cnf"] == {"jkt": base64.urlsafe_b64encode(hashlib.sha256(thumbprint).digest()).rstrip(b"=").decode()}

    challenge = f'scope="mcp:tools mcp:admin", resource_metadata="{resources.metadata_url}"'
    as_bearer = call("GET", f"{api}/mcp", token=bound)
    refused(as_bearer, 401, "unauthorized", f'Bearer error="invalid_token", {challenge}')
    assert "DPoP" in as_bearer.json()["detail"]
    as_dpop = call("GET", f"{api}/mcp", headers={"Authorization": f"DPoP {bound}"})
    refused(as_dpop, 401, "unauthorized", f'Bearer error="invalid_request", {challenge}')


def test_gatehouses_own_token_passes_and_holds_no_scope(api: str, resources: Resources) -> None:
    own = resources.gatehouse.admin_token()
    assert expect(call("GET", f"{api}/mcp", token=own), 200, "own token") == {
        "subject": claims_of(own)["sub"],
        "is_client": False,
        "client_id": None,
        "scopes": [],
        "email": ADMIN_EMAIL,
    }
    refused(
        call("GET", f"{api}/mcp/admin", token=own),
        403,
        "forbidden",
        f'Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="{resources.metadata_url}"',
    )


def test_settings_that_cannot_work_are_refused_at_start(resources: Resources) -> None:
    issuer, mcp = resources.gatehouse.base, resources.mcp
    for resource in ["mcp.example.com/mcp", "http://mcp.example.com/mcp", "https://mcp.example.com/mcp?x=1", "https://u@mcp.example.com/"]:
        with pytest.raises(ConfigurationError):
            Verifier(issuer, resource=resource)
    with pytest.raises(ConfigurationError):
        Verifier(issuer, resource_scopes=SCOPES)
    with pytest.raises(ConfigurationError):
        Verifier(issuer).requirements(scopes=["mcp:tools"])
    with pytest.raises(ConfigurationError):
        Verifier(issuer, resource=mcp, resource_scopes=["a b", 'c"'])
    with pytest.raises(ConfigurationError):
        gh_starlette.GatehouseAuth(issuer=issuer, resource=mcp, live=True)
    with pytest.raises(ConfigurationError):
        gh_fastapi.GatehouseAuth(issuer=issuer, resource=mcp).require(live=True)
    with pytest.raises(ConfigurationError):
        gh_starlette.GatehouseAuth(issuer=issuer).required(scopes=["mcp:tools"])
    with pytest.raises(ConfigurationError):
        gh_flask.Gatehouse(issuer=issuer).required(scopes=["mcp:tools"])
    with pytest.raises(ConfigurationError):
        gh_flask.Gatehouse(issuer=issuer, resource=mcp, live=True)
    # A verifier with resource= asked for a live check at a request: refused before any token is read.
    with pytest.raises(ConfigurationError):
        Verifier(issuer, resource=mcp).authenticate(None, live=True)


def test_the_canonical_form_is_gatehouses_and_the_metadata_url_rfc_9728s() -> None:
    assert canonical_resource("HTTPS://MCP.Example.com:443/mcp/") == "https://mcp.example.com/mcp"
    assert canonical_resource("https://mcp.example.com") == "https://mcp.example.com/"
    assert canonical_resource("https://mcp.example.com:8443//") == "https://mcp.example.com:8443/"
    assert canonical_resource("https://bücher.example/a/../api") == "https://xn--bcher-kva.example/api"
    assert canonical_resource("http://[0:0::1]:80/mcp") == "http://[::1]/mcp"
    assert canonical_resource("http://localhost:3000/x/") == "http://localhost:3000/x"
    root = ProtectedResource.parse("https://mcp.example.com/")
    assert root.metadata_url == "https://mcp.example.com/.well-known/oauth-protected-resource"
    assert root.metadata_path == "/.well-known/oauth-protected-resource"
    nested = ProtectedResource.parse("https://MCP.example.com:8443/v1/mcp/")
    assert nested.metadata_url == "https://mcp.example.com:8443/.well-known/oauth-protected-resource/v1/mcp"
    # aud as a list, holding the resource in any spelling.
    assert nested.holds(["https://other.example.com/", "HTTPS://mcp.example.com:8443/v1/mcp/"])
    assert not nested.holds(["https://mcp.example.com:8443/v1", "https://mcp.example.com:8443/v1/mcp/more", 42])
    assert not nested.holds("https://mcp.example.com/v1/mcp")


def test_a_clients_token_carries_no_aal_role_or_account_and_must_hold_the_scopes() -> None:
    client = Auth(
        account_id="c0ffee",
        email="",
        role="",
        aal=0,
        amr=(),
        app_data={},
        session_id="",
        org=None,
        claims={"sub": "c0ffee", "client_id": "c0ffee", "scope": "mcp:tools"},
        client_id="c0ffee",
        scopes=("mcp:tools",),
    )
    assert client.is_client and client.subject == "c0ffee"
    require(client)  # an enrolment-only session's aal 0 is an account's, not a client's
    require(client, scopes=["mcp:tools"])
    with pytest.raises(InsufficientAal):
        require(client, aal=2)
    with pytest.raises(Forbidden):
        require(client, role="admin")
    with pytest.raises(InsufficientScope) as caught:
        require(client, scopes=["mcp:tools", "mcp:admin"])
    # Without a verifier's resource, no challenge parameters: the verifier adds them.
    assert caught.value.status == 403 and caught.value.problem()["code"] == "forbidden"
    assert caught.value.headers() == {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
    with pytest.raises(Unauthorized) as no_token:
        Verifier("http://127.0.0.1:9", resource="https://mcp.example.com/mcp", timeout=0.2).authenticate(None, scopes="mcp:tools")
    assert no_token.value.headers() == {
        "WWW-Authenticate": 'Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    }
