#!/usr/bin/env bash
# Proves the SAML IdP harness (idp.py) works, without gatehouse: pysaml2's own SP
# (sp_client.py) stands in for it. It makes a fake SP's metadata, starts an SP-initiated login
# with Saml2Client.prepare_for_authenticate, has idp.py parse the AuthnRequest and answer it in
# every mode and variant, and checks each result with `xmlsec1 --verify` and with pysaml2's SP
# (Saml2Client.parse_authn_request_response). Then it checks the static fixtures, and that
# fixtures/make.sh regenerates them identically (skip with GATEHOUSE_SAML_SKIP_REPRO=1).
#
# One line per check ("ok   - …" or "FAIL - …" followed by the end of its output), then
# "N passed, N failed"; exits 1 if any check failed.
#
#   e2e/saml/selftest.sh        (uses $GATEHOUSE_SAML_PYTHON, else runs setup.sh for it)
set -euo pipefail

here=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
keys=$here/keys
fixtures=$here/fixtures
python=${GATEHOUSE_SAML_PYTHON:-$("$here/setup.sh" | tail -n 1)}

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-saml-selftest.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

passed=0
failed=0
out=$work/check.out

pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL - $1"
  if [ -s "$out" ]; then tail -n 8 "$out" | sed 's/^/       | /'; fi
}

# check DESC COMMAND…: passes when COMMAND succeeds. refuses DESC COMMAND…: when it fails.
check() {
  local desc=$1
  shift
  if "$@" >"$out" 2>&1; then pass "$desc"; else fail "$desc"; fi
}
refuses() {
  local desc=$1
  shift
  if "$@" >"$out" 2>&1; then fail "$desc (it succeeded)"; else pass "$desc"; fi
}

# ---- helpers -----------------------------------------------------------------------------

idp() { "$python" "$here/idp.py" "$@"; }
sp() { "$python" "$here/sp_client.py" "$@"; }

