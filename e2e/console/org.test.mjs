// The settings page of an organization (/orgs/{slug}/settings), in a real headless Chromium: its
// owner logs in on the page, claims and verifies a domain by the TXT record the page shows,
// connects the organization's SAML identity provider by its metadata URL (and a person at the
// domain then logs in through it at the hosted login page), makes, reloads past and revokes SCIM
// tokens, requires single sign-on, and adds an OpenID Connect connection; a plain member, someone
// who is no member, and an address naming no organization see a refusal and no form. What the
// page shows is checked against the API's answers, and what it changed against the API.
//
// It brings up what it needs on free ports of 127.0.0.1, as sso.test.mjs does (see stack.mjs),
// and stops it at the end:
//   - gatehouse: GATEHOUSE_E2E_BIN (default $CARGO_TARGET_DIR/release/gatehouse, with
//     CARGO_TARGET_DIR defaulting to ~/.cache/gatehouse-target; never built here), with a fresh
//     SQLite database, a bootstrap admin, rate limits off, public URL http://localhost:PORT,
//     GATEHOUSE_DNS_RESOLVER the DNS server below, GATEHOUSE_REDIRECT_ALLOW the app below and
//     GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true (the connection's metadata is fetched from the IdP on
//     loopback);
//   - the identity provider, logging in ann@acme.test: e2e/saml/idp_server.py run with
//     GATEHOUSE_E2E_SAML_PYTHON (default the python of the virtualenv e2e/saml/setup.sh makes,
//     ${GATEHOUSE_SAML_VENV:-~/.cache/gatehouse-saml-venv}; xmlsec1 must be on PATH);
//   - a DNS server (UDP, in this process) answering the TXT record the page shows for acme.test;
//   - the app the single sign-on login goes on to: a page of node's http server, at /app/home.
//
//   node e2e/console/org.test.mjs        (e2e/console.sh runs it after the single sign-on test)
//
// The accounts (the organization's owner, a member, someone at acme.test with a password, someone
// of no organization) and the organization itself are made through the API; everything else
// through the page.
//
// Each step prints PASS, FAIL (with the reason) or SKIP (a step it needs failed), and a
// screenshot of the page after each goes to GATEHOUSE_E2E_SCREENSHOTS (default
// target/console-screenshots; files named org-NN-…, this test's earlier ones removed first).
// Exit status 1 when a step failed, with the last lines of gatehouse's and the identity
// provider's logs. The database and logs go to GATEHOUSE_E2E_WORK when set (an empty directory,
// made if missing and left as it is), else to a temporary directory removed at the end unless
// GATEHOUSE_E2E_KEEP=1.
// GATEHOUSE_E2E_CHROMIUM: the browser (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';

import {
  FAVICON_NOT_FOUND, expectLoggedInPage, hop, landsAt, loginButton, ownGatehouse, pageText, recordHops, repo, showLogs,
  startApp, startDns, startGatehouse, startIdp, stopAll, stopOnSignals, workDir,
} from './stack.mjs';

// The harness reads the API's address when imported: this test's own gatehouse.
const { port: GATEHOUSE_PORT, page: PAGE } = await ownGatehouse();
const { BASE, EXPECTED_CSP, call, launchChromium, logInApi, runTest, setting, steps } = await import('./harness.mjs');

