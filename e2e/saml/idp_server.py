#!/usr/bin/env python3
"""The identity provider of idp.py as a tiny web server on loopback, for logins in a real
browser: pysaml2's IdP (with xmlsec1) behind Python's http.server, logging in one configured
person without asking anything.

  $python e2e/saml/idp_server.py --email ann@acme.test [--attr givenName=Ann] [--port 0]

Run it with the virtualenv e2e/saml/setup.sh makes. Once listening it prints one JSON line on
stdout and nothing else there (requests and errors go to stderr):

  {"url": "http://127.0.0.1:PORT", "port": PORT, "entity_id": "http://127.0.0.1:PORT/metadata",
   "metadata_url": "http://127.0.0.1:PORT/metadata", "sso_url": "http://127.0.0.1:PORT/sso"}

  GET /metadata   the IdP's metadata (idp.py metadata): entity id and SingleSignOnService
                  (HTTP-Redirect and HTTP-POST) at this server, the `idp` key's certificate.
  GET /sso?SAMLRequest=…&RelayState=…
                  an SP-initiated login (HTTP-Redirect binding). The request is read and checked
                  by pysaml2 as `idp.py response --authn-request-url` does, against the SP's
                  metadata (--sp-metadata, else fetched once from the request's Issuer, which
                  must then be an http(s) URL on a loopback host, as gatehouse's entity id is:
                  its metadata URL). The answer is an HTML page with a form posting the signed
                  SAMLResponse (NameID --email in the emailAddress format, the --attr
                  attributes, the assertion signed) and the RelayState to the ACS the request
                  names; a script submits it at once, and its "Continue" button does without
                  scripts. A request pysaml2 refuses gets `400` and the reason, as text.
  GET /           a page saying what this is (a place on the IdP's origin for a test to stand).
  GET /favicon.ico  `204`, so that a browser's console stays quiet.

Every answer carries `Cache-Control: no-store`. The server is multi-threaded (a browser may
hold a connection open); the pysaml2 work is done one request at a time.
"""

import argparse
import base64
import html
import json
import os
import signal
import sys
import tempfile
import threading
import urllib.request
import zlib
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import idp  # noqa: E402  (pysaml2 and its warnings filter come with it)
from lxml import etree  # noqa: E402

NS_SAML = idp.NS_SAML
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class Idp:
    """What the handlers share: the settings, the SP metadata fetched so far, the lock."""

    def __init__(self, args, base):
        self.args = args
        self.base = base
        self.entity_id = f"{base}/metadata"
        self.sso_url = f"{base}/sso"
        self.lock = threading.Lock()
        self.tmp = tempfile.TemporaryDirectory(prefix="gatehouse-idp-")
        self.sp_metadata = {}  # SP entity id -> file with its metadata

    def metadata(self):
        args = Namespace(idp_entity_id=self.entity_id, sso_url=self.sso_url, cert=None)
        with self.lock:
            return idp.cmd_metadata(args)["xml"]

    def sp_metadata_file(self, issuer):
        """The file with the metadata of the SP `issuer`: --sp-metadata, else fetched from the
        issuer (its entity id is its metadata URL) the first time it asks."""
        if self.args.sp_metadata:
            return self.args.sp_metadata
        if issuer in self.sp_metadata:
            return self.sp_metadata[issuer]
        url = urlsplit(issuer or "")
        if url.scheme not in ("http", "https") or url.hostname not in LOOPBACK_HOSTS:
            raise idp.HarnessError(
                f"the request's Issuer {issuer!r} is not a URL on this machine to fetch the SP's metadata from "
                "(give --sp-metadata)"
            )
        # No proxy of the environment: the SP is on this machine.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(issuer, timeout=10) as answer:
                xml = answer.read()
        except Exception as exc:
            raise idp.HarnessError(f"the SP's metadata could not be fetched from {issuer}: {exc}") from exc
        path = os.path.join(self.tmp.name, f"sp-{len(self.sp_metadata)}.xml")
        with open(path, "wb") as file:
            file.write(xml)
        self.sp_metadata[issuer] = path
        return path

    def answer(self, query):
        """The signed answer to the AuthnRequest in `query` (the /sso query string)."""
        saml_request = parse_qs(query).get("SAMLRequest", [""])[0]
        if not saml_request:
            raise idp.HarnessError("no SAMLRequest in the address")
        with self.lock:
            sp_metadata = self.sp_metadata_file(request_issuer(saml_request))
            return idp.build_response(self.response_args(f"{self.sso_url}?{query}", sp_metadata))

    def response_args(self, authn_request_url, sp_metadata):
        """What `idp.py response --authn-request-url URL --sp-metadata FILE --name-id EMAIL
        --attr …` would parse, with every other option at its default."""
        return Namespace(
            idp_entity_id=self.entity_id,
            sso_url=self.sso_url,
            sp_metadata=sp_metadata,
            authn_request_url=authn_request_url,
            acs_url=None,
            relay_state=None,
            in_response_to=None,
            name_id=self.args.email,
            name_id_format="email",
            attr=self.args.attr,
            attr_name_format="basic",
            sign="assertion",
            sig_alg="rsa-sha256",
            digest_alg="sha256",
            key="idp",
            inclusive_namespaces=None,
            now=None,
            issue_instant_offset=0,
            not_before_offset=0,
            not_on_or_after_offset=300,
            audience=None,
            destination=None,
            recipient=None,
            issuer=None,
            response_id=None,
            assertion_id=None,
            session_index=None,
            encrypt_assertion_with=None,
            variant="none",
            comment_after=None,
            no_subject_confirmation_data_in_response_to=False,
        )


