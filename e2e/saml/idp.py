#!/usr/bin/env python3
"""A real SAML 2.0 Identity Provider for gatehouse's SAML tests, driven from the command line.

It is pysaml2's own IdP (saml2.server.Server) with Debian's xmlsec1 as its crypto backend:
requests are parsed and checked by pysaml2, and every signature in the output is made by
xmlsec1 (enveloped signature, exclusive C14N, Reference URI="#ID"), placed where pysaml2
places it (right after the Issuer of the signed element).

Subcommands (each prints one JSON object on stdout and exits 0, or prints a message on stderr
and exits 1):

  metadata          the IdP's metadata (EntityDescriptor with an IDPSSODescriptor)
  login-url-check   parse the AuthnRequest of an SP-initiated login URL, as an IdP would
  response          a SAML Response for the SP's ACS, signed as asked, optionally broken on
                    purpose afterwards (--variant) to test the SP's refusals

How `response` is built: pysaml2 makes the unsigned Response (Server.create_authn_response
with no signing), then the fields the tests control (IDs, instants, audience, recipient,
destination, issuer) are set on pysaml2's objects, then the signature templates are added
with pysaml2's pre_signature_part and filled by xmlsec1 through pysaml2's SecurityContext
(signed_instance_factory -> sign_statement -> `xmlsec1 --sign`), in pysaml2's order
(assertion first, then the response). Encryption follows pysaml2's own path too
(pre_encrypt_assertion, then `xmlsec1 --encrypt` through Server._encrypt_assertion).
pysaml2 offers no parameters for fixed IDs, time offsets or audience/recipient overrides,
which is why the response is edited between its creation and its signing.

Variants are applied AFTER signing, with lxml, on the serialized signed XML. They never
touch the bytes of an existing ds:Signature: a variant either moves signed content around
(XML Signature Wrapping), changes signed content (the signature no longer matches), removes
signatures, or adds nodes that exclusive C14N ignores (a comment).

Run with the virtualenv that setup.sh creates (setup.sh prints its python).
"""

import argparse
import base64
import copy
import json
import os
import shutil
import sys
import warnings
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

# pysaml2 imports a cipher mode that newer `cryptography` releases flag as deprecated; the
# warning would only clutter stderr.
warnings.filterwarnings("ignore", message=".*has been moved to cryptography.hazmat.decrepit.*")

from lxml import etree  # noqa: E402

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, class_name  # noqa: E402
from saml2 import samlp  # noqa: E402
from saml2.attribute_converter import AttributeConverter, do_ava  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.s_utils import factory  # noqa: E402
from saml2.saml import (  # noqa: E402
    NAME_FORMAT_BASIC,
    NAME_FORMAT_UNSPECIFIED,
    NAME_FORMAT_URI,
    NAMEID_FORMAT_EMAILADDRESS,
    NAMEID_FORMAT_PERSISTENT,
    NAMEID_FORMAT_UNSPECIFIED,
    Attribute,
    NameID,
)
from saml2.server import Server  # noqa: E402
from saml2.sigver import pre_encrypt_assertion, pre_signature_part, signed_instance_factory  # noqa: E402
from saml2.xmldsig import (  # noqa: E402
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA512,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    SIG_RSA_SHA512,
    TRANSFORM_C14N,
)

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

# The NameID an attacker wants the SP to read.
EVIL_NAME_ID = "mallory@acme.test"

KEY_NAMES = ("idp", "other", "rollover")
NAME_ID_FORMATS = {
    "email": NAMEID_FORMAT_EMAILADDRESS,
    "persistent": NAMEID_FORMAT_PERSISTENT,
    "unspecified": NAMEID_FORMAT_UNSPECIFIED,
}
ATTR_NAME_FORMATS = {"basic": NAME_FORMAT_BASIC, "uri": NAME_FORMAT_URI, "unspecified": NAME_FORMAT_UNSPECIFIED}
SIG_ALGS = {"rsa-sha1": SIG_RSA_SHA1, "rsa-sha256": SIG_RSA_SHA256, "rsa-sha512": SIG_RSA_SHA512}
DIGEST_ALGS = {"sha1": DIGEST_SHA1, "sha256": DIGEST_SHA256, "sha512": DIGEST_SHA512}


