//! SCIM's attribute paths and filters (RFC 7644 §3.10 and §3.4.2.2), the part gatehouse
//! takes: a path `attr`, `attr.sub` or `attr[filter].sub`, optionally behind its schema's URN;
//! a filter of `eq` comparisons (and `pr`) joined by `and`, with parentheses. Every identity
//! provider's provisioning asks only these (`userName eq "…"`, `externalId eq "…"`,
//! `emails[type eq "work"].value eq "…"`, `displayName eq "…"`, `members[value eq "…"]`).
//! Anything else is refused with `invalidFilter` (or `invalidPath`), never guessed at.

use serde_json::Value;

/// The core schemas a path may name itself by.
const CORE: [&str; 2] = ["urn:ietf:params:scim:schemas:core:2.0:user", "urn:ietf:params:scim:schemas:core:2.0:group"];

/// The most a filter or path may hold, in bytes and in nested comparisons.
const MAX_LEN: usize = 1024;
const MAX_TERMS: usize = 16;

/// An attribute path, its names in lower case (SCIM's names are case-insensitive).
#[derive(Clone, Debug)]
pub struct AttrPath {
    /// The attribute of an extension schema (which gatehouse keeps nothing of).
    pub extension: bool,
    pub attr: String,
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
    /// The attribute and sub-attribute as written, for an attribute a PATCH adds.
    pub spelled: (String, Option<String>),
}

impl PartialEq for AttrPath {
    fn eq(&self, other: &Self) -> bool {
        (self.extension, &self.attr, &self.filter, &self.sub)
            == (other.extension, &other.attr, &other.filter, &other.sub)
    }
}

impl AttrPath {
    /// Whether this is the plain attribute `name` (no filter, no sub-attribute).
    pub fn is(&self, name: &str) -> bool {
        !self.extension && self.attr == name && self.filter.is_none() && self.sub.is_none()
    }
}

/// A filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Eq(AttrPath, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
}

impl Filter {
    /// The comparisons it is made of, all of which must hold.
    pub fn terms(&self) -> Vec<&Filter> {
        match self {
            Filter::And(a, b) => a.terms().into_iter().chain(b.terms()).collect(),
            other => vec![other],
        }
    }

    /// Whether a value (an element of a multi-valued attribute) matches it, its
    /// sub-attributes read case-insensitively and strings compared in any case.
    pub fn matches(&self, item: &Value) -> bool {
        let field = |path: &AttrPath| {
            item.as_object().and_then(|o| o.iter().find(|(k, _)| k.to_lowercase() == path.attr).map(|(_, v)| v))
        };
        match self {
            Filter::And(a, b) => a.matches(item) && b.matches(item),
            Filter::Present(path) => field(path).is_some_and(|v| !v.is_null()),
            Filter::Eq(path, wanted) => field(path).is_some_and(|v| same_value(v, wanted)),
        }
    }
}

/// Whether two values are equal, strings in any case.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
        (a, b) => a == b,
    }
}

/// Why a filter or path was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

struct Parser<'a> {
    text: &'a str,
    at: usize,
    terms: usize,
}

/// Parses a filter (`?filter=`).
pub fn parse_filter(text: &str) -> Result<Filter, Refused> {
    let mut parser = Parser::new(text)?;
    let filter = parser.filter()?;
    parser.skip_spaces();
    if parser.at != text.len() {
        return Err(parser.refuse("unexpected text after the filter"));
    }
    Ok(filter)
}

