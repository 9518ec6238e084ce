// The admin console at /admin, in a real headless Chromium, against a running gatehouse.
// e2e/console.sh starts gatehouse and runs this; to run it against a server of your own:
//
//   GATEHOUSE_E2E_BASE=http://127.0.0.1:8080 GATEHOUSE_E2E_REAUTH_BASE=http://127.0.0.1:8081 \
//   GATEHOUSE_E2E_ADMIN_EMAIL=… GATEHOUSE_E2E_ADMIN_PASSWORD=… GATEHOUSE_E2E_USER_PASSWORD=… \
//   node e2e/console/console.test.mjs
//
// The server needs active accounts ann@, bob@ and carol@example.com (usernames ann, bob, carol)
// with GATEHOUSE_E2E_USER_PASSWORD, and rate limits off. The step-up steps run against a second
// server at GATEHOUSE_E2E_REAUTH_BASE: the same admin, rate limits off, and
// GATEHOUSE_REAUTH_WINDOW=2s, so that a login outlives the window within the test. Each step
// prints PASS, FAIL (with the reason) or SKIP (a step it needs failed); a screenshot of the page
// after each step goes to GATEHOUSE_E2E_SCREENSHOTS (default target/console-screenshots). Exit
// status 1 when a step failed.

import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BASE, EXPECTED_CSP, base32, call, freshScreenshots, launchChromium, logInApi, runTest, setting, steps, totp,
} from './harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN = { email: setting('GATEHOUSE_E2E_ADMIN_EMAIL'), password: setting('GATEHOUSE_E2E_ADMIN_PASSWORD') };
const USER_PASSWORD = setting('GATEHOUSE_E2E_USER_PASSWORD');
const CHROMIUM = setting('GATEHOUSE_E2E_CHROMIUM', '/usr/bin/chromium');
const SHOTS = setting('GATEHOUSE_E2E_SCREENSHOTS', path.join(repo, 'target/console-screenshots'));
// The server whose re-authentication window is 2 s (GATEHOUSE_REAUTH_WINDOW).
const REAUTH_BASE = setting('GATEHOUSE_E2E_REAUTH_BASE').replace(/\/+$/, '');


let page;
const { step, watchConsole, until, messageText, expectMessage, visible, consoleStayedClean, finish } = steps(
  () => page,
  SHOTS,
);

const ANN = 'ann@example.com';
const BOB = 'bob@example.com';
const DORA = 'dora@example.com';
// Markup in a name must come out as text, never as elements.
const DORA_NAME = '<img src=x data-xss=1> Dora <b>bold</b>';
const userRow = (email) => page.locator(`#users-body tr[data-testid="user-row"][data-email="${email}"]`);
const detailValue = (field) => page.locator(`#detail dd[data-field="${field}"]`).getAttribute('data-value');
const detailText = (testid) => page.getByTestId(testid).textContent();

/** Clicks the detail panel's "Reload" until `probe` holds: audit events are written in batches,
 *  so the newest may show a moment after the action. */
async function reloadDetailUntil(what, probe, ms = 8000) {
  await until(
    what,
    async () => {
      await page.click('#detail-reload');
      await page.locator('#detail[aria-busy="false"]').waitFor({ state: 'attached' });
      return probe();
    },
    ms,
  );
}