class HarnessError(Exception):
    """A refusal or a usage error: its message goes to stderr and the exit code is 1."""


def key_paths(name):
    """The (private key, certificate) files of one of the test key pairs in keys/."""
    return os.path.join(KEYS, f"{name}-key.pem"), os.path.join(KEYS, f"{name}-cert.pem")


def xmlsec_binary():
    path = shutil.which("xmlsec1")
    if not path:
        raise HarnessError("xmlsec1 is not on PATH (run e2e/saml/setup.sh)")
    return path


def instant(when):
    """A SAML instant (xs:dateTime in UTC, whole seconds), as pysaml2 writes them."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------
# The IdP: pysaml2's Server, configured in code.


class LiteralNameConverter(AttributeConverter):
    """Turns {"givenName": ["Ann"]} into <Attribute Name="givenName" NameFormat=...> with
    xs:string values, keeping the name exactly as given.

    pysaml2's stock converters would rename known attributes (with the uri format, "email"
    becomes urn:oid:1.2.840.113549.1.9.1.1) or lowercase them; the tests want the name they
    pass. The values are made by pysaml2's own do_ava (xsi:type="xs:string").
    """

    def to_(self, attrvals):
        return [
            factory(Attribute, name=name, name_format=self.name_format, attribute_value=do_ava(values))
            for name, values in attrvals.items()
        ]


def build_server(args, key="idp", certs=None, sp_metadata=None, want_signed_requests=False, attr_name_format="basic"):
    """A pysaml2 IdP that signs with `key`. `certs` are the signing certificates its metadata
    publishes (default: the key's own); the first must be the key's own, since pysaml2 takes
    the certificate it puts in a signature's KeyInfo from cert_file."""
    key_file = key_paths(key)[0]
    metadata_certs = [key_paths(name)[1] for name in (certs or [key])]
    name_form = ATTR_NAME_FORMATS[attr_name_format]
    config = {
        "entityid": args.idp_entity_id,
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (args.sso_url, BINDING_HTTP_REDIRECT),
                        (args.sso_url, BINDING_HTTP_POST),
                    ],
                },
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": name_form,
                    },
                },
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                "want_authn_requests_signed": want_signed_requests,
            },
        },
        # cert_file is the signing key's certificate (KeyInfo's); metadata lists it, then
        # additional_cert_files, each as a KeyDescriptor use="signing".
        "key_file": key_file,
        "cert_file": metadata_certs[0],
        "additional_cert_files": metadata_certs[1:],
        "metadata_key_usage": "signing",
        "xmlsec_binary": xmlsec_binary(),
        "crypto_backend": "xmlsec1",
        "delete_tmpfiles": True,
    }
    if sp_metadata:
        if not os.path.isfile(sp_metadata):
            raise HarnessError(f"--sp-metadata {sp_metadata}: no such file")
        config["metadata"] = {"local": [sp_metadata]}
    conf = IdPConfig()
    conf.load(config)
    # Replaces the converters that IdPConfig.load made from pysaml2's attribute maps.
    conf.attribute_converters = [LiteralNameConverter(name_form)]
    return Server(config=conf)


def sp_entity_id_from_metadata(server):
    """The one SP entity in the loaded metadata."""
    ids = sorted(server.metadata.with_descriptor("spsso"))
    if len(ids) != 1:
        raise HarnessError(f"--sp-metadata must describe exactly one SP, found {ids!r}")
    return ids[0]


