#!/usr/bin/env python3
"""The configurations e2e/proxy/run.sh runs nginx and Caddy with: the shipped files of
deploy/forward-auth/, with only their addresses changed to local ports (and nginx's TLS
taken out), so that what is tested is what an operator copies.

    python3 e2e/proxy/render.py --out DIR --gatehouse-port P --upstream-port P \
        --nginx-port P --caddy-port P

writes DIR/nginx/nginx.conf (a main configuration that includes DIR/nginx/forward-auth.conf,
with its pid, logs and temporary files under DIR/nginx) and DIR/caddy/Caddyfile. Every
replacement must match the shipped file exactly, so a change there that this script does not
know of stops the run instead of testing something else.
"""

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "forward-auth"


class Mismatch(Exception):
    pass


def replace(text, name, old, new, count=1):
    found = text.count(old)
    if found != count:
        raise Mismatch(f"deploy/forward-auth/{name}: expected {count} of {old!r}, found {found}")
    return text.replace(old, new)


def drop_lines(text, name, pattern, count):
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not re.match(pattern, line)]
    if len(lines) - len(kept) != count:
        raise Mismatch(f"deploy/forward-auth/{name}: expected {count} lines matching {pattern!r}, "
                       f"found {len(lines) - len(kept)}")
    return "".join(kept)


def nginx(out, ports):
    name = "nginx.conf"
    text = (DEPLOY / name).read_text()
    # Plain HTTP on a local port: the TLS lines go.
    text = replace(text, name, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{ports.nginx};\n")
    text = drop_lines(text, name, r"\s*listen \[::\]:443 ssl http2;$", 1)
    text = drop_lines(text, name, r"\s*ssl_certificate(_key)? ", 2)
    text = replace(text, name, "server_name app.example.com;", "server_name 127.0.0.1;")
    text = replace(text, name, "server 127.0.0.1:8080;", f"server 127.0.0.1:{ports.gatehouse};")
    text = replace(text, name, "proxy_pass http://127.0.0.1:3000;", f"proxy_pass http://127.0.0.1:{ports.upstream};")
    directory = out / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    (directory / "forward-auth.conf").write_text(text)
    # Started by root, nginx would run its workers as nobody, who cannot read this directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(
        f"""# Made by e2e/proxy/render.py: deploy/forward-auth/nginx.conf in a main configuration.
{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{
    worker_connections 128;
}}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/tmp/body;
    proxy_temp_path {directory}/tmp/proxy;
    fastcgi_temp_path {directory}/tmp/fastcgi;
    uwsgi_temp_path {directory}/tmp/uwsgi;
    scgi_temp_path {directory}/tmp/scgi;
    include {directory}/forward-auth.conf;
}}
"""
    )


def caddy(out, ports):
    name = "Caddyfile"
    text = (DEPLOY / name).read_text()
    # The app as 127.0.0.1 on a local port, gatehouse's own site on the same port under its
    # name; as with the shipped names, Caddy routes no other Host to either.
    text = replace(text, name, "\napp.example.com {\n", f"\nhttp://127.0.0.1:{ports.caddy} {{\n")
    text = replace(text, name, "\nauth.example.com {\n", f"\nhttp://auth.example.com:{ports.caddy} {{\n")
    text = replace(text, name, "reverse_proxy 127.0.0.1:8080\n", f"reverse_proxy 127.0.0.1:{ports.gatehouse}\n")
    text = replace(text, name, "forward_auth 127.0.0.1:8080 {", f"forward_auth 127.0.0.1:{ports.gatehouse} {{")
    text = replace(text, name, "reverse_proxy 127.0.0.1:3000\n", f"reverse_proxy 127.0.0.1:{ports.upstream}\n")
    directory = out / "caddy"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Caddyfile").write_text(
        "# Made by e2e/proxy/render.py: deploy/forward-auth/Caddyfile on local ports, without TLS.\n"
        "{\n\tadmin off\n\tauto_https off\n}\n\n" + text
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    for proxy in ("gatehouse", "upstream", "nginx", "caddy"):
        parser.add_argument(f"--{proxy}-port", dest=proxy, required=True, type=int)
    args = parser.parse_args()
    try:
        nginx(args.out, args)
        caddy(args.out, args)
    except Mismatch as error:
        sys.exit(f"render.py: {error}; update e2e/proxy/render.py together with the file")


if __name__ == "__main__":
    main()
