//! The migrations after release 0.1.0, which only add (see `migrations/additive/README.md`):
//! each backend's files, embedded, and the rule they are held to. `store/sql/additive.rs`
//! applies them.

use sha2::{Digest, Sha256};

/// One migration file of one backend.
#[derive(Debug)]
pub struct Additive {
    /// `NNNN_name.sql`.
    pub file: &'static str,
    pub sql: &'static str,
}

/// The migration files of a backend's directory, embedded in the binary.
macro_rules! additive {
    ($dir:literal: $($file:literal),* $(,)?) => {
        &[$($crate::store::migrations::Additive {
            file: $file,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/additive/", $dir, "/", $file)),
        }),*]
    };
}

impl Additive {
    pub fn version(&self) -> i64 {
        self.file.get(..4).and_then(|v| v.parse().ok()).unwrap_or_default()
    }

    pub fn name(&self) -> &'static str {
        self.file.get(5..).and_then(|n| n.strip_suffix(".sql")).unwrap_or(self.file)
    }

    /// The SHA-256 of the file, in hex: a released migration is never edited, and a database
    /// that applied another text of a version this binary knows stops the start.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The file's statements: each ends with `;` at the end of a line; `--` lines are comments.
    pub fn statements(&self) -> Vec<String> {
        let code: String = self
            .sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .map(|line| format!("{line}\n"))
            .collect();
        code.split(";\n").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }
}

/// SQLite's, PostgreSQL's and MySQL's, in order.
pub const SQLITE: &[Additive] = additive!("sqlite": "0026_client_policy.sql");
pub const POSTGRES: &[Additive] = additive!("postgres": "0026_client_policy.sql");
pub const MYSQL: &[Additive] = additive!("mysql": "0026_client_policy.sql");

