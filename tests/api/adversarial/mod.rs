//! The attacks an outside review made against the release binary, each as a test that made the
//! attack work before its fix, and the adversarial cases around them that would have found it.
//! Extend a file's table or strategy when a new trick turns up; `docs/SECURITY.md` lists where
//! each finding's test lives (some sit with their surface: the hand-off and link cases need
//! the providers of `social.rs`, the email login's in `passwordless.rs`; the proxies' header
//! forgeries run through real nginx and Caddy in `e2e/proxy/`).

mod admin;
mod forward;
mod names;
mod oauth;
mod pages;
mod ssrf;
