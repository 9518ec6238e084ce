// gatehouse's webhooks against real receivers (loopback HTTP servers in this process), with the
// release binary at its default settings (see run.sh for the few it sets, and why):
//
//   1. every request verifies with the Standard Webhooks reference library (npm standardwebhooks),
//      and does not once its body, id or timestamp is altered, or under another endpoint's secret;
//   2. exactly the committed changes arrive, each account's in the order of its changes, while
//      three accounts change at once; refused changes (409, 422) are never told of;
//   3. a receiver that answers 503, or is not listening at all, gets the same event (same
//      webhook-id, same body) on the retry 5 s later, and the delivery log shows both attempts;
//   4. kill -9 of gatehouse while a delivery is in flight loses nothing: after a restart on the
//      same database, the delivery goes again once its claim (30 s) runs out, with the same
//      webhook-id, before that account's later events; everything written before the kill
//      arrives, and so does everything after the restart;
//   5. a replay sends a delivered event again with the same webhook-id and body.
//
// The tests start gatehouse themselves (test 4 kills and restarts it) and stop it with SIGTERM at
// the end, which must exit 0. Run them with run.sh, which passes:
//   GATEHOUSE_WEBHOOKS_BIN   the gatehouse binary
//   GATEHOUSE_WEBHOOKS_WORK  an empty directory: the SQLite database, gatehouse.log (JSON lines,
//                            the emails among them) and gatehouse.pid (for run.sh's clean-up)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Webhook, WebhookVerificationError } from 'standardwebhooks';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests with e2e/webhooks/run.sh`);
  return value;
}

const BIN = required('GATEHOUSE_WEBHOOKS_BIN');
const WORK = required('GATEHOUSE_WEBHOOKS_WORK');
const LOG = path.join(WORK, 'gatehouse.log');
const PID_FILE = path.join(WORK, 'gatehouse.pid');
const ADMIN = { email: 'admin@example.com', password: `webhook tests ${randomBytes(8).toString('hex')} admin` };
const ALL = ['user.created', 'user.activated', 'user.updated', 'user.deleted', 'user.login',
  'user.password_changed', 'user.mfa_changed', 'session.revoked', 'identity.linked'];
/** gatehouse's lease on a claimed delivery, and its first retry delay (src/webhooks/delivery.rs). */
const LEASE_MS = 30_000;
const FIRST_RETRY_MS = 5_000;

let port;
let base;
let adminToken;

// ------------------------------------------------------------------------------------------
// Small tools

/** A port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
}

/**
 * Polls `probe` every 50 ms until it returns a truthy value, for at most `ms`; then fails
 * naming `what`, with `detail()` (the state that was waited on) in the message.
 */
async function until(what, probe, { ms = 15_000, detail } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${ms / 1000} s waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    }
    await sleep(50);
  }
}

