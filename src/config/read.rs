//! Reading each declared setting from what was gathered: its value, or its default; every
//! bad value collected with its advice, so that one run reports them all; and each setting's
//! line for `config check`, its value as written and where it came from.

use std::collections::{BTreeMap, BTreeSet};

use super::settings::{ALL, Described, Fallback, Setting, Shown};
use super::sources::Raw;
use crate::secret_url::SecretUrl;

/// One line of `config check`: a setting, its value as written (secrets masked), and where it
/// came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub name: String,
    pub value: String,
    /// `env`, `.env`, `gatehouse.toml`, `default`, or `default (computed)`; with the alias it
    /// was read under, if any.
    pub source: String,
}

/// Parses settings from what was gathered, collecting every problem so that one run reports
/// them all.
pub(super) struct Parser<'a> {
    raw: &'a BTreeMap<String, Raw>,
    pub problems: Vec<String>,
    /// Computed defaults, as used: shown by `config check`.
    computed: BTreeMap<&'static str, String>,
    /// Every setting asked for, so that one declared but never read is caught.
    read: BTreeSet<&'static str>,
}

impl<'a> Parser<'a> {
    pub fn new(raw: &'a BTreeMap<String, Raw>) -> Self {
        Parser { raw, problems: Vec::new(), computed: BTreeMap::new(), read: BTreeSet::new() }
    }

    /// The setting's value, or its default.
    pub fn get<T>(&mut self, setting: &Setting<T>) -> Option<T> {
        match setting.default {
            Fallback::Value(default) => self.parse(setting, Some(default)),
            Fallback::Computed(_) | Fallback::Unset => self.parse(setting, None),
        }
    }

    /// The setting's value, or the default computed at start.
    pub fn get_or<T>(&mut self, setting: &Setting<T>, computed: &str) -> Option<T> {
        if self.written(setting).is_none() {
            self.computed.insert(setting.name, computed.to_owned());
        }
        self.parse(setting, Some(computed))
    }

    /// `Some(None)` when unset, `Some(Some(v))` when set and valid, `None` when invalid.
    pub fn optional<T>(&mut self, setting: &Setting<T>) -> Option<Option<T>> {
        self.read.insert(setting.name);
        match self.written(setting) {
            None => Some(None),
            Some(_) => self.parse(setting, None).map(Some),
        }
    }

    /// Everything gathered, for the settings that are not declared one by one (providers).
    pub fn raw(&self) -> &'a BTreeMap<String, Raw> {
        self.raw
    }

    /// The setting's text as written, if it was written and is not blank.
    pub fn written(&self, setting: &dyn Described) -> Option<&str> {
        self.raw.get(setting.name()).map(|raw| raw.value.trim()).filter(|value| !value.is_empty())
    }

    /// The name the setting's value was read under: an alias, or its own.
    pub fn read_as(&self, setting: &dyn Described) -> &'static str {
        self.raw.get(setting.name()).and_then(|raw| raw.alias).unwrap_or(setting.name())
    }

    fn parse<T>(&mut self, setting: &Setting<T>, default: Option<&str>) -> Option<T> {
        self.read.insert(setting.name);
        let value = self.written(setting).map(str::to_owned).or(default.map(str::to_owned))?;
        match (setting.parse)(&value) {
            Ok(parsed) => Some(parsed),
            Err(advice) => {
                let problem = match setting.shown {
                    Shown::Plain => format!("{}={value:?} is not valid: {advice}", self.read_as(setting)),
                    Shown::Url | Shown::Secret => format!("{} is not valid: {advice}", self.read_as(setting)),
                };
                self.problems.push(problem);
                None
            }
        }
    }

    /// Every setting as `config check` shows it: the value as written (or the default), secrets
    /// masked, and where it came from. Debug builds (so every test) first check that
    /// `Config::parse` read every declared setting.
    pub fn effective(&self) -> Vec<Effective> {
        let unread: Vec<_> = ALL.iter().map(|s| s.name()).filter(|name| !self.read.contains(name)).collect();
        debug_assert!(unread.is_empty(), "declared in settings.rs but never read by Config::parse: {unread:?}");
        ALL.iter().map(|setting| self.shown(*setting)).collect()
    }

    /// One setting's line; an unset one reads `(unset)`, whatever the text of a set one.
    fn shown(&self, setting: &dyn Described) -> Effective {
        let name = setting.name();
        let (value, source) = match (self.raw.get(name), self.written(setting)) {
            (Some(raw), Some(written)) => {
                let source = match raw.alias {
                    Some(alias) => format!("{} as {alias}", raw.source.as_str()),
                    None => raw.source.as_str().to_owned(),
                };
                (Some(written.to_owned()), source)
            }
            _ => match setting.default() {
                Fallback::Value(default) => (Some(default.to_owned()), "default".to_owned()),
                Fallback::Computed(how) => {
                    let value = self.computed.get(name).cloned().unwrap_or_else(|| how.to_owned());
                    (Some(value), "default (computed)".to_owned())
                }
                Fallback::Unset => (None, "default".to_owned()),
            },
        };
        let value = match (value, setting.shown()) {
            (None, _) => "(unset)".to_owned(),
            (Some(value), Shown::Plain) => value,
            (Some(value), Shown::Url) => SecretUrl::new(&value).masked(),
            (Some(_), Shown::Secret) => "***".to_owned(),
        };
        Effective { name: name.to_owned(), value, source }
    }
}
