// The person at the browser, for both MCP clients of run.sh: one headless Chromium (Debian's,
// driven by playwright-core; no browser is downloaded) whose one context keeps gatehouse's session
// cookie from one authorization to the next, as a person's browser does. A client hands it the
// authorization URL it would open; the browser logs in when gatehouse asks (the account run.sh
// made), allows on the consent page, and follows gatehouse's redirect to the client's loopback
// callback, which the client itself serves. Both clients (Python and Node) ask this one browser,
// over HTTP on 127.0.0.1:
//
//   POST /authorize {"url": AUTHORIZATION_URL, "callback": "http://127.0.0.1:PORT/callback"}
//     → 200 {"pages": ["login", "consent"] (what gatehouse showed, in order), "consent": the
//       consent page's text, "landed": the callback URL the browser reached, with its query}
//     → 500 {"error": …} when the browser did not reach the callback (a screenshot of the page
//       where it stopped is written to MCP_E2E_SHOTS)
//   POST /logout → the "Log out" button of gatehouse's /login page → 200 {"said": the page's text}
//
// Prints {"port": PORT} as its first line once it listens; runs until it is stopped.
// Environment: MCP_E2E_CHROMIUM (the browser), MCP_E2E_GATEHOUSE (gatehouse's URL), MCP_E2E_LOGIN
// and MCP_E2E_PASSWORD (the account), MCP_E2E_SHOTS (a directory for the failure screenshots).

import { createServer } from 'node:http';
import path from 'node:path';

import { chromium } from 'playwright-core';

function setting(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (see the top of browser.mjs)`);
    process.exit(2);
  }
  return value;
}

const CHROMIUM = setting('MCP_E2E_CHROMIUM');
const GATEHOUSE = new URL(setting('MCP_E2E_GATEHOUSE'));
const LOGIN = setting('MCP_E2E_LOGIN');
const PASSWORD = setting('MCP_E2E_PASSWORD');
const SHOTS = setting('MCP_E2E_SHOTS');
/** Each page of a flow must come within this long. */
const PAGE_TIMEOUT_MS = 10_000;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-proxy-server'],
});
const context = await browser.newContext({ locale: 'en-US' });
context.setDefaultTimeout(PAGE_TIMEOUT_MS);
const page = await context.newPage();
let failures = 0;

/** The page's visible text, in one line, for an answer or an error. */
async function text() {
  return (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').trim();
}

/** Clicks `button` and waits until the browser has loaded another address. */
async function clickAndLeave(button) {
  const before = page.url();
  await Promise.all([page.waitForURL((url) => url.href !== before, { waitUntil: 'load' }), button.click()]);
}

/** Walks an authorization request from `url` to the client's `callback`. */
async function authorize(url, callback) {
  const pages = [];
  let consent = '';
  await page.goto(url);
  for (let step = 0; step < 6; step += 1) {
    if (page.url().startsWith(callback)) return { pages, consent, landed: page.url() };
    const here = new URL(page.url());
    const allow = page.locator('form[action="consent"] button[name="decision"][value="allow"]');
    if (here.origin === GATEHOUSE.origin && here.pathname === '/login' && !pages.includes('login')) {
      pages.push('login');
      const form = page.locator('form:has(#password)');
      await form.locator('#login').fill(LOGIN);
      await form.locator('#password').fill(PASSWORD);
      await clickAndLeave(form.locator('button[type="submit"]'));
    } else if (here.origin === GATEHOUSE.origin && (await allow.count()) === 1) {
      pages.push('consent');
      consent = await text();
      await clickAndLeave(allow);
    } else {
      break;
    }
  }
  throw new Error(`the browser stopped at ${page.url()} after ${JSON.stringify(pages)}: "${(await text()).slice(0, 300)}"`);
}

/** Logs the person out with the "Log out" button of gatehouse's /login page. */
async function logOut() {
  await page.goto(new URL('/login', GATEHOUSE).href);
  const button = page.locator('form[action="logout"] button[type="submit"]');
  if ((await button.count()) !== 1) throw new Error(`no "Log out" button on /login: "${(await text()).slice(0, 300)}"`);
  await clickAndLeave(button);
  return { said: await text() };
}

/** One request at a time: there is one person and one page. */
let queue = Promise.resolve();

const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => { body += chunk; });
  request.on('end', () => {
    queue = queue.then(async () => {
      let status = 200;
      let answer;
      try {
        if (request.method === 'POST' && request.url === '/authorize') {
          const { url, callback } = JSON.parse(body);
          answer = await authorize(url, callback);
        } else if (request.method === 'POST' && request.url === '/logout') {
          answer = await logOut();
        } else {
          status = 404;
          answer = { error: `no ${request.method} ${request.url} here` };
        }
      } catch (error) {
        failures += 1;
        const shot = path.join(SHOTS, `browser-failure-${failures}.png`);
        await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        status = 500;
        answer = { error: `${error.message} (screenshot: ${shot})` };
      }
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer));
    });
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    browser.close().finally(() => process.exit(0));
  });
}
