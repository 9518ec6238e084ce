//! What only the DynamoDB store has: its tables, created where missing and checked (see
//! `tests/common/dynamodb.rs` for the engine). Everything else it is held to by the conformance
//! scenarios, as every backend is.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::secret_url::SecretUrl;
use gatehouse::store::dynamo::DynamoStore;

use crate::dynamodb_engine as engine;

/// A store on fresh tables, created; `None` (and a note) without an engine.
pub(crate) async fn store() -> Option<Arc<DynamoStore>> {
    let Some(endpoint) = engine::endpoint() else {
        crate::skip("dynamodb", "GATEHOUSE_MOTO_PYTHON or GATEHOUSE_TEST_DYNAMODB_URL");
        return None;
    };
    engine::require_credentials();
    let url = SecretUrl::new(&engine::database_url(&endpoint));
    let store = DynamoStore::connect(&url, Duration::from_secs(10)).await.expect("the client is made");
    store.create_tables().await.expect("the tables are created");
    Some(Arc::new(store))
}

#[tokio::test]
async fn the_tables_are_created_once_and_a_foreign_table_is_refused() {
    let Some(store) = store().await else { return };
    assert!(store.check_tables().await.unwrap().is_empty(), "all three exist");
    store.create_tables().await.expect("creating them again changes nothing");

    let endpoint = engine::endpoint().unwrap();
    let url = SecretUrl::new(&engine::database_url(&endpoint));
    let other = DynamoStore::connect(&url, Duration::from_secs(10)).await.unwrap();
    assert_eq!(other.check_tables().await.unwrap().len(), 3, "a fresh prefix has none");
    let key = aws_sdk_dynamodb::types::KeySchemaElement::builder()
        .attribute_name("id")
        .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
        .build()
        .unwrap();
    let attribute = aws_sdk_dynamodb::types::AttributeDefinition::builder()
        .attribute_name("id")
        .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
        .build()
        .unwrap();
    other
        .client()
        .create_table()
        .table_name(&other.tables().main)
        .key_schema(key)
        .attribute_definitions(attribute)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let refused = other.create_tables().await.unwrap_err();
    assert!(format!("{refused:#}").contains("other keys"), "{refused:#}");
}
