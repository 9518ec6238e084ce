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
// It brings up what it needs on free ports of 127.0.0.1, and stops it at the end:
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
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A TCP port free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The harness reads the API's address when imported: this test's own gatehouse.
const GATEHOUSE_PORT = await freePort();
process.env.GATEHOUSE_E2E_BASE = `http://127.0.0.1:${GATEHOUSE_PORT}`;
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
// The DNS server: answers TXT questions from `records`, everything else with no answer
// (NOERROR, none: what a zone without such a record says). UDP only: these answers are short.

function dnsAnswer(query, records) {
  if (query.length < 12 || query[2] & 0x80 || query.readUInt16BE(4) !== 1) return null;
  let at = 12;
  const labels = [];
  for (;;) {
    const length = query[at];
    if (length === undefined || length & 0xc0) return null;
    at += 1;
    if (length === 0) break;
    labels.push(query.toString('latin1', at, at + length));
    at += length;
  }
  if (at + 4 > query.length) return null;
  const [type, klass] = [query.readUInt16BE(at), query.readUInt16BE(at + 2)];
  const question = query.subarray(12, at + 4);
  const values = type === 16 && klass === 1 ? (records.get(labels.join('.').toLowerCase()) ?? []) : [];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // the id
  // QR, the query's opcode and RD, AA; RCODE 0.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(values.length, 6);
  const answers = values.map((value) => {
    const text = Buffer.from(value, 'utf8');
    const strings = [];
    for (let i = 0; i < text.length || i === 0; i += 255) {
      const part = text.subarray(i, i + 255);
      strings.push(Buffer.from([part.length]), part);
    }
    const data = Buffer.concat(strings);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // the question's name
    fixed.writeUInt16BE(16, 2); // TXT
    fixed.writeUInt16BE(1, 4); // IN
    fixed.writeUInt32BE(0, 6); // TTL
    fixed.writeUInt16BE(data.length, 10);
    return Buffer.concat([fixed, data]);
  });
  return Buffer.concat([header, question, ...answers]);
}

async function startDns() {
  const records = new Map();
  const asked = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, from) => {
    const answer = dnsAnswer(query, records);
    asked.push(answer ? `answered ${answer.readUInt16BE(6)} record(s)` : 'ignored a malformed query');
    if (answer) socket.send(answer, from.port, from.address);
  });
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  return {
    address: `127.0.0.1:${socket.address().port}`,
    asked,
    publish: (name, value) => records.set(name.toLowerCase().replace(/\.$/, ''), [value]),
    close: () => new Promise((resolve) => socket.close(resolve)),
  };
}

// ------------------------------------------------------------------------------------------
// The app the login goes on to.

async function startApp() {
  const visits = [];
  const server = http.createServer((request, response) => {
    if (request.url === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    visits.push(request.url);
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    const shown = request.url.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    response.end(
      '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Acme app</title></head>\n' +
        `<body><h1 id="app">Acme app</h1><p>You are at <code>${shown}</code>.</p></body></html>\n`,
    );
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, visits, close: () => new Promise((resolve) => server.close(resolve)) };
}

// ------------------------------------------------------------------------------------------
// Processes

const children = [];

/** Starts `command`, its stdout and stderr (or stderr alone with `stdout: 'pipe'`) to `log`. */
function start(name, command, args, { env, cwd, log, stdout = 'log' }) {
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd] });
  closeSync(fd);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (error) => console.error(`${name}: ${error.message}`));
  children.push({ name, child, log });
  return child;
}

async function stopAll() {
  await Promise.all(
    children.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    }),
  );
}

function showLogs() {
  for (const { name, log } of children) {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      continue;
    }
    if (!text.trim()) continue;
    console.error(`---- last lines of ${name}'s log (${log}) ----`);
    console.error(text.trimEnd().split('\n').slice(-40).join('\n'));
    console.error('----');
  }
}

/** gatehouse's environment: ours, less every setting of gatehouse's, plus `settings`. */
function gatehouseEnv(settings) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)/.test(name)) env[name] = value;
  }
  return { ...env, ...settings };
}

