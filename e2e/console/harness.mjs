// What the browser tests of e2e/console share: their settings, the API from outside the
// browser, the steps (PASS, FAIL or SKIP, a screenshot after each) and the authenticator app.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

import { chromium } from 'playwright-core';

export function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`${name} is not set (see the top of ${path.basename(process.argv[1] || 'the test')})`);
    process.exit(2);
  }
  return value;
}

export const BASE = setting('GATEHOUSE_E2E_BASE').replace(/\/+$/, '');
export const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// ------------------------------------------------------------------------------------------
// The API, from outside the browser: for arranging and for checking what the page claims. Each
// call goes to BASE unless `base` names another server.

export async function call(method, urlPath, { token, body, contentType = 'application/json', base = BASE } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const response = await fetch(base + urlPath, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON; keep the text for the message
  }
  return { status: response.status, json, text };
}

export async function logInApi(email, password, base = BASE) {
  const answer = await call('POST', '/auth', { body: { email, password }, base });
  assert.equal(answer.status, 200, `POST /auth as ${email}: ${answer.status} ${answer.text}`);
  return answer.json;
}

// ------------------------------------------------------------------------------------------
// Steps

/** Empties (or makes) the screenshot directory; call once before the first step. */
export async function freshScreenshots(shots) {
  await mkdir(shots, { recursive: true });
  for (const file of await readdir(shots)) {
    if (file.endsWith('.png')) await rm(path.join(shots, file));
  }
}

/**
 * The step runner of one test: `step`, `until`, the message area and the console watch, for the
 * page `pageOf()` returns at the time. Screenshots go to `shots`, named `prefix` + number.
 */
export function steps(pageOf, shots, prefix = '') {
  const results = [];
  let current = null;
  const consoleErrors = [];

  /** Runs one step unless a step it needs did not pass; screenshots the page afterwards. */
  async function step(name, needs, body, { expectConsole = [] } = {}) {
    const number = prefix + String(results.length + 1).padStart(2, '0');
    const missing = needs.filter((n) => !results.some((r) => r.name === n && r.ok));
    if (missing.length > 0) {
      results.push({ name, ok: false, skipped: true });
      console.log(`SKIP ${number} ${name} (needs: ${missing.join('; ')})`);
      return;
    }
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    current = { name, expectConsole, csp: [] };
    const began = Date.now();
    let error = null;
    try {
      await body();
      if (current.csp.length > 0) {
        throw new Error(`Content-Security-Policy violations in the browser console:\n  ${current.csp.join('\n  ')}`);
      }
    } catch (e) {
      error = e;
    }
    current = null;
    const shot = path.join(shots, `${number}-${slug}${error ? '-FAILED' : ''}.png`);
    await pageOf()?.screenshot({ path: shot, fullPage: true }).catch(() => {});
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    results.push({ name, ok: !error, error });
    if (error) {
      console.log(`FAIL ${number} ${name} (${seconds} s): ${error.message}`);
    } else {
      console.log(`PASS ${number} ${name} (${seconds} s)`);
    }
  }

  function watchConsole(target) {
    target.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      const where = message.location()?.url || '';
      const entry = `${text}${where ? ` [${where}]` : ''}`;
      if (/Content.Security.Policy/i.test(text)) {
        (current?.csp ?? consoleErrors).push(entry);
      }
      if (current?.expectConsole.some((pattern) => pattern.test(entry))) return;
      consoleErrors.push(`${current ? `during "${current.name}": ` : ''}${entry}`);
    });
    target.on('pageerror', (error) => {
      consoleErrors.push(`${current ? `during "${current.name}": ` : ''}uncaught ${error.name}: ${error.message}`);
    });
  }

  /** Polls `probe` until it returns a truthy value, for at most `ms`; then fails with `what`. */
  async function until(what, probe, ms = 8000) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try {
        last = await probe();
        if (last) return last;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) {
        const shown = await messageText();
        throw new Error(`${what} (waited ${ms / 1000} s)${shown ? `; the page says: "${shown}"` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function messageText() {
    const page = pageOf();
    if (!page) return '';
    return page
      .locator('#message')
      .evaluate((box) => (box.hidden ? '' : box.textContent.trim()))
      .catch(() => '');
  }

  async function expectMessage(pattern) {
    await until(`the message area should match ${pattern}`, async () => pattern.test(await messageText()));
  }

  const visible = (selector) => pageOf().locator(selector).isVisible();

  /** The last step of a test: nothing unexpected reached the browser's console. */
  function consoleStayedClean() {
    return step('the browser console stayed clean', [], async () => {
      assert.equal(consoleErrors.length, 0, `errors in the browser console:\n  ${consoleErrors.join('\n  ')}`);
    });
  }

  /** Prints the tally; true when every step passed. */
  function finish() {
    const passed = results.filter((r) => r.ok).length;
    const failed = results.filter((r) => !r.ok && !r.skipped).length;
    const skipped = results.filter((r) => r.skipped).length;
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped; screenshots in ${shots}`);
    return failed + skipped === 0;
  }

  return { step, watchConsole, until, messageText, expectMessage, visible, consoleStayedClean, finish };
}

/** Debian's Chromium, headless, as the tests drive it. */
export function launchChromium(executablePath) {
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
}

/** Runs a test's `main` (true when every step passed) and exits with its status. */
export function runTest(what, main) {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (error) => {
      console.error(`${what} could not run: ${error.stack || error}`);
      process.exit(1);
    },
  );
}

// ------------------------------------------------------------------------------------------
// The authenticator app

/** The bytes of a base32 (RFC 4648, unpadded) TOTP secret. */
export function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(c);
    assert.ok(value >= 0, `not base32: ${c}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The authenticator app (RFC 6238: HMAC-SHA-1, 6 digits, 30 s): the code `offset` steps from now. */
export function totp(secret, offset) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
