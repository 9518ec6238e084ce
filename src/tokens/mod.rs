//! Token crypto: the signed JWT access tokens ([`jwt`]) and their keys ([`keys`]), the memory of those already
//! verified ([`verified`]) and the opaque random tokens behind refresh tokens and emailed
//! links ([`opaque`]). Nothing else in gatehouse touches
//! signatures, random token bytes or token hashes.

pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod verified;
