//! SAML metadata: reading an identity provider's (its entity id, where browsers log in, the
//! certificates its signatures must be made with) and writing gatehouse's own, as a service
//! provider, for the customer's IT to load into their identity provider.

use roxmltree::Node;
use url::Url;

use super::{MD, PROTOCOL, SamlError, parse_xml, xml_escape};
use crate::tokens::xmldsig::{DSIG, PinnedCertificate};

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// The most signing certificates one identity provider may have pinned (two during a rollover).
const MAX_CERTIFICATES: usize = 4;

/// What gatehouse keeps of an identity provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// Where a browser is sent with an `AuthnRequest` (HTTP-Redirect binding).
    pub sso_url: Url,
    /// The certificates its signatures may be made with.
    pub certificates: Vec<PinnedCertificate>,
}

fn md_children<'a, 'input>(node: Node<'a, 'input>, name: &'static str) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |c| c.is_element() && c.has_tag_name((MD, name)))
}

/// Whether `url` is one a browser may be sent to: `https`, or `http` on a loopback host.
pub fn browser_url(url: &Url) -> bool {
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// Reads an identity provider's metadata: an `EntityDescriptor` (or an `EntitiesDescriptor`
/// holding exactly one identity provider) with an `IDPSSODescriptor` that supports SAML 2.0,
/// a single sign-on service of the HTTP-Redirect binding and one to four signing certificates.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    let doc = parse_xml(xml)?;
    let root = doc.root_element();
    let entities: Vec<Node<'_, '_>> = if root.has_tag_name((MD, "EntityDescriptor")) {
        vec![root]
    } else if root.has_tag_name((MD, "EntitiesDescriptor")) {
        md_children(root, "EntityDescriptor").collect()
    } else {
        return Err(SamlError::Metadata("the document is not SAML metadata (no EntityDescriptor)".into()));
    };
    let mut idps = entities.into_iter().filter_map(|entity| {
        let idp = md_children(entity, "IDPSSODescriptor").find(|d| {
            d.attribute("protocolSupportEnumeration").is_some_and(|p| p.split_whitespace().any(|p| p == PROTOCOL))
        })?;
        Some((entity, idp))
    });
    let (entity, idp) = idps
        .next()
        .ok_or_else(|| SamlError::Metadata("no identity provider of SAML 2.0 (IDPSSODescriptor) in it".into()))?;
    if idps.next().is_some() {
        return Err(SamlError::Metadata("more than one identity provider in it: give the one to use".into()));
    }
    let entity_id = entity
        .attribute("entityID")
        .filter(|id| !id.trim().is_empty() && id.len() <= 1024)
        .ok_or_else(|| SamlError::Metadata("the EntityDescriptor has no entityID".into()))?;
    let sso = md_children(idp, "SingleSignOnService")
        .find(|s| s.attribute("Binding") == Some(REDIRECT_BINDING))
        .and_then(|s| s.attribute("Location"))
        .ok_or_else(|| SamlError::Metadata("no SingleSignOnService of the HTTP-Redirect binding".into()))?;
    let sso_url = Url::parse(sso.trim())
        .ok()
        .filter(browser_url)
        .ok_or_else(|| SamlError::Metadata("the SingleSignOnService's Location is not an https URL".into()))?;
    let mut certificates = Vec::new();
    for key in md_children(idp, "KeyDescriptor").filter(|k| k.attribute("use").is_none_or(|u| u == "signing")) {
        for text in key.descendants().filter(|n| n.is_element() && n.has_tag_name((DSIG, "X509Certificate"))) {
            let body: String = text.descendants().filter(Node::is_text).filter_map(|t| t.text()).collect();
            let cert = PinnedCertificate::from_base64(&body).map_err(SamlError::Metadata)?;
            if !certificates.contains(&cert) {
                certificates.push(cert);
            }
        }
    }
    if certificates.is_empty() {
        return Err(SamlError::Metadata("no signing certificate (KeyDescriptor with an X509Certificate)".into()));
    }
    if certificates.len() > MAX_CERTIFICATES {
        return Err(SamlError::Metadata(format!("more than {MAX_CERTIFICATES} signing certificates")));
    }
    Ok(IdpMetadata { entity_id: entity_id.trim().to_owned(), sso_url, certificates })
}

/// gatehouse's metadata as the service provider of one connection: its entity id and its
/// assertion consumer service (HTTP-POST). Assertions are asked to be signed; requests are not.
pub fn sp_metadata(entity_id: &str, acs_url: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<md:EntityDescriptor xmlns:md="{md}" entityID="{entity}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="{protocol}">"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"#,
            r#"<md:AssertionConsumerService Binding="{post}" Location="{acs}" index="0" isDefault="true"/>"#,
            r#"</md:SPSSODescriptor></md:EntityDescriptor>"#,
            "\n"
        ),
        md = MD,
        entity = xml_escape(entity_id),
        protocol = PROTOCOL,
        post = POST_BINDING,
        acs = xml_escape(acs_url),
    )
}
