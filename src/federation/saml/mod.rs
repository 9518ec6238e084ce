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
/// The most namespace declarations a document may make: the parser keeps each element's
/// namespaces in scope, so a document declaring one at every level would cost the square of its
/// depth before any other check (a SAML answer makes about ten; some identity providers
/// declare two on every attribute value).
const MAX_NAMESPACE_DECLARATIONS: usize = 512;
/// The most attributes (namespace declarations among them) one start tag may have: the parser
/// compares each attribute with the tag's others, so one tag with tens of thousands would cost
/// their square before any other check.
const MAX_TAG_ATTRIBUTES: usize = 128;
/// The deepest an element may be nested (a SAML response or metadata needs under ten levels).
const MAX_DEPTH: usize = 64;
/// The longest name (prefix included) an element or attribute may have, in bytes.
const MAX_NAME: usize = 512;

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

/// Parses a document: no DTD, at most [`MAX_DOCUMENT`] bytes, [`MAX_NAMESPACE_DECLARATIONS`]
/// and [`MAX_NODES`] nodes, nested at most [`MAX_DEPTH`] deep, no name longer than [`MAX_NAME`].
pub(crate) fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    if text.len() > MAX_DOCUMENT {
        return Err(SamlError::Xml(format!("larger than {MAX_DOCUMENT} bytes")));
    }
    if text.matches("xmlns").count() > MAX_NAMESPACE_DECLARATIONS {
        return Err(SamlError::Xml(format!("more than {MAX_NAMESPACE_DECLARATIONS} namespace declarations")));
    }
    if most_attributes_in_a_tag(text) > MAX_TAG_ATTRIBUTES {
        return Err(SamlError::Xml(format!("a tag with more than {MAX_TAG_ATTRIBUTES} attributes")));
    }
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|e| SamlError::Xml(e.to_string()))?;
    check_shape(&doc)?;
    Ok(doc)
}

/// The most `=` signs outside quotes in one markup (`<…>`) of `text`: an upper bound of the
/// attributes of its busiest start tag, counted in one pass before anything is parsed.
fn most_attributes_in_a_tag(text: &str) -> usize {
    let (mut most, mut count, mut in_tag, mut quote) = (0, 0, false, None);
    for byte in text.bytes() {
        match (in_tag, quote, byte) {
            (true, Some(open), b) if b == open => quote = None,
            (true, Some(_), _) => {}
            (true, None, b'"' | b'\'') => quote = Some(byte),
            (true, None, b'=') => count += 1,
            (true, None, b'>') => {
                in_tag = false;
                most = usize::max(most, count);
            }
            (false, _, b'<') => {
                in_tag = true;
                count = 0;
            }
            _ => {}
        }
    }
    usize::max(most, count)
}

/// Refuses a document nested deeper than [`MAX_DEPTH`] or with a name longer than [`MAX_NAME`]
/// (nodes come in document order: a parent's depth is known before its children's).
fn check_shape(doc: &roxmltree::Document<'_>) -> Result<(), SamlError> {
    let mut depths = vec![0_usize; doc.descendants().count()];
    for node in doc.descendants() {
        let depth = node.parent().map_or(0, |parent| depths.get(parent.id().get_usize()).copied().unwrap_or(0) + 1);
        if depth > MAX_DEPTH {
            return Err(SamlError::Xml(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        if let Some(slot) = depths.get_mut(node.id().get_usize()) {
            *slot = depth;
        }
        let long =
            |name: &str, namespace: Option<&str>| name.len() > MAX_NAME || namespace.map_or(0, str::len) > MAX_NAME;
        let too_long = node.is_element()
            && (long(node.tag_name().name(), node.tag_name().namespace())
                || node.attributes().any(|a| long(a.name(), a.namespace()) || a.range_qname().len() > MAX_NAME));
        if too_long {
            return Err(SamlError::Xml(format!("a name longer than {MAX_NAME} bytes")));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::{MAX_DEPTH, MAX_NAME, MAX_NAMESPACE_DECLARATIONS, MAX_TAG_ATTRIBUTES, parse_xml};

    #[test]
    fn a_document_nested_too_deep_is_refused_before_anything_walks_it() {
        let nested = |levels: usize| format!("{}{}", "<a>".repeat(levels), "</a>".repeat(levels));
        assert!(parse_xml(&nested(MAX_DEPTH)).is_ok());
        let refused = parse_xml(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(refused.to_string().contains("nested deeper"), "{refused}");
    }

    #[test]
    fn a_document_declaring_too_many_namespaces_is_refused_before_it_is_parsed() {
        let declaring = |count: usize| {
            let children: String = (0..count).map(|n| format!("<p{n}:e xmlns:p{n}=\"urn:{n}\"/>")).collect();
            format!("<r>{children}</r>")
        };
        assert!(parse_xml(&declaring(MAX_NAMESPACE_DECLARATIONS)).is_ok());
        let refused = parse_xml(&declaring(MAX_NAMESPACE_DECLARATIONS + 1)).unwrap_err();
        assert!(refused.to_string().contains("namespace declarations"), "{refused}");
    }

    #[test]
    fn a_tag_with_too_many_attributes_is_refused_before_it_is_parsed() {
        let tag = |count: usize| {
            let attributes: String = (0..count).map(|n| format!(" a{n}=\"x=y>z\"")).collect();
            format!("<r{attributes}>t=u</r>")
        };
        // `=` and `>` inside quotes, and in text, are not attributes.
        assert!(parse_xml(&tag(MAX_TAG_ATTRIBUTES)).is_ok());
        let refused = parse_xml(&tag(MAX_TAG_ATTRIBUTES + 1)).unwrap_err();
        assert!(refused.to_string().contains("attributes"), "{refused}");
    }

    #[test]
    fn a_name_or_prefix_too_long_is_refused() {
        let long = "n".repeat(MAX_NAME + 1);
        assert!(parse_xml(&format!("<{long}/>")).is_err());
        assert!(parse_xml(&format!("<a {long}=\"1\"/>")).is_err());
        assert!(parse_xml(&format!("<a xmlns:{long}=\"urn:x\" {long}:b=\"1\"/>")).is_err());
        assert!(parse_xml("<a b=\"1\"/>").is_ok());
    }
}