async function startGatehouse(work, dns, app) {
  assert.ok(
    runnable(BIN),
    `no gatehouse binary at ${BIN}: build it first (cargo build --release --locked) or set GATEHOUSE_E2E_BIN`,
  );
  const child = start('gatehouse', BIN, ['serve'], {
    cwd: work, // no .env or gatehouse.toml of the clone is read
    log: path.join(work, 'gatehouse.log'),
    env: gatehouseEnv({
      GATEHOUSE_BIND: `127.0.0.1:${GATEHOUSE_PORT}`,
      GATEHOUSE_PUBLIC_URL: PAGE,
      GATEHOUSE_DATABASE_URL: `sqlite://${work}/gh.db`,
      GATEHOUSE_RATE_LIMIT: 'off',
      GATEHOUSE_LOG: 'info',
      GATEHOUSE_ADMIN_EMAIL: ADMIN.email,
      GATEHOUSE_ADMIN_PASSWORD: ADMIN.password,
      GATEHOUSE_DNS_RESOLVER: dns.address,
      GATEHOUSE_REDIRECT_ALLOW: `${app.base}/app/`,
      GATEHOUSE_WEBHOOK_ALLOW_PRIVATE: 'true',
    }),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('gatehouse exited before it was ready');
    const ready = await fetch(`${BASE}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return child;
    if (Date.now() > deadline) throw new Error(`${BASE}/readyz did not answer 200 within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The identity provider; what its ready line says (url, metadata_url, sso_url, entity_id). */
async function startIdp(work) {
  assert.ok(runnable(PYTHON), `no python at ${PYTHON}: run e2e/saml/setup.sh (or set GATEHOUSE_E2E_SAML_PYTHON)`);
  const script = path.join(repo, 'e2e/saml/idp_server.py');
  const child = start('the identity provider', PYTHON, [script, '--email', ANN, '--attr', 'givenName=Ann'], {
    cwd: work,
    log: path.join(work, 'idp.log'),
    env: process.env,
    stdout: 'pipe',
  });
  const lines = readline.createInterface({ input: child.stdout });
  const first = new Promise((resolve) => lines.once('line', resolve));
  const timeout = new Promise((resolve) => setTimeout(resolve, 30_000, null));
  const line = await Promise.race([first, child.exited.then(() => null), timeout]);
  if (!line) throw new Error('the identity provider did not start (no ready line within 30 s)');
  return JSON.parse(line);
}

function runnable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------
// The browser

let browser;
let page;
const { step: anyStep, watchConsole, until, consoleStayedClean, finish } = steps(() => page, SHOTS, 'sso-');

// gatehouse's pages name no icon; the browser asks for /favicon.ico, which gatehouse answers
// with 204 (an older binary with 404, which is no error of the page's).
const FAVICON_NOT_FOUND = /status of 404 .*\/favicon\.ico\]$/;

/** A step (see harness.mjs) in which the browser's asking for a missing favicon is expected. */
const step = (name, needs, body, { expectConsole = [] } = {}) =>
  anyStep(name, needs, body, { expectConsole: [FAVICON_NOT_FOUND, ...expectConsole] });

/** The visible text of the page, on one line. */
const pageText = async () => (await page.locator('body').innerText()).replace(/\s+/g, ' ').trim();

/** The cookie `name` the page's browser keeps for gatehouse. */
const cookieOf = async (name) => (await page.context().cookies(PAGE)).find((c) => c.name === name);

/** A new tab in a new browser (its own cookies), in English, watched for console errors. */
async function newPage(options = {}) {
  const context = await browser.newContext({ locale: 'en-US', ...options });
  const tab = await context.newPage();
  watchConsole(tab);
  return tab;
}

/**
 * Every answer to the tab's top-level navigations from now on, redirects included, in order:
 * method, URL, status, Location, Set-Cookie lines, and the form a POST sent.
 */
function recordHops(tab) {
  const hops = [];
  const pending = [];
  const onResponse = (response) => {
    const request = response.request();
    if (!request.isNavigationRequest() || request.frame() !== tab.mainFrame()) return;
    const hop = { method: request.method(), url: response.url(), status: response.status(), postData: request.postData() };
    hops.push(hop);
    pending.push(
      Promise.all([response.headerValue('location'), response.headerValues('set-cookie'), response.headerValue('refresh')]).then(
        ([location, cookies, refresh]) => Object.assign(hop, { location, cookies, refresh }),
        () => Object.assign(hop, { location: null, cookies: [], refresh: null }),
      ),
    );
  };
  tab.on('response', onResponse);
  return {
    hops,
    async settled() {
      await Promise.all(pending);
      return hops;
    },
    stop: () => tab.off('response', onResponse),
    describe: () => hops.map((h) => `${h.method} ${h.url} -> ${h.status}${h.location ? ` ${h.location}` : ''}`).join('\n  '),
  };
}

/** The hop that matches, or a failure listing them all. */
function hop(record, what, matches) {
  const found = record.hops.find(matches);
  assert.ok(found, `no ${what} among the browser's navigations:\n  ${record.describe() || '(none)'}`);
  return found;
}

/**
 * Runs `action` (a click that starts a navigation) and waits for the tab to be at `url` exactly
 * (or, given `{ what, test }`, at an address `test` accepts). Failing, says where the tab is,
 * how it got there and what the browser blocked on the way: it stops waiting as soon as the
 * browser reports a Content-Security-Policy violation.
 */
async function landsAt(url, record, action, ms = 20_000) {
  const blocked = [];
  const onConsole = (message) => {
    if (/Content.Security.Policy/i.test(message.text())) blocked.push(message.text().trim());
  };
  page.on('console', onConsole);
  try {
    await action();
    const deadline = Date.now() + ms;
    const there = typeof url === 'string' ? () => page.url() === url : () => url.test(page.url());
    while (!there()) {
      if (blocked.length > 0 || Date.now() > deadline) {
        const shown = await pageText().catch(() => '(nothing readable)');
        throw new Error(
          `the browser should end at ${url.what ?? url}; ` +
            `${blocked.length > 0 ? 'the browser blocked a navigation, and' : `after ${ms / 1000} s`} ` +
            `it is at ${page.url()}, showing "${shown.slice(0, 300)}"` +
            `${blocked.length > 0 ? `; the browser says: ${blocked.join(' | ')}` : ''}` +
            `; its navigations:\n  ${record.describe() || '(none)'}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    page.off('console', onConsole);
  }
}

/** The address-first form's submit button. */
const loginButton = () => page.locator('form:has(#login) button[type="submit"]');

async function expectLoggedInPage(email) {
  await page.goto(`${PAGE}/login`);
  const text = await pageText();
  assert.ok(text.includes(`You are logged in as ${email}.`), `gatehouse's /login says: "${text}"`);
}

// ------------------------------------------------------------------------------------------

async function main() {
  for (const file of await readdir(SHOTS).catch(() => [])) {
    if (/^sso-.*\.png$/.test(file)) await rm(path.join(SHOTS, file));
  }
  mkdirSync(SHOTS, { recursive: true });
  // A directory given is the caller's to keep or remove; one made here goes unless kept.
  const given = Boolean(process.env.GATEHOUSE_E2E_WORK);
  const work = process.env.GATEHOUSE_E2E_WORK || (await mkdtemp(path.join(os.tmpdir(), 'gatehouse-sso-')));
  mkdirSync(work, { recursive: true });
  const tidy = async () => {
    if (given) return;
    if (process.env.GATEHOUSE_E2E_KEEP === '1') {
      console.log(`kept ${work} (gh.db, gatehouse.log, idp.log)`);
    } else {
      await rm(work, { recursive: true, force: true });
    }
  };

  const began = Date.now();
  const dns = await startDns();
  const app = await startApp();
  let idp;
  try {
    [idp] = await Promise.all([startIdp(work), startGatehouse(work, dns, app)]);
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

for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    stopAll().finally(() => process.exit(status));
  });
}

runTest('SSO test', main);
