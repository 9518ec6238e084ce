//! The contract's routes; each module owns its `router()`.

pub mod activation;
pub mod admin;
pub mod auth;
pub mod clients;
pub mod console;
pub mod email;
pub mod events;
pub mod forward;
pub mod health;
pub mod import;
pub mod invitations;
pub mod login;
pub mod mfa;
pub mod oauth;
pub mod org_domains;
pub mod org_roles;
pub mod orgs;
pub mod passkeys;
pub mod password;
pub mod passwordless;
pub mod root;
pub mod social;
pub mod sso;
pub mod users;
pub mod webhooks;
pub mod wellknown;
