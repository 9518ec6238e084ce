"""The errors a protected route answers with, as RFC 9457 problem details.

Each error carries what its HTTP answer needs: the status, a stable ``code``, a title, a detail
for people and the headers. The framework integrations turn them into
``application/problem+json`` answers shaped like gatehouse's own:
``{"type", "title", "status", "detail", "code"}``. On a protected resource (``resource=``), a
``401`` and the ``403`` of a missing scope also carry RFC 9728's challenge (:class:`Challenge`).

:class:`ConfigurationError` is different: it is raised when a verifier is made with settings
that cannot work (an issuer that gatehouse does not call itself), never while answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Challenge",
    "ConfigurationError",
    "Forbidden",
    "GatehouseError",
    "InsufficientAal",
    "InsufficientScope",
    "Unauthorized",
    "Unavailable",
]


@dataclass(frozen=True)
class Challenge:
    """What a protected resource's refusal tells the client (RFC 9728 section 5.1): where the
    resource's metadata is, which names gatehouse, and the scopes to ask for."""

    #: The resource's metadata URL.
    resource_metadata: str
    #: The route's scopes, else the resource's; none when unknown.
    scopes: tuple[str, ...] = ()


def _bearer(error: str | None, challenge: Challenge | None) -> dict[str, str]:
    """``WWW-Authenticate: Bearer`` with RFC 6750's ``error`` and RFC 9728's parameters."""
    parts = [] if error is None else [f'error="{error}"']
    if challenge is not None:
        if challenge.scopes:
            parts.append(f'scope="{" ".join(challenge.scopes)}"')
        parts.append(f'resource_metadata="{challenge.resource_metadata}"')
    return {"WWW-Authenticate": f"Bearer {', '.join(parts)}" if parts else "Bearer"}


#: The ``detail`` of every refused token: why stays in the ``reason``, for the app's logs.
INVALID_TOKEN = "The access token is invalid, expired or revoked; log in again."


class ConfigurationError(ValueError):
    """The settings cannot work; raised when the verifier is made (at the app's start)."""


class GatehouseError(Exception):
    """A request the route refuses; :meth:`problem` and :meth:`headers` make its answer."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        #: Why, for the app's own logs (never sent to the client): "expired", "unknown key"...
        self.reason = reason or detail
        #: On a protected resource, the challenge of a 401 or of a missing scope's 403; the
        #: verifier sets it.
        self.challenge: Challenge | None = None

    def problem(self) -> dict[str, Any]:
        """The answer's body: an RFC 9457 problem document."""
        return {
            "type": f"urn:gatehouse:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }

    def headers(self) -> dict[str, str]:
        """The answer's headers besides ``Content-Type``."""
        return {}


class Unauthorized(GatehouseError):
    """401: no access token, or one that does not verify, has expired or whose session ended."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, *, reason: str | None = None, error: str | None = None) -> None:
        super().__init__(detail, reason=reason)
        #: RFC 6750's ``error`` for ``WWW-Authenticate``: ``invalid_token`` when a token was
        #: sent, ``invalid_request`` when the header was not a bearer token, none without one.
        self.error = error

    def headers(self) -> dict[str, str]:
        return _bearer(self.error, self.challenge)


class InsufficientAal(GatehouseError):
    """403: the session's authenticator assurance level is below what the route requires."""

    status = 403
    code = "insufficient_aal"
    title = "Insufficient authentication level"

    def __init__(self, detail: str, *, required: int, actual: int) -> None:
        super().__init__(detail, reason=f"aal {actual}, {required} required")
        self.required = required
        self.actual = actual


class Forbidden(GatehouseError):
    """403: authenticated, but the account lacks the role the route requires."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class InsufficientScope(Forbidden):
    """403 ``forbidden``: the token lacks a scope the route requires, on a protected resource;
    ``WWW-Authenticate`` says ``insufficient_scope`` (RFC 6750), and the client asks gatehouse
    for a token with it."""

    def __init__(self, detail: str, *, required: tuple[str, ...], held: tuple[str, ...]) -> None:
        super().__init__(detail, reason=f"scopes {list(held)}, {list(required)} required")
        self.required = required
        self.held = held

    def headers(self) -> dict[str, str]:
        return _bearer("insufficient_scope", self.challenge)


class Unavailable(GatehouseError):
    """503: gatehouse could not be asked (its keys, or the live check) and nothing was decided."""

    status = 503
    code = "unavailable"
    title = "Service unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}
