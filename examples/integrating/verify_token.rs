//! Verifies gatehouse access tokens with the `jsonwebtoken` crate (docs/INTEGRATING.md).
//!
//!     cargo run --example verify_token -- ISSUER AUDIENCE TOKEN...
//!
//! Prints "ok ALG SUB" for each token that verifies; exits 1 after the first that does not.
//! A service would keep [`Verifier`] for its life and call [`Verifier::verify`] per request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The claims this service reads; gatehouse's tokens carry more (see docs/API.md).
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    email: String,
    role: String,
}

/// The keys by kid, fetched again when a token names an unknown one — at most every 30 s.
struct Verifier {
    http: reqwest::Client,
    jwks_uri: String,
    issuer: String,
    audience: String,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched_at: Option<Instant>,
}

impl Verifier {
    async fn discover(issuer: &str, audience: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let discovery: serde_json::Value =
            http.get(format!("{issuer}/.well-known/openid-configuration")).send().await?.json().await?;
        let jwks_uri = discovery["jwks_uri"].as_str().ok_or_else(|| anyhow::anyhow!("no jwks_uri"))?.to_owned();
        let (issuer, audience) = (issuer.to_owned(), audience.to_owned());
        Ok(Self { http, jwks_uri, issuer, audience, keys: HashMap::new(), fetched_at: None })
    }

    async fn refresh(&mut self) -> anyhow::Result<()> {
        if self.fetched_at.is_some_and(|at| at.elapsed() < Duration::from_secs(30)) {
            return Ok(());
        }
        self.fetched_at = Some(Instant::now());
        let set: JwkSet = self.http.get(&self.jwks_uri).send().await?.json().await?;
        self.keys.clear();
        for jwk in &set.keys {
            let (Some(kid), Some(algorithm)) = (&jwk.common.key_id, jwk.common.key_algorithm) else { continue };
            let algorithm: Algorithm = algorithm.to_string().parse()?;
            self.keys.insert(kid.clone(), (algorithm, DecodingKey::from_jwk(jwk)?));
        }
        Ok(())
    }

    async fn verify(&mut self, token: &str) -> anyhow::Result<(Algorithm, Claims)> {
        let kid = jsonwebtoken::decode_header(token)?.kid.ok_or_else(|| anyhow::anyhow!("no kid"))?;
        if !self.keys.contains_key(&kid) {
            self.refresh().await?;
        }
        let (algorithm, key) = self.keys.get(&kid).ok_or_else(|| anyhow::anyhow!("unknown key {kid}"))?;
        // The algorithm comes from the key, never from the token.
        let mut validation = Validation::new(*algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok((*algorithm, jsonwebtoken::decode::<Claims>(token, key, &validation)?.claims))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, audience, tokens @ ..] = args.as_slice() else {
        anyhow::bail!("usage: verify_token ISSUER AUDIENCE TOKEN...");
    };
    let mut verifier = Verifier::discover(issuer, audience).await?;
    for token in tokens {
        match verifier.verify(token).await {
            Ok((algorithm, claims)) => {
                println!("ok {algorithm:?} {} ({}, {})", claims.sub, claims.email, claims.role);
            }
            Err(error) => {
                println!("refused: {error}");
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
