#!/usr/bin/env python3
"""The configurations e2e/proxy/run.sh runs nginx and Caddy with: the shipped files of
deploy/forward-auth/ and deploy/nginx.conf, with only their addresses changed to local ports
(and the forward-auth nginx's TLS taken out; deploy/nginx.conf keeps its TLS, with a throwaway
certificate), so that what is tested is what an operator copies.

    python3 e2e/proxy/render.py --out DIR --gatehouse-port P --upstream-port P \
        --nginx-port P --caddy-port P --nginx-api-port P --nginx-api-http-port P

writes DIR/nginx/nginx.conf (a main configuration that includes DIR/nginx/forward-auth.conf
and DIR/nginx/gatehouse.conf, deploy/nginx.conf with HTTPS on --nginx-api-port and its plain
HTTP server on --nginx-api-http-port, with its pid, logs, temporary files and certificate
under DIR/nginx) and DIR/caddy/Caddyfile. Every replacement must match the shipped file
exactly, so a change there that this script does not know of stops the run instead of
testing something else.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


class Mismatch(Exception):
    pass


def replace(text, name, old, new, count=1):
    found = text.count(old)
    if found != count:
        raise Mismatch(f"deploy/{name}: expected {count} of {old!r}, found {found}")
    return text.replace(old, new)


def drop_lines(text, name, pattern, count):
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not re.match(pattern, line)]
    if len(lines) - len(kept) != count:
        raise Mismatch(f"deploy/{name}: expected {count} lines matching {pattern!r}, "
                       f"found {len(lines) - len(kept)}")
    return "".join(kept)


def nginx(out, ports):
    name = "forward-auth/nginx.conf"
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
    gatehouse_site(directory, ports)
    # Started by root, nginx would run its workers as nobody, who cannot read this directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(
        f"""# Made by e2e/proxy/render.py: deploy/forward-auth/nginx.conf and deploy/nginx.conf in a
# main configuration.
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
    include {directory}/gatehouse.conf;
}}
"""
    )


def gatehouse_site(directory, ports):
    """deploy/nginx.conf, which serves gatehouse's own login pages and API: TLS with a
    throwaway certificate for auth.example.com, local ports, its log under `directory`."""
    name = "nginx.conf"
    text = (DEPLOY / name).read_text()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=auth.example.com",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
        check=True, capture_output=True,
    )
    text = replace(text, name, "    listen 80;\n", f"    listen 127.0.0.1:{ports.nginx_api_http};\n")
    text = replace(text, name, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{ports.nginx_api} ssl http2;\n")
    text = drop_lines(text, name, r"\s*listen \[::\]:(80|443 ssl http2);$", 2)
    text = replace(text, name, "/etc/letsencrypt/live/auth.example.com/fullchain.pem;", f"{directory}/cert.pem;")
    text = replace(text, name, "/etc/letsencrypt/live/auth.example.com/privkey.pem;", f"{directory}/key.pem;")
    text = replace(text, name, "server 127.0.0.1:8080 max_fails", f"server 127.0.0.1:{ports.gatehouse} max_fails")
    text = replace(text, name, "access_log /var/log/nginx/gatehouse.access.log gatehouse;",
                   f"access_log {directory}/gatehouse.access.log gatehouse;")
    (directory / "gatehouse.conf").write_text(text)


def caddy(out, ports):
    name = "forward-auth/Caddyfile"
    text = (DEPLOY / name).read_text()
    # The app as 127.0.0.1 on a local port, gatehouse's own site on the same port under its
    # name; as with the shipped names, Caddy routes no other Host to either.
    text = replace(text, name, "\napp.example.com {\n", f"\nhttp://127.0.0.1:{ports.caddy} {{\n")
    text = replace(text, name, "\nauth.example.com {\n", f"\nhttp://auth.example.com:{ports.caddy} {{\n")
    text = replace(text, name, "reverse_proxy 127.0.0.1:8080 {", f"reverse_proxy 127.0.0.1:{ports.gatehouse} {{")
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
    for proxy in ("gatehouse", "upstream", "nginx", "caddy", "nginx-api", "nginx-api-http"):
        parser.add_argument(f"--{proxy}-port", dest=proxy.replace("-", "_"), required=True, type=int)
    args = parser.parse_args()
    try:
        nginx(args.out, args)
        caddy(args.out, args)
    except Mismatch as error:
        sys.exit(f"render.py: {error}; update e2e/proxy/render.py together with the file")
    except subprocess.CalledProcessError as error:
        sys.exit(f"render.py: openssl could not make a throwaway certificate: {error.stderr.decode().strip()}")


if __name__ == "__main__":
    main()
