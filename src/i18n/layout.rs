//! The emails' layouts: `email.txt` (the plain-text part, in which a link and a code stand on
//! lines of their own) and `email.html`, templates an operator may replace. A layout is given
//! the email's subject and blocks (paragraphs, a link with its button label, a code), the
//! language and the brand; the HTML one escapes everything it prints. A name a layout uses that
//! it is not given is an error, found when the layouts are checked at start.

use std::collections::HashMap;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, context};
use serde::Serialize;

use super::overrides::{File, LAYOUTS};
use super::{Catalog, Locale};

const EMAIL_HTML: &str = r#"<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family:sans-serif;max-width:560px;margin:24px auto;padding:0 12px;color:#222">
{%- if logo_url %}
<p><img src="{{ logo_url }}" alt="{{ product_name }}" style="max-height:48px"></p>
{%- endif %}
<h2>{{ subject }}</h2>
{%- for block in blocks %}
{%- if block.kind == "link" %}
<p><a href="{{ block.url }}" style="display:inline-block;padding:10px 16px;background:{{ accent_color }};color:#fff;text-decoration:none;border-radius:4px">{{ block.label }}</a></p>
<p style="font-size:12px;color:#555">{{ block.url }}</p>
{%- elif block.kind == "code" %}
<p style="font-family:monospace;font-size:22px;letter-spacing:3px">{{ block.text }}</p>
{%- else %}
<p>{{ block.text }}</p>
{%- endif %}
{%- endfor %}
<hr style="border:none;border-top:1px solid #ddd;margin-top:24px">
<p style="font-size:12px;color:#777">{{ footer }}</p>
</body></html>
"#;

const EMAIL_TXT: &str = "{% for block in blocks %}{% if block.kind == \"link\" %}{{ block.url }}\
{% else %}{{ block.text }}{% endif %}\n\n{% endfor %}-- \n{{ footer }}\n";

/// One part of an email's body, in order.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        text: String,
    },
    /// A link, with the label of its button in HTML; alone on its line in text.
    Link {
        label: String,
        url: String,
    },
    /// A code to type, alone on its line.
    Code {
        text: String,
    },
}

/// An email before its layout: the subject and the blocks of the body.
#[derive(Debug)]
pub struct Composed {
    pub subject: String,
    pub blocks: Vec<Block>,
}

/// The two layouts, the operator's where given.
pub(super) struct Layouts {
    env: Environment<'static>,
}

impl Layouts {
    pub fn new(given: &HashMap<&'static str, File>) -> Result<Layouts, Vec<String>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A layout's last newline is kept: the text part ends with one, as text files do.
        if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
            env.set_syntax(syntax);
        }
        // HTML-escape as the pages do: `&<>"'`, leaving a URL's slashes readable (and
        // findable) in the HTML part.
        env.set_formatter(|out, state, value| match state.auto_escape() {
            AutoEscape::Html if !value.is_safe() && !value.is_undefined() && !value.is_none() => {
                let escaped = html_escape::encode_quoted_attribute(&value.to_string()).into_owned();
                out.write_str(&escaped).map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string()))
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        let mut problems = Vec::new();
        for name in LAYOUTS {
            let (source, path) = match given.get(name) {
                Some(file) => (file.source.clone(), Some(file.path.display().to_string())),
                None => (if name == "email.html" { EMAIL_HTML } else { EMAIL_TXT }.to_owned(), None),
            };
            if let Err(error) = env.add_template_owned(name, source) {
                problems.push(describe(&error, path.as_deref().unwrap_or(name)));
            }
        }
        match problems.is_empty() {
            true => Ok(Layouts { env }),
            false => Err(problems),
        }
    }

    /// Renders both parts; a layout that fails (it was checked at start) falls back to the
    /// built-in one, so that the email still goes out.
    pub fn render(&self, catalog: &Catalog, locale: Locale, composed: &Composed) -> (String, String) {
        let render = |name: &str| {
            self.render_one(catalog, locale, composed, name).unwrap_or_else(|error| {
                tracing::error!(layout = name, %error, "the email layout failed; the built-in one is used");
                let fallback = Layouts::new(&HashMap::new()).ok();
                fallback.and_then(|l| l.render_one(catalog, locale, composed, name).ok()).unwrap_or_default()
            })
        };
        (render("email.txt"), render("email.html"))
    }

    fn render_one(
        &self,
        catalog: &Catalog,
        locale: Locale,
        composed: &Composed,
        name: &str,
    ) -> Result<String, minijinja::Error> {
        let options = catalog.options();
        let footer = catalog.text(locale, "email-footer", &[]);
        self.env.get_template(name)?.render(context! {
            lang => locale.as_str(),
            subject => &composed.subject,
            blocks => minijinja::value::Serde(&composed.blocks),
            product_name => &options.product_name,
            site => &options.site,
            logo_url => options.logo_url.as_ref().map(|url| url.as_str()),
            accent_color => &options.accent_color,
            footer => footer,
        })
    }

    /// Renders a sample email through each layout; the problems name the file and line.
    pub fn check(&self, catalog: &Catalog) -> Vec<String> {
        let sample = Composed {
            subject: "Subject".into(),
            blocks: vec![
                Block::Paragraph { text: "Paragraph".into() },
                Block::Link { label: "Button".into(), url: "https://id.example.com/activate?token=t".into() },
                Block::Code { text: "01234567".into() },
            ],
        };
        let dir = catalog.options().templates_dir.as_ref();
        LAYOUTS
            .into_iter()
            .filter_map(|name| {
                let error = self.render_one(catalog, Locale::En, &sample, name).err()?;
                let path = dir.map_or(name.to_owned(), |dir| dir.join(name).display().to_string());
                Some(describe(&error, &path))
            })
            .collect()
    }
}

/// `path:line: what` of a template error.
fn describe(error: &minijinja::Error, path: &str) -> String {
    let what = error.detail().map_or_else(|| error.kind().to_string(), |detail| format!("{}: {detail}", error.kind()));
    match error.line() {
        Some(line) => format!("{path}:{line}: {what}"),
        None => format!("{path}: {what}"),
    }
}
