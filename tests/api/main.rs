//! The integration suite: the real application, a real SQLite database, a real SMTP server.

mod activation;
mod admin;
mod adversarial;
mod agents;
mod api_keys;
mod app_data;
mod backchannel;
mod browser;
#[path = "../common/logs.rs"]
mod captured;
mod client_assertion;
mod client_policy;
mod credentials;
#[path = "../common/database.rs"]
mod database;
mod device;
#[path = "../common/dns.rs"]
mod dns;
mod docs;
mod domains;
mod doors;
mod dpop;
#[cfg(feature = "dynamodb")]
#[path = "../common/dynamodb.rs"]
mod dynamodb_engine;
mod forward;
mod helpers;
mod i18n;
mod impersonation;
mod import;
mod invitations;
mod login;
mod logs;
mod mfa;
mod misc;
mod oauth;
mod org_tokens;
mod orgs;
mod par;
mod passkeys;
mod password;
mod passwordless;
mod redirects;
mod registration;
mod restart;
mod scim;
mod security;
mod seeds;
mod signup;
mod smtp;
mod social;
mod sso;
mod sso_oidc;
mod sso_routing;
mod stored;
mod token_exchange;
mod tokens;
mod users;
mod webhooks;