// Organizations, made through the API before the browser starts (see arrangeOrgs): olga creates
// two; mia and max join the first by invitation. Names and addresses carry this run's mark, so
// that a server which already has organizations (a second run) does not confuse the steps.
const RUN = Date.now().toString(36);
const ORG = { name: `Acme Rockets ${RUN}`, slug: `acme-rockets-${RUN}` };
const OTHER_ORG = { name: `Zenith Labs ${RUN}`, slug: `zenith-labs-${RUN}` };
const OLGA = { email: `olga-${RUN}@example.com`, name: 'Olga Owner' };
// Markup in a member's name must come out as text, as in an account's.
const MIA = { email: `mia-${RUN}@example.com`, name: '<img src=x data-xss=1> Mia <b>Admin</b>' };
const MAX = { email: `max-${RUN}@example.com`, name: null };
const orgRow = (slug) => page.locator(`#orgs-body tr[data-testid="org-row"][data-slug="${slug}"]`);
const orgSlugs = () =>
  page.locator('#orgs-body tr[data-testid="org-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.slug));
const memberRows = () => page.locator('#members-body tr[data-testid="member-row"]');
const memberEmails = () => memberRows().evaluateAll((rows) => rows.map((r) => r.dataset.email));

/** The accounts, the organizations and the memberships the organization steps look at, made
 *  through the API: the admin makes the accounts (active, confirmed), olga creates both
 *  organizations (ORG first, so OTHER_ORG is the newest), invites mia (admin) and max (member)
 *  to ORG, and each accepts from the list of invitations to their address. */
async function arrangeOrgs(adminToken) {
  const tokens = {};
  for (const person of [OLGA, MIA, MAX]) {
    const made = await call('POST', '/admin/users', {
      token: adminToken,
      body: { email: person.email, password: USER_PASSWORD, ...(person.name ? { name: person.name } : {}) },
    });
    assert.equal(made.status, 201, `POST /admin/users ${person.email}: ${made.text}`);
    tokens[person.email] = (await logInApi(person.email, USER_PASSWORD)).access_token;
  }
  const orgs = {};
  for (const org of [ORG, OTHER_ORG]) {
    const created = await call('POST', '/orgs', { token: tokens[OLGA.email], body: org });
    assert.equal(created.status, 201, `POST /orgs ${org.slug}: ${created.text}`);
    orgs[org.slug] = created.json;
  }
  for (const [person, role] of [[MIA, 'admin'], [MAX, 'member']]) {
    const invited = await call('POST', `/orgs/${ORG.slug}/invitations`, {
      token: tokens[OLGA.email],
      body: { email: person.email, role },
    });
    assert.equal(invited.status, 201, `inviting ${person.email}: ${invited.text}`);
    const mine = await call('GET', '/invitations', { token: tokens[person.email] });
    const invitation = mine.json?.invitations?.find((i) => i.org.slug === ORG.slug);
    assert.ok(invitation, `GET /invitations of ${person.email} lists it: ${mine.text}`);
    const accepted = await call('POST', `/invitations/${invitation.id}/accept`, { token: tokens[person.email] });
    assert.equal(accepted.status, 200, `${person.email} accepts: ${accepted.text}`);
  }
  return orgs;
}

/** While it runs, the page's requests to the paths `which` matches ask for pages of `limit`:
 *  the "More" buttons then page through a handful of rows as they would through hundreds. */
async function withPageSize(limit, which, body) {
  const matches = (url) => which.test(url.pathname);
  const handler = (route) => {
    const url = new URL(route.request().url());
    url.searchParams.set('limit', String(limit));
    return route.continue({ url: url.toString() });
  };
  await page.route(matches, handler);
  try {
    await body();
  } finally {
    await page.unroute(matches, handler);
  }
}

const eventRows = (kind) => page.locator(`#events-body tr[data-testid="event-row"][data-kind="${kind}"]`);

async function logInPage(email, password) {
  await page.fill('#login-email', email);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

async function search(q, status = '', role = '') {
  await page.selectOption('#filter-status', status);
  await page.selectOption('#filter-role', role);
  await page.fill('#search-q', q);
  await page.press('#search-q', 'Enter');
}

async function openAccount(email) {
  await userRow(email).locator('button').click();
  await until(`the detail panel should show ${email}`, async () =>
    (await visible('#detail')) && (await detailText('detail-email')) === email,
  );
}

// ------------------------------------------------------------------------------------------

async function main() {
  await freshScreenshots(SHOTS);

  // Arranged through the API: the admin's own token for checks, ann's id, and a pending account.
  const adminToken = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
  const ann = (await call('GET', `/user/${encodeURIComponent(ANN)}`, { token: adminToken })).json;
  assert.ok(ann?.id, `${ANN} should exist (e2e/console.sh creates it)`);
  const signUp = await call('POST', '/user', { body: { email: DORA, password: USER_PASSWORD, name: DORA_NAME } });
  assert.ok([201, 409].includes(signUp.status), `signing up ${DORA}: ${signUp.status} ${signUp.text}`);
  const orgs = await arrangeOrgs(adminToken);

  const browser = await launchChromium(CHROMIUM);
  const dialogs = [];
  let dismissNext = false;
  const requests = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    watchConsole(page);
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      if (dismissNext) {
        dismissNext = false;
        dialog.dismiss();
      } else {
        dialog.accept();
      }
    });
    page.on('request', (request) => requests.push(`${request.method()} ${new URL(request.url()).pathname}`));

    await step('the page loads with its strict CSP', [], async () => {
      const response = await page.goto(`${BASE}/admin`);
      assert.equal(response.status(), 200, 'GET /admin');
      const headers = response.headers();
      assert.equal(headers['content-security-policy'], EXPECTED_CSP, 'the CSP of /admin');
      assert.ok(!/unsafe-/.test(headers['content-security-policy']), 'no unsafe-* in the CSP');
      assert.equal(headers['x-frame-options'], 'DENY');
      assert.match(headers['content-type'], /^text\/html/);
      await until('admin.js should have run', () => page.locator('body[data-ready="true"]').count());
      assert.ok(await visible('#login-form'), 'the login form is shown');
      assert.ok(!(await visible('#console-view')), 'the console is hidden before login');
      const css = await page.locator('h1').evaluate((h) => getComputedStyle(h.parentElement).display);
      assert.equal(css, 'flex', 'admin.css should style the header (was it blocked?)');
    });

    await step('a wrong password shows the API error', ['the page loads with its strict CSP'], async () => {
      await logInPage(ADMIN.email, `${ADMIN.password}-wrong`);
      await until('an error message should appear', async () =>
        (await page.locator('#message[data-kind="error"]').count()) > 0,
      );
      assert.ok(await visible('#login-form'), 'still on the login form');
    }, { expectConsole: [/status of 401/] });

    await step('a non-admin is refused', ['the page loads with its strict CSP'], async () => {
      await logInPage(BOB, USER_PASSWORD);
      await expectMessage(/not an administrator/);
      assert.ok(await visible('#login-form'), 'the login form is shown again');
      assert.ok(!(await visible('#console-view')), 'the console stays hidden');
      const kept = await page.evaluate(() => sessionStorage.length);
      assert.equal(kept, 0, 'no token is kept for a refused login');
    });

    await step('the admin logs in', ['the page loads with its strict CSP'], async () => {
      await logInPage(ADMIN.email, ADMIN.password);
      await until('the console should open', () => visible('#console-view'));
      assert.equal((await page.textContent('#whoami')).trim(), ADMIN.email, 'the header names the admin');
      assert.ok(!(await visible('#login-view')), 'the login form is hidden');
    });

    await step('the account list shows the accounts', ['the admin logs in'], async () => {
      await until('the list should show the accounts', async () =>
        (await userRow(ANN).count()) === 1 && (await userRow(BOB).count()) === 1,
      );
      assert.match(await page.textContent('#users-summary'), /shown/);
    });

    await step('search finds ann', ['the admin logs in'], async () => {
      await search('ann');
      await until(`the list should show only ${ANN}`, async () => {
        const emails = await page.locator('#users-body tr[data-testid="user-row"]').evaluateAll((rows) =>
          rows.map((r) => r.dataset.email),
        );
        return emails.length === 1 && emails[0] === ANN;
      });
      const cells = await userRow(ANN).locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 5), [ANN, 'ann', '—', 'user', 'active'], 'the row of ann');
    });

    await step('the filters narrow the list', ['search finds ann'], async () => {
      await search('', 'active', 'admin');
      await until('only the admin should be listed', async () => {
        const emails = await page.locator('#users-body tr[data-testid="user-row"]').evaluateAll((rows) =>
          rows.map((r) => r.dataset.email),
        );
        return emails.length === 1 && emails[0] === ADMIN.email;
      });
      await search('ann');
      await until(`${ANN} should be listed again`, async () => (await userRow(ANN).count()) === 1);
    });

    await step('ann opens in the detail panel', ['search finds ann'], async () => {
      await openAccount(ANN);
      assert.equal(await detailText('detail-id'), ann.id);
      assert.equal(await detailValue('status'), 'active');
      assert.equal(await detailValue('role'), 'user');
      assert.equal((await page.textContent('#action-status')).trim(), 'Disable');
      assert.equal((await page.textContent('#action-role')).trim(), 'Make admin');
      assert.ok(!(await visible('#action-resend-activation')), 'no "Resend activation" for an active account');
      await until('the events table should load', async () =>
        !(await page.locator('#events-body td').first().textContent()).startsWith('Loading'),
      );
      const eventsError = await page.locator('#events-body td.error').count();
      assert.equal(eventsError, 0, await page.locator('#events-body').textContent());
    });

    await step('a dismissed confirm changes nothing', ['ann opens in the detail panel'], async () => {
      const asked = dialogs.length;
      const sent = requests.length;
      dismissNext = true;
      await page.click('#action-status');
      await until('a confirm() should ask', () => dialogs.length > asked);
      await until('the button should be usable again', () => page.isEnabled('#action-status'));
      const patches = requests.slice(sent).filter((r) => r.startsWith('PATCH '));
      assert.deepEqual(patches, [], 'no request after "Cancel"');
      assert.equal(await detailValue('status'), 'active');
    });

    await step('disable ann', ['ann opens in the detail panel'], async () => {
      const asked = dialogs.length;
      await page.click('#action-status');
      await until('the detail should say disabled', async () => (await detailValue('status')) === 'disabled');
      assert.ok(dialogs.length > asked && /Disable/.test(dialogs.at(-1)), 'a confirm() should ask first');
      await expectMessage(/disabled/);
      assert.equal((await userRow(ANN).locator('.badge').nth(1).textContent()).trim(), 'disabled', 'the row too');
      assert.equal((await page.textContent('#action-status')).trim(), 'Enable');
      const viaApi = await call('GET', `/user/${ann.id}`, { token: adminToken });
      assert.equal(viaApi.json?.status, 'disabled', `GET /user/{id}: ${viaApi.text}`);
      const login = await call('POST', '/auth', { body: { email: ANN, password: USER_PASSWORD } });
      assert.equal(login.status, 403, `ann's login: ${login.text}`);
      assert.equal(login.json?.code, 'account_disabled');
      await reloadDetailUntil('the events should show an admin.account_updated', async () =>
        (await eventRows('admin.account_updated').count()) > 0,
      );
      assert.equal(await detailValue('status'), 'disabled', 'still disabled after the reload');
    });

    await step('enable ann again', ['disable ann'], async () => {
      await page.click('#action-status');
      await until('the detail should say active', async () => (await detailValue('status')) === 'active');
      await expectMessage(/enabled/);
      const login = await call('POST', '/auth', { body: { email: ANN, password: USER_PASSWORD } });
      assert.equal(login.status, 200, `ann's login after enabling: ${login.text}`);
    });

    await step('make ann an admin, and back', ['ann opens in the detail panel'], async () => {
      await page.click('#action-role');
      await until('the detail should say admin', async () => (await detailValue('role')) === 'admin');
      assert.match(dialogs.at(-1), /administrator/, 'a confirm() should ask first');
      assert.equal((await userRow(ANN).locator('.badge').first().textContent()).trim(), 'admin', 'the row too');
      const viaApi = await call('GET', `/user/${ann.id}`, { token: adminToken });
      assert.equal(viaApi.json?.role, 'admin', `GET /user/{id}: ${viaApi.text}`);
      await page.screenshot({ path: path.join(SHOTS, 'ann-is-admin.png'), fullPage: true });
      await page.click('#action-role');
      await until('the detail should say user again', async () => (await detailValue('role')) === 'user');
    });

    await step('set ann\'s app data', ['ann opens in the detail panel'], async () => {
      await page.fill('#app-data-input', '{"plan": "pro", "seats": 5}');
      await page.click('#app-data-save');
      await expectMessage(/app data of .* is saved/);
      const shown = await page.textContent('[data-testid="detail-app-data"]');
      assert.deepEqual(JSON.parse(shown), { plan: 'pro', seats: 5 }, `the detail shows it: ${shown}`);
      const viaApi = await call('GET', `/user/${ann.id}`, { token: adminToken });
      assert.deepEqual(viaApi.json?.app_data, { plan: 'pro', seats: 5 }, `GET /user/{id}: ${viaApi.text}`);
      // A key removed in the editor is removed from the account (the page sends a merge patch).
      await page.fill('#app-data-input', '{"plan": "team"}');
      await page.click('#app-data-save');
      await until('the detail should show the new app data', async () =>
        JSON.stringify(JSON.parse(await page.textContent('[data-testid="detail-app-data"]'))) === '{"plan":"team"}',
      );
      const login = await logInApi(ANN, USER_PASSWORD);
      const claims = JSON.parse(Buffer.from(login.access_token.split('.')[1], 'base64url').toString());
      assert.deepEqual(claims.app_data, { plan: 'team' }, 'ann\'s next access token carries it');
      await page.fill('#app-data-input', 'not json');
      await page.click('#app-data-save');
      await expectMessage(/not JSON/);
    });

    await step('end ann\'s sessions', ['enable ann again'], async () => {
      const pair = await logInApi(ANN, USER_PASSWORD);
      await openAccount(ANN);
      await until('the sessions table should list a session', async () =>
        (await page.locator('#sessions-body tr[data-testid="session-row"]').count()) > 0,
      );
      const asked = dialogs.length;
      await page.click('#action-end-sessions');
      await expectMessage(/session.*ended/);
      assert.ok(dialogs.length > asked, 'a confirm() should ask first');
      await until('the sessions table should be empty', async () =>
        /No active session/.test(await page.textContent('#sessions-body')),
      );
      const refreshed = await call('POST', '/auth/refresh', { body: { refresh_token: pair.refresh_token } });
      assert.equal(refreshed.status, 400, `ann's refresh token after the end: ${refreshed.text}`);
      await reloadDetailUntil('the events should show an admin.sessions_ended', async () =>
        (await eventRows('admin.sessions_ended').count()) > 0,
      );
    });

    await step('send ann a password reset', ['enable ann again'], async () => {
      const asked = dialogs.length;
      await page.click('#action-password-reset');
      await expectMessage(/password-reset link is on its way/);
      assert.ok(dialogs.length > asked, 'a confirm() should ask first');
    });

    await step('a pending account offers "Resend activation"', ['search finds ann'], async () => {
      await search('dora');
      await until(`${DORA} should be listed`, async () => (await userRow(DORA).count()) === 1);
      const name = userRow(DORA).locator('td').nth(2);
      assert.equal(await name.textContent(), DORA_NAME, 'the name is shown as text');
      assert.equal(await page.locator('[data-xss]').count(), 0, 'no element was made from the name');
      await openAccount(DORA);
      assert.equal(await detailValue('status'), 'pending');
      assert.ok(await visible('#action-resend-activation'), '"Resend activation" is offered');
      await page.click('#action-resend-activation');
      await expectMessage(/activation link is on its way/);
    });

    await step('an expired access token is refreshed and the call retried', ['search finds ann'], async () => {
      await search('ann');
      await until(`${ANN} should be listed`, async () => (await userRow(ANN).count()) === 1);
      let refused = 0;
      // The next read of an account answers 401, as it would once the access token expired.
      await page.route(`${BASE}/user/*`, (route) => {
        if (refused > 0) return route.continue();
        refused++;
        return route.fulfill({
          status: 401,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, code: 'unauthorized' }),
        });
      });
      const sent = requests.length;
      try {
        await openAccount(ANN);
      } finally {
        await page.unroute(`${BASE}/user/*`);
      }
      const after = requests.slice(sent);
      assert.equal(refused, 1, 'the faked 401 was served');
      assert.equal(after.filter((r) => r === 'POST /auth/refresh').length, 1, `one refresh: ${after.join(', ')}`);
      assert.equal(after.filter((r) => r.startsWith('GET /user/')).length, 2, `one retry: ${after.join(', ')}`);
      assert.ok(await visible('#console-view'), 'still logged in');
    }, { expectConsole: [/status of 401/] });

    await step('the organizations tab lists the organizations, newest first', ['the admin logs in'], async () => {
      await page.click('#tab-orgs');
      await until('the organizations panel should show', () => visible('#orgs-panel'));
      assert.equal(await page.getAttribute('#tab-orgs', 'aria-selected'), 'true');
      assert.equal(await page.getAttribute('#tab-users', 'aria-selected'), 'false');
      assert.ok(!(await visible('#users-panel')), 'the users panel is hidden');
      await until('both organizations should be listed', async () =>
        (await orgRow(ORG.slug).count()) === 1 && (await orgRow(OTHER_ORG.slug).count()) === 1,
      );
      const slugs = await orgSlugs();
      assert.ok(slugs.indexOf(OTHER_ORG.slug) < slugs.indexOf(ORG.slug), `newest first: ${slugs.join(', ')}`);
      const cells = await orgRow(ORG.slug).locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 2), [ORG.name, ORG.slug], `the row of ${ORG.slug}`);
      const created = await orgRow(ORG.slug).locator('td time').getAttribute('datetime');
      assert.equal(created, orgs[ORG.slug].created_at, 'the created time, as the API has it');
      assert.equal(await orgRow(ORG.slug).getAttribute('data-id'), orgs[ORG.slug].id);
      assert.match(await page.textContent('#orgs-summary'), /shown/);
      assert.ok(!(await visible('#org-detail')), 'no organization is open yet');
    });

    await step('search finds one organization, by slug or by name', ['the organizations tab lists the organizations, newest first'], async () => {
      await page.fill('#orgs-q', ORG.slug);
      await page.press('#orgs-q', 'Enter');
      await until(`only ${ORG.slug} should be listed`, async () => {
        const slugs = await orgSlugs();
        return slugs.length === 1 && slugs[0] === ORG.slug;
      });
      // A part of the name, in other letters' case.
      await page.fill('#orgs-q', `ZENITH LABS ${RUN.toUpperCase()}`);
      await page.click('#orgs-search-submit');
      await until(`only ${OTHER_ORG.slug} should be listed`, async () => {
        const slugs = await orgSlugs();
        return slugs.length === 1 && slugs[0] === OTHER_ORG.slug;
      });
      await page.fill('#orgs-q', `no-such-org-${RUN}`);
      await page.press('#orgs-q', 'Enter');
      await until('the list should say nothing matches', async () =>
        (await orgSlugs()).length === 0 && /No organization matches/.test(await page.textContent('#orgs-body')),
      );
      const viaApi = await call('GET', `/admin/orgs?q=${encodeURIComponent(ORG.slug)}`, { token: adminToken });
      assert.deepEqual(viaApi.json?.orgs?.map((o) => o.slug), [ORG.slug], `GET /admin/orgs?q=: ${viaApi.text}`);
      await page.fill('#orgs-q', RUN);
      await page.press('#orgs-q', 'Enter');
      await until('both organizations of this run should be listed', async () => (await orgSlugs()).length === 2);
    });

    await step('the organization list pages with "More"', ['search finds one organization, by slug or by name'], async () => {
      await withPageSize(1, /^\/admin\/orgs$/, async () => {
        await page.click('#orgs-search-submit');
        await until('one organization and "More" should show', async () =>
          (await orgSlugs()).length === 1 && (await visible('#orgs-more')),
        );
        assert.deepEqual(await orgSlugs(), [OTHER_ORG.slug], 'the newest on the first page');
        await page.click('#orgs-more');
        await until('the second page should be added', async () => (await orgSlugs()).length === 2);
        assert.deepEqual(await orgSlugs(), [OTHER_ORG.slug, ORG.slug], 'the pages in order, each once');
        // The last page may still say "More" (it was full); one more click finds nothing further.
        if (await visible('#orgs-more')) {
          await page.click('#orgs-more');
          await until('"More" should go once the last page is read', async () => !(await visible('#orgs-more')));
        }
        assert.equal((await orgSlugs()).length, 2, 'no organization twice');
      });
    });

    await step('an organization opens with its member count and members', ['search finds one organization, by slug or by name'], async () => {
      await orgRow(ORG.slug).locator('button').click();
      await until(`the detail panel should show ${ORG.name}`, async () =>
        (await visible('#org-detail')) && (await page.textContent('#org-detail-title')) === ORG.name,
      );
      assert.ok(await orgRow(ORG.slug).evaluate((row) => row.classList.contains('selected')), 'its row is marked');
      const counted = await call('GET', `/admin/orgs/${ORG.slug}`, { token: adminToken });
      assert.equal(counted.json?.members, 3, `GET /admin/orgs/{org}: ${counted.text}`);
      assert.equal(await page.getAttribute('[data-testid="org-detail-members"]', 'data-value'), '3', 'the member count');
      assert.equal((await page.textContent('[data-testid="org-detail-slug"]')).trim(), ORG.slug);
      assert.equal((await page.textContent('[data-testid="org-detail-id"]')).trim(), orgs[ORG.slug].id);
      await until('the members should be listed', async () => (await memberRows().count()) === 3);
      assert.deepEqual(await memberEmails(), [OLGA.email, MIA.email, MAX.email], 'in the order they joined');
      const rows = [];
      for (const email of [OLGA.email, MIA.email, MAX.email]) {
        const row = page.locator(`#members-body tr[data-testid="member-row"][data-email="${email}"]`);
        rows.push((await row.locator('td').allTextContents()).slice(0, 3));
        assert.ok(await row.locator('td time').count(), `a joined time for ${email}`);
      }
      assert.deepEqual(rows, [
        [OLGA.email, OLGA.name, 'owner'],
        [MIA.email, MIA.name, 'admin'],
        [MAX.email, '—', 'member'],
      ], 'email, name (as text) and role of each member');
      assert.equal(await page.locator('[data-xss]').count(), 0, 'no element was made from a name');
      assert.ok(!(await visible('#members-more')), 'one page of members: no "More members"');
    });

    await step('the member list pages with "More members"', ['an organization opens with its member count and members'], async () => {
      await withPageSize(2, /^\/orgs\/[^/]+\/members$/, async () => {
        await page.click('#org-detail-reload');
        await until('two members and "More members" should show', async () =>
          (await memberRows().count()) === 2 && (await visible('#members-more')),
        );
        assert.deepEqual(await memberEmails(), [OLGA.email, MIA.email]);
        await page.click('#members-more');
        await until('the third member should be added', async () => (await memberRows().count()) === 3);
        assert.deepEqual(await memberEmails(), [OLGA.email, MIA.email, MAX.email], 'each member once, in order');
        assert.ok(!(await visible('#members-more')), 'no "More members" after the last');
      });
    });

    await step('another organization replaces the open one', ['an organization opens with its member count and members'], async () => {
      await until(`${OTHER_ORG.slug} should be listed`, async () => (await orgRow(OTHER_ORG.slug).count()) === 1);
      await orgRow(OTHER_ORG.slug).locator('button').click();
      await until(`the detail panel should show ${OTHER_ORG.name}`, async () =>
        (await page.textContent('#org-detail-title')) === OTHER_ORG.name &&
        (await page.getAttribute('[data-testid="org-detail-members"]', 'data-value')) === '1',
      );
      await until('only its owner should be listed', async () => {
        const emails = await memberEmails();
        return emails.length === 1 && emails[0] === OLGA.email;
      });
      await page.click('#org-detail-close');
      assert.ok(!(await visible('#org-detail')), 'closed');
      assert.equal(await page.locator('#orgs-body tr.selected').count(), 0, 'no row is marked');
    });

    await step('a member\'s address opens their account', ['an organization opens with its member count and members'], async () => {
      await orgRow(ORG.slug).locator('button').click();
      const mia = page.locator(`#members-body tr[data-testid="member-row"][data-email="${MIA.email}"]`);
      await until(`${MIA.email} should be listed`, async () => (await mia.count()) === 1);
      await mia.locator('[data-testid="member-open"]').click();
      await until(`the account panel should show ${MIA.email}`, async () =>
        (await visible('#users-panel')) && (await visible('#detail')) && (await detailText('detail-email')) === MIA.email,
      );
      assert.equal(await page.getAttribute('#tab-users', 'aria-selected'), 'true');
      assert.ok(!(await visible('#orgs-panel')), 'the organizations panel is hidden');
      assert.equal(await detailText('detail-name'), MIA.name, 'the name, as text');
    });

    await step('a reload stays logged in', ['the admin logs in'], async () => {
      await page.reload();
      await until('the console should open again after the reload', () => visible('#console-view'));
      assert.equal((await page.textContent('#whoami')).trim(), ADMIN.email);
    });

    await step('the outbox lists the emails', ['the admin logs in'], async () => {
      await page.click('#tab-outbox');
      await until('the outbox panel should show', () => visible('#outbox-panel'));
      assert.equal(await page.getAttribute('#tab-outbox', 'aria-selected'), 'true');
      await until('the outbox should list the email to dora', async () =>
        (await page.locator(`#outbox-body tr[data-testid="outbox-row"]:has-text("${DORA}")`).count()) > 0,
      );
      await page.fill('#outbox-recipient', DORA);
      await page.click('#outbox-submit');
      await until('the filtered outbox should list only the emails to dora', async () => {
        const recipients = await page
          .locator('#outbox-body tr[data-testid="outbox-row"] td:nth-child(3)')
          .allTextContents();
        return recipients.length > 0 && recipients.every((r) => r === DORA);
      });
      const kinds = await page.locator('#outbox-body tr[data-testid="outbox-row"] td:nth-child(2)').allTextContents();
      assert.ok(kinds.includes('activation'), `an activation email to dora: ${kinds.join(', ')}`);
    });

    await step('client apps are registered, re-keyed and deleted', ['the admin logs in'], async () => {
      await page.click('#tab-clients');
      await until('the client apps panel should show', () => visible('#clients-panel'));
      await page.fill('#client-name', 'Grafana');
      await page.fill('#client-redirects', 'https://grafana.example.com/login/generic_oauth');
      await page.check('#client-first-party');
      await page.click('#client-submit');
      await until('the secret should be shown once', () => visible('#client-secret'));
      const secret = (await page.textContent('#client-secret-value')).trim();
      assert.ok(secret.length >= 43, `a 256-bit secret: ${secret}`);
      const row = page.locator('#clients-body tr[data-testid="client-row"]:has-text("Grafana")');
      await until('the list should show the new client', async () => (await row.count()) === 1);
      const clientId = await row.getAttribute('data-id');
      const listed = await call('GET', '/admin/clients', { token: (await logInApi(ADMIN.email, ADMIN.password)).access_token });
      const stored = listed.json.clients.find((c) => c.client_id === clientId);
      assert.ok(stored && stored.first_party && stored.confidential, `registered as asked: ${listed.text}`);
      assert.equal(stored.client_secret, undefined, 'the secret is not shown again');
      await row.locator('[data-testid="client-rotate"]').click();
      await until('a new secret should be shown', async () => (await page.textContent('#client-secret-value')).trim() !== secret);
      await row.locator('[data-testid="client-delete"]').click();
      await until('the client should be gone', async () => (await row.count()) === 0);
      await expectMessage(/Grafana is deleted/);
    });

    // Webhooks: the server runs with its default settings, so private targets are refused; the
    // public IP literal needs no DNS, and with no network here its attempts fail (or, with one,
    // are answered): the steps assert what the delivery log says either way.
    const PRIVATE_HOOK = 'http://127.0.0.1:9/hook';
    const PUBLIC_HOOK = 'https://93.184.216.34/hook';
    const hookRow = () => page.locator(`#webhooks-body tr[data-testid="webhook-row"][data-url="${PUBLIC_HOOK}"]`);
    const webhooksViaApi = async () => {
      const token = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
      const listed = await call('GET', '/admin/webhooks', { token });
      assert.equal(listed.status, 200, `GET /admin/webhooks: ${listed.text}`);
      return { token, listed };
    };
    let hook = null;

    await step('the webhooks tab opens', ['the admin logs in'], async () => {
      await page.click('#tab-webhooks');
      await until('the webhooks panel should show', () => visible('#webhooks-panel'));
      assert.equal(await page.getAttribute('#tab-webhooks', 'aria-selected'), 'true');
      assert.equal(await page.getAttribute('#tab-clients', 'aria-selected'), 'false');
      assert.ok(!(await visible('#clients-panel')), 'the client apps panel is hidden');
      await until('the endpoint table should load (rows, or "No webhook endpoint")', async () =>
        (await page.locator('#webhooks-body tr').count()) > 0,
      );
      assert.match(await page.textContent('#webhooks-panel > p.muted'), /Standard Webhooks/);
      assert.ok(!(await visible('#webhook-secret')), 'no secret is shown before a registration');
      assert.ok(!(await visible('#deliveries')), 'no delivery log is open');
    });

    await step('a webhook to a private address is refused', ['the webhooks tab opens'], async () => {
      await page.fill('#webhook-url', PRIVATE_HOOK);
      await page.check('#webhook-form input[name="events"][value="user.created"]');
      await page.click('#webhook-submit');
      await expectMessage(/127\.0\.0\.1.*special-purpose address \(loopback\).*GATEHOUSE_WEBHOOK_ALLOW_PRIVATE/);
      assert.equal(await page.getAttribute('#message', 'data-kind'), 'error');
      assert.equal(await page.getAttribute('#message', 'role'), 'alert');
      assert.equal(await page.inputValue('#webhook-url'), PRIVATE_HOOK, 'the form keeps what was typed');
      assert.ok(!(await visible('#webhook-secret')), 'no secret for a refused endpoint');
      const { listed } = await webhooksViaApi();
      assert.ok(!listed.json.webhooks.some((w) => w.url === PRIVATE_HOOK), `nothing registered: ${listed.text}`);
    }, { expectConsole: [/status of 422/] });

    await step('a webhook endpoint is registered and its secret shown once', ['the webhooks tab opens'], async () => {
      await page.fill('#webhook-url', PUBLIC_HOOK);
      await page.check('#webhook-form input[name="events"][value="user.created"]');
      await page.fill('#webhook-description', 'console test <b>receiver</b>');
      await page.click('#webhook-submit');
      await until('the signing secret should be shown once', () => visible('#webhook-secret'));
      const secret = (await page.textContent('#webhook-secret-value')).trim();
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, `a Standard Webhooks secret: ${secret}`);
      assert.match(await page.textContent('#webhook-secret'), /shown this once/);
      assert.equal((await page.textContent('#webhook-secret-url')).trim(), PUBLIC_HOOK);
      await expectMessage(/is registered/);
      await until('the list should show the new endpoint', async () => (await hookRow().count()) === 1);
      const cells = await hookRow().locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 4), [PUBLIC_HOOK, 'user.created', 'console test <b>receiver</b>', 'enabled']);
      assert.equal(await page.locator('#webhooks-body b').count(), 0, 'no element was made from the description');
      assert.equal(await page.inputValue('#webhook-url'), '', 'the form is emptied');
      const { listed } = await webhooksViaApi();
      hook = listed.json.webhooks.find((w) => w.url === PUBLIC_HOOK);
      assert.ok(hook, `GET /admin/webhooks lists it: ${listed.text}`);
      assert.equal(await hookRow().getAttribute('data-id'), hook.id);
      assert.deepEqual(hook.events, ['user.created']);
      assert.equal(hook.enabled, true);
      assert.equal(hook.secret, undefined, 'the secret is not shown again');
      assert.ok(!listed.text.includes(secret) && !listed.text.includes('whsec_'), 'no secret anywhere in the list');
    });

    await step('the delivery log shows the user.created event', ['a webhook endpoint is registered and its secret shown once'], async () => {
      const email = `hooked-${Date.now()}@example.com`;
      const signUp = await call('POST', '/user', { body: { email, password: USER_PASSWORD } });
      assert.equal(signUp.status, 201, `signing up ${email}: ${signUp.text}`);
      const accountId = signUp.json.id;
      const { token } = await webhooksViaApi();
      const path = `/admin/webhooks/${hook.id}/deliveries?limit=50`;
      const owed = await call('GET', path, { token });
      assert.equal(owed.status, 200, `GET ${path}: ${owed.text}`);
      const delivery = owed.json.deliveries.find((d) => d.account_id === accountId);
      assert.ok(delivery, `a delivery for ${email}, written with the account: ${owed.text}`);
      assert.equal(delivery.type, 'user.created');

      await hookRow().locator('[data-testid="webhook-deliveries"]').click();
      await until('the delivery log should open', () => visible('#deliveries'));
      assert.equal((await page.textContent('#deliveries-url')).trim(), PUBLIC_HOOK);
      assert.ok(!(await visible('#deliveries-held')), 'no "disabled" note for an enabled endpoint');
      const row = page.locator(`#deliveries-body tr[data-testid="delivery-row"][data-id="${delivery.id}"]`);
      await until('the log should list the user.created event', async () => (await row.count()) === 1);
      assert.equal(await row.getAttribute('data-type'), 'user.created');
      assert.equal((await row.locator('td').nth(0).textContent()).trim(), delivery.id, 'the event id');
      assert.equal((await row.locator('td').nth(1).textContent()).trim(), 'user.created', 'the type');
      assert.ok(Number(await row.getAttribute('data-attempts')) >= 0, 'attempts');

      // The worker polls every second; an attempt ends within its 10 s timeout. "Show" reloads the log.
      await until('the log should show an attempt and its answer', async () => {
        await page.click('#deliveries-submit');
        await page.locator('#deliveries-submit:enabled').waitFor();
        if ((await row.count()) !== 1) return false;
        const attempts = Number(await row.getAttribute('data-attempts'));
        const status = await row.getAttribute('data-status');
        return attempts >= 1 && status !== 'sending' && (await row.locator('td').nth(4).textContent()).trim() !== '—';
      }, 30_000);
      const now = (await call('GET', path, { token })).json.deliveries.find((d) => d.id === delivery.id);
      const cells = await row.locator('td').allTextContents();
      assert.equal(cells[2].trim(), now.status, `the status as the API has it: ${JSON.stringify(now)}`);
      assert.ok(['queued', 'delivered'].includes(now.status), `within a day, queued again or delivered: ${now.status}`);
      assert.equal(Number(cells[3]), now.attempts, 'the attempts as the API has them');
      const answer = now.last_response_status !== null ? String(now.last_response_status) : now.last_error;
      assert.ok(answer, `the last answer: ${JSON.stringify(now)}`);
      assert.equal(cells[4].trim(), answer, 'the last answer: its status code, else the error');
      const replayable = now.status === 'delivered' || now.status === 'failed';
      assert.equal(await row.locator('[data-testid="delivery-replay"]').count(), replayable ? 1 : 0, 'Replay only on delivered or failed');

      await page.selectOption('#deliveries-status', 'failed');
      await until('the "failed" filter should hide it', async () =>
        (await row.count()) === 0 && /No failed delivery/.test(await page.textContent('#deliveries-body')),
      );
      await page.selectOption('#deliveries-status', '');
      await until('"any" should list it again', async () => (await row.count()) === 1);
      assert.ok(!(await visible('#deliveries-more')), 'one page only: no "More"');
    });

    await step('disable the webhook endpoint', ['a webhook endpoint is registered and its secret shown once'], async () => {
      const toggle = hookRow().locator('[data-testid="webhook-toggle"]');
      assert.equal((await toggle.textContent()).trim(), 'Disable');
      await toggle.click();
      await until('the row should say disabled', async () => (await hookRow().getAttribute('data-enabled')) === 'false');
      await expectMessage(/is disabled/);
      assert.equal((await hookRow().locator('[data-testid="webhook-toggle"]').textContent()).trim(), 'Enable');
      assert.equal((await hookRow().locator('.badge').textContent()).trim(), 'disabled');
      const { listed } = await webhooksViaApi();
      const stored = listed.json.webhooks.find((w) => w.id === hook.id);
      assert.equal(stored?.enabled, false, `GET /admin/webhooks: ${listed.text}`);
      if (await visible('#deliveries')) {
        assert.ok(await visible('#deliveries-held'), 'the open log says its deliveries wait');
      }
    });

    await step('delete the webhook endpoint', ['a webhook endpoint is registered and its secret shown once'], async () => {
      const asked = dialogs.length;
      await hookRow().locator('[data-testid="webhook-delete"]').click();
      await until('the endpoint should be gone', async () => (await hookRow().count()) === 0);
      assert.ok(dialogs.length > asked && /Delete the webhook endpoint/.test(dialogs.at(-1)), 'a confirm() should ask first');
      await expectMessage(/is deleted/);
      assert.ok(!(await visible('#webhook-secret')), 'its secret is no longer shown');
      assert.ok(!(await visible('#deliveries')), 'its delivery log is closed');
      const { token, listed } = await webhooksViaApi();
      assert.ok(!listed.json.webhooks.some((w) => w.id === hook.id), `GET /admin/webhooks: ${listed.text}`);
      const gone = await call('GET', `/admin/webhooks/${hook.id}`, { token });
      assert.equal(gone.status, 404, `GET /admin/webhooks/{id} after the delete: ${gone.text}`);
    });

    await step('log out', ['the admin logs in'], async () => {
      await page.click('#logout');
      await until('the login form should be back', () => visible('#login-form'));
      await expectMessage(/logged out/);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the refresh token is forgotten');
      await page.reload();
      await until('admin.js should have run', () => page.locator('body[data-ready="true"]').count());
      assert.ok(await visible('#login-form'), 'a reload after logging out shows the login form');
    });

    await step('a second factor is asked for after the password', ['log out'], async () => {
      const annToken = (await logInApi(ANN, USER_PASSWORD)).access_token;
      const enrolment = await call('POST', '/mfa/totp', { token: annToken, body: { password: USER_PASSWORD } });
      assert.equal(enrolment.status, 200, `POST /mfa/totp: ${enrolment.text}`);
      const secret = base32(enrolment.json.secret);
      const used = totp(secret, 0);
      const confirmed = await call('POST', '/mfa/totp/confirm', { token: annToken, body: { code: used } });
      assert.equal(confirmed.status, 200, `POST /mfa/totp/confirm: ${confirmed.text}`);
      try {
        await logInPage(ANN, USER_PASSWORD);
        await until('the code form should show', () => visible('#mfa-form'));
        assert.ok(!(await visible('#login-form')), 'the password form is hidden');
        await page.screenshot({ path: path.join(SHOTS, 'second-factor.png') });
        // The very code that confirmed the app: a code works once, whatever the clock says now.
        await page.fill('#mfa-code', used);
        await page.click('#mfa-submit');
        await expectMessage(/wrong or has been used/);
        assert.ok(await visible('#mfa-form'), 'a used code leaves the code form up');
        await page.fill('#mfa-code', totp(secret, 1));
        await page.click('#mfa-submit');
        await expectMessage(/not an administrator/);
        assert.ok(await visible('#login-form'), 'a user with the right code is still no admin: back at the password form');
      } finally {
        // With a login of just now: removing someone's second factors is refused to an admin whose
        // login is older than GATEHOUSE_REAUTH_WINDOW, which adminToken's may be by this step.
        const fresh = (await logInApi(ADMIN.email, ADMIN.password)).access_token;
        await call('DELETE', `/admin/users/${encodeURIComponent(ANN)}/mfa`, { token: fresh });
      }
    }, { expectConsole: [/status of 401/, /status of 403/] });

    // Step-up, on the server whose re-authentication window is 2 s, in a browser context of its
    // own: a change that gives lasting access, asked for once the admin's login is older than the
    // window, brings up "Confirm it is you"; once the admin has confirmed, the refused request is
    // sent again and the change is made, without the admin asking for it a second time.
    const reauthContext = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await reauthContext.newPage();
    page.setDefaultTimeout(10_000);
    watchConsole(page);
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      dialog.accept();
    });
    const stepUpRequests = [];
    page.on('request', (request) => stepUpRequests.push(`${request.method()} ${new URL(request.url()).pathname}`));
    const STEP_UP_APP = `Step-up app ${Date.now()}`;
    const STEP_UP_REDIRECT = 'https://step-up.example.com/callback';
    const stepUpRow = () => page.locator('#clients-body tr[data-testid="client-row"]').filter({ hasText: STEP_UP_APP });
    /** The clients of that name on the step-up server, as its API lists them. */
    const stepUpAppsViaApi = async () => {
      const token = (await logInApi(ADMIN.email, ADMIN.password, REAUTH_BASE)).access_token;
      const listed = await call('GET', '/admin/clients', { token, base: REAUTH_BASE });
      assert.equal(listed.status, 200, `GET /admin/clients: ${listed.text}`);
      return listed.json.clients.filter((c) => c.name === STEP_UP_APP);
    };
    const sentSince = (from, request) => stepUpRequests.slice(from).filter((r) => r === request).length;

    await step('the admin logs in where a login is recent for 2 s', [], async () => {
      const response = await page.goto(`${REAUTH_BASE}/admin`);
      assert.equal(response.status(), 200, 'GET /admin');
      await until('admin.js should have run', () => page.locator('body[data-ready="true"]').count());
      await logInPage(ADMIN.email, ADMIN.password);
      await until('the console should open', () => visible('#console-view'));
      await page.click('#tab-clients');
      await until('the client apps panel should show', () => visible('#clients-panel'));
      await page.fill('#client-name', STEP_UP_APP);
      await page.fill('#client-redirects', STEP_UP_REDIRECT);
      assert.ok(!(await visible('#reauth-view')), 'no "Confirm it is you" before anything was refused');
    });

    await step('past the window, registering a client asks the admin to confirm it is them', ['the admin logs in where a login is recent for 2 s'], async () => {
      // What is tested is the passage of time: the login must be older than the 2 s window.
      await page.waitForTimeout(3_000);
      const sent = stepUpRequests.length;
      await page.click('#client-submit');
      await until('the "Confirm it is you" form should show', () => visible('#reauth-form'));
      assert.equal(sentSince(sent, 'POST /admin/clients'), 1, `one refused request: ${stepUpRequests.slice(sent).join(', ')}`);
      assert.ok(!(await visible('#console-view')), 'the console makes way for the form');
      assert.ok(await visible('#reauth-password'), 'an admin without a second factor is asked for the password');
      assert.ok(!(await visible('#reauth-code')), 'and not for a code');
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'reauth-password', 'the password field has the focus');
      assert.equal(await messageText(), '', 'the refusal is not shown as an error');
      assert.deepEqual(await stepUpAppsViaApi(), [], 'nothing is registered yet');
    }, { expectConsole: [/status of 403/] });

    await step('a wrong password keeps the form up with its error', ['past the window, registering a client asks the admin to confirm it is them'], async () => {
      const sent = stepUpRequests.length;
      await page.fill('#reauth-password', `${ADMIN.password}-wrong`);
      await page.click('#reauth-submit');
      await until('the error should show', async () =>
        (await visible('#message[data-kind="error"]')) && /password is wrong/.test(await messageText()),
      );
      await until('the form should be usable again', () => page.isEnabled('#reauth-submit'));
      assert.ok(await visible('#reauth-form'), 'the form stays up');
      assert.ok(!(await visible('#console-view')), 'the console stays behind it');
      assert.ok(!(await visible('#login-view')), 'the admin is still logged in');
      assert.ok(await page.evaluate(() => sessionStorage.length > 0), 'the session is kept');
      assert.ok((await page.inputValue('#reauth-password')) === '', 'the wrong password is not left in the field');
      assert.equal(sentSince(sent, 'POST /auth/refresh'), 0, 'a wrong password is no reason to refresh the session');
      assert.equal(sentSince(sent, 'POST /admin/clients'), 0, 'nothing is sent again before a confirmation');
      assert.deepEqual(await stepUpAppsViaApi(), [], 'nothing is registered');
    }, { expectConsole: [/status of 401/] });

    await step('the right password registers the client without the admin doing it again', ['a wrong password keeps the form up with its error'], async () => {
      const sent = stepUpRequests.length;
      await page.fill('#reauth-password', ADMIN.password);
      await page.click('#reauth-submit');
      await until('the console should come back', () => visible('#console-view'));
      await until('the list should show the new client', async () => (await stepUpRow().count()) === 1);
      await expectMessage(new RegExp(`^${STEP_UP_APP} is registered`));
      assert.ok(!(await visible('#reauth-view')), 'the form is gone');
      assert.ok(await visible('#client-secret'), 'its secret is shown once, as after any registration');
      assert.equal(await page.inputValue('#client-name'), '', 'the registration form is emptied');
      const after = stepUpRequests.slice(sent).join(', ');
      assert.equal(sentSince(sent, 'POST /auth/reauthenticate'), 1, `one confirmation: ${after}`);
      assert.equal(sentSince(sent, 'POST /admin/clients'), 1, `the refused request sent once more: ${after}`);
      const stored = await stepUpAppsViaApi();
      assert.equal(stored.length, 1, 'registered once');
      assert.deepEqual(stored[0].redirect_uris, [STEP_UP_REDIRECT], 'as the form had it');
    });

    await consoleStayedClean();
  } finally {
    await browser.close();
  }

  return finish();
}

runTest('console test', main);
