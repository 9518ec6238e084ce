//! Token crypto: the signed JWT access tokens ([`jwt`]) and their keys ([`keys`]), DPoP proofs
//! ([`dpop`]), client assertions ([`assertion`]) and the check they share ([`compact`]), the memory of those already verified ([`verified`]), the opaque random tokens
//! behind refresh tokens and emailed links ([`opaque`]), keyed tags and the constant-time
//! comparison of secrets ([`mac`]), PKCE ([`pkce`]), one-time passwords ([`totp`]), recovery
//! codes ([`recovery`]), the sealing of secrets at rest ([`sealing`]) and XML signatures of SAML
//! ([`xmldsig`]). Nothing else in gatehouse touches signatures, MACs, random token bytes, token
//! hashes or ciphers (password hashing has its own room, `passwords`).

pub mod assertion;
pub mod compact;
pub mod dpop;
pub mod jwt;
pub mod keys;
pub mod mac;
pub mod opaque;
pub mod pkce;
pub mod recovery;
pub mod sealing;
pub mod totp;
pub mod verified;
pub mod xmldsig;