/// What the start found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The versions this start applied.
    pub now: Vec<i64>,
    /// Versions a newer release applied, which this binary does not know: it runs on them,
    /// as the upgrade contract promises.
    pub newer: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &str) -> Vec<String> {
        let path = format!("{}/migrations/additive/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> =
            std::fs::read_dir(path).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    /// Every file of each backend's directory is embedded, in order, and every backend has
    /// every version.
    #[test]
    fn every_file_is_embedded_and_every_backend_has_every_version() {
        let embedded = |list: &[Additive]| list.iter().map(|m| m.file.to_owned()).collect::<Vec<_>>();
        assert_eq!(embedded(SQLITE), files("sqlite"));
        assert_eq!(embedded(POSTGRES), files("postgres"));
        assert_eq!(embedded(MYSQL), files("mysql"));
        assert_eq!(files("sqlite"), files("postgres"));
        assert_eq!(files("sqlite"), files("mysql"));
        for (i, m) in SQLITE.iter().enumerate() {
            assert_eq!(m.version(), 26 + i as i64, "{}: versions follow 0.1.0's 25 without a gap", m.file);
            assert!(m.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", m.file);
        }
    }

    /// Why a statement is not additive, if it is not.
    fn not_additive(statement: &str, file_creates: &[String]) -> Option<String> {
        let words: Vec<String> = statement.split_whitespace().map(str::to_uppercase).collect();
        let text = words.join(" ");
        let table_created_here = |name: &str| file_creates.iter().any(|t| t.eq_ignore_ascii_case(name));
        if text.starts_with("CREATE TABLE ") {
            return None;
        }
        if text.starts_with("CREATE INDEX ") {
            return None;
        }
        if text.starts_with("CREATE UNIQUE INDEX ") {
            let on = words.iter().position(|w| w == "ON").and_then(|i| words.get(i + 1));
            return match on {
                Some(table) if table_created_here(table) => None,
                _ => Some(
                    "a unique index on a table of an earlier release (rows the older binary writes could break it)"
                        .into(),
                ),
            };
        }
        if text.starts_with("ALTER TABLE ") && words.get(3).map(String::as_str) == Some("ADD") {
            let changes = |w: &String| ["DROP", "RENAME", "MODIFY", "CHANGE", "CONSTRAINT"].contains(&w.as_str());
            if words.iter().any(changes) || words.iter().filter(|w| *w == "ALTER").count() > 1 {
                return Some("an ALTER TABLE that also changes or constrains what exists".into());
            }
            let column = words.get(4).map(String::as_str) == Some("COLUMN");
            if !column {
                return Some("ALTER TABLE … ADD of something other than a column".into());
            }
            if text.contains("NOT NULL") && !text.contains(" DEFAULT ") {
                return Some("a NOT NULL column without a default (the older binary's inserts would fail)".into());
            }
            return None;
        }
        Some("neither CREATE TABLE, CREATE INDEX nor ALTER TABLE … ADD COLUMN".into())
    }

    fn created_tables(migration: &Additive) -> Vec<String> {
        migration
            .statements()
            .iter()
            .filter_map(|s| {
                let words: Vec<&str> = s.split_whitespace().collect();
                (words.len() > 2 && words[0].eq_ignore_ascii_case("CREATE") && words[1].eq_ignore_ascii_case("TABLE"))
                    .then(|| {
                        words[2..]
                            .iter()
                            .find(|w| !["IF", "NOT", "EXISTS"].contains(&w.to_uppercase().as_str()))
                            .map(|w| w.to_string())
                    })
                    .flatten()
            })
            .collect()
    }

    /// The upgrade contract's rule: every statement of every additive migration only adds.
    #[test]
    fn every_statement_only_adds() {
        for migration in SQLITE.iter().chain(POSTGRES).chain(MYSQL) {
            let creates = created_tables(migration);
            for statement in migration.statements() {
                if let Some(why) = not_additive(&statement, &creates) {
                    panic!("{}: `{statement}` is not additive: {why}", migration.file);
                }
            }
        }
    }

    /// The rule refuses what would lock the older release out (the check can fail).
    #[test]
    fn the_rule_refuses_what_is_not_additive() {
        let refused = [
            "DROP TABLE sessions",
            "ALTER TABLE accounts DROP COLUMN locale",
            "ALTER TABLE accounts RENAME COLUMN name TO full_name",
            "ALTER TABLE accounts MODIFY COLUMN name TEXT NOT NULL",
            "ALTER TABLE accounts ALTER COLUMN name SET NOT NULL",
            "ALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL",
            "ALTER TABLE accounts ADD CONSTRAINT one_name UNIQUE (name)",
            "CREATE UNIQUE INDEX accounts_by_name ON accounts (name)",
            "UPDATE accounts SET locale = 'en'",
            "DELETE FROM sessions",
        ];
        for statement in refused {
            assert!(not_additive(statement, &[]).is_some(), "{statement} passed");
        }
        let taken = [
            "CREATE TABLE things (id TEXT PRIMARY KEY NOT NULL)",
            "CREATE INDEX things_by_id ON things (id)",
            "ALTER TABLE accounts ADD COLUMN tier TEXT",
            "ALTER TABLE accounts ADD COLUMN tier TEXT NOT NULL DEFAULT 'free'",
        ];
        for statement in taken {
            assert_eq!(not_additive(statement, &[]), None, "{statement}");
        }
        assert_eq!(not_additive("CREATE UNIQUE INDEX t_by_x ON things (x)", &["things".into()]), None);
    }

    #[test]
    fn a_file_splits_into_its_statements_without_comments() {
        let m = Additive {
            file: "0026_example.sql",
            sql: "-- one; two\nALTER TABLE a ADD COLUMN b TEXT;\n-- three\nCREATE INDEX a_by_b\n    ON a (b);\n",
        };
        assert_eq!(m.statements(), ["ALTER TABLE a ADD COLUMN b TEXT", "CREATE INDEX a_by_b\n    ON a (b)"]);
        assert_eq!((m.version(), m.name()), (26, "example"));
    }
}
