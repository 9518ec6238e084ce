// gatehouse's token exchange (RFC 8693) as oauth4webapi (v3) drives it: discovery lists the
// grant; a service (a confidential client registered for it) gets a person's access token through
// the authorization-code flow (PKCE, a nonce; the login posted as a browser would) and one of its
// own through client credentials, and trades the first, with the second as the actor, for an
// access token of the same person and session meant for another client's API: a JWT (at+jwt,
// verified against the JWKS with jose) with sub the person, aud that API, client_id the service,
// act {sub: the service} and the session's sid; no refresh token. The API introspects it (act
// included); revoking the person's token ends the session and the exchanged token with it.
// Refused: a wider scope (invalid_scope), another client's actor or subject token, a client's own
// token as the subject, an exchanged token exchanged again (invalid_grant), an unknown audience
// (invalid_target), a missing actor token or a wrong token type (invalid_request), a client not
// registered for the grant (unauthorized_client); and a public client cannot be registered for it.
//
// Run by ../run.sh after device.test.mjs, against the same gatehouse, which sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// Prints one line per check and exits 1 at the first that fails (or when the whole takes more
// than 30 s).

import * as oauth from 'oauth4webapi';
import { Browser, checks, httpTo, setUp, settings, walk } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const origin = new URL(base).origin;
const LABEL = 'token exchange';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const REDIRECT_URI = 'https://gateway.example.com/cb';
/** Every HTTP request of the test, the library's included, gives up after this long. */
const REQUEST_TIMEOUT_MS = 10_000;

// The checks, and raw HTTP: the admin API, and requests a library would not send.
const { ok, check, equal, refused, describe, run, passed } = checks();
const http = httpTo(base, { timeoutMs: REQUEST_TIMEOUT_MS });

// Nothing may hang the run: past this, the test fails as a whole.
setTimeout(() => {
  console.log('FAIL the token exchange test did not end within 30 s');
  console.log(`${LABEL}: ${passed()} passed, 1 failed`);
  process.exit(1);
}, 30_000).unref();

// jose (openid-client's own dependency) verifies the exchanged token's signature when it is
// installed; without it, the claims are read unverified.
const jose = await import('jose').catch(() => undefined);

/** oauth4webapi's options for every request: plain HTTP to the loopback, and a timeout. */
const options = { [oauth.allowInsecureRequests]: true, signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS) };

/** A refusal by the server in OAuth's error form (400), as oauth4webapi throws it. */
function oauthError(expected) {
  return (e) => (e instanceof oauth.ResponseBodyError && e.error === expected && e.status === 400)
    || `expected ResponseBodyError ${expected} (400): ${describe(e)} ${e?.error_description ?? ''}`;
}

/** The JSON payload of a JWT, unverified. */
function payloadOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** A registered client as oauth4webapi takes it: its metadata and its authentication. */
function asClient(registered, auth = oauth.ClientSecretBasic) {
  return { ...registered, client: { client_id: registered.client_id }, auth: auth(registered.client_secret) };
}

