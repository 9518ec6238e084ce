"""Verifying gatehouse access tokens: discovery, the key cache and the checks.

    verifier = Verifier("https://auth.example.com")
    auth = verifier.authenticate(token)           # an Auth, or a GatehouseError to answer with

The verifier reads ``{issuer}/.well-known/openid-configuration`` once, when it is made, for
the ``issuer`` and the ``jwks_uri``, and keeps the JSON Web Key Set in memory. A token naming a
key it has not seen (a rotation, an algorithm switch) makes it fetch the key set again, at most
once per ``refetch_interval``. Signatures are checked by PyJWT with the ``cryptography``
package, with the algorithm the key declares in the key set.

With ``resource=`` the API is a protected resource of gatehouse (an MCP server, an API of
``GATEHOUSE_RESOURCES``): it also takes the access tokens gatehouse issued client apps for it, and
its refusals carry RFC 9728's challenge.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

import jwt

from .auth import Auth, account_auth, client_auth, require
from .errors import (
    INVALID_TOKEN,
    Challenge,
    ConfigurationError,
    GatehouseError,
    InsufficientScope,
    Unauthorized,
    Unavailable,
)
from .resource import ProtectedResource, scope_list

__all__ = ["DEFAULT_ALGORITHMS", "Verifier", "bearer_token", "require"]

log = logging.getLogger("gatehouse_middleware")

#: What gatehouse signs access tokens with: EdDSA by default, ES256 or RS256 when configured.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("EdDSA", "ES256", "RS256")

# The asymmetric algorithms a key may declare, with the key type (and curve) each needs. HMAC
# and "none" are not among them and cannot be configured.
_KEY_SHAPES: dict[str, tuple[str, str | None]] = {
    "EdDSA": ("OKP", "Ed25519"),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
}

# gatehouse refuses longer tokens itself.
_MAX_TOKEN_LEN = 8192
# Discovery documents and key sets are a few KiB; anything much larger is not one.
_MAX_DOCUMENT = 1 << 20
# While gatehouse has never answered (it was down when the app started), it is asked again
# at most this often.
_RETRY_UNREACHED = 1.0

_ENDED = "The session of this access token has ended; log in again."
_BOUND = (
    "The access token is bound to a key (DPoP), and this API takes bearer tokens only: "
    "get a token without a DPoP proof."
)


class _Unreachable(Exception):
    """gatehouse did not answer, or not with what was asked for."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is answered as the error it is: the token of a live check never follows one.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def _get(url: str, *, timeout: float, token: str | None = None) -> tuple[int, bytes]:
    """GETs a URL: its status and body (at most 1 MiB); _Unreachable when nothing answered."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token is not None:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, _read(response, url)
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, _read(answer, url)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise _Unreachable(f"GET {url}: {reason}") from None


def _read(response: Any, url: str) -> bytes:
    body: bytes = response.read(_MAX_DOCUMENT + 1)
    if len(body) > _MAX_DOCUMENT:
        raise _Unreachable(f"GET {url}: the answer is larger than 1 MiB")
    return body


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise _Unreachable(f"{what} is not JSON") from None
    if not isinstance(document, dict):
        raise _Unreachable(f"{what} is not a JSON object")
    return document


def _http_url(value: str, what: str) -> urllib.parse.SplitResult:
    url = urllib.parse.urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ConfigurationError(f"{what} must be an http or https URL without query or fragment, not {value!r}")
    return url


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``.

    Raises :class:`Unauthorized` (``invalid_request``) for a header of another scheme or shape.
    """
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "dpop":
        raise Unauthorized(
            "This API does not check DPoP proofs: send a token that is not bound, as Authorization: Bearer <token>.",
            reason="the Authorization header uses the DPoP scheme",
            error="invalid_request",
        )
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized(
            "Send the access token with the Bearer scheme: Authorization: Bearer <token>.",
            reason="the Authorization header is not a bearer token",
            error="invalid_request",
        )
    return token


