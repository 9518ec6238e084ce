"""gatehouse access tokens for FastAPI: a dependency.

    from fastapi import Depends, FastAPI
    from gatehouse_middleware import Auth
    from gatehouse_middleware.fastapi import GatehouseAuth

    app = FastAPI()
    auth = GatehouseAuth(app, issuer="https://auth.example.com")

    @app.get("/me")
    def me(user: Auth = Depends(auth)):
        return {"id": user.account_id}

    @app.post("/payouts")
    def payout(user: Auth = Depends(auth.require(aal=2, live=True))): ...

A protected resource (an MCP server, an API of ``GATEHOUSE_RESOURCES``) names itself, serves its
metadata (RFC 9728) when the app is passed, and may require scopes per route:

    mcp = GatehouseAuth(app, issuer=..., resource="https://mcp.example.com/mcp", resource_scopes=["mcp:tools"])

    @app.post("/mcp")
    def tools(caller: Auth = Depends(mcp.require(scopes=["mcp:tools"]))): ...

Passing the app (or calling ``auth.init_app(app)``) makes refusals ``application/problem+json``
answers. The dependency also declares a bearer security scheme, so that the OpenAPI document
and ``/docs`` show which routes take a token.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.
from collections.abc import Iterable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from . import starlette as _starlette
from .auth import Auth
from .starlette import GatehouseHTTPException, problem_response

__all__ = ["GatehouseAuth", "GatehouseHTTPException", "problem_response"]

# Declares the scheme in the OpenAPI document only; the token is read and checked by
# GatehouseAuth, which answers its own refusals.
_bearer = HTTPBearer(
    scheme_name="gatehouse",
    description="A gatehouse access token: `Authorization: Bearer <token>`.",
    auto_error=False,
)


class GatehouseAuth(_starlette.GatehouseAuth):
    """The FastAPI dependency: ``Depends(auth)`` for any login, ``Depends(auth.require(...))``
    for more. See :class:`gatehouse_middleware.starlette.GatehouseAuth` for the arguments."""

    def __call__(
        self,
        request: Request,
        _scheme: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> Auth:
        return self.authenticate(request)

    def require(
        self,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> "_Requirement":
        """A dependency with requirements: ``Depends(auth.require(aal=2, live=True))``.

        :param aal: 2 for routes that need a login with a second factor.
        :param role: the role (or roles) the account must have, e.g. ``"admin"``.
        :param live: ask gatehouse whether the session is still live (default: the
            ``live`` the dependency was made with).
        :param scopes: on a protected resource, the scopes the token must hold; a token
            without one of them is answered ``403`` with the ``insufficient_scope`` challenge.
        """
        return _Requirement(self, aal=aal, role=role, live=live, scopes=scopes)


class _Requirement(_starlette._Requirement):
    def __call__(
        self,
        request: Request,
        _scheme: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> Auth:
        return self.auth.authenticate(request, aal=self.aal, role=self.role, live=self.live, scopes=self.scopes)