/** One API call; `json` is the parsed answer (null when empty). */
async function call(method, urlPath, { token = adminToken, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const answer = await fetch(base + urlPath, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the text is in the message of whatever assertion looks at it
  }
  return { status: answer.status, json, text };
}

/** Asserts the status of an answer, showing its body when it is not the one expected. */
function expectStatus(answer, status, what) {
  assert.equal(answer.status, status, `${what}: ${answer.status} ${answer.text}`);
  return answer.json;
}

// ------------------------------------------------------------------------------------------
// gatehouse

const gatehouse = {
  child: null,
  exited: null,

  /** Starts `gatehouse serve` on the test's port and database; resolves once /readyz says 200. */
  async start() {
    // None of our environment's gatehouse settings but these: the guarantees are proved at
    // the defaults (see run.sh for why each of these is set).
    const env = Object.fromEntries(Object.entries(process.env).filter(
      ([name]) => !name.startsWith('GATEHOUSE_') && name !== 'DATABASE_URL' && name !== 'REDIS_URL'));
    Object.assign(env, {
      GATEHOUSE_DATABASE_URL: `sqlite://${WORK}/gatehouse.db`,
      GATEHOUSE_BIND: `127.0.0.1:${port}`,
      GATEHOUSE_PUBLIC_URL: base,
      GATEHOUSE_LOG_FORMAT: 'json',
      GATEHOUSE_ADMIN_EMAIL: ADMIN.email,
      GATEHOUSE_ADMIN_PASSWORD: ADMIN.password,
      GATEHOUSE_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    const log = openSync(LOG, 'a');
    const child = spawn(BIN, ['serve'], { cwd: WORK, env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    writeFileSync(PID_FILE, `${child.pid}\n`);
    await until('gatehouse to answer 200 on /readyz', async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        assert.fail(`gatehouse exited (${child.exitCode ?? child.signalCode}) before it was ready; see ${LOG}`);
      }
      try {
        return (await fetch(`${base}/readyz`)).status === 200;
      } catch {
        return false;
      }
    }, { ms: 30_000 });
  },

  running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  },

  /** Sends `signal` and waits (at most `ms`) for the process to end; answers how it ended. */
  async stop(signal, ms = 15_000) {
    const { child, exited } = this;
    child.kill(signal);
    const ended = await Promise.race([exited, sleep(ms).then(() => null)]);
    if (ended === null) {
      child.kill('SIGKILL');
      await exited;
      assert.fail(`gatehouse did not stop within ${ms / 1000} s of ${signal}`);
    }
    this.child = null;
    rmSync(PID_FILE, { force: true });
    return ended;
  },
};

// ------------------------------------------------------------------------------------------
// Receivers

/**
 * A webhook receiver: an HTTP server on loopback that records every request (headers, the
 * body's exact text, when it came) and answers what `respond(request, receiver)` says: a status,
 * or null to hold the request open and never answer it.
 */
class Receiver {
  constructor(respond = () => 204) {
    this.respond = respond;
    this.got = [];
    this.held = [];
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(body);
        } catch {
          // kept as null: the tests' assertions on the body say what was wrong
        }
        const request = { at: Date.now(), method: req.method, url: req.url, headers: req.headers,
          id: req.headers['webhook-id'], body, json };
        this.got.push(request);
        const status = this.respond(request, this);
        if (status === null) {
          this.held.push(res);
        } else {
          res.writeHead(status, { 'content-length': '0' }).end();
        }
      });
    });
    // Longer than gatehouse's HTTP client keeps an idle connection (90 s), so that it never
    // sends a delivery on a connection this server is just closing.
    this.server.keepAliveTimeout = 120_000;
  }

  async listen(onPort = 0) {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(onPort, '127.0.0.1', resolve);
    });
    this.url = `http://127.0.0.1:${this.server.address().port}/hooks`;
    return this;
  }

  /** The requests about one account, in the order they came. */
  of(accountId) {
    return this.got.filter((r) => r.json?.data?.account?.id === accountId);
  }

  summary() {
    return `the receiver got ${this.got.length}:\n${this.got.map((r) =>
      `  ${r.id} ${r.json?.type} ${r.json?.data?.account?.email} name=${r.json?.data?.account?.name}`).join('\n')}`;
  }

  async close() {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Registers an endpoint; the answer, with its `secret`. Removed again when `t` ends. */
async function register(t, url, events = ALL) {
  const made = expectStatus(await call('POST', '/admin/webhooks', { body: { url, events } }), 201, 'POST /admin/webhooks');
  assert.match(made.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  assert.deepEqual([made.url, made.events, made.enabled], [url, events, true]);
  t.after(async () => {
    if (gatehouse.running()) await call('DELETE', `/admin/webhooks/${made.id}`);
  });
  return made;
}

/** The whole delivery log of an endpoint, newest first, following `next_cursor`. */
async function deliveryLog(endpoint, query = '') {
  const all = [];
  let cursor = null;
  for (let page = 0; page < 100; page++) {
    const at = `/admin/webhooks/${endpoint.id}/deliveries?limit=50${query}${cursor ? `&cursor=${cursor}` : ''}`;
    const answer = expectStatus(await call('GET', at), 200, `GET ${at}`);
    all.push(...answer.deliveries);
    cursor = answer.next_cursor;
    if (!cursor) return all;
  }
  assert.fail('the delivery log did not end within 100 pages');
}

function showLog(log) {
  return `the delivery log:\n${log.map((d) =>
    `  ${d.id} ${d.type} ${d.status} attempts=${d.attempts} last=${d.last_response_status} ${d.last_error ?? ''}`).join('\n')}`;
}

/** Waits until the log holds `count` deliveries and every one is delivered; answers the log. */
async function allDelivered(endpoint, count, ms = 20_000) {
  let log = [];
  return until(`${count} deliveries, all delivered`, async () => {
    log = await deliveryLog(endpoint);
    return log.length === count && log.every((d) => d.status === 'delivered') && log;
  }, { ms, detail: () => showLog(log) });
}

/**
 * Every request verifies under `secret` with the reference library and gives back its body; a
 * signature header of the scheme's form, a current timestamp, JSON.
 */
function assertSigned(requests, secret) {
  const hooks = new Webhook(secret);
  for (const r of requests) {
    const payload = hooks.verify(r.body, r.headers);
    assert.deepEqual(payload, JSON.parse(r.body));
    assert.match(r.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/, 'one v1 signature: a base64 HMAC-SHA256');
    assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7 webhook-id');
    const age = r.at / 1000 - Number(r.headers['webhook-timestamp']);
    assert.ok(age > -2 && age < 5, `webhook-timestamp is the attempt's time (${age.toFixed(1)} s off)`);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.method, 'POST');
  }
}

// ------------------------------------------------------------------------------------------
// Accounts

const PASSWORD = `orchard ${randomBytes(6).toString('hex')} lantern`;

function freshEmail(label) {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}

/** `POST /user`: a pending account. */
async function signUp(email) {
  return expectStatus(await call('POST', '/user', { token: null, body: { email, password: PASSWORD } }), 201, `sign-up of ${email}`);
}

/** The link of the last email of `kind` to `to` that gatehouse wrote to its log (JSON lines). */
async function emailedLink(to, kind) {
  return until(`a ${kind} email to ${to} in ${LOG}`, () => {
    let link = null;
    for (const line of readFileSync(LOG, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.to !== to || entry.kind !== kind || typeof entry.message !== 'string') continue;
      const found = /^(https?:\/\/\S+\?token=\S+)$/m.exec(entry.message);
      if (found) link = new URL(found[1]);
    }
    return link;
  }, { ms: 10_000 });
}

/** Follows the emailed activation link: the account is active. */
async function activate(email) {
  const link = await emailedLink(email, 'activation');
  const answer = await fetch(base + link.pathname + link.search, { headers: { accept: 'application/json' } });
  const text = await answer.text();
  assert.equal(answer.status, 200, `the activation link of ${email}: ${answer.status} ${text}`);
  assert.equal(JSON.parse(text).user.status, 'active');
}

async function logIn(email, password = PASSWORD) {
  return expectStatus(await call('POST', '/auth', { token: null, body: { email, password } }), 200, `login of ${email}`).access_token;
}

// ------------------------------------------------------------------------------------------

before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await gatehouse.start();
  adminToken = await logIn(ADMIN.email, ADMIN.password);
});