# jf FILE KEY: field KEY of the JSON object in FILE ("null" for null).
jf() {
  "$python" -c '
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
sys.stdout.write("null" if v is None else v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

# xp FILE XPATH: the XPath 1.0 value on FILE (strings as is, numbers as integers when whole,
# booleans as true/false, node-sets as their text joined by "|"). No DTD or entity loading.
xp() {
  "$python" -c '
import sys
from lxml import etree
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#",
      "ec": "http://www.w3.org/2001/10/xml-exc-c14n#", "xenc": "http://www.w3.org/2001/04/xmlenc#"}
parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
v = etree.parse(sys.argv[1], parser).xpath(sys.argv[2], namespaces=NS)
if isinstance(v, bool):
    v = "true" if v else "false"
elif isinstance(v, float):
    v = str(int(v)) if v == int(v) else str(v)
elif isinstance(v, list):
    v = "|".join(x if isinstance(x, str) else (x.text or "") for x in v)
sys.stdout.write(str(v))' "$1" "$2"
}

# is FILE XPATH EXPECTED: the XPath value equals EXPECTED (prints both when not).
is() {
  local got
  got=$(xp "$1" "$2")
  if [ "$got" = "$3" ]; then return 0; fi
  echo "$2: got [$got], expected [$3]"
  return 1
}

# same ACTUAL EXPECTED
same() {
  if [ "$1" = "$2" ]; then return 0; fi
  echo "got [$1], expected [$2]"
  return 1
}

# verify FILE [CERT [XPATH]]: xmlsec1 --verify of the first ds:Signature (or the one XPATH
# selects) with the public key of CERT (default: the IdP's), IDs registered for Response and
# Assertion.
verify() {
  local file=$1 cert=${2:-$keys/idp-cert.pem}
  local args=(--verify --pubkey-cert-pem "$cert"
    --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response
    --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion)
  if [ -n "${3:-}" ]; then args+=(--node-xpath "$3"); fi
  xmlsec1 "${args[@]}" "$file"
}

idp_id=https://idp.test/metadata
sso_url=https://idp.test/sso
sp_id=https://sp.test/sso/saml/x/metadata
acs=https://sp.test/sso/saml/x/acs

# response NAME OPTION…: `idp.py response` answering the login below, with ann's NameID and
# attributes; writes NAME.json, NAME.xml (the XML) and NAME.b64 (the SAMLResponse).
response() {
  local name=$1
  shift
  idp response --authn-request-url "$login_url" --sp-metadata "$work/sp.xml" \
    --idp-entity-id "$idp_id" --sso-url "$sso_url" \
    --name-id ann@acme.test --attr email=ann@acme.test --attr givenName=Ann "$@" >"$work/$name.json" &&
    jf "$work/$name.json" xml >"$work/$name.xml" &&
    jf "$work/$name.json" saml_response >"$work/$name.b64"
}

# accepted NAME: pysaml2's SP accepts NAME.b64 as the answer to the outstanding request.
accepted() {
  sp accept --idp-metadata "$work/idp.xml" --saml-response-file "$work/$1.b64" \
    --request-id "$request_id" >"$work/$1.sp.json"
}

# make_response DESC NAME OPTION…: a check that `response NAME OPTION…` succeeds.
make_response() {
  local desc=$1
  shift
  check "$desc" response "$@"
}

cert_body() { grep -v -- '-----' "$1" | tr -d '\n'; }

# ---- tools -------------------------------------------------------------------------------

check "xmlsec1 runs: $(xmlsec1 --version 2>/dev/null || echo missing)" xmlsec1 --version
check "the venv has pysaml2 7.5.5 and lxml ($python)" "$python" -c '
import importlib.metadata as m, lxml
assert m.version("pysaml2") == "7.5.5", m.version("pysaml2")'

# ---- metadata ----------------------------------------------------------------------------

sp_metadata() {
  sp metadata >"$work/sp.json" && jf "$work/sp.json" xml >"$work/sp.xml" &&
    is "$work/sp.xml" 'string(/md:EntityDescriptor/@entityID)' "$sp_id" &&
    is "$work/sp.xml" 'string(//md:SPSSODescriptor/@AuthnRequestsSigned)' false &&
    is "$work/sp.xml" 'string(//md:SPSSODescriptor/@WantAssertionsSigned)' true &&
    is "$work/sp.xml" 'string(//md:AssertionConsumerService[@Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"]/@Location)' "$acs"
}
check "fake SP metadata (pysaml2 SP): $sp_id, ACS HTTP-POST, AuthnRequestsSigned=false, WantAssertionsSigned=true" sp_metadata

idp_metadata() {
  idp metadata --entity-id "$idp_id" --sso-url "$sso_url" >"$work/idp.json" &&
    jf "$work/idp.json" xml >"$work/idp.xml" &&
    is "$work/idp.xml" 'string(/md:EntityDescriptor/@entityID)' "$idp_id" &&
    is "$work/idp.xml" 'string(//md:IDPSSODescriptor/@protocolSupportEnumeration)' urn:oasis:names:tc:SAML:2.0:protocol &&
    is "$work/idp.xml" 'string(//md:SingleSignOnService[@Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"]/@Location)' "$sso_url" &&
    is "$work/idp.xml" 'string(//md:SingleSignOnService[@Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"]/@Location)' "$sso_url" &&
    is "$work/idp.xml" 'count(//md:KeyDescriptor)' 1 &&
    is "$work/idp.xml" 'string(//md:KeyDescriptor/@use)' signing &&
    is "$work/idp.xml" 'normalize-space(//md:KeyDescriptor//ds:X509Certificate)' "$(cert_body "$keys/idp-cert.pem")" &&
    is "$work/idp.xml" '//md:IDPSSODescriptor/md:NameIDFormat' \
      'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress|urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'
}
check "IdP metadata: IDPSSODescriptor, SSO Redirect+POST, one signing KeyDescriptor (idp cert), NameIDFormat email+persistent" idp_metadata

rollover_metadata() {
  idp metadata --entity-id "$idp_id" --sso-url "$sso_url" --cert idp --cert rollover >"$work/idp2.json" &&
    jf "$work/idp2.json" xml >"$work/idp2.xml" &&
    is "$work/idp2.xml" 'count(//md:KeyDescriptor[@use="signing"])' 2 &&
    is "$work/idp2.xml" 'normalize-space((//md:KeyDescriptor//ds:X509Certificate)[1])' "$(cert_body "$keys/idp-cert.pem")" &&
    is "$work/idp2.xml" 'normalize-space((//md:KeyDescriptor//ds:X509Certificate)[2])' "$(cert_body "$keys/rollover-cert.pem")"
}
check "IdP metadata with --cert idp --cert rollover: two signing KeyDescriptors, in that order" rollover_metadata

# ---- the SP-initiated login --------------------------------------------------------------

relay_state='return to /app?x=1&y=2'
start_login() {
  sp authn-url --idp-metadata "$work/idp.xml" --idp-entity-id "$idp_id" --relay-state "$relay_state" \
    >"$work/login.json" &&
    login_url=$(jf "$work/login.json" url) && request_id=$(jf "$work/login.json" request_id) &&
    case $login_url in "$sso_url?SAMLRequest="*) ;; *) echo "unexpected URL $login_url" && false ;; esac
}
login_url=
request_id=
check "pysaml2 SP (Saml2Client.prepare_for_authenticate) redirects to the SSO URL with SAMLRequest+RelayState" start_login

