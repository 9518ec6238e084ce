#!/usr/bin/env python3
"""pysaml2's own Service Provider, for selftest.sh and fixtures/make.sh only: it stands in for
gatehouse so that the IdP harness (idp.py) can be checked without the Rust service.

Subcommands (one JSON object on stdout and exit 0, or a message on stderr and exit 1):

  metadata    the fake SP's metadata XML, made by pysaml2 from the SP configuration below
              (AuthnRequestsSigned="false", WantAssertionsSigned="true", one HTTP-POST ACS)
              -> {"xml": "..."}
  authn-url   an SP-initiated login: Saml2Client.prepare_for_authenticate against the IdP's
              metadata, HTTP-Redirect binding -> {"url": "...", "request_id": "..."}
  accept      Saml2Client.parse_authn_request_response on a base64 SAMLResponse, with the
              request id as the one outstanding request -> {"name_id": ..., "attributes": ...}
              or exit 1 with pysaml2's refusal
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore", message=".*has been moved to cryptography.hazmat.decrepit.*")

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS  # noqa: E402

SP_ENTITY_ID = "https://sp.test/sso/saml/x/metadata"
SP_ACS_URL = "https://sp.test/sso/saml/x/acs"


def sp_config(args, idp_metadata=None):
    config = {
        "entityid": args.entity_id,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(args.acs_url, BINDING_HTTP_POST)]},
                "authn_requests_signed": False,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            },
        },
        # the harness names attributes literally (email, givenName), which pysaml2's attribute
        # maps do not know
        "allow_unknown_attributes": True,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "crypto_backend": "xmlsec1",
        "delete_tmpfiles": True,
        "accepted_time_diff": 60,
    }
    if idp_metadata:
        config["metadata"] = {"local": [idp_metadata]}
    conf = SPConfig()
    conf.load(config)
    return conf


def idp_metadata_file(xml_or_path):
    """The IdP metadata as a file: the path if it is one, else a temporary file with the XML."""
    if os.path.isfile(xml_or_path):
        return xml_or_path
    tmp = tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False)
    tmp.write(xml_or_path)
    tmp.close()
    return tmp.name


def cmd_metadata(args):
    xml = create_metadata_string(None, config=sp_config(args))
    return {"xml": xml.decode("utf-8") if isinstance(xml, bytes) else xml}


def cmd_authn_url(args):
    client = Saml2Client(config=sp_config(args, idp_metadata_file(args.idp_metadata)))
    request_id, info = client.prepare_for_authenticate(
        entityid=args.idp_entity_id, relay_state=args.relay_state, binding=BINDING_HTTP_REDIRECT
    )
    url = dict(info["headers"])["Location"]
    return {"url": url, "request_id": request_id}


def cmd_accept(args):
    client = Saml2Client(config=sp_config(args, idp_metadata_file(args.idp_metadata)))
    with open(args.saml_response_file) as f:
        saml_response = f.read().strip()
    outstanding = {args.request_id: "/"} if args.request_id else {}
    response = client.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding)
    if response is None:
        raise ValueError("pysaml2 returned no response")
    identity = response.get_identity()
    subject = response.get_subject()
    return {
        "name_id": subject.text,
        "name_id_format": subject.format,
        "attributes": identity,
        "in_response_to": response.in_response_to,
    }


def main():
    ap = argparse.ArgumentParser(prog="sp_client.py")
    sub = ap.add_subparsers(dest="command", required=True)
    parsers = {
        "metadata": sub.add_parser("metadata"),
        "authn-url": sub.add_parser("authn-url"),
        "accept": sub.add_parser("accept"),
    }
    for p in parsers.values():
        p.add_argument("--entity-id", default=SP_ENTITY_ID)
        p.add_argument("--acs-url", default=SP_ACS_URL)
    for name in ("authn-url", "accept"):
        parsers[name].add_argument("--idp-metadata", required=True, help="file (or XML) of the IdP metadata")
    parsers["authn-url"].add_argument("--idp-entity-id", required=True)
    parsers["authn-url"].add_argument("--relay-state", default="")
    parsers["accept"].add_argument("--saml-response-file", required=True, help="file with the base64 SAMLResponse")
    parsers["accept"].add_argument("--request-id", help="the outstanding AuthnRequest id (none: unsolicited)")
    args = ap.parse_args()
    handler = {"metadata": cmd_metadata, "authn-url": cmd_authn_url, "accept": cmd_accept}[args.command]
    try:
        result = handler(args)
    except Exception as exc:
        print(f"sp_client.py {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