after(async () => {
  // Only when a test failed before the last one stopped it.
  if (gatehouse.running()) await gatehouse.stop('SIGKILL');
});

test('every request verifies with the reference library, and no altered one does', async (t) => {
  const a = await new Receiver().listen();
  const b = await new Receiver().listen();
  t.after(() => Promise.all([a.close(), b.close()]));
  const endpointA = await register(t, a.url, ['user.created']);
  const endpointB = await register(t, b.url, ['user.created']);
  assert.notEqual(endpointA.secret, endpointB.secret);

  const account = await signUp(freshEmail('sig'));
  await until('the event at both receivers', () => a.got.length === 1 && b.got.length === 1);
  const logA = await allDelivered(endpointA, 1);

  for (const [receiver, mine, other] of [[a, endpointA, endpointB], [b, endpointB, endpointA]]) {
    const [got] = receiver.got;
    assertSigned([got], mine.secret);
    const hooks = new Webhook(mine.secret);
    const payload = hooks.verify(got.body, got.headers);
    assert.equal(payload.type, 'user.created');
    assert.deepEqual(payload.data.account, account, 'the account as the API showed it at sign-up');
    assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const refused = (body, headers, why) =>
      assert.throws(() => hooks.verify(body, headers), WebhookVerificationError, why);
    refused(got.body.replace(account.email, 'mallory@example.com'), got.headers, 'another address in the body');
    refused(got.body.replace('"user.created"', '"user.deleted"'), got.headers, 'another event type');
    refused(JSON.stringify(JSON.parse(got.body), null, 1), got.headers, 'the same JSON in other bytes');
    refused(got.body, { ...got.headers, 'webhook-id': randomUUID() }, 'another webhook-id');
    refused(got.body, { ...got.headers, 'webhook-timestamp': String(Number(got.headers['webhook-timestamp']) - 1) },
      'another timestamp');
    assert.throws(() => new Webhook(other.secret).verify(got.body, got.headers), WebhookVerificationError,
      "another endpoint's secret");
  }
  assert.equal(a.got[0].id, logA[0].id, 'webhook-id is the id in the delivery log');
  assert.equal(Date.parse(a.got[0].json.timestamp), Date.parse(logA[0].occurred_at), 'timestamp is when it happened');
  assert.deepEqual([logA[0].attempts, logA[0].last_response_status, logA[0].last_error], [1, 204, null]);
});

