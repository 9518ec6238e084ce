//! The identity provider's answer (`SAMLResponse`, HTTP-POST binding), checked: one parsed
//! tree, one assertion, its signature (or the response's, which covers it) verified by a
//! pinned certificate, and every claim read from that very assertion node. Then the
//! conditions a bearer assertion must meet (SAML 2.0 Profiles §4.1.4.3): issuer, audience,
//! recipient, destination, validity window (with [`SKEW`] of clock skew) and the request it
//! answers. Whether that request was this browser's and is still unspent, and whether the
//! assertion was seen before, the caller decides with the store.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use roxmltree::Node;

use super::metadata::IdpMetadata;
use super::{ASSERTION, PROTOCOL, SamlError, parse_xml, text_of};
#[cfg(test)]
use crate::tokens::xmldsig::DsigError;
use crate::tokens::xmldsig::{is_signed, verify_enveloped};

/// The clock skew allowed between the identity provider and gatehouse.
pub const SKEW: Duration = Duration::seconds(60);
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// What the answer must match.
#[derive(Debug)]
pub struct Expected<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp: &'a IdpMetadata,
    pub now: DateTime<Utc>,
}

/// A verified assertion's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The request it answers; `None` for an unsolicited (IdP-initiated) one.
    pub in_response_to: Option<String>,
    /// The assertion's `ID`, remembered until [`Self::expires_at`] so it is used once.
    pub id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// When it stops being valid (the earliest of its conditions).
    pub expires_at: DateTime<Utc>,
}

fn saml<'a, 'input>(node: Node<'a, 'input>, ns: &'static str, name: &'static str) -> Vec<Node<'a, 'input>> {
    node.children().filter(|c| c.is_element() && c.has_tag_name((ns, name))).collect()
}

fn one<'a, 'input>(
    node: Node<'a, 'input>,
    ns: &'static str,
    name: &'static str,
) -> Result<Node<'a, 'input>, SamlError> {
    let found = saml(node, ns, name);
    match found.as_slice() {
        [only] => Ok(*only),
        [] => Err(SamlError::refused(format!("no {name}"))),
        _ => Err(SamlError::refused(format!("more than one {name}"))),
    }
}

fn instant(node: Node<'_, '_>, attribute: &str) -> Result<Option<DateTime<Utc>>, SamlError> {
    node.attribute(attribute)
        .map(|value| {
            DateTime::parse_from_rfc3339(value.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| SamlError::refused(format!("{attribute} is not a time")))
        })
        .transpose()
}

/// Decodes the form's `SAMLResponse` (base64 of the XML).
pub fn decode(form_value: &str) -> Result<String, SamlError> {
    if form_value.len() > super::MAX_DOCUMENT * 4 / 3 + 4 {
        return Err(SamlError::Xml("the SAMLResponse is too large".into()));
    }
    let compact: String = form_value.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = STANDARD.decode(compact).map_err(|_| SamlError::Xml("the SAMLResponse is not base64".into()))?;
    String::from_utf8(bytes).map_err(|_| SamlError::Xml("the SAMLResponse is not UTF-8".into()))
}

/// Checks a response (its XML) and returns the claims of its one assertion.
pub fn read(xml: &str, expected: &Expected<'_>) -> Result<Assertion, SamlError> {
    let doc = parse_xml(xml)?;
    let response = doc.root_element();
    if !response.has_tag_name((PROTOCOL, "Response")) {
        return Err(SamlError::refused("the document is not a SAML Response"));
    }
    // An ID used twice lets a reference find one element while the reader finds another.
    let mut ids: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("ID")).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(SamlError::refused("two elements have the same ID"));
    }
    if doc.descendants().any(|n| n.is_element() && n.has_tag_name((ASSERTION, "EncryptedAssertion"))) {
        return Err(SamlError::refused("the assertion is encrypted, and this connection has no key to decrypt it"));
    }
    let all = doc.descendants().filter(|n| n.is_element() && n.has_tag_name((ASSERTION, "Assertion"))).count();
    let assertion = one(response, ASSERTION, "Assertion")?;
    if all != 1 {
        return Err(SamlError::refused("more than one Assertion in the document"));
    }
    if response.attribute("Version") != Some("2.0") || assertion.attribute("Version") != Some("2.0") {
        return Err(SamlError::refused("not SAML 2.0"));
    }
    // The signature: the response's (which covers the assertion, its child) or the
    // assertion's own; each present one must verify.
    let certificates = &expected.idp.certificates;
    let response_signed = is_signed(response);
    if response_signed {
        verify_enveloped(response, certificates)?;
    }
    if is_signed(assertion) {
        verify_enveloped(assertion, certificates)?;
    } else if !response_signed {
        return Err(crate::tokens::xmldsig::DsigError::Unsigned.into());
    }
    check_response(response, response_signed, expected)?;
    read_assertion(response, assertion, expected)
}

