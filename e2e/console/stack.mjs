// What the browser tests that bring up their own stack share (sso.test.mjs, org.test.mjs): free
// ports, a DNS server answering TXT records, the app a login goes on to, gatehouse and the SAML
// identity provider (e2e/saml/idp_server.py) as child processes with their logs, and what a
// test reads of a tab's navigations.
//
// It imports nothing of harness.mjs, which reads the API's address when imported: a test first
// takes a port for its gatehouse (`ownGatehouse`), then imports the harness.

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

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A TCP port free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port for the test's own gatehouse, made the harness's API address (GATEHOUSE_E2E_BASE):
 * call it before importing harness.mjs. Returns the port, the API's address (127.0.0.1) and the
 * pages' (gatehouse's public URL, localhost).
 */
export async function ownGatehouse() {
  const port = await freePort();
  process.env.GATEHOUSE_E2E_BASE = `http://127.0.0.1:${port}`;
  return { port, base: `http://127.0.0.1:${port}`, page: `http://localhost:${port}` };
}

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

export async function startDns() {
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

export async function startApp() {
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
export function start(name, command, args, { env, cwd, log, stdout = 'log' }) {
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd] });
  closeSync(fd);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (error) => console.error(`${name}: ${error.message}`));
  children.push({ name, child, log });
  return child;
}

export async function stopAll() {
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

export function showLogs() {
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

/** Stops what was started when the test is interrupted, with the shell's status for the signal. */
export function stopOnSignals() {
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
    process.on(signal, () => {
      stopAll().finally(() => process.exit(status));
    });
  }
}

/** gatehouse's environment: ours, less every setting of gatehouse's, plus `settings`. */
export function gatehouseEnv(settings) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)/.test(name)) env[name] = value;
  }
  return { ...env, ...settings };
}

export function runnable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `gatehouse serve` (the binary `bin`) on 127.0.0.1:`port`, public URL http://localhost:`port`,
 * with a fresh SQLite database in `work` (its working directory too, so that no .env or
 * gatehouse.toml of the clone is read), rate limits off, and `settings` besides; resolves once
 * /readyz answers 200.
 */
export async function startGatehouse({ bin, port, work, settings }) {
  assert.ok(
    runnable(bin),
    `no gatehouse binary at ${bin}: build it first (cargo build --release --locked) or set GATEHOUSE_E2E_BIN`,
  );
  const child = start('gatehouse', bin, ['serve'], {
    cwd: work,
    log: path.join(work, 'gatehouse.log'),
    env: gatehouseEnv({
      GATEHOUSE_BIND: `127.0.0.1:${port}`,
      GATEHOUSE_PUBLIC_URL: `http://localhost:${port}`,
      GATEHOUSE_DATABASE_URL: `sqlite://${work}/gh.db`,
      GATEHOUSE_RATE_LIMIT: 'off',
      GATEHOUSE_LOG: 'info',
      ...settings,
    }),
  });
  const ready = `http://127.0.0.1:${port}/readyz`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('gatehouse exited before it was ready');
    const up = await fetch(ready).then((r) => r.status === 200, () => false);
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`${ready} did not answer 200 within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The identity provider (run with `python`), logging in `email` with the attributes `attrs`
 * (`NAME=VALUE`); what its ready line says (url, metadata_url, sso_url, entity_id).
 */
export async function startIdp({ python, work, email, attrs = [] }) {
  assert.ok(runnable(python), `no python at ${python}: run e2e/saml/setup.sh (or set GATEHOUSE_E2E_SAML_PYTHON)`);
  const script = path.join(repo, 'e2e/saml/idp_server.py');
  const child = start('the identity provider', python, [script, '--email', email, ...attrs.flatMap((a) => ['--attr', a])], {
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

/**
 * Where a test keeps its database and logs, and its screenshots' directory emptied of its own
 * (`prefix`NN-…png). GATEHOUSE_E2E_WORK names a directory (made if missing, left as it is);
 * else a temporary one `tmpPrefix`…, removed by `tidy` unless GATEHOUSE_E2E_KEEP=1.
 */
export async function workDir(shots, prefix, tmpPrefix) {
  const mine = new RegExp(`^${prefix}.*\\.png$`);
  for (const file of await readdir(shots).catch(() => [])) {
    if (mine.test(file)) await rm(path.join(shots, file));
  }
  mkdirSync(shots, { recursive: true });
  // A directory given is the caller's to keep or remove; one made here goes unless kept.
  const given = Boolean(process.env.GATEHOUSE_E2E_WORK);
  const work = process.env.GATEHOUSE_E2E_WORK || (await mkdtemp(path.join(os.tmpdir(), tmpPrefix)));
  mkdirSync(work, { recursive: true });
  const tidy = async () => {
    if (given) return;
    if (process.env.GATEHOUSE_E2E_KEEP === '1') {
      console.log(`kept ${work} (gh.db, gatehouse.log, idp.log)`);
    } else {
      await rm(work, { recursive: true, force: true });
    }
  };
  return { work, tidy };
}

// ------------------------------------------------------------------------------------------
// The browser

// gatehouse's pages name no icon; the browser asks for /favicon.ico, which gatehouse answers
// with 204 (an older binary with 404, which is no error of the page's).
export const FAVICON_NOT_FOUND = /status of 404 .*\/favicon\.ico\]$/;

/** The visible text of the page, on one line. */
export const pageText = async (page) => (await page.locator('body').innerText()).replace(/\s+/g, ' ').trim();

/**
 * Every answer to the tab's top-level navigations from now on, redirects included, in order:
 * method, URL, status, Location, Set-Cookie lines, and the form a POST sent.
 */
export function recordHops(tab) {
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
export function hop(record, what, matches) {
  const found = record.hops.find(matches);
  assert.ok(found, `no ${what} among the browser's navigations:\n  ${record.describe() || '(none)'}`);
  return found;
}

/**
 * Runs `action` (a click that starts a navigation) and waits for the tab `page` to be at `url`
 * exactly (or, given `{ what, test }`, at an address `test` accepts). Failing, says where the
 * tab is, how it got there and what the browser blocked on the way: it stops waiting as soon as
 * the browser reports a Content-Security-Policy violation.
 */
export async function landsAt(page, url, record, action, ms = 20_000) {
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
        const shown = await pageText(page).catch(() => '(nothing readable)');
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

/** The hosted login page's address-first form's submit button. */
export const loginButton = (page) => page.locator('form:has(#login) button[type="submit"]');

/** gatehouse's /login (at `origin`) says this browser is logged in as `email`. */
export async function expectLoggedInPage(page, origin, email) {
  await page.goto(`${origin}/login`);
  const text = await pageText(page);
  assert.ok(text.includes(`You are logged in as ${email}.`), `gatehouse's /login says: "${text}"`);
}
