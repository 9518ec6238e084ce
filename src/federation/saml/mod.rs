//! SAML 2.0, as a service provider: reading an identity provider's metadata and writing ours
//! ([`metadata`]), the `AuthnRequest` a login starts with ([`request`]), and the checks of the
//! identity provider's answer ([`response`]). Signatures are verified by `tokens::xmldsig`.
//!
//! Every document is parsed once, by `roxmltree`, which refuses any DTD (so no entity
//! expansion, no external entities) and is bounded in size and node count here. Nothing here
//! knows about accounts or the store: the account rules decide what an answer logs in to.

pub mod metadata;
pub mod request;
pub mod response;

/// The SAML 2.0 namespaces.
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// The largest SAML document read (metadata or a response), in bytes.
pub const MAX_DOCUMENT: usize = 256 * 1024;
/// The most nodes a document may have.
const MAX_NODES: u32 = 20_000;

/// Why a SAML document was refused: said in logs and audit events, never to the browser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("the document is not acceptable XML: {0}")]
    Xml(String),
    #[error("the metadata is not usable: {0}")]
    Metadata(String),
    #[error("the response is not acceptable: {0}")]
    Refused(String),
    #[error(transparent)]
    Signature(#[from] crate::tokens::xmldsig::DsigError),
}

impl SamlError {
    pub(crate) fn refused(why: impl Into<String>) -> Self {
        Self::Refused(why.into())
    }
}

/// Parses a document: no DTD, at most [`MAX_DOCUMENT`] bytes and [`MAX_NODES`] nodes.
pub(crate) fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    if text.len() > MAX_DOCUMENT {
        return Err(SamlError::Xml(format!("larger than {MAX_DOCUMENT} bytes")));
    }
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..Default::default() };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| SamlError::Xml(e.to_string()))
}

/// `text` escaped for an XML attribute value or element content.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The text of an element: all its text, comments left out (what its signature covered).
pub(crate) fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants().filter(roxmltree::Node::is_text).filter_map(|t| t.text()).collect()
}
