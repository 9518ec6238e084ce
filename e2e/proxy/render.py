#!/usr/bin/env python3
"""The configurations e2e/proxy/run.sh runs nginx and Caddy with: the shipped files of
deploy/forward-auth/ and deploy/nginx.conf, with only their addresses changed to local ports
(and the forward-auth nginx's TLS taken out; deploy/nginx.conf keeps its TLS, with a throwaway
certificate), so that what is tested is what an operator copies.

    python3 e2e/proxy/render.py --out DIR --gatehouse-port P --upstream-port P \
        --nginx-port P --caddy-port P --nginx-api-port P --nginx-api-http-port P \
        --hosts-nginx-port P --hosts-caddy-port P --site-ports P,P,...

writes DIR/nginx/nginx.conf (a main configuration that includes DIR/nginx/forward-auth.conf,
DIR/nginx/hosts.conf and DIR/nginx/gatehouse.conf, deploy/nginx.conf with HTTPS on
--nginx-api-port and its plain HTTP server on --nginx-api-http-port, with its pid, logs,
temporary files and certificate under DIR/nginx) and DIR/caddy/Caddyfile.

The guarded hosts of check 10 (e2e/proxy/differential.py's SITES) get the shipped app site
once each, on a port of their own (--hosts-nginx-port, --hosts-caddy-port: the first host's
server is nginx's default there), in front of the app on a port of their own (--site-ports,
in SITES' order): nginx's server block with the host as its server_name, Caddy's app.example.com
block under the host's site address, their bodies as shipped but for the addresses.

Every replacement must match the shipped file exactly, so a change there that this script does
not know of stops the run instead of testing something else.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from differential import SITES

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


def block(text, name, opening):
    """(before, the block that starts with `opening` and ends at the first "}" of column 0
    after it, after): the block must be there once."""
    found = text.count(opening)
    if found != 1:
        raise Mismatch(f"deploy/{name}: expected 1 of {opening!r}, found {found}")
    start = text.index(opening) + 1
    end = text.find("\n}\n", start)
    if end < 0:
        raise Mismatch(f"deploy/{name}: no closing }} after {opening!r}")
    return text[:start], text[start:end + 3], text[end + 3:]


def nginx_app_server(server, name, port, server_name, upstream):
    """The shipped app server on 127.0.0.1:`port`, plain HTTP (the TLS lines go), as
    `server_name`, in front of the app on `upstream`."""
    server = replace(server, name, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{port};\n")
    server = drop_lines(server, name, r"\s*listen \[::\]:443 ssl http2;$", 1)
    server = drop_lines(server, name, r"\s*ssl_certificate(_key)? ", 2)
    server = replace(server, name, "server_name app.example.com;", f"server_name {server_name};")
    return replace(server, name, "proxy_pass http://127.0.0.1:3000;", f"proxy_pass http://127.0.0.1:{upstream};")


def nginx(out, ports):
    name = "forward-auth/nginx.conf"
    text = (DEPLOY / name).read_text()
    text = replace(text, name, "server 127.0.0.1:8080;", f"server 127.0.0.1:{ports.gatehouse};")
    before, server, after = block(text, name, "\nserver {\n")
    text = before + nginx_app_server(server, name, ports.nginx, "127.0.0.1", ports.upstream) + after
    directory = out / "nginx"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "forward-auth.conf").write_text(text)
    # The guarded hosts of check 10, one server each, the same upstream gatehouse_forward_auth.
    (directory / "hosts.conf").write_text(
        "# Made by e2e/proxy/render.py: deploy/forward-auth/nginx.conf's app server for each guarded host\n"
        "# of e2e/proxy/differential.py, the first the default server of its port.\n"
        + "".join("\n" + nginx_app_server(server, name, ports.hosts_nginx, site.nginx, upstream)
                  for site, upstream in zip(SITES, ports.site_ports))
    )
    gatehouse_site(directory, ports)
    nginx_main(directory, "e2e/proxy/render.py: deploy/forward-auth/nginx.conf (also once for each guarded\n"
               "# host of check 10) and deploy/nginx.conf in a main configuration.",
               ["forward-auth.conf", "hosts.conf", "gatehouse.conf"])


def nginx_main(directory, made_by, includes):
    """nginx's main configuration in `directory`, with its temporary directories, running as the
    user who starts it and including the files `includes` (of `directory`)."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    # Started by root, nginx would run its workers as nobody, who cannot read this directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    included = "".join(f"    include {directory}/{name};\n" for name in includes)
    (directory / "nginx.conf").write_text(
        f"""# Made by {made_by}
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
{included}}}
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


def caddy_app_site(site, name, address, gatehouse, upstream):
    """The shipped app.example.com site as `address`, asking gatehouse on `gatehouse`, in front
    of the app on `upstream`."""
    site = replace(site, name, "app.example.com {\n", f"{address} {{\n")
    site = replace(site, name, "forward_auth 127.0.0.1:8080 {", f"forward_auth 127.0.0.1:{gatehouse} {{")
    site = replace(site, name, "reverse_proxy 127.0.0.1:8080 {", f"reverse_proxy 127.0.0.1:{gatehouse} {{")
    return replace(site, name, "reverse_proxy 127.0.0.1:3000\n", f"reverse_proxy 127.0.0.1:{upstream}\n")


def caddy(out, ports):
    name = "forward-auth/Caddyfile"
    text = (DEPLOY / name).read_text()
    # The app as 127.0.0.1 on a local port, gatehouse's own site on the same port under its
    # name; as with the shipped names, Caddy routes no other Host to either.
    before, app, after = block(text, name, "\napp.example.com {\n")
    text = before + caddy_app_site(app, name, f"http://127.0.0.1:{ports.caddy}", ports.gatehouse, ports.upstream) + after
    text = replace(text, name, "\nauth.example.com {\n", f"\nhttp://auth.example.com:{ports.caddy} {{\n")
    text = replace(text, name, "reverse_proxy 127.0.0.1:8080 {", f"reverse_proxy 127.0.0.1:{ports.gatehouse} {{")
    # The guarded hosts of check 10, each a site of its own on their port.
    hosts = "".join(
        "\n" + caddy_app_site(app, name, f"http://{site.caddy}:{ports.hosts_caddy}", ports.gatehouse, upstream)
        for site, upstream in zip(SITES, ports.site_ports)
    )
    directory = out / "caddy"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Caddyfile").write_text(
        "# Made by e2e/proxy/render.py: deploy/forward-auth/Caddyfile on local ports, without TLS, and its\n"
        "# app.example.com site once more for each guarded host of e2e/proxy/differential.py.\n"
        "{\n\tadmin off\n\tauto_https off\n}\n\n" + text + hosts
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    for proxy in ("gatehouse", "upstream", "nginx", "caddy", "nginx-api", "nginx-api-http", "hosts-nginx", "hosts-caddy"):
        parser.add_argument(f"--{proxy}-port", dest=proxy.replace("-", "_"), required=True, type=int)
    parser.add_argument("--site-ports", required=True, type=lambda text: [int(p) for p in text.split(",")],
                        help=f"the app's port for each of the {len(SITES)} guarded hosts, comma-separated")
    args = parser.parse_args()
    if len(args.site_ports) != len(SITES):
        parser.error(f"--site-ports: expected {len(SITES)} ports, one for each of {', '.join(s.host for s in SITES)}")
    try:
        nginx(args.out, args)
        caddy(args.out, args)
    except Mismatch as error:
        sys.exit(f"render.py: {error}; update e2e/proxy/render.py together with the file")
    except subprocess.CalledProcessError as error:
        sys.exit(f"render.py: openssl could not make a throwaway certificate: {error.stderr.decode().strip()}")


if __name__ == "__main__":
    main()