login_check() {
  idp login-url-check --authn-request-url "$login_url" --sp-metadata "$work/sp.xml" \
    --idp-entity-id "$idp_id" --sso-url "$sso_url" >"$work/check.json" &&
    same "$(jf "$work/check.json" request_id)" "$request_id" &&
    same "$(jf "$work/check.json" relay_state)" "$relay_state" &&
    same "$(jf "$work/check.json" acs_url)" "$acs" &&
    same "$(jf "$work/check.json" issuer)" "$sp_id" &&
    same "$(jf "$work/check.json" force_authn)" false
}
check "login-url-check: pysaml2's IdP reads the request id, RelayState, ACS URL, issuer, ForceAuthn" login_check

broken_url=${login_url/SAMLRequest=/SAMLRequest=AAAA}
refuses "login-url-check refuses a corrupted SAMLRequest (exit 1)" \
  idp login-url-check --authn-request-url "$broken_url" --sp-metadata "$work/sp.xml" \
  --idp-entity-id "$idp_id" --sso-url "$sso_url"
refuses "login-url-check refuses an AuthnRequest whose Destination is not our SSO URL" \
  idp login-url-check --authn-request-url "$login_url" --sp-metadata "$work/sp.xml" \
  --idp-entity-id "$idp_id" --sso-url https://idp.test/elsewhere
other_sp() {
  sp metadata --entity-id https://stranger.test/metadata >"$work/stranger.json" &&
    jf "$work/stranger.json" xml >"$work/stranger.xml" &&
    idp login-url-check --authn-request-url "$login_url" --sp-metadata "$work/stranger.xml" \
      --idp-entity-id "$idp_id" --sso-url "$sso_url"
}
refuses "login-url-check refuses an SP that is not in --sp-metadata" other_sp

# ---- the default response ----------------------------------------------------------------

default_response() {
  response default &&
    same "$(jf "$work/default.json" request_id)" "$request_id" &&
    same "$(jf "$work/default.json" relay_state)" "$relay_state" &&
    same "$(jf "$work/default.json" acs_url)" "$acs" &&
    same "$(base64 -d "$work/default.b64")" "$(cat "$work/default.xml")" &&
    is "$work/default.xml" 'string(/samlp:Response/@InResponseTo)' "$request_id" &&
    is "$work/default.xml" 'string(//saml:SubjectConfirmationData/@InResponseTo)' "$request_id" &&
    is "$work/default.xml" 'string(/samlp:Response/@Destination)' "$acs" &&
    is "$work/default.xml" 'string(//saml:SubjectConfirmationData/@Recipient)' "$acs" &&
    is "$work/default.xml" 'string(//saml:Audience)' "$sp_id" &&
    is "$work/default.xml" 'string(/samlp:Response/saml:Issuer)' "$idp_id" &&
    is "$work/default.xml" '//saml:Attribute/@Name' 'email|givenName' &&
    is "$work/default.xml" '//saml:AttributeValue/@*[local-name()="type"]' 'xs:string|xs:string'
}
check "response (default): answers the request (InResponseTo, RelayState, ACS, audience, issuer, attributes)" default_response