const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/gatehouse-target');
const BIN = setting('GATEHOUSE_E2E_BIN', path.join(TARGET, 'release/gatehouse'));
const VENV = process.env.GATEHOUSE_SAML_VENV || path.join(os.homedir(), '.cache/gatehouse-saml-venv');
const PYTHON = setting('GATEHOUSE_E2E_SAML_PYTHON', path.join(VENV, 'bin/python'));
const CHROMIUM = setting('GATEHOUSE_E2E_CHROMIUM', '/usr/bin/chromium');
const SHOTS = setting('GATEHOUSE_E2E_SCREENSHOTS', path.join(repo, 'target/console-screenshots'));
const RUN = Date.now();
const ADMIN = { email: 'admin@example.com', password: `correct horse battery staple org ${RUN}` };
/** The organization's owner: makes it through the API, then runs its settings page. */
const OWNER = { email: 'olga@example.com', password: `olga's long passphrase ${RUN}` };
/** A plain member (role `member`), at a domain of no organization's. */
const MEMBER = { email: 'mia@example.com', password: `mia's long passphrase ${RUN}` };
/** Someone of no organization. */
const STRANGER = { email: 'nora@example.com', password: `nora's long passphrase ${RUN}` };
/** An account at acme.test with a password, made before single sign-on is required. */
const DAVE = { email: 'dave@acme.test', password: `dave's long passphrase ${RUN}` };
/** Whom the identity provider logs in; no account until that login. */
const ANN = 'ann@acme.test';
const DOMAIN = 'acme.test';
const ORG = { name: 'Acme', slug: 'acme' };
const SETTINGS = `${PAGE}/orgs/${ORG.slug}/settings`;
/**
 * The OpenID Connect connection's issuer. Nothing is fetched from it until a first login, but
 * gatehouse checks its host as it checks a webhook's (it must resolve, and to no private address
 * unless GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true, which this stack sets): localhost resolves here.
 */
const ISSUER = 'https://localhost/realms/acme';

// ------------------------------------------------------------------------------------------
// The browser

let browser;
let page;
const { step: anyStep, watchConsole, until, messageText, expectMessage, visible, consoleStayedClean, finish } = steps(
  () => page,
  SHOTS,
  'org-',
);

/** A step (see harness.mjs) in which the browser's asking for a missing favicon is expected. */
const step = (name, needs, body, { expectConsole = [] } = {}) =>
  anyStep(name, needs, body, { expectConsole: [FAVICON_NOT_FOUND, ...expectConsole] });

/** A new tab in a new browser (its own cookies and sessionStorage), in English, watched. */
async function newPage(options = {}) {
  const context = await browser.newContext({ locale: 'en-US', ...options });
  const tab = await context.newPage();
  watchConsole(tab);
  return tab;
}

/** The settings page's login form, filled in and sent. */
async function logInPage(who, password) {
  await page.fill('#login-email', who);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

/** The settings page is up for `email`: the organization loaded and its panels shown. */
async function expectSettings(email) {
  await until(`the settings of ${ORG.name} should show for ${email}`, async () =>
    (await visible('#panels')) &&
    (await page.textContent('#whoami')).trim() === email &&
    (await page.textContent('#org-title')).trim() === ORG.name &&
    (await page.getAttribute('body', 'data-org')) === 'loaded',
  );
}

/** Runs `action` and returns the answer to `method path` it causes: status and JSON. */
async function answerTo(method, urlPath, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === urlPath && r.request().method() === method),
    action(),
  ]);
  // A 204 has no body to read.
  const body = response.status() === 204 ? '' : await response.text();
  let json = null;
  try {
    json = JSON.parse(body);
  } catch {
    // not JSON
  }
  return { status: response.status(), json, text: body };
}

const text = async (selector) => (await page.locator(selector).textContent()).trim();
const domainRow = () => page.locator(`[data-testid="domain-row"][data-domain="${DOMAIN}"]`);
const tokenRows = () => page.locator('[data-testid="scim-token-row"]');

