// gatehouse's client registration (RFC 7591, RFC 7592) and resource indicators (RFC 8707) as
// openid-client (v6) uses them: discovery names the registration endpoint, and the library
// registers a public client (a client_id and a registration access token, no secret). Such a
// client is third-party: the person is asked to consent even the first time, and the page says
// that it registered itself and where the answer goes. Its authorization-code flow with PKCE and
// a nonce (the login and consent forms posted as a browser would) names an MCP server as
// `resource`: the access token's aud is that server, the ID token's stays the client; a refresh
// may name it again, or nothing (aud the granted resource), but not an API the person did not
// grant (invalid_target), and an authorization naming a resource the server does not list is
// refused with invalid_target at the client's loopback redirect URI (RFC 8252: it leads to the
// person's own machine, where the tool waits; a self-registered client's own site would get no
// answer the person did not give). A confidential client registered the
// same way gets client-credentials tokens for itself but none for an API (nobody agreed to it),
// while an admin's client does, for a listed API and not for another. Registration refuses an
// http redirect URI off loopback (invalid_redirect_uri), token exchange and the device grant
// (invalid_client_metadata). With its
// registration access token a client reads, replaces and removes its registration; another
// client's token is 401 invalid_token; once removed, its refresh token is invalid_client and its
// access token dead.
//
// Run by ../run.sh after exchange.test.mjs, against the same gatehouse, which sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// and runs gatehouse with GATEHOUSE_CLIENT_REGISTRATION=open and
// GATEHOUSE_OAUTH_RESOURCES=https://api.example.com/,https://mcp.example.com/mcp (the former name
// of GATEHOUSE_RESOURCES, still read).
// Prints one line per check and exits 1 at the first that fails (or when the whole takes more
// than 60 s).

import * as client from 'openid-client';
import { Browser, checks, httpTo, parseForm, setUp, settings } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const origin = new URL(base).origin;
const LABEL = 'client registration';
/** The two resources gatehouse lists (GATEHOUSE_OAUTH_RESOURCES), and one it does not. */
const API = 'https://api.example.com/';
const MCP = 'https://mcp.example.com/mcp';
const UNLISTED = 'https://other.example.com/';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** Every HTTP request of the test, the library's included, gives up after this long. */
const REQUEST_TIMEOUT_S = 10;

// The checks, and raw HTTP: the admin API, and requests a library would not send.
const { ok, check, equal, refused, describe, run, passed } = checks();
const http = httpTo(base, { timeoutMs: REQUEST_TIMEOUT_S * 1000 });

// Nothing may hang the run: past this, the test fails as a whole.
setTimeout(() => {
  console.log('FAIL the client registration test did not end within 60 s');
  console.log(`${LABEL}: ${passed()} passed, 1 failed`);
  process.exit(1);
}, 60_000).unref();

/** A refusal by the server in OAuth's error form, as openid-client throws it. */
function oauthError(expected, status = 400) {
  return (e) => (e instanceof client.ResponseBodyError && e.error === expected && e.status === status)
    || `expected ResponseBodyError ${expected} (${status}): ${describe(e)} ${e?.error_description ?? ''}`;
}

/** The JSON header and payload of a JWT, unverified (for what the library does not expose). */
function jwtParts(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  return { header, payload };
}

/** An ID token's aud, which may be an array, as one string. */
function audOf(claims) {
  return Array.isArray(claims?.aud) ? claims.aud.join() : claims?.aud;
}

/** A page's answer in one line, for a failed check. */
function summary(page) {
  return `${page.status} location=${page.location} ${page.text.slice(0, 400)}`;
}

// ------------------------------------------------------------------------------------------
// An authorization request, built by the library and walked in a browser.

/**
 * Walks `url` in `browser` until gatehouse sends it off its own origin (the client's redirect
 * URI, never fetched): logs in with `login` when asked, allows on the consent page. Returns
 * { callback, sawLogin, consent (the consent page's HTML, if one was shown) }.
 */
