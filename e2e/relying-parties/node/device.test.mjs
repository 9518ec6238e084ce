// gatehouse's device authorization grant (RFC 8628) as openid-client (v6) drives it: discovery
// names the device endpoint; a public client (client_id alone) gets its pair of codes, the
// library polls the token endpoint as the RFC says (waiting `interval` between polls, never told
// to slow down) while a person opens verification_uri_complete in a browser (plain HTTP with a
// cookie jar: the login, then the approval page, posted as a browser would), and the poll ends
// with an ID token, userinfo and a refresh token that rotates; the codes are then spent (the
// page says 400, a poll says invalid_grant). A confidential client whose request is denied gets
// access_denied from the library, and the answer cannot be changed afterwards. Refused too: a
// client not registered for the grant (unauthorized_client), a scope the client is not
// registered for (invalid_scope), polling faster than the interval (slow_down), and another
// client's device code (invalid_grant).
//
// Run by ../run.sh after openid-client.test.mjs, against the same gatehouse, which sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// Prints one line per check and exits 1 at the first that fails (or when the whole takes more
// than 60 s); about 15 s of it is the library waiting between polls.

import * as client from 'openid-client';
import { Browser, checks, heading, httpTo, parseForm, setUp, settings } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const LABEL = 'device grant';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Every HTTP request of the test, the library's included, gives up after this long. */
const REQUEST_TIMEOUT_S = 10;
/** A poll that has not ended by then fails the check (the codes themselves live 600 s). */
const POLL_TIMEOUT_MS = 30_000;

// The checks, and raw HTTP: the admin API, and requests a library would not send.
const { ok, check, equal, refused, describe, run, passed } = checks();
const http = httpTo(base, { timeoutMs: REQUEST_TIMEOUT_S * 1000 });

// Nothing may hang the run: past this, the test fails as a whole.
setTimeout(() => {
  console.log('FAIL the device grant test did not end within 60 s');
  console.log(`${LABEL}: ${passed()} passed, 1 failed`);
  process.exit(1);
}, 60_000).unref();

/** A refusal by the server in OAuth's error form, as openid-client throws it. */
function oauthError(expected) {
  return (e) => (e instanceof client.ResponseBodyError && e.error === expected) || `expected ResponseBodyError ${expected}: ${describe(e)}`;
}

/** Waits until `condition()` holds, checking every 100 ms; false after `ms`. */
async function until(condition, ms) {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

// ------------------------------------------------------------------------------------------
// The /device page in a browser, and the library's requests and its poll.

/** A page's answer in one line, for a failed check. */
function summary(page) {
  return `${page.status} location=${page.location} ${page.text.slice(0, 400)}`;
}

/**
 * Opens `url` (a verification_uri_complete) in `browser` as the person would: logs in with
 * `login` when sent to the login page (and checks that the login sends the browser back), and
 * returns the approval page's form.
 */
async function openApproval(browser, url, { label, login, clientName, userCode }) {
  let page = await browser.get(url);
  if (login) {
    check(`${label}: without a session, the page sends the browser to log in (303)`, page.status === 303 && page.location, summary(page));
    const to = new URL(page.location, url);
    equal(`${label}: to /login`, `${to.origin}${to.pathname}`, `${base}/login`);
    equal(`${label}: next is the page with the code`, to.searchParams.get('next'), url);
    const loginPage = await browser.get(to.href);
    const form = parseForm(loginPage.text, to.href, 'login');
    check(`${label}: the login page has its form (form, next)`, loginPage.status === 200 && form?.fields.form && form.fields.next === url, summary(loginPage));
    equal(`${label}: the login form posts to /login`, new URL(form.action).pathname, '/login');
    const answer = await browser.post(form.action, { ...form.fields, login: login.login, password: login.password });
    check(`${label}: the login is accepted (303 on, a session cookie)`, answer.status === 303 && browser.cookies.has('gatehouse_session'), summary(answer));
    equal(`${label}: the login sends the browser back to the page with the code`, new URL(answer.location, form.action).href, url);
    page = await browser.get(url);
  }
  check(`${label}: the approval page (200)`, page.status === 200, summary(page));
  check(`${label}: it names the client`, page.text.includes(clientName), page.text.slice(0, 600));
  check(`${label}: it shows the user code`, page.text.includes(userCode), page.text.slice(0, 600));
  const form = parseForm(page.text, url, 'device');
  check(`${label}: its form posts to /device with the form token and the code`,
    form && form.method === 'post' && form.action === `${base}/device` && form.fields.form && form.fields.user_code === userCode, form ?? page.text.slice(0, 600));
  check(`${label}: Allow and Deny`,
    ['allow', 'deny'].every((v) => form.buttons.some((b) => b.name === 'decision' && b.value === v)), form.buttons);
  return form;
}

/**
 * A configuration whose requests to the token and device endpoints are watched: `answers` gets
 * each token endpoint answer's `error` (or 'tokens'), `sent` each request.
 */
function watched(config) {
  const meta = config.serverMetadata();
  const log = { answers: [], sent: [] };
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options);
    if (url === meta.token_endpoint || url === meta.device_authorization_endpoint) {
      log.sent.push({ url, headers: new Headers(options.headers), body: String(options.body) });
    }
    if (url === meta.token_endpoint) {
      const body = await response.clone().json().catch(() => undefined);
      log.answers.push(body?.error ?? (body?.access_token ? 'tokens' : `status ${response.status}`));
    }
    return response;
  };
  return log;
}

