// Verifies gatehouse access tokens with `jsonwebtoken` (docs/INTEGRATING.md). It has no
// Ed25519: run gatehouse with GATEHOUSE_TOKEN_ALGORITHM=ES256 or RS256 for it.
//
//   node verify-jsonwebtoken.mjs ISSUER AUDIENCE TOKEN...
//
// Prints "ok ALG SUB" for each token that verifies; exits 1 after the first that does not.
import { createPublicKey } from "node:crypto";
import jwt from "jsonwebtoken";

const [issuer, audience, ...tokens] = process.argv.slice(2);
const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();

// The keys by kid, fetched again when a token names an unknown one — at most every 30 s, so
// a flood of forged kids cannot make this service hammer gatehouse.
const keys = new Map();
let fetchedAt = 0;
async function keyFor(kid) {
  if (!keys.has(kid) && Date.now() - fetchedAt > 30_000) {
    fetchedAt = Date.now();
    const { keys: jwks } = await (await fetch(discovery.jwks_uri)).json();
    keys.clear();
    for (const jwk of jwks) {
      keys.set(jwk.kid, { alg: jwk.alg, key: createPublicKey({ key: jwk, format: "jwk" }) });
    }
  }
  return keys.get(kid);
}

for (const token of tokens) {
  const header = jwt.decode(token, { complete: true })?.header;
  const found = header && (await keyFor(header.kid));
  try {
    if (!found) throw new Error("unknown key");
    // The algorithm comes from the key, never from the token.
    const payload = jwt.verify(token, found.key, { algorithms: [found.alg], issuer, audience });
    console.log(`ok ${header.alg} ${payload.sub}`);
  } catch (error) {
    console.log(`refused: ${error.message}`);
    process.exit(1);
  }
}