async function authorize(browser, url, login) {
  let sawLogin = false;
  let consent;
  for (let step = 0; step < 10; step += 1) {
    const page = await browser.get(url);
    const path = new URL(url).pathname;
    let next;
    if (page.status === 302 || page.status === 303) {
      next = new URL(page.location, url).href;
    } else if (page.status === 200 && path === '/login') {
      sawLogin = true;
      const form = parseForm(page.text, url, 'login');
      check('code flow: the login page has its form (form, next)', form?.fields.form && form.fields.next, page.text.slice(0, 400));
      const answer = await browser.post(form.action, { ...form.fields, login: login.login, password: login.password });
      check('code flow: the login is accepted (303 on, a session cookie)', answer.status === 303 && browser.cookies.has('gatehouse_session'), summary(answer));
      next = new URL(answer.location, form.action).href;
    } else if (page.status === 200 && path === '/oauth2/authorize') {
      consent = page.text;
      const form = parseForm(page.text, url, 'consent');
      check('code flow: the consent page has its form (form, request, Allow and Deny)',
        form?.fields.form && form.fields.request && ['allow', 'deny'].every((v) => form.buttons.some((b) => b.name === 'decision' && b.value === v)),
        form ?? page.text.slice(0, 400));
      equal('code flow: the consent form posts to /oauth2/consent', new URL(form.action).pathname, '/oauth2/consent');
      const answer = await browser.post(form.action, { ...form.fields, decision: 'allow' });
      check('code flow: Allow sends the browser on (303)', answer.status === 303 && answer.location, summary(answer));
      next = new URL(answer.location, form.action).href;
    } else {
      check(`code flow: gatehouse answers ${url}`, false, summary(page));
    }
    if (new URL(next).origin !== origin) return { callback: new URL(next), sawLogin, consent };
    url = next;
  }
  check('code flow: the flow ends', false, 'more than 10 steps');
}

