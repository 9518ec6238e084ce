"""What a verified access token says about its caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Auth", "Org"]


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
    ``claims`` holds every claim as it was signed.
    """

    #: The account id (``sub``), a UUID: key your own records on it, never on the email.
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
    #: The session the token belongs to (``sid``).
    session_id: str
    #: The organization, when the token names one (``org``); ``None`` otherwise.
    org: Org | None
    #: Every claim of the token.
    claims: dict[str, Any] = field(repr=False)
