"""The core Verifier against the real gatehouse: discovery, real tokens and their claims, and
every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from conftest import (
    ADMIN_EMAIL,
    Gatehouse,
    call,
    claims_of,
    expect,
    fresh_email,
    fresh_password,
    header_of,
    logged_in,
    until_expired,
    with_second_factor,
)
from gatehouse_middleware import (
    Auth,
    ConfigurationError,
    Forbidden,
    InsufficientAal,
    Unauthorized,
    Unavailable,
    Verifier,
    bearer_token,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def refused(verifier: Verifier, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        verifier.authenticate(token)
    return caught.value


@pytest.fixture(scope="module")
def verifier(gatehouse: Gatehouse) -> Verifier:
    return Verifier(gatehouse.base)


def test_discovery_is_read_at_start(gatehouse: Gatehouse, verifier: Verifier) -> None:
    assert verifier.issuer == gatehouse.base
    assert verifier.jwks_uri == f"{gatehouse.base}/.well-known/jwks.json"
    assert verifier.audience == gatehouse.base
    # A trailing slash on the configured issuer is the same issuer.
    assert Verifier(f"{gatehouse.base}/").issuer == gatehouse.base


def test_a_signed_up_and_activated_user_token_verifies_with_its_claims(gatehouse: Gatehouse, verifier: Verifier) -> None:
    email, password = fresh_email("signup"), fresh_password()
    account = expect(call("POST", f"{gatehouse.base}/user", body={"email": email, "password": password}), 201, "sign up")
    link = gatehouse.emailed_link(email, "activation")
    activation_token = link.split("token=", 1)[1].split("&", 1)[0]
    expect(call("POST", f"{gatehouse.base}/activate", body={"token": activation_token}), 200, "activate")
    pair = gatehouse.log_in(email, password)

    auth = verifier.authenticate(pair["access_token"])
    assert isinstance(auth, Auth)
    assert auth.account_id == account["id"]
    assert auth.email == email
    assert auth.role == "user"
    assert auth.aal == 1
    assert auth.amr == ("pwd",)
    assert auth.app_data == {}
    assert auth.session_id == claims_of(pair["access_token"])["sid"]
    assert auth.org is None
    assert auth.claims["iss"] == gatehouse.base and auth.claims["aud"] == gatehouse.base
    assert header_of(pair["access_token"])["alg"] == "EdDSA"
    # The token is not in the Auth, nor in its repr.
    assert pair["access_token"] not in repr(auth)


def test_the_bootstrap_admin_and_app_data(gatehouse: Gatehouse, verifier: Verifier) -> None:
    admin = verifier.authenticate(gatehouse.admin_token(), role="admin")
    assert admin.email == ADMIN_EMAIL and admin.role == "admin"

    login = logged_in(gatehouse, "appdata")
    expect(
        call(
            "PATCH",
            f"{gatehouse.base}/user/{login.id}",
            token=gatehouse.admin_token(),
            body={"app_data": {"plan": "pro", "seats": 5}},
            headers={"Content-Type": "application/merge-patch+json"},
        ),
        200,
        "PATCH app_data",
    )
    refreshed = gatehouse.refresh(login.pair["refresh_token"])
    assert verifier.authenticate(refreshed["access_token"]).app_data == {"plan": "pro", "seats": 5}
    with pytest.raises(Forbidden):
        verifier.authenticate(refreshed["access_token"], role="admin")


def test_missing_and_garbage_tokens_are_refused(verifier: Verifier) -> None:
    with pytest.raises(Unauthorized) as caught:
        verifier.authenticate(None)
    assert caught.value.headers() == {"WWW-Authenticate": "Bearer"}
    for garbage in ["", "garbage", "a.b.c", "x" * 9000, "eyJhbGciOiJFZERTQSJ9.e30.AAAA"]:
        error = refused(verifier, garbage)
        assert error.headers() == {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        assert error.problem() == {
            "type": "urn:gatehouse:problem:unauthorized",
            "title": "Unauthorized",
            "status": 401,
            "detail": "The access token is invalid, expired or revoked; log in again.",
            "code": "unauthorized",
        }


def test_the_authorization_header(verifier: Verifier) -> None:
    assert bearer_token(None) is None
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc.def.ghi ") == "abc.def.ghi"
    for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc"]:
        with pytest.raises(Unauthorized) as caught:
            verifier.authenticate_header(bad)
        assert caught.value.headers() == {"WWW-Authenticate": 'Bearer error="invalid_request"'}


def test_a_tampered_token_and_another_keys_token_are_refused(gatehouse: Gatehouse, verifier: Verifier) -> None:
    token = logged_in(gatehouse, "tamper").token
    head, _, signature = token.split(".")
    claims = claims_of(token)

    promoted = dict(claims, role="admin")
    assert "InvalidSignatureError" in refused(verifier, f"{head}.{b64(json.dumps(promoted).encode())}.{signature}").reason

    # Signed with another Ed25519 key under gatehouse's kid, and under a kid of its own.
    other = ed25519.Ed25519PrivateKey.generate()
    same_kid = jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": header_of(token)["kid"], "typ": "JWT"})
    assert "InvalidSignatureError" in refused(verifier, same_kid).reason
    own_kid = jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": "made-up", "typ": "JWT"})
    assert "unknown key" in refused(verifier, own_kid).reason


def test_the_algorithm_is_the_keys_never_the_headers(gatehouse: Gatehouse, verifier: Verifier) -> None:
    token = logged_in(gatehouse, "alg").token
    kid = header_of(token)["kid"]
    claims = claims_of(token)

    # alg none, with and without a signature.
    none = unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims)
    refused(verifier, none + ".")
    refused(verifier, none + "." + token.split(".")[2])

    # HS256 keyed with the public key (the algorithm-confusion attack).
    public = next(k for k in json.loads(call("GET", verifier.jwks_uri or "").body)["keys"] if k["kid"] == kid)
    for secret in (public["x"].encode(), base64.urlsafe_b64decode(public["x"] + "=")):
        signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert "InvalidAlgorithmError" in refused(verifier, f"{signing_input}.{b64(mac)}").reason

    # A header naming ES256 for gatehouse's EdDSA key.
    es256 = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
    assert "InvalidAlgorithmError" in refused(verifier, es256).reason


def test_a_token_for_another_audience_is_refused(gatehouse: Gatehouse) -> None:
    token = logged_in(gatehouse, "audience").token
    assert "InvalidAudienceError" in refused(Verifier(gatehouse.base, "https://orders.example.com"), token).reason
    # One of several audiences is enough.
    assert Verifier(gatehouse.base, ["https://orders.example.com", gatehouse.base]).authenticate(token).aal == 1


def test_a_client_apps_access_token_is_not_gatehouses_own(gatehouse: Gatehouse) -> None:
    admin = gatehouse.admin_token()
    client = expect(
        call(
            "POST",
            f"{gatehouse.base}/admin/clients",
            token=admin,
            body={"name": "Orders API", "grant_types": ["client_credentials"], "scopes": ["profile"]},
        ),
        201,
        "register a client",
    )
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    answer = call(
        "POST",
        f"{gatehouse.base}/oauth2/token",
        body={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    at_jwt = expect(answer, 200, "client credentials")["access_token"]
    assert header_of(at_jwt)["typ"] == "at+jwt"
    # Even a verifier for the client's own audience refuses it: it is no gatehouse access token.
    assert "typ" in refused(Verifier(gatehouse.base, client["client_id"]), at_jwt).reason


def test_an_expired_token_is_refused(gatehouse: Gatehouse) -> None:
    verifier = Verifier(gatehouse.base, leeway=1)
    token = logged_in(gatehouse, "expiry").token
    assert verifier.authenticate(token).aal == 1
    until_expired(token, leeway=1)
    assert "ExpiredSignatureError" in refused(verifier, token).reason


def test_the_leeway_accepts_a_token_just_past_its_expiry(gatehouse: Gatehouse) -> None:
    verifier = Verifier(gatehouse.base)  # the default leeway, 5 s
    token = logged_in(gatehouse, "leeway").token
    time.sleep(max(0.0, claims_of(token)["exp"] + 1 - time.time()))
    assert call("GET", f"{gatehouse.base}/user", token=token).status == 401  # gatehouse: expired
    assert verifier.authenticate(token).email  # still within the leeway


def test_aal_requirements(gatehouse: Gatehouse, enrolment_gatehouse: Gatehouse, verifier: Verifier) -> None:
    one = logged_in(gatehouse, "aal1")
    with pytest.raises(InsufficientAal) as caught:
        verifier.authenticate(one.token, aal=2)
    assert caught.value.status == 403 and caught.value.problem()["code"] == "insufficient_aal"

    two = with_second_factor(gatehouse, one)
    auth = verifier.authenticate(two.token, aal=2)
    assert auth.aal == 2 and "otp" in auth.amr

    # An enrolment-only session (aal 0) is refused even where one factor is enough.
    zero = enrolment_gatehouse.admin_token()
    enrolment = Verifier(enrolment_gatehouse.base)
    assert enrolment.verify(zero).aal == 0
    with pytest.raises(InsufficientAal) as caught:
        enrolment.authenticate(zero)
    assert caught.value.actual == 0


def test_the_live_check_sees_a_logout_at_once(gatehouse: Gatehouse, verifier: Verifier) -> None:
    login = logged_in(gatehouse, "live")
    assert verifier.authenticate(login.token, live=True).account_id == login.id
    expect(call("DELETE", f"{gatehouse.base}/auth", token=login.token), 204, "log out")
    with pytest.raises(Unauthorized) as caught:
        verifier.authenticate(login.token, live=True)
    assert caught.value.detail == "The session of this access token has ended; log in again."
    # Offline, the token verifies until it expires.
    assert verifier.authenticate(login.token).account_id == login.id


def test_the_issuer_must_be_spelled_as_gatehouse_spells_it(gatehouse: Gatehouse) -> None:
    localhost = gatehouse.base.replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigurationError) as caught:
        Verifier(localhost)
    message = str(caught.value)
    assert f"'{localhost}'" in message and f"'{gatehouse.base}'" in message


def test_a_burst_of_made_up_kids_fetches_the_keys_at_most_once_per_interval(gatehouse: Gatehouse) -> None:
    before = gatehouse.jwks_fetches()
    verifier = Verifier(gatehouse.base, refetch_interval=2)
    assert gatehouse.jwks_fetches() == before + 1  # at start
    token = logged_in(gatehouse, "burst").token
    key = ed25519.Ed25519PrivateKey.generate()

    def made_up() -> str:
        return jwt.encode(claims_of(token), key, algorithm="EdDSA", headers={"kid": secrets.token_hex(8)})

    def burst(count: int) -> None:
        errors: list[BaseException] = []

        def one() -> None:
            try:
                refused(verifier, made_up())
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors

    # Within the interval after the start: no fetch at all.
    started = time.monotonic()
    burst(40)
    assert time.monotonic() - started < 2
    assert gatehouse.jwks_fetches() == before + 1
    # After it: one fetch for the whole burst, and the real token still verifies from the cache.
    time.sleep(2.1)
    started = time.monotonic()
    burst(40)
    assert time.monotonic() - started < 2
    assert gatehouse.jwks_fetches() == before + 2
    assert verifier.authenticate(token).email
    assert gatehouse.jwks_fetches() == before + 2


def test_a_verifier_made_while_gatehouse_is_down_answers_503_until_it_is_up(
    gatehouse: Gatehouse, tmp_path_factory: pytest.TempPathFactory
) -> None:
    later = Gatehouse(gatehouse.binary, tmp_path_factory.mktemp("later"))
    verifier = Verifier(later.base, timeout=1)  # nothing listens there yet: no error at start
    with pytest.raises(Unavailable) as caught:
        verifier.authenticate(logged_in(gatehouse, "down").token)
    assert caught.value.status == 503 and caught.value.headers() == {"Retry-After": "1"}

    later.start()
    try:
        time.sleep(1.1)  # gatehouse is asked again at most once a second
        token = later.admin_token()
        assert verifier.authenticate(token).email == ADMIN_EMAIL
        assert verifier.issuer == later.base
    finally:
        later.stop()


def test_options_that_cannot_work_are_refused_at_start(gatehouse: Gatehouse) -> None:
    for issuer in ["", "auth.example.com", "ftp://auth.example.com", f"{gatehouse.base}/?x=1"]:
        with pytest.raises(ConfigurationError):
            Verifier(issuer)
    for algorithms in [["HS256"], ["none"], []]:
        with pytest.raises(ConfigurationError):
            Verifier(gatehouse.base, algorithms=algorithms)
    with pytest.raises(ConfigurationError) as caught:
        Verifier(f"{gatehouse.base}/somewhere-else")
    assert "404" in str(caught.value)