default_signature() {
  is "$work/default.xml" 'count(//ds:Signature)' 1 &&
    is "$work/default.xml" 'local-name(/samlp:Response/saml:Assertion/ds:Signature/preceding-sibling::*[1])' Issuer &&
    is "$work/default.xml" 'count(/samlp:Response/saml:Assertion/ds:Signature/preceding-sibling::*)' 1 &&
    is "$work/default.xml" 'string(//ds:Reference/@URI)' "#$(jf "$work/default.json" assertion_id)" &&
    is "$work/default.xml" 'string(//ds:CanonicalizationMethod/@Algorithm)' http://www.w3.org/2001/10/xml-exc-c14n# &&
    is "$work/default.xml" '//ds:Transform/@Algorithm' \
      'http://www.w3.org/2000/09/xmldsig#enveloped-signature|http://www.w3.org/2001/10/xml-exc-c14n#' &&
    is "$work/default.xml" 'string(//ds:SignatureMethod/@Algorithm)' http://www.w3.org/2001/04/xmldsig-more#rsa-sha256 &&
    is "$work/default.xml" 'string(//ds:DigestMethod/@Algorithm)' http://www.w3.org/2001/04/xmlenc#sha256 &&
    is "$work/default.xml" 'normalize-space(//ds:X509Certificate)' "$(cert_body "$keys/idp-cert.pem")"
}
check "default signature: on the Assertion right after its Issuer, URI=#ID, exc-c14n, enveloped, rsa-sha256/sha256" default_signature
check "xmlsec1 --verify: the default response verifies with idp-cert.pem" verify "$work/default.xml"
refuses "xmlsec1 --verify: the default response does not verify with other-cert.pem" verify "$work/default.xml" "$keys/other-cert.pem"

sp_accepts_default() {
  accepted default &&
    same "$(jf "$work/default.sp.json" name_id)" ann@acme.test &&
    same "$(jf "$work/default.sp.json" attributes)" '{"email": ["ann@acme.test"], "givenName": ["Ann"]}'
}
check "pysaml2's SP (parse_authn_request_response) accepts the default response: ann@acme.test, email, givenName" sp_accepts_default

# ---- signing modes, algorithms, keys ------------------------------------------------------

make_response "response --sign response" resp --sign response
check "--sign response: one Signature, on the Response right after its Issuer" \
  is "$work/resp.xml" 'count(/samlp:Response/ds:Signature[preceding-sibling::*[1][self::saml:Issuer]]) = count(//ds:Signature)' true
check "xmlsec1 --verify: --sign response verifies" verify "$work/resp.xml"

make_response "response --sign both" both --sign both
check "--sign both: two Signatures (Response and Assertion)" \
  is "$work/both.xml" 'count(/samlp:Response/ds:Signature) + count(/samlp:Response/saml:Assertion/ds:Signature)' 2
check "xmlsec1 --verify: --sign both, the Response's signature" verify "$work/both.xml" "" '/*/*[local-name()="Signature"]'
check "xmlsec1 --verify: --sign both, the Assertion's signature" verify "$work/both.xml" "" '/*/*[local-name()="Assertion"]/*[local-name()="Signature"]'
check "pysaml2's SP accepts --sign both" accepted both

make_response "response --sign none" none --sign none
check "--sign none: no Signature" is "$work/none.xml" 'count(//ds:Signature)' 0
refuses "xmlsec1 --verify: --sign none does not verify" verify "$work/none.xml"
refuses "pysaml2's SP refuses --sign none" accepted none

make_response "response --sig-alg rsa-sha1 --digest-alg sha1" sha1 --sig-alg rsa-sha1 --digest-alg sha1
check "rsa-sha1/sha1 in SignedInfo" is "$work/sha1.xml" \
  'concat(//ds:SignatureMethod/@Algorithm, " ", //ds:DigestMethod/@Algorithm)' \
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1 http://www.w3.org/2000/09/xmldsig#sha1'
check "xmlsec1 --verify: rsa-sha1/sha1 verifies" verify "$work/sha1.xml"

