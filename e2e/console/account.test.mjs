// The account page at /account with passkeys and social login, and the passkey button of the
// hosted login page (/login), in a real headless Chromium whose WebAuthn calls are answered by
// DevTools' virtual authenticators (WebAuthn.addVirtualAuthenticator), against a running
// gatehouse and the OpenID Connect provider of e2e/oidc/provider.mjs. e2e/console.sh runs it
// after the console test, on the same server:
//
//   GATEHOUSE_E2E_BASE=http://127.0.0.1:8080 GATEHOUSE_E2E_PAGE_BASE=http://localhost:8080 \
//   GATEHOUSE_E2E_ADMIN_EMAIL=… GATEHOUSE_E2E_ADMIN_PASSWORD=… GATEHOUSE_E2E_USER_PASSWORD=… \
//   GATEHOUSE_E2E_LOG=…/gatehouse.log GATEHOUSE_E2E_OIDC_ISSUER=http://127.0.0.1:9090 \
//   node e2e/console/account.test.mjs
//
// GATEHOUSE_E2E_PAGE_BASE is where the browser opens the pages: gatehouse's public URL, whose
// host must be a domain name (a passkey's relying party cannot be an IP address). The server
// needs active accounts ann@, bob@ and carol@example.com with GATEHOUSE_E2E_USER_PASSWORD and
// no second factor, no account alice@example.com, rate limits off, emails written to its log
// (GATEHOUSE_E2E_LOG), and the provider at GATEHOUSE_E2E_OIDC_ISSUER configured as the trusted
// social login "idp" (GATEHOUSE_OIDC_IDP_ISSUER, _CLIENT_ID gatehouse, _CLIENT_SECRET
// gatehouse-secret, _TRUST_EMAIL true) with the callback {PAGE_BASE}/auth/oidc/idp/callback.
// Output and screenshots as in console.test.mjs (files named account-NN-…).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BASE, EXPECTED_CSP, base32, call, launchChromium, logInApi, runTest, setting, steps, totp,
} from './harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PAGE = setting('GATEHOUSE_E2E_PAGE_BASE', BASE).replace(/\/+$/, '');
const ADMIN = { email: setting('GATEHOUSE_E2E_ADMIN_EMAIL'), password: setting('GATEHOUSE_E2E_ADMIN_PASSWORD') };
const USER_PASSWORD = setting('GATEHOUSE_E2E_USER_PASSWORD');
const CHROMIUM = setting('GATEHOUSE_E2E_CHROMIUM', '/usr/bin/chromium');
const SHOTS = setting('GATEHOUSE_E2E_SCREENSHOTS', path.join(repo, 'target/console-screenshots'));
const SERVER_LOG = setting('GATEHOUSE_E2E_LOG');
const OIDC_ISSUER = setting('GATEHOUSE_E2E_OIDC_ISSUER').replace(/\/+$/, '');
const ANN = 'ann@example.com';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';
// Known only to the provider until the social login signs it up.
const ALICE = 'alice@example.com';
// Organizations: orla (an account the admin makes) owns two and invites ivy, who has no account
// until she signs up on the page the invitation's link opens. This run's mark keeps them apart
// from those of another run against the same server.
const RUN = Date.now().toString(36);
const ORLA = `orla-${RUN}@example.com`;
const IVY = `ivy-${RUN}@example.com`;
const HARBOR = { name: `Harbor Works ${RUN}`, slug: `harbor-works-${RUN}` };
const QUAY = { name: `Quay Labs ${RUN}`, slug: `quay-labs-${RUN}` };

let page;
let cdp;
const { step, watchConsole, until, messageText, expectMessage, visible, consoleStayedClean, finish } = steps(
  () => page,
  SHOTS,
  'account-',
);

// ------------------------------------------------------------------------------------------
// Virtual authenticators

/** A platform authenticator that keeps discoverable credentials and verifies its user. */
async function addAuthenticator(options = {}) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  });
  return authenticatorId;
}

const credentialsIn = async (authenticatorId) =>
  (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

// ------------------------------------------------------------------------------------------
// The page and the API

async function logInPage(who, password) {
  await page.fill('#login-email', who);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

async function expectLoggedIn(email) {
  await until(`the account view should show ${email}`, async () =>
    (await visible('#account-view')) && (await page.textContent('#whoami')).trim() === email,
  );
}

async function logOutPage() {
  await page.click('#logout');
  await until('the login form should be back', () => visible('#login-form'));
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the refresh token is forgotten');
}

/** Runs `action` and returns the JSON of the answer to `POST {path}` it causes. */
async function answerTo(urlPath, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === urlPath && r.request().method() === 'POST'),
    action(),
  ]);
  assert.equal(response.status(), 200, `POST ${urlPath}: ${response.status()} ${await response.text()}`);
  return response.json();
}

/**
 * The newest login email to `email` in the server's log (no SMTP is set, so emails are written
 * there): its link and its code, once more than `seen` of them have arrived.
 */
async function emailedLogin(email, seen) {
  let found = [];
  await until(`a login email to ${email} should be in the log`, async () => {
    // Each logged email starts with this; its body follows, then its fields (`to=…`).
    const log = await readFile(SERVER_LOG, 'utf8');
    found = log
      .split('email (no GATEHOUSE_SMTP_URL set')
      .filter((part) => part.includes(`to=${email} `) && part.includes('/auth/email/verify?token='));
    return found.length > seen;
  });
  const text = found[found.length - 1];
  const link = text.match(/^(http\S+\/auth\/email\/verify\?token=\S+)$/m)[1];
  const code = text.match(/^([0-9]{8})$/m)[1];
  return { link, code, count: found.length };
}

/**
 * The link to `urlPath` (with its `?token=`) in the newest email to `email` in the server's log
 * that has one, once more than `seen` such emails have arrived.
 */
