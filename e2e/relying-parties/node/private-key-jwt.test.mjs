// Client assertions (private_key_jwt, RFC 7523 section 2.2) as openid-client (v6) and
// oauth4webapi (v3) make them: discovery lists the method and the algorithms an assertion may be
// signed with. A client an admin registers with an ES256 public key (inline jwks, a kid) gets
// no secret; openid-client signs its assertions with the private half (seen through its fetch:
// ES256, the kid, iss = sub = client_id, aud the issuer, no secret sent) for client credentials,
// for a pushed authorization request whose code it then redeems (login and consent posted as a
// browser would) and refreshes, and for introspection and revocation. A client that registers
// itself (/oauth2/register) with an Ed25519 key authenticates with oauth4webapi's PrivateKeyJwt
// for client credentials. Assertions made by hand with jose are refused (401 invalid_client)
// when they come a second time, are signed by another key, name another server as aud, have
// expired or are unsigned (alg none), and so is a client_secret sent by a client with keys.
//
// Run by ../run.sh, against the same gatehouse as the other tests, which sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// Prints one line per check and exits 1 at the first that fails (or when the whole takes more
// than 60 s).

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { Browser, checks, httpTo, setUp, settings, walk } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const origin = new URL(base).origin;
const LABEL = 'private_key_jwt';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const REDIRECT_URI = 'https://vault.example.com/cb';
const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'RS256', 'PS256'];
/** Every HTTP request of the test, the libraries' included, gives up after this long. */
const REQUEST_TIMEOUT_MS = 10_000;

const { ok, check, equal, refused, describe, run, passed } = checks();
const http = httpTo(base, { timeoutMs: REQUEST_TIMEOUT_MS });

// Nothing may hang the run: past this, the test fails as a whole.
setTimeout(() => {
  console.log(`FAIL the ${LABEL} test did not end within 60 s`);
  console.log(`${LABEL}: ${passed()} passed, 1 failed`);
  process.exit(1);
}, 60_000).unref();

/** The JSON header and payload of a JWT, unverified. */
function jwtParts(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, payload };
}