make_response "response --sig-alg rsa-sha512 --digest-alg sha512" sha512 --sig-alg rsa-sha512 --digest-alg sha512
check "rsa-sha512/sha512 in SignedInfo" is "$work/sha512.xml" \
  'concat(//ds:SignatureMethod/@Algorithm, " ", //ds:DigestMethod/@Algorithm)' \
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512 http://www.w3.org/2001/04/xmlenc#sha512'
check "xmlsec1 --verify: rsa-sha512/sha512 verifies" verify "$work/sha512.xml"

make_response "response --key other" other --key other
check "--key other: KeyInfo carries other-cert.pem" \
  is "$work/other.xml" 'normalize-space(//ds:X509Certificate)' "$(cert_body "$keys/other-cert.pem")"
refuses "xmlsec1 --verify: --key other does not verify with idp-cert.pem (KeyInfo's cert is not trusted)" verify "$work/other.xml"
check "xmlsec1 --verify: --key other verifies with other-cert.pem" verify "$work/other.xml" "$keys/other-cert.pem"
refuses "pysaml2's SP refuses --key other" accepted other

make_response "response --key rollover" rollover --key rollover
check "xmlsec1 --verify: --key rollover verifies with rollover-cert.pem" verify "$work/rollover.xml" "$keys/rollover-cert.pem"
refuses "xmlsec1 --verify: --key rollover does not verify with idp-cert.pem" verify "$work/rollover.xml"

make_response "response --inclusive-namespaces xs" incl --inclusive-namespaces xs
check "--inclusive-namespaces xs: ec:InclusiveNamespaces PrefixList=xs in the exc-c14n transform" \
  is "$work/incl.xml" 'string(//ds:Transform[@Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"]/ec:InclusiveNamespaces/@PrefixList)' xs
check "xmlsec1 --verify: --inclusive-namespaces xs verifies" verify "$work/incl.xml"
check "pysaml2's SP accepts --inclusive-namespaces xs" accepted incl

# ---- the fields the tests control ---------------------------------------------------------

make_response "response with fixed IDs, instants and overrides" fields \
  --now 2030-01-01T12:00:00Z --issue-instant-offset -10 --not-before-offset -60 --not-on-or-after-offset 120 \
  --response-id id-r-1 --assertion-id id-a-1 --session-index id-s-1 \
  --audience https://aud.test --recipient https://rcpt.test --destination https://dest.test --issuer https://iss.test
fields() {
  local f=$work/fields.xml
  is "$f" 'string(/samlp:Response/@ID)' id-r-1 &&
    is "$f" 'string(//saml:Assertion/@ID)' id-a-1 &&
    is "$f" 'string(//ds:Reference/@URI)' '#id-a-1' &&
    is "$f" 'string(/samlp:Response/@IssueInstant)' 2030-01-01T11:59:50Z &&
    is "$f" 'string(//saml:Assertion/@IssueInstant)' 2030-01-01T11:59:50Z &&
    is "$f" 'string(//saml:AuthnStatement/@AuthnInstant)' 2030-01-01T11:59:50Z &&
    is "$f" 'string(//saml:AuthnStatement/@SessionIndex)' id-s-1 &&
    is "$f" 'string(//saml:Conditions/@NotBefore)' 2030-01-01T11:59:00Z &&
    is "$f" 'string(//saml:Conditions/@NotOnOrAfter)' 2030-01-01T12:02:00Z &&
    is "$f" 'string(//saml:SubjectConfirmationData/@NotOnOrAfter)' 2030-01-01T12:02:00Z &&
    is "$f" 'count(//saml:SubjectConfirmationData/@NotBefore)' 0 &&
    is "$f" 'string(//saml:Audience)' https://aud.test &&
    is "$f" 'string(//saml:SubjectConfirmationData/@Recipient)' https://rcpt.test &&
    is "$f" 'string(/samlp:Response/@Destination)' https://dest.test &&
    is "$f" '//saml:Issuer' 'https://iss.test|https://iss.test'
}
check "--now/offsets/ids/--audience/--recipient/--destination/--issuer land where they belong" fields
check "xmlsec1 --verify: the response with overridden fields verifies" verify "$work/fields.xml"

