"""Key rotation and algorithm switches on one gatehouse database: a token naming a new key
verifies after one fetch of the key set, with the algorithm its key declares; the older
tokens keep verifying from the cache; and while gatehouse is down, the cached keys still
verify offline while the live check answers 503."""

from __future__ import annotations

import time

import pytest

from apps import serve
from conftest import call, expect, header_of, logged_in, start_gatehouse
from gatehouse_middleware import Unavailable, Verifier


def test_rotation_and_algorithm_switches(tmp_path_factory: pytest.TempPathFactory) -> None:
    gatehouse = start_gatehouse(tmp_path_factory, "rotation", GATEHOUSE_TOKEN_ALGORITHM="EdDSA")
    try:
        verifier = Verifier(gatehouse.base, refetch_interval=1)
        assert gatehouse.jwks_fetches() == 1
        login = logged_in(gatehouse, "rotation")
        eddsa = login.token
        assert header_of(eddsa)["alg"] == "EdDSA"
        assert verifier.authenticate(eddsa).account_id == login.id

        # `gatehouse keys rotate` publishes a new key at once; it signs two minutes later.
        rotated = gatehouse.command("keys", "rotate")
        assert "added EdDSA signing key" in rotated

        # A restart with another algorithm adds a key of it, which signs at once.
        for algorithm in ("ES256", "RS256"):
            gatehouse.restart(GATEHOUSE_TOKEN_ALGORITHM=algorithm)
            time.sleep(1.1)  # past the verifier's refetch interval since its last fetch
            assert gatehouse.jwks_fetches() == 0  # a new process
            token = gatehouse.log_in(login.email, login.password)["access_token"]
            assert header_of(token)["alg"] == algorithm
            assert header_of(token)["kid"] not in {header_of(eddsa)["kid"]}
            auth = verifier.authenticate(token)
            assert auth.account_id == login.id
            assert gatehouse.jwks_fetches() == 1, "one fetch for the new key"
            # The older token still verifies, from the cache.
            assert verifier.authenticate(eddsa).account_id == login.id
            assert gatehouse.jwks_fetches() == 1

        published = {key["alg"] for key in expect(call("GET", f"{gatehouse.base}/.well-known/jwks.json"), 200, "jwks")["keys"]}
        assert published == {"EdDSA", "ES256", "RS256"}

        # A framework app verifies every algorithm too, over HTTP.
        with serve("fastapi", gatehouse.base) as api:
            for token in (eddsa, gatehouse.log_in(login.email, login.password)["access_token"]):
                expect(call("GET", f"{api}/me", token=token), 200, "me")

        # gatehouse down: the cached keys verify offline; the live check cannot answer.
        token = gatehouse.log_in(login.email, login.password)["access_token"]
        gatehouse.stop()
        assert verifier.authenticate(token).account_id == login.id
        with pytest.raises(Unavailable):
            verifier.authenticate(token, live=True)
    finally:
        gatehouse.stop()