/** openid-client's poll, started now; never rejects (the outcome says how it ended). */
function startPolling(config, codes) {
  return client
    .pollDeviceAuthorizationGrant(config, codes, undefined, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) })
    .then((tokens) => ({ tokens }), (error) => ({ error }));
}

// ------------------------------------------------------------------------------------------
async function main() {
  // Set-up through the admin API.
  const { person: dana, personId: danaId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'dana@example.com', name: 'Dana Example', username: 'dana' });
  const cli = await register({
    name: 'Device CLI (openid-client)',
    confidential: false,
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
  });
  check('set-up: the public client has no secret', !cli.client_secret, cli);
  const tv = await register({
    name: 'Device TV (openid-client)',
    confidential: true,
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
  });
  check('set-up: the confidential client gets its secret', typeof tv.client_secret === 'string' && tv.client_secret.length >= 20, tv);
  const web = await register({
    name: 'Web without the device grant (openid-client)',
    redirect_uris: ['https://web.example.com/cb'],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
  });

  // ----------------------------------------------------------------------------------------
  // Discovery.
  const options = { execute: [client.allowInsecureRequests], timeout: REQUEST_TIMEOUT_S };
  const cliConfig = await client.discovery(new URL(issuer), cli.client_id, { token_endpoint_auth_method: 'none' }, client.None(), options);
  const meta = cliConfig.serverMetadata();
  equal('discovery: device_authorization_endpoint', meta.device_authorization_endpoint, `${issuer}/oauth2/device_authorization`);
  check('discovery: grant_types_supported lists the device grant', meta.grant_types_supported?.includes(DEVICE_GRANT), meta.grant_types_supported);
  const tvConfig = await client.discovery(new URL(issuer), tv.client_id, tv.client_secret, client.ClientSecretPost(tv.client_secret), options);
  const webConfig = await client.discovery(new URL(issuer), web.client_id, web.client_secret, client.ClientSecretBasic(web.client_secret), options);

  // ----------------------------------------------------------------------------------------
  // A public client, approved: openid-client polls until the tokens come.
  const browser = new Browser({ timeoutMs: REQUEST_TIMEOUT_S * 1000 });
  const cliLog = watched(cliConfig);
  const codes = await client.initiateDeviceAuthorization(cliConfig, { scope: 'openid email offline_access' });
  ok('public client: openid-client accepts the device authorization answer');
  const asked = new URLSearchParams(cliLog.sent[0]?.body);
  check('public client: the request carries client_id and no secret',
    asked.get('client_id') === cli.client_id && !asked.has('client_secret') && !cliLog.sent[0].headers.has('authorization'), cliLog.sent[0]);
  check('public client: a device_code', typeof codes.device_code === 'string' && codes.device_code.length >= 20, codes);
  check('public client: a user_code of eight letters shown XXXX-XXXX', /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/.test(codes.user_code), codes.user_code);
  equal('public client: verification_uri', codes.verification_uri, `${base}/device`);
  equal('public client: verification_uri_complete', codes.verification_uri_complete, `${base}/device?user_code=${codes.user_code}`);
  equal('public client: expires_in', codes.expires_in, 600);
  equal('public client: interval', codes.interval, 5);

  const cliPoll = startPolling(cliConfig, codes);
  const approval = await openApproval(browser, codes.verification_uri_complete, {
    label: 'public client', login: dana, clientName: cli.name, userCode: codes.user_code,
  });
  // The person answers only once the library has been told to wait, so that the answer it
  // gets before the tokens is seen too.
  check('public client: before the answer the poll is told authorization_pending',
    await until(() => cliLog.answers.length > 0, 8_000) && cliLog.answers[0] === 'authorization_pending', cliLog.answers);
  const allowed = await browser.post(approval.action, { ...approval.fields, decision: 'allow' });
  check('public client: Allow is recorded (200, "Device connected")', allowed.status === 200 && heading(allowed.text) === 'Device connected', summary(allowed));
  const cliOutcome = await cliPoll;
  check('public client: the poll ends with tokens', cliOutcome.tokens, describe(cliOutcome.error));
  const tokens = cliOutcome.tokens;
  check('public client: the library waited the interval and was never told slow_down',
    JSON.stringify(cliLog.answers) === '["authorization_pending","tokens"]', cliLog.answers);
  const polled = new URLSearchParams(cliLog.sent.at(-1)?.body);
  check('public client: each poll carries the grant type, the device_code and client_id',
    polled.get('grant_type') === DEVICE_GRANT && polled.get('device_code') === codes.device_code && polled.get('client_id') === cli.client_id, [...polled.keys()]);
  const claims = tokens.claims();
  check('ID token: openid-client accepts it (signature, iss, aud, exp)', claims, tokens);
  equal('ID token: sub is dana', claims.sub, danaId);
  equal('ID token: email', claims.email, dana.login);
  equal('ID token: aud is the client', Array.isArray(claims.aud) ? claims.aud.join() : claims.aud, cli.client_id);
  equal('ID token: iss', claims.iss, issuer);
  equal('tokens: token_type Bearer', tokens.token_type.toLowerCase(), 'bearer');
  equal('tokens: scope', tokens.scope, 'openid email offline_access');
  check('tokens: a refresh token with offline_access', typeof tokens.refresh_token === 'string', tokens);
  const info = await client.fetchUserInfo(cliConfig, tokens.access_token, danaId);
  equal('userinfo: email', info.email, dana.login);
  const refreshed = await client.refreshTokenGrant(cliConfig, tokens.refresh_token);
  check('refresh: a new refresh token, not the old one', refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, refreshed);
  equal('refresh: the new access token works at userinfo', (await client.fetchUserInfo(cliConfig, refreshed.access_token, danaId)).sub, danaId);

  // Spent: the tokens come once, and the page no longer takes the code.
  const again = await http('POST', meta.token_endpoint, { form: { grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: cli.client_id } });
  check('spent: polling again after the tokens → 400 invalid_grant', again.status === 400 && again.json?.error === 'invalid_grant', `${again.status} ${again.text}`);
  const reopened = await browser.get(codes.verification_uri_complete);
  check('spent: verification_uri_complete opened again (logged in) → 400, no Allow or Deny', reopened.status === 400 && !/name="decision"/.test(reopened.text), summary(reopened));

  // ----------------------------------------------------------------------------------------
  // A confidential client, denied: openid-client rejects with access_denied.
  const tvLog = watched(tvConfig);
  const tvCodes = await client.initiateDeviceAuthorization(tvConfig, { scope: 'openid email' });
  ok('confidential client: openid-client accepts the device authorization answer');
  const tvAsked = new URLSearchParams(tvLog.sent[0]?.body);
  check('confidential client: the request carries client_id and client_secret (client_secret_post)',
    tvAsked.get('client_id') === tv.client_id && tvAsked.get('client_secret') === tv.client_secret, [...tvAsked.keys()]);
  check('confidential client: a fresh pair of codes', tvCodes.device_code !== codes.device_code && tvCodes.user_code !== codes.user_code, tvCodes);
  const tvPoll = startPolling(tvConfig, tvCodes);
  const denial = await openApproval(browser, tvCodes.verification_uri_complete, {
    label: 'confidential client (logged in already)', clientName: tv.name, userCode: tvCodes.user_code,
  });
  const denied = await browser.post(denial.action, { ...denial.fields, decision: 'deny' });
  check('confidential client: Deny is recorded (200, "Request denied")', denied.status === 200 && heading(denied.text) === 'Request denied', summary(denied));
  const tvOutcome = await tvPoll;
  await refused('confidential client: the poll rejects with access_denied (ResponseBodyError)', async () => {
    if (tvOutcome.error) throw tvOutcome.error;
    return tvOutcome.tokens;
  }, oauthError('access_denied'));
  equal('confidential client: the library polled once and stopped', JSON.stringify(tvLog.answers), '["access_denied"]');
  const changed = await browser.post(denial.action, { ...denial.fields, decision: 'allow' });
  check('confidential client: the answer cannot be changed (Allow after Deny → 400)', changed.status === 400 && heading(changed.text) !== 'Device connected', summary(changed));

  // ----------------------------------------------------------------------------------------
  // Polling too fast, and another client's device code (raw HTTP: the library does neither).
  {
    const fast = await client.initiateDeviceAuthorization(tvConfig, { scope: 'openid' });
    const poll = (credentials) => http('POST', meta.token_endpoint, { form: { grant_type: DEVICE_GRANT, device_code: fast.device_code, ...credentials } });
    const tvCredentials = { client_id: tv.client_id, client_secret: tv.client_secret };
    const first = await poll(tvCredentials);
    check('polling: the first poll → authorization_pending', first.status === 400 && first.json?.error === 'authorization_pending', `${first.status} ${first.text}`);
    const second = await poll(tvCredentials);
    check('polling: a second one at once → slow_down', second.status === 400 && second.json?.error === 'slow_down', `${second.status} ${second.text}`);
    const stolen = await poll({ client_id: cli.client_id });
    check("polling: another client's device code → invalid_grant", stolen.status === 400 && stolen.json?.error === 'invalid_grant', `${stolen.status} ${stolen.text}`);
  }

  // ----------------------------------------------------------------------------------------
  // Refused at the device authorization endpoint.
  await refused('refused: a client not registered for the device grant → unauthorized_client',
    () => client.initiateDeviceAuthorization(webConfig, { scope: 'openid' }), oauthError('unauthorized_client'));
  await refused('refused: a scope the client is not registered for → invalid_scope',
    () => client.initiateDeviceAuthorization(cliConfig, { scope: 'openid profile' }), oauthError('invalid_scope'));
}

await run(LABEL, main);
process.exit(0);
