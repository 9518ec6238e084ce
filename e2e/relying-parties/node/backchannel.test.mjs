// gatehouse's OpenID Connect Back-Channel Logout as a relying party sees it: discovery says it is
// supported (with sid); two confidential first-party clients registered through the admin API,
// one with a back-channel logout URI (a receiver of this test's own on a loopback port) and one
// without, each get openid-client's authorization-code flow with PKCE and a nonce in the same
// browser session (the login posted as a browser would, once). Each way a client session ends
// then tells the client, with a logout token jose verifies against the JWKS alone (signature, iss,
// aud the client, typ logout+jwt), its event, the ID token's sub and sid, a jti, two minutes to
// live and no nonce: RP-initiated logout (openid-client's end-session URL with the ID token as
// the hint: both clients' sessions end, only the one with the URI hears of it), a revocation of a
// refresh token (another jti), and a password change while the receiver fails (503): the notice
// comes again about 5 s later with the same jti, signed afresh. Nothing else arrives: nothing for
// the client without the URI, nothing twice but the retried notice.
//
// With a second replica (GATEHOUSE_RP_OTHER_BASE, ../replicas.sh), each session is made on the
// first and ended on the second (the logout URL, the revocation endpoint and the password change
// sent there), and the first must refuse the ended session's token at once: the notices come
// from whichever replica's worker takes them.
//
// Run by ../run.sh after registration.test.mjs, against the same gatehouse, and by
// ../replicas.sh against two replicas on one database, which set:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
//   GATEHOUSE_RP_OTHER_BASE      (optional) another replica, where the sessions are ended
// Prints one line per check and exits 1 at the first that fails (or when the whole takes more
// than 60 s); about 5 s of it is gatehouse waiting before it sends a failed notice again.

import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { Browser, checks, httpTo, setUp, settings, walk } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
/** Where the sessions are ended: another replica, or the same gatehouse. */
const other = (process.env.GATEHOUSE_RP_OTHER_BASE || base).replace(/\/$/, '');
const origin = new URL(base).origin;
const LABEL = 'back-channel logout';
/** The event a logout token carries. */
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const SCOPE = 'openid email offline_access';
const CALENDAR_REDIRECT = 'https://calendar.example.com/cb';
const CALENDAR_BYE = 'https://calendar.example.com/bye';
const PHOTOS_REDIRECT = 'https://photos.example.com/cb';
/** Every HTTP request of the test, the library's included, gives up after this long. */
const REQUEST_TIMEOUT_S = 10;

// The checks, and raw HTTP: the admin API, and requests a library would not send.
const { ok, check, equal, describe, run, passed } = checks();
const http = httpTo(base, { timeoutMs: REQUEST_TIMEOUT_S * 1000 });
const httpOther = httpTo(other, { timeoutMs: REQUEST_TIMEOUT_S * 1000 });

/** `url` (one of gatehouse's, as discovery names them) sent to the replica that ends sessions. */
function onOther(url) {
  const moved = new URL(url);
  moved.host = new URL(other).host;
  return moved.href;
}

// Nothing may hang the run: past this, the test fails as a whole.
setTimeout(() => {
  console.log('FAIL the back-channel logout test did not end within 60 s');
  console.log(`${LABEL}: ${passed()} passed, 1 failed`);
  process.exit(1);
}, 60_000).unref();

