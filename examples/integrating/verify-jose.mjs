// Verifies gatehouse access tokens with `jose` (docs/INTEGRATING.md).
//
//   node verify-jose.mjs ISSUER AUDIENCE TOKEN...
//
// Prints "ok ALG SUB" for each token that verifies; exits 1 after the first that does not.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, audience, ...tokens] = process.argv.slice(2);

// Discovery gives the JWKS address. createRemoteJWKSet caches the keys, and fetches them
// again when a token names a key it does not know (a rotation, an algorithm switch).
const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      // Only what gatehouse signs access tokens with: never "none", never an HMAC. (The
      // discovery document's id_token_signing_alg_values_supported is for ID tokens: RS256.)
      algorithms: ["EdDSA", "ES256", "RS256"],
    });
    console.log(`ok ${protectedHeader.alg} ${payload.sub}`);
  } catch (error) {
    console.log(`refused: ${error.code ?? error.message}`);
    process.exit(1);
  }
}
