//! Second factors. An account's TOTP factor and recovery codes are one item of its partition
//! (`A#<id>`/`MFA`: the sealed `secret`, `confirmed`, `last_step`, and `codes`, the string set
//! of the unspent codes' hashes), so every "only once" is one conditional write of that item:
//! a time step is accepted while it is above `last_step`, a code is spent by deleting it from
//! the set on condition that the set holds it. A login waiting for its second factor is the
//! item `MC#<hash>`, claimed for one attempt at a time by a conditional write.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::items::{Item, Write, hex, id, item, key, n, number, opt_text, s, stamp, text, time, ttl, unhex};
use super::owned::{PASSKEY, account_owner, owner_exists};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::mfa::{Claimed, Factors, MfaStore, NewChallenge, StoredTotp};
use crate::tokens::opaque::TokenHash;

/// How many times a removal is planned again when the factors changed meanwhile.
const ATTEMPTS: usize = 8;

fn factors_key(account_id: Uuid) -> Item {
    key(account_owner(account_id), "MFA")
}

fn challenge_key(hash: &TokenHash) -> Item {
    key(format!("MC#{}", hex(hash.as_bytes())), "MC")
}

/// The recovery codes' hashes as the set stores them.
fn code_set(codes: &[[u8; 32]]) -> AttributeValue {
    AttributeValue::Ss(codes.iter().map(|code| hex(code)).collect())
}

fn code_of(text: &str) -> StoreResult<[u8; 32]> {
    let bytes = unhex(text).ok_or_else(|| anyhow::anyhow!("a recovery code hash is not hex"))?;
    bytes.try_into().map_err(|_| StoreError::Other(anyhow::anyhow!("a recovery code hash is not 32 bytes")))
}

fn codes_of(factors: &Item) -> StoreResult<Vec<[u8; 32]>> {
    match factors.get("codes") {
        Some(AttributeValue::Ss(codes)) => codes.iter().map(|code| code_of(code)).collect(),
        _ => Ok(Vec::new()),
    }
}

/// Sets the recovery codes to `codes` (an empty set is no attribute in DynamoDB).
fn set_codes(update: &str, codes: &[[u8; 32]]) -> (String, Option<AttributeValue>) {
    match codes.is_empty() {
        true => (format!("{update} REMOVE #codes"), None),
        false => (format!("{update}, #codes = :codes"), Some(code_set(codes))),
    }
}

fn with_codes(write: Write, codes: Option<AttributeValue>) -> Write {
    match codes {
        Some(codes) => write.value("codes", codes),
        None => write,
    }
}

impl DynamoStore {
    /// The account's factors item and its passkeys' items (one consistent query).
    async fn factor_items(&self, account_id: Uuid) -> StoreResult<(Option<Item>, Vec<Item>)> {
        let mut factors = None;
        let mut passkeys = Vec::new();
        for owned in self.partition(&self.tables.main, &account_owner(account_id), "").await? {
            let sk = text(&owned, "sk")?;
            if sk == "MFA" {
                factors = Some(owned);
            } else if sk.starts_with(PASSKEY) {
                passkeys.push(owned);
            }
        }
        Ok((factors, passkeys))
    }
}

#[async_trait]
impl MfaStore for DynamoStore {
    async fn factors(&self, account_id: Uuid) -> StoreResult<Factors> {
        timed!(DB, "mfa_factors", async {
            let (factors, passkeys) = self.factor_items(account_id).await?;
            let totp = factors.as_ref().is_some_and(|f| f.contains_key("confirmed"));
            let codes = factors.as_ref().map(codes_of).transpose()?.unwrap_or_default();
            Ok(Factors {
                totp,
                recovery_codes: codes.len().try_into().unwrap_or(u32::MAX),
                passkeys: passkeys.len().try_into().unwrap_or(u32::MAX),
            })
        })
    }

    async fn totp(&self, account_id: Uuid) -> StoreResult<Option<StoredTotp>> {
        timed!(DB, "mfa_totp", async {
            let Some(factors) = self.get(&self.tables.main, factors_key(account_id)).await? else { return Ok(None) };
            let Some(AttributeValue::B(secret)) = factors.get("secret") else { return Ok(None) };
            let last_step = match factors.contains_key("last_step") {
                true => Some(number(&factors, "last_step")?),
                false => None,
            };
            Ok(Some(StoredTotp {
                secret: secret.clone().into_inner(),
                confirmed: factors.contains_key("confirmed"),
                last_step,
            }))
        })
    }

