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
///
/// The tree is walked with a stack of its own, not by recursion, and the namespaces rendered
/// by the open ancestors are one list pushed and popped: neither a deep document nor one that
/// declares a namespace at every level costs more than its size.
pub fn canonicalize(element: Node<'_, '_>, skip: Option<NodeId>, inclusive: &[String]) -> String {
    let mut writer = Writer { out: String::new(), skip, inclusive, rendered: Vec::new() };
    let mut steps = vec![Step::Visit(element)];
    while let Some(step) = steps.pop() {
        match step {
            Step::Visit(node) => match node.node_type() {
                roxmltree::NodeType::Element => {
                    let rendered_before = writer.rendered.len();
                    let qname = writer.start_tag(node);
                    steps.push(Step::Close { qname, rendered_before });
                    let children = node.children().filter(|child| Some(child.id()) != writer.skip);
                    let children: Vec<_> = children.collect();
                    steps.extend(children.into_iter().rev().map(Step::Visit));
                }
                roxmltree::NodeType::Text => escape_text(&mut writer.out, node.text().unwrap_or("")),
                roxmltree::NodeType::PI => writer.processing_instruction(node),
                roxmltree::NodeType::Comment | roxmltree::NodeType::Root => {}
            },
            Step::Close { qname, rendered_before } => {
                writer.rendered.truncate(rendered_before);
                writer.out.push_str("</");
                writer.out.push_str(qname);
                writer.out.push('>');
            }
        }
    }
    writer.out
}

/// What is left to do: a node to write, or an element to close (forgetting the namespaces it
/// rendered).
enum Step<'a, 'input> {
    Visit(Node<'a, 'input>),
    Close { qname: &'input str, rendered_before: usize },
}

struct Writer<'a> {
    out: String,
    skip: Option<NodeId>,
    inclusive: &'a [String],
    /// The namespace declarations the open elements rendered: (prefix, `""` for the default;
    /// URI), innermost last.
    rendered: Vec<(String, String)>,
}

/// The prefix of a qualified name as written (`saml:Assertion` → `saml`), `""` for none.
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

/// An element's qualified name as written in its start tag (empty where the tree's range does
/// not fall on the input's characters: never a panic).
fn element_qname<'input>(node: Node<'_, 'input>) -> &'input str {
    let start = node.document().input_text().get(node.range().start + 1..).unwrap_or("");
    let end = start.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(start.len());
    &start[..end]
}

fn attribute_qname<'input>(node: Node<'_, 'input>, attribute: &roxmltree::Attribute<'_, 'input>) -> &'input str {
    node.document().input_text().get(attribute.range_qname()).unwrap_or("")
}

impl Writer<'_> {
    fn rendered(&self, prefix: &str) -> Option<&str> {
        self.rendered.iter().rev().find(|(p, _)| p == prefix).map(|(_, uri)| uri.as_str())
    }

    /// Writes an element's start tag, with the namespace declarations it must render (pushed
    /// on `rendered`); returns its qualified name.
    fn start_tag<'input>(&mut self, node: Node<'_, 'input>) -> &'input str {
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
        let mut declared = Vec::new();
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
            let before = self.rendered(prefix);
            let same = if prefix.is_empty() { before.unwrap_or("") == uri } else { before == Some(uri) };
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
            declared.push((prefix.to_owned(), uri.to_owned()));
        }
        self.rendered.extend(declared);
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
        qname
    }

    fn processing_instruction(&mut self, node: Node<'_, '_>) {
        if let Some(pi) = node.pi() {
            self.out.push_str("<?");
            self.out.push_str(pi.target);
            if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                self.out.push(' ');
                self.out.push_str(value);
            }
            self.out.push_str("?>");
        }
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

    /// A document of `depth` nested elements, each declaring its own prefix when `prefixed`.
    fn nested(depth: usize, prefixed: bool) -> String {
        let open = |level: usize| match prefixed {
            true => format!("<p{level}:e xmlns:p{level}=\"urn:{level}\">"),
            false => "<e>".to_owned(),
        };
        let close = |level: usize| if prefixed { format!("</p{level}:e>") } else { "</e>".to_owned() };
        let mut xml: String = (0..depth).map(open).collect();
        xml.extend((0..depth).rev().map(close));
        xml
    }

    #[test]
    fn a_deep_document_is_written_without_recursion_and_each_level_renders_its_own_prefix() {
        // Deeper than a thread's stack would take, were the walk recursive.
        for (depth, prefixed) in [(50_000, false), (1_000, true)] {
            let xml = nested(depth, prefixed);
            let options = roxmltree::ParsingOptions { nodes_limit: u32::MAX, ..Default::default() };
            let doc = roxmltree::Document::parse_with_options(&xml, options).unwrap();
            // Each element renders its own prefix once: the output is the input, as long.
            assert_eq!(canonicalize(doc.root_element(), None, &[]), xml);
        }
    }

    #[test]
    fn the_skipped_element_is_left_out() {
        let xml = r#"<a ID="x"><s>sig</s><t>kept</t></a>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let skip = doc.root_element().first_element_child().unwrap().id();
        assert_eq!(canonicalize(doc.root_element(), Some(skip), &[]), r#"<a ID="x"><t>kept</t></a>"#);
    }
}