unsolicited() {
  idp response --sp-metadata "$work/sp.xml" --idp-entity-id "$idp_id" --sso-url "$sso_url" \
    --name-id 1234-abcd --name-id-format persistent --relay-state deep-link >"$work/unsol.json" &&
    jf "$work/unsol.json" xml >"$work/unsol.xml" &&
    same "$(jf "$work/unsol.json" request_id)" null &&
    same "$(jf "$work/unsol.json" acs_url)" "$acs" &&
    same "$(jf "$work/unsol.json" relay_state)" deep-link &&
    is "$work/unsol.xml" 'count(//@InResponseTo)' 0 &&
    is "$work/unsol.xml" 'count(//saml:AttributeStatement)' 0 &&
    is "$work/unsol.xml" 'string(//saml:NameID/@Format)' urn:oasis:names:tc:SAML:2.0:nameid-format:persistent &&
    verify "$work/unsol.xml"
}
check "unsolicited response (no --authn-request-url): no InResponseTo, ACS from metadata, persistent NameID, verifies" unsolicited

make_response "response --no-subject-confirmation-data-in-response-to" noirt --no-subject-confirmation-data-in-response-to
check "--no-subject-confirmation-data-in-response-to: only the Response has InResponseTo" \
  is "$work/noirt.xml" 'concat(count(//saml:SubjectConfirmationData/@InResponseTo), count(/samlp:Response/@InResponseTo))' 01

# ---- encryption --------------------------------------------------------------------------

make_response "response --encrypt-assertion-with keys/other-cert.pem" enc --encrypt-assertion-with "$keys/other-cert.pem"
check "encrypted: an EncryptedAssertion (3DES-CBC, key by RSA-OAEP), no plaintext Assertion" is "$work/enc.xml" \
  'concat(count(//saml:EncryptedAssertion), count(//saml:Assertion), " ", //xenc:EncryptedData/xenc:EncryptionMethod/@Algorithm, " ", //xenc:EncryptedKey/xenc:EncryptionMethod/@Algorithm)' \
  '10 http://www.w3.org/2001/04/xmlenc#tripledes-cbc http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p'
decrypts() {
  xmlsec1 --decrypt --privkey-pem "$keys/other-key.pem" "$1" >"$work/decrypted.xml" 2>"$work/decrypt.err" &&
    is "$work/decrypted.xml" 'string(//saml:EncryptedAssertion/saml:Assertion//saml:NameID)' ann@acme.test &&
    verify "$work/decrypted.xml"
}
check "encrypted: xmlsec1 --decrypt with other-key.pem gives the signed assertion, which verifies" decrypts "$work/enc.xml"
refuses "pysaml2's SP (no decryption key) refuses the encrypted assertion" accepted enc

# ---- variants ----------------------------------------------------------------------------

make_response "--variant tamper-nameid" tamper --variant tamper-nameid
check "tamper-nameid: NameID is mallory@acme.test" is "$work/tamper.xml" 'string(//saml:NameID)' mallory@acme.test
refuses "xmlsec1 --verify: tamper-nameid does not verify" verify "$work/tamper.xml"
refuses "pysaml2's SP refuses tamper-nameid" accepted tamper

make_response "--variant tamper-attribute" tattr --variant tamper-attribute
check "tamper-attribute: the first AttributeValue changed" is "$work/tattr.xml" 'string(//saml:AttributeValue[1])' mallory@acme.test
refuses "xmlsec1 --verify: tamper-attribute does not verify" verify "$work/tattr.xml"

make_response "--variant strip-signature" strip --variant strip-signature
check "strip-signature: no Signature left" is "$work/strip.xml" 'count(//ds:Signature)' 0
refuses "pysaml2's SP refuses strip-signature" accepted strip

