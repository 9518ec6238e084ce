// DPoP (RFC 9449) as openid-client (v6) does it: a public client makes a key pair
// (randomDPoPKeyPair, ES256), and its DPoP handle signs a proof for every request. gatehouse
// runs with GATEHOUSE_DPOP_NONCE=true, so the token endpoint first answers use_dpop_nonce with the
// nonce to use, which the library takes from the DPoP-Nonce header and sends again by itself
// (seen through its fetch). The code
// grant gives tokens bound to the key (token_type DPoP, cnf.jkt the key's thumbprint);
// userinfo takes the access token with a proof and refuses it as a bearer token; the refresh
// token is redeemed with the same key, and a refresh with another key (a thief's) is refused and
// ends the session.
//
// Run by ../run.sh, against the same gatehouse as the other tests, which sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// Prints one line per check and exits 1 at the first that fails.

import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { Browser, checks, httpTo, setUp, settings, walk } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const origin = new URL(base).origin;
const LABEL = 'DPoP';

const { check, equal, refused, describe, run } = checks();
const http = httpTo(base);

/** The RFC 7638 thumbprint of an EC public key, as gatehouse computes it. */
async function thumbprint(publicKey) {
  const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
}

async function main() {
  const { person: dee, personId: deeId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'dee@example.com', name: 'Dee Example', username: 'dee' });
  const cli = await register({
    name: 'CLI (DPoP)',
    redirect_uris: ['http://127.0.0.1/callback'],
    confidential: false,
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
  });
  const options = { execute: [client.allowInsecureRequests] };
  const config = await client.discovery(new URL(issuer), cli.client_id, { token_endpoint_auth_method: 'none' }, client.None(), options);
  check('discovery: dpop_signing_alg_values_supported lists ES256',
    config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'), config.serverMetadata());
  // Every answer of the token endpoint, and the nonce of each proof sent there, as the
  // library's own fetch saw them.
  const exchanges = [];
  config[client.customFetch] = async (url, init) => {
    const response = await fetch(url, init);
    if (new URL(url).pathname === '/oauth2/token') {
      const proof = new Headers(init.headers).get('dpop');
      const nonce = proof && JSON.parse(Buffer.from(proof.split('.')[1], 'base64url').toString()).nonce;
      exchanges.push({ status: response.status, nonce, given: response.headers.get('dpop-nonce') });
    }
    return response;
  };
  const keyPair = await client.randomDPoPKeyPair();
  const jkt = await thumbprint(keyPair.publicKey);
  const DPoP = client.getDPoPHandle(config, keyPair);

  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    scope: 'openid email offline_access',
    redirect_uri: 'http://127.0.0.1:61000/callback',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
  });
  const walked = await walk(new Browser(), url, { origin, login: dee, label: 'code flow', check });
  const tokens = await client.authorizationCodeGrant(config, walked.callback,
    { pkceCodeVerifier, expectedState: client.skipStateCheck, idTokenExpected: true }, undefined, { DPoP });
  equal('code grant: token_type DPoP', tokens.token_type, 'dpop');
  const [asked, answered] = exchanges;
  check('code grant: gatehouse first asked for its nonce (400 with DPoP-Nonce), the library sent it',
    exchanges.length === 2 && asked.status === 400 && !asked.nonce && asked.given && answered.status === 200
      && answered.nonce === asked.given, exchanges);
  const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
  equal('code grant: the access token is bound to the key (cnf.jkt)', payload.cnf?.jkt, jkt);

  const info = await client.fetchUserInfo(config, tokens.access_token, deeId, { DPoP });
  equal('userinfo with a proof: dee\'s claims', info.email, dee.login);
  const asBearer = await http('GET', '/oauth2/userinfo', { token: tokens.access_token });
  equal('userinfo: the bound token as a bearer token is 401', asBearer.status, 401);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  equal('refresh with the same key: token_type DPoP', refreshed.token_type, 'dpop');
  const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
  await refused('refresh with another key: invalid_dpop_proof',
    () => client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP: thief }),
    (e) => (e instanceof client.ResponseBodyError && e.error === 'invalid_dpop_proof') || describe(e));
  await refused('the session ended with it: the rightful key\'s refresh is invalid_grant',
    () => client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP }),
    (e) => (e instanceof client.ResponseBodyError && e.error === 'invalid_grant') || describe(e));
}

run(LABEL, main);
