#!/usr/bin/env python3
"""What e2e/mcp/run.sh runs gatehouse and nginx with: the files docs/INTEGRATING.md ("Put an MCP
server behind gatehouse") tells an operator to take, with only their addresses changed to local
ports, so that what is tested is what the documentation shows.

    python3 e2e/mcp/render.py --out DIR --gatehouse-port P --nginx-port P --mcp-port P --reports URL_AND_SCOPES

writes
  DIR/.env               examples/mcp/gatehouse.env, gatehouse reading it from DIR: its public URL
                         http://127.0.0.1:GATEHOUSE, the MCP server http://127.0.0.1:NGINX/mcp in
                         GATEHOUSE_RESOURCES and GATEHOUSE_FORWARD_RULES, and one more resource
                         (--reports, "URL SCOPE…") whose tokens the MCP server must refuse;
  DIR/nginx/nginx.conf   a main configuration that includes DIR/nginx/mcp.conf,
                         deploy/forward-auth/nginx.conf as e2e/proxy/render.py renders it for a
                         local port (plain HTTP on 127.0.0.1:NGINX, server_name 127.0.0.1),
                         gatehouse at 127.0.0.1:GATEHOUSE and the MCP server at 127.0.0.1:MCP in
                         place of the app; its pid, logs and temporary files under DIR/nginx.

Every replacement must match the shipped file exactly, so a change there that this script does
not know of stops the run instead of testing something else.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "e2e" / "proxy"))
from render import Mismatch, block, nginx_app_server, nginx_main, replace  # noqa: E402  (e2e/proxy/render.py)

ENV = "examples/mcp/gatehouse.env"


def swap(value, old, new, count=1):
    """`value` with `old` (found exactly `count` times) replaced by `new`."""
    if value.count(old) != count:
        raise Mismatch(f"{ENV}: expected {count} of {old!r} in {value!r}")
    return value.replace(old, new)


def env(out, args):
    """examples/mcp/gatehouse.env for local addresses, as DIR/.env."""
    nginx = f"127.0.0.1:{args.nginx_port}"
    lines = []
    for line in (ROOT / ENV).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            lines.append(line)
            continue
        name, value = line.split("=", 1)
        if name == "GATEHOUSE_PUBLIC_URL":
            value = swap(value, "https://auth.example.com", f"http://127.0.0.1:{args.gatehouse_port}")
        elif name == "GATEHOUSE_RESOURCES":
            value = swap(value, '"https://mcp.example.com/mcp mcp:tools mcp:admin"',
                            f'"http://{nginx}/mcp mcp:tools mcp:admin, {args.reports}"')
        elif name == "GATEHOUSE_FORWARD_RULES":
            value = swap(value, "mcp.example.com/", f"{nginx}/", count=2)
        lines.append(f"{name}={value}")
    left = [line for line in lines if "example.com" in line and not line.startswith("#")]
    if left:
        raise Mismatch(f"{ENV}: a setting still names example.com after the replacements: {left}")
    (out / ".env").write_text("\n".join(lines) + "\n")


def nginx(out, args):
    """deploy/forward-auth/nginx.conf in front of the MCP server, in a main configuration."""
    name = "forward-auth/nginx.conf"
    text = (ROOT / "deploy" / name).read_text()
    text = replace(text, name, "server 127.0.0.1:8080;", f"server 127.0.0.1:{args.gatehouse_port};")
    before, server, after = block(text, name, "\nserver {\n")
    text = before + nginx_app_server(server, name, args.nginx_port, "127.0.0.1", args.mcp_port) + after
    directory = out / "nginx"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "mcp.conf").write_text(text)
    nginx_main(directory, "e2e/mcp/render.py: deploy/forward-auth/nginx.conf in front of examples/mcp/server.py.",
               ["mcp.conf"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    for port in ("gatehouse", "nginx", "mcp"):
        parser.add_argument(f"--{port}-port", dest=f"{port}_port", required=True, type=int)
    parser.add_argument("--reports", required=True, help='another resource for GATEHOUSE_RESOURCES: "URL SCOPE…"')
    args = parser.parse_args()
    try:
        env(args.out, args)
        nginx(args.out, args)
    except Mismatch as error:
        sys.exit(f"render.py: {error}; update e2e/mcp/render.py together with the file")


if __name__ == "__main__":
    main()
