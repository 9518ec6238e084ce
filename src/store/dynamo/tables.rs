//! The tables' names (from the URL's prefix), their shape, and creating or checking them.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification,
};

/// The names of the store's tables: `<prefix>main`, `<prefix>jobs`, `<prefix>audit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    pub main: String,
    pub jobs: String,
    pub audit: String,
}

/// The longest prefix: DynamoDB's table names are at most 255 characters.
const MAX_PREFIX: usize = 200;

/// What a `dynamodb://<prefix>[?region=…&endpoint=…]` URL names: the tables, and optionally
/// the region and the endpoint (a local engine's address), which otherwise come from the AWS
/// configuration (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub tables: Tables,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

impl Target {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("dynamodb://")
            .context("a DynamoDB database URL starts with dynamodb://, followed by the tables' prefix")?;
        let (prefix, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut target = Self { tables: Tables::from_prefix(prefix)?, region: None, endpoint: None };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "region" => target.region = Some(value.into_owned()),
                "endpoint" => {
                    let parsed = url::Url::parse(&value).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
                    parsed.with_context(|| format!("dynamodb://…?endpoint={value}: write an http(s) URL"))?;
                    target.endpoint = Some(value.into_owned());
                }
                other => anyhow::bail!("dynamodb://…?{other}=: unknown; the URL takes region and endpoint"),
            }
        }
        Ok(target)
    }
}

impl Tables {
    /// The tables of the prefix: 1 to 200 of the characters DynamoDB allows in a table name
    /// (letters, digits, `_`, `-`, `.`).
    fn from_prefix(prefix: &str) -> anyhow::Result<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if prefix.is_empty() || prefix.len() > MAX_PREFIX || !prefix.chars().all(allowed) {
            anyhow::bail!(
                "dynamodb://{prefix}: the tables' prefix is 1 to {MAX_PREFIX} letters, digits, '_', '-' or '.' \
                 (e.g. dynamodb://gatehouse-)"
            );
        }
        Ok(Self { main: format!("{prefix}main"), jobs: format!("{prefix}jobs"), audit: format!("{prefix}audit") })
    }

    fn specs(&self) -> [Spec<'_>; 3] {
        [
            Spec { name: &self.main, indexes: &[("listing", "by_pk", "by_sk")], stream: false, ttl: true },
            Spec {
                name: &self.jobs,
                indexes: &[("due", "due_pk", "due_sk"), ("target", "target_pk", "target_sk")],
                stream: true,
                ttl: true,
            },
            Spec { name: &self.audit, indexes: &[("account", "account_pk", "sk")], stream: false, ttl: true },
        ]
    }
}

/// A table's shape: keys `pk` and `sk` (text), its global indexes (name, their key attributes)
/// projecting everything, and whether it has a stream and expiry.
#[derive(Debug)]
struct Spec<'a> {
    name: &'a str,
    indexes: &'static [(&'static str, &'static str, &'static str)],
    stream: bool,
    ttl: bool,
}

fn text_attribute(name: &str) -> anyhow::Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()?)
}

fn key_element(name: &str, key_type: KeyType) -> anyhow::Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder().attribute_name(name).key_type(key_type).build()?)
}

/// Creates the missing tables, on-demand, and waits until every table is active.
pub(super) async fn create(client: &Client, tables: &Tables) -> anyhow::Result<()> {
    let missing = check(client, tables).await?;
    for spec in tables.specs() {
        if !missing.iter().any(|name| name == spec.name) {
            continue;
        }
        let mut attributes = vec![text_attribute("pk")?, text_attribute("sk")?];
        let mut request = client
            .create_table()
            .table_name(spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element("pk", KeyType::Hash)?)
            .key_schema(key_element("sk", KeyType::Range)?);
        for &(index, hash, range) in spec.indexes {
            for name in [hash, range] {
                if !attributes.iter().any(|a| a.attribute_name() == name) {
                    attributes.push(text_attribute(name)?);
                }
            }
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key_element(hash, KeyType::Hash)?)
                    .key_schema(key_element(range, KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()?,
            );
        }
        if spec.stream {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::KeysOnly)
                    .build()?,
            );
        }
        match request.set_attribute_definitions(Some(attributes)).send().await {
            Ok(_) => tracing::info!(table = spec.name, "created the DynamoDB table"),
            // Another replica's migration created it meanwhile.
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(error) => return Err(anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())),
        }
    }
    for spec in tables.specs() {
        wait_until_active(client, spec.name).await?;
        if spec.ttl {
            let expiry = TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build()?;
            let enabled = client.update_time_to_live().table_name(spec.name).time_to_live_specification(expiry);
            if let Err(error) = enabled.send().await {
                // Already on (DynamoDB refuses to switch it on twice).
                let text = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
                if !text.contains("already enabled") {
                    return Err(anyhow::anyhow!(text).context(format!("turning on expiry for {}", spec.name)));
                }
            }
        }
    }
    Ok(())
}