/** A key pair for `alg`, and its public JWK (with `kid`) as a client registers it. */
async function keyPair(alg, kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { privateKey, kid, jwk: { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * An ES256 assertion made by hand with jose, as a conforming client makes one (iss = sub = the
 * client, a fresh jti, a minute to live), but for the `aud` and `exp` given.
 */
function assertion(clientId, key, { aud = issuer, exp } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(aud)
    .setIssuedAt(now)
    .setExpirationTime(exp ?? now + 60)
    .sign(key.privateKey);
}

/** Client credentials at /oauth2/token with `clientAssertion`, as raw HTTP. */
function tokenWith(clientId, clientAssertion) {
  return http('POST', '/oauth2/token', {
    form: { grant_type: 'client_credentials', client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion },
  });
}

/**
 * Whether `answer` is 401 invalid_client, its error_description naming `reason` when one is
 * given (gatehouse says there what was wrong with an assertion).
 */
function invalidClient(answer, reason) {
  return answer.status === 401 && answer.json?.error === 'invalid_client'
    && (reason === undefined || reason.test(answer.json.error_description ?? ''));
}

/** An answer in one line, for a failed check. */
function summary(answer) {
  return `${answer.status} ${answer.text.slice(0, 300)}`;
}

async function main() {
  const { person: pia, personId: piaId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'pia@example.com', name: 'Pia Example', username: 'pia' });

  // ----------------------------------------------------------------------------------------
  // An admin registers a client with an ES256 public key: no secret.
  const vaultKey = await keyPair('ES256', 'vault-2026');
  const vault = await register({
    name: 'Vault (private_key_jwt)',
    redirect_uris: [REDIRECT_URI],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes: ['openid', 'email', 'offline_access', 'app_data'],
    jwks: { keys: [vaultKey.jwk] },
  });
  equal('registration by an admin: token_endpoint_auth_method private_key_jwt', vault.token_endpoint_auth_method, 'private_key_jwt');
  check('registration by an admin: no client_secret', !('client_secret' in vault) || vault.client_secret === null, vault);
  equal('registration by an admin: confidential', vault.confidential, true);

  // ----------------------------------------------------------------------------------------
  // Discovery.
  const options = { execute: [client.allowInsecureRequests], timeout: REQUEST_TIMEOUT_MS / 1000 };
  const config = await client.discovery(new URL(issuer), vault.client_id, undefined,
    client.PrivateKeyJwt({ key: vaultKey.privateKey, kid: vaultKey.kid }), options);
  const meta = config.serverMetadata();
  for (const endpoint of ['token', 'introspection', 'revocation']) {
    check(`discovery: ${endpoint}_endpoint_auth_methods_supported lists private_key_jwt`,
      meta[`${endpoint}_endpoint_auth_methods_supported`]?.includes('private_key_jwt'), meta[`${endpoint}_endpoint_auth_methods_supported`]);
    equal(`discovery: ${endpoint}_endpoint_auth_signing_alg_values_supported`,
      JSON.stringify(meta[`${endpoint}_endpoint_auth_signing_alg_values_supported`]), JSON.stringify(ALGORITHMS));
  }

  // What the library sends to gatehouse: each form it posts, by path.
  const sent = [];
  config[client.customFetch] = async (url, init) => {
    sent.push({ path: new URL(url).pathname, body: new URLSearchParams(init.body?.toString() ?? ''), headers: new Headers(init.headers) });
    return fetch(url, init);
  };
  const lastAssertion = (path) => {
    const request = sent.findLast((r) => r.path === path);
    return request && { ...request, assertion: request.body.get('client_assertion') };
  };

  // ----------------------------------------------------------------------------------------
  // Client credentials with openid-client's PrivateKeyJwt.
  const cc = await client.clientCredentialsGrant(config, { scope: 'app_data' });
  equal('client credentials (openid-client): sub is the client', jwtParts(cc.access_token).payload.sub, vault.client_id);
  equal('client credentials (openid-client): the scope', cc.scope, 'app_data');
  {
    const request = lastAssertion('/oauth2/token');
    check('the library\'s request: client_assertion_type jwt-bearer, no secret, no Authorization header',
      request?.body.get('client_assertion_type') === ASSERTION_TYPE && !request.body.has('client_secret')
        && !request.headers.has('authorization') && typeof request.assertion === 'string', request && [...request.body.keys()]);
    const { header, payload } = jwtParts(request.assertion);
    check('the library\'s assertion: ES256 with the registered kid', header.alg === 'ES256' && header.kid === vaultKey.kid, header);
    check('the library\'s assertion: iss and sub the client_id, aud the issuer, a jti, exp within a minute',
      payload.iss === vault.client_id && payload.sub === vault.client_id && payload.aud === issuer && typeof payload.jti === 'string'
        && payload.exp > Date.now() / 1000 && payload.exp <= Date.now() / 1000 + 120, payload);
  }

  // ----------------------------------------------------------------------------------------
  // The authorization-code flow through a pushed request: the push, then the code, then the
  // refresh, each with an assertion of its own.
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedNonce = client.randomNonce();
  const expectedState = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    scope: 'openid email offline_access',
    redirect_uri: REDIRECT_URI,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    nonce: expectedNonce,
    state: expectedState,
  });
  const pushedAssertion = lastAssertion('/oauth2/par')?.assertion;
  check('push: the library authenticates with an assertion', typeof pushedAssertion === 'string', sent.map((r) => r.path));
  equal('push: the browser carries only client_id and request_uri', [...url.searchParams.keys()].sort().join(), 'client_id,request_uri');
  const browser = new Browser({ timeoutMs: REQUEST_TIMEOUT_MS });
  const walked = await walk(browser, url, { origin, login: pia, label: 'pushed code flow', check });
  check('pushed code flow: a login, then consent', walked.sawLogin && walked.sawConsent, walked);
  const tokens = await client.authorizationCodeGrant(config, walked.callback,
    { pkceCodeVerifier, expectedNonce, expectedState, idTokenExpected: true });
  ok('pushed code flow: openid-client redeems the code with an assertion and accepts the ID token (state, nonce, iss, PKCE)');
  equal('pushed code flow: the ID token is pia\'s', tokens.claims().sub, piaId);
  equal('pushed code flow: the scope', tokens.scope, 'openid email offline_access');
  check('pushed code flow: a refresh token with offline_access', typeof tokens.refresh_token === 'string', tokens);
  check('pushed code flow: the code was redeemed with a new assertion (another jti)',
    jwtParts(lastAssertion('/oauth2/token').assertion).payload.jti !== jwtParts(pushedAssertion).payload.jti, sent.map((r) => r.path));

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  check('refresh (assertion): a new refresh token', refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, refreshed);
  equal('refresh (assertion): the new ID token is still pia\'s', refreshed.claims()?.sub, piaId);

  // ----------------------------------------------------------------------------------------
  // Introspection and revocation, the client authenticating with assertions.
  const seen = await client.tokenIntrospection(config, refreshed.access_token);
  check('introspection (assertion): active, pia\'s, issued to the client',
    seen.active === true && seen.sub === piaId && seen.client_id === vault.client_id, seen);
  check('introspection: the library sent an assertion', typeof lastAssertion('/oauth2/introspect')?.assertion === 'string', sent.map((r) => r.path));
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  ok('revocation (assertion): the refresh token is revoked (200)');
  check('revocation: the library sent an assertion', typeof lastAssertion('/oauth2/revoke')?.assertion === 'string', sent.map((r) => r.path));
  equal('revocation: the access token then introspects inactive', (await client.tokenIntrospection(config, refreshed.access_token)).active, false);
  await refused('revocation: the refresh token is refused (invalid_grant)',
    () => client.refreshTokenGrant(config, refreshed.refresh_token),
    (e) => (e instanceof client.ResponseBodyError && e.error === 'invalid_grant') || describe(e));

  // ----------------------------------------------------------------------------------------
  // A client registers itself with an Ed25519 key, and oauth4webapi authenticates it.
  const o4wOptions = { [oauth.allowInsecureRequests]: true, signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), o4wOptions));
  const jobKey = await keyPair('EdDSA', 'job-ed25519');
  const job = await oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, {
    client_name: 'Reporting job (private_key_jwt)',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jobKey.jwk] },
    scope: 'app_data',
  }, o4wOptions));
  ok('self-registration: oauth4webapi registers a client with an Ed25519 key (201)');
  equal('self-registration: token_endpoint_auth_method private_key_jwt', job.token_endpoint_auth_method, 'private_key_jwt');
  check('self-registration: no client_secret, a registration access token',
    !('client_secret' in job) && typeof job.registration_access_token === 'string', job);
  // oauth4webapi names an Ed25519 signature by RFC 9864's fully-specified "Ed25519", which
  // gatehouse takes as it takes "EdDSA" (the same signature): the library's assertion as it is.
  const jobClient = { client_id: job.client_id };
  const jobAuth = oauth.PrivateKeyJwt({ key: jobKey.privateKey, kid: jobKey.kid });
  const jobCc = await oauth.processClientCredentialsResponse(as, jobClient,
    await oauth.clientCredentialsGrantRequest(as, jobClient, jobAuth, { scope: 'app_data' }, o4wOptions));
  equal('client credentials (oauth4webapi, Ed25519): sub is the self-registered client', jwtParts(jobCc.access_token).payload.sub, job.client_id);
  equal('client credentials (oauth4webapi, Ed25519): the scope', jobCc.scope, 'app_data');

  // ----------------------------------------------------------------------------------------
  // Assertions made by hand with jose.
  const once = await assertion(vault.client_id, vaultKey);
  const first = await tokenWith(vault.client_id, once);
  check('a hand-made assertion (jose, ES256): client credentials (200)', first.status === 200 && first.json?.access_token, summary(first));
  const again = await tokenWith(vault.client_id, once);
  check('refused: the same assertion again (its jti) → 401 invalid_client', invalidClient(again, /jti/), summary(again));
  const toTokenEndpoint = await tokenWith(vault.client_id, await assertion(vault.client_id, vaultKey, { aud: `${issuer}/oauth2/token` }));
  check('an assertion whose aud is the token endpoint: 200', toTokenEndpoint.status === 200, summary(toTokenEndpoint));

  const otherKey = await keyPair('ES256', vaultKey.kid);
  const forged = await tokenWith(vault.client_id, await assertion(vault.client_id, otherKey));
  check('refused: an assertion signed by another key (the same kid) → 401 invalid_client', invalidClient(forged, /signature/), summary(forged));
  const elsewhere = await tokenWith(vault.client_id, await assertion(vault.client_id, vaultKey, { aud: 'https://other-server.example.com' }));
  check('refused: an assertion whose aud is another server → 401 invalid_client', invalidClient(elsewhere, /aud/), summary(elsewhere));
  const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
  const expired = await tokenWith(vault.client_id, await assertion(vault.client_id, vaultKey, { exp: tenMinutesAgo }));
  check('refused: an expired assertion (exp ten minutes ago) → 401 invalid_client', invalidClient(expired, /expired/), summary(expired));
  const unsigned = [
    Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify(jwtParts(await assertion(vault.client_id, vaultKey)).payload)).toString('base64url'),
    '',
  ].join('.');
  const none = await tokenWith(vault.client_id, unsigned);
  check('refused: an unsigned assertion (alg none) → 401 invalid_client', invalidClient(none), summary(none));
  const withSecret = await http('POST', '/oauth2/token', {
    form: { grant_type: 'client_credentials', client_id: vault.client_id, client_secret: 'a-secret-it-never-had' },
  });
  check('refused: a client_secret (client_secret_post) from a client with keys → 401 invalid_client', invalidClient(withSecret), summary(withSecret));
  const withBasic = await http('POST', '/oauth2/token', { form: { grant_type: 'client_credentials' }, basic: [vault.client_id, 'a-secret-it-never-had'] });
  check('refused: a client_secret (client_secret_basic) from a client with keys → 401 invalid_client', invalidClient(withBasic), summary(withBasic));
}

await run(LABEL, main);
process.exit(0);
