//! Exclusive XML Canonicalization 1.0, without comments (`http://www.w3.org/2001/10/xml-exc-c14n#`),
//! of one element of a parsed tree: the bytes an XML signature's digest and signature are
//! computed over.
//!
//! It works on the very tree the claims are later read from, so what was verified and what is
//! read cannot differ. Only what a SAML message can hold is handled: elements, attributes, text
//! (comments are left out, as this algorithm says; processing instructions are kept). The
//! `skip` element (the enveloped signature) is left out with everything inside it.

use roxmltree::{Node, NodeId};

/// The canonical form of `element`, without `skip` and its content; `inclusive` names the
/// prefixes (`#default` for the default namespace) the signature's `InclusiveNamespaces` lists.
pub fn canonicalize(element: Node<'_, '_>, skip: Option<NodeId>, inclusive: &[String]) -> String {
    let mut writer = Writer { out: String::new(), skip, inclusive };
    writer.element(element, &Rendered::default());
    writer.out
}

/// The namespace declarations output ancestors rendered: (prefix, `""` for the default; URI).
#[derive(Clone, Default)]
struct Rendered(Vec<(String, String)>);

impl Rendered {
    fn get(&self, prefix: &str) -> Option<&str> {
        self.0.iter().rev().find(|(p, _)| p == prefix).map(|(_, uri)| uri.as_str())
    }
}

struct Writer<'a> {
    out: String,
    skip: Option<NodeId>,
    inclusive: &'a [String],
}

/// The prefix of a qualified name as written (`saml:Assertion` → `saml`), `""` for none.
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

/// An element's qualified name as written in its start tag.
fn element_qname<'input>(node: Node<'_, 'input>) -> &'input str {
    let text = node.document().input_text();
    let start = &text[node.range().start + 1..];
    let end = start.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(start.len());
    &start[..end]
}

fn attribute_qname<'input>(node: Node<'_, 'input>, attribute: &roxmltree::Attribute<'_, 'input>) -> &'input str {
    &node.document().input_text()[attribute.range_qname()]
}

impl Writer<'_> {
    fn element(&mut self, node: Node<'_, '_>, rendered: &Rendered) {
        let qname = element_qname(node);
        let mut used: Vec<&str> = vec![prefix_of(qname)];
        for attribute in node.attributes() {
            let prefix = prefix_of(attribute_qname(node, &attribute));
            // An attribute without a prefix is in no namespace: it uses no default namespace.
            if !prefix.is_empty() {
                used.push(prefix);
            }
        }
        for prefix in self.inclusive {
            let prefix = if prefix == "#default" { "" } else { prefix.as_str() };
            let in_scope = if prefix.is_empty() {
                node.default_namespace().is_some_and(|uri| !uri.is_empty())
            } else {
                node.lookup_namespace_uri(Some(prefix)).is_some()
            };
            if in_scope {
                used.push(prefix);
            }
        }
        used.sort_unstable();
        used.dedup();
        let mut inner = rendered.clone();
        self.out.push('<');
        self.out.push_str(qname);
        for prefix in used {
            if prefix == "xml" {
                continue;
            }
            let uri = if prefix.is_empty() {
                node.default_namespace().unwrap_or("")
            } else {
                node.lookup_namespace_uri(Some(prefix)).unwrap_or("")
            };
            let before = rendered.get(prefix).unwrap_or("");
            let same = if prefix.is_empty() { before == uri } else { rendered.get(prefix) == Some(uri) };
            if same {
                continue;
            }
            if prefix.is_empty() {
                self.out.push_str(" xmlns=\"");
            } else {
                self.out.push_str(" xmlns:");
                self.out.push_str(prefix);
                self.out.push_str("=\"");
            }
            escape_attribute(&mut self.out, uri);
            self.out.push('"');
            inner.0.push((prefix.to_owned(), uri.to_owned()));
        }
        let mut attributes: Vec<_> = node.attributes().collect();
        attributes
            .sort_by(|a, b| (a.namespace().unwrap_or(""), a.name()).cmp(&(b.namespace().unwrap_or(""), b.name())));
        for attribute in attributes {
            self.out.push(' ');
            self.out.push_str(attribute_qname(node, &attribute));
            self.out.push_str("=\"");
            escape_attribute(&mut self.out, attribute.value());
            self.out.push('"');
        }
        self.out.push('>');
        for child in node.children() {
            if Some(child.id()) == self.skip {
                continue;
            }
            match child.node_type() {
                roxmltree::NodeType::Element => self.element(child, &inner),
                roxmltree::NodeType::Text => escape_text(&mut self.out, child.text().unwrap_or("")),
                roxmltree::NodeType::PI => {
                    if let Some(pi) = child.pi() {
                        self.out.push_str("<?");
                        self.out.push_str(pi.target);
                        if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                            self.out.push(' ');
                            self.out.push_str(value);
                        }
                        self.out.push_str("?>");
                    }
                }
                roxmltree::NodeType::Comment | roxmltree::NodeType::Root => {}
            }
        }
        self.out.push_str("</");
        self.out.push_str(qname);
        self.out.push('>');
    }
}

fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::canonicalize;

    fn c14n(xml: &str, inclusive: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let inclusive: Vec<String> = inclusive.iter().map(|s| (*s).to_owned()).collect();
        canonicalize(doc.root_element(), None, &inclusive)
    }

    fn first_child(xml: &str) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        canonicalize(doc.root_element().first_element_child().unwrap(), None, &[])
    }

    #[test]
    fn attributes_are_sorted_by_namespace_then_name_and_empty_elements_are_written_in_full() {
        let xml = r#"<a xmlns:b="urn:b" z="1" b:y="2" a="3"><e/></a>"#;
        assert_eq!(c14n(xml, &[]), r#"<a xmlns:b="urn:b" a="3" z="1" b:y="2"><e></e></a>"#);
    }

    #[test]
    fn only_namespaces_an_element_uses_are_rendered_and_once() {
        let xml = r#"<r xmlns="urn:d" xmlns:s="urn:s" xmlns:u="urn:unused"><s:a><s:b/><c/></s:a></r>"#;
        assert_eq!(first_child(xml), r#"<s:a xmlns:s="urn:s"><s:b></s:b><c xmlns="urn:d"></c></s:a>"#);
    }

    #[test]
    fn an_inclusive_prefix_in_scope_is_rendered_at_the_apex() {
        let xml = r#"<r xmlns:xs="urn:xs" xmlns:s="urn:s"><s:a>t</s:a></r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let apex = doc.root_element().first_element_child().unwrap();
        assert_eq!(canonicalize(apex, None, &["xs".into()]), r#"<s:a xmlns:s="urn:s" xmlns:xs="urn:xs">t</s:a>"#);
    }

    #[test]
    fn comments_are_dropped_and_text_and_attributes_escaped() {
        let xml = "<a b=\"&quot;&lt;&#9;&#10;\">x<!-- c -->y &amp; &lt; &gt; &#13;</a>";
        assert_eq!(c14n(xml, &[]), "<a b=\"&quot;&lt;&#x9;&#xA;\">xy &amp; &lt; &gt; &#xD;</a>");
    }

    #[test]
    fn a_default_namespace_is_undeclared_under_a_parent_that_rendered_one() {
        let xml = r#"<a xmlns="urn:d"><b xmlns=""/></a>"#;
        assert_eq!(c14n(xml, &[]), r#"<a xmlns="urn:d"><b xmlns=""></b></a>"#);
    }

    #[test]
    fn the_skipped_element_is_left_out() {
        let xml = r#"<a ID="x"><s>sig</s><t>kept</t></a>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let skip = doc.root_element().first_element_child().unwrap().id();
        assert_eq!(canonicalize(doc.root_element(), Some(skip), &[]), r#"<a ID="x"><t>kept</t></a>"#);
    }
}