/// Parses a PATCH operation's `path`.
pub fn parse_path(text: &str) -> Result<AttrPath, Refused> {
    let mut parser = Parser::new(text)?;
    let path = parser.path(true)?;
    parser.skip_spaces();
    if parser.at != text.len() {
        return Err(parser.refuse("unexpected text after the path"));
    }
    Ok(path)
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Self, Refused> {
        if text.len() > MAX_LEN {
            return Err(Refused(format!("longer than {MAX_LEN} bytes")));
        }
        Ok(Self { text, at: 0, terms: 0 })
    }

    fn refuse(&self, why: &str) -> Refused {
        Refused(format!("{why} (at byte {})", self.at))
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start_matches(' ');
        self.at = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A word: a name, an operator or a literal.
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "_-:.$".contains(c))).unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    fn keyword(&mut self, keyword: &str) -> bool {
        let start = self.at;
        self.skip_spaces();
        let word = self.word();
        if word.eq_ignore_ascii_case(keyword) {
            return true;
        }
        self.at = start;
        false
    }

    fn filter(&mut self) -> Result<Filter, Refused> {
        let mut filter = self.term()?;
        while self.keyword("and") {
            let next = self.term()?;
            filter = Filter::And(Box::new(filter), Box::new(next));
        }
        let start = self.at;
        self.skip_spaces();
        let word = self.word();
        if word.eq_ignore_ascii_case("or") || word.eq_ignore_ascii_case("not") {
            return Err(self.refuse("only `and` joins comparisons here"));
        }
        self.at = start;
        Ok(filter)
    }

    fn term(&mut self) -> Result<Filter, Refused> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.refuse("too many comparisons"));
        }
        self.skip_spaces();
        if self.eat('(') {
            let inner = self.filter()?;
            self.skip_spaces();
            if !self.eat(')') {
                return Err(self.refuse("a `(` is not closed"));
            }
            return Ok(inner);
        }
        let path = self.path(false)?;
        self.skip_spaces();
        let op = self.word().to_ascii_lowercase();
        match op.as_str() {
            "pr" => Ok(Filter::Present(path)),
            "eq" => {
                self.skip_spaces();
                Ok(Filter::Eq(path, self.value()?))
            }
            "" => Err(self.refuse("an operator is missing")),
            other => Err(self.refuse(&format!("the operator `{other}` is not supported (only `eq` and `pr`)"))),
        }
    }

    fn value(&mut self) -> Result<Value, Refused> {
        if self.rest().starts_with('"') {
            // A JSON string: find its closing quote, skipping escaped characters.
            let bytes = self.rest().as_bytes();
            let mut i = 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            let Some(literal) = self.rest().get(..=i) else { return Err(self.refuse("a string is not closed")) };
            let value = serde_json::from_str(literal).map_err(|_| self.refuse("a string is not closed"))?;
            self.at += literal.len();
            return Ok(value);
        }
        let word = self.word();
        match word.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => serde_json::from_str::<serde_json::Number>(word)
                .map(Value::Number)
                .map_err(|_| self.refuse("a value must be a string, a number, true, false or null")),
        }
    }

    /// `[urn:…:]attr[.sub]`, or with `with_filter` also `attr[filter][.sub]`.
    fn path(&mut self, with_filter: bool) -> Result<AttrPath, Refused> {
        self.skip_spaces();
        let name = self.word();
        if name.is_empty() {
            return Err(self.refuse("an attribute name is missing"));
        }
        let lower = name.to_ascii_lowercase();
        let (extension, local) = match lower.strip_prefix("urn:") {
            None => (false, lower.as_str()),
            Some(_) => {
                // The schema's URN, then `:` and the attribute (whose `.` parts follow it).
                let core = CORE.iter().find(|urn| lower.len() > urn.len() && lower.starts_with(*urn));
                match core {
                    Some(urn) if lower.as_bytes()[urn.len()] == b':' => (false, &lower[urn.len() + 1..]),
                    _ => (true, lower.rsplit(':').next().unwrap_or_default()),
                }
            }
        };
        // The same cut of the name as written (lower-casing ASCII keeps every byte's place).
        let spelled_local = &name[name.len() - local.len()..];
        let mut spelled = match spelled_local.split_once('.') {
            Some((attr, sub)) => (attr.to_owned(), Some(sub.to_owned())),
            None => (spelled_local.to_owned(), None),
        };
        let (attr, mut sub) = match local.split_once('.') {
            Some((attr, sub)) => (attr.to_owned(), Some(sub.to_owned())),
            None => (local.to_owned(), None),
        };
        if attr.is_empty() || sub.as_deref().is_some_and(|s| s.is_empty() || s.contains('.')) {
            return Err(self.refuse("an attribute name is malformed"));
        }
        let mut filter = None;
        if with_filter && sub.is_none() && self.eat('[') {
            filter = Some(Box::new(self.filter()?));
            self.skip_spaces();
            if !self.eat(']') {
                return Err(self.refuse("a `[` is not closed"));
            }
            if self.eat('.') {
                let written = self.word();
                let next = written.to_ascii_lowercase();
                if next.is_empty() || next.contains('.') {
                    return Err(self.refuse("a sub-attribute name is malformed"));
                }
                sub = Some(next);
                spelled.1 = Some(written.to_owned());
            }
        } else if !with_filter && self.rest().starts_with('[') {
            // A value filter inside a filter: `emails[type eq "work"].value eq "…"`.
            self.at += 1;
            filter = Some(Box::new(self.filter()?));
            self.skip_spaces();
            if !self.eat(']') {
                return Err(self.refuse("a `[` is not closed"));
            }
            if self.eat('.') {
                sub = Some(self.word().to_ascii_lowercase());
            }
        }
        Ok(AttrPath { extension, attr, filter, sub, spelled })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(attr: &str, sub: Option<&str>) -> AttrPath {
        let spelled = (attr.to_owned(), sub.map(str::to_owned));
        AttrPath { extension: false, attr: attr.into(), filter: None, sub: sub.map(Into::into), spelled }
    }

    #[test]
    fn the_filters_identity_providers_send_parse() {
        assert_eq!(
            parse_filter(r#"userName eq "Bjensen@Example.com""#).unwrap(),
            Filter::Eq(path("username", None), json!("Bjensen@Example.com"))
        );
        assert_eq!(
            parse_filter(r#"externalId EQ "00u1""#).unwrap(),
            Filter::Eq(path("externalid", None), json!("00u1"))
        );
        let emails = parse_filter(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap();
        let Filter::Eq(p, v) = emails else { panic!() };
        assert_eq!((p.attr.as_str(), p.sub.as_deref(), v), ("emails", Some("value"), json!("a@b.c")));
        assert_eq!(p.filter.unwrap().terms().len(), 1);
        let urn = parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#).unwrap();
        assert_eq!(urn, Filter::Eq(path("username", None), json!("x")));
        let both = parse_filter(r#"(userName eq "a\"b") and externalId eq "c""#).unwrap();
        assert_eq!(both.terms().len(), 2);
        assert_eq!(both.terms()[0], &Filter::Eq(path("username", None), json!("a\"b")));
    }

    #[test]
    fn what_is_not_taken_is_refused() {
        for refused in [
            r#"userName co "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"userName eq "a"#,
            r#"userName eq"#,
            r#"userName eq "a" trailing"#,
            "(userName eq \"a\"",
            "",
            "userName eq bareword",
        ] {
            assert!(parse_filter(refused).is_err(), "{refused}");
        }
        let deep = format!("{}userName eq \"a\"{}", "(".repeat(20), ")".repeat(20));
        assert!(parse_filter(&deep).is_err());
        assert!(parse_filter(&"a".repeat(2000)).is_err());
    }

    #[test]
    fn patch_paths_parse() {
        assert!(parse_path("active").unwrap().is("active"));
        assert_eq!(parse_path("name.givenName").unwrap(), path("name", Some("givenname")));
        let member = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(member.attr, "members");
        assert!(member.filter.unwrap().matches(&json!({"value": "2819C223"})));
        let work = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(work.sub.as_deref(), Some("value"));
        let ext = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap();
        assert!(ext.extension && ext.attr == "manager");
        assert!(parse_path("members[value eq \"x\"").is_err());
        assert!(parse_path("a..b").is_err());
    }
}
