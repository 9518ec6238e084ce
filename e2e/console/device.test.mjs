// The device grant's page (/device, RFC 8628), in a real headless Chromium, as a person uses it
// while a device (a TV, here this test through the API) waits: the device asks for its codes at
// /oauth2/device_authorization; the person opens the verification URI, types the code in lower
// case without its dash, is sent to the hosted login page, logs in with a password and the code
// of an authenticator app, comes back to the approval page (the client's name, the code as the
// device shows it, what the scopes mean) and allows; the device's next poll of /oauth2/token gets
// its tokens, once, with an ID token for that account that carries the second factor (`amr`,
// `acr` aal2). A second request is denied on the page and the device is told `access_denied`; a
// code that is not waiting (a wrong one, or one answered already) brings the entry page back
// with the reason, 400.
//
// It brings up what it needs on a free port of 127.0.0.1 (with stack.mjs, as org.test.mjs does),
// and stops it at the end:
//   - gatehouse: GATEHOUSE_E2E_BIN (default $CARGO_TARGET_DIR/release/gatehouse, with
//     CARGO_TARGET_DIR defaulting to ~/.cache/gatehouse-target; never built here), with a fresh
//     SQLite database, a bootstrap admin, rate limits off, public URL http://localhost:PORT.
//
//   node e2e/console/device.test.mjs     (e2e/console.sh runs it after the organization test)
//
// The admin, the client (a public one, "Living-room TV", registered for the device grant) and
// the account with its authenticator app are made through the API, and the device's requests
// are the API's; everything the person does is done on the pages.
//
// Each step prints PASS, FAIL (with the reason) or SKIP (a step it needs failed), and a
// screenshot of the page after each goes to GATEHOUSE_E2E_SCREENSHOTS (default
// target/console-screenshots; files named device-NN-…, this test's earlier ones removed first).
// Exit status 1 when a step failed, with the last lines of gatehouse's log. The database and the
// log go to GATEHOUSE_E2E_WORK when set (an empty directory, made if missing and left as it is),
// else to a temporary directory removed at the end unless GATEHOUSE_E2E_KEEP=1.
// GATEHOUSE_E2E_CHROMIUM: the browser (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

import {
  FAVICON_NOT_FOUND, hop, landsAt, loginButton, ownGatehouse, pageText, recordHops, repo, showLogs, startGatehouse,
  stopAll, stopOnSignals, workDir,
} from './stack.mjs';

// The harness reads the API's address when imported: this test's own gatehouse.
const { port: GATEHOUSE_PORT, page: PAGE } = await ownGatehouse();
const { BASE, base32, call, launchChromium, logInApi, runTest, setting, steps, totp } = await import('./harness.mjs');

const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/gatehouse-target');
const BIN = setting('GATEHOUSE_E2E_BIN', path.join(TARGET, 'release/gatehouse'));
const CHROMIUM = setting('GATEHOUSE_E2E_CHROMIUM', '/usr/bin/chromium');
const SHOTS = setting('GATEHOUSE_E2E_SCREENSHOTS', path.join(repo, 'target/console-screenshots'));
const RUN = Date.now();
const ADMIN = { email: 'admin@example.com', password: `correct horse battery staple device ${RUN}` };
/** Whose TV it is: a password, and an authenticator app as the second factor. */
const TESS = { email: 'tess@example.com', password: `tess's long passphrase ${RUN}` };
const CLIENT_NAME = 'Living-room TV';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SCOPES = ['openid', 'email'];
/** A user code as the device shows it: two fours of the letters gatehouse uses. */
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const UNKNOWN_CODE =
  'That code is not valid, has expired or has been answered already. Check the code your device shows, or start again there.';

// ------------------------------------------------------------------------------------------
// The device, through the API