test('exactly the committed changes arrive, each account in the order of its changes', async (t) => {
  const receiver = await new Receiver().listen();
  t.after(() => receiver.close());
  const endpoint = await register(t, receiver.url);
  const ROUNDS = 15;

  const people = ['ann', 'bob', 'cy'].map((label) => ({ label, email: freshEmail(label) }));
  for (const p of people) p.account = await signUp(p.email);
  // Refused: a taken address.
  expectStatus(await call('POST', '/user', { token: null, body: { email: people[0].email, password: PASSWORD } }),
    409, 'sign-up with a taken address');
  for (const p of people) await activate(p.email);
  for (const p of people) p.token = await logIn(p.email);
  for (let round = 1; round <= ROUNDS; round++) {
    // The three accounts' changes at once; each account's one after the other.
    await Promise.all(people.map(async (p) => {
      const changed = expectStatus(
        await call('PATCH', '/user', { token: p.token, body: { name: `${p.label} ${round}` } }), 200, 'PATCH /user');
      assert.equal(changed.name, `${p.label} ${round}`);
    }));
    if (round === 8) {
      // Refused: an invalid username, a name too long. Neither may be told of.
      expectStatus(await call('PATCH', '/user', { token: people[1].token, body: { username: '!' } }), 422, 'a bad username');
      expectStatus(await call('PATCH', '/user', { token: people[2].token, body: { name: 'x'.repeat(201) } }), 422,
        'a long name');
    }
  }
  for (const p of people) p.shown = expectStatus(await call('GET', '/user', { token: p.token }), 200, 'GET /user');
  for (const p of people) expectStatus(await call('DELETE', '/auth', { token: p.token }), 204, 'logout');

  const expected = (p) => [
    ['user.created', null], ['user.activated', null], ['user.login', null],
    ...Array.from({ length: ROUNDS }, (_, n) => ['user.updated', `${p.label} ${n + 1}`]),
    ['session.revoked', `${p.label} ${ROUNDS}`],
  ];
  const committed = people.length * expected(people[0]).length;
  // One account's deliveries go one at a time, about one a second: allow 2 s each.
  await until(`${committed} requests`, () => receiver.got.length >= committed,
    { ms: 2_000 * expected(people[0]).length, detail: () => receiver.summary() });
  const log = await allDelivered(endpoint, committed);
  const spread = receiver.got.at(-1).at - receiver.got[0].at;
  t.diagnostic(`${committed} deliveries in ${spread} ms (one account's go one at a time)`);

  assert.equal(receiver.got.length, committed, `nothing but the committed changes, each once\n${receiver.summary()}`);
  assert.equal(new Set(receiver.got.map((r) => r.id)).size, committed, 'a webhook-id of its own for each change');
  assert.deepEqual(new Set(log.map((d) => d.id)), new Set(receiver.got.map((r) => r.id)), 'what came is what the log holds');
  for (const p of people) {
    const got = receiver.of(p.account.id);
    assert.deepEqual(got.map((r) => [r.json.type, r.json.data.account.name]), expected(p),
      `${p.label}'s events in the order of the changes`);
    // The log's order (its ids are UUIDv7: the order the changes were written) is the order of arrival.
    const written = log.filter((d) => d.account_id === p.account.id).map((d) => d.id).reverse();
    assert.deepEqual(got.map((r) => r.id), written);
    assert.deepEqual(got.at(-2).json.data.account, p.shown, 'the account as GET /user shows it after the change');
    assert.equal(got.at(-1).json.data.reason, 'logout');
    assert.match(got[2].json.data.session_id, /^[0-9a-f-]{36}$/);
  }
  assertSigned(receiver.got, endpoint.secret);
});

