"""FastAPI, Starlette and Flask apps protected by the package, served by real HTTP servers
(uvicorn; werkzeug's development server) and called over HTTP with real gatehouse tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from apps import FRAMEWORKS, serve
from conftest import (
    Answer,
    Gatehouse,
    call,
    claims_of,
    expect,
    header_of,
    logged_in,
    redacted,
    until_expired,
    with_second_factor,
)
from gatehouse_middleware import ConfigurationError

LEEWAY = 5  # the verifier's default


@pytest.fixture(scope="module", params=FRAMEWORKS)
def api(request: pytest.FixtureRequest, gatehouse: Gatehouse) -> Iterator[str]:
    with serve(request.param, gatehouse.base) as base:
        yield base


def problem(answer: Answer, status: int, code: str) -> dict[str, object]:
    assert answer.status == status, f"{answer.status} {redacted(answer.body)}"
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = json.loads(answer.body)
    assert body == {
        "type": f"urn:gatehouse:problem:{code}",
        "title": body["title"],
        "status": status,
        "detail": body["detail"],
        "code": code,
    }
    assert isinstance(body["title"], str) and isinstance(body["detail"], str) and body["detail"]
    return body


def unauthorized(answer: Answer, www_authenticate: str) -> None:
    problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == www_authenticate


def test_a_real_token_passes_and_exposes_its_claims(api: str, gatehouse: Gatehouse) -> None:
    assert expect(call("GET", f"{api}/public"), 200, "public") == {"message": "hello"}
    login = logged_in(gatehouse, "http")
    me = expect(call("GET", f"{api}/me", token=login.token), 200, "me")
    assert me == {
        "account_id": login.id,
        "email": login.email,
        "role": "user",
        "aal": 1,
        "amr": ["pwd"],
        "app_data": {},
        "session_id": claims_of(login.token)["sid"],
        "org": None,
        "client_id": None,
        "scopes": [],
    }


def test_no_token_is_401_with_a_problem(api: str) -> None:
    unauthorized(call("GET", f"{api}/me"), "Bearer")
    unauthorized(call("GET", f"{api}/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 'Bearer error="invalid_request"')


def test_garbage_and_another_keys_token_are_401(api: str, gatehouse: Gatehouse) -> None:
    unauthorized(call("GET", f"{api}/me", token="garbage"), 'Bearer error="invalid_token"')
    token = logged_in(gatehouse, "otherkey").token
    forged = jwt.encode(
        claims_of(token), ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": header_of(token)["kid"]}
    )
    unauthorized(call("GET", f"{api}/me", token=forged), 'Bearer error="invalid_token"')


def test_a_token_for_another_audience_is_401(api: str, gatehouse: Gatehouse) -> None:
    token = logged_in(gatehouse, "audience").token
    expect(call("GET", f"{api}/me", token=token), 200, "me")
    unauthorized(call("GET", f"{api}/other-audience", token=token), 'Bearer error="invalid_token"')


def test_aal_2_is_required_where_asked(api: str, gatehouse: Gatehouse) -> None:
    one = logged_in(gatehouse, "stepup")
    body = problem(call("GET", f"{api}/mfa", token=one.token), 403, "insufficient_aal")
    assert body["title"] == "Insufficient authentication level"
    two = with_second_factor(gatehouse, one)
    assert expect(call("GET", f"{api}/mfa", token=two.token), 200, "mfa")["aal"] == 2


def test_the_admin_role(api: str, gatehouse: Gatehouse) -> None:
    assert expect(call("GET", f"{api}/admin", token=gatehouse.admin_token()), 200, "admin")["role"] == "admin"
    problem(call("GET", f"{api}/admin", token=logged_in(gatehouse, "notadmin").token), 403, "forbidden")


def test_the_live_check_refuses_a_token_right_after_logout(api: str, gatehouse: Gatehouse) -> None:
    login = logged_in(gatehouse, "logout")
    expect(call("GET", f"{api}/live", token=login.token), 200, "live")
    expect(call("DELETE", f"{gatehouse.base}/auth", token=login.token), 204, "log out")
    unauthorized(call("GET", f"{api}/live", token=login.token), 'Bearer error="invalid_token"')
    # Offline, the same token still passes until it expires.
    assert expect(call("GET", f"{api}/me", token=login.token), 200, "me")["account_id"] == login.id


def test_an_expired_token_is_401(gatehouse: Gatehouse) -> None:
    # The three apps at once, to wait for the expiry once.
    with ExitStack() as running:
        apis = [running.enter_context(serve(framework, gatehouse.base)) for framework in FRAMEWORKS]
        token = logged_in(gatehouse, "expired").token
        for api in apis:
            expect(call("GET", f"{api}/me", token=token), 200, "me")
        until_expired(token, LEEWAY)
        for api in apis:
            unauthorized(call("GET", f"{api}/me", token=token), 'Bearer error="invalid_token"')


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_enrolment_only_session_is_403(framework: str, enrolment_gatehouse: Gatehouse) -> None:
    token = enrolment_gatehouse.admin_token()
    assert claims_of(token)["aal"] == 0
    with serve(framework, enrolment_gatehouse.base) as api:
        problem(call("GET", f"{api}/me", token=token), 403, "insufficient_aal")
        expect(call("GET", f"{api}/public"), 200, "public")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_issuer_spelled_otherwise_fails_at_start_naming_both(framework: str, gatehouse: Gatehouse) -> None:
    localhost = gatehouse.base.replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigurationError) as caught:
        with serve(framework, localhost):
            pass
    assert f"'{localhost}'" in str(caught.value) and f"'{gatehouse.base}'" in str(caught.value)