/// The response's own status, destination and issuer.
fn check_response(response: Node<'_, '_>, signed: bool, expected: &Expected<'_>) -> Result<(), SamlError> {
    let status = one(response, PROTOCOL, "Status")?;
    let code = one(status, PROTOCOL, "StatusCode")?;
    if code.attribute("Value") != Some(SUCCESS) {
        let inner = saml(code, PROTOCOL, "StatusCode").first().and_then(|c| c.attribute("Value"));
        let value = code.attribute("Value").unwrap_or("none");
        return Err(SamlError::refused(format!("the identity provider answered {value} {}", inner.unwrap_or(""))));
    }
    match response.attribute("Destination") {
        Some(destination) if destination != expected.acs_url => {
            return Err(SamlError::refused("the Destination is another service's"));
        }
        None if signed => return Err(SamlError::refused("a signed response names no Destination")),
        _ => {}
    }
    if saml(response, ASSERTION, "Issuer")
        .first()
        .is_some_and(|issuer| text_of(*issuer).trim() != expected.idp.entity_id)
    {
        return Err(SamlError::refused("the response's Issuer is another identity provider"));
    }
    Ok(())
}

/// The assertion's issuer, subject, conditions and attributes.
fn read_assertion(
    response: Node<'_, '_>,
    assertion: Node<'_, '_>,
    expected: &Expected<'_>,
) -> Result<Assertion, SamlError> {
    let now = expected.now;
    let issuer = one(assertion, ASSERTION, "Issuer")?;
    if text_of(issuer).trim() != expected.idp.entity_id {
        return Err(SamlError::refused("the assertion's Issuer is another identity provider"));
    }
    let id = assertion.attribute("ID").filter(|id| !id.is_empty()).ok_or_else(|| SamlError::refused("no ID"))?;
    let subject = one(assertion, ASSERTION, "Subject")?;
    let name = one(subject, ASSERTION, "NameID")?;
    let name_id = text_of(name).trim().to_owned();
    // An identity's subject is kept in at most 255 characters on every backend.
    if name_id.is_empty() || name_id.len() > 255 {
        return Err(SamlError::refused("the NameID is empty or longer than 255 bytes"));
    }
    let response_in_response_to = response.attribute("InResponseTo");
    let mut confirmed_until = None;
    let mut in_response_to = None;
    for confirmation in saml(subject, ASSERTION, "SubjectConfirmation") {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = saml(confirmation, ASSERTION, "SubjectConfirmationData").first().copied() else { continue };
        let until = instant(data, "NotOnOrAfter")?;
        let fits = data.attribute("Recipient") == Some(expected.acs_url)
            && until.is_some_and(|until| now < until + SKEW)
            && instant(data, "NotBefore")?.is_none_or(|from| from <= now + SKEW)
            && (response_in_response_to.is_none() || data.attribute("InResponseTo") == response_in_response_to);
        if fits {
            confirmed_until = until;
            in_response_to = data.attribute("InResponseTo").map(str::to_owned);
            break;
        }
    }
    let confirmed_until = confirmed_until.ok_or_else(|| {
        SamlError::refused("no bearer SubjectConfirmation for this service (Recipient, NotOnOrAfter, InResponseTo)")
    })?;
    let conditions = one(assertion, ASSERTION, "Conditions")?;
    if instant(conditions, "NotBefore")?.is_some_and(|from| from > now + SKEW) {
        return Err(SamlError::refused("the assertion is not valid yet (NotBefore)"));
    }
    let until = instant(conditions, "NotOnOrAfter")?;
    if until.is_some_and(|until| now >= until + SKEW) {
        return Err(SamlError::refused("the assertion has expired (NotOnOrAfter)"));
    }
    let restrictions = saml(conditions, ASSERTION, "AudienceRestriction");
    let ours = |restriction: &Node<'_, '_>| {
        saml(*restriction, ASSERTION, "Audience").iter().any(|a| text_of(*a).trim() == expected.sp_entity_id)
    };
    if restrictions.is_empty() || !restrictions.iter().all(ours) {
        return Err(SamlError::refused("the Audience is not this service"));
    }
    if saml(assertion, ASSERTION, "AuthnStatement").is_empty() {
        return Err(SamlError::refused("no AuthnStatement"));
    }
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in saml(assertion, ASSERTION, "AttributeStatement") {
        for attribute in saml(statement, ASSERTION, "Attribute") {
            let Some(name) = attribute.attribute("Name") else { continue };
            let values = saml(attribute, ASSERTION, "AttributeValue").into_iter().map(|v| text_of(v).trim().to_owned());
            attributes.entry(name.to_owned()).or_default().extend(values);
        }
    }
    let expires_at = until.map_or(confirmed_until, |until| until.min(confirmed_until)) + SKEW;
    Ok(Assertion {
        in_response_to,
        id: id.to_owned(),
        name_id,
        name_id_format: name.attribute("Format").map(str::to_owned),
        attributes,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    //! Against the answers of a real identity provider (pysaml2 signing with xmlsec1), made by
    //! `e2e/saml/fixtures/make.sh`: the valid ones, and the attacks built from them.

    use std::path::PathBuf;

    use super::*;
    use crate::federation::saml::metadata::parse_idp_metadata;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/saml/fixtures")
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(fixtures().join(name)).unwrap()
    }

    fn check(name: &str, idp: &IdpMetadata, at: &str) -> Result<Assertion, SamlError> {
        let now = DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc);
        let expected = Expected {
            sp_entity_id: "https://sp.test/sso/saml/x/metadata",
            acs_url: "https://sp.test/sso/saml/x/acs",
            idp,
            now,
        };
        read(&fixture(name), &expected)
    }

    fn idp() -> IdpMetadata {
        parse_idp_metadata(&fixture("idp-metadata.xml")).unwrap()
    }

    #[test]
    fn every_fixture_gets_the_verdict_its_manifest_gives() {
        let manifest: serde_json::Value = serde_json::from_str(&fixture("manifest.json")).unwrap();
        let idp = idp();
        let mut valid = 0;
        for entry in manifest["fixtures"].as_array().unwrap() {
            let file = entry["file"].as_str().unwrap();
            let verdict = check(file, &idp, "2026-01-01T00:01:00Z");
            match entry["expect"].as_str().unwrap() {
                "valid" => {
                    let assertion = verdict.unwrap_or_else(|e| panic!("{file} refused: {e}"));
                    assert_eq!(assertion.name_id, entry["name_id"].as_str().unwrap(), "{file}");
                    assert_eq!(assertion.in_response_to.as_deref(), Some("id-fixture-request"), "{file}");
                    valid += 1;
                }
                _ => assert!(verdict.is_err(), "{file} was accepted: {verdict:?}"),
            }
        }
        assert!(valid >= 4, "the manifest lists too few valid answers");
    }

    #[test]
    fn sha1_and_foreign_keys_and_wrapping_are_refused_for_the_right_reason() {
        let idp = idp();
        let at = "2026-01-01T00:01:00Z";
        assert!(matches!(check("signed-sha1.xml", &idp, at), Err(SamlError::Signature(DsigError::Algorithm(_)))));
        assert_eq!(check("signed-other-key.xml", &idp, at), Err(SamlError::Signature(DsigError::Signature)));
        assert_eq!(check("unsigned.xml", &idp, at), Err(SamlError::Signature(DsigError::Unsigned)));
        assert_eq!(check("tampered-nameid.xml", &idp, at), Err(SamlError::Signature(DsigError::Digest)));
        assert!(matches!(check("doctype-entity.xml", &idp, at), Err(SamlError::Xml(_))));
        for wrapped in ["xsw-sibling-assertion.xml", "xsw-sibling-after.xml", "xsw-extensions.xml"] {
            assert!(matches!(check(wrapped, &idp, at), Err(SamlError::Refused(_))), "{wrapped}");
        }
    }

    #[test]
    fn a_comment_inside_the_name_id_does_not_cut_it_short() {
        let assertion = check("comment-injection.xml", &idp(), "2026-01-01T00:01:00Z").unwrap();
        assert_eq!(assertion.name_id, "mallory@evil.test.acme.test");
    }

    #[test]
    fn the_validity_window_holds_with_a_minute_of_skew() {
        let idp = idp();
        // Valid until 00:05:00; a minute of skew is allowed either side.
        assert!(check("signed-assertion.xml", &idp, "2026-01-01T00:05:59Z").is_ok());
        assert!(check("signed-assertion.xml", &idp, "2026-01-01T00:06:00Z").is_err());
        assert!(check("signed-assertion.xml", &idp, "2025-12-31T23:59:01Z").is_ok());
    }

    #[test]
    fn another_service_provider_or_identity_provider_is_refused() {
        let idp = idp();
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:01:00Z").unwrap().with_timezone(&Utc);
        let xml = fixture("signed-assertion.xml");
        let other_sp = Expected {
            sp_entity_id: "https://other.test/metadata",
            acs_url: "https://sp.test/sso/saml/x/acs",
            idp: &idp,
            now,
        };
        assert!(read(&xml, &other_sp).is_err());
        let other_acs = Expected {
            sp_entity_id: "https://sp.test/sso/saml/x/metadata",
            acs_url: "https://sp.test/sso/saml/y/acs",
            idp: &idp,
            now,
        };
        assert!(read(&xml, &other_acs).is_err());
        let other_idp = IdpMetadata { entity_id: "https://other-idp.test".into(), ..idp.clone() };
        let expected = Expected {
            sp_entity_id: "https://sp.test/sso/saml/x/metadata",
            acs_url: "https://sp.test/sso/saml/x/acs",
            idp: &other_idp,
            now,
        };
        assert!(read(&xml, &expected).is_err());
    }

    #[test]
    fn a_rolled_over_certificate_is_taken_when_both_are_pinned() {
        let both = parse_idp_metadata(&fixture("idp-metadata-rollover.xml")).unwrap();
        assert_eq!(both.certificates.len(), 2);
        assert!(check("signed-assertion.xml", &both, "2026-01-01T00:01:00Z").is_ok());
    }
}
