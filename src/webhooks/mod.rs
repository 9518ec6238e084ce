//! Webhooks: telling other systems what happened to accounts. The account rules write each
//! event into the database in the transaction of the change (see `store::webhooks`); this room
//! holds what happens after: the signing secret and signatures of the Standard Webhooks scheme
//! ([`signing`]), the guard that keeps deliveries off private networks ([`guard`]) and every
//! fetch of a URL someone else gave ([`fetch`]), and the worker that delivers, retries for a day
//! and settles ([`delivery`]). The admins' registry of
//! endpoints is an account rule (`accounts::webhooks`).

pub mod delivery;
pub mod fetch;
pub mod guard;
pub mod signing;

pub use self::delivery::{Deliverer, DeliverySettings};
pub use self::guard::Guard;
pub use self::signing::Secret;
