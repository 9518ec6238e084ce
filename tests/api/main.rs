//! The integration suite: the real application, a real SQLite database, a real SMTP server.

mod activation;
mod helpers;
mod login;
mod signup;
mod smtp;
