"""Verifying gatehouse access tokens: discovery, the key cache and the checks.

    verifier = Verifier("https://auth.example.com")
    auth = verifier.authenticate(token)           # an Auth, or a GatehouseError to answer with

The verifier reads ``{issuer}/.well-known/openid-configuration`` once, when it is made, for
the ``issuer`` and the ``jwks_uri``, and keeps the JSON Web Key Set in memory. A token naming a
key it has not seen (a rotation, an algorithm switch) makes it fetch the key set again, at most
once per ``refetch_interval``. Signatures are checked by PyJWT with the ``cryptography``
package, with the algorithm the key declares in the key set.
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

from .auth import Auth, Org
from .errors import ConfigurationError, Forbidden, InsufficientAal, Unauthorized, Unavailable

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

_INVALID = "The access token is invalid, expired or revoked; log in again."
_ENDED = "The session of this access token has ended; log in again."


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
                raise Unauthorized(_INVALID, reason=f"unknown key {kid!r}", error="invalid_token")
            try:
                self._fetch_keys()
            except _Unreachable as error:
                log.warning("could not fetch the signing keys: %s", error)
                raise Unavailable("gatehouse cannot be reached; try again later.", reason=str(error)) from None
            key = self._keys.get(kid)
            if key is None:
                raise Unauthorized(_INVALID, reason=f"unknown key {kid!r}", error="invalid_token")
            return key

    # ------------------------------------------------------------------------------------------
    # Verification.

    def verify(self, token: str) -> Auth:
        """Verifies an access token offline and returns its :class:`Auth`.

        Checks the signature with the algorithm of the key the header's ``kid`` names (a header
        naming another algorithm is refused), that ``typ`` is ``JWT`` (a client app's ``at+jwt``
        token is not one of gatehouse's own), ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat``
        with the leeway, and that the claims of gatehouse's access tokens are there.

        Raises :class:`Unauthorized` when it does not verify and :class:`Unavailable` when the
        keys cannot be had. Does not look at ``aal``: :meth:`authenticate` does.
        """
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LEN or token.count(".") != 2:
            raise Unauthorized(_INVALID, reason="not a JWT", error="invalid_token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized(_INVALID, reason="malformed header", error="invalid_token") from None
        kid, typ = header.get("kid"), header.get("typ")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized(_INVALID, reason="no kid in the header", error="invalid_token")
        if typ is not None and (not isinstance(typ, str) or typ.lower() != "jwt"):
            raise Unauthorized(_INVALID, reason=f"typ {typ!r} is not JWT", error="invalid_token")
        key = self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                # The key's algorithm, never the header's: a header naming another is refused.
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["iss", "aud", "sub", "sid", "iat", "exp", "jti", "email", "role"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(_INVALID, reason=f"{type(error).__name__}: {error}", error="invalid_token") from None
        return _auth(claims)

    def authenticate(
        self,
        token: str | None,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool = False,
    ) -> Auth:
        """Verifies a token and checks what a route requires; returns the caller's :class:`Auth`.

        :param token: the bearer token (``None``: the request had none).
        :param aal: the least authenticator assurance level: 1 (any login), 2 (with a second
            factor). An enrolment-only session's ``aal`` 0 is refused whatever is asked.
        :param role: the role (or one of the roles) the account must have, e.g. ``"admin"``.
        :param live: also ask gatehouse whether the session is still live (``GET {issuer}/user``),
            so that a logout is seen at once rather than when the token expires.

        Raises :class:`Unauthorized` (401), :class:`InsufficientAal` or :class:`Forbidden`
        (403), or :class:`Unavailable` (503).
        """
        if token is None:
            raise Unauthorized("Send an access token: Authorization: Bearer <token>.", reason="no access token")
        auth = self.verify(token)
        require(auth, aal=aal, role=role)
        if live:
            self.check_live(token)
        return auth

    def authenticate_header(
        self,
        authorization: str | None,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool = False,
    ) -> Auth:
        """:meth:`authenticate` with the token of an ``Authorization`` header's value."""
        return self.authenticate(bearer_token(authorization), aal=aal, role=role, live=live)

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


def require(auth: Auth, *, aal: int = 1, role: str | Iterable[str] | None = None) -> None:
    """Raises :class:`InsufficientAal` or :class:`Forbidden` unless ``auth`` meets the requirement."""
    if auth.aal < 1:
        raise InsufficientAal(
            "This session can only enrol a second factor (aal 0): enrol one, then refresh the token.",
            required=max(aal, 1),
            actual=auth.aal,
        )
    if auth.aal < aal:
        raise InsufficientAal(
            f"This needs a login with a second factor (aal {aal}); this session has aal {auth.aal}. "
            "Step up with POST /auth/reauthenticate and a code, then retry with the new token.",
            required=aal,
            actual=auth.aal,
        )
    if role is not None:
        roles = {role} if isinstance(role, str) else set(role)
        if auth.role not in roles:
            raise Forbidden("You are not allowed to do this.", reason=f"role {auth.role!r}, one of {sorted(roles)} required")


def _auth(claims: dict[str, Any]) -> Auth:
    """The Auth of verified claims; Unauthorized when they are not shaped as gatehouse's."""

    def bad(claim: str) -> Unauthorized:
        return Unauthorized(_INVALID, reason=f"the claim {claim!r} is malformed", error="invalid_token")

    strings = {}
    for claim in ("sub", "sid", "email", "role"):
        value = claims.get(claim)
        if not isinstance(value, str):
            raise bad(claim)
        strings[claim] = value
    # Tokens issued before second factors existed have no aal: one factor.
    aal = claims.get("aal", 1)
    if not isinstance(aal, int) or isinstance(aal, bool):
        raise bad("aal")
    amr = claims.get("amr", [])
    if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
        raise bad("amr")
    app_data = claims.get("app_data", {})
    if not isinstance(app_data, dict):
        raise bad("app_data")
    return Auth(
        account_id=strings["sub"],
        email=strings["email"],
        role=strings["role"],
        aal=aal,
        amr=tuple(amr),
        app_data=app_data,
        session_id=strings["sid"],
        org=_org(claims.get("org")),
        claims=claims,
    )


def _org(value: Any) -> Org | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise Unauthorized(_INVALID, reason="the claim 'org' is malformed", error="invalid_token")
    permissions = value.get("permissions") or []
    slug, role = value.get("slug"), value.get("role")
    return Org(
        id=value["id"],
        slug=slug if isinstance(slug, str) else None,
        role=role if isinstance(role, str) else None,
        permissions=tuple(p for p in permissions if isinstance(p, str)) if isinstance(permissions, list) else (),
    )