    async fn begin_totp(&self, account_id: Uuid, sealed: &[u8], now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "mfa_begin_totp", async {
            // In place of an unconfirmed secret; never over a confirmed one.
            let begin = Write::update(
                &self.tables.main,
                factors_key(account_id),
                "SET #secret = :secret, #created = :now REMOVE #last_step",
            )
            .when("attribute_not_exists(#confirmed)")
            .value("secret", AttributeValue::B(sealed.to_vec().into()))
            .value("now", stamp(now));
            let exists = owner_exists(&self.tables, &account_owner(account_id));
            self.write_if(vec![begin, exists], "mfa_begin_totp").await
        })
    }

    async fn confirm_totp(
        &self,
        account_id: Uuid,
        step: i64,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(DB, "mfa_confirm_totp", async {
            let (update, codes) = set_codes("SET #confirmed = :now, #last_step = :step", codes);
            let confirm = Write::update(&self.tables.main, factors_key(account_id), update)
                .when("attribute_exists(#secret) AND attribute_not_exists(#confirmed)")
                .value("now", stamp(now))
                .value("step", n(step));
            let mut writes = vec![with_codes(confirm, codes)];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "mfa_confirm_totp").await
        })
    }

    async fn accept_totp_step(&self, account_id: Uuid, step: i64) -> StoreResult<bool> {
        timed!(DB, "mfa_accept_totp_step", async {
            let accept = Write::update(&self.tables.main, factors_key(account_id), "SET #last_step = :step")
                .when("attribute_exists(#confirmed) AND (attribute_not_exists(#last_step) OR #last_step < :step)")
                .value("step", n(step));
            Ok(self.update_if(accept).await?.is_some())
        })
    }

    async fn remove_factors(&self, account_id: Uuid, passkeys: bool, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "mfa_remove_factors", async {
            for _ in 0..ATTEMPTS {
                let (factors, held) = self.factor_items(account_id).await?;
                let confirmed = factors.as_ref().is_some_and(|f| f.contains_key("confirmed"));
                let removes_passkeys = passkeys && !held.is_empty();
                if !confirmed && !removes_passkeys {
                    return Ok(false);
                }
                let mut writes = Vec::new();
                if passkeys {
                    for passkey in &held {
                        writes.extend(super::passkeys::deletion(&self.tables, passkey)?);
                    }
                }
                // Recovery codes stay while passkeys remain: they stand in for a lost passkey too.
                let keep_codes = !passkeys && !held.is_empty();
                if factors.is_some() {
                    let gone = match keep_codes {
                        true => Write::update(
                            &self.tables.main,
                            factors_key(account_id),
                            "REMOVE #secret, #confirmed, #last_step, #created",
                        ),
                        false => Write::delete(&self.tables.main, factors_key(account_id)),
                    };
                    // As read: a removal racing this one finds it gone and reads again.
                    writes.push(match confirmed {
                        true => gone.when("attribute_exists(#confirmed)"),
                        false => gone.when("attribute_not_exists(#confirmed)"),
                    });
                }
                writes.extend(self.told(effects).await?);
                if self.write_if(writes, "mfa_remove_factors").await? {
                    return Ok(true);
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("the factors of {account_id} kept changing")))
        })
    }

    async fn recovery_codes(&self, account_id: Uuid) -> StoreResult<Vec<[u8; 32]>> {
        timed!(DB, "mfa_recovery_codes", async {
            let factors = self.get(&self.tables.main, factors_key(account_id)).await?;
            Ok(factors.as_ref().map(codes_of).transpose()?.unwrap_or_default())
        })
    }

    async fn replace_recovery_codes(
        &self,
        account_id: Uuid,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(DB, "mfa_replace_recovery_codes", async {
            let (update, codes) = set_codes("SET #codes_at = :now", codes);
            let replace = Write::update(&self.tables.main, factors_key(account_id), update).value("now", stamp(now));
            let mut writes = vec![with_codes(replace, codes), owner_exists(&self.tables, &account_owner(account_id))];
            writes.extend(self.told(effects).await?);
            // Nothing to replace when the account is gone.
            self.write_if(writes, "mfa_replace_recovery_codes").await.map(|_| ())
        })
    }

    async fn spend_recovery_code(
        &self,
        account_id: Uuid,
        hash: &[u8; 32],
        effects: &Effects,
        _now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed!(DB, "mfa_spend_recovery_code", async {
            // Out of the set on condition that the set holds it: of two spends, one.
            let spend = Write::update(&self.tables.main, factors_key(account_id), "DELETE #codes :spent")
                .when("contains(#codes, :code)")
                .value("spent", code_set(&[*hash]))
                .value("code", s(hex(hash)));
            let mut writes = vec![spend];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "mfa_spend_recovery_code").await
        })
    }

    async fn insert_challenge(&self, challenge: &NewChallenge) -> StoreResult<()> {
        timed!(DB, "mfa_insert_challenge", async {
            let mut written = item(
                "",
                "",
                vec![
                    ("account", s(challenge.account_id.to_string())),
                    ("first_factor", s(challenge.first_factor.as_str())),
                    ("created", stamp(challenge.created_at)),
                    ("expires", stamp(challenge.expires_at)),
                    ("ttl", ttl(challenge.expires_at)),
                    ("attempts", n(0)),
                ],
            );
            written.extend(challenge_key(&challenge.hash));
            let write = Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)");
            self.insert_new(vec![write], "mfa_insert_challenge").await
        })
    }

    async fn claim_challenge(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Claimed>> {
        timed!(DB, "mfa_claim_challenge", async {
            let claim = Write::update(&self.tables.main, challenge_key(hash), "SET #used = :now")
                .when("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now AND #attempts < :max")
                .value("now", stamp(now))
                .value("max", n(max_attempts));
            let Some(claimed) = self.update_if(claim).await? else { return Ok(None) };
            Ok(Some(Claimed {
                account_id: id(&claimed, "account")?,
                first_factor: text(&claimed, "first_factor")?.to_owned(),
            }))
        })
    }

    async fn challenge_account(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        timed!(DB, "mfa_challenge_account", async {
            let Some(found) = self.get(&self.tables.main, challenge_key(hash)).await? else { return Ok(None) };
            let open = opt_text(&found, "used")?.is_none()
                && time(&found, "expires")? > now
                && number(&found, "attempts")? < i64::from(max_attempts);
            open.then(|| id(&found, "account")).transpose()
        })
    }

    async fn release_challenge(&self, hash: &TokenHash, wrong: bool) -> StoreResult<()> {
        timed!(DB, "mfa_release_challenge", async {
            let release = Write::update(
                &self.tables.main,
                challenge_key(hash),
                "SET #attempts = #attempts + :wrong REMOVE #used",
            )
            .when("attribute_exists(#pk)")
            .value("wrong", n(i64::from(wrong)));
            self.update_if(release).await.map(|_| ())
        })
    }
}