/** A form posted to gatehouse's API: status, JSON and headers. */
async function postForm(urlPath, fields) {
  const response = await fetch(BASE + urlPath, {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON; keep the text for the message
  }
  return { status: response.status, json, text, headers: response.headers };
}

/** When the device last polled with each device code. */
const polledAt = new Map();

/**
 * The device's poll of the token endpoint, as a well-behaved device makes it: at least the
 * interval (5 s, and a little more) after its previous poll of the same code.
 */
async function poll(clientId, deviceCode) {
  const last = polledAt.get(deviceCode);
  if (last !== undefined) {
    const wait = last + 5_300 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  polledAt.set(deviceCode, Date.now());
  return postForm('/oauth2/token', { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });
}

/** A poll refused with the RFC's `error`. */
async function expectPollError(clientId, deviceCode, error) {
  const answer = await poll(clientId, deviceCode);
  assert.equal(answer.status, 400, `the poll: ${answer.status} ${answer.text}`);
  assert.equal(answer.json?.error, error, `the poll: ${answer.text}`);
  assert.equal(typeof answer.json.error_description, 'string', `the poll says why: ${answer.text}`);
}

/** The device asks for its codes, and checks what it is given. */
async function deviceCodes(clientId) {
  const answer = await postForm('/oauth2/device_authorization', { client_id: clientId, scope: SCOPES.join(' ') });
  assert.equal(answer.status, 200, `POST /oauth2/device_authorization: ${answer.text}`);
  assert.equal(answer.headers.get('cache-control'), 'no-store');
  const codes = answer.json;
  assert.match(codes.user_code, USER_CODE, `the user code: ${answer.text}`);
  assert.equal(codes.verification_uri, `${PAGE}/device`);
  assert.equal(codes.verification_uri_complete, `${PAGE}/device?user_code=${codes.user_code}`);
  assert.equal(codes.expires_in, 600);
  assert.equal(codes.interval, 5);
  assert.ok(typeof codes.device_code === 'string' && codes.device_code.length >= 20, `the device code: ${answer.text}`);
  return codes;
}

/** A JWT's part (0 the header, 1 the payload), decoded. */
const jwtPart = (jwt, index) => JSON.parse(Buffer.from(jwt.split('.')[index], 'base64url').toString('utf8'));

/** Checks `jwt`'s signature with the key of gatehouse's JWKS its header names. */
async function expectSignedByGatehouse(jwt, discovery) {
  const header = jwtPart(jwt, 0);
  const jwks = await fetch(discovery.jwks_uri.replace(PAGE, BASE)).then((r) => r.json());
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in the JWKS: ${JSON.stringify(jwks.keys.map((k) => k.kid))}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const [head, payload, signature] = jwt.split('.');
  const data = Buffer.from(`${head}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  const good = {
    RS256: () => verify('sha256', data, key, sig),
    ES256: () => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig),
    EdDSA: () => verify(null, data, key, sig),
  }[header.alg];
  assert.ok(good, `an ID token signed with ${header.alg}`);
  assert.ok(good(), `the ID token's ${header.alg} signature does not verify with the key ${header.kid}`);
  return header;
}

// ------------------------------------------------------------------------------------------
// The browser

let browser;
let page;
const { step: anyStep, watchConsole, until, visible, consoleStayedClean, finish } = steps(() => page, SHOTS, 'device-');

/**
 * A step (see harness.mjs) in which the browser's asking for a missing favicon is expected; with
 * `refusals`, also the browser's note of a page answered 400.
 */
const step = (name, needs, body, { refusals = false } = {}) =>
  anyStep(name, needs, body, { expectConsole: [FAVICON_NOT_FOUND, ...(refusals ? [/status of 400/] : [])] });

/** A new tab in a new browser (its own cookies), in English, watched. */
async function newPage(options = {}) {
  const context = await browser.newContext({ locale: 'en-US', ...options });
  const tab = await context.newPage();
  watchConsole(tab);
  return tab;
}

const heading = async () => (await page.locator('h1').innerText()).trim();
const entryButton = () => page.locator('form:has(#user_code) button[type="submit"]');
const decision = (value) => page.locator(`form[action="device"] button[name="decision"][value="${value}"]`);

/** The page's hosted-page policy: nothing but its own style and forms to this origin. */
function expectHostedPolicy(response) {
  const policy = response.headers()['content-security-policy'] ?? '';
  for (const part of ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
    assert.ok(policy.includes(part), `the page's Content-Security-Policy has ${part}: ${policy}`);
  }
  assert.ok(!/script-src/.test(policy), `the device page runs no script: ${policy}`);
}

/** Every visible control of the page has its <label for>. */
async function expectLabelled() {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input:not([type="hidden"]), select, textarea')]
      .filter((node) => !node.id || !document.querySelector(`label[for="${CSS.escape(node.id)}"]`))
      .map((node) => node.id || node.name || node.outerHTML.slice(0, 60)),
  );
  assert.deepEqual(unlabelled, [], 'every control has its <label for>');
}

/** The entry page's answer to `typed`: the last navigation to /device, and the tab there. */
async function enterCode(typed, record, lands) {
  await page.fill('#user_code', typed);
  await landsAt(page, lands, record, () => entryButton().click({ noWaitAfter: true }));
  await record.settled();
}

// ------------------------------------------------------------------------------------------

async function main() {
  const { work, tidy } = await workDir(SHOTS, 'device-', 'gatehouse-device-');

  const began = Date.now();
  try {
    await startGatehouse({
      bin: BIN,
      port: GATEHOUSE_PORT,
      work,
      settings: { GATEHOUSE_ADMIN_EMAIL: ADMIN.email, GATEHOUSE_ADMIN_PASSWORD: ADMIN.password },
    });
  } catch (error) {
    showLogs();
    await stopAll();
    await tidy();
    throw error;
  }
  console.log(`gatehouse at ${PAGE} (API ${BASE}); up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  let ok = false;
  let clientId;
  let accountId;
  let secret; // the authenticator app's
  let lastStep = -Infinity; // the 30-second step of the last code the app gave
  let codes; // the first request's, which is allowed
  let discovery;

  /** The authenticator app's code now: never one of a step already used (each is good once). */
  const freshCode = () => {
    const now = Math.floor(Date.now() / 30_000);
    const offset = Math.max(0, lastStep + 1 - now);
    lastStep = now + offset;
    return totp(secret, offset);
  };

  try {
    browser = await launchChromium(CHROMIUM);

    const SETUP = 'the admin registers the TV as a client; Tess has a password and an authenticator app';
    await step(SETUP, [], async () => {
      // A login of just now: registering a client needs the admin's recent authentication.
      const admin = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
      const client = await call('POST', '/admin/clients', {
        token: admin,
        body: { name: CLIENT_NAME, confidential: false, grant_types: [DEVICE_GRANT], scopes: SCOPES },
      });
      assert.equal(client.status, 201, `POST /admin/clients: ${client.text}`);
      clientId = client.json.client_id;
      assert.ok(clientId, `the client's id: ${client.text}`);
      assert.equal(client.json.confidential, false);
      assert.equal(client.json.client_secret ?? null, null, 'a public client has no secret');

      const made = await call('POST', '/admin/users', { token: admin, body: { email: TESS.email, password: TESS.password } });
      assert.equal(made.status, 201, `POST /admin/users ${TESS.email}: ${made.text}`);
      const tess = (await logInApi(TESS.email, TESS.password)).access_token;
      const me = await call('GET', '/user', { token: tess });
      assert.equal(me.status, 200, `GET /user: ${me.text}`);
      accountId = me.json.id;
      assert.ok(accountId, `the account's id: ${me.text}`);
      const enrolment = await call('POST', '/mfa/totp', { token: tess, body: { password: TESS.password } });
      assert.equal(enrolment.status, 200, `POST /mfa/totp: ${enrolment.text}`);
      assert.match(enrolment.json.otpauth_uri, /^otpauth:\/\/totp\//);
      secret = base32(enrolment.json.secret);
      const confirmed = await call('POST', '/mfa/totp/confirm', { token: tess, body: { code: freshCode() } });
      assert.equal(confirmed.status, 200, `POST /mfa/totp/confirm: ${confirmed.text}`);
      // The password alone no longer logs in.
      const password = await call('POST', '/auth', { body: { email: TESS.email, password: TESS.password } });
      assert.equal(password.status, 403, `POST /auth with the password alone: ${password.text}`);
      assert.equal(password.json?.code, 'mfa_required', `POST /auth with the password alone: ${password.text}`);

      const found = await call('GET', '/.well-known/openid-configuration');
      assert.equal(found.status, 200, found.text);
      discovery = found.json;
      assert.equal(discovery.device_authorization_endpoint, `${PAGE}/oauth2/device_authorization`);
      assert.ok(discovery.grant_types_supported.includes(DEVICE_GRANT), `grant_types_supported: ${found.text}`);
    });

    const CODES = 'the TV asks for codes; its first poll is told to wait for the person';
    await step(CODES, [SETUP], async () => {
      codes = await deviceCodes(clientId);
      await expectPollError(clientId, codes.device_code, 'authorization_pending');
    });

    page = await newPage();
    const record = recordHops(page);
    const typed = () => codes.user_code.toLowerCase().replace('-', '');
    const back = () => `${PAGE}/device?user_code=${typed()}`;

    const TO_LOGIN = 'Tess opens the verification URI and types the code in lower case; the page sends her to log in';
    await step(TO_LOGIN, [CODES], async () => {
      const answer = await page.goto(codes.verification_uri);
      assert.equal(answer.status(), 200, `GET ${codes.verification_uri}`);
      expectHostedPolicy(answer);
      assert.equal(await heading(), 'Connect a device');
      assert.ok((await pageText(page)).includes('Enter the code your device shows.'), await pageText(page));
      assert.equal(await page.inputValue('#user_code'), '', 'an empty field');
      assert.equal(await page.getAttribute('form:has(#user_code)', 'method'), 'get');
      assert.equal(await page.locator('p.error').count(), 0, 'no error yet');
      await expectLabelled();
      const login = { what: `${PAGE}/login?next=…`, test: (url) => url.startsWith(`${PAGE}/login?`) };
      await enterCode(typed(), record, login);
      const entered = hop(record, 'GET /device with the code', (h) => h.method === 'GET' && h.url === back());
      assert.equal(entered.status, 303, `GET ${back()} before logging in`);
      assert.equal(new URL(page.url()).searchParams.get('next'), back(), `the login goes on to the page: ${page.url()}`);
      assert.equal(await heading(), 'Log in');
      assert.ok(await visible('#password'), 'the password form');
    });

    const LOGGED_IN = 'she logs in with her password and the app\'s code, and is back at the device page';
    await step(LOGGED_IN, [TO_LOGIN], async () => {
      await page.fill('#login', TESS.email);
      await page.fill('#password', TESS.password);
      await loginButton(page).click();
      await until('the second factor should be asked for', () => visible('#code'), 10_000);
      assert.equal(await heading(), 'Second factor');
      assert.equal(await page.locator('input[type="password"]').count(), 0, 'no password field on the second step');
      assert.equal(await page.locator('input[name="mfa_token"]').count() >= 1, true, 'the form carries the mfa_token');
      await expectLabelled();
      const before = record.hops.length;
      await page.fill('#code', freshCode());
      await landsAt(page, back(), record, () => page.locator('form:has(#code) button[type="submit"]').click({ noWaitAfter: true }));
      await record.settled();
      const sent = record.hops.slice(before).find((h) => h.method === 'POST' && h.url === `${PAGE}/login`);
      assert.ok(sent, `the code was posted to /login:\n  ${record.describe()}`);
      assert.equal(sent.status, 303, `POST /login with the code answered ${sent.status}`);
      assert.equal(sent.location, back(), 'on to the device page, with the code as typed');
      assert.ok(sent.cookies.some((c) => /gatehouse_session=/.test(c)), `a browser session: ${sent.cookies.join(' | ')}`);
      const shown = record.hops.slice(before).filter((h) => h.method === 'GET' && h.url === back()).at(-1);
      assert.equal(shown?.status, 200, `GET ${back()} logged in`);
    });

    const APPROVAL = 'the approval page names the TV, shows the code as the device does, and says what it may see';
    await step(APPROVAL, [LOGGED_IN], async () => {
      assert.equal(await heading(), 'Connect this device?');
      const shown = await pageText(page);
      assert.ok(shown.includes(`${CLIENT_NAME} on another device asks to use your account:`), `the page says: ${shown}`);
      assert.ok(
        shown.includes(`Allow it only if you started this yourself and your device shows the code ${codes.user_code}.`),
        `the code as the device shows it (${codes.user_code}): ${shown}`,
      );
      assert.ok(!shown.includes(typed()), 'not the code as typed');
      const meanings = (await page.locator('ul li').allInnerTexts()).map((s) => s.trim());
      assert.deepEqual(meanings, ['know who you are (your account id)', 'see your email address']);
      assert.equal((await decision('allow').innerText()).trim(), 'Allow');
      assert.equal((await decision('deny').innerText()).trim(), 'Deny');
      assert.equal(await page.getAttribute('form[action="device"]', 'method'), 'post');
      assert.equal(await page.inputValue('form[action="device"] input[name="user_code"]'), codes.user_code);
      assert.ok(await page.inputValue('form[action="device"] input[name="form"]'), 'the form carries its token');
    });

    const ALLOWED = 'she clicks Allow: the page says the device is connected';
    await step(ALLOWED, [APPROVAL], async () => {
      const before = record.hops.length;
      await decision('allow').click();
      await until('the page should say the device is connected', async () => (await heading()) === 'Device connected');
      assert.ok((await pageText(page)).includes('You can go back to your device: it is signed in.'), await pageText(page));
      await record.settled();
      const posted = record.hops.slice(before).find((h) => h.method === 'POST' && h.url === `${PAGE}/device`);
      assert.equal(posted?.status, 200, `POST /device:\n  ${record.describe()}`);
      assert.match(posted.postData ?? '', /(^|&)decision=allow(&|$)/);
    });

    const TOKENS = 'the TV\'s next poll gets its tokens, once: an ID token for Tess, with her second factor';
    await step(TOKENS, [ALLOWED], async () => {
      const answer = await poll(clientId, codes.device_code);
      assert.equal(answer.status, 200, `the poll after Allow: ${answer.text}`);
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      const tokens = answer.json;
      assert.equal(tokens.token_type, 'Bearer', answer.text);
      assert.equal(tokens.scope, SCOPES.join(' '));
      assert.equal(typeof tokens.access_token, 'string', answer.text);
      assert.equal(typeof tokens.id_token, 'string', answer.text);
      assert.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access');

      const header = await expectSignedByGatehouse(tokens.id_token, discovery);
      const claims = jwtPart(tokens.id_token, 1);
      const shown = `${JSON.stringify(header)} ${JSON.stringify(claims)}`;
      assert.equal(claims.iss, discovery.issuer, shown);
      assert.equal(claims.aud, clientId, shown);
      assert.equal(claims.sub, accountId, `the ID token is Tess's: ${shown}`);
      assert.equal(claims.email, TESS.email, shown);
      assert.ok(Array.isArray(claims.amr) && claims.amr.includes('otp'), `amr names the app's code: ${shown}`);
      assert.ok(claims.amr.includes('pwd') && claims.amr.includes('mfa'), `amr names the password and mfa: ${shown}`);
      assert.equal(claims.acr, 'aal2', shown);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(claims.auth_time <= now && claims.auth_time >= Math.floor(RUN / 1000) - 1, `auth_time is of the login: ${shown}`);
      assert.ok(claims.exp > now, shown);

      const userinfo = await call('GET', '/oauth2/userinfo', { token: tokens.access_token });
      assert.equal(userinfo.status, 200, `GET /oauth2/userinfo: ${userinfo.text}`);
      assert.equal(userinfo.json.sub, accountId, userinfo.text);
      assert.equal(userinfo.json.email, TESS.email, userinfo.text);

      // Once only: the same device code again, at once, is spent.
      polledAt.delete(codes.device_code);
      await expectPollError(clientId, codes.device_code, 'invalid_grant');
    });

    const DENIED = 'a second request: she types its code with a space, clicks Deny, and the TV is told access_denied';
    await step(DENIED, [LOGGED_IN], async () => {
      const second = await deviceCodes(clientId);
      assert.notEqual(second.user_code, codes.user_code);
      await page.goto(`${PAGE}/device`);
      assert.equal(await heading(), 'Connect a device');
      const before = record.hops.length;
      const spaced = second.user_code.toLowerCase().replace('-', ' ');
      const approval = { what: `${PAGE}/device?user_code=…`, test: (url) => url.startsWith(`${PAGE}/device?user_code=`) };
      await enterCode(spaced, record, approval);
      const hops = record.hops.slice(before);
      assert.ok(!hops.some((h) => h.url.startsWith(`${PAGE}/login`)), `logged in already, no login:\n  ${record.describe()}`);
      assert.equal(hops.at(-1)?.status, 200, `the approval page:\n  ${record.describe()}`);
      await until('the approval page should show', async () => (await heading()) === 'Connect this device?');
      const shown = await pageText(page);
      assert.ok(shown.includes(second.user_code) && shown.includes(CLIENT_NAME), `the page says: ${shown}`);
      await decision('deny').click();
      await until('the page should say the request is denied', async () => (await heading()) === 'Request denied');
      assert.ok((await pageText(page)).includes('The device was not let in.'), await pageText(page));
      await expectPollError(clientId, second.device_code, 'access_denied');
    });

    await step('a wrong code brings the entry page back with the reason, answered 400', [LOGGED_IN], async () => {
      await page.goto(`${PAGE}/device`);
      const before = record.hops.length;
      const entry = { what: `${PAGE}/device?user_code=BBBB-BBBB`, test: (url) => url.startsWith(`${PAGE}/device?user_code=`) };
      await enterCode('BBBB-BBBB', record, entry);
      const answered = record.hops.slice(before).at(-1);
      assert.equal(answered?.status, 400, `the wrong code:\n  ${record.describe()}`);
      assert.equal(await heading(), 'Connect a device');
      assert.equal((await page.locator('p.error').innerText()).trim(), UNKNOWN_CODE);
      assert.equal(await page.inputValue('#user_code'), 'BBBB-BBBB', 'the code typed is kept for correcting');
      assert.equal(await decision('allow').count(), 0, 'nothing to allow');
    }, { refusals: true });

    await step('the allowed code, opened again, is no longer waiting', [TOKENS], async () => {
      const answer = await page.goto(codes.verification_uri_complete);
      assert.equal(answer.status(), 400, `GET ${codes.verification_uri_complete} once answered`);
      assert.equal(await heading(), 'Connect a device');
      assert.equal((await page.locator('p.error').innerText()).trim(), UNKNOWN_CODE);
      assert.equal(await decision('allow').count(), 0, 'nothing to allow');
    }, { refusals: true });

    await consoleStayedClean();
    ok = finish();
  } finally {
    await browser?.close().catch(() => {});
    await stopAll();
    if (!ok) showLogs();
    await tidy();
  }
  return ok;
}

stopOnSignals();

runTest('device grant page test', main);
