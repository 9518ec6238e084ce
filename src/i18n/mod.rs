//! The languages gatehouse speaks and the brand it wears: every email and page in English,
//! German, French or Spanish, under the operator's product name, logo and accent colour.
//!
//! The texts are Fluent messages (`locales/*.ftl`, built in); an operator overrides any of them,
//! and the emails' layouts, from `GATEHOUSE_TEMPLATES_DIR` (`overrides.rs`), checked when the
//! configuration is read so that a broken file stops the start with its file and line. The
//! emails' layouts are templates (`layout.rs`). Who gets which language: an account's `locale`
//! when it has one, else the language its browser asks for (`Accept-Language`), else
//! `GATEHOUSE_DEFAULT_LOCALE`.

mod layout;
mod overrides;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use url::Url;

pub use self::layout::{Block, Composed};

pub use crate::model::locale::Locale;

/// The texts gatehouse ships in `locale`.
fn builtin(locale: Locale) -> &'static str {
    match locale {
        Locale::En => include_str!("locales/en.ftl"),
        Locale::De => include_str!("locales/de.ftl"),
        Locale::Fr => include_str!("locales/fr.ftl"),
        Locale::Es => include_str!("locales/es.ftl"),
    }
}

/// Where `locale` stands in [`Locale::ALL`].
fn index(locale: Locale) -> usize {
    Locale::ALL.iter().position(|&l| l == locale).unwrap_or(0)
}

/// How the texts are chosen and dressed: the configuration's part of them.
#[derive(Clone, Debug)]
pub struct Options {
    /// `GATEHOUSE_DEFAULT_LOCALE`.
    pub default_locale: Locale,
    /// `GATEHOUSE_PRODUCT_NAME`, or the host people use gatehouse (or the app) at.
    pub product_name: String,
    /// The address people use gatehouse at, as texts name it.
    pub site: String,
    /// `GATEHOUSE_LOGO_URL`.
    pub logo_url: Option<Url>,
    /// `GATEHOUSE_ACCENT_COLOR`: `#rgb` or `#rrggbb`.
    pub accent_color: String,
    /// `GATEHOUSE_TEMPLATES_DIR`.
    pub templates_dir: Option<PathBuf>,
}

impl Options {
    /// The built-in texts under a plain brand (tests and tools).
    pub fn plain(site: &str) -> Options {
        Options {
            default_locale: Locale::En,
            product_name: site.trim_start_matches("https://").trim_start_matches("http://").to_owned(),
            site: site.to_owned(),
            logo_url: None,
            accent_color: DEFAULT_ACCENT.to_owned(),
            templates_dir: None,
        }
    }
}

/// `GATEHOUSE_ACCENT_COLOR`'s default.
pub const DEFAULT_ACCENT: &str = "#1f4f82";

/// Whether a colour is `#rgb` or `#rrggbb`, the only forms placed into styles.
pub fn is_hex_color(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every text in every language, with the operator's overrides and layouts.
pub struct Catalog {
    bundles: Vec<FluentBundle<FluentResource>>,
    options: Options,
    layouts: layout::Layouts,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Catalog {
    /// The built-in texts and layouts with the operator's from `templates_dir`, each checked:
    /// the problems name the file and line.
    pub fn load(options: &Options) -> Result<Catalog, Vec<String>> {
        let found = match &options.templates_dir {
            Some(dir) => overrides::read(dir)?,
            None => overrides::Found::default(),
        };
        let mut bundles = Vec::new();
        for locale in Locale::ALL {
            let langid = locale.as_str().parse().map_err(|e| vec![format!("{locale}: {e}")])?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            bundle.set_use_isolating(false);
            let builtin = FluentResource::try_new(builtin(locale).to_owned())
                .map_err(|(_, errors)| vec![format!("the built-in {locale} texts do not parse: {errors:?}")])?;
            bundle.add_resource(builtin).map_err(|e| vec![format!("the built-in {locale} texts: {e:?}")])?;
            if let Some(resource) = found.texts.get(&locale) {
                bundle.add_resource_overriding(resource.parse());
            }
            bundles.push(bundle);
        }
        let layouts = layout::Layouts::new(&found.layouts)?;
        let catalog = Catalog { bundles, options: options.clone(), layouts };
        let mut problems = overrides::check(&catalog, &found);
        problems.extend(catalog.layouts.check(&catalog));
        match problems.is_empty() {
            true => Ok(catalog),
            false => Err(problems),
        }
    }

    /// The built-in texts only; for tests and tools, where they cannot fail.
    pub fn builtin(options: &Options) -> Catalog {
        let options = Options { templates_dir: None, ..options.clone() };
        Catalog::load(&options).unwrap_or_else(|problems| panic!("the built-in texts are broken: {problems:?}"))
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The language of someone whose account says `locale` (or nothing).
    pub fn pick(&self, locale: Option<Locale>) -> Locale {
        locale.unwrap_or(self.options.default_locale)
    }

    /// The text of `key` (`message` or `message.attribute`) in `locale`, with `args` and the
    /// product name and site. A text that cannot be resolved is logged and shown as far as it
    /// goes (Fluent's own fallback), never refused: an email must still go out.
    pub fn text(&self, locale: Locale, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        match self.format(locale, key, args) {
            Ok(text) => text,
            Err((text, why)) => {
                tracing::warn!(locale = %locale, key, problem = %why, "a text could not be fully resolved");
                text
            }
        }
    }

    /// The text of `key` when the catalog has that message (one without arguments).
    pub fn lookup(&self, locale: Locale, key: &str) -> Option<String> {
        self.format(locale, key, &[]).ok()
    }

    /// As [`Catalog::text`], with the problem when the text did not resolve cleanly.
    fn format(&self, locale: Locale, key: &str, args: &[(&str, FluentValue<'_>)]) -> Result<String, (String, String)> {
        let bundle = &self.bundles[index(locale)];
        let (id, attribute) = match key.split_once('.') {
            Some((id, attribute)) => (id, Some(attribute)),
            None => (key, None),
        };
        let message = bundle.get_message(id).ok_or_else(|| (key.to_owned(), "no such message".to_owned()))?;
        let pattern = match attribute {
            Some(name) => message.get_attribute(name).map(|a| a.value()),
            None => message.value(),
        }
        .ok_or_else(|| (key.to_owned(), "no such message".to_owned()))?;
        let mut fluent_args = FluentArgs::new();
        fluent_args.set("product", self.options.product_name.as_str());
        fluent_args.set("site", self.options.site.as_str());
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned();
        match errors.is_empty() {
            true => Ok(text),
            false => Err((text, errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))),
        }
    }

    /// An email's text and HTML parts from its subject and blocks, through the layouts.
    pub fn compose(&self, locale: Locale, composed: &Composed) -> (String, String) {
        self.layouts.render(self, locale, composed)
    }

    /// How long a link lives, in words ("2 hours").
    pub fn lifetime(&self, locale: Locale, ttl: std::time::Duration) -> String {
        let secs = ttl.as_secs();
        let (key, n) = match secs {
            s if s % 86_400 == 0 && s >= 86_400 => ("duration-days", s / 86_400),
            s if s % 3_600 == 0 && s >= 3_600 => ("duration-hours", s / 3_600),
            s if s >= 60 => ("duration-minutes", s / 60),
            s => ("duration-seconds", s),
        };
        self.text(locale, key, &[("n", n.into())])
    }
}