class Verifier:
    """Verifies gatehouse access tokens offline, against gatehouse's published keys.

    :param issuer: gatehouse's public URL (``GATEHOUSE_PUBLIC_URL``), spelled exactly as its
        discovery document writes ``issuer`` (a trailing slash aside): ``127.0.0.1`` and
        ``localhost`` are different issuers.
    :param audience: the ``aud`` to accept (``GATEHOUSE_TOKEN_AUDIENCE``), or several; by
        default the issuer, which is gatehouse's default.
    :param leeway: seconds of clock difference allowed for ``exp``, ``nbf`` and ``iat``.
    :param refetch_interval: seconds between two fetches of the key set for tokens naming a
        key not seen yet, so that made-up key ids cannot make the verifier hammer gatehouse.
    :param jwks_max_age: seconds after which the key set is fetched again at the next request
        (keys gatehouse no longer publishes leave the cache then).
    :param timeout: seconds to wait for gatehouse on each request to it.
    :param algorithms: the algorithms a key may declare; gatehouse's three by default.
    :param resource: this API's URL as gatehouse's ``GATEHOUSE_RESOURCES`` lists it
        (``https://mcp.example.com/mcp``): the API is a protected resource, and also takes the
        access tokens gatehouse issued client apps for it (``typ: at+jwt``, ``aud`` holding this
        URL in any spelling). Refusals then carry RFC 9728's challenge, which names the
        resource's metadata. Without it, client apps' tokens are refused.
    :param resource_scopes: the scopes the resource supports, for its metadata and challenges.
    :param resource_name: the resource's name for people, for its metadata.

    Raises :class:`ConfigurationError` when gatehouse answers at that address but calls itself
    another issuer. When it does not answer at all, the verifier logs a warning and asks again
    at the first request; requests are answered ``503`` until it does.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | Sequence[str] | None = None,
        *,
        leeway: float = 5.0,
        refetch_interval: float = 30.0,
        jwks_max_age: float = 300.0,
        timeout: float = 5.0,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        resource: str | None = None,
        resource_scopes: str | Iterable[str] | None = None,
        resource_name: str | None = None,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("the issuer is required: gatehouse's public URL, e.g. https://auth.example.com")
        _http_url(issuer, "the issuer")
        self._configured_issuer = issuer.rstrip("/")
        #: The issuer every token's ``iss`` must equal: discovery's, once read.
        self.issuer = self._configured_issuer
        self._audience: str | list[str] | None = (
            audience if audience is None or isinstance(audience, str) else list(audience)
        )
        self.leeway = float(leeway)
        self.refetch_interval = float(refetch_interval)
        self.jwks_max_age = float(jwks_max_age)
        self.timeout = float(timeout)
        #: The protected resource of ``resource=``; ``None`` without it.
        self.resource: ProtectedResource | None = None
        if resource is not None:
            self.resource = ProtectedResource.parse(resource, resource_scopes, resource_name)
        elif resource_scopes is not None or resource_name is not None:
            raise ConfigurationError("resource_scopes and resource_name describe a resource: give resource= too")
        self.algorithms = frozenset(algorithms)
        unknown = sorted(self.algorithms - _KEY_SHAPES.keys())
        if unknown or not self.algorithms:
            raise ConfigurationError(
                f"algorithms must be asymmetric signature algorithms of {sorted(_KEY_SHAPES)}, not {unknown or 'none'}"
            )

        self._lock = threading.Lock()
        self.jwks_uri: str | None = None
        self._discovery_attempted = float("-inf")
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_fetched: float | None = None
        self._keys_attempted = float("-inf")

        with self._lock:
            try:
                self._discover()
                self._fetch_keys()
            except _Unreachable as error:
                log.warning("gatehouse did not answer (%s); asking again at the first request", error)

    @property
    def audience(self) -> str | list[str]:
        """The ``aud`` accepted: the one configured, else the issuer."""
        return self.issuer if self._audience is None else self._audience

    # ------------------------------------------------------------------------------------------
    # Discovery and keys.

    def _discover(self) -> None:
        """Reads the discovery document (the caller holds the lock)."""
        self._discovery_attempted = time.monotonic()
        url = f"{self._configured_issuer}/.well-known/openid-configuration"
        status, body = _get(url, timeout=self.timeout)
        if status == 404 or 300 <= status < 400:
            raise ConfigurationError(
                f"{url} answered {status}{' (a redirect, which is not followed)' if status != 404 else ''}: "
                f"the issuer {self._configured_issuer!r} is not gatehouse's public URL"
            )
        if status != 200:
            raise _Unreachable(f"GET {url} answered {status}")
        document = _json_object(body, f"the discovery document at {url}")
        found = document.get("issuer")
        if not isinstance(found, str) or not found:
            raise ConfigurationError(f"the discovery document at {url} names no issuer")
        if found.rstrip("/") != self._configured_issuer:
            raise ConfigurationError(
                f"the issuer is configured as {self._configured_issuer!r}, but gatehouse at that address "
                f"calls itself {found!r} (its GATEHOUSE_PUBLIC_URL); every token's iss is {found!r}: "
                f"configure the issuer spelled exactly that way"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ConfigurationError(f"the discovery document at {url} names no jwks_uri")
        _http_url(jwks_uri, "the discovery document's jwks_uri")
        self.issuer = found
        self.jwks_uri = jwks_uri

    def _ensure_discovered(self) -> None:
        if self.jwks_uri is not None:
            return
        with self._lock:
            if self.jwks_uri is None:
                if time.monotonic() - self._discovery_attempted < _RETRY_UNREACHED:
                    raise Unavailable("gatehouse cannot be reached; try again later.", reason="no discovery yet")
                try:
                    self._discover()
                except _Unreachable as error:
                    log.warning("gatehouse did not answer: %s", error)
                    raise Unavailable("gatehouse cannot be reached; try again later.", reason=str(error)) from None
                except ConfigurationError as error:
                    log.error("the verifier is misconfigured: %s", error)
                    raise Unavailable("Access tokens cannot be verified now.", reason=str(error)) from None

    def _fetch_keys(self) -> None:
        """Fetches the key set and replaces the cache (the caller holds the lock)."""
        jwks_uri = self.jwks_uri
        assert jwks_uri is not None
        self._keys_attempted = time.monotonic()
        status, body = _get(jwks_uri, timeout=self.timeout)
        if status != 200:
            raise _Unreachable(f"GET {jwks_uri} answered {status}")
        entries = _json_object(body, f"the key set at {jwks_uri}").get("keys")
        if not isinstance(entries, list):
            raise _Unreachable(f"the key set at {jwks_uri} has no keys list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            key = self._usable(entry)
            if key is not None and key[0] not in keys:
                keys[key[0]] = key[1]
        if not keys:
            raise _Unreachable(f"the key set at {jwks_uri} holds no usable signing key")
        added = keys.keys() - self._keys.keys()
        self._keys = keys
        self._keys_fetched = time.monotonic()
        log.debug("fetched %d signing keys from %s (new: %s)", len(keys), jwks_uri, sorted(added))

    def _usable(self, entry: Any) -> tuple[str, jwt.PyJWK] | None:
        """A published key as (kid, key), when it declares an accepted algorithm it fits."""
        if not isinstance(entry, dict):
            return None
        kid, algorithm = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            return None
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            log.debug("key %r skipped: its algorithm %r is not accepted", kid, algorithm)
            return None
        kty, crv = _KEY_SHAPES[algorithm]
        if entry.get("kty") != kty or (crv is not None and entry.get("crv") != crv):
            log.warning("key %r skipped: a %s key must be kty %s%s", kid, algorithm, kty, f", crv {crv}" if crv else "")
            return None
        try:
            return kid, jwt.PyJWK(entry, algorithm=algorithm)
        except jwt.PyJWTError as error:
            log.warning("key %r skipped: %s", kid, error)
            return None

    def _key(self, kid: str) -> jwt.PyJWK:
        """The key a token names: from the cache, or after one fetch when it is unknown."""
        self._ensure_discovered()
        now = time.monotonic()
        key = self._keys.get(kid)
        if key is not None:
            fetched = self._keys_fetched
            stale = fetched is not None and now - fetched > self.jwks_max_age
            if stale and now - self._keys_attempted >= self.refetch_interval and self._lock.acquire(blocking=False):
                # Another request refreshing already is not waited for: the cached keys serve.
                try:
                    self._fetch_keys()
                except _Unreachable as error:
                    log.warning("could not refresh the signing keys (%s); the cached ones serve", error)
                finally:
                    self._lock.release()
                key = self._keys.get(kid)
            if key is not None:
                return key
        with self._lock:
            key = self._keys.get(kid)
            if key is not None:
                return key
            since = time.monotonic() - self._keys_attempted
            never = self._keys_fetched is None
            if since < (_RETRY_UNREACHED if never else self.refetch_interval):
                if never:
                    raise Unavailable("gatehouse cannot be reached; try again later.", reason="no keys yet")
                raise Unauthorized(INVALID_TOKEN, reason=f"unknown key {kid!r}", error="invalid_token")
            try:
                self._fetch_keys()
            except _Unreachable as error:
                log.warning("could not fetch the signing keys: %s", error)
                raise Unavailable("gatehouse cannot be reached; try again later.", reason=str(error)) from None
            key = self._keys.get(kid)
            if key is None:
                raise Unauthorized(INVALID_TOKEN, reason=f"unknown key {kid!r}", error="invalid_token")
            return key

    # ------------------------------------------------------------------------------------------
    # Verification.

    def verify(self, token: str) -> Auth:
        """Verifies an access token offline and returns its :class:`Auth`.

        Checks the signature with the algorithm of the key the header's ``kid`` names (a header
        naming another algorithm is refused), that ``typ`` is ``JWT`` (a client app's ``at+jwt``
        token is not one of gatehouse's own), ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat``
        with the leeway, and that the claims of gatehouse's access tokens are there. With
        ``resource=``, a client app's token (``at+jwt``) is taken too, when its ``aud`` holds the
        resource. A token bound to a DPoP key (``cnf``) is refused: nothing here checks proofs.

        Raises :class:`Unauthorized` when it does not verify and :class:`Unavailable` when the
        keys cannot be had. Does not look at ``aal``: :meth:`authenticate` does.
        """
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LEN or token.count(".") != 2:
            raise Unauthorized(INVALID_TOKEN, reason="not a JWT", error="invalid_token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized(INVALID_TOKEN, reason="malformed header", error="invalid_token") from None
        kid, typ = header.get("kid"), header.get("typ")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized(INVALID_TOKEN, reason="no kid in the header", error="invalid_token")
        client = self.resource is not None and isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt")
        if not client and typ is not None and (not isinstance(typ, str) or typ.lower() != "jwt"):
            raise Unauthorized(INVALID_TOKEN, reason=f"typ {typ!r} is not JWT", error="invalid_token")
        key = self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                # The key's algorithm, never the header's: a header naming another is refused.
                algorithms=[key.algorithm_name],
                # A client app's token names the resource, in any spelling: checked below.
                audience=None if client else self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=(
                    {"require": ["iss", "aud", "sub", "client_id", "iat", "exp"], "verify_aud": False}
                    if client
                    else {"require": ["iss", "aud", "sub", "sid", "iat", "exp", "jti", "email", "role"]}
                ),
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(INVALID_TOKEN, reason=f"{type(error).__name__}: {error}", error="invalid_token") from None
        if "cnf" in claims:
            raise Unauthorized(_BOUND, reason="bound to a DPoP key (cnf)", error="invalid_token")
        if not client:
            return account_auth(claims)
        assert self.resource is not None
        if not self.resource.holds(claims["aud"]):
            reason = f"aud {claims['aud']!r} does not hold the resource {self.resource.url!r}"
            raise Unauthorized(INVALID_TOKEN, reason=reason, error="invalid_token")
        return client_auth(claims)

    def requirements(self, *, live: bool = False, scopes: str | Iterable[str] | None = None) -> tuple[str, ...]:
        """Checks what a route asks of this verifier, and returns its scopes.

        Raises :class:`ConfigurationError` for requirements that cannot work: ``scopes`` without
        ``resource=`` (gatehouse's own tokens carry none), or ``live`` with it (``GET /user``
        takes gatehouse's own tokens only; behind gatehouse's forward-auth, a client's token is
        checked against its session at every request)."""
        if live and self.resource is not None:
            raise ConfigurationError(
                "live=True does not go with resource=: GET /user takes gatehouse's own tokens only; put the "
                "resource behind gatehouse's forward-auth to have each client token's session checked"
            )
        required = () if scopes is None else scope_list(scopes, "a route's scopes")
        if required and self.resource is None:
            raise ConfigurationError("scopes are a protected resource's: give the verifier resource= too")
        return required

    def authenticate(
        self,
        token: str | None,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool = False,
        scopes: str | Iterable[str] | None = None,
    ) -> Auth:
        """Verifies a token and checks what a route requires; returns the caller's :class:`Auth`.

        :param token: the bearer token (``None``: the request had none).
        :param aal: the least authenticator assurance level: 1 (any login), 2 (with a second
            factor). An enrolment-only session's ``aal`` 0 is refused whatever is asked.
        :param role: the role (or one of the roles) the account must have, e.g. ``"admin"``.
        :param live: also ask gatehouse whether the session is still live (``GET {issuer}/user``),
            so that a logout is seen at once rather than when the token expires.
        :param scopes: with ``resource=``, the scopes the token must hold (all of them).

        Raises :class:`Unauthorized` (401), :class:`InsufficientAal`, :class:`Forbidden` or
        :class:`InsufficientScope` (403), or :class:`Unavailable` (503); and
        :class:`ConfigurationError` for requirements that cannot work (see :meth:`requirements`).
        """
        required = self.requirements(live=live, scopes=scopes)
        try:
            if token is None:
                raise Unauthorized("Send an access token: Authorization: Bearer <token>.", reason="no access token")
            auth = self.verify(token)
            require(auth, aal=aal, role=role, scopes=required)
            if live:
                self.check_live(token)
        except (Unauthorized, InsufficientScope) as error:
            raise self._challenged(error, required) from None
        return auth

    def authenticate_header(
        self,
        authorization: str | None,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool = False,
        scopes: str | Iterable[str] | None = None,
    ) -> Auth:
        """:meth:`authenticate` with the token of an ``Authorization`` header's value."""
        try:
            token = bearer_token(authorization)
        except Unauthorized as error:
            raise self._challenged(error, self.requirements(live=live, scopes=scopes)) from None
        return self.authenticate(token, aal=aal, role=role, live=live, scopes=scopes)

    def _challenged(self, error: GatehouseError, scopes: tuple[str, ...]) -> GatehouseError:
        """The refusal with RFC 9728's challenge, on a protected resource: the route's scopes,
        else the resource's."""
        if self.resource is not None:
            error.challenge = Challenge(self.resource.metadata_url, scopes or self.resource.scopes or ())
        return error

    def check_live(self, token: str) -> None:
        """Asks gatehouse whether the token's session is still live: ``GET {issuer}/user``.

        Returns when gatehouse answers 200; raises :class:`Unauthorized` when it answers 401
        (the session ended: a logout, a password change, a disabled or deleted account) and
        :class:`Unavailable` for anything else.
        """
        self._ensure_discovered()
        url = f"{self.issuer}/user"
        try:
            status, _ = _get(url, timeout=self.timeout, token=token)
        except _Unreachable as error:
            log.warning("the live check could not ask gatehouse: %s", error)
            raise Unavailable("gatehouse cannot be reached; try again later.", reason=str(error)) from None
        if status == 200:
            return
        if status == 401:
            raise Unauthorized(_ENDED, reason="the session has ended", error="invalid_token")
        log.warning("the live check got %d from GET %s", status, url)
        raise Unavailable("gatehouse cannot confirm the session now; try again later.", reason=f"GET /user answered {status}")
