"""The errors a protected route answers with, as RFC 9457 problem details.

Each error carries what its HTTP answer needs: the status, a stable ``code``, a title, a detail
for people and the headers. The framework integrations turn them into
``application/problem+json`` answers shaped like gatehouse's own:
``{"type", "title", "status", "detail", "code"}``.

:class:`ConfigurationError` is different: it is raised when a verifier is made with settings
that cannot work (an issuer that gatehouse does not call itself), never while answering.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigurationError",
    "Forbidden",
    "GatehouseError",
    "InsufficientAal",
    "Unauthorized",
    "Unavailable",
]


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
        if self.error is None:
            return {"WWW-Authenticate": "Bearer"}
        return {"WWW-Authenticate": f'Bearer error="{self.error}"'}


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


class Unavailable(GatehouseError):
    """503: gatehouse could not be asked (its keys, or the live check) and nothing was decided."""

    status = 503
    code = "unavailable"
    title = "Service unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}
