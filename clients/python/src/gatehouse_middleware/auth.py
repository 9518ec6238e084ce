"""What a verified access token says about its caller, for gatehouse's own access tokens and
client apps' tokens (RFC 9068), and the checks of what a route asks of it. Pure: the signature
and the keys are the verifier's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import INVALID_TOKEN, Forbidden, InsufficientAal, InsufficientScope, Unauthorized
from .resource import scope_list

__all__ = ["Auth", "Org", "account_auth", "client_auth", "require"]


@dataclass(frozen=True)
class Org:
    """The organization a token was issued for, when gatehouse names one (claim ``org``)."""

    id: str
    slug: str | None = None
    #: The caller's role in the organization.
    role: str | None = None
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Auth:
    """The caller of a protected route, from the claims of its verified access token.

    The values are those at the time the token was issued (at login or at the last refresh);
    ``claims`` holds every claim as it was signed. A client app's token for a protected resource
    (:attr:`is_client`) carries none of the account's claims: ``email`` and ``role`` are ``""``,
    ``aal`` is 0, ``amr`` ``()`` and ``app_data`` ``{}``.
    """

    #: The account id (``sub``), a UUID: key your own records on it, never on the email. For a
    #: client app's token, the person the client acts for, or the client itself (its id) for a
    #: client-credentials token.
    account_id: str
    #: The account's email address.
    email: str
    #: ``user`` or ``admin``.
    role: str
    #: The authenticator assurance level: 1 for one factor, 2 for two (0, an enrolment-only
    #: session, never reaches a route).
    aal: int
    #: How the session was authenticated (RFC 8176): ``("pwd",)``, ``("pwd", "otp", "mfa")``...
    amr: tuple[str, ...]
    #: The admin-written ``app_data`` object (plan, tenant, permissions...); ``{}`` unless set.
    app_data: dict[str, Any]
    #: The session the token belongs to (``sid``); ``""`` for a client-credentials token.
    session_id: str
    #: The organization, when the token names one (``org``); ``None`` otherwise.
    org: Org | None
    #: Every claim of the token.
    claims: dict[str, Any] = field(repr=False)
    #: The client app the token was issued to (``client_id``), for a client app's token for the
    #: resource (``resource=``); ``None`` for gatehouse's own tokens.
    client_id: str | None = None
    #: The token's scopes (``scope``, split on spaces); ``()`` for gatehouse's own tokens, which
    #: carry none.
    scopes: tuple[str, ...] = ()

    @property
    def is_client(self) -> bool:
        """Whether the token is a client app's access token for the resource (``typ: at+jwt``),
        not one of gatehouse's own."""
        return self.client_id is not None

    @property
    def subject(self) -> str:
        """The token's subject (``sub``): an account id, or a client's id for a client-credentials
        token."""
        return self.account_id


def require(
    auth: Auth,
    *,
    aal: int = 1,
    role: str | Iterable[str] | None = None,
    scopes: str | Iterable[str] = (),
) -> None:
    """Raises :class:`InsufficientAal`, :class:`Forbidden` or :class:`InsufficientScope` unless
    ``auth`` meets the requirement: ``aal``, ``role`` (or one of several), and every scope of
    ``scopes`` (a list, or one string of space-separated scopes)."""
    if auth.is_client:
        if aal > 1:
            raise InsufficientAal(
                f"This needs a login with a second factor (aal {aal}); a client app's token does not say how the "
                "person logged in.",
                required=aal,
                actual=auth.aal,
            )
    elif auth.aal < 1:
        raise InsufficientAal(
            "This session can only enrol a second factor (aal 0): enrol one, then refresh the token.",
            required=max(aal, 1),
            actual=auth.aal,
        )
    elif auth.aal < aal:
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
    required = scope_list(scopes, "the scopes required")
    missing = [scope for scope in required if scope not in auth.scopes]
    if missing:
        raise InsufficientScope(
            f"This needs the scope {' '.join(missing)}, which the token does not hold: ask gatehouse for a token with it.",
            required=required,
            held=auth.scopes,
        )


def account_auth(claims: dict[str, Any]) -> Auth:
    """The Auth of verified claims; Unauthorized when they are not shaped as gatehouse's."""

    def bad(claim: str) -> Unauthorized:
        return Unauthorized(INVALID_TOKEN, reason=f"the claim {claim!r} is malformed", error="invalid_token")

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


def client_auth(claims: dict[str, Any]) -> Auth:
    """The Auth of a client app's verified token (RFC 9068): no account claims, its client and scopes."""

    def string(claim: str, default: str | None = None) -> str:
        value = claims.get(claim, default)
        if not isinstance(value, str):
            raise Unauthorized(INVALID_TOKEN, reason=f"the claim {claim!r} is malformed", error="invalid_token")
        return value

    return Auth(
        account_id=string("sub"),
        email="",
        role="",
        aal=0,
        amr=(),
        app_data={},
        session_id=string("sid", ""),
        org=None,
        claims=claims,
        client_id=string("client_id"),
        scopes=tuple(string("scope", "").split()),
    )


def _org(value: Any) -> Org | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise Unauthorized(INVALID_TOKEN, reason="the claim 'org' is malformed", error="invalid_token")
    permissions = value.get("permissions") or []
    slug, role = value.get("slug"), value.get("role")
    return Org(
        id=value["id"],
        slug=slug if isinstance(slug, str) else None,
        role=role if isinstance(role, str) else None,
        permissions=tuple(p for p in permissions if isinstance(p, str)) if isinstance(permissions, list) else (),
    )