async function emailedLink(email, urlPath, seen = 0) {
  let found = [];
  await until(`an email to ${email} with a link to ${urlPath} should be in the log`, async () => {
    const log = await readFile(SERVER_LOG, 'utf8');
    found = log
      .split('email (no GATEHOUSE_SMTP_URL set')
      .filter((part) => part.includes(`to=${email} `) && part.includes(`${urlPath}?token=`));
    return found.length > seen;
  });
  const text = found[found.length - 1];
  const escaped = urlPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const link = text.match(new RegExp(`^(http\\S+${escaped}\\?token=\\S+)$`, 'm'))[1];
  return { link, count: found.length };
}

/** The claims of an access token (only read here; gatehouse checks the signature). */
function claims(accessToken) {
  return JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString());
}

function assertTwoFactors(pair, method) {
  const { aal, amr } = claims(pair.access_token);
  assert.equal(aal, 2, `aal of a ${method} login`);
  assert.ok(amr.includes('mfa') && (amr.includes('hwk') || amr.includes('swk')), `amr of a ${method} login: ${amr}`);
}

const passkeyRows = () => page.locator('#passkeys-body tr[data-testid="passkey-row"]');
const listPasskeys = async (token) => {
  const answer = await call('GET', '/webauthn/credentials', { token });
  assert.equal(answer.status, 200, `GET /webauthn/credentials: ${answer.text}`);
  return answer.json.credentials;
};

// ------------------------------------------------------------------------------------------
// The hosted login page (/login): server-rendered forms; its passkey form is shown by its
// script (login/hosted.js) where the browser has WebAuthn, and posts the passkey's answer.

/** The visible text of the page, on one line. */
const pageText = async () => (await page.locator('body').innerText()).replace(/\s+/g, ' ').trim();

/** Waits for the page to say `pattern`; failing, tells where the browser is and what it shows. */
async function expectPageSays(pattern) {
  try {
    await until(`the page should say ${pattern}`, async () => pattern.test(await pageText()));
  } catch (error) {
    const shown = await pageText().catch(() => '(nothing readable)');
    throw new Error(`${error.message}; at ${page.url()} it shows: "${shown}"`);
  }
}

/**
 * Clicks the passkey button `label` of a hosted page (visible once hosted.js has run) and
 * returns the answer to the form it then posts to /login; fails with what #passkey-error says
 * when the script gives up instead.
 */
async function postPasskeyForm(label) {
  const button = page.locator('#passkey-form button[type="submit"]');
  await until(`the passkey button "${label}" should show`, () => button.isVisible());
  assert.equal((await button.textContent()).trim(), label);
  let posted = null;
  const onResponse = (response) => {
    if (new URL(response.url()).pathname === '/login' && response.request().method() === 'POST') posted = response;
  };
  page.on('response', onResponse);
  try {
    await button.click();
    const outcome = await until('the passkey form should post the browser\'s answer', async () => {
      if (posted) return { posted };
      const refused = await page.evaluate(() => document.getElementById('passkey-error')?.textContent.trim() || '');
      return refused ? { refused } : null;
    });
    assert.ok(outcome.posted, `the passkey form says: "${outcome.refused}"`);
    return outcome.posted;
  } finally {
    page.off('response', onResponse);
  }
}

/** The hosted page answered a login: `303` to `to`, with the browser-session cookie. */
async function expectLoggedInTo(answer, to) {
  const body = answer.status() === 303 ? '' : `: "${(await answer.text().catch(() => '')).replace(/\s+/g, ' ')}"`;
  assert.equal(answer.status(), 303, `POST /login answered ${answer.status()}${body}`);
  assert.equal(new URL(answer.headers().location, PAGE).href, to, 'where the login goes on to');
  const session = (await page.context().cookies(PAGE)).find((c) => c.name === 'gatehouse_session');
  assert.ok(session?.httpOnly, 'an HttpOnly browser-session cookie is set');
}

/**
 * Runs `body` while listening to the page: an error in its console (a Content-Security-Policy
 * violation, a failed request) or an uncaught exception fails the step that caused it.
 */
async function withoutPageErrors(body) {
  const errors = [];
  const onConsole = (message) => {
    if (message.type() === 'error' || /Content.Security.Policy/i.test(message.text())) {
      errors.push(`${message.type()}: ${message.text()} [${message.location()?.url || ''}]`);
    }
  };
  const onPageError = (error) => errors.push(`uncaught ${error.name}: ${error.message}`);
  page.on('console', onConsole);
  page.on('pageerror', onPageError);
  try {
    await body();
  } finally {
    page.off('console', onConsole);
    page.off('pageerror', onPageError);
  }
  assert.deepEqual(errors, [], `the page logged errors:\n  ${errors.join('\n  ')}`);
}

// ------------------------------------------------------------------------------------------
// Social login (the provider of e2e/oidc/provider.mjs, configured as "idp")

