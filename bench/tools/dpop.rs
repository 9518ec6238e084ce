//! `gatehouse-bench dpop <key-file> <method> <url> <count> [<tokens-file>]`: DPoP proofs (RFC
//! 9449) of one Ed25519 key, made the way a client makes them, for the DPoP scenarios. The key
//! is read from `key-file` (PKCS #8), or made and written there when the file is missing.
//! Without a tokens file: `count` proofs for `method url`, one per line (for the token
//! endpoint). With one: `count` lines `<token> <proof>`, the tokens taken in turn and each
//! proof carrying its token's hash (`ath`). Every proof has its own `jti`, and `iat` now.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;

pub fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let [key_file, method, url, count, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: gatehouse-bench dpop <key-file> <method> <url> <count> [<tokens-file>]");
    };
    let count: usize = count.parse().context("count is a number")?;
    let pkcs8 = match std::fs::read(key_file) {
        Ok(bytes) => bytes,
        Err(_) => {
            let made = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("no key could be made"))?;
            std::fs::write(key_file, made.as_ref())?;
            made.as_ref().to_vec()
        }
    };
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| anyhow::anyhow!("{key_file} holds no Ed25519 key"))?;
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())});
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk}))?);
    let tokens: Vec<String> = match rest.first() {
        Some(file) => std::fs::read_to_string(file)?.lines().map(str::to_owned).collect(),
        None => Vec::new(),
    };
    let iat = chrono::Utc::now().timestamp();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for n in 0..count {
        let token = (!tokens.is_empty()).then(|| tokens[n % tokens.len()].as_str());
        let mut claims =
            json!({"jti": uuid::Uuid::now_v7().simple().to_string(), "htm": method, "htu": url, "iat": iat});
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?));
        let proof = format!("{input}.{}", URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()).as_ref()));
        match token {
            Some(token) => writeln!(out, "{token} {proof}")?,
            None => writeln!(out, "{proof}")?,
        }
    }
    Ok(())
}