async fn wait_until_active(client: &Client, name: &str) -> anyhow::Result<()> {
    for _ in 0..120 {
        let described = client.describe_table().table_name(name).send().await;
        let status = described
            .map_err(|e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?
            .table
            .and_then(|table| table.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the DynamoDB table {name} did not become active within a minute")
}

/// The tables that do not exist; an error when one exists with other keys or without its index.
pub(super) async fn check(client: &Client, tables: &Tables) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for spec in tables.specs() {
        let described = match client.describe_table().table_name(spec.name).send().await {
            Ok(described) => described,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                missing.push(spec.name.to_owned());
                continue;
            }
            Err(error) => {
                return Err(anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()))
                    .with_context(|| format!("reading the DynamoDB table {}", spec.name));
            }
        };
        let table = described.table.context("DynamoDB described no table")?;
        let keys: Vec<(&str, &KeyType)> =
            table.key_schema().iter().map(|k| (k.attribute_name(), k.key_type())).collect();
        if keys != [("pk", &KeyType::Hash), ("sk", &KeyType::Range)] {
            anyhow::bail!("the DynamoDB table {} exists with other keys than pk and sk: not gatehouse's", spec.name);
        }
        for (index, _, _) in spec.indexes {
            if !table.global_secondary_indexes().iter().any(|i| i.index_name() == Some(*index)) {
                anyhow::bail!(
                    "the DynamoDB table {} has no index {index:?}: made by another version or by hand",
                    spec.name
                );
            }
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_names_the_tables() {
        let target = Target::from_url("dynamodb://gatehouse-?region=eu-west-1&endpoint=http://127.0.0.1:8000").unwrap();
        assert_eq!(target.region.as_deref(), Some("eu-west-1"));
        assert_eq!(target.endpoint.as_deref(), Some("http://127.0.0.1:8000"));
        let tables = target.tables;
        assert_eq!(tables.main, "gatehouse-main");
        assert_eq!(tables.jobs, "gatehouse-jobs");
        assert_eq!(tables.audit, "gatehouse-audit");
    }

    #[test]
    fn a_prefix_dynamodb_would_refuse_is_refused_with_its_cause() {
        for url in [
            "dynamodb://",
            "dynamodb://a b",
            "dynamodb://x/y",
            "postgres://x",
            "dynamodb://x?endpoint=ftp://h",
            "dynamodb://x?tables=y",
        ] {
            let error = Target::from_url(url).unwrap_err().to_string();
            assert!(error.contains("dynamodb://"), "{url}: {error}");
        }
        assert!(Target::from_url(&format!("dynamodb://{}", "a".repeat(201))).is_err());
    }

    /// DynamoDB's naming rules, which a local engine may not enforce: table and index names
    /// of 3 to 255 letters, digits, `_`, `-` or `.`; attribute names of 1 to 255 characters.
    #[test]
    fn every_table_and_index_name_is_one_dynamodb_accepts() {
        let name_ok = |name: &str| {
            (3..=255).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        for prefix in ["a", &"p".repeat(MAX_PREFIX)] {
            let tables = Tables::from_prefix(prefix).unwrap();
            for spec in tables.specs() {
                assert!(name_ok(spec.name), "table {}", spec.name);
                for (index, hash, range) in spec.indexes {
                    assert!(name_ok(index), "index {index} of {}", spec.name);
                    assert!(!hash.is_empty() && !range.is_empty());
                }
            }
        }
    }
}
