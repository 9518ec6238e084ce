//! The model: the values the rest of gatehouse speaks in (an account and its parts, its
//! language, a session and how it was authenticated, what happened and what a change commits
//! with it, an audit row, a client app, an identity at a provider, a token's hash, the stores'
//! error, webhooks' events and deliveries, an email on its way, what an admin lists). This room
//! is the ground floor: it imports nothing else of gatehouse, so the store, the account rules,
//! the HTTP routes and the command line can all use it without importing each other
//! (`tests/architecture.rs` keeps both rules). The store's ports (`store/`) take and give these
//! values.

pub mod account;
pub mod account_change;
pub mod admin;
pub mod api_key;
pub mod audit;
pub mod authority;
pub mod client;
pub mod device;
pub mod domain;
pub mod email;
pub mod email_change;
pub mod email_login;
pub mod error;
pub mod identity;
pub mod invitation;
pub mod locale;
pub mod mfa;
pub mod org;
pub mod org_policy;
pub mod outcome;
pub mod passkey;
pub mod resource;
pub mod scim;
pub mod session;
pub mod sso;
pub mod token;
pub mod webhook;