// ------------------------------------------------------------------------------------------
async function main() {
  // Set-up through the admin API: only the person; the clients register themselves.
  const { person: fay, personId: fayId, register: adminRegister } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'fay@example.com', name: 'Fay Example', username: 'fay' });
  const options = { execute: [client.allowInsecureRequests], timeout: REQUEST_TIMEOUT_S };

  // ----------------------------------------------------------------------------------------
  // A public client registers itself: a native app's loopback redirect URI (nothing listens
  // there; the browser reads the Location header).
  const port = 49152 + Math.floor(Math.random() * 16000);
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const notesName = 'Notes desktop app (openid-client)';
  const notesScope = 'openid email offline_access';
  const notesGrants = ['authorization_code', 'refresh_token'];
  const notesConfig = await client.dynamicClientRegistration(new URL(issuer), {
    client_name: notesName,
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    grant_types: notesGrants,
    scope: notesScope,
  }, undefined, options);
  ok('registration: openid-client registers a public client (discovery, then 201)');
  const meta = notesConfig.serverMetadata();
  equal('discovery: registration_endpoint', meta.registration_endpoint, `${issuer}/oauth2/register`);
  const notes = notesConfig.clientMetadata();
  check('registration: a client_id', typeof notes.client_id === 'string' && notes.client_id.length > 0, notes);
  check('registration: no client_secret for a public client', !('client_secret' in notes) && !('client_secret_expires_at' in notes), notes);
  check('registration: a registration access token', typeof notes.registration_access_token === 'string' && notes.registration_access_token.length >= 20, notes);
  equal('registration: registration_client_uri', notes.registration_client_uri, `${issuer}/oauth2/register/${notes.client_id}`);
  check('registration: client_id_issued_at is now', Math.abs(notes.client_id_issued_at - Date.now() / 1000) < 300, notes.client_id_issued_at);
  equal('registration: the metadata as registered (name, redirect URIs, grants, response types, method, scope)',
    JSON.stringify([notes.client_name, notes.redirect_uris, notes.grant_types, notes.response_types, notes.token_endpoint_auth_method, notes.scope]),
    JSON.stringify([notesName, [redirectUri], notesGrants, ['code'], 'none', notesScope]));

  // ----------------------------------------------------------------------------------------
  // The authorization-code flow with PKCE, for the MCP server: consent is asked, the access
  // token is the MCP server's, the ID token the client's.
  const browser = new Browser({ timeoutMs: REQUEST_TIMEOUT_S * 1000 });
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(notesConfig, {
    redirect_uri: redirectUri,
    scope: notesScope,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
    resource: MCP,
  });
  equal('code flow: the library sends the resource', JSON.stringify(authUrl.searchParams.getAll('resource')), JSON.stringify([MCP]));
  const walked = await authorize(browser, authUrl, fay);
  check('code flow: a login, then the consent page at once (a self-registered client is third-party)', walked.sawLogin && walked.consent !== undefined, walked);
  check('consent: the page says the client registered itself', walked.consent.includes(`${notesName} registered itself here`), walked.consent.slice(0, 1200));
  check('consent: and where the answer goes', walked.consent.includes('The answer goes to 127.0.0.1'), walked.consent.slice(0, 1200));
  equal('code flow: the answer goes to the registered loopback URI', `${walked.callback.origin}${walked.callback.pathname}`, redirectUri);
  const tokens = await client.authorizationCodeGrant(notesConfig, walked.callback,
    { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true }, { resource: MCP });
  ok('code flow: openid-client accepts the callback and the ID token (signature, iss, aud, nonce, exp)');
  const claims = tokens.claims();
  equal('ID token: sub is fay', claims.sub, fayId);
  equal('ID token: aud is the client, not the resource', audOf(claims), notes.client_id);
  equal('ID token: email', claims.email, fay.login);
  equal('tokens: scope', tokens.scope, notesScope);
  check('tokens: a refresh token with offline_access', typeof tokens.refresh_token === 'string', tokens);
  const access = jwtParts(tokens.access_token);
  equal('access token: typ at+jwt', access.header.typ, 'at+jwt');
  equal('access token: aud is the MCP server (one string)', JSON.stringify(access.payload.aud), JSON.stringify(MCP));
  equal('access token: sub is fay', access.payload.sub, fayId);
  equal('userinfo: the token for the MCP server is still one of fay\'s session',
    (await client.fetchUserInfo(notesConfig, tokens.access_token, fayId)).email, fay.login);

  // Refresh: the granted resource again, or none; not one the person did not grant.
  const refreshed = await client.refreshTokenGrant(notesConfig, tokens.refresh_token, { resource: MCP });
  check('refresh naming the MCP server: a new refresh token', refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, refreshed);
  equal('refresh naming the MCP server: the access token\'s aud is it', JSON.stringify(jwtParts(refreshed.access_token).payload.aud), JSON.stringify(MCP));
  equal('refresh: a new ID token, its aud still the client', audOf(refreshed.claims()), notes.client_id);
  await refused(`refused: a refresh naming ${API}, which was not granted → invalid_target`,
    () => client.refreshTokenGrant(notesConfig, refreshed.refresh_token, { resource: API }), oauthError('invalid_target'));
  const plain = await client.refreshTokenGrant(notesConfig, refreshed.refresh_token);
  ok('refresh: the refused request did not spend the refresh token');
  equal('refresh naming no resource: aud is the granted one (one string)', JSON.stringify(jwtParts(plain.access_token).payload.aud), JSON.stringify(MCP));

  // A resource the server does not list: refused at the authorization endpoint, at the client.
  {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(notesConfig, new URLSearchParams([
      ['redirect_uri', redirectUri],
      ['scope', notesScope],
      ['code_challenge', await client.calculatePKCECodeChallenge(verifier)],
      ['code_challenge_method', 'S256'],
      ['state', state],
      ['resource', API],
      ['resource', UNLISTED],
    ]));
    const page = await browser.get(url.href);
    check(`refused: a listed and an unlisted resource (${UNLISTED}) → 303 to the loopback redirect URI`,
      page.status === 303 && page.location?.startsWith(redirectUri), summary(page));
    const answer = new URL(page.location ?? redirectUri);
    equal('refused: the answer is invalid_target', answer.searchParams.get('error'), 'invalid_target');
    equal('refused: with the state', answer.searchParams.get('state'), state);
  }

  // ----------------------------------------------------------------------------------------
  // A confidential client registers itself for client credentials, and names a listed API.
  const jobConfig = await client.dynamicClientRegistration(new URL(issuer), {
    client_name: 'Reporting job (openid-client)',
    grant_types: ['client_credentials'],
    scope: 'app_data',
  }, undefined, options);
  ok('confidential client: openid-client registers it (201)');
  const job = jobConfig.clientMetadata();
  check('confidential client: its secret, once', typeof job.client_secret === 'string' && job.client_secret.length >= 20, job);
  equal('confidential client: client_secret_expires_at 0 (it does not expire)', job.client_secret_expires_at, 0);
  equal('confidential client: token_endpoint_auth_method, by default', job.token_endpoint_auth_method, 'client_secret_basic');
  check('confidential client: a registration access token of its own',
    typeof job.registration_access_token === 'string' && job.registration_access_token !== notes.registration_access_token, job);
  // The configuration the library returned authenticates with client_secret_post (its default
  // with an issued secret); gatehouse takes either way.
  const ownPost = await client.clientCredentialsGrant(jobConfig);
  equal('client credentials (client_secret_post): sub is the client', jwtParts(ownPost.access_token).payload.sub, job.client_id);
  const jobBasic = await client.discovery(new URL(issuer), job.client_id, job, client.ClientSecretBasic(job.client_secret), options);
  const own = await client.clientCredentialsGrant(jobBasic);
  equal('client credentials naming no resource (client_secret_basic): aud is the client', JSON.stringify(jwtParts(own.access_token).payload.aud), JSON.stringify(job.client_id));
  await refused(`refused: a self-registered client's client credentials naming ${API} → invalid_target`,
    () => client.clientCredentialsGrant(jobBasic, { resource: API }), oauthError('invalid_target'));

  // An admin's client gets a token for a listed API, and for no other.
  const nightly = await adminRegister({ name: 'Nightly job (openid-client)', grant_types: ['client_credentials'], scopes: ['app_data'] });
  const nightlyConfig = await client.discovery(new URL(issuer), nightly.client_id, undefined, client.ClientSecretBasic(nightly.client_secret), options);
  const forApi = await client.clientCredentialsGrant(nightlyConfig, { resource: API });
  const forApiClaims = jwtParts(forApi.access_token).payload;
  equal(`an admin's client, client credentials naming ${API}: aud is it`, JSON.stringify(forApiClaims.aud), JSON.stringify(API));
  equal('client credentials: sub is the client', forApiClaims.sub, nightly.client_id);
  await refused(`refused: client credentials naming an unlisted resource (${UNLISTED}) → invalid_target`,
    () => client.clientCredentialsGrant(nightlyConfig, { resource: UNLISTED }), oauthError('invalid_target'));

  // ----------------------------------------------------------------------------------------
  // Registrations refused, as the library reports them.
  await refused('registration refused: an http redirect URI that is not loopback → invalid_redirect_uri',
    () => client.dynamicClientRegistration(new URL(issuer), {
      client_name: 'Plain http (openid-client)', redirect_uris: ['http://notes.example.com/cb'], token_endpoint_auth_method: 'none',
    }, undefined, options),
    oauthError('invalid_redirect_uri'));
  await refused('registration refused: the token exchange grant → invalid_client_metadata',
    () => client.dynamicClientRegistration(new URL(issuer), {
      client_name: 'Token exchange (openid-client)', grant_types: [TOKEN_EXCHANGE],
    }, undefined, options),
    oauthError('invalid_client_metadata'));
  await refused('registration refused: the device grant → invalid_client_metadata',
    () => client.dynamicClientRegistration(new URL(issuer), {
      client_name: 'Device (openid-client)', grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none',
    }, undefined, options),
    oauthError('invalid_client_metadata'));

  // ----------------------------------------------------------------------------------------
  // RFC 7592 (raw HTTP: openid-client does not manage registrations): the registration access
  // token reads, replaces and removes its own client, and nothing else does.
  const management = notes.registration_client_uri;
  const managed = { token: notes.registration_access_token };
  const read = await http('GET', management, managed);
  check('management: GET with the registration access token → 200', read.status === 200 && read.json, `${read.status} ${read.text.slice(0, 300)}`);
  equal('management: it names the client', read.json.client_name, notesName);
  equal('management: its client_id', read.json.client_id, notes.client_id);
  check('management: no secret shown again (no registration_access_token)', !('registration_access_token' in read.json) && !('client_secret' in read.json), read.json);
  equal('management: Cache-Control no-store', read.headers.get('cache-control'), 'no-store');
  for (const [token, why] of [[job.registration_access_token, "another client's registration access token"], ['wrong', 'a wrong token'], [undefined, 'no token']]) {
    const r = await http('GET', management, { token });
    check(`management: ${why} → 401 invalid_token`, r.status === 401 && r.json?.error === 'invalid_token', `${r.status} ${r.text.slice(0, 300)}`);
    equal(`management: ${why}: WWW-Authenticate`, r.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  }
  const renamed = 'Notes desktop app, renamed (openid-client)';
  const replaced = await http('PUT', management, {
    ...managed,
    json: {
      client_id: notes.client_id, client_name: renamed, redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none', grant_types: notesGrants, scope: notesScope,
    },
  });
  check('management: PUT a new client_name → 200', replaced.status === 200 && replaced.json, `${replaced.status} ${replaced.text.slice(0, 300)}`);
  equal('management: the answer has the new name, and the rest as sent',
    JSON.stringify([replaced.json.client_name, replaced.json.redirect_uris, replaced.json.grant_types, replaced.json.scope]),
    JSON.stringify([renamed, [redirectUri], notesGrants, notesScope]));
  equal('management: GET then says the new name', (await http('GET', management, managed)).json?.client_name, renamed);
  const removed = await http('DELETE', management, managed);
  equal('management: DELETE → 204', removed.status, 204);
  equal('management: GET afterwards → 401', (await http('GET', management, managed)).status, 401);
  await refused('removed: the token endpoint no longer knows the client (invalid_client, 401)',
    () => client.refreshTokenGrant(notesConfig, plain.refresh_token), oauthError('invalid_client', 401));
  equal('removed: its access token is refused at userinfo (401)', (await http('GET', '/oauth2/userinfo', { token: plain.access_token })).status, 401);
}

await run(LABEL, main);
process.exit(0);