make_response "--sign response --variant xsw-wrap-response" xsw1 --sign response --variant xsw-wrap-response
check "xsw-wrap-response: attacker Response (new ID, mallory) with the original inside ds:Signature/ds:Object" is "$work/xsw1.xml" \
  'concat(/samlp:Response/@ID = concat(/samlp:Response/ds:Signature/ds:Object/samlp:Response/@ID, "-evil"), " ", /samlp:Response/saml:Assertion//saml:NameID, " ", /samlp:Response/ds:Signature/ds:Object/samlp:Response/saml:Assertion//saml:NameID)' \
  'true mallory@acme.test ann@acme.test'
refuses "xmlsec1 --verify: xsw-wrap-response fails (the enveloped transform drops the whole Signature subtree)" verify "$work/xsw1.xml"
refuses "pysaml2's SP refuses xsw-wrap-response" accepted xsw1

make_response "--sign response --variant xsw-wrap-response-detached" xsw2 --sign response --variant xsw-wrap-response-detached
check "xsw-wrap-response-detached: the original Response is a child of the attacker's, before its Signature" \
  is "$work/xsw2.xml" 'string(/samlp:Response/ds:Signature/preceding-sibling::samlp:Response/saml:Assertion//saml:NameID)' ann@acme.test
check "xmlsec1 --verify: xsw-wrap-response-detached VERIFIES (a naive verifier is fooled)" verify "$work/xsw2.xml"
refuses "pysaml2's SP refuses xsw-wrap-response-detached" accepted xsw2

make_response "--variant xsw-sibling-assertion" xsw3 --variant xsw-sibling-assertion
check "xsw-sibling-assertion: unsigned mallory assertion first, signed ann assertion second" is "$work/xsw3.xml" \
  'concat(count(/samlp:Response/saml:Assertion), " ", /samlp:Response/saml:Assertion[1]//saml:NameID, " ", count(/samlp:Response/saml:Assertion[1]/ds:Signature), " ", /samlp:Response/saml:Assertion[2]//saml:NameID)' \
  '2 mallory@acme.test 0 ann@acme.test'
check "xmlsec1 --verify: xsw-sibling-assertion VERIFIES (a naive verifier is fooled)" verify "$work/xsw3.xml"
refuses "pysaml2's SP refuses xsw-sibling-assertion" accepted xsw3

make_response "--variant xsw-sibling-after" xsw3b --variant xsw-sibling-after
check "xsw-sibling-after: signed ann assertion first, unsigned mallory assertion second" is "$work/xsw3b.xml" \
  'concat(/samlp:Response/saml:Assertion[1]//saml:NameID, " ", /samlp:Response/saml:Assertion[2]//saml:NameID)' \
  'ann@acme.test mallory@acme.test'
check "xmlsec1 --verify: xsw-sibling-after VERIFIES (a naive verifier is fooled)" verify "$work/xsw3b.xml"
refuses "pysaml2's SP refuses xsw-sibling-after" accepted xsw3b

make_response "--variant xsw-wrap-assertion" xsw4 --variant xsw-wrap-assertion
check "xsw-wrap-assertion: mallory assertion with the same ID wraps the signed one in its Subject" is "$work/xsw4.xml" \
  'concat(/samlp:Response/saml:Assertion/@ID = /samlp:Response/saml:Assertion/saml:Subject/saml:Assertion/@ID, " ", /samlp:Response/saml:Assertion/saml:Subject/saml:NameID)' \
  'true mallory@acme.test'
refuses "xmlsec1 --verify: xsw-wrap-assertion fails (duplicate ID)" verify "$work/xsw4.xml"
refuses "pysaml2's SP refuses xsw-wrap-assertion" accepted xsw4

make_response "--variant xsw-extensions" xsw7 --variant xsw-extensions
check "xsw-extensions: signed assertion inside samlp:Extensions, unsigned mallory assertion in its place" is "$work/xsw7.xml" \
  'concat(/samlp:Response/samlp:Extensions/saml:Assertion//saml:NameID, " ", /samlp:Response/saml:Assertion//saml:NameID)' \
  'ann@acme.test mallory@acme.test'
check "xmlsec1 --verify: xsw-extensions VERIFIES (a naive verifier is fooled)" verify "$work/xsw7.xml"
refuses "pysaml2's SP refuses xsw-extensions" accepted xsw7

make_response "--variant comment-injection --name-id mallory@evil.test.acme.test" comment \
  --variant comment-injection --name-id mallory@evil.test.acme.test
