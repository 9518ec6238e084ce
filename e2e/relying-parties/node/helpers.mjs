// What the relying-party tests (openid-client.test.mjs, device.test.mjs, exchange.test.mjs,
// registration.test.mjs, par.test.mjs, backchannel.test.mjs) share: the settings ../run.sh passes them, the
// checks (one `ok …` or `FAIL …` line each, a count per test, its last line `<label>: N passed,
// M failed`), raw HTTP to gatehouse, the set-up through the admin API (the admin's token, a
// person, clients registered), and a browser without JavaScript (a cookie jar and the forms of
// gatehouse's pages, posted as a browser would).

// ------------------------------------------------------------------------------------------
// Settings.

/**
 * What ../run.sh sets: GATEHOUSE_RP_BASE (gatehouse's address, also its issuer; returned
 * without a trailing slash), GATEHOUSE_RP_ADMIN_EMAIL and GATEHOUSE_RP_ADMIN_PASSWORD. Exits 2
 * when one is missing.
 */
export function settings() {
  const base = process.env.GATEHOUSE_RP_BASE?.replace(/\/$/, '');
  const adminEmail = process.env.GATEHOUSE_RP_ADMIN_EMAIL;
  const adminPassword = process.env.GATEHOUSE_RP_ADMIN_PASSWORD;
  if (!base || !adminEmail || !adminPassword) {
    console.error('set GATEHOUSE_RP_BASE, GATEHOUSE_RP_ADMIN_EMAIL and GATEHOUSE_RP_ADMIN_PASSWORD (../run.sh does)');
    process.exit(2);
  }
  return { base, adminEmail, adminPassword };
}

// ------------------------------------------------------------------------------------------
// Checks.

/** What a failed check throws (its FAIL line is printed already). */
export class CheckFailed extends Error {}

/** An error in one line: its name, code, OAuth error, status and message, and up to three causes. */
export function describe(error) {
  const parts = [error?.name, error?.code, error?.error, error?.status, error?.message];
  for (let cause = error?.cause, depth = 0; cause && typeof cause === 'object' && depth < 3; cause = cause.cause, depth += 1) {
    parts.push(`cause: ${cause.message ?? ''} ${JSON.stringify(cause).slice(0, 300)}`);
  }
  return parts.filter((p) => p !== undefined).join(' | ');
}

/**
 * A test's checks, with their own count: `passed()` says how many passed so far, and
 * `run(label, main)` runs the test's `main` and prints its last line.
 */
