//! Where settings are read from: `gatehouse.toml`, then `.env`, then the process environment
//! (the later source wins), with the names other services use accepted as aliases. Each value
//! keeps its source, so `config check` can say where it came from.

use std::collections::BTreeMap;
use std::path::Path;

use super::provider_names::is_provider_variable;
use super::settings::{ALIASES, FOREIGN, find};

/// Where a value was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Env,
    DotEnv,
    Toml,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Env => "env",
            Source::DotEnv => ".env",
            Source::Toml => "gatehouse.toml",
        }
    }
}

/// A setting's text as read.
#[derive(Clone, Debug)]
pub struct Raw {
    pub value: String,
    pub source: Source,
    /// The name it was read under, where that was an alias (`DATABASE_URL`).
    pub alias: Option<&'static str>,
}

/// The values of gatehouse's settings, by their `GATEHOUSE_` name, and the warnings about
/// names that were read and ignored.
#[derive(Debug, Default)]
pub struct Gathered {
    pub values: BTreeMap<String, Raw>,
    pub warnings: Vec<String>,
}

/// Keeps gatehouse's settings among `vars` (in order of increasing precedence): unknown
/// `GATEHOUSE_*` names and names of other services become warnings; an alias fills its
/// setting only where the `GATEHOUSE_` name is not set.
pub fn gather(vars: impl IntoIterator<Item = (String, String, Source)>) -> Gathered {
    let mut gathered = Gathered::default();
    // By setting: as for every name, a later source replaces an earlier one.
    let mut aliased = BTreeMap::new();
    for (key, value, source) in vars {
        if let Some((alias, target)) = ALIASES.iter().find(|(alias, _)| *alias == key) {
            aliased.insert(*target, Raw { value, source, alias: Some(alias) });
        } else if let Some((_, advice)) = FOREIGN.iter().find(|(name, _)| *name == key) {
            gathered.warnings.push((*advice).to_owned());
        } else if key.starts_with("GATEHOUSE_") {
            if find(&key).is_none() && !key.starts_with("GATEHOUSE_TEST_") && !is_provider_variable(&key) {
                gathered.warnings.push(format!("unknown setting {key} is ignored; check its spelling"));
            }
            gathered.values.insert(key, Raw { value, source, alias: None });
        }
    }
    for (target, raw) in aliased {
        gathered.values.entry(target.to_owned()).or_insert(raw);
    }
    gathered
}

/// Reads `gatehouse.toml` (if present) then `.env` (if present), each value with its source.
pub fn read_files() -> Result<Vec<(String, String, Source)>, Vec<String>> {
    let mut vars = Vec::new();
    let mut problems = Vec::new();
    match read_toml(Path::new("gatehouse.toml")) {
        Ok(toml) => vars.extend(toml.into_iter().map(|(k, v)| (k, v, Source::Toml))),
        Err(problem) => problems.push(problem),
    }
    if let Ok(iter) = dotenvy::from_path_iter(".env") {
        for item in iter {
            match item {
                Ok((key, value)) => vars.push((key, value, Source::DotEnv)),
                Err(err) => problems.push(format!(".env: {err}; fix the line or remove the file")),
            }
        }
    }
    if problems.is_empty() { Ok(vars) } else { Err(problems) }
}

/// Reads `gatehouse.toml`: keys are the setting names without the prefix, in lower case
/// (`bind = "0.0.0.0:8080"`, `session_ttl = "12h"`); a provider's are in a table of its own
/// (`[oidc.google]` with `client_id = "…"` is `GATEHOUSE_OIDC_GOOGLE_CLIENT_ID`).
fn read_toml(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(vars);
    };
    let table: toml::Table =
        text.parse().map_err(|e| format!("{}: {e}; fix the syntax or remove the file", path.display()))?;
    let mut entries: Vec<(String, toml::Value)> = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(providers) if key == "oidc" => {
                for (provider, fields) in providers {
                    let toml::Value::Table(fields) = fields else {
                        return Err(format!("{}: `oidc.{provider}` must be a table of its settings", path.display()));
                    };
                    for (field, value) in fields {
                        entries.push((format!("oidc_{provider}_{field}"), value));
                    }
                }
            }
            value => entries.push((key, value)),
        }
    }
    for (key, value) in entries {
        let name = format!("GATEHOUSE_{}", key.to_ascii_uppercase());
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "{}: `{key}` must be a string or a number, not {}",
                    path.display(),
                    other.type_str()
                ));
            }
        };
        vars.insert(name, value);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather_from(vars: &[(&str, &str, Source)]) -> Gathered {
        gather(vars.iter().map(|(name, value, source)| (name.to_string(), value.to_string(), *source)))
    }

    #[test]
    fn an_alias_in_the_environment_wins_over_the_same_alias_in_dotenv() {
        let gathered = gather_from(&[
            ("DATABASE_URL", "sqlite://dotenv.db", Source::DotEnv),
            ("DATABASE_URL", "sqlite://env.db", Source::Env),
        ]);

        let raw = &gathered.values["GATEHOUSE_DATABASE_URL"];
        assert_eq!((raw.value.as_str(), raw.source, raw.alias), ("sqlite://env.db", Source::Env, Some("DATABASE_URL")));
    }

    #[test]
    fn the_gatehouse_name_wins_over_an_alias_from_any_source() {
        let gathered = gather_from(&[
            ("GATEHOUSE_DATABASE_URL", "sqlite://toml.db", Source::Toml),
            ("DATABASE_URL", "sqlite://env.db", Source::Env),
        ]);

        let raw = &gathered.values["GATEHOUSE_DATABASE_URL"];
        assert_eq!((raw.value.as_str(), raw.source, raw.alias), ("sqlite://toml.db", Source::Toml, None));
    }
}
