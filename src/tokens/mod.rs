//! Token crypto: the signed JWT access tokens ([`jwt`]) and their keys ([`keys`]), the memory of
//! those already verified ([`verified`]), the opaque random tokens behind refresh tokens and
//! emailed links ([`opaque`]), PKCE ([`pkce`]), one-time passwords ([`totp`]), recovery codes ([`recovery`]) and
//! the sealing of secrets at rest ([`sealing`]). Nothing else in gatehouse touches signatures,
//! random token bytes, token hashes or ciphers.

pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod pkce;
pub mod recovery;
pub mod sealing;
pub mod totp;
pub mod verified;
