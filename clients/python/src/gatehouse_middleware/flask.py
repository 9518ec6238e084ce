"""gatehouse access tokens for Flask: an extension and its decorator.

    from flask import Flask, g
    from gatehouse_middleware.flask import Gatehouse

    app = Flask(__name__)
    gh = Gatehouse(app, issuer="https://auth.example.com")

    @app.get("/me")
    @gh.required()
    def me():
        return {"id": g.gatehouse.account_id}

With an app factory: ``gh = Gatehouse()`` at module level, ``gh.init_app(app)`` in the factory;
the issuer then comes from ``app.config["GATEHOUSE_ISSUER"]`` (and the audience, when not the
issuer, from ``GATEHOUSE_AUDIENCE``) unless given to ``Gatehouse(...)``.

The caller's :class:`~gatehouse_middleware.Auth` is ``flask.g.gatehouse`` in a protected view
(:func:`current_auth` returns it typed). A refused request is answered with an
``application/problem+json`` body (``401`` with ``WWW-Authenticate: Bearer``,
``403 insufficient_aal``, ``503 unavailable``) and the view is not called.

A protected resource (an MCP server, an API of ``GATEHOUSE_RESOURCES``) names itself; the
extension then serves its metadata (RFC 9728), and views may require scopes:

    mcp = Gatehouse(app, issuer=..., resource="https://mcp.example.com/mcp", resource_scopes=["mcp:tools"])

    @app.post("/mcp")
    @mcp.required(scopes=["mcp:tools"])
    def tools(): ...
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from flask import Flask, Response, current_app, g, request

from .auth import Auth
from .errors import ConfigurationError, GatehouseError
from .resource import METADATA_HEADERS, scope_list
from .verifier import Verifier

__all__ = ["Gatehouse", "current_auth", "problem_response"]

log = logging.getLogger("gatehouse_middleware")

View = TypeVar("View", bound=Callable[..., Any])


def problem_response(error: GatehouseError) -> Response:
    """The ``application/problem+json`` answer to a refusal."""
    return Response(
        json.dumps(error.problem()),
        status=error.status,
        headers=error.headers(),
        content_type="application/problem+json",
    )


def current_auth() -> Auth:
    """The caller of the protected view being served (``flask.g.gatehouse``)."""
    auth = g.get("gatehouse")
    if not isinstance(auth, Auth):
        raise RuntimeError("no gatehouse login here: current_auth() is for views protected by Gatehouse.required()")
    return auth


@dataclass(frozen=True)
class _State:
    verifier: Verifier
    live: bool


class Gatehouse:
    """The Flask extension: ``Gatehouse(app, issuer=...)`` or ``Gatehouse(issuer=...).init_app(app)``.

    :param app: the app to protect routes of; or call :meth:`init_app` later.
    :param issuer: gatehouse's public URL (else ``app.config["GATEHOUSE_ISSUER"]``); see
        :class:`~gatehouse_middleware.Verifier`.
    :param audience: the ``aud`` to accept (else ``app.config["GATEHOUSE_AUDIENCE"]``, else the
        issuer).
    :param live: whether every protected view asks gatehouse if the session is still live;
        ``required(live=...)`` decides for one view.
    :param verifier: a :class:`~gatehouse_middleware.Verifier` to share, instead of the issuer
        and its options.
    :param options: the :class:`~gatehouse_middleware.Verifier`'s other options (``resource``,
        ``resource_scopes`` and ``resource_name`` for a protected resource, whose metadata
        :meth:`init_app` then serves).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        live: bool = False,
        verifier: Verifier | None = None,
        **options: Any,
    ) -> None:
        if verifier is not None and (issuer is not None or audience is not None or options):
            raise TypeError("give Gatehouse either verifier= or issuer= and its options, not both")
        self._issuer, self._audience, self._options = issuer, audience, options
        self._verifier, self._live = verifier, live
        self._check(live=live, scopes=None)
        if app is not None:
            self.init_app(app)

    def _check(self, *, live: bool | None, scopes: str | Iterable[str] | None) -> tuple[str, ...]:
        """A view's requirements checked when it is decorated, before any app is set up, so that
        a misconfiguration stops the start (see :meth:`Verifier.requirements`); its scopes."""
        resource = self._verifier.resource is not None if self._verifier else self._options.get("resource") is not None
        required = () if scopes is None else scope_list(scopes, "a view's scopes")
        if resource and (self._live if live is None else live):
            raise ConfigurationError("live=True does not go with resource=: GET /user takes gatehouse's own tokens only")
        if required and not resource:
            raise ConfigurationError("scopes are a protected resource's: give Gatehouse resource= too")
        return required

    def init_app(self, app: Flask) -> None:
        """Reads gatehouse's discovery document for this app and installs the refusal handler.

        Raises :class:`~gatehouse_middleware.ConfigurationError` when gatehouse calls itself
        another issuer than the one configured."""
        verifier = self._verifier
        if verifier is None:
            issuer = self._issuer or app.config.get("GATEHOUSE_ISSUER")
            if not issuer:
                raise TypeError("Gatehouse needs issuer= or app.config['GATEHOUSE_ISSUER']: gatehouse's public URL")
            audience = self._audience if self._audience is not None else app.config.get("GATEHOUSE_AUDIENCE")
            verifier = Verifier(issuer, audience, **self._options)
        # One entry per extension, so that an app may have two (e.g. for two audiences).
        app.extensions.setdefault("gatehouse", {})[id(self)] = _State(verifier, self._live)
        app.register_error_handler(GatehouseError, problem_response)
        resource = verifier.resource
        if resource is not None:
            document = json.dumps(resource.metadata(verifier.issuer))

            def metadata() -> Response:
                return Response(document, headers=METADATA_HEADERS, content_type="application/json")

            app.add_url_rule(resource.metadata_path, f"gatehouse_metadata:{resource.metadata_path}", metadata, methods=["GET"])

    @property
    def verifier(self) -> Verifier:
        """The verifier of the current app."""
        return self._state().verifier

    def _state(self) -> _State:
        state = current_app.extensions.get("gatehouse", {}).get(id(self))
        if not isinstance(state, _State):
            raise RuntimeError("Gatehouse is not set up for this app: call Gatehouse(app, ...) or init_app(app)")
        return state

    def authenticate(
        self,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> Auth:
        """Verifies the current request's bearer token, sets ``flask.g.gatehouse`` and returns it.

        Raises a :class:`~gatehouse_middleware.GatehouseError`, which the handler installed by
        :meth:`init_app` answers as a problem document."""
        state = self._state()
        try:
            auth = state.verifier.authenticate_header(
                request.headers.get("Authorization"),
                aal=aal,
                role=role,
                live=state.live if live is None else live,
                scopes=scopes,
            )
        except GatehouseError as error:
            log.debug("refused %s %s: %s", request.method, request.path, error.reason)
            raise
        g.gatehouse = auth
        return auth

    @overload
    def required(self, view: View, /) -> View: ...

    @overload
    def required(
        self,
        view: None = None,
        /,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> Callable[[View], View]: ...

    def required(
        self,
        view: View | None = None,
        /,
        *,
        aal: int = 1,
        role: str | Iterable[str] | None = None,
        live: bool | None = None,
        scopes: str | Iterable[str] | None = None,
    ) -> View | Callable[[View], View]:
        """Protects a view: ``@gh.required()``, ``@gh.required(aal=2)``, ``@gh.required(live=True)``.

        :param aal: 2 for views that need a login with a second factor.
        :param role: the role (or roles) the account must have, e.g. ``"admin"``.
        :param live: ask gatehouse whether the session is still live (default: the extension's).
        :param scopes: on a protected resource, the scopes the token must hold; a token without
            one of them is answered ``403`` with the ``insufficient_scope`` challenge.
        """
        required = self._check(live=live, scopes=scopes)

        def decorate(view: View) -> View:
            @functools.wraps(view)
            def protected(*args: Any, **kwargs: Any) -> Any:
                try:
                    self.authenticate(aal=aal, role=role, live=live, scopes=required)
                except GatehouseError as error:
                    return problem_response(error)
                return current_app.ensure_sync(view)(*args, **kwargs)

            return protected  # type: ignore[return-value]

        return decorate if view is None else decorate(view)
