// The account page at /account and passkeys, in a real headless Chromium whose WebAuthn calls
// are answered by DevTools' virtual authenticators (WebAuthn.addVirtualAuthenticator), against a
// running gatehouse. e2e/console.sh runs it after the console test, on the same server:
//
//   GATEHOUSE_E2E_BASE=http://127.0.0.1:8080 GATEHOUSE_E2E_PAGE_BASE=http://localhost:8080 \
//   GATEHOUSE_E2E_ADMIN_EMAIL=… GATEHOUSE_E2E_ADMIN_PASSWORD=… GATEHOUSE_E2E_USER_PASSWORD=… \
//   node e2e/console/account.test.mjs
//
// GATEHOUSE_E2E_PAGE_BASE is where the browser opens the pages: gatehouse's public URL, whose
// host must be a domain name (a passkey's relying party cannot be an IP address). The server
// needs active accounts bob@ and carol@example.com with GATEHOUSE_E2E_USER_PASSWORD and no
// second factor, and rate limits off. Output and screenshots as in console.test.mjs (files
// named account-NN-…).

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
const ANN = 'ann@example.com';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';

let page;
let cdp;
const { step, watchConsole, until, expectMessage, visible, consoleStayedClean, finish } = steps(() => page, SHOTS, 'account-');

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

    await step('carol removes her passkey', ['the passkey is the second step of a password login'], async () => {
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
        await page.click('#logout');
      } finally {
        await call('DELETE', `/admin/users/${encodeURIComponent(ADMIN.email)}/mfa`, { token: adminToken });
        await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator });
      }
    }, { expectConsole: [/status of 403/] });

    await consoleStayedClean();
  } finally {
    await browser.close();
  }
  return finish();
}

runTest('account test', main);