test('a receiver that answers 503 gets the same event again 5 s later', async (t) => {
  const receiver = await new Receiver((_, { got }) => (got.length === 1 ? 503 : 204)).listen();
  t.after(() => receiver.close());
  const endpoint = await register(t, receiver.url, ['user.created']);
  const account = await signUp(freshEmail('flaky'));

  const first = await until('the first attempt', () => receiver.got[0]);
  let log = [];
  const refused = await until('the log to show the 503', async () => {
    log = await deliveryLog(endpoint);
    return log[0]?.status === 'queued' && log[0].attempts === 1 && log[0];
  }, { detail: () => showLog(log) });
  assert.equal(refused.id, first.id);
  assert.equal(refused.last_response_status, 503);
  assert.match(refused.last_error, /503/);
  const due = Date.parse(refused.next_attempt_at) - first.at;
  assert.ok(due > FIRST_RETRY_MS - 1_000 && due < FIRST_RETRY_MS + 2_000, `the retry is due 5 s later, not ${due} ms`);

  const second = await until('the retry', () => receiver.got[1], { ms: FIRST_RETRY_MS + 10_000 });
  assert.equal(second.id, first.id, 'the same webhook-id');
  assert.equal(second.body, first.body, 'the same body');
  assert.equal(second.json.data.account.id, account.id);
  t.diagnostic(`the retry came ${second.at - first.at} ms after the 503`);
  assert.ok(second.at - first.at >= FIRST_RETRY_MS - 500, `the retry came ${second.at - first.at} ms after the first`);
  assert.ok(second.at >= Date.parse(refused.next_attempt_at) - 200, 'not before it was due');
  const [delivered] = await allDelivered(endpoint, 1);
  assert.deepEqual([delivered.attempts, delivered.last_response_status, delivered.last_error], [2, 204, null]);
  assert.ok(delivered.delivered_at);
  assert.equal(receiver.got.length, 2, receiver.summary());
  assertSigned(receiver.got, endpoint.secret);
});

test('a receiver that is not listening gets the event once it is', async (t) => {
  const closed = await freePort();
  const endpoint = await register(t, `http://127.0.0.1:${closed}/hooks`, ['user.created']);
  const account = await signUp(freshEmail('down'));

  let log = [];
  const refused = await until('the log to show the refused connection', async () => {
    log = await deliveryLog(endpoint);
    return log[0]?.status === 'queued' && log[0].attempts === 1 && log[0];
  }, { detail: () => showLog(log) });
  assert.equal(refused.last_response_status, null);
  assert.ok(refused.last_error, 'the log says why');
  assert.equal(refused.account_id, account.id);

  const receiver = await new Receiver().listen(closed);
  t.after(() => receiver.close());
  const got = await until('the event at the receiver that came up', () => receiver.got[0], { ms: FIRST_RETRY_MS + 10_000 });
  assert.equal(got.id, refused.id, 'the same webhook-id');
  assert.equal(got.json.type, 'user.created');
  assert.deepEqual(got.json.data.account, account);
  assert.ok(got.at >= Date.parse(refused.next_attempt_at) - 200, 'not before it was due');
  const [delivered] = await allDelivered(endpoint, 1);
  assert.deepEqual([delivered.attempts, delivered.last_response_status, delivered.last_error], [2, 204, null]);
  assert.equal(receiver.got.length, 1, receiver.summary());
  assertSigned(receiver.got, endpoint.secret);
});

