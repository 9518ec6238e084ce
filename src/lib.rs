//! gatehouse: a self-hosted user-account and authentication service.
//!
//! The folders are the architecture: [`http`] (routes, extractors, the browser pages' shared
//! helpers, the one error type) calls [`accounts`] (the account rules), which
//! uses [`store`] (the port traits; their SQL written once in `store/sql`, with one dialect
//! folder per database), [`sessions`], [`limits`] (rate limits and the login lockout),
//! [`audit`] (the audit trail), [`mail`] (templates, the email sender, transports), [`webhooks`]
//! (signing and the delivery sender), [`jobs`] (the worker of the job queue that emails and
//! webhook deliveries share), [`passwords`] (Argon2id on its own threads), [`federation`]
//! (identity providers for social login) and [`tokens`] (JWT, opaque-token, PKCE and TOTP
//! crypto). [`model`] is the ground floor: the values all of them speak in, importing
//! nothing above it. [`contract`] holds the JSON shapes the API answers and the command line
//! prints. [`config`] reads the settings; [`app`] wires the parts together; [`cli`] is the
//! command line. Only `app` imports `http`, and nothing imports `cli`.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contract;
pub mod dns;
pub mod federation;
pub mod http;
pub mod i18n;
pub mod jobs;
pub mod limits;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod passwords;
mod priority;
pub mod secret_url;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
