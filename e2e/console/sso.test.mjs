// Single sign-on through an organization's SAML identity provider, in a real headless Chromium:
// the hosted login page (/login) asks for the address first and sends an address at the
// organization's verified domain to its identity provider (e2e/saml/idp_server.py: pysaml2's IdP
// signing with xmlsec1), whose page posts the signed answer to gatehouse's ACS; the browser comes
// back to /login with a hand-off code and ends at the app the login goes on to, with gatehouse's
// browser session. Also, as the browser sees them: the ACS leaves the login's gatehouse_handoff
// cookie alone, the same answer posted again is refused (400 saml_invalid) and logs nobody in,
// an address at another domain gets the password form, the connection's login URL alone lands
// on /account logged in, and the identity provider's page works without scripts.
//
// It brings up what it needs on free ports of 127.0.0.1 (with stack.mjs, which org.test.mjs
// shares), and stops it at the end:
//   - gatehouse: GATEHOUSE_E2E_BIN (default $CARGO_TARGET_DIR/release/gatehouse, with
//     CARGO_TARGET_DIR defaulting to ~/.cache/gatehouse-target; never built here), with a fresh
//     SQLite database, a bootstrap admin, rate limits off, public URL http://localhost:PORT,
//     GATEHOUSE_DNS_RESOLVER the DNS server below, GATEHOUSE_REDIRECT_ALLOW the app below and
//     GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true (the connection's metadata is fetched from the IdP on
//     loopback);
//   - the identity provider, logging in ann@acme.test: e2e/saml/idp_server.py run with
//     GATEHOUSE_E2E_SAML_PYTHON (default the python of the virtualenv e2e/saml/setup.sh makes,
//     ${GATEHOUSE_SAML_VENV:-~/.cache/gatehouse-saml-venv}; xmlsec1 must be on PATH);
//   - a DNS server (UDP, in this process) answering the TXT record of acme.test's challenge;
//   - the app the login goes on to: a page of node's http server, at /app/home.
//
//   node e2e/console/sso.test.mjs        (e2e/console.sh runs it after the console tests)
//   node --test e2e/console/sso.test.mjs
//
// Each step prints PASS, FAIL (with the reason) or SKIP (a step it needs failed), and a
// screenshot of the page after each goes to GATEHOUSE_E2E_SCREENSHOTS (default
// target/console-screenshots; files named sso-NN-…, this test's earlier ones removed first).
// Exit status 1 when a step failed, with the last lines of gatehouse's and the identity
// provider's logs. The database and logs go to GATEHOUSE_E2E_WORK when set (an empty directory,
// made if missing and left as it is), else to a temporary directory removed at the end unless
// GATEHOUSE_E2E_KEEP=1.
// GATEHOUSE_E2E_CHROMIUM: the browser (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';

import {
  FAVICON_NOT_FOUND, expectLoggedInPage as expectLoggedInAt, hop, landsAt as landsAtIn, loginButton as loginButtonOf,
  ownGatehouse, recordHops, repo, showLogs, startApp, startDns, startGatehouse, startIdp,
  stopAll, stopOnSignals, workDir,
} from './stack.mjs';

// The harness reads the API's address when imported: this test's own gatehouse.
const { port: GATEHOUSE_PORT } = await ownGatehouse();
const { BASE, call, launchChromium, logInApi, runTest, setting, steps } = await import('./harness.mjs');

const PAGE = `http://localhost:${GATEHOUSE_PORT}`;
const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/gatehouse-target');
const BIN = setting('GATEHOUSE_E2E_BIN', path.join(TARGET, 'release/gatehouse'));
const VENV = process.env.GATEHOUSE_SAML_VENV || path.join(os.homedir(), '.cache/gatehouse-saml-venv');
const PYTHON = setting('GATEHOUSE_E2E_SAML_PYTHON', path.join(VENV, 'bin/python'));
const CHROMIUM = setting('GATEHOUSE_E2E_CHROMIUM', '/usr/bin/chromium');
const SHOTS = setting('GATEHOUSE_E2E_SCREENSHOTS', path.join(repo, 'target/console-screenshots'));
const ADMIN = { email: 'admin@example.com', password: `correct horse battery staple sso ${Date.now()}` };
const ANN = 'ann@acme.test';
const BOB = 'bob@example.com';
const DOMAIN = 'acme.test';
const ORG = { name: 'Acme', slug: 'acme' };