test('a replay sends a delivered event again with the same webhook-id and body', async (t) => {
  const receiver = await new Receiver().listen();
  t.after(() => receiver.close());
  const endpoint = await register(t, receiver.url, ['user.created']);
  await signUp(freshEmail('replay'));
  const [delivered] = await allDelivered(endpoint, 1);
  await until('the event', () => receiver.got.length === 1);

  const at = `/admin/webhooks/${endpoint.id}/deliveries/${delivered.id}/replay`;
  const replayed = expectStatus(await call('POST', at), 202, `POST ${at}`);
  assert.deepEqual([replayed.id, replayed.status, replayed.attempts, replayed.last_response_status],
    [delivered.id, 'queued', 0, null]);
  const again = await until('the replay', () => receiver.got[1]);
  assert.equal(again.id, delivered.id, 'the same webhook-id');
  assert.equal(again.body, receiver.got[0].body, 'the same body');
  const [settled] = await allDelivered(endpoint, 1);
  assert.deepEqual([settled.attempts, settled.last_response_status], [1, 204]);
  assert.equal(receiver.got.length, 2, receiver.summary());
  assertSigned(receiver.got, endpoint.secret);

  const unknown = `/admin/webhooks/${endpoint.id}/deliveries/${randomUUID()}/replay`;
  expectStatus(await call('POST', unknown), 404, 'a replay of no delivery');
});

