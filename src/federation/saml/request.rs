//! The `AuthnRequest` of a login gatehouse starts (SP-initiated), sent by the HTTP-Redirect
//! binding: deflated, base64, in the identity provider's URL with its `RelayState`. It is not
//! signed; what makes the answer trustworthy is the answer's own signature and its
//! `InResponseTo` naming a request this browser started.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use url::Url;

use super::{ASSERTION, PROTOCOL, xml_escape};

/// A request on its way to the identity provider.
#[derive(Debug)]
pub struct AuthnRequest {
    /// The request's `ID`, which the answer's `InResponseTo` must name.
    pub id: String,
    /// The identity provider's URL with `SAMLRequest` and `RelayState`.
    pub url: Url,
}

/// What a request is made of.
#[derive(Debug)]
pub struct RequestFor<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub sso_url: &'a Url,
    /// Random, unguessable: `_` and hex (an `ID` must not start with a digit).
    pub id: String,
    pub relay_state: &'a str,
    pub now: DateTime<Utc>,
}

/// Builds the request and the URL that carries it.
pub fn authn_request(request: RequestFor<'_>) -> AuthnRequest {
    let xml = format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="{protocol}" xmlns:saml="{assertion}" ID="{id}" Version="2.0" "#,
            r#"IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" "#,
            r#"ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
            r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" AllowCreate="true"/>"#,
            r#"</samlp:AuthnRequest>"#
        ),
        protocol = PROTOCOL,
        assertion = ASSERTION,
        id = request.id,
        instant = request.now.to_rfc3339_opts(SecondsFormat::Secs, true),
        destination = xml_escape(request.sso_url.as_str()),
        acs = xml_escape(request.acs_url),
        issuer = xml_escape(request.sp_entity_id),
    );
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let deflated = encoder.write_all(xml.as_bytes()).and_then(|()| encoder.finish()).unwrap_or_default();
    let mut url = request.sso_url.clone();
    url.query_pairs_mut()
        .append_pair("SAMLRequest", &STANDARD.encode(deflated))
        .append_pair("RelayState", request.relay_state);
    AuthnRequest { id: request.id, url }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_request_inflates_to_an_authn_request_naming_our_acs_and_keeps_the_idps_query() {
        let sso = Url::parse("https://idp.test/sso?tenant=acme").unwrap();
        let request = authn_request(RequestFor {
            sp_entity_id: "https://sp.test/sso/saml/x/metadata",
            acs_url: "https://sp.test/sso/saml/x/acs",
            sso_url: &sso,
            id: "_abc".into(),
            relay_state: "relay",
            now: Utc::now(),
        });
        let pairs: std::collections::HashMap<_, _> = request.url.query_pairs().into_owned().collect();
        assert_eq!(pairs["tenant"], "acme");
        assert_eq!(pairs["RelayState"], "relay");
        let deflated = STANDARD.decode(&pairs["SAMLRequest"]).unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert!(root.has_tag_name((PROTOCOL, "AuthnRequest")));
        assert_eq!(root.attribute("ID"), Some("_abc"));
        assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some("https://sp.test/sso/saml/x/acs"));
        assert_eq!(root.attribute("Destination"), Some("https://idp.test/sso?tenant=acme"));
    }
}