/** Waits until `condition()` holds, checking every 100 ms; false after `ms`. */
async function until(condition, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A page's answer in one line, for a failed check. */
function summary(page) {
  return `${page.status} location=${page.location} ${page.text.slice(0, 400)}`;
}

// ------------------------------------------------------------------------------------------
// The client's back-channel endpoint: records every request, answers 200 unless told otherwise.

/**
 * Listens on a free loopback port. Returns { url, got (each request: method, path,
 * contentType, logout_token, the status answered, when), answers (statuses to answer next, in
 * order; 200 once they are used up), nth(n, ms) (waits for the nth request), close() }.
 */
async function startReceiver() {
  const got = [];
  const answers = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      got.push({
        method: req.method,
        path: req.url,
        contentType: req.headers['content-type'],
        token: new URLSearchParams(Buffer.concat(chunks).toString()).get('logout_token'),
        status,
        at: Date.now(),
      });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'unavailable');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}/backchannel-logout`;
  async function nth(n, ms, what) {
    check(`${what}: the receiver gets it (request ${n}, within ${ms / 1000} s)`, await until(() => got.length >= n, ms),
      `${got.length} requests so far`);
    return got[n - 1];
  }
  return { url, got, answers, nth, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

// ------------------------------------------------------------------------------------------
// The authorization-code flow, built by the library and walked in a browser.

/**
 * A client session by the code flow with PKCE and a nonce, in `browser`. Returns { tokens,
 * claims (the ID token's, as openid-client validated them), sawLogin }.
 */
async function grant(config, browser, redirectUri, login, what) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
  });
  const { callback, sawLogin } = await walk(browser, url, { origin, login, label: what, check });
  equal(`${what}: the answer goes to the registered redirect URI`, `${callback.origin}${callback.pathname}`, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true });
  const claims = tokens.claims();
  check(`${what}: openid-client accepts the tokens (an ID token with a sid, a refresh token)`,
    typeof claims?.sid === 'string' && claims.sid.length > 0 && typeof tokens.refresh_token === 'string', { claims, scope: tokens.scope });
  return { tokens, claims, sawLogin };
}

// ------------------------------------------------------------------------------------------
async function main() {
  const receiver = await startReceiver();
  ok(`receiver: listening on ${receiver.url}`);

  // Set-up through the admin API: a client that asks to hear of logouts, and one that does not.
  const { person: gil, personId: gilId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'gil@example.com', name: 'Gil Example', username: 'gil' });
  const calendar = await register({
    name: 'Calendar with back-channel logout (openid-client)',
    redirect_uris: [CALENDAR_REDIRECT],
    post_logout_redirect_uris: [CALENDAR_BYE],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
    first_party: true,
    backchannel_logout_uri: receiver.url,
    backchannel_logout_session_required: true,
  });
  check('set-up: the calendar gets its secret', typeof calendar.client_secret === 'string' && calendar.client_secret.length >= 20, calendar);
  equal('set-up: the answer names its back-channel logout URI', calendar.backchannel_logout_uri, receiver.url);
  equal('set-up: and that it wants sid', calendar.backchannel_logout_session_required, true);
  const photos = await register({
    name: 'Photos without back-channel logout (openid-client)',
    redirect_uris: [PHOTOS_REDIRECT],
    post_logout_redirect_uris: ['https://photos.example.com/bye'],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
    first_party: true,
  });
  check('set-up: the photos client has no back-channel logout URI', !photos.backchannel_logout_uri, photos);

  // ----------------------------------------------------------------------------------------
  // Discovery.
  const options = { execute: [client.allowInsecureRequests], timeout: REQUEST_TIMEOUT_S };
  const calendarConfig = await client.discovery(new URL(issuer), calendar.client_id, calendar.client_secret,
    client.ClientSecretBasic(calendar.client_secret), options);
  const photosConfig = await client.discovery(new URL(issuer), photos.client_id, photos.client_secret,
    client.ClientSecretBasic(photos.client_secret), options);
  ok('discovery: openid-client accepts the metadata (issuer matches)');
  const meta = calendarConfig.serverMetadata();
  equal('discovery: backchannel_logout_supported', meta.backchannel_logout_supported, true);
  equal('discovery: backchannel_logout_session_supported', meta.backchannel_logout_session_supported, true);
  equal('discovery: end_session_endpoint', meta.end_session_endpoint, `${issuer}/oauth2/logout`);
  equal('discovery: revocation_endpoint', meta.revocation_endpoint, `${issuer}/oauth2/revoke`);
  const algorithms = meta.id_token_signing_alg_values_supported;
  check('discovery: the ID token\'s signing algorithms', Array.isArray(algorithms) && algorithms.length > 0, algorithms);

  // The calendar as the library sees it, with the revocation endpoint on the other replica.
  const calendarOnOther = new client.Configuration({ ...meta, revocation_endpoint: onOther(meta.revocation_endpoint) },
    calendar.client_id, calendar.client_secret, client.ClientSecretBasic(calendar.client_secret));
  client.allowInsecureRequests(calendarOnOther);
  calendarOnOther.timeout = REQUEST_TIMEOUT_S;
  if (other !== base) ok(`replicas: sessions made on ${base} are ended on ${other}`);

  // jose, as the client would: the JWKS of discovery alone.
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: REQUEST_TIMEOUT_S * 1000 });

  /**
   * The nth request the receiver got, checked as the logout token of the session `sub` and
   * `sid` for the calendar, and verified with jose. Returns the token's claims.
   */
  async function verified(entry, what, { sub, sid }) {
    check(`${what}: a POST to the registered URI, as a form with logout_token`,
      entry.method === 'POST' && entry.path === new URL(receiver.url).pathname
        && entry.contentType?.startsWith('application/x-www-form-urlencoded') && typeof entry.token === 'string' && entry.token.length > 0,
      { ...entry, token: entry.token?.slice(0, 40) });
    const name = `${what}: jose verifies it against the JWKS (signature, iss, aud the calendar, typ logout+jwt, ${algorithms.join(' or ')})`;
    let result;
    try {
      result = await jwtVerify(entry.token, jwks, { issuer, audience: calendar.client_id, typ: 'logout+jwt', algorithms });
    } catch (e) {
      check(name, false, describe(e));
    }
    ok(name);
    const { payload, protectedHeader } = result;
    equal(`${what}: typ logout+jwt in the header, with the key's kid`, `${protectedHeader.typ} ${typeof protectedHeader.kid}`, 'logout+jwt string');
    equal(`${what}: aud is the calendar alone`, JSON.stringify(payload.aud), JSON.stringify(calendar.client_id));
    equal(`${what}: events has the back-channel logout event, {}`, JSON.stringify(payload.events), JSON.stringify({ [EVENT]: {} }));
    equal(`${what}: sub is the ID token's`, payload.sub, sub);
    equal(`${what}: sid is the ID token's`, payload.sid, sid);
    check(`${what}: a jti`, typeof payload.jti === 'string' && payload.jti.length > 0, payload);
    check(`${what}: no nonce`, !('nonce' in payload), payload);
    equal(`${what}: exp is iat + 120`, payload.exp - payload.iat, 120);
    check(`${what}: iat is now`, Math.abs(payload.iat - entry.at / 1000) < 60, [payload.iat, entry.at / 1000]);
    return payload;
  }

  // ----------------------------------------------------------------------------------------
  // 1. Both clients in one browser session; RP-initiated logout with the calendar's ID token.
  const browser = new Browser({ timeoutMs: REQUEST_TIMEOUT_S * 1000 });
  const first = await grant(calendarConfig, browser, CALENDAR_REDIRECT, gil, 'calendar');
  check('calendar: the person logs in', first.sawLogin, first.sawLogin);
  equal('calendar: the ID token is gil\'s', first.claims.sub, gilId);
  const photo = await grant(photosConfig, browser, PHOTOS_REDIRECT, gil, 'photos');
  check('photos: no login asked (the same browser session)', !photo.sawLogin, photo.sawLogin);
  equal('photos: its ID token has the same sid', photo.claims.sid, first.claims.sid);
  equal('nothing is sent while the sessions live', receiver.got.length, 0);

  const logoutState = client.randomState();
  const out = await browser.get(onOther(client.buildEndSessionUrl(calendarConfig, {
    id_token_hint: first.tokens.id_token, post_logout_redirect_uri: CALENDAR_BYE, state: logoutState,
  }).href));
  const bye = out.location ? new URL(out.location) : undefined;
  check('logout: 303 at once to the registered post_logout_redirect_uri', out.status === 303 && `${bye?.origin}${bye?.pathname}` === CALENDAR_BYE, summary(out));
  equal('logout: state comes back', bye.searchParams.get('state'), logoutState);
  equal('logout: the calendar\'s session ended (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: first.tokens.access_token })).status, 401);
  equal('logout: so did the photos client\'s (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: photo.tokens.access_token })).status, 401);
  const loggedOut = await verified(await receiver.nth(1, 10_000, 'logout'), 'logout', { sub: gilId, sid: first.claims.sid });
  await sleep(1000);
  equal('logout: one notice only (none for the photos client), a second later', receiver.got.length, 1);

  // ----------------------------------------------------------------------------------------
  // 2. A new session, ended by revoking its refresh token.
  const second = await grant(calendarConfig, browser, CALENDAR_REDIRECT, gil, 'calendar again');
  check('calendar again: the login is asked again (the browser session ended)', second.sawLogin, second.sawLogin);
  check('calendar again: a new sid', second.claims.sid !== first.claims.sid, [second.claims.sid, first.claims.sid]);
  await client.tokenRevocation(calendarOnOther, second.tokens.refresh_token);
  ok('revocation: openid-client revokes the refresh token (200)');
  equal('revocation: the session ended (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: second.tokens.access_token })).status, 401);
  const revoked = await verified(await receiver.nth(2, 10_000, 'revocation'), 'revocation', { sub: gilId, sid: second.claims.sid });
  check('revocation: another jti', revoked.jti !== loggedOut.jti, [revoked.jti, loggedOut.jti]);

  // ----------------------------------------------------------------------------------------
  // 3. The receiver fails once; a password change ends a third session.
  receiver.answers.push(503);
  const third = await grant(calendarConfig, browser, CALENDAR_REDIRECT, gil, 'calendar a third time');
  check('calendar a third time: no login asked (the browser session lives)', !third.sawLogin, third.sawLogin);
  equal('calendar a third time: the same sid as before the revocation (only the client session ended)', third.claims.sid, second.claims.sid);
  const own = await http('POST', '/auth', { json: { email: gil.login, password: gil.password } });
  check('password change: gil logs in (POST /auth)', own.status === 200 && own.json?.access_token, `${own.status} ${own.text.slice(0, 300)}`);
  const newPassword = `gil's other long passphrase ${Math.random().toString(36).slice(2)}`;
  const changed = await httpOther('POST', '/password/change', {
    token: own.json.access_token, json: { current_password: gil.password, new_password: newPassword },
  });
  equal('password change: 204', changed.status, 204);
  gil.password = newPassword;
  equal('password change: the calendar\'s session ended (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: third.tokens.access_token })).status, 401);
  const failedEntry = await receiver.nth(3, 10_000, 'password change');
  equal('password change: the receiver answered 503', failedEntry.status, 503);
  const failed = await verified(failedEntry, 'password change (refused)', { sub: gilId, sid: third.claims.sid });
  check('password change: a jti of its own', ![loggedOut.jti, revoked.jti].includes(failed.jti), [failed.jti, loggedOut.jti, revoked.jti]);
  const againEntry = await receiver.nth(4, 12_000, 'password change, again');
  const gap = (againEntry.at - failedEntry.at) / 1000;
  check('password change, again: about 5 s after the 503', gap >= 4.5 && gap <= 10, `${gap} s`);
  equal('password change, again: the receiver answered 200', againEntry.status, 200);
  const again = await verified(againEntry, 'password change, again', { sub: gilId, sid: third.claims.sid });
  equal('password change, again: the same jti (a repeat the receiver can recognise)', again.jti, failed.jti);
  check('password change, again: signed afresh (iat no earlier)', again.iat >= failed.iat, [again.iat, failed.iat]);

  // ----------------------------------------------------------------------------------------
  // 4. Nothing else comes.
  await sleep(1500);
  equal('afterwards: four requests in all (nothing for the photos client, nothing twice but the retry)', receiver.got.length, 4);
  equal('afterwards: three notices, the retried one counted once (distinct jti)',
    new Set([loggedOut.jti, revoked.jti, failed.jti, again.jti]).size, 3);
  await receiver.close();
}

await run(LABEL, main);
process.exit(0);