export function checks() {
  let passed = 0;

  function ok(name) {
    passed += 1;
    console.log(`ok   ${name}`);
  }

  function check(name, condition, detail) {
    if (!condition) {
      console.log(`FAIL ${name}`);
      if (detail !== undefined) console.log(`     ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
      throw new CheckFailed(name);
    }
    ok(name);
  }

  function equal(name, actual, expected) {
    check(name, actual === expected, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }

  /** Runs `fn`, which must throw; returns what it threw. */
  async function refused(name, fn, accept) {
    let error;
    try {
      const value = await fn();
      check(name, false, `expected a refusal, got ${JSON.stringify(value)?.slice(0, 300)}`);
    } catch (e) {
      if (e instanceof CheckFailed) throw e;
      error = e;
    }
    const why = accept(error);
    check(name, why === true, typeof why === 'string' ? why : describe(error));
    return error;
  }

  /**
   * Runs `main`, then prints `<label>: N passed, 0 failed` and returns; at the first check that
   * fails, or an unexpected error (printed with its stack), prints `<label>: N passed, 1 failed`
   * and exits 1.
   */
  async function run(label, main) {
    try {
      await main();
      console.log(`${label}: ${passed} passed, 0 failed`);
    } catch (error) {
      if (!(error instanceof CheckFailed)) {
        console.log(`FAIL unexpected error: ${describe(error)}`);
        console.log(error?.stack ?? error);
      }
      console.log(`${label}: ${passed} passed, 1 failed`);
      process.exit(1);
    }
  }

  return { ok, check, equal, refused, describe, run, passed: () => passed, CheckFailed };
}

// ------------------------------------------------------------------------------------------
// Raw HTTP: the admin API, and requests a library would never send.

/**
 * `http(method, path, { token, json, form, headers, basic })` against `base` (a `path` that is
 * a whole URL is taken as it is); redirects are not followed. With `timeoutMs`, each request
 * gives up after that long.
 */
export function httpTo(base, { timeoutMs } = {}) {
  return async function http(method, path, { token, json, form, headers = {}, basic } = {}) {
    const url = path.startsWith('http') ? path : `${base}${path}`;
    const h = { ...headers };
    let body;
    if (token) h.authorization = `Bearer ${token}`;
    if (basic) h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
    if (json !== undefined) {
      h['content-type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const response = await fetch(url, { method, headers: h, body, redirect: 'manual', signal });
    const text = await response.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    return { status: response.status, headers: response.headers, text, json: data, location: response.headers.get('location') };
  };
}

// ------------------------------------------------------------------------------------------
// The set-up through the admin API.

/**
 * The bootstrap admin logs in, `person` ({ email, name, username }) is created with a random
 * password, and `register(spec)` registers a client and returns gatehouse's answer (with the
 * client_id, and the secret of a confidential client). Returns
 * { admin (the admin's access token), person: { login, password }, personId, register }.
 */
export async function setUp({ http, check }, { adminEmail, adminPassword }, { email, name, username }) {
  const auth = await http('POST', '/auth', { json: { email: adminEmail, password: adminPassword } });
  check('set-up: the admin logs in (POST /auth)', auth.status === 200 && auth.json?.access_token, `${auth.status} ${auth.text.slice(0, 300)}`);
  const admin = auth.json.access_token;
  const person = { login: email, password: `${username}'s long passphrase ${Math.random().toString(36).slice(2)}` };
  const created = await http('POST', '/admin/users', {
    token: admin,
    json: { email: person.login, password: person.password, name, username },
  });
  check(`set-up: ${username} is created (POST /admin/users)`, created.status === 201 && created.json?.id, `${created.status} ${created.text.slice(0, 300)}`);
  const personId = created.json.id;

  async function register(spec) {
    const r = await http('POST', '/admin/clients', { token: admin, json: spec });
    check(`set-up: client "${spec.name}" is registered`, r.status === 201 && r.json?.client_id, `${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  }
  return { admin, person, personId, register };
}

// ------------------------------------------------------------------------------------------
// A browser without JavaScript: a cookie jar, redirects followed by hand, forms posted with the
// page's origin.
function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const e = entity.toLowerCase();
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e];
  });
}

/**
 * The first form of a page (the first posting to `actionName`, when given): its absolute
 * action, its method and its fields (hidden ones and buttons).
 */
export function parseForm(html, pageUrl, actionName) {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const attr = (tag, name) => {
    const m = tag.match(new RegExp(`\\b${name}="([^"]*)"`, 'i'));
    return m ? unescapeHtml(m[1]) : undefined;
  };
  for (const [, formTag, inner] of forms) {
    const action = attr(formTag, 'action') ?? '';
    if (actionName && action !== actionName) continue;
    const fields = {};
    for (const [input] of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input, 'name');
      if (name && attr(input, 'type') === 'hidden') fields[name] = attr(input, 'value') ?? '';
    }
    const buttons = [...inner.matchAll(/<button\b[^>]*>/gi)].map(([b]) => ({ name: attr(b, 'name'), value: attr(b, 'value') }));
    return { action: new URL(action, pageUrl).href, method: (attr(formTag, 'method') ?? 'get').toLowerCase(), fields, buttons };
  }
  return undefined;
}

/** The text of a page's <h1>. */
export function heading(html) {
  const m = html.match(/<h1\b[^>]*>([\s\S]*?)<\/h1>/i);
  return m ? unescapeHtml(m[1].replace(/<[^>]*>/g, '')).trim() : undefined;
}

/** With `timeoutMs`, each request gives up after that long. */
export class Browser {
  constructor({ timeoutMs } = {}) {
    this.cookies = new Map();
    this.timeoutMs = timeoutMs;
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  remember(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim().match(/^max-age=(-?\d+)$/i)).find(Boolean);
      if (value === '' || (maxAge && Number(maxAge[1]) <= 0)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method, url, form) {
    const headers = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = new URL(url).origin;
      body = new URLSearchParams(form).toString();
    }
    const signal = this.timeoutMs === undefined ? undefined : AbortSignal.timeout(this.timeoutMs);
    const response = await fetch(url, { method, headers, body, redirect: 'manual', signal });
    this.remember(response);
    return { url, status: response.status, location: response.headers.get('location'), text: await response.text(), headers: response.headers };
  }

  get(url) {
    return this.request('GET', url);
  }

  post(url, form) {
    return this.request('POST', url, form);
  }
}

/**
 * Walks an authorization request in `browser` until gatehouse sends it off `origin` (to the
 * client's redirect URI, never fetched): logs in with `login` when the login page is shown,
 * answers the consent page with `decision`. Each step is a check named after `label`. Returns
 * { callback (a URL), sawLogin, sawConsent }.
 */
export async function walk(browser, url, { origin, login, decision = 'allow', label, check }) {
  let sawLogin = false;
  let sawConsent = false;
  let at = url.href ?? url;
  for (let step = 0; step < 10; step += 1) {
    const page = await browser.get(at);
    const path = new URL(at).pathname;
    let next;
    if (page.status === 302 || page.status === 303) {
      next = new URL(page.location, at).href;
    } else if (page.status === 200 && path === '/login') {
      sawLogin = true;
      const form = parseForm(page.text, at, 'login');
      check(`${label}: the login page has its form`, form?.fields.form && form.fields.next, page.text.slice(0, 400));
      const answer = await browser.post(form.action, { ...form.fields, login: login.login, password: login.password });
      check(`${label}: the login is accepted (303 on)`, answer.status === 303, `${answer.status} ${answer.text.slice(0, 300)}`);
      next = new URL(answer.location, form.action).href;
    } else if (page.status === 200 && path === '/oauth2/authorize') {
      sawConsent = true;
      const form = parseForm(page.text, at, 'consent');
      check(`${label}: the consent page has its form`, form?.fields.form && form.fields.request, page.text.slice(0, 400));
      const answer = await browser.post(form.action, { ...form.fields, decision });
      check(`${label}: the consent answer sends the browser on (303)`, answer.status === 303, `${answer.status} ${answer.text.slice(0, 300)}`);
      next = new URL(answer.location, form.action).href;
    } else {
      check(`${label}: gatehouse answers ${at}`, false, `${page.status} ${page.text.slice(0, 400)}`);
    }
    if (new URL(next).origin !== origin) return { callback: new URL(next), sawLogin, sawConsent };
    at = next;
  }
  check(`${label}: the flow ends`, false, 'more than 10 steps');
}