/** Has the provider log in its account `sub` (alice, bob or carol) at the next visit. */
async function providerLogsIn(sub) {
  const response = await fetch(`${OIDC_ISSUER}/_test/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sub }),
  });
  assert.equal(response.status, 204, `POST ${OIDC_ISSUER}/_test/login ${sub}: ${await response.text()}`);
}

const identityRows = () => page.locator('#identities-body tr[data-testid="identity-row"]');
const linkButton = () => page.locator('#identity-links button[data-testid="link-idp"]');

/** Clicks "Continue with Idp"; the provider answers at once and the browser comes back to
 *  /account with a code the page exchanges. Returns that exchange's token pair. */
async function continueWithProvider() {
  await until('the provider\'s button should show', () => visible('#social-login a[data-testid="social-idp"]'));
  return answerTo('/auth/exchange', () => page.click('#social-login a[data-testid="social-idp"]'));
}

/** The identities of an account, as it sees them through the API. */
async function listIdentities(token) {
  const answer = await call('GET', '/user/identities', { token });
  assert.equal(answer.status, 200, `GET /user/identities: ${answer.text}`);
  return answer.json.identities;
}

/** Audit events of `kind` about the account, polled: they are written in batches. */
async function expectEvent(adminToken, accountId, kind) {
  await until(`an audit event ${kind}`, async () => {
    const query = `/admin/events?account=${accountId}&kind=${encodeURIComponent(kind)}`;
    const answer = await call('GET', query, { token: adminToken });
    return answer.status === 200 && answer.json.events.length > 0;
  });
}

// ------------------------------------------------------------------------------------------

async function main() {
  const adminToken = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
  const carolId = (await call('GET', `/user/${encodeURIComponent(CAROL)}`, { token: adminToken })).json?.id;
  assert.ok(carolId, `${CAROL} should exist (e2e/console.sh creates it)`);
  // Tokens of API sessions, taken while a password alone still logs in.
  const carolToken = (await logInApi(CAROL, USER_PASSWORD)).access_token;
  const bobToken = (await logInApi(BOB, USER_PASSWORD)).access_token;
  const annId = (await call('GET', `/user/${encodeURIComponent(ANN)}`, { token: adminToken })).json?.id;
  assert.ok(annId, `${ANN} should exist (e2e/console.sh creates it)`);
  const annToken = (await logInApi(ANN, USER_PASSWORD)).access_token;
  // orla and her two organizations; the invitations go out in the steps.
  const madeOrla = await call('POST', '/admin/users', { token: adminToken, body: { email: ORLA, password: USER_PASSWORD } });
  assert.equal(madeOrla.status, 201, `POST /admin/users ${ORLA}: ${madeOrla.text}`);
  const orlaToken = (await logInApi(ORLA, USER_PASSWORD)).access_token;
  for (const org of [HARBOR, QUAY]) {
    const created = await call('POST', '/orgs', { token: orlaToken, body: org });
    assert.equal(created.status, 201, `POST /orgs ${org.slug}: ${created.text}`);
  }
  /** The members of one of orla's organizations, as `email: role`. */
  const membersOf = async (org) => {
    const answer = await call('GET', `/orgs/${org.slug}/members`, { token: orlaToken });
    assert.equal(answer.status, 200, `GET /orgs/${org.slug}/members: ${answer.text}`);
    return Object.fromEntries(answer.json.members.map((m) => [m.account.email, m.role]));
  };

  const browser = await launchChromium(CHROMIUM);
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    watchConsole(page);
    page.on('dialog', (dialog) => dialog.accept());
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    let authenticator = null;
    let totpSecret = null;
    let recoveryCode = null;

    await step('the account page loads with its strict CSP', [], async () => {
      const response = await page.goto(`${PAGE}/account`);
      assert.equal(response.status(), 200);
      assert.equal(response.headers()['content-security-policy'], EXPECTED_CSP);
      await until('account.js should have run', () => page.locator('body[data-ready="true"]').count());
      assert.ok(await visible('#login-form'), 'the login form shows');
      assert.ok(await visible('#passkey-login'), 'the passkey button shows in a browser with WebAuthn');
    });

    await step('every word of the account page is there in German, French and Spanish', ['the account page loads with its strict CSP'], async () => {
      const script = await readFile(path.join(repo, 'assets/account/account.js'), 'utf8');
      const passed = [...script.matchAll(/\bt\(\s*'((?:[^'\\]|\\.)*)'/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
      assert.ok(passed.length > 20, `account.js passes its words through t(): ${passed.length} found`);
      const missing = await page.evaluate((fromScript) => {
        const { words, has } = window.gatehouseI18n;
        const names = /^(English|Deutsch|Français|Español|IP)$/;
        const all = [...new Set([...words(), ...fromScript])].filter((w) => !names.test(w));
        return ['de', 'fr', 'es'].flatMap((language) => all.filter((w) => !has(language, w)).map((w) => `${language}: ${w}`));
      }, passed);
      assert.deepEqual(missing, [], 'every word has its translation');
    });

    await step('carol logs in with her password', ['the account page loads with its strict CSP'], async () => {
      await logInPage(CAROL, USER_PASSWORD);
      await expectLoggedIn(CAROL);
      await until('the factors should load', async () => (await page.textContent('#totp-status')) === 'Off.');
      await until('the sessions should list this one', () =>
        page.locator('#sessions-body tr[data-testid="session-row"][data-current="true"]').count(),
      );
      assert.equal(await page.locator('#passkeys-body tr.empty').count(), 1, 'no passkeys yet');
    });

    await step('carol adds a passkey', ['carol logs in with her password'], async () => {
      authenticator = await addAuthenticator({ defaultBackupEligibility: true, defaultBackupState: false });
      await page.fill('#passkey-name', 'laptop');
      await page.click('#passkey-add');
      await expectMessage(/Passkey "laptop" added/);
      await until('the passkey should be listed', async () => (await passkeyRows().count()) === 1);
      const stored = await credentialsIn(authenticator);
      assert.equal(stored.length, 1, 'one credential in the authenticator');
      assert.equal(stored[0].isResidentCredential, true, 'a discoverable credential');
      const [passkey] = await listPasskeys(carolToken);
      assert.deepEqual([passkey.name, passkey.backup_eligible, passkey.backup_state], ['laptop', true, false]);
    });

    await step('a passkey alone logs carol in', ['carol adds a passkey'], async () => {
      await logOutPage();
      const pair = await answerTo('/auth/webauthn', () => page.click('#passkey-login'));
      await expectLoggedIn(CAROL);
      assertTwoFactors(pair, 'passkey');
    });

    await step('a passkey whose backup state changed still logs in', ['a passkey alone logs carol in'], async () => {
      await logOutPage();
      const [credential] = await credentialsIn(authenticator);
      // What a synced passkey does once its provider has backed it up.
      await cdp.send('WebAuthn.setCredentialProperties', {
        authenticatorId: authenticator,
        credentialId: credential.credentialId,
        backupEligibility: true,
        backupState: true,
      });
      await answerTo('/auth/webauthn', () => page.click('#passkey-login'));
      await expectLoggedIn(CAROL);
      const [passkey] = await listPasskeys(carolToken);
      assert.equal(passkey.backup_state, true, 'the new backup state is recorded');
      await expectEvent(adminToken, carolId, 'passkey.backup_changed');
    });

    await step('the passkey is the second step of a password login', ['a passkey alone logs carol in'], async () => {
      await logOutPage();
      await logInPage(CAROL, USER_PASSWORD);
      await until('the second step should offer the passkey', () => visible('#mfa-passkey'));
      const pair = await answerTo('/auth/mfa', () => page.click('#mfa-passkey'));
      await expectLoggedIn(CAROL);
      assertTwoFactors(pair, 'password and passkey');
      assert.ok(claims(pair.access_token).amr.includes('pwd'), 'the password counts too');
    }, { expectConsole: [/status of 403/] });

    // The hosted login page (/login) of the same browser, with the same authenticator; its
    // session is the gatehouse_session cookie, so without cookies the browser has none there.
    await step('the hosted login page logs carol in with her passkey alone', ['a passkey alone logs carol in'], () =>
      withoutPageErrors(async () => {
        await page.context().clearCookies();
        const response = await page.goto(`${PAGE}/login`);
        assert.equal(response.status(), 200);
        const policy = response.headers()['content-security-policy'];
        assert.match(policy, /^default-src 'none'; script-src 'self'; connect-src 'self'; /, 'the page\'s CSP');
        assert.ok(!/unsafe|\*/.test(policy), `nothing loose in the CSP: ${policy}`);
        await expectPageSays(/Email or username/);
        const answer = await postPasskeyForm('Log in with a passkey');
        await expectLoggedInTo(answer, `${PAGE}/login`);
        await expectPageSays(/You are logged in as carol@example\.com\./);
      }),
    );

    await step('the hosted login page takes her passkey as the second step', ['a passkey alone logs carol in'], () =>
      withoutPageErrors(async () => {
        await page.context().clearCookies();
        // Back to the account page when logged in (gatehouse's own pages are always a `next`).
        const next = `${PAGE}/account`;
        await page.goto(`${PAGE}/login?next=${encodeURIComponent(next)}`);
        await page.fill('#login', CAROL);
        await page.fill('#password', USER_PASSWORD);
        await page.getByRole('button', { name: 'Log in', exact: true }).click();
        await expectPageSays(/Second factor/);
        assert.equal(await page.locator('#passkey-form input[name="mfa_token"]').count(), 1, 'the form carries the mfa_token');
        const answer = await postPasskeyForm('Use your passkey');
        await expectLoggedInTo(answer, next);
        await until(`the browser should reach ${next}`, () => page.url() === next);
        // The cookie session, as the browser's own requests see it.
        const loginPage = await page.context().request.get(`${PAGE}/login`);
        assert.match(await loginPage.text(), /You are logged in as carol@example\.com\./);
        // The account page's own session (its refresh token in sessionStorage) outlived both.
        await expectLoggedIn(CAROL);
        await page.context().clearCookies();
      }),
    );

    await step('carol removes her passkey', ['the passkey is the second step of a password login'], async () => {
      // Back on the account page should a hosted login step above have stopped elsewhere.
      if (new URL(page.url()).pathname !== '/account') {
        await page.goto(`${PAGE}/account`);
        await expectLoggedIn(CAROL);
      }
      await passkeyRows().first().locator('button').click();
      await expectMessage(/Passkey "laptop" removed/);
      assert.equal(await passkeyRows().count(), 0);
      assert.equal((await listPasskeys(carolToken)).length, 0);
      await logOutPage();
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator });
      authenticator = null;
    });

    await step('bob sets up an authenticator app from the QR code', ['the account page loads with its strict CSP'], async () => {
      await logInPage(BOB, USER_PASSWORD);
      await expectLoggedIn(BOB);
      await page.click('#totp-start');
      await page.fill('#totp-password', USER_PASSWORD);
      await page.click('#totp-password-submit');
      await until('the QR code should show', () => visible('#totp-confirm-form'));
      const qr = await page.locator('#totp-qr').evaluate((img) => ({ src: img.src, width: img.naturalWidth }));
      assert.ok(qr.src.startsWith('data:image/svg+xml;base64,'), qr.src.slice(0, 40));
      assert.ok(qr.width > 0, 'the QR code image decodes');
      totpSecret = base32((await page.textContent('#totp-secret')).replace(/\s/g, ''));
      await page.fill('#totp-code', totp(totpSecret, 0));
      await page.click('#totp-confirm-submit');
      await until('the recovery codes should show', () => visible('#recovery-view'));
      const codes = await page.locator('#recovery-list li').allTextContents();
      assert.equal(codes.length, 10, `ten recovery codes: ${codes.join(', ')}`);
      await page.click('#recovery-done');
      assert.equal(await page.locator('#recovery-list li').count(), 0, 'the codes leave the page');
      assert.equal(await page.textContent('#totp-status'), 'On. 10 recovery codes left.');
      recoveryCode = codes[0];
    });

    await step('bob logs in with a recovery code', ['bob sets up an authenticator app from the QR code'], async () => {
      await logOutPage();
      await logInPage(BOB, USER_PASSWORD);
      await until('the code form should show', () => visible('#mfa-form'));
      assert.ok(!(await visible('#mfa-passkey')), 'no passkey offered to an account without one');
      await page.fill('#mfa-code', recoveryCode);
      await page.click('#mfa-submit');
      await expectLoggedIn(BOB);
      await until('one code should be spent', async () => (await page.textContent('#totp-status')) === 'On. 9 recovery codes left.');
    }, { expectConsole: [/status of 403/] });

    await step('an authenticator without user verification is refused', ['bob logs in with a recovery code'], async () => {
      const weak = await addAuthenticator({ hasUserVerification: false, isUserVerified: false });
      try {
        // The options require user verification, so the browser itself refuses this one.
        await page.fill('#passkey-name', 'no verification');
        await page.click('#passkey-add');
        await expectMessage(/no passkey here could verify you/);
        // Options with the requirement taken out (as a tampering client would send them): the
        // authenticator answers without verifying its user, and gatehouse refuses the answer.
        await page.route('**/webauthn/register/options', async (route) => {
          const response = await route.fetch();
          const json = await response.json();
          json.publicKey.authenticatorSelection.userVerification = 'discouraged';
          // The credential protection that asks for verification goes too, or the browser
          // refuses the options as inconsistent.
          delete json.publicKey.extensions?.credentialProtectionPolicy;
          delete json.publicKey.extensions?.enforceCredentialProtectionPolicy;
          await route.fulfill({ response, json });
        });
        try {
          const [answer] = await Promise.all([
            page.waitForResponse((r) => new URL(r.url()).pathname === '/webauthn/register'),
            page.click('#passkey-add'),
          ]);
          assert.equal(answer.status(), 400, `POST /webauthn/register: ${await answer.text()}`);
          assert.equal((await answer.json()).code, 'webauthn_failed');
        } finally {
          await page.unroute('**/webauthn/register/options');
        }
        await until('the page should show the refusal', async () =>
          (await page.locator('#message[data-kind="error"]').count()) > 0 &&
          !/could verify you/.test(await page.textContent('#message')),
        );
        assert.equal(await passkeyRows().count(), 0, 'no passkey listed');
        assert.equal((await listPasskeys(bobToken)).length, 0, 'no passkey stored');
      } finally {
        await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: weak });
      }
    }, { expectConsole: [/status of 400/] });

    await step('bob turns the app off with a code', ['bob logs in with a recovery code'], async () => {
      await page.click('#totp-off');
      // One step ahead of the code that turned it on: a code is never taken twice.
      await page.fill('#totp-off-code', totp(totpSecret, 1));
      await page.click('#totp-off-submit');
      await expectMessage(/app is off/);
      assert.equal(await page.textContent('#totp-status'), 'Off.');
      await logOutPage();
    });

    await step('bob reads his account page in German, after a reload too', ['bob turns the app off with a code'], async () => {
      await logInPage(BOB, USER_PASSWORD);
      await expectLoggedIn(BOB);
      await page.selectOption('#language', 'de');
      await page.click('#language-save');
      await expectMessage(/Ihre Sprache ist gespeichert/);
      assert.equal(await page.getAttribute('html', 'lang'), 'de');
      assert.equal(await page.textContent('#sessions-heading'), 'Sitzungen');
      assert.equal(await page.textContent('#totp-status'), 'Aus.', 'what the page writes, too');
      await page.reload();
      await expectLoggedIn(BOB);
      await until('the page should come back in German (the locale is the account\'s)', async () =>
        (await page.textContent('#sessions-heading')) === 'Sitzungen' && (await page.inputValue('#language')) === 'de',
      );
      await page.selectOption('#language', '');
      await page.click('#language-save');
      await expectMessage(/Your language is saved/);
      assert.equal(await page.textContent('#sessions-heading'), 'Sessions', 'back to the browser\'s language');
      await logOutPage();
    });

    let annEmails = 0;
    await step('ann logs in with a code from an email', ['the account page loads with its strict CSP'], async () => {
      await page.fill('#login-email', ANN);
      await page.click('#email-login');
      await expectMessage(/a link and a code are on their way/);
      assert.ok(await visible('#email-form'), 'the code form shows');
      const { code, count } = await emailedLogin(ANN, annEmails);
      annEmails = count;
      await page.fill('#email-code', code);
      const pair = await answerTo('/auth/email/verify', () => page.click('#email-submit'));
      await expectLoggedIn(ANN);
      assert.deepEqual(claims(pair.access_token).amr, ['email']);
      await logOutPage();
    });

    await step('ann logs in by following the emailed link', ['ann logs in with a code from an email'], async () => {
      await page.fill('#login-email', ANN);
      await page.click('#email-login');
      await expectMessage(/a link and a code are on their way/);
      const { link, count } = await emailedLogin(ANN, annEmails);
      annEmails = count;
      // What a mail scanner does first: fetch the link. It must leave the link working.
      const scanned = await fetch(link, { redirect: 'manual' });
      assert.equal(scanned.status, 200);
      await page.goto(link.replace(BASE, PAGE));
      assert.ok(await visible('button[type="submit"]'), 'the link shows a page with one button');
      const [pair] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/exchange').then((r) => r.json()),
        page.click('button[type="submit"]'),
      ]);
      await expectLoggedIn(ANN);
      assert.deepEqual(claims(pair.access_token).amr, ['email']);
      assert.equal(new URL(page.url()).search, '', 'the one-time code left the address bar');
      await logOutPage();
    });

    await step('the admin console takes a passkey as the second step', ['the account page loads with its strict CSP'], async () => {
      authenticator = await addAuthenticator();
      try {
        await logInPage(ADMIN.email, ADMIN.password);
        await expectLoggedIn(ADMIN.email);
        await page.fill('#passkey-name', 'admin key');
        await page.click('#passkey-add');
        await expectMessage(/Passkey "admin key" added/);
        await logOutPage();

        await page.goto(`${PAGE}/admin`);
        await until('admin.js should have run', () => page.locator('body[data-ready="true"]').count());
        await logInPage(ADMIN.email, ADMIN.password);
        await until('the second step should offer the passkey', () => visible('#mfa-passkey'));
        const pair = await answerTo('/auth/mfa', () => page.click('#mfa-passkey'));
        await until('the console should open', () => visible('#console-view'));
        assertTwoFactors(pair, 'admin password and passkey');
        // The passkey goes with this login's token, before the logout ends it: removing an admin's
        // second factors takes one proved within GATEHOUSE_REAUTH_WINDOW, which adminToken (a
        // password alone, from before the passkey) is not.
        const reset = await call('DELETE', `/admin/users/${encodeURIComponent(ADMIN.email)}/mfa`, {
          token: pair.access_token,
        });
        assert.equal(reset.status, 204, `DELETE /admin/users/{admin}/mfa: ${reset.status} ${reset.text}`);
        await page.click('#logout');
      } finally {
        await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator });
      }
    }, { expectConsole: [/status of 403/] });

    // Social login, in a browser context of its own: nothing of the steps above is kept in it.
    const socialContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await socialContext.newPage();
    page.setDefaultTimeout(10_000);
    watchConsole(page);
    page.on('dialog', (dialog) => dialog.accept());
    let aliceId = null;

    await step('the login form offers the provider', [], async () => {
      const response = await page.goto(`${PAGE}/account`);
      assert.equal(response.status(), 200);
      await until('account.js should have run', () => page.locator('body[data-ready="true"]').count());
      await until('the provider\'s button should show', () => visible('#social-login'));
      const links = page.locator('#social-login a');
      assert.equal(await links.count(), 1, 'one provider');
      assert.equal((await links.first().textContent()).trim(), 'Continue with Idp');
      assert.equal(new URL(await links.first().getAttribute('href'), PAGE).pathname, '/auth/oidc/idp');
    });

    await step('a failed login\'s address puts none of its words on the page', ['the login form offers the provider'], async () => {
      // Anyone can write a link to /account with any `error`, `error_description` or `linked`:
      // the page says its own sentence for a code it knows and a general one for any other, and
      // names only a provider it has.
      const failures = [
        {
          query: '?error=identity_taken&error_description=Call%20555-0100%20now',
          says: 'That login already belongs to another account.',
          never: '555-0100',
        },
        {
          query: '?error=made_up_code',
          says: 'The login did not work. Try again, or use another way in.',
          never: 'made_up_code',
        },
      ];
      for (const { query, says, never } of failures) {
        await page.goto(`${PAGE}/account${query}`);
        await until('account.js should have run', () => page.locator('body[data-ready="true"]').count());
        assert.equal(await page.getAttribute('#message', 'data-kind'), 'error', `${query}: the message is an error`);
        assert.equal(await messageText(), says, `${query}: the page's own sentence`);
        assert.ok(!(await page.content()).includes(never), `${query}: "${never}" is nowhere on the page`);
        assert.ok(!(await pageText()).includes(never), `${query}: "${never}" is nowhere in the page's text`);
        assert.equal(new URL(page.url()).search, '', `${query}: the query left the address bar`);
      }
      await page.goto(`${PAGE}/account?linked=Call%20555-0100%20now`);
      await until('account.js should have run', () => page.locator('body[data-ready="true"]').count());
      assert.equal(await messageText(), '', 'a `linked` that names no provider of the server says nothing');
      assert.ok(!(await page.content()).includes('555-0100'), '"555-0100" is nowhere on the page');
    });

    await step('alice signs up through the provider', ['the login form offers the provider'], async () => {
      const before = await call('GET', `/user/${encodeURIComponent(ALICE)}`, { token: adminToken });
      assert.equal(before.status, 404, `no account ${ALICE} before: ${before.text}`);
      await providerLogsIn('alice');
      const pair = await continueWithProvider();
      await expectLoggedIn(ALICE);
      assert.deepEqual(claims(pair.access_token).amr, ['fed']);
      assert.equal(new URL(page.url()).search, '', 'the one-time code left the address bar');
      await until('one linked login should be listed', async () => (await identityRows().count()) === 1);
      const row = identityRows().first();
      assert.equal(await row.getAttribute('data-provider'), 'idp');
      const cells = await row.locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 2), ['Idp', ALICE], `the row of the identity: ${cells.join(' | ')}`);
      assert.equal(await linkButton().count(), 0, 'no "Link Idp" for a linked provider');
      const account = (await call('GET', `/user/${encodeURIComponent(ALICE)}`, { token: adminToken })).json;
      assert.equal(account?.status, 'active', 'a trusted provider\'s verified address makes an active account');
      assert.equal(account.name, 'Alice Liddell', 'the name the provider gave');
      aliceId = account.id;
      const [identity] = await listIdentities(pair.access_token);
      assert.deepEqual([identity.provider, identity.email], ['idp', ALICE]);
      await expectEvent(adminToken, aliceId, 'signup.by_provider');
    });

    await step('alice logs in through the provider again', ['alice signs up through the provider'], async () => {
      await logOutPage();
      await providerLogsIn('alice');
      const pair = await continueWithProvider();
      await expectLoggedIn(ALICE);
      assert.equal(claims(pair.access_token).sub, aliceId, 'the same account');
      await until('the linked login should be listed', async () => (await identityRows().count()) === 1);
      await expectEvent(adminToken, aliceId, 'login.social');
      await logOutPage();
    });

    // A link's start URL stops at gatehouse's own page, which names the account the provider
    // login would be linked to; only that page's button goes on to the provider.
    async function confirmLink(email) {
      await until('the link page should name the account', async () =>
        new URL(page.url()).pathname.endsWith('/auth/oidc/idp') &&
        (await page.textContent('body')).includes(email),
      );
      await page.screenshot({ path: path.join(SHOTS, 'account-link-confirm.png'), fullPage: true });
      await page.click(`a:has-text("Link Idp to ${email}")`);
    }

    await step('a provider login linked to another account is refused', ['alice signs up through the provider'], async () => {
      await logInPage(ANN, USER_PASSWORD);
      await expectLoggedIn(ANN);
      await until('"Link Idp" should show', () => linkButton().isVisible());
      assert.equal(await identityRows().count(), 0, 'no linked login yet');
      await providerLogsIn('alice');
      await linkButton().click();
      await confirmLink(ANN);
      await until('the page should say the login is taken', async () =>
        (await page.locator('#message[data-kind="error"]').count()) > 0 &&
        /^That login already belongs to another account\.$/.test(await messageText()),
      );
      assert.equal(new URL(page.url()).search, '', 'the error left the address bar');
      await expectLoggedIn(ANN);
      await until('"Link Idp" should show again', () => linkButton().isVisible());
      assert.equal(await identityRows().count(), 0, 'still no linked login');
      assert.equal((await listIdentities(annToken)).length, 0);
      await page.screenshot({ path: path.join(SHOTS, 'account-identity-taken.png'), fullPage: true });
      await logOutPage();
    });

    await step('ann links a provider login', ['the login form offers the provider'], async () => {
      await logInPage(ANN, USER_PASSWORD);
      await expectLoggedIn(ANN);
      await until('"Link Idp" should show', () => linkButton().isVisible());
      // The provider's bob: his address there is unverified (and another account's here), which
      // does not matter to a link that ann asks for herself.
      await providerLogsIn('bob');
      await linkButton().click();
      await confirmLink(ANN);
      await expectMessage(/^Linked: you can now log in with Idp\.$/);
      await expectLoggedIn(ANN);
      await until('the linked login should be listed', async () => (await identityRows().count()) === 1);
      const cells = await identityRows().first().locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 2), ['Idp', BOB], `the row of the identity: ${cells.join(' | ')}`);
      assert.equal(await linkButton().count(), 0, 'no "Link Idp" once linked');
      const identities = await listIdentities(annToken);
      assert.deepEqual(identities.map((i) => [i.provider, i.email]), [['idp', BOB]]);
      await expectEvent(adminToken, annId, 'identity.linked');
      await until('an email should tell ann of the link', async () =>
        (await readFile(SERVER_LOG, 'utf8'))
          .split('email (no GATEHOUSE_SMTP_URL set')
          .some((part) => part.includes(`to=${ANN} `) && part.includes(`your Idp account (${BOB})`)),
      );
    });

    await step('ann logs in through the linked provider', ['ann links a provider login'], async () => {
      await logOutPage();
      await providerLogsIn('bob');
      const pair = await continueWithProvider();
      await expectLoggedIn(ANN);
      assert.equal(claims(pair.access_token).sub, annId, 'ann\'s account');
    });

    await step('ann unlinks the provider', ['ann links a provider login'], async () => {
      await until('the linked login should be listed', async () => (await identityRows().count()) === 1);
      await identityRows().first().locator('button', { hasText: 'Unlink' }).click();
      await expectMessage(/Your Idp login is unlinked/);
      assert.equal(await identityRows().count(), 0, 'no linked login listed');
      assert.match(await page.textContent('#identities-body'), /No linked logins yet/);
      await until('"Link Idp" should show again', () => linkButton().isVisible());
      assert.equal((await listIdentities(annToken)).length, 0);
      await expectEvent(adminToken, annId, 'identity.unlinked');
    });

    await step('an unlinked provider login reaches no account', ['ann unlinks the provider'], async () => {
      await logOutPage();
      // bob's address at the provider is bob@'s here, but unverified there: no automatic link.
      await providerLogsIn('bob');
      await until('the provider\'s button should show', () => visible('#social-login a[data-testid="social-idp"]'));
      await page.click('#social-login a[data-testid="social-idp"]');
      await until('the page should say no account is linked', async () =>
        (await page.locator('#message[data-kind="error"]').count()) > 0 &&
        /No account is linked to this login/.test(await page.textContent('#message')),
      );
      assert.ok(await visible('#login-form'), 'still logged out');
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'no token is kept');
    });

    await step('the admin console lists alice\'s linked login', ['alice signs up through the provider'], async () => {
      await page.goto(`${PAGE}/admin`);
      await until('admin.js should have run', () => page.locator('body[data-ready="true"]').count());
      await logInPage(ADMIN.email, ADMIN.password);
      await until('the console should open', () => visible('#console-view'));
      await page.fill('#search-q', 'alice');
      await page.press('#search-q', 'Enter');
      const row = page.locator(`#users-body tr[data-testid="user-row"][data-email="${ALICE}"]`);
      await until(`${ALICE} should be listed`, async () => (await row.count()) === 1);
      await row.locator('button').click();
      await until(`the detail panel should show ${ALICE}`, async () =>
        (await visible('#detail')) && (await page.getByTestId('detail-email').textContent()) === ALICE,
      );
      const identities = page.locator('[data-testid="identities-table"] #identities-body tr[data-testid="identity-row"]');
      await until('the linked login should be listed', async () => (await identities.count()) === 1);
      assert.equal(await identities.first().getAttribute('data-provider'), 'idp');
      const cells = await identities.first().locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 2), ['idp', ALICE], `the row of the identity: ${cells.join(' | ')}`);
    });

    // Organizations, in a browser context of its own: orla's organization invites ivy, who has no
    // account yet; the emailed link opens the account page, where she signs up, confirms her
    // address by the emailed activation link, logs in and accepts. A second invitation she
    // accepts from the list of invitations to her address.
    const orgContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await orgContext.newPage();
    page.setDefaultTimeout(10_000);
    watchConsole(page);
    page.on('dialog', (dialog) => dialog.accept());
    const orgRow = (org) => page.locator(`#orgs-body tr[data-testid="org-row"][data-slug="${org.slug}"]`);
    const invitationRows = () => page.locator('#invitations-body tr[data-testid="invitation-row"]');
    const waitingToken = () => page.evaluate(() => sessionStorage.getItem('gatehouse.account.invitation'));
    let invitationToken = null;

    await step('the invitation link opens the account page with the sign-up form', [], async () => {
      const invited = await call('POST', `/orgs/${HARBOR.slug}/invitations`, {
        token: orlaToken,
        body: { email: IVY, role: 'member' },
      });
      assert.equal(invited.status, 201, `POST /orgs/${HARBOR.slug}/invitations: ${invited.text}`);
      const { link } = await emailedLink(IVY, '/invitations/accept');
      assert.equal(new URL(link).origin, PAGE, 'the link is on the public URL');
      invitationToken = new URL(link).searchParams.get('token');
      const response = await page.goto(link);
      assert.equal(response.status(), 200, `GET ${link}, followed`);
      const from = response.request().redirectedFrom();
      assert.equal(from && new URL(from.url()).pathname, '/invitations/accept', 'the link answered with a redirect');
      await until('account.js should have run', () => page.locator('body[data-ready="true"]').count());
      assert.equal(new URL(page.url()).pathname, '/account');
      assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
      assert.equal(await waitingToken(), invitationToken, 'the token waits in the tab');
      assert.ok(await visible('#login-form'), 'the login form shows');
      assert.ok(await visible('#signup-form'), 'the sign-up form shows while an invitation waits');
      assert.ok(!(await visible('#account-view')), 'nobody is logged in');
      assert.equal(await messageText(), '', 'nothing is said yet');
    });

    await step('the invitee signs up there and confirms her address', ['the invitation link opens the account page with the sign-up form'], async () => {
      const before = await call('GET', `/user/${encodeURIComponent(IVY)}`, { token: adminToken });
      assert.equal(before.status, 404, `no account ${IVY} before: ${before.text}`);
      await page.fill('#signup-email', IVY);
      await page.fill('#signup-password', USER_PASSWORD);
      await page.click('#signup-submit');
      await expectMessage(/^Almost there: confirm your address by the link we sent to /);
      assert.equal(await page.inputValue('#signup-password'), '', 'the password leaves the field');
      const pending = await call('GET', `/user/${encodeURIComponent(IVY)}`, { token: adminToken });
      assert.equal(pending.json?.status, 'pending', `signed up, pending: ${pending.text}`);
      // The activation link, followed in the same tab: the invitation's token waits in it.
      const { link } = await emailedLink(IVY, '/activate');
      const activated = await page.goto(link);
      assert.equal(activated.status(), 200, `GET ${link}`);
      await expectPageSays(new RegExp(`${IVY.replace(/[.]/g, '\\.')} is confirmed`));
      const active = await call('GET', `/user/${encodeURIComponent(IVY)}`, { token: adminToken });
      assert.equal(active.json?.status, 'active', `activated: ${active.text}`);
      assert.equal(active.json?.email_verified, true, 'the address is confirmed');
      await page.goto(`${PAGE}/account`);
      await until('account.js should have run', () => page.locator('body[data-ready="true"]').count());
      assert.equal(await waitingToken(), invitationToken, 'the token still waits');
      assert.ok(await visible('#signup-form'), 'the sign-up form still shows');
    });

    await step('the invitee logs in and is offered the invitation', ['the invitee signs up there and confirms her address'], async () => {
      await logInPage(IVY, USER_PASSWORD);
      await expectLoggedIn(IVY);
      await until('the invitation banner should show', () => visible('#invitation-view'));
      assert.ok(await visible('#invitation-accept'), 'with its "Accept" button');
      await until('the invitation should be listed too', async () => (await invitationRows().count()) === 1);
      assert.ok(await visible('#orgs-empty'), 'no organization yet');
      assert.equal(await orgRow(HARBOR).count(), 0);
    });

    await step('accepting the invitation puts the organization in her list', ['the invitee logs in and is offered the invitation'], async () => {
      await page.click('#invitation-accept');
      await expectMessage(new RegExp(`^You joined ${HARBOR.name}\\.$`));
      await until('the organization should be listed', async () => (await orgRow(HARBOR).count()) === 1);
      const cells = await orgRow(HARBOR).locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 2), [HARBOR.name, 'member'], `the row: ${cells.join(' | ')}`);
      assert.ok(!(await visible('#invitation-view')), 'the banner is gone');
      assert.ok(!(await visible('#orgs-empty')), 'no "no organization"');
      assert.ok(!(await visible('#invitations-body')), 'no invitation is left');
      assert.equal(await waitingToken(), null, 'the token is spent and forgotten');
      assert.equal((await membersOf(HARBOR))[IVY], 'member', 'the organization lists her');
      // The link's token is spent: a second acceptance finds nothing.
      const ivyToken = (await logInApi(IVY, USER_PASSWORD)).access_token;
      const again = await call('POST', '/invitations/accept', { token: ivyToken, body: { token: invitationToken } });
      assert.equal(again.status, 404, `the spent token: ${again.text}`);
    });

    await step('"Work in it" switches the session into the organization', ['accepting the invitation puts the organization in her list'], async () => {
      const button = orgRow(HARBOR).locator('button', { hasText: 'Work in it' });
      assert.equal(await button.count(), 1, 'offered for an organization the session is not in');
      const switched = await answerTo('/auth/org', () => button.click());
      const { org } = claims(switched.access_token);
      assert.deepEqual([org?.slug, org?.role], [HARBOR.slug, 'member'], `the new access token's org: ${JSON.stringify(org)}`);
      await expectMessage(new RegExp(`^You are now working in ${HARBOR.name}\\.$`));
      await until('the row should say it is active', async () =>
        (await orgRow(HARBOR).locator('button').count()) === 0 &&
        (await orgRow(HARBOR).locator('td').nth(3).textContent()).trim() === 'active',
      );
    });

    await step('a second invitation is accepted from the list', ['"Work in it" switches the session into the organization'], async () => {
      const invited = await call('POST', `/orgs/${QUAY.slug}/invitations`, {
        token: orlaToken,
        body: { email: IVY, role: 'admin' },
      });
      assert.equal(invited.status, 201, `POST /orgs/${QUAY.slug}/invitations: ${invited.text}`);
      await page.reload();
      await expectLoggedIn(IVY);
      await until('the invitation should be listed', async () => (await invitationRows().count()) === 1);
      assert.ok(!(await visible('#invitation-view')), 'no banner: no link was followed');
      const cells = await invitationRows().first().locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 2), [QUAY.name, 'admin'], `the invitation: ${cells.join(' | ')}`);
      assert.equal(
        (await orgRow(HARBOR).locator('td').nth(3).textContent()).trim(),
        'active',
        'after the reload the session is still in the organization, and the row says so',
      );
      await invitationRows().first().locator('button', { hasText: 'Accept' }).click();
      await expectMessage(new RegExp(`^You joined ${QUAY.name}\\.$`));
      await until('the second organization should be listed', async () => (await orgRow(QUAY).count()) === 1);
      const row = await orgRow(QUAY).locator('td').allTextContents();
      assert.deepEqual(row.slice(0, 2), [QUAY.name, 'admin'], `the row: ${row.join(' | ')}`);
      assert.ok(!(await visible('#invitations-body')), 'no invitation is left');
      assert.equal((await membersOf(QUAY))[IVY], 'admin', 'the organization lists her');
      assert.equal(await orgRow(QUAY).locator('button', { hasText: 'Work in it' }).count(), 1, 'not the active one');
    });

    await consoleStayedClean();
  } finally {
    await browser.close();
  }
  return finish();
}

runTest('account test', main);
