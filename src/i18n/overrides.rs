//! The operator's texts and layouts from `GATEHOUSE_TEMPLATES_DIR`: `en.ftl`, `de.ftl`,
//! `fr.ftl`, `es.ftl` (any of gatehouse's messages, replacing the built-in ones) and
//! `email.html`, `email.txt` (the emails' layouts). Each is checked before gatehouse starts: a
//! file that does not parse, a message gatehouse has no use for (a misspelt name) and a text
//! that does not resolve (an unknown `$variable`) are problems naming the file and line.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use fluent_bundle::{FluentResource, FluentValue};
use fluent_syntax::ast;

use super::{Catalog, Locale};

/// The layouts an operator may replace.
pub(super) const LAYOUTS: [&str; 2] = ["email.html", "email.txt"];

/// One operator file and its text.
pub(super) struct File {
    pub path: PathBuf,
    pub source: String,
}

impl File {
    /// The file's messages; `read` has made sure it parses.
    pub fn parse(&self) -> FluentResource {
        FluentResource::try_new(self.source.clone()).unwrap_or_else(|(resource, _)| resource)
    }

    /// `path:line` of the byte at `at`.
    fn at(&self, at: usize) -> String {
        let before = &self.source[..at.min(self.source.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.path.display())
    }

    /// `path:line` of the message `id`'s definition.
    fn line_of(&self, id: &str) -> String {
        let mut at = 0;
        for line in self.source.split_inclusive('\n') {
            if line.strip_prefix(id).is_some_and(|rest| rest.trim_start().starts_with('=')) {
                break;
            }
            at += line.len();
        }
        let line = self.source[..at.min(self.source.len())].matches('\n').count() + 1;
        format!("{}:{line}", self.path.display())
    }
}

/// What the directory holds.
#[derive(Default)]
pub(super) struct Found {
    pub texts: HashMap<Locale, File>,
    /// By layout name (`email.html`).
    pub layouts: HashMap<&'static str, File>,
}

/// Reads the directory; every file must be one gatehouse reads, and every `.ftl` must parse.
pub(super) fn read(dir: &Path) -> Result<Found, Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| vec![format!("GATEHOUSE_TEMPLATES_DIR {}: cannot be read ({e})", dir.display())])?;
    let mut found = Found::default();
    let mut problems = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| vec![format!("GATEHOUSE_TEMPLATES_DIR {}: {e}", dir.display())])?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => {
                problems.push(format!("{}: cannot be read ({e})", path.display()));
                continue;
            }
        };
        let file = File { path, source };
        if let Some(locale) = name.strip_suffix(".ftl").and_then(Locale::parse).filter(|l| name == format!("{l}.ftl")) {
            if let Err((_, errors)) = FluentResource::try_new(file.source.clone()) {
                problems.extend(errors.iter().map(|e| format!("{}: {e}", file.at(e.pos.start))));
            }
            found.texts.insert(locale, file);
        } else if let Some(layout) = LAYOUTS.into_iter().find(|&layout| layout == name) {
            found.layouts.insert(layout, file);
        } else {
            problems.push(format!(
                "{}: not a file gatehouse reads; the templates directory holds en.ftl, de.ftl, fr.ftl, es.ftl, \
                 email.html and email.txt",
                file.path.display()
            ));
        }
    }
    match problems.is_empty() {
        true => Ok(found),
        false => Err(problems),
    }
}

/// The messages of a resource: each id with its attributes.
pub(super) fn messages(resource: &FluentResource) -> Vec<(String, BTreeSet<String>)> {
    resource
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => {
                Some((message.id.name.to_owned(), message.attributes.iter().map(|a| a.id.name.to_owned()).collect()))
            }
            _ => None,
        })
        .collect()
}

/// Values for every variable a message may use, to resolve each text once at start.
pub(super) fn sample_args() -> Vec<(&'static str, FluentValue<'static>)> {
    let text = |s: &'static str| FluentValue::from(s);
    vec![
        ("valid", text("1 hour")),
        ("provider", text("Example")),
        ("address", text("someone@example.com")),
        ("name", text("Laptop")),
        ("email", text("someone@example.com")),
        ("who", text("someone@example.com")),
        ("client", text("Example app")),
        ("app", text("app.example.com")),
        ("org", text("Acme")),
        ("role", text("admin")),
        ("code", text("WDJB-MJHT")),
        ("reason", text("Ticket 4411")),
        ("connection", text("0193f1e2-0000-7000-8000-000000000001")),
        ("idp", text("https://idp.example.com/metadata")),
        ("keys", text("SHA256:AB:CD")),
        ("left", FluentValue::from(3)),
        ("n", FluentValue::from(2)),
    ]
}

/// The operator's messages: each must be one of gatehouse's, and resolve.
pub(super) fn check(catalog: &Catalog, found: &Found) -> Vec<String> {
    let english =
        FluentResource::try_new(super::builtin(Locale::En).to_owned()).unwrap_or_else(|(resource, _)| resource);
    let known: HashMap<String, BTreeSet<String>> = messages(&english).into_iter().collect();
    let args = sample_args();
    let mut problems = Vec::new();
    for (&locale, file) in &found.texts {
        for (id, attributes) in messages(&file.parse()) {
            let Some(known_attributes) = known.get(&id) else {
                problems.push(format!("{}: `{id}` is not one of gatehouse's messages", file.line_of(&id)));
                continue;
            };
            let missing: Vec<&String> = known_attributes.difference(&attributes).collect();
            if !missing.is_empty() {
                let missing: Vec<String> = missing.iter().map(|a| format!("`.{a}`")).collect();
                problems.push(format!(
                    "{}: `{id}` lacks {}: a message replaces the built-in one whole, so give every part",
                    file.line_of(&id),
                    missing.join(", ")
                ));
            }
            let keys =
                attributes.iter().map(|attribute| (format!("{id}.{attribute}"), known_attributes.contains(attribute)));
            for (key, is_known) in keys.chain(std::iter::once((id.clone(), true))) {
                if !is_known {
                    problems.push(format!("{}: `{key}` is not one of gatehouse's messages", file.line_of(&id)));
                    continue;
                }
                if key == id && catalog.bundles[super::index(locale)].get_message(&id).and_then(|m| m.value()).is_none()
                {
                    continue;
                }
                if let Err((_, why)) = catalog.format(locale, &key, &args) {
                    problems.push(format!("{}: `{key}`: {why}", file.line_of(&id)));
                }
            }
        }
    }
    problems.sort();
    problems
}
