//! gatehouse: a self-hosted user-account and authentication service.
//!
//! The folders are the architecture: [`http`] (routes, extractors, the one error type) calls
//! [`accounts`] (the account rules), which uses [`store`] (SQL, one file per database),
//! [`sessions`], [`limits`] (rate limits and the login lockout), [`audit`] (the audit trail),
//! [`mail`] (templates, the outbox's sender, transports), [`jobs`] (the worker of the job queue
//! that emails and webhook deliveries share), [`passwords`] (Argon2id on its own threads),
//! [`federation`] (identity providers for social login) and [`tokens`] (JWT and opaque-token
//! crypto). [`app`] wires them together; [`cli`] is the
//! command line. Nothing depends on `http`.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod federation;
pub mod http;
pub mod i18n;
pub mod jobs;
pub mod limits;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod passwords;
mod priority;
pub mod secret_url;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