// ------------------------------------------------------------------------------------------
// Processes (see stack.mjs)

function startGatehouseHere(work, dns, app) {
  return startGatehouse({
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
  });
}

// ------------------------------------------------------------------------------------------
// The browser

let browser;
let page;
const { step: anyStep, watchConsole, until, consoleStayedClean, finish } = steps(() => page, SHOTS, 'sso-');

/** A step (see harness.mjs) in which the browser's asking for a missing favicon is expected. */
const step = (name, needs, body, { expectConsole = [] } = {}) =>
  anyStep(name, needs, body, { expectConsole: [FAVICON_NOT_FOUND, ...expectConsole] });

/** The cookie `name` the page's browser keeps for gatehouse. */
const cookieOf = async (name) => (await page.context().cookies(PAGE)).find((c) => c.name === name);

/** A new tab in a new browser (its own cookies), in English, watched for console errors. */
async function newPage(options = {}) {
  const context = await browser.newContext({ locale: 'en-US', ...options });
  const tab = await context.newPage();
  watchConsole(tab);
  return tab;
}

/** See stack.mjs: in the current tab. */
const landsAt = (url, record, action, ms) => landsAtIn(page, url, record, action, ms);

/** The address-first form's submit button. */
const loginButton = () => loginButtonOf(page);

const expectLoggedInPage = (email) => expectLoggedInAt(page, PAGE, email);

// ------------------------------------------------------------------------------------------

