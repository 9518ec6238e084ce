// Pushed authorization requests (RFC 9126) as openid-client (v6) makes them: discovery names
// the endpoint; the library pushes the request (a confidential client with client_secret_basic,
// then a public client with its client_id alone) and sends the browser with request_uri and
// client_id only; gatehouse logs the person in, asks for consent and answers the library's
// checks (state, PKCE, nonce, iss). The same request_uri again yields no second code; a push
// gatehouse would refuse at the authorization endpoint is refused at once, in the library's
// error form.
//
// Run by ../run.sh, against the same gatehouse as the other tests, which sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// Prints one line per check and exits 1 at the first that fails.

import * as client from 'openid-client';
import { Browser, checks, httpTo, setUp, settings, walk } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const origin = new URL(base).origin;
const LABEL = 'pushed requests';

const { ok, check, equal, refused, describe, run } = checks();
const http = httpTo(base);

/** A request pushed by the library, and the checks of its answer. */
async function pushed(config, redirectUri, params = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedNonce = client.randomNonce();
  const expectedState = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    scope: 'openid email',
    redirect_uri: redirectUri,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    nonce: expectedNonce,
    state: expectedState,
    ...params,
  });
  return { url, checks: { pkceCodeVerifier, expectedNonce, expectedState, idTokenExpected: true } };
}

async function main() {
  const { person: bea, personId: beaId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'bea@example.com', name: 'Bea Example', username: 'bea' });
  const ledger = await register({
    name: 'Ledger (pushed)',
    redirect_uris: ['https://ledger.example.com/cb'],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
  });
  const cli = await register({
    name: 'CLI (pushed)',
    redirect_uris: ['http://127.0.0.1/callback'],
    confidential: false,
    grant_types: ['authorization_code'],
    scopes: ['openid', 'email'],
  });
  const options = { execute: [client.allowInsecureRequests] };
  const ledgerConfig = await client.discovery(new URL(issuer), ledger.client_id, ledger.client_secret,
    client.ClientSecretBasic(ledger.client_secret), options);
  equal('discovery: pushed_authorization_request_endpoint', ledgerConfig.serverMetadata().pushed_authorization_request_endpoint,
    `${issuer}/oauth2/par`);
  equal('discovery: pushed requests are not required by default', ledgerConfig.serverMetadata().require_pushed_authorization_requests, false);

  // A confidential client's pushed request, through login and consent.
  const browser = new Browser();
  const first = await pushed(ledgerConfig, 'https://ledger.example.com/cb');
  equal('push: the browser carries only client_id and request_uri', [...first.url.searchParams.keys()].sort().join(), 'client_id,request_uri');
  check('push: the request_uri is an RFC 9126 URN', first.url.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'),
    first.url.href);
  const walked = await walk(browser, first.url, { origin, login: bea, label: 'pushed code flow', check });
  check('pushed code flow: a login, then consent', walked.sawLogin && walked.sawConsent, walked);
  const tokens = await client.authorizationCodeGrant(ledgerConfig, walked.callback, first.checks);
  ok('pushed code flow: openid-client accepts the callback and the ID token (state, nonce, iss, PKCE)');
  equal('pushed code flow: the ID token is bea\'s', tokens.claims().sub, beaId);
  equal('pushed code flow: the pushed scope', tokens.scope, 'openid email');

  // The same request_uri again: no second code.
  const again = await walk(browser, first.url, { origin, label: 'the same request_uri again', check });
  equal('the same request_uri again: invalid_request at the redirect URI', again.callback.searchParams.get('error'), 'invalid_request');
  check('the same request_uri again: no code', !again.callback.searchParams.has('code'), again.callback.href);

  // A public client pushes with its client_id alone.
  const cliConfig = await client.discovery(new URL(issuer), cli.client_id, { token_endpoint_auth_method: 'none' }, client.None(), options);
  const cliRequest = await pushed(cliConfig, 'http://127.0.0.1:53682/callback');
  const cliWalk = await walk(browser, cliRequest.url, { origin, label: 'a public client\'s push', check });
  const cliTokens = await client.authorizationCodeGrant(cliConfig, cliWalk.callback, cliRequest.checks);
  equal('a public client\'s push: tokens for bea, its loopback port chosen at run time', cliTokens.claims().sub, beaId);

  // What the authorization endpoint would refuse is refused at the push.
  const oauthError = (expected) => (e) => (e instanceof client.ResponseBodyError && e.error === expected && e.status === 400)
    || `expected ResponseBodyError ${expected}: ${describe(e)}`;
  await refused('push: an unregistered redirect URI is invalid_request',
    () => pushed(ledgerConfig, 'https://evil.example.com/cb'), oauthError('invalid_request'));
  await refused('push: a scope the client is not registered for is invalid_scope',
    () => pushed(ledgerConfig, 'https://ledger.example.com/cb', { scope: 'openid app_data' }), oauthError('invalid_scope'));
  await refused('push: a resource gatehouse does not list is invalid_target',
    () => pushed(ledgerConfig, 'https://ledger.example.com/cb', { resource: 'https://other.example.com/' }), oauthError('invalid_target'));
  const wrongSecret = await client.discovery(new URL(issuer), ledger.client_id, 'not-the-secret',
    client.ClientSecretBasic('not-the-secret'), options);
  await refused('push: a wrong client secret is invalid_client (401)',
    () => pushed(wrongSecret, 'https://ledger.example.com/cb'),
    // The library reads the 401's Basic challenge before its body.
    (e) => (e instanceof client.WWWAuthenticateChallengeError && e.status === 401
      && e.cause?.[0]?.scheme === 'basic') || describe(e));
}

run(LABEL, main);