test('kill -9 while a delivery is in flight loses nothing', async (t) => {
  // The first request about each held account is held open, never answered, until the kill.
  let holding = true;
  const heldEmails = new Set([freshEmail('held-a'), freshEmail('held-b')]);
  const receiver = await new Receiver((r) => (holding && heldEmails.has(r.json?.data?.account?.email) ? null : 204))
    .listen();
  t.after(() => receiver.close());
  const endpoint = await register(t, receiver.url);

  const [heldA, heldB] = [await signUp([...heldEmails][0]), await signUp([...heldEmails][1])];
  const free = await signUp(freshEmail('free'));
  const [inFlightA, inFlightB] = await until('both held deliveries in flight', () => {
    const [a, b] = [receiver.of(heldA.id)[0], receiver.of(heldB.id)[0]];
    return a && b && [a, b];
  }, { detail: () => receiver.summary() });
  await until('the free account’s event, which the held ones do not hold up', () => receiver.of(free.id).length === 1);

  // Changes made before the kill: queued behind the held deliveries, or the free account's.
  const names = { [heldA.id]: [], [heldB.id]: [], [free.id]: [] };
  for (let n = 1; n <= 2; n++) {
    for (const account of [heldA, heldB, free]) {
      const name = `before ${n}`;
      expectStatus(await call('PATCH', `/user/${account.id}`, { body: { name } }), 200, 'PATCH /user/{id}');
      names[account.id].push(name);
    }
  }
  // The free account's changes go out at once: wait until its receiver has them all, so that
  // none is claimed but unsent at the kill (its lane would wait out the lease after the restart).
  await until('the free account’s changes, which the held ones do not hold up',
    () => receiver.of(free.id).length === 1 + names[free.id].length, { detail: () => receiver.summary() });
  // One may still be read as `sending` in the moment between its answer and its settlement:
  // wait (briefly) until only the held two are.
  const held = [inFlightA.id, inFlightB.id].sort();
  const onlyHeldSending = (log) => JSON.stringify(log.filter((d) => d.status === 'sending').map((d) => d.id).sort());
  let beforeKill = await deliveryLog(endpoint);
  const settledAt = Date.now() + 3_000;
  while (onlyHeldSending(beforeKill) !== JSON.stringify(held) && Date.now() < settledAt) {
    await sleep(50);
    beforeKill = await deliveryLog(endpoint);
  }
  const inFlight = beforeKill.filter((d) => d.status === 'sending').map((d) => d.id).sort();
  assert.deepEqual(inFlight, held, `the held deliveries are in flight\n${showLog(beforeKill)}`);
  // gatehouse gives up an attempt after 10 s; the kill must come while it still waits.
  const waited = Date.now() - Math.min(inFlightA.at, inFlightB.at);
  assert.ok(waited < 8_000, `the kill comes ${waited} ms after the held deliveries, too late to be mid-delivery`);
  assert.equal(receiver.held.length, 2, 'two answers held');

  const { signal } = await gatehouse.stop('SIGKILL');
  assert.equal(signal, 'SIGKILL');
  const killedAt = Date.now();
  holding = false;
  for (const res of receiver.held.splice(0)) res.destroy();
  await gatehouse.start();

  // After the restart: more changes, and a new account.
  for (const account of [heldA, free]) {
    expectStatus(await call('PATCH', `/user/${account.id}`, { body: { name: 'after' } }), 200, 'PATCH /user/{id}');
    names[account.id].push('after');
  }
  const late = await signUp(freshEmail('late'));
  names[late.id] = [];
  await until('the events of accounts with nothing in flight, right after the restart', () =>
    receiver.of(free.id).some((r) => r.json.data.account.name === 'after') && receiver.of(late.id).length === 1,
  { ms: 15_000, detail: () => receiver.summary() });
  assert.equal(receiver.got.filter((r) => r.id === inFlightA.id || r.id === inFlightB.id).length, 2,
    'the held deliveries are not sent again before their claim runs out');

  const [againA, againB] = await until('the held deliveries, sent again once their claim ran out', () => {
    const [a, b] = [inFlightA, inFlightB].map((held) => receiver.got.find((r) => r.id === held.id && r !== held));
    return a && b && [a, b];
  }, { ms: Math.max(0, inFlightA.at + LEASE_MS + 15_000 - Date.now()), detail: () => receiver.summary() });
  for (const [first, again] of [[inFlightA, againA], [inFlightB, againB]]) {
    assert.equal(again.body, first.body, 'the same body');
    const after = again.at - first.at;
    t.diagnostic(`${first.json.data.account.email}'s first event sent again ${after} ms after the attempt killed`);
    assert.ok(after >= LEASE_MS - 2_000 && after <= LEASE_MS + 15_000,
      `sent again ${after} ms after the first attempt, the lease being ${LEASE_MS} ms`);
  }

  const expectedOf = (account) => [['user.created', null], ...names[account.id].map((n) => ['user.updated', n])];
  const accounts = [heldA, heldB, free, late];
  const total = accounts.reduce((sum, a) => sum + expectedOf(a).length, 0);
  const log = await allDelivered(endpoint, total);
  const received = new Set(receiver.got.map((r) => r.id));
  for (const d of beforeKill) {
    assert.ok(log.some((l) => l.id === d.id), `${d.type} ${d.id}, written before the kill, is still in the log`);
  }
  for (const d of log) assert.ok(received.has(d.id), `${d.type} ${d.id} arrived\n${receiver.summary()}`);
  assert.deepEqual(new Set(log.map((d) => d.account_id)), new Set(accounts.map((a) => a.id)),
    'nothing about other accounts (the restart changed nobody)');
  for (const held of [inFlightA, inFlightB]) {
    assert.equal(log.find((d) => d.id === held.id).attempts, 2, 'the killed attempt counts');
  }
  for (const account of accounts) {
    const got = receiver.of(account.id);
    // At least once: a repeat (the held ones) is recognised by its webhook-id.
    const firsts = got.filter((r, i) => got.findIndex((o) => o.id === r.id) === i);
    assert.deepEqual(firsts.map((r) => [r.json.type, r.json.data.account.name]), expectedOf(account),
      `${account.email}'s events in the order of its changes\n${receiver.summary()}`);
    const written = log.filter((d) => d.account_id === account.id).map((d) => d.id).reverse();
    assert.deepEqual(firsts.map((r) => r.id), written);
  }
  for (const again of [againA, againB]) {
    const account = again.json.data.account.id;
    const next = receiver.of(account).find((r) => r.json.type === 'user.updated');
    assert.ok(next.at >= again.at, `${again.json.data.account.email}'s later changes waited for its first event`);
  }
  assert.ok(againA.at > killedAt);
  assertSigned(receiver.got, endpoint.secret);
});

test('gatehouse stops cleanly on SIGTERM (exit 0)', async () => {
  assert.ok(gatehouse.running(), 'gatehouse is running at the end');
  const { code, signal } = await gatehouse.stop('SIGTERM');
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
});