check "comment-injection: NameID is 'mallory@evil.test<!---->.acme.test'" is "$work/comment.xml" \
  'concat(count(//saml:NameID/comment()), " ", //saml:NameID/text()[1], " ", //saml:NameID/text()[2])' \
  '1 mallory@evil.test .acme.test'
check "xmlsec1 --verify: comment-injection still verifies (exc-c14n drops comments)" verify "$work/comment.xml"
sp_reads_whole_name_id() {
  accepted comment && same "$(jf "$work/comment.sp.json" name_id)" mallory@evil.test.acme.test
}
check "pysaml2's SP accepts comment-injection and reads the whole NameID mallory@evil.test.acme.test" sp_reads_whole_name_id

make_response "--variant doctype-entity" doctype --variant doctype-entity
check "doctype-entity: a DOCTYPE with an internal entity, &e; inside the NameID" \
  grep -q '<!DOCTYPE ns0:Response \[<!ENTITY e "ent">\]>' "$work/doctype.xml"
check "doctype-entity: the entity reference is in the NameID" grep -q 'ann@acme.test&e;</ns1:NameID>' "$work/doctype.xml"
refuses "pysaml2's SP refuses doctype-entity" accepted doctype

refuses "a response variant needs the right signature: xsw-wrap-response with --sign assertion exits 1" \
  response misuse --sign assertion --variant xsw-wrap-response

# ---- the static fixtures ------------------------------------------------------------------

for name in signed-assertion signed-response signed-both signed-sha1 signed-with-inclusive-namespaces \
  comment-injection xsw-wrap-response-detached xsw-sibling-assertion xsw-sibling-after xsw-extensions; do
  check "fixture $name.xml: xmlsec1 --verify succeeds" verify "$fixtures/$name.xml"
done
check "fixture signed-both.xml: the Assertion's own signature verifies too" \
  verify "$fixtures/signed-both.xml" "" '/*/*[local-name()="Assertion"]/*[local-name()="Signature"]'
for name in signed-other-key unsigned tampered-nameid tampered-attribute xsw-wrap-response xsw-wrap-assertion \
  doctype-entity encrypted-assertion; do
  refuses "fixture $name.xml: xmlsec1 --verify fails" verify "$fixtures/$name.xml"
done
check "fixture signed-other-key.xml verifies with other-cert.pem" verify "$fixtures/signed-other-key.xml" "$keys/other-cert.pem"
check "fixture encrypted-assertion.xml decrypts with other-key.pem to an assertion that verifies" \
  decrypts "$fixtures/encrypted-assertion.xml"
check "fixture comment-injection.xml: the NameID text is split by a comment" \
  is "$fixtures/comment-injection.xml" '//saml:NameID/text()[1]' mallory@evil.test
manifest_matches() {
  "$python" - "$fixtures" <<'PY'
import json, os, sys
fixtures = sys.argv[1]
m = json.load(open(os.path.join(fixtures, "manifest.json")))
files = sorted(f["file"] for f in m["fixtures"])
on_disk = sorted(n for n in os.listdir(fixtures) if n.endswith(".xml") and "metadata" not in n)
assert files == on_disk, (files, on_disk)
PY
}
check "fixtures/manifest.json lists exactly the response fixtures on disk" manifest_matches

reproducible() {
  GATEHOUSE_SAML_PYTHON=$python GATEHOUSE_SAML_FIXTURES_OUT=$work/fixtures "$fixtures/make.sh" &&
    for f in "$fixtures"/*.xml "$fixtures/manifest.json"; do
      case $f in */encrypted-assertion.xml) continue ;; esac
      cmp "$f" "$work/fixtures/$(basename "$f")" || return 1
    done
}
if [ "${GATEHOUSE_SAML_SKIP_REPRO:-0}" = 1 ]; then
  echo "skip - fixtures/make.sh regenerates the fixtures byte for byte (GATEHOUSE_SAML_SKIP_REPRO=1)"
else
  check "fixtures/make.sh regenerates every fixture byte for byte (but encrypted-assertion.xml: random key)" reproducible
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