def request_issuer(saml_request):
    """The Issuer of an AuthnRequest of the HTTP-Redirect binding (base64 of raw deflate)."""
    try:
        xml = zlib.decompress(base64.b64decode(saml_request), -15)
        root = etree.fromstring(xml, idp.parser())
    except Exception as exc:
        raise idp.HarnessError(f"the SAMLRequest is not a deflated, base64 XML document: {exc}") from exc
    issuer = root.find(f"{{{NS_SAML}}}Issuer")
    return (issuer.text or "").strip() if issuer is not None else None


def page(title, body):
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}"
        "code{word-break:break-all}button{padding:.6rem 1.2rem;font-size:1rem}</style></head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )


def post_page(answer, email):
    """The page that carries the answer to the ACS (HTTP-POST binding)."""
    acs = html.escape(answer["acs_url"], quote=True)
    fields = f'<input type="hidden" name="SAMLResponse" value="{html.escape(answer["saml_response"], quote=True)}">\n'
    if answer.get("relay_state") is not None:
        fields += f'<input type="hidden" name="RelayState" value="{html.escape(answer["relay_state"], quote=True)}">\n'
    body = (
        f"<p>Logged in as <strong id=\"who\">{html.escape(email)}</strong>; "
        f"going back to <code id=\"sp\">{html.escape(answer['sp_entity_id'])}</code>.</p>\n"
        f'<form id="saml-post" method="post" action="{acs}">\n{fields}'
        '<button id="continue" type="submit">Continue</button>\n</form>\n'
        "<script>document.getElementById('saml-post').submit();</script>\n"
    )
    return page("Test identity provider", body)


class Handler(BaseHTTPRequestHandler):
    server_version = "gatehouse-test-idp"
    idp = None  # set by main

    def send(self, status, body, content_type):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/metadata":
            self.send(200, self.idp.metadata(), "application/samlmetadata+xml")
        elif url.path == "/sso":
            try:
                answer = self.idp.answer(url.query)
            except idp.HarnessError as exc:
                self.log_message("refused: %s", exc)
                self.send(400, f"idp_server.py: {exc}\n", "text/plain; charset=utf-8")
                return
            except Exception as exc:  # pysaml2 or xmlsec1 failed: a refusal too, with its message
                self.log_message("refused: %s: %s", type(exc).__name__, exc)
                self.send(400, f"idp_server.py: {type(exc).__name__}: {exc}\n", "text/plain; charset=utf-8")
                return
            self.log_message("answering %s for %s at %s", answer["request_id"], self.idp.args.email, answer["acs_url"])
            self.send(200, post_page(answer, self.idp.args.email), "text/html; charset=utf-8")
        elif url.path == "/favicon.ico":
            self.send_response(204)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
        elif url.path == "/":
            body = f"<p>Logs in <strong>{html.escape(self.idp.args.email)}</strong> for any SP on this machine.</p>\n"
            self.send(200, page("Test identity provider", body), "text/html; charset=utf-8")
        else:
            self.send(404, "not found\n", "text/plain; charset=utf-8")

    def log_message(self, format, *args):
        sys.stderr.write(f"idp_server.py: {self.address_string()} {format % args}\n")
        sys.stderr.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="idp_server.py", description="idp.py's identity provider as a web server.")
    ap.add_argument("--email", required=True, help="who logs in: the NameID (emailAddress format)")
    ap.add_argument("--attr", action="append", metavar="NAME=VALUE", help="an attribute value (repeatable)")
    ap.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="default 0: a free port")
    ap.add_argument("--sp-metadata", help="the SP's metadata (default: fetched from the request's Issuer)")
    args = ap.parse_args(argv)
    try:
        idp.parse_attrs(args.attr)
        idp.xmlsec_binary()
    except idp.HarnessError as exc:
        ap.error(str(exc))

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    Handler.idp = Idp(args, base)
    ready = {
        "url": base,
        "port": port,
        "entity_id": Handler.idp.entity_id,
        "metadata_url": Handler.idp.entity_id,
        "sso_url": Handler.idp.sso_url,
    }
    print(json.dumps(ready), flush=True)
    # SIGTERM ends it as Ctrl-C does, through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Handler.idp.tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