def parse_login_url(server, url):
    """Parses the AuthnRequest of an SP-initiated login (HTTP-Redirect binding) with pysaml2's
    IdP, which checks it as a real IdP would: the deflate+base64 encoding, the schema, the
    Destination (must be our SSO URL), the IssueInstant, the issuer (must be in the SP
    metadata), the ACS URL (must be one of the SP's, HTTP-POST) and, when the URL carries
    SigAlg/Signature, the redirect signature against the SP metadata's signing certificate."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)

    def one(name):
        values = query.get(name)
        if values is None:
            return None
        if len(values) != 1:
            raise HarnessError(f"the login URL has {len(values)} {name} parameters")
        return values[0]

    saml_request = one("SAMLRequest")
    if not saml_request:
        raise HarnessError("the login URL has no SAMLRequest parameter")
    relay_state, sig_alg, signature = one("RelayState"), one("SigAlg"), one("Signature")
    try:
        request = server.parse_authn_request(
            saml_request, BINDING_HTTP_REDIRECT, relay_state=relay_state, sigalg=sig_alg, signature=signature
        )
        if request is None:
            raise HarnessError("pysaml2 could not read the AuthnRequest")
        message = request.message
        response_args = server.response_args(message, [BINDING_HTTP_POST])
    except HarnessError:
        raise
    except Exception as exc:  # pysaml2 raises many kinds; all are refusals here
        raise HarnessError(f"pysaml2 refused the AuthnRequest: {type(exc).__name__}: {exc}") from exc
    policy = message.name_id_policy
    return {
        "request_id": message.id,
        "acs_url": response_args["destination"],
        "issuer": message.issuer.text.strip() if message.issuer is not None else None,
        "relay_state": relay_state,
        "force_authn": (message.force_authn or "").strip().lower() in ("true", "1"),
        "is_passive": (message.is_passive or "").strip().lower() in ("true", "1"),
        "name_id_policy_format": policy.format if policy is not None else None,
        "destination": message.destination,
        "protocol_binding": message.protocol_binding,
        "signed": signature is not None,
        "sig_alg": sig_alg,
    }


def request_has_signature(url):
    return "Signature" in parse_qs(urlsplit(url).query, keep_blank_values=True)


# ------------------------------------------------------------------------------------------
# metadata


def cmd_metadata(args):
    server = build_server(args, key=args.cert[0] if args.cert else "idp", certs=args.cert or ["idp"])
    xml = create_metadata_string(None, config=server.config)
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8")
    return {"xml": xml}


# ------------------------------------------------------------------------------------------
# login-url-check


def cmd_login_url_check(args):
    server = build_server(
        args, sp_metadata=args.sp_metadata, want_signed_requests=request_has_signature(args.authn_request_url)
    )
    return parse_login_url(server, args.authn_request_url)


# ------------------------------------------------------------------------------------------
# response


def parse_attrs(pairs):
    """["email=a@b", "groups=x", "groups=y"] -> {"email": ["a@b"], "groups": ["x", "y"]}"""
    identity = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise HarnessError(f"--attr {pair!r}: expected NAME=VALUE")
        identity.setdefault(name, []).append(value)
    return identity


def add_inclusive_namespaces(xml, prefixes):
    """Adds <ec:InclusiveNamespaces PrefixList="..."/> to the exclusive-C14N transform of every
    (not yet filled) signature template, as several commercial IdPs do (PrefixList="xs", so
    that the xs prefix of xsi:type="xs:string" is part of what is signed). xmlsec1 honours it
    when it signs. pysaml2 never emits it by itself."""
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml, parser())
    for transform in root.iter(f"{{{NS_DS}}}Transform"):
        if transform.get("Algorithm") == TRANSFORM_C14N and transform.find(f"{{{NS_EC}}}InclusiveNamespaces") is None:
            inc = etree.SubElement(transform, f"{{{NS_EC}}}InclusiveNamespaces", nsmap={"ec": NS_EC})
            inc.set("PrefixList", prefixes)
    return etree.tostring(root, encoding="unicode")


def sign(xml, server, to_sign, inclusive_namespaces):
    """Fills the signature templates named in to_sign [(class name, ID)], in order, with
    `xmlsec1 --sign` (pysaml2's signed_instance_factory)."""
    if not isinstance(xml, str):
        xml = xml.to_string().decode("utf-8")  # a pysaml2 object
    if not to_sign:
        return xml
    if inclusive_namespaces:
        xml = add_inclusive_namespaces(xml, inclusive_namespaces)
    return signed_instance_factory(xml, server.sec, to_sign)


def build_response(args):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    if args.now:
        now = datetime.strptime(args.now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    signed_request = bool(args.authn_request_url) and request_has_signature(args.authn_request_url)
    server = build_server(
        args,
        key=args.key,
        sp_metadata=args.sp_metadata,
        want_signed_requests=signed_request,
        attr_name_format=args.attr_name_format,
    )

    # Who we answer, where, and to which request.
    if args.authn_request_url:
        request = parse_login_url(server, args.authn_request_url)
        sp_entity_id, acs_url = request["issuer"], request["acs_url"]
        request_id, relay_state = request["request_id"], request["relay_state"]
        if args.acs_url:
            acs_url = args.acs_url
    else:
        sp_entity_id = sp_entity_id_from_metadata(server)
        acs_url = args.acs_url
        if not acs_url:
            try:
                acs_url = server.pick_binding(
                    "assertion_consumer_service", [BINDING_HTTP_POST], "spsso", entity_id=sp_entity_id
                )[1]
            except Exception as exc:
                raise HarnessError(f"no HTTP-POST ACS in the SP metadata: {exc}") from exc
        request_id, relay_state = None, None
    if args.in_response_to is not None:
        request_id = args.in_response_to or None
    if args.relay_state is not None:
        relay_state = args.relay_state

    name_id = NameID(format=NAME_ID_FORMATS[args.name_id_format], text=args.name_id)
    identity = parse_attrs(args.attr)

    # 1. pysaml2 builds the unsigned Response (a samlp.Response object).
    response = server.create_authn_response(
        identity=identity,
        in_response_to=request_id,
        destination=acs_url,
        sp_entity_id=sp_entity_id,
        name_id=name_id,
        authn={"class_ref": PASSWORD_PROTECTED_TRANSPORT},
        sign_response=False,
        sign_assertion=False,
        encrypt_assertion=False,
        encrypted_advice_attributes=False,
        # the "policy" of the config above (lifetime, name_form); without it pysaml2 falls
        # back to a default policy with the uri name format
        release_policy=server.config.getattr("policy", "idp"),
    )
    if not isinstance(response, samlp.Response) or response.assertion is None:
        raise HarnessError(f"pysaml2 did not produce an assertion: {response}")
    assertion = response.assertion

    # 2. The fields the tests control, set on pysaml2's objects.
    issue = now + timedelta(seconds=args.issue_instant_offset)
    not_before = now + timedelta(seconds=args.not_before_offset)
    not_on_or_after = now + timedelta(seconds=args.not_on_or_after_offset)
    if args.response_id:
        response.id = args.response_id
    if args.assertion_id:
        assertion.id = args.assertion_id
    response.issue_instant = instant(issue)
    assertion.issue_instant = instant(issue)
    response.destination = args.destination if args.destination is not None else acs_url
    if response.destination == "":
        response.destination = None
    issuer = args.issuer or args.idp_entity_id
    response.issuer.text = issuer
    assertion.issuer.text = issuer
    response.in_response_to = request_id

    conditions = assertion.conditions
    conditions.not_before = instant(not_before)
    conditions.not_on_or_after = instant(not_on_or_after)
    audience = args.audience if args.audience is not None else sp_entity_id
    conditions.audience_restriction[0].audience[0].text = audience

    confirmation = assertion.subject.subject_confirmation[0]
    data = confirmation.subject_confirmation_data
    # Bearer SubjectConfirmationData carries NotOnOrAfter, Recipient, InResponseTo; the SAML
    # profiles forbid NotBefore there, so --not-before-offset only moves Conditions.
    data.not_on_or_after = instant(not_on_or_after)
    data.recipient = args.recipient if args.recipient is not None else acs_url
    data.in_response_to = None if args.no_subject_confirmation_data_in_response_to else request_id

    for statement in assertion.authn_statement:
        statement.authn_instant = instant(issue)
        if args.session_index:
            statement.session_index = args.session_index
    if not identity:
        assertion.attribute_statement = []  # an empty AttributeStatement is not schema-valid

    # 3. Signature templates (pysaml2's pre_signature_part: exclusive C14N, enveloped-signature
    #    transform, Reference URI="#ID", KeyInfo with the signing certificate), then xmlsec1.
    sign_alg, digest_alg = SIG_ALGS[args.sig_alg], DIGEST_ALGS[args.digest_alg]
    sign_response = args.sign in ("response", "both")
    sign_assertion = args.sign in ("assertion", "both")

    def template(ident, number):
        return pre_signature_part(ident, server.sec.my_cert, number, sign_alg=sign_alg, digest_alg=digest_alg)

    response_item = (class_name(response), response.id)
    assertion_item = (class_name(assertion), assertion.id)
    if sign_assertion:
        assertion.signature = template(assertion.id, 2)
    if sign_response:
        response.signature = template(response.id, 1)

    if args.encrypt_assertion_with:
        # pysaml2's own order (Entity._response, "part C"): sign the assertion, encrypt it
        # inside EncryptedAssertion, then sign the response over the encrypted form.
        cert_text = open(args.encrypt_assertion_with).read()
        assertion_tag = assertion._to_element_tree().tag
        response = pre_encrypt_assertion(response)
        xml = response.get_xml_string_with_self_contained_assertion_within_encrypted_assertion(assertion_tag)
        xml = sign(xml, server, [assertion_item] if sign_assertion else [], args.inclusive_namespaces)
        try:
            xml = server._encrypt_assertion(cert_text, sp_entity_id, xml)
        except Exception as exc:
            raise HarnessError(f"xmlsec1 could not encrypt the assertion: {exc}") from exc
        xml = sign(xml, server, [response_item] if sign_response else [], args.inclusive_namespaces)
    else:
        # pysaml2's Entity.sign order: the assertion first, then the response over it.
        to_sign = ([assertion_item] if sign_assertion else []) + ([response_item] if sign_response else [])
        xml = sign(response, server, to_sign, args.inclusive_namespaces)

    # 4. The deliberately broken variants, on the signed XML.
    if args.variant and args.variant != "none":
        xml = apply_variant(xml, args)

    return {
        "saml_response": base64.b64encode(xml.encode("utf-8")).decode("ascii"),
        "relay_state": relay_state,
        "acs_url": acs_url,
        "request_id": request_id,
        "response_id": response.id,
        "assertion_id": assertion.id,
        "sp_entity_id": sp_entity_id,
        "variant": args.variant,
        "xml": xml,
    }


# ------------------------------------------------------------------------------------------
# Variants: each attacks one way an SP may read a signed response wrongly.


def parser():
    """lxml parser for our own output: no entity expansion, no network, blanks kept."""
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)


def q(ns, tag):
    return f"{{{ns}}}{tag}"


def signature_child(element):
    """The ds:Signature that is a direct child of element, or None."""
    return element.find(q(NS_DS, "Signature"))


def remove_keeping_tail(element):
    """Removes element from its parent without losing the text that follows it."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def the_assertion(root):
    assertion = root.find(q(NS_SAML, "Assertion"))
    if assertion is None:
        raise HarnessError("this variant needs a plaintext Assertion (not --encrypt-assertion-with)")
    return assertion


def name_id_of(assertion):
    name_id = assertion.find(f"{q(NS_SAML, 'Subject')}/{q(NS_SAML, 'NameID')}")
    if name_id is None:
        raise HarnessError("the assertion has no Subject/NameID")
    return name_id


def evil_id(element):
    """The attacker's copy of an element gets a new, predictable ID: the original's + "-evil"
    (predictable so that the fixtures regenerate identically)."""
    return element.get("ID") + "-evil"


def evil_copy(assertion, keep_id):
    """A copy of the signed assertion without its signature, for the attacker's user."""
    evil = copy.deepcopy(assertion)
    signature = signature_child(evil)
    if signature is not None:
        remove_keeping_tail(signature)
    if not keep_id:
        evil.set("ID", evil_id(assertion))
    name_id_of(evil).text = EVIL_NAME_ID
    return evil


def need_signed(element, what, option):
    if signature_child(element) is None:
        raise HarnessError(f"this variant needs a signed {what} ({option})")


def comment_split(value, after):
    """Where comment-injection splits the NameID text: after --comment-after if given, else
    before the last two labels of the domain (mallory@evil.test|.acme.test), else before the
    last dot, else in the middle."""
    if after:
        if not value.startswith(after) or after == value:
            raise HarnessError(f"--comment-after {after!r} must be a proper prefix of the NameID {value!r}")
        return len(after)
    local, at, domain = value.rpartition("@")
    labels = domain.split(".")
    base = len(local) + len(at)
    if at and len(labels) >= 4:
        return base + len(".".join(labels[:-2]))
    if "." in value:
        return value.rindex(".")
    return max(1, len(value) // 2)


def apply_variant(xml, args):
    doctype = None
    tree = etree.ElementTree(etree.fromstring(xml.encode("utf-8"), parser()))
    root = tree.getroot()
    variant = args.variant

    if variant == "tamper-nameid":
        # Changes signed content: the digest of the signed element no longer matches. Tests
        # that the SP verifies the digest, not just the presence of a signature.
        name_id_of(the_assertion(root)).text = EVIL_NAME_ID

    elif variant == "tamper-attribute":
        # Same, on the first AttributeValue (an SP might verify only the Subject, or cache).
        value = the_assertion(root).find(f".//{q(NS_SAML, 'AttributeValue')}")
        if value is None:
            raise HarnessError("tamper-attribute needs at least one --attr")
        value.text = EVIL_NAME_ID if "@" in (value.text or "") else "Mallory"

    elif variant == "strip-signature":
        # No signature at all: the SP must require one (WantAssertionsSigned / its own policy).
        for signature in list(root.iter(q(NS_DS, "Signature"))):
            remove_keeping_tail(signature)

    elif variant in ("xsw-wrap-response", "xsw-wrap-response-detached"):
        # XML Signature Wrapping on the Response (Somorovsky et al. XSW #1 and #2). The
        # attacker's Response (new ID, NameID mallory) is the document root and carries the
        # original signature; the original signed Response, without its signature, sits inside
        # that signature's ds:Object (#1) or right before it as a child of the root (#2). The
        # Reference URI="#original-id" still finds the untouched original, so a verifier that
        # resolves the ID anywhere in the document validates it, while code that reads
        # /Response/Assertion reads the attacker's.
        need_signed(root, "Response", "--sign response or both")
        original = copy.deepcopy(root)
        remove_keeping_tail(signature_child(original))
        evil = copy.deepcopy(root)
        evil.set("ID", evil_id(root))
        evil_assertion = evil.find(q(NS_SAML, "Assertion"))
        if evil_assertion is None:
            raise HarnessError("this variant needs a plaintext Assertion (not --encrypt-assertion-with)")
        # A fresh assertion ID too, so that no ID appears twice in the document.
        evil_assertion.set("ID", evil_id(evil_assertion))
        name_id_of(evil_assertion).text = EVIL_NAME_ID
        assertion_signature = signature_child(evil_assertion)
        if assertion_signature is not None:  # --sign both: the copied one would not match anyway
            remove_keeping_tail(assertion_signature)
        signature = signature_child(evil)
        if variant == "xsw-wrap-response":
            obj = etree.SubElement(signature, q(NS_DS, "Object"))
            obj.append(original)
        else:
            signature.addprevious(original)
        tree = etree.ElementTree(evil)

    elif variant in ("xsw-sibling-assertion", "xsw-sibling-after"):
        # XSW #3 (copy before) and its mirror (copy after): a second, unsigned Assertion with
        # a new ID and the attacker's NameID next to the signed one. A verifier that checks
        # "some assertion is signed" and a reader that takes the first (or last) assertion
        # disagree about which one counts. The SP must refuse more than one assertion.
        assertion = the_assertion(root)
        need_signed(assertion, "Assertion", "--sign assertion or both")
        evil = evil_copy(assertion, keep_id=False)
        if variant == "xsw-sibling-assertion":
            assertion.addprevious(evil)
        else:
            assertion.addnext(evil)

    elif variant == "xsw-wrap-assertion":
        # XSW #4-like with duplicate IDs: the attacker's Assertion keeps the signed assertion's
        # ID, takes its place in the Response, and carries the original signed Assertion inside
        # its own Subject. Two elements now have the signed ID: a verifier that resolves the
        # ID to the inner (signed) one while the reader takes the outer one is fooled. The SP
        # must refuse duplicate IDs and assertions nested anywhere but where they belong.
        assertion = the_assertion(root)
        need_signed(assertion, "Assertion", "--sign assertion or both")
        evil = evil_copy(assertion, keep_id=True)
        assertion.addprevious(evil)
        evil.find(q(NS_SAML, "Subject")).append(assertion)  # moves it

    elif variant == "xsw-extensions":
        # XSW #7: the original signed Assertion moves into a samlp:Extensions of the Response
        # (schema-valid: Extensions takes any foreign-namespace element); the attacker's
        # Assertion (new ID, no signature) takes its place. The signature still verifies;
        # the assertion a naive reader takes is the unsigned one.
        assertion = the_assertion(root)
        need_signed(assertion, "Assertion", "--sign assertion or both")
        evil = evil_copy(assertion, keep_id=False)
        assertion.addprevious(evil)
        extensions = etree.Element(q(NS_SAMLP, "Extensions"))
        status = root.find(q(NS_SAMLP, "Status"))
        status.addprevious(extensions)  # schema order: Issuer, Signature, Extensions, Status
        extensions.append(assertion)

    elif variant == "comment-injection":
        # The NameID's text is split by an XML comment: "mallory@evil.test<!---->.acme.test".
        # Exclusive C14N (without comments) drops the comment, so the digest over the
        # signed assertion is unchanged and the signature STILL VERIFIES; the signed value is
        # the whole "mallory@evil.test.acme.test". An SP that reads only the first text node of
        # NameID reads "mallory@evil.test" (the 2018 SAML comment-truncation bugs). Done after
        # signing, which is equivalent to signing a document that had the comment already.
        name_id = name_id_of(the_assertion(root))
        value = name_id.text or ""
        split = comment_split(value, args.comment_after)
        name_id.text = value[:split]
        comment = etree.Comment("")
        comment.tail = value[split:]
        name_id.append(comment)

    elif variant == "doctype-entity":
        # A DTD with an internal entity, used inside the NameID ("ann@acme.test&e;"). The
        # signature no longer matters: the SP must refuse any DOCTYPE before reading further
        # (entity expansion, XXE and billion-laughs all start here).
        name_id = name_id_of(the_assertion(root))
        name_id.append(etree.Entity("e"))
        doctype = f'<!DOCTYPE {root.prefix + ":" if root.prefix else ""}Response [<!ENTITY e "ent">]>'

    else:
        raise HarnessError(f"unknown variant {variant!r}")

    # The XML declaration xmlsec1 writes on the signed output (lxml's would differ).
    out = etree.tostring(tree, encoding="unicode", doctype=doctype)
    return '<?xml version="1.0"?>\n' + out + "\n"


# ------------------------------------------------------------------------------------------
# Command line.

VARIANTS = (
    "none",
    "tamper-nameid",
    "tamper-attribute",
    "strip-signature",
    "xsw-wrap-response",
    "xsw-wrap-response-detached",
    "xsw-sibling-assertion",
    "xsw-sibling-after",
    "xsw-wrap-assertion",
    "xsw-extensions",
    "comment-injection",
    "doctype-entity",
)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="idp.py", description="A pysaml2 + xmlsec1 SAML IdP for tests.")
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p, sp_metadata_required):
        p.add_argument("--idp-entity-id", required=True, help="the IdP's entity id (as in its metadata)")
        p.add_argument("--sso-url", required=True, help="the IdP's SingleSignOnService location")
        if sp_metadata_required is not None:
            p.add_argument("--sp-metadata", required=sp_metadata_required, help="file with the SP's metadata XML")

    p = sub.add_parser("metadata", help="print the IdP metadata")
    p.add_argument("--entity-id", dest="idp_entity_id", required=True)
    p.add_argument("--sso-url", required=True)
    p.add_argument(
        "--cert",
        action="append",
        choices=KEY_NAMES,
        help="a signing certificate to publish (repeatable; default idp)",
    )

    p = sub.add_parser("login-url-check", help="parse an SP-initiated login URL's AuthnRequest")
    common(p, True)
    p.add_argument("--authn-request-url", required=True)

    p = sub.add_parser("response", help="make a (signed) SAML Response")
    common(p, True)
    p.add_argument("--authn-request-url", help="the SP's redirect to our SSO URL (else unsolicited)")
    p.add_argument("--acs-url", help="override the ACS URL (default: the request's, else the SP metadata's)")
    p.add_argument("--relay-state", help="RelayState to return (default: the request's)")
    p.add_argument("--in-response-to", help="override InResponseTo ('' for none)")
    p.add_argument("--name-id", required=True)
    p.add_argument("--name-id-format", choices=sorted(NAME_ID_FORMATS), default="email")
    p.add_argument("--attr", action="append", metavar="NAME=VALUE", help="an attribute value (repeatable)")
    p.add_argument("--attr-name-format", choices=sorted(ATTR_NAME_FORMATS), default="basic")
    p.add_argument("--sign", choices=("response", "assertion", "both", "none"), default="assertion")
    p.add_argument("--sig-alg", choices=sorted(SIG_ALGS), default="rsa-sha256")
    p.add_argument("--digest-alg", choices=sorted(DIGEST_ALGS), default="sha256")
    p.add_argument("--key", choices=KEY_NAMES, default="idp", help="which key signs (its cert goes in KeyInfo)")
    p.add_argument("--inclusive-namespaces", metavar="PREFIXES", help='add ec:InclusiveNamespaces, e.g. "xs"')
    p.add_argument("--now", metavar="YYYY-MM-DDTHH:MM:SSZ", help="the instant offsets count from (default now)")
    p.add_argument("--issue-instant-offset", type=int, default=0, metavar="SECONDS")
    p.add_argument("--not-before-offset", type=int, default=0, metavar="SECONDS")
    p.add_argument("--not-on-or-after-offset", type=int, default=300, metavar="SECONDS")
    p.add_argument("--audience", help="default: the SP's entity id")
    p.add_argument("--destination", help="default: the ACS URL ('' for none)")
    p.add_argument("--recipient", help="default: the ACS URL")
    p.add_argument("--issuer", help="default: --idp-entity-id")
    p.add_argument("--response-id")
    p.add_argument("--assertion-id")
    p.add_argument("--session-index")
    p.add_argument("--encrypt-assertion-with", metavar="CERTFILE")
    p.add_argument("--variant", choices=VARIANTS, default="none")
    p.add_argument("--comment-after", metavar="PREFIX", help="comment-injection: where to split the NameID")
    p.add_argument("--no-subject-confirmation-data-in-response-to", action="store_true")

    args = ap.parse_args(argv)
    try:
        if args.command == "metadata":
            result = cmd_metadata(args)
        elif args.command == "login-url-check":
            result = cmd_login_url_check(args)
        else:
            result = build_response(args)
    except HarnessError as exc:
        print(f"idp.py {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # pysaml2 or xmlsec1 failed: a refusal too, with its message
        print(f"idp.py {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