async function main() {
  const { work, tidy } = await workDir(SHOTS, 'sso-', 'gatehouse-sso-');

  const began = Date.now();
  const dns = await startDns();
  const app = await startApp();
  let idp;
  try {
    [idp] = await Promise.all([
      startIdp({ python: PYTHON, work, email: ANN, attrs: ['givenName=Ann'] }),
      startGatehouseHere(work, dns, app),
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
  const loginPage = `${PAGE}/login?next=${encodeURIComponent(NEXT)}`;
  let ok = false;
  let admin;
  let connection;
  let acs;
  let captured; // the answer the identity provider's page posted, as posted
  const membersNamed = async (email) => {
    const answer = await call('GET', `/orgs/${ORG.slug}/members`, { token: admin });
    assert.equal(answer.status, 200, `GET /orgs/${ORG.slug}/members: ${answer.text}`);
    return answer.json.members.filter((m) => m.account.email === email);
  };

  try {
    browser = await launchChromium(CHROMIUM);

    await step('the admin connects acme\'s identity provider and verifies acme.test', [], async () => {
      admin = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
      const org = await call('POST', '/orgs', { token: admin, body: ORG });
      assert.equal(org.status, 201, `POST /orgs: ${org.text}`);
      const claimed = await call('POST', `/orgs/${ORG.slug}/domains`, { token: admin, body: { domain: DOMAIN } });
      assert.equal(claimed.status, 201, `POST /orgs/${ORG.slug}/domains: ${claimed.text}`);
      const { challenge } = claimed.json;
      dns.publish(challenge.name, challenge.value);
      const verified = await call('POST', `/orgs/${ORG.slug}/domains/${DOMAIN}/verify`, { token: admin, body: {} });
      assert.equal(verified.status, 200, `verify ${DOMAIN}: ${verified.text} (DNS: ${dns.asked.join('; ') || 'never asked'})`);
      assert.equal(verified.json.verified, true);
      const added = await call('POST', `/orgs/${ORG.slug}/sso/saml`, {
        token: admin,
        body: { metadata_url: idp.metadata_url, name: 'Acme test IdP' },
      });
      assert.equal(added.status, 201, `POST /orgs/${ORG.slug}/sso/saml: ${added.text}`);
      connection = added.json;
      assert.equal(connection.idp.entity_id, idp.entity_id);
      assert.equal(connection.idp.sso_url, idp.sso_url);
      assert.equal(connection.idp.metadata_url, idp.metadata_url);
      assert.equal(connection.acs_url, `${PAGE}/sso/saml/${connection.id}/acs`);
      acs = connection.acs_url;
      const found = await call('POST', '/sso/discover', { body: { email: ANN } });
      assert.equal(found.status, 200, `POST /sso/discover ${ANN}: ${found.text}`);
      assert.ok(found.json.login_url.startsWith(connection.login_url), found.json.login_url);
      const elsewhere = await call('POST', '/sso/discover', { body: { email: BOB } });
      assert.equal(elsewhere.status, 404, `POST /sso/discover ${BOB}: ${elsewhere.text}`);
    });
    const SETUP = 'the admin connects acme\'s identity provider and verifies acme.test';

    page = await newPage();

    await step('the login page asks for the address first', [SETUP], async () => {
      const answer = await page.goto(loginPage);
      assert.equal(answer.status(), 200, `GET ${loginPage}`);
      assert.ok(await page.locator('#login').isVisible(), 'the address field shows');
      assert.equal(await page.locator('input[type="password"]').count(), 0, 'no password field');
      assert.equal((await loginButton().textContent()).trim(), 'Continue');
    });
    const ADDRESS_FIRST = 'the login page asks for the address first';

    await step('an address at another domain gets the password form', [ADDRESS_FIRST], async () => {
      const record = recordHops(page);
      await page.fill('#login', BOB);
      await Promise.all([page.waitForURL(`${PAGE}/login`), loginButton().click()]);
      await page.locator('#password').waitFor();
      await record.settled();
      record.stop();
      assert.equal(await page.inputValue('#login'), BOB, 'the address stays filled in');
      assert.ok(await page.locator('#password').isVisible(), 'the password field shows');
      assert.equal((await loginButton().textContent()).trim(), 'Log in');
      const posted = hop(record, 'POST /login', (h) => h.method === 'POST' && h.url === `${PAGE}/login`);
      assert.equal(posted.status, 200, 'the form again, no redirect');
      assert.ok(!record.hops.some((h) => h.url.startsWith(idp.url)), `nothing went to the identity provider:\n  ${record.describe()}`);
    });

    await step('ann@acme.test goes to the identity provider and back, and ends at the app logged in', [ADDRESS_FIRST], async () => {
      await page.goto(loginPage);
      assert.equal(await page.locator('input[type="password"]').count(), 0, 'the address-first form again');
      const visitsBefore = app.visits.length;
      const record = recordHops(page);
      await page.fill('#login', ANN);
      await landsAt(NEXT, record, () => loginButton().click({ noWaitAfter: true }));
      await record.settled();
      record.stop();

      // The page's form: a page that refreshes to the connection's login (a redirect answering
      // the form would meet the page's form-action policy at the identity provider's origin),
      // which sends the browser to the identity provider with an AuthnRequest and binds the
      // login to this browser.
      const posted = hop(record, 'POST /login', (h) => h.method === 'POST' && h.url === `${PAGE}/login`);
      assert.equal(posted.status, 200);
      const onward = posted.refresh?.replace(/^0; url=/, '');
      assert.ok(onward?.startsWith(connection.login_url), `POST /login goes on to ${posted.refresh}`);
      const start = hop(record, 'GET of the login URL', (h) => h.url.startsWith(connection.login_url));
      assert.equal(start.status, 302);
      assert.ok(start.location.startsWith(`${idp.sso_url}?SAMLRequest=`), `to the identity provider: ${start.location}`);
      assert.ok(/[?&]RelayState=/.test(start.location), 'with a RelayState');
      const handoff = start.cookies.find((c) => c.startsWith('gatehouse_handoff='));
      assert.ok(handoff, `the login sets gatehouse_handoff: ${start.cookies.join(' | ')}`);
      const binding = start.cookies.find((c) => c.startsWith('gatehouse_saml_'));
      assert.ok(binding && /SameSite=None/i.test(binding) && /Secure/i.test(binding), `a binding cookie: ${binding}`);
      // The identity provider's page posted the signed answer to the ACS.
      const atIdp = hop(record, 'GET of the identity provider', (h) => h.url.startsWith(`${idp.sso_url}?`));
      assert.equal(atIdp.status, 200);
      const answered = hop(record, 'POST to the ACS', (h) => h.method === 'POST' && h.url === acs);
      assert.ok(answered.postData, 'the browser kept the form it posted');
      captured = Object.fromEntries(new URLSearchParams(answered.postData));
      assert.ok(captured.SAMLResponse && captured.RelayState, `the post: ${Object.keys(captured).join(', ')}`);
      assert.equal(answered.status, 303, `the ACS answered ${answered.status}`);
      const back = new URL(answered.location);
      assert.equal(`${back.origin}${back.pathname}`, `${PAGE}/login`, `the ACS sends the browser to ${answered.location}`);
      assert.equal(back.searchParams.get('next'), NEXT);
      assert.ok(back.searchParams.get('code'), 'with a hand-off code');
      // The code is bound to the cookie the login set: the ACS, a cross-site post that does not
      // carry it, sets none (it would replace it); it only ends the binding cookie.
      const acsCookies = answered.cookies.map((c) => c.split(';')[0]);
      assert.ok(!acsCookies.some((c) => c.startsWith('gatehouse_handoff=')), `the ACS set: ${acsCookies.join(' | ')}`);
      assert.ok(acsCookies.some((c) => /^gatehouse_saml_[^=]*=$/.test(c)), `the ACS ends the binding: ${acsCookies.join(' | ')}`);
      // Back at /login: the code is exchanged for the browser session, and on to `next`.
      const landed = hop(record, 'GET /login with the code', (h) => h.method === 'GET' && h.url === answered.location);
      assert.equal(landed.status, 303, `/login?code= answered ${landed.status}`);
      assert.equal(landed.location, NEXT, 'on to next, without the code');
      assert.ok(landed.cookies.some((c) => c.startsWith('gatehouse_session=')), 'with the browser-session cookie');
      assert.deepEqual(app.visits.slice(visitsBefore), ['/app/home'], 'the app got the browser, with no code');
      assert.equal(await page.locator('#app').textContent(), 'Acme app');

      const session = await cookieOf('gatehouse_session');
      assert.ok(session?.httpOnly, 'an HttpOnly gatehouse_session cookie');
      assert.equal(session.sameSite, 'Lax');
      const kept = await cookieOf('gatehouse_handoff');
      assert.equal(kept?.value, handoff.split(';')[0].slice('gatehouse_handoff='.length), 'the login\'s hand-off cookie, untouched');
      assert.ok(!(await page.context().cookies(PAGE)).some((c) => c.name.startsWith('gatehouse_saml_')), 'no binding cookie left');
    });
    const LOGGED_IN = 'ann@acme.test goes to the identity provider and back, and ends at the app logged in';

    await step('gatehouse knows this browser as ann@acme.test, a member of acme', [LOGGED_IN], async () => {
      await expectLoggedInPage(ANN);
      const members = await membersNamed(ANN);
      assert.equal(members.length, 1, `acme's members named ${ANN}: ${JSON.stringify(members)}`);
      assert.equal(members[0].role, 'member', 'the connection\'s default role');
    });

    await step('the same answer posted again in this browser is refused and logs nobody in', [LOGGED_IN], async () => {
      const session = await cookieOf('gatehouse_session');
      await page.goto(`${idp.url}/`); // where the identity provider's pages come from
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url() === acs && r.request().method() === 'POST'),
        page.evaluate(
          ({ action, fields }) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of Object.entries(fields)) {
              const input = document.createElement('input');
              input.type = 'hidden';
              input.name = name;
              input.value = value;
              form.append(input);
            }
            document.body.append(form);
            form.submit();
          },
          { action: acs, fields: captured },
        )
          // The submission may replace the page before the call returns.
          .catch((error) => {
            if (!/context was destroyed|navigat/i.test(error.message)) throw error;
          }),
      ]);
      const body = await refused.text();
      assert.equal(refused.status(), 400, `the ACS answered ${refused.status()}: ${body}`);
      assert.equal(JSON.parse(body).code, 'saml_invalid', body);
      assert.equal(refused.headers().location, undefined, 'no redirect');
      const set = (await refused.headerValues('set-cookie')).map((c) => c.split(';')[0]);
      assert.ok(!set.some((c) => /^gatehouse_(session|handoff)=/.test(c)), `the refusal set: ${set.join(' | ')}`);
      await page.waitForLoadState();
      assert.equal(page.url(), acs, 'the browser stays at the refusal');
      assert.equal((await cookieOf('gatehouse_session'))?.value, session.value, 'the browser session is the one it had');
      // The reason is in the audit trail (never in the answer).
      const reasons = await until('the refusal should be in the audit trail', async () => {
        const events = await call('GET', '/admin/events?kind=login.social_failed', { token: admin });
        assert.equal(events.status, 200, `GET /admin/events: ${events.text}`);
        const found = events.json.events.map((e) => e.detail?.reason).filter(Boolean);
        return found.length > 0 && found;
      });
      console.log(`  audited reason: ${reasons[0]}`);
      assert.equal((await membersNamed(ANN)).length, 1, 'still one member ann@acme.test');
    }, { expectConsole: [/status of 400/] });

    await step('the connection\'s login URL alone lands on /account, which shows ann@acme.test', [LOGGED_IN], async () => {
      const record = recordHops(page);
      await page.goto(connection.login_url);
      try {
        await until('the account page should show ann@acme.test', async () =>
          (await page.locator('#account-view').isVisible()) && (await page.textContent('#whoami')).trim() === ANN,
        15_000);
      } finally {
        record.stop();
      }
      await record.settled();
      const answered = hop(record, 'POST to the ACS', (h) => h.method === 'POST' && h.url === acs);
      const to = new URL(answered.location);
      assert.equal(`${to.origin}${to.pathname}`, `${PAGE}/account`, `without redirect_to, to ${answered.location}`);
      assert.equal(page.url(), `${PAGE}/account`, 'the code has left the address bar');
      assert.equal((await membersNamed(ANN)).length, 1, 'the same account: still one member ann@acme.test');
    });

    // A browser without scripts: the identity provider's page stays until its button is pressed.
    page = await newPage({ javaScriptEnabled: false });
    let noScript;

    await step('without scripts, the address-first form leads to the identity provider\'s page', [SETUP], async () => {
      noScript = recordHops(page);
      await page.goto(loginPage);
      await page.fill('#login', ANN);
      const atIdp = { what: `${idp.sso_url}?…`, test: (u) => u.startsWith(`${idp.sso_url}?`) };
      await landsAt(atIdp, noScript, () => loginButton().click({ noWaitAfter: true }), 15_000);
      await page.locator('#continue').waitFor();
      assert.equal((await page.textContent('#who')).trim(), ANN);
      assert.equal((await page.textContent('#continue')).trim(), 'Continue');
    });

    await step('its Continue button posts the answer and the browser ends at the app logged in', [
      'without scripts, the address-first form leads to the identity provider\'s page',
    ], async () => {
      await landsAt(NEXT, noScript, () => page.click('#continue', { noWaitAfter: true }));
      noScript.stop();
      assert.ok((await cookieOf('gatehouse_session'))?.httpOnly, 'a gatehouse_session cookie');
      await expectLoggedInPage(ANN);
      assert.equal((await membersNamed(ANN)).length, 1, 'the same account: still one member ann@acme.test');
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

runTest('SSO test', main);
