"""An MCP server behind nginx and gatehouse (docs/INTEGRATING.md, "Put an MCP server behind gatehouse").

nginx asks gatehouse about every request and passes on only those it lets in, naming the caller in
Remote-User (the person), Remote-Client (the app) and Remote-Scopes. The server believes those
headers because nginx is its only way in: it listens on 127.0.0.1 alone. nginx sees a request's
path, never which tool it calls, so the tools that need more have a path of their own: /mcp needs
the scope mcp:tools, /mcp/admin mcp:admin (gatehouse's GATEHOUSE_FORWARD_RULES).

    MCP_HOST=mcp.example.com python server.py 3000
"""

import contextlib
import os
import sys

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

tools, admin = MCPServer("notes"), MCPServer("notes-admin")


def caller(ctx: Context) -> dict[str, str]:
    headers = ctx.headers or {}
    return {name: headers.get(name, "") for name in ("remote-user", "remote-client", "remote-scopes")}


@tools.tool()
def whoami(ctx: Context) -> dict[str, str]:
    """Who is calling: the person, the app and its scopes, as gatehouse told nginx."""
    return caller(ctx)


@admin.tool()
def reindex(ctx: Context) -> dict[str, str]:
    """Rebuilds the notes' search index (here it only says who asked)."""
    return {"reindexed": "yes", **caller(ctx)}


# Requests name the host as nginx passes it on (its Host header); any other is refused.
host = os.environ.get("MCP_HOST", "mcp.example.com")
security = TransportSecuritySettings(allowed_hosts=[host], allowed_origins=[f"https://{host}"])
apps = [tools.streamable_http_app(streamable_http_path="/mcp", transport_security=security),
        admin.streamable_http_app(streamable_http_path="/mcp/admin", transport_security=security)]


@contextlib.asynccontextmanager
async def lifespan(_app):
    async with tools.session_manager.run(), admin.session_manager.run():
        yield


app = Starlette(routes=[route for each in apps for route in each.routes], lifespan=lifespan)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