/** A SCIM request with `token`: its status. */
const scimStatus = async (token) =>
  (await fetch(`${BASE}/scim/v2/Users`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/scim+json' } })).status;

// ------------------------------------------------------------------------------------------

async function main() {
  const { work, tidy } = await workDir(SHOTS, 'org-', 'gatehouse-org-');

  const began = Date.now();
  const dns = await startDns();
  const app = await startApp();
  let idp;
  try {
    [idp] = await Promise.all([
      startIdp({ python: PYTHON, work, email: ANN, attrs: ['givenName=Ann'] }),
      startGatehouse({
        bin: BIN,
        port: GATEHOUSE_PORT,
        work,
        settings: {
          GATEHOUSE_ADMIN_EMAIL: ADMIN.email,
          GATEHOUSE_ADMIN_PASSWORD: ADMIN.password,
          GATEHOUSE_DNS_RESOLVER: dns.address,
          GATEHOUSE_REDIRECT_ALLOW: `${app.base}/app/`,
          GATEHOUSE_WEBHOOK_ALLOW_PRIVATE: 'true',
        },
      }),
    ]);
  } catch (error) {
    showLogs();
    await Promise.all([stopAll(), dns.close(), app.close()]);
    await tidy();
    throw error;
  }
  console.log(
    `gatehouse at ${PAGE} (API ${BASE}), identity provider at ${idp.url}, DNS at ${dns.address}, app at ${app.base}; ` +
      `up in ${((Date.now() - began) / 1000).toFixed(1)} s`,
  );
  const NEXT = `${app.base}/app/home`;
  let ok = false;
  let owner; // the owner's access token, for the API's side of things
  let connection; // the SAML connection as the API has it
  let firstToken; // the first SCIM token: { id, token }

  try {
    browser = await launchChromium(CHROMIUM);

    const SETUP = 'the accounts and the organization are made through the API';
    await step(SETUP, [], async () => {
      const admin = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
      for (const who of [OWNER, MEMBER, STRANGER, DAVE]) {
        const made = await call('POST', '/admin/users', { token: admin, body: { email: who.email, password: who.password } });
        assert.equal(made.status, 201, `POST /admin/users ${who.email}: ${made.text}`);
      }
      owner = (await logInApi(OWNER.email, OWNER.password)).access_token;
      const org = await call('POST', '/orgs', { token: owner, body: ORG });
      assert.equal(org.status, 201, `POST /orgs: ${org.text}`);
      // The member joins by invitation, accepted from the account (no emailed link needed).
      const invited = await call('POST', `/orgs/${ORG.slug}/invitations`, {
        token: owner,
        body: { email: MEMBER.email, role: 'member' },
      });
      assert.equal(invited.status, 201, `POST /orgs/${ORG.slug}/invitations: ${invited.text}`);
      const member = (await logInApi(MEMBER.email, MEMBER.password)).access_token;
      const mine = await call('GET', '/invitations', { token: member });
      assert.equal(mine.status, 200, `GET /invitations: ${mine.text}`);
      const invitation = mine.json.invitations.find((i) => i.org.slug === ORG.slug);
      assert.ok(invitation, `${MEMBER.email} should see the invitation: ${mine.text}`);
      const accepted = await call('POST', `/invitations/${invitation.id}/accept`, { token: member });
      assert.equal(accepted.status, 200, `accept the invitation: ${accepted.text}`);
      const standing = await call('GET', `/orgs/${ORG.slug}`, { token: member });
      assert.equal(standing.json?.role, 'member', `${MEMBER.email} in ${ORG.slug}: ${standing.text}`);
    });

    page = await newPage();

    const LOGGED_IN = 'the owner opens the settings page and logs in on it';
    await step(LOGGED_IN, [SETUP], async () => {
      const answer = await page.goto(SETTINGS);
      assert.equal(answer.status(), 200, `GET ${SETTINGS}`);
      assert.equal(answer.headers()['content-security-policy'], EXPECTED_CSP);
      await until('the login form should show', () => visible('#login-form'));
      assert.equal(await text('#login-org'), ORG.slug, 'the page names the organization of its address');
      assert.equal(await visible('#panels'), false, 'no settings before the login');
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea')]
          .filter((node) => !node.id || !document.querySelector(`label[for="${CSS.escape(node.id)}"]`))
          .map((node) => node.id || node.name || node.outerHTML.slice(0, 60)),
      );
      assert.deepEqual(unlabelled, [], 'every control has its <label for>');
      await logInPage(OWNER.email, OWNER.password);
      await expectSettings(OWNER.email);
      assert.ok(
        await page.evaluate(() => sessionStorage.getItem('gatehouse.account.refresh')),
        'the refresh token is kept under the account page\'s key',
      );
      // One session for both pages in the tab: the account page is logged in, and back here too.
      await page.goto(`${PAGE}/account`);
      await until('the account page should show the owner, logged in', async () =>
        (await visible('#account-view')) && (await text('#whoami')) === OWNER.email,
      );
      await page.goto(SETTINGS);
      await expectSettings(OWNER.email);
      assert.equal(await visible('#login-view'), false, 'no second login');
    });

    const VERIFIED = 'the owner adds acme.test, publishes the TXT record shown, and Check verifies it';
    await step(VERIFIED, [LOGGED_IN], async () => {
      await page.fill('#domain-name', DOMAIN);
      const added = await answerTo('POST', `/orgs/${ORG.slug}/domains`, () => page.click('#domain-add'));
      assert.equal(added.status, 201, `POST /orgs/${ORG.slug}/domains: ${added.text}`);
      await domainRow().waitFor();
      assert.equal(await domainRow().getAttribute('data-verified'), 'false');
      const name = (await domainRow().locator('[data-testid="txt-name"]').textContent()).trim();
      const value = (await domainRow().locator('[data-testid="txt-value"]').textContent()).trim();
      const api = await call('GET', `/orgs/${ORG.slug}/domains/${DOMAIN}`, { token: owner });
      assert.equal(api.status, 200, api.text);
      assert.deepEqual({ name, value }, { name: api.json.challenge.name, value: api.json.challenge.value }, 'the record shown is the API\'s');
      assert.equal(name, `_gatehouse-challenge.${DOMAIN}`);

      // Before the record is published: not yet.
      await domainRow().locator('[data-testid="domain-check"]').click();
      await expectMessage(/acme\.test is not verified yet/);
      assert.equal(await domainRow().getAttribute('data-verified'), 'false');

      // The test's DNS server now answers the record the page showed.
      dns.publish(name, value);
      await domainRow().locator('[data-testid="domain-check"]').click();
      await until('the domain should show verified', async () => (await domainRow().getAttribute('data-verified')) === 'true');
      await expectMessage(/acme\.test is verified/);
      assert.match(await domainRow().locator('[data-testid="domain-status"]').innerText(), /verified/);
      assert.equal(await domainRow().locator('[data-testid="domain-check"]').count(), 0, 'no Check once verified');
      const after = await call('GET', `/orgs/${ORG.slug}/domains/${DOMAIN}`, { token: owner });
      assert.equal(after.json?.verified, true, `the API: ${after.text} (DNS: ${dns.asked.join('; ') || 'never asked'})`);
    }, { expectConsole: [/status of 422/] });

    const CONNECTED = 'the owner connects the identity provider by its metadata URL and sees what to give its admins';
    await step(CONNECTED, [VERIFIED], async () => {
      await page.fill('#saml-name', 'Acme test IdP');
      await page.fill('#saml-metadata-url', idp.metadata_url);
      const added = await answerTo('POST', `/orgs/${ORG.slug}/sso/saml`, () => page.click('#saml-add'));
      assert.equal(added.status, 201, `POST /orgs/${ORG.slug}/sso/saml: ${added.text}`);
      const shown = page.locator(`[data-testid="sso-connection"][data-id="${added.json.id}"]`);
      await shown.waitFor();
      assert.equal(await shown.getAttribute('data-type'), 'saml');
      const api = await call('GET', `/orgs/${ORG.slug}/sso/${added.json.id}`, { token: owner });
      assert.equal(api.status, 200, api.text);
      connection = api.json;
      assert.equal(connection.idp.metadata_url, idp.metadata_url);
      assert.equal(connection.idp.entity_id, idp.entity_id);
      assert.equal(connection.acs_url, `${PAGE}/sso/saml/${connection.id}/acs`);
      const value = async (testid) => (await shown.locator(`[data-testid="${testid}"]`).textContent()).trim();
      assert.equal(await value('sso-name'), 'Acme test IdP');
      assert.equal(await value('sp-entity-id'), connection.sp_entity_id, 'the entity id shown is the API\'s');
      assert.equal(await value('acs-url'), connection.acs_url, 'the ACS URL shown is the API\'s');
      assert.equal(await value('metadata-url'), connection.metadata_url, 'the metadata URL shown is the API\'s');
      assert.equal(await value('login-url'), connection.login_url, 'the login URL shown is the API\'s');
      const link = shown.locator('a[data-testid="metadata-url"]');
      assert.equal(await link.getAttribute('href'), connection.metadata_url, 'the metadata URL is a link');
      const metadata = await fetch(connection.metadata_url.replace(PAGE, BASE));
      assert.equal(metadata.status, 200, `GET ${connection.metadata_url}`);
      assert.equal(await page.locator('#saml-metadata-url').inputValue(), '', 'the form is emptied');
      await expectMessage(/Acme test IdP/);
    });

    await step('ann@acme.test logs in through the connection made on the page, at the hosted login page', [CONNECTED], async () => {
      const owners = page;
      page = await newPage();
      try {
        const loginPage = `${PAGE}/login?next=${encodeURIComponent(NEXT)}`;
        await page.goto(loginPage);
        assert.equal(await page.locator('input[type="password"]').count(), 0, 'the address-first form');
        const visitsBefore = app.visits.length;
        const record = recordHops(page);
        await page.fill('#login', ANN);
        await landsAt(page, NEXT, record, () => loginButton(page).click({ noWaitAfter: true }));
        await record.settled();
        record.stop();
        const posted = hop(record, 'POST /login', (h) => h.method === 'POST' && h.url === `${PAGE}/login`);
        assert.ok(posted.refresh?.replace(/^0; url=/, '').startsWith(connection.login_url), `POST /login goes on to ${posted.refresh}`);
        const start = hop(record, 'GET of the login URL', (h) => h.url.startsWith(connection.login_url));
        assert.ok(start.location?.startsWith(`${idp.sso_url}?SAMLRequest=`), `to the identity provider: ${start.location}`);
        const answered = hop(record, 'POST to the ACS', (h) => h.method === 'POST' && h.url === connection.acs_url);
        assert.equal(answered.status, 303, `the ACS answered ${answered.status}`);
        const landed = hop(record, 'GET /login with the code', (h) => h.method === 'GET' && h.url === answered.location);
        assert.equal(landed.location, NEXT, 'on to next, without the code');
        assert.deepEqual(app.visits.slice(visitsBefore), ['/app/home'], 'the app got the browser, with no code');
        await expectLoggedInPage(page, PAGE, ANN);
        const members = await call('GET', `/orgs/${ORG.slug}/members`, { token: owner });
        assert.equal(members.status, 200, members.text);
        const ann = members.json.members.filter((m) => m.account.email === ANN);
        assert.equal(ann.length, 1, `acme's members named ${ANN}: ${JSON.stringify(ann)}`);
        assert.equal(ann[0].role, 'member', 'the connection\'s default role');
      } finally {
        await page.context().close();
        page = owners;
      }
    });

    const TOKEN = 'the owner makes a SCIM token, shown once, that opens /scim/v2 until revoked';
    await step(TOKEN, [LOGGED_IN], async () => {
      assert.equal(await text('#scim-base-url'), `${PAGE}/scim/v2`);
      await page.fill('#scim-name', 'Okta');
      const made = await answerTo('POST', `/orgs/${ORG.slug}/scim/tokens`, () => page.click('#scim-add'));
      assert.equal(made.status, 201, `POST /orgs/${ORG.slug}/scim/tokens: ${made.text}`);
      await until('the new token should show', () => visible('#scim-new'));
      const token = await text('#scim-token-value');
      assert.ok(token.startsWith('scim_'), `the token shown: ${token}`);
      assert.equal(token, made.json.token, 'the token shown is the one made');
      firstToken = { id: made.json.id, token };
      await until('the token should be listed', async () => (await tokenRows().count()) === 1);
      assert.equal(await scimStatus(token), 200, 'GET /scim/v2/Users with the token');

      // Shown once: after a reload the page has it no more.
      await page.reload();
      await expectSettings(OWNER.email);
      await until('the token should be listed after the reload', async () => (await tokenRows().count()) === 1);
      assert.equal(await visible('#scim-new'), false, 'no token box');
      assert.ok(!(await pageText(page)).includes(token), 'the token is nowhere on the page');
      assert.equal(await page.locator('#scim-token-value').textContent(), '');

      page.once('dialog', (dialog) => dialog.accept());
      const revoked = await answerTo('DELETE', `/orgs/${ORG.slug}/scim/tokens/${firstToken.id}`, () =>
        page.locator(`[data-testid="scim-token-row"][data-id="${firstToken.id}"] [data-testid="scim-revoke"]`).click(),
      );
      assert.equal(revoked.status, 204, `DELETE the token: ${revoked.text}`);
      await until('the token should be gone from the list', async () => (await tokenRows().count()) === 0);
      await expectMessage(/revoked/);
      assert.equal(await scimStatus(token), 401, 'GET /scim/v2/Users with the revoked token');
    });

    await step('a third SCIM token is refused, with the API\'s word for it', [TOKEN], async () => {
      for (const name of ['Okta', 'Okta next']) {
        await page.fill('#scim-name', name);
        const made = await answerTo('POST', `/orgs/${ORG.slug}/scim/tokens`, () => page.click('#scim-add'));
        assert.equal(made.status, 201, `POST /orgs/${ORG.slug}/scim/tokens: ${made.text}`);
        await expectMessage(new RegExp(`“${name}” is made`));
      }
      await until('two tokens should be listed', async () => (await tokenRows().count()) === 2);
      await page.fill('#scim-name', 'One too many');
      const refused = await answerTo('POST', `/orgs/${ORG.slug}/scim/tokens`, () => page.click('#scim-add'));
      assert.equal(refused.status, 422, `a third token: ${refused.text}`);
      const said = refused.json.detail || refused.json.title;
      await until(`the message area should say "${said}"`, async () => (await messageText()).includes(said));
      assert.equal(await page.getAttribute('#message', 'data-kind'), 'error');
      assert.equal(await tokenRows().count(), 2, 'still two tokens');
    }, { expectConsole: [/status of 422/] });

    const REQUIRED = 'the owner requires single sign-on: dave@acme.test\'s password no longer logs in';
    await step(REQUIRED, [CONNECTED], async () => {
      // Before: dave's password works.
      const before = await call('POST', '/auth', { body: { email: DAVE.email, password: DAVE.password } });
      assert.equal(before.status, 200, `POST /auth as ${DAVE.email} before: ${before.text}`);
      assert.equal(await page.isChecked('#sso-required'), false, 'off at first');
      const patched = await answerTo('PATCH', `/orgs/${ORG.slug}`, () => page.check('#sso-required'));
      assert.equal(patched.status, 200, `PATCH /orgs/${ORG.slug}: ${patched.text}`);
      await until('the switch should show on', async () => (await page.getAttribute('#policy-status', 'data-on')) === 'true');
      await expectMessage(/now required/);
      const org = await call('GET', `/orgs/${ORG.slug}`, { token: owner });
      assert.equal(org.json?.org?.policy?.sso_required, true, `GET /orgs/${ORG.slug}: ${org.text}`);
      const after = await call('POST', '/auth', { body: { email: DAVE.email, password: DAVE.password } });
      assert.equal(after.status, 403, `POST /auth as ${DAVE.email} after: ${after.text}`);
      assert.equal(after.json.code, 'sso_required');
      assert.ok(after.json.login_url?.startsWith(connection.login_url), `sent to the connection: ${after.json.login_url}`);
      // The page shows it as it is after a reload.
      await page.reload();
      await expectSettings(OWNER.email);
      assert.equal(await page.isChecked('#sso-required'), true, 'on after a reload');
    });

    const OIDC = 'the owner adds an OpenID Connect connection and sees its redirect URI';
    const fillOidc = async (secret) => {
      await page.fill('#oidc-name', 'Acme OIDC');
      await page.fill('#oidc-issuer', ISSUER);
      await page.fill('#oidc-client-id', 'gatehouse-acme');
      await page.fill('#oidc-client-secret', secret);
      assert.equal(await page.getAttribute('#oidc-client-secret', 'type'), 'password');
    };
    await step(OIDC, [LOGGED_IN], async () => {
      const secret = `oidc client secret ${RUN}`;
      await fillOidc(secret);
      const added = await answerTo('POST', `/orgs/${ORG.slug}/sso/oidc`, () => page.click('#oidc-add'));
      assert.equal(added.status, 201, `POST /orgs/${ORG.slug}/sso/oidc: ${added.text}`);
      assert.equal(added.json.type, 'oidc');
      assert.ok(added.json.redirect_uri, `the answer names a redirect URI: ${added.text}`);
      const shown = page.locator(`[data-testid="sso-connection"][data-id="${added.json.id}"]`);
      await shown.waitFor();
      assert.equal(await shown.getAttribute('data-type'), 'oidc');
      const value = async (testid) => (await shown.locator(`[data-testid="${testid}"]`).textContent()).trim();
      assert.equal(await value('redirect-uri'), added.json.redirect_uri, 'the redirect URI shown is the API\'s');
      assert.equal(await value('login-url'), added.json.login_url, 'the login URL shown is the API\'s');
      assert.equal(await value('idp-issuer'), ISSUER);
      assert.equal(await value('idp-client-id'), 'gatehouse-acme');
      assert.equal(await shown.locator('[data-testid="acs-url"]').count(), 0, 'no SAML values');
      const listed = await call('GET', `/orgs/${ORG.slug}/sso`, { token: owner });
      const oidc = listed.json.connections.find((c) => c.id === added.json.id);
      assert.equal(oidc?.type, 'oidc', `listed: ${listed.text}`);
      assert.equal(oidc.redirect_uri, added.json.redirect_uri, 'the list\'s redirect URI');
      assert.equal(listed.json.connections.find((c) => c.id === connection?.id)?.type ?? 'saml', 'saml');
      assert.equal(await page.inputValue('#oidc-client-secret'), '', 'the secret field is emptied');
      assert.ok(!(await pageText(page)).includes(secret), 'the secret is nowhere on the page');
      // After a reload the list alone shows it.
      await page.reload();
      await expectSettings(OWNER.email);
      const again = page.locator(`[data-testid="sso-connection"][data-id="${added.json.id}"]`);
      await again.waitFor();
      assert.equal(await again.getAttribute('data-type'), 'oidc');
      assert.equal(await page.inputValue('#oidc-client-secret'), '', 'no secret after a reload');
    });

    await step('a plain member sees a refusal and no form', [SETUP], async () => {
      const owners = page;
      page = await newPage();
      try {
        await page.goto(SETTINGS);
        await until('the login form should show', () => visible('#login-form'));
        await logInPage(MEMBER.email, MEMBER.password);
        await until('the refusal should show', () => visible('[data-testid="refusal"]'));
        assert.equal((await text('#whoami')), MEMBER.email);
        assert.match(await text('[data-testid="refusal-text"]'), /role “member”, which may not change/);
        assert.equal(await visible('#panels'), false, 'no settings');
        assert.equal(await page.locator('form:visible').count(), 0, 'no form');
        assert.equal(await page.locator('input:visible, textarea:visible').count(), 0, 'no field');
      } finally {
        await page.context().close();
        page = owners;
      }
    });

    await step('someone of no organization, and an address naming none, are told so', [SETUP], async () => {
      const owners = page;
      page = await newPage();
      try {
        await page.goto(SETTINGS);
        await until('the login form should show', () => visible('#login-form'));
        await logInPage(STRANGER.email, STRANGER.password);
        await until('the refusal should show', () => visible('[data-testid="refusal"]'));
        assert.match(await text('[data-testid="refusal-text"]'), /not a member of the organization “acme”/);
        assert.equal(await page.locator('form:visible').count(), 0, 'no form');
        // The same tab, so the same session: another organization's address.
        await page.goto(`${PAGE}/orgs/no-such-org/settings`);
        await until('the refusal should show', () => visible('[data-testid="refusal"]'));
        assert.match(await text('[data-testid="refusal-text"]'), /no organization “no-such-org” here/);
        assert.equal(await page.locator('form:visible').count(), 0, 'no form');
      } finally {
        await page.context().close();
        page = owners;
      }
    }, { expectConsole: [/status of 40[34]/] });

    await step('the owner logs out; the page forgets the session', [LOGGED_IN], async () => {
      await page.click('#logout');
      await until('the login form should be back', () => visible('#login-form'));
      assert.equal(await page.evaluate(() => sessionStorage.getItem('gatehouse.account.refresh')), null);
      assert.equal(await visible('#org-view'), false);
    });

    await consoleStayedClean();
    ok = finish();
  } finally {
    await browser?.close().catch(() => {});
    await stopAll();
    await Promise.all([dns.close(), app.close()]);
    if (!ok) showLogs();
    await tidy();
  }
  return ok;
}

stopOnSignals();

runTest('organization settings test', main);
