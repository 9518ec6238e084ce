"""The same small API in FastAPI, Starlette and Flask, and real HTTP servers to run them.

Routes, in each framework:
    GET /public            no token needed
    GET /me                any login: the caller's Auth as JSON
    GET /mfa               a login with a second factor (aal 2)
    GET /live              any login, and gatehouse must confirm the session is live
    GET /admin             the admin role
    GET /other-audience    tokens for another audience (so gatehouse's own are refused)
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI
from flask import Flask, g
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.serving import make_server

from gatehouse_middleware import Auth
from gatehouse_middleware.fastapi import GatehouseAuth
from gatehouse_middleware.flask import Gatehouse, current_auth
from gatehouse_middleware.starlette import GatehouseAuth as StarletteGatehouseAuth

FRAMEWORKS = ("fastapi", "starlette", "flask")
OTHER_AUDIENCE = "https://orders.example.com"


def as_json(auth: Auth) -> dict[str, Any]:
    body = dataclasses.asdict(auth)
    del body["claims"]
    return body


def fastapi_app(issuer: str) -> FastAPI:
    app = FastAPI()
    auth = GatehouseAuth(app, issuer=issuer)
    other = GatehouseAuth(app, issuer=issuer, audience=OTHER_AUDIENCE)

    @app.get("/public")
    def public() -> dict[str, str]:
        return {"message": "hello"}

    @app.get("/me")
    def me(user: Auth = Depends(auth)) -> dict[str, Any]:
        return as_json(user)

    @app.get("/mfa")
    def mfa(user: Auth = Depends(auth.require(aal=2))) -> dict[str, Any]:
        return as_json(user)

    @app.get("/live")
    async def live(user: Auth = Depends(auth.require(live=True))) -> dict[str, Any]:
        return as_json(user)

    @app.get("/admin")
    def admin(user: Auth = Depends(auth.require(role="admin"))) -> dict[str, Any]:
        return as_json(user)

    @app.get("/other-audience")
    def other_audience(user: Auth = Depends(other)) -> dict[str, Any]:
        return as_json(user)

    return app


def starlette_app(issuer: str) -> Starlette:
    auth = StarletteGatehouseAuth(issuer=issuer)
    other = StarletteGatehouseAuth(issuer=issuer, audience=OTHER_AUDIENCE)

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"message": "hello"})

    @auth.required()
    async def me(request: Request) -> JSONResponse:
        return JSONResponse(as_json(request.state.gatehouse))

    @auth.required(aal=2)
    def mfa(request: Request) -> JSONResponse:  # a plain function: Starlette runs it in a thread
        return JSONResponse(as_json(request.state.gatehouse))

    @auth.required(live=True)
    async def live(request: Request) -> JSONResponse:
        return JSONResponse(as_json(request.state.gatehouse))

    @auth.required(role="admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse(as_json(request.state.gatehouse))

    @other.required()
    async def other_audience(request: Request) -> JSONResponse:
        return JSONResponse(as_json(request.state.gatehouse))

    routes = [("/public", public), ("/me", me), ("/mfa", mfa), ("/live", live), ("/admin", admin), ("/other-audience", other_audience)]
    app = Starlette(routes=[Route(path, endpoint) for path, endpoint in routes])
    auth.init_app(app)
    return app


def flask_app(issuer: str) -> Flask:
    app = Flask(__name__)
    app.config["GATEHOUSE_ISSUER"] = issuer
    gh = Gatehouse()
    gh.init_app(app)  # the issuer from the config, as in an app factory
    other = Gatehouse(app, issuer=issuer, audience=OTHER_AUDIENCE)

    @app.get("/public")
    def public() -> dict[str, str]:
        return {"message": "hello"}

    @app.get("/me")
    @gh.required
    def me() -> dict[str, Any]:
        return as_json(current_auth())

    @app.get("/mfa")
    @gh.required(aal=2)
    def mfa() -> dict[str, Any]:
        return as_json(g.gatehouse)

    @app.get("/live")
    @gh.required(live=True)
    async def live() -> dict[str, Any]:  # an async view (flask[async])
        return as_json(g.gatehouse)

    @app.get("/admin")
    @gh.required(role="admin")
    def admin() -> dict[str, Any]:
        return as_json(g.gatehouse)

    @app.get("/other-audience")
    @other.required()
    def other_audience() -> dict[str, Any]:
        return as_json(g.gatehouse)

    return app


BUILDERS: dict[str, Callable[[str], Any]] = {"fastapi": fastapi_app, "starlette": starlette_app, "flask": flask_app}


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serves an ASGI app with uvicorn on a free port of 127.0.0.1, in a thread; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serves a WSGI app with werkzeug's development server on a free port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@contextmanager
def serve(framework: str, issuer: str) -> Iterator[str]:
    app = BUILDERS[framework](issuer)
    with (serve_wsgi if framework == "flask" else serve_asgi)(app) as base:
        yield base
