"""gatehouse access tokens for Starlette apps, and the base of the FastAPI dependency.

    from gatehouse_middleware.starlette import GatehouseAuth

    auth = GatehouseAuth(issuer="https://auth.example.com")

    @auth.required()
    async def me(request):
        return JSONResponse({"id": request.state.gatehouse.account_id})

    app = Starlette(routes=[Route("/me", me)])
    auth.init_app(app)

A refused request is answered with an ``application/problem+json`` body (``401`` with
``WWW-Authenticate: Bearer``, ``403 insufficient_aal``, ``503 unavailable``). FastAPI apps use
:mod:`gatehouse_middleware.fastapi`, whose dependency is this class.

A protected resource (an MCP server, an API of ``GATEHOUSE_RESOURCES``) names itself; ``init_app``
then also serves its metadata (RFC 9728), and routes may require scopes:

    auth = GatehouseAuth(issuer=..., resource="https://mcp.example.com/mcp", resource_scopes=["mcp:tools"])

    @auth.required(scopes=["mcp:tools"])
    async def tools(request): ...
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import Auth
from .errors import ConfigurationError, GatehouseError
from .resource import METADATA_HEADERS
from .verifier import Verifier

__all__ = ["GatehouseAuth", "GatehouseHTTPException", "problem_response"]

log = logging.getLogger("gatehouse_middleware")

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class GatehouseHTTPException(HTTPException):
    """A refusal raised in a route or dependency; the handler that :meth:`GatehouseAuth.init_app`
    installs answers it as a problem document. Without that handler the app's handler for
    ``HTTPException`` answers it, with the right status and headers."""

    def __init__(self, error: GatehouseError) -> None:
        super().__init__(error.status, detail=error.detail, headers=error.headers())
        self.error = error


def problem_response(error: GatehouseError) -> Response:
    """The ``application/problem+json`` answer to a refusal."""
    return JSONResponse(
        error.problem(),
        status_code=error.status,
        headers=error.headers(),
        media_type="application/problem+json",
    )


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatehouseHTTPException)
    return problem_response(exc.error)


class GatehouseAuth:
    """Protects routes with gatehouse access tokens: a FastAPI dependency (``Depends(auth)``),
    a decorator for Starlette endpoints (``@auth.required()``), and a refusal handler.

    :param app: the app whose refusals are answered as problem documents; or call
        :meth:`init_app` later.
    :param issuer: gatehouse's public URL; see :class:`~gatehouse_middleware.Verifier`.
    :param audience: the ``aud`` to accept; by default the issuer.
    :param live: whether every route asks gatehouse if the session is still live (see
        :meth:`Verifier.check_live`); a route's own ``live=`` decides for it.
    :param verifier: a :class:`~gatehouse_middleware.Verifier` to share, instead of the
        issuer and its options.
    :param options: the :class:`~gatehouse_middleware.Verifier`'s other options (``leeway``,
        ``refetch_interval``, ``timeout``..., and ``resource``, ``resource_scopes``,
        ``resource_name`` for a protected resource).
    """

    def __init__(
        self,
        app: Any = None,
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        live: bool = False,
        verifier: Verifier | None = None,
        **options: Any,
    ) -> None:
        if verifier is None:
            if issuer is None:
                raise TypeError("GatehouseAuth needs issuer= (gatehouse's public URL) or verifier=")
            verifier = Verifier(issuer, audience, **options)
        elif issuer is not None or audience is not None or options:
            raise TypeError("give GatehouseAuth either verifier= or issuer= and its options, not both")
        self.verifier = verifier
        self.live = live
        verifier.requirements(live=live)
        self._warned = False
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        """Makes the app answer refusals as ``application/problem+json`` and, for a protected
        resource, serve its metadata at its path (:meth:`metadata`)."""
        app.add_exception_handler(GatehouseHTTPException, _handle)
        if self.verifier.resource is not None:
            app.add_route(self.verifier.resource.metadata_path, self.metadata, methods=["GET"], include_in_schema=False)

    async def metadata(self, request: Request) -> Response:
        """The protected resource's metadata document (RFC 9728), naming gatehouse; the endpoint
        :meth:`init_app` routes ``GET {resource.metadata_path}`` to."""
        resource = self.verifier.resource
        if resource is None:
            raise ConfigurationError("the metadata is a protected resource's: give GatehouseAuth resource=")
        return JSONResponse(resource.metadata(self.verifier.issuer), headers=METADATA_HEADERS)

    def authenticate(
        self,
        request: Request,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> Auth:
        """Verifies the request's bearer token (blocking: network I/O when keys must be fetched
        or for the live check). Raises :class:`GatehouseHTTPException` when it is refused."""
        try:
            auth = self.verifier.authenticate_header(
                request.headers.get("authorization"),
                aal=aal,
                role=role,
                live=self.live if live is None else live,
                scopes=scopes,
            )
        except GatehouseError as error:
            log.debug("refused %s %s: %s", request.method, request.url.path, error.reason)
            self._check_handler(request)
            raise GatehouseHTTPException(error) from None
        request.state.gatehouse = auth
        return auth

    def _check_handler(self, request: Request) -> None:
        if self._warned:
            return
        handlers = getattr(request.app, "exception_handlers", None) if "app" in request.scope else None
        if handlers is not None and GatehouseHTTPException not in handlers:
            self._warned = True
            log.warning(
                "refusals are answered without a problem body: call GatehouseAuth.init_app(app) "
                "or pass the app to GatehouseAuth(app, issuer=...)"
            )

    # FastAPI: `Depends(auth)`. A plain function, so FastAPI runs it in its thread pool.
    def __call__(self, request: Request) -> Auth:
        return self.authenticate(request)

    def require(
        self,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> Callable[[Request], Auth]:
        """A FastAPI dependency with requirements: ``Depends(auth.require(aal=2))``."""
        return _Requirement(self, aal=aal, role=role, live=live, scopes=scopes)

    def required(
        self,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> Callable[[Endpoint], Endpoint]:
        """Protects a Starlette endpoint (a function taking the request). The caller's
        :class:`Auth` is ``request.state.gatehouse``; a refusal is answered at once.

        :param scopes: on a protected resource, the scopes the token must hold; a token without
            one of them is answered ``403`` with the ``insufficient_scope`` challenge."""
        scopes = self._checked(live, scopes)

        def decorate(endpoint: Endpoint) -> Endpoint:
            if inspect.iscoroutinefunction(endpoint):

                @functools.wraps(endpoint)
                async def protected_async(request: Request, *args: Any, **kwargs: Any) -> Any:
                    try:
                        await run_in_threadpool(self.authenticate, request, aal=aal, role=role, live=live, scopes=scopes)
                    except GatehouseHTTPException as refused:
                        return problem_response(refused.error)
                    return await endpoint(request, *args, **kwargs)

                return protected_async  # type: ignore[return-value]

            @functools.wraps(endpoint)
            def protected(request: Request, *args: Any, **kwargs: Any) -> Any:
                try:
                    self.authenticate(request, aal=aal, role=role, live=live, scopes=scopes)
                except GatehouseHTTPException as refused:
                    return problem_response(refused.error)
                return endpoint(request, *args, **kwargs)

            return protected  # type: ignore[return-value]

        return decorate

    def _checked(self, live: bool | None, scopes: str | Iterable[str] | None) -> tuple[str, ...]:
        """A route's requirements checked when the route is made, so that a misconfiguration
        stops the app's start; its scopes."""
        return self.verifier.requirements(live=self.live if live is None else live, scopes=scopes)


class _Requirement:
    """``auth.require(...)``: a dependency bound to a route's requirements."""

    def __init__(
        self,
        auth: GatehouseAuth,
        *,
        aal: int,
        role: str | Iterable[str] | None,
        live: bool | None,
        scopes: str | Iterable[str] | None,
    ) -> None:
        self.auth, self.aal, self.role, self.live = auth, aal, role, live
        self.scopes = auth._checked(live, scopes)

    def __call__(self, request: Request) -> Auth:
        return self.auth.authenticate(request, aal=self.aal, role=self.role, live=self.live, scopes=self.scopes)