// ------------------------------------------------------------------------------------------
async function main() {
  // Set-up through the admin API.
  const { admin, person: erin, personId: erinId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'erin@example.com', name: 'Erin Example', username: 'erin' });
  const gateway = asClient(await register({
    name: 'API gateway (oauth4webapi)',
    redirect_uris: [REDIRECT_URI],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE],
    scopes: ['openid', 'profile', 'email', 'app_data'],
    first_party: true,
  }));
  check('set-up: the service gets its secret', typeof gateway.client_secret === 'string' && gateway.client_secret.length >= 20, gateway);
  // The API the exchanged token is for: confidential, to introspect what it is handed.
  const orders = asClient(await register({ name: 'Orders API (oauth4webapi)', confidential: true, grant_types: ['client_credentials'] }));
  // Another service registered for the grant, and a client that is not.
  const other = asClient(await register({
    name: 'Another service (oauth4webapi)', confidential: true, grant_types: ['client_credentials', TOKEN_EXCHANGE],
  }), oauth.ClientSecretPost);
  const plain = asClient(await register({ name: 'Without token exchange (oauth4webapi)', confidential: true, grant_types: ['client_credentials'] }));
  const publicOne = await http('POST', '/admin/clients', {
    token: admin,
    json: { name: 'Public with token exchange (oauth4webapi)', confidential: false, grant_types: [TOKEN_EXCHANGE] },
  });
  equal('set-up: a public client registered for token exchange → 422', publicOne.status, 422);

  // ----------------------------------------------------------------------------------------
  // Discovery.
  const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), options));
  ok('discovery: oauth4webapi accepts the metadata (issuer matches)');
  check('discovery: grant_types_supported lists token exchange', as.grant_types_supported?.includes(TOKEN_EXCHANGE), as.grant_types_supported);
  equal('discovery: token_endpoint', as.token_endpoint, `${issuer}/oauth2/token`);

  // ----------------------------------------------------------------------------------------
  // The person's token: the authorization-code flow with PKCE and a nonce.
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const authorizationUrl = new URL(as.authorization_endpoint);
  authorizationUrl.search = new URLSearchParams({
    client_id: gateway.client_id,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  }).toString();
  const browser = new Browser({ timeoutMs: REQUEST_TIMEOUT_MS });
  const { callback } = await walk(browser, authorizationUrl, { origin, login: erin, label: 'code flow', check });
  const answer = oauth.validateAuthResponse(as, gateway.client, callback, state);
  ok('code flow: oauth4webapi accepts the callback (state, iss)');
  const person = await oauth.processAuthorizationCodeResponse(as, gateway.client,
    await oauth.authorizationCodeGrantRequest(as, gateway.client, gateway.auth, answer, REDIRECT_URI, codeVerifier, options),
    { expectedNonce: nonce, requireIdToken: true });
  const idClaims = oauth.getValidatedIdTokenClaims(person);
  equal('code flow: the ID token is erin\'s', idClaims.sub, erinId);
  const subjectToken = person.access_token;
  const subjectClaims = payloadOf(subjectToken);
  // Its sid is the client session the code started (the ID token's is the browser's login).
  check('code flow: the access token is erin\'s and carries its client session (sid)',
    subjectClaims.sub === erinId && typeof subjectClaims.sid === 'string' && subjectClaims.sid.length > 0, subjectClaims);

  // The actor: the service's own token, through client credentials.
  const actorToken = (await oauth.processClientCredentialsResponse(as, gateway.client,
    await oauth.clientCredentialsGrantRequest(as, gateway.client, gateway.auth, {}, options))).access_token;
  equal('client credentials: the actor token is the service\'s own (sub)', payloadOf(actorToken).sub, gateway.client_id);
  const otherActorToken = (await oauth.processClientCredentialsResponse(as, other.client,
    await oauth.clientCredentialsGrantRequest(as, other.client, other.auth, {}, options))).access_token;

  /** A token exchange by `who`, through oauth4webapi. */
  async function exchange(who, parameters) {
    const response = await oauth.genericTokenEndpointRequest(as, who.client, who.auth, TOKEN_EXCHANGE, parameters, options);
    return oauth.processGenericTokenEndpointResponse(as, who.client, response);
  }
  const both = {
    subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE,
    actor_token: actorToken, actor_token_type: ACCESS_TOKEN_TYPE,
  };

  // ----------------------------------------------------------------------------------------
  // The exchange: for the Orders API, a narrower scope.
  const exchanged = await exchange(gateway, {
    ...both, audience: orders.client_id, scope: 'openid email', requested_token_type: ACCESS_TOKEN_TYPE,
  });
  ok('exchange: oauth4webapi accepts the answer');
  equal('exchange: token_type Bearer', exchanged.token_type, 'bearer');
  equal('exchange: issued_token_type', exchanged.issued_token_type, ACCESS_TOKEN_TYPE);
  equal('exchange: scope as asked', exchanged.scope, 'openid email');
  check('exchange: expires_in, no longer than the subject token\'s', exchanged.expires_in > 0 && exchanged.expires_in <= person.expires_in,
    [exchanged.expires_in, person.expires_in]);
  check('exchange: no refresh token, no ID token', !('refresh_token' in exchanged) && !('id_token' in exchanged), exchanged);

  let claims;
  if (jose) {
    const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri), { timeoutDuration: REQUEST_TIMEOUT_MS });
    const verified = await jose.jwtVerify(exchanged.access_token, jwks, { issuer, audience: orders.client_id, typ: 'at+jwt' })
      .catch((e) => check('exchanged token: jose verifies it against the JWKS (signature, iss, aud, typ at+jwt)', false, describe(e)));
    ok('exchanged token: jose verifies it against the JWKS (signature, iss, aud, typ at+jwt)');
    claims = verified.payload;
  } else {
    console.log('     (jose is not installed: the claims are read without checking the signature)');
    const header = JSON.parse(Buffer.from(exchanged.access_token.split('.')[0], 'base64url').toString());
    equal('exchanged token: typ at+jwt', header.typ, 'at+jwt');
    claims = payloadOf(exchanged.access_token);
    equal('exchanged token: iss', claims.iss, issuer);
  }
  equal('exchanged token: sub is erin', claims.sub, erinId);
  equal('exchanged token: aud is the Orders API', claims.aud, orders.client_id);
  equal('exchanged token: client_id is the service', claims.client_id, gateway.client_id);
  equal('exchanged token: act is the service', JSON.stringify(claims.act), JSON.stringify({ sub: gateway.client_id }));
  equal('exchanged token: sid is erin\'s session', claims.sid, subjectClaims.sid);
  equal('exchanged token: scope', claims.scope, 'openid email');
  check('exchanged token: exp no later than the subject token\'s', claims.exp <= subjectClaims.exp, [claims.exp, subjectClaims.exp]);

  // Without audience and scope: for the service itself, with all of the subject's scopes.
  const own = await exchange(gateway, both);
  const ownClaims = payloadOf(own.access_token);
  check('exchange without audience or scope: aud the service, the subject\'s scopes, act',
    ownClaims.aud === gateway.client_id && own.scope === 'openid profile email' && ownClaims.act?.sub === gateway.client_id && ownClaims.sub === erinId,
    [own, ownClaims]);

  // Introspection: by the API the token is for, with its own credentials.
  const introspect = async (who, token) => oauth.processIntrospectionResponse(as, who.client,
    await oauth.introspectionRequest(as, who.client, who.auth, token, options));
  const seen = await introspect(orders, exchanged.access_token);
  check('introspection by the Orders API: active, erin, aud Orders, client_id the service',
    seen.active === true && seen.sub === erinId && seen.aud === orders.client_id && seen.client_id === gateway.client_id && seen.scope === 'openid email', seen);
  equal('introspection by the Orders API: act', JSON.stringify(seen.act), JSON.stringify({ sub: gateway.client_id }));
  equal('introspection by an unrelated client: inactive', JSON.stringify(await introspect(other, exchanged.access_token)), '{"active":false}');

  // ----------------------------------------------------------------------------------------
  // Refused.
  await refused('refused: a scope wider than the subject token\'s → invalid_scope',
    () => exchange(gateway, { ...both, audience: orders.client_id, scope: 'openid email app_data' }), oauthError('invalid_scope'));
  await refused('refused: another client\'s token as the actor → invalid_grant',
    () => exchange(gateway, { ...both, actor_token: otherActorToken }), oauthError('invalid_grant'));
  await refused('refused: another client exchanging the service\'s subject token → invalid_grant',
    () => exchange(other, { ...both, actor_token: otherActorToken }), oauthError('invalid_grant'));
  await refused('refused: the service\'s own client-credentials token as the subject → invalid_grant',
    () => exchange(gateway, { ...both, subject_token: actorToken }), oauthError('invalid_grant'));
  await refused('refused: the exchanged token exchanged again (its own aud) → invalid_grant',
    () => exchange(gateway, { ...both, subject_token: own.access_token }), oauthError('invalid_grant'));
  await refused('refused: the exchanged token for Orders exchanged again → invalid_grant',
    () => exchange(gateway, { ...both, subject_token: exchanged.access_token, audience: orders.client_id }), oauthError('invalid_grant'));
  await refused('refused: an unknown audience → invalid_target',
    () => exchange(gateway, { ...both, audience: 'no-such-client' }), oauthError('invalid_target'));
  {
    const { actor_token: _, actor_token_type: __, ...withoutActor } = both;
    await refused('refused: no actor_token → invalid_request', () => exchange(gateway, withoutActor), oauthError('invalid_request'));
  }
  await refused('refused: subject_token_type id_token → invalid_request',
    () => exchange(gateway, { ...both, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), oauthError('invalid_request'));
  await refused('refused: requested_token_type refresh_token → invalid_request',
    () => exchange(gateway, { ...both, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), oauthError('invalid_request'));
  await refused('refused: a client not registered for the grant → unauthorized_client',
    () => exchange(plain, both), oauthError('unauthorized_client'));

  // ----------------------------------------------------------------------------------------
  // Revoking the person's token ends the session, and the exchanged tokens with it.
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, gateway.client, gateway.auth, subjectToken, options));
  ok('revocation: the service revokes the subject token (200)');
  equal('revocation: the subject token introspects inactive', (await introspect(gateway, subjectToken)).active, false);
  equal('revocation: the exchanged token introspects {"active": false} at the Orders API',
    JSON.stringify(await introspect(orders, exchanged.access_token)), '{"active":false}');
  equal('revocation: so does the one exchanged for the service itself', (await introspect(gateway, own.access_token)).active, false);
  await refused('revocation: the revoked subject token cannot be exchanged (invalid_grant)',
    () => exchange(gateway, both), oauthError('invalid_grant'));
}

await run(LABEL, main);
process.exit(0);
