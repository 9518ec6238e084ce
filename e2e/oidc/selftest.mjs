// Self-test of the two test servers in this folder, provider.mjs (OpenID Connect) and
// github.mjs (GitHub OAuth2 stand-in): it starts both, walks their flows as a plain HTTP
// client would (manual redirects, a small cookie jar) and checks every answer.
//
// Start: node e2e/oidc/selftest.mjs   (or e2e/oidc/run.sh, which installs the packages first)
// Exit status 0 with a one-line summary when all checks pass; 1 with the failed check and the
// servers' stderr otherwise. The servers are stopped in every case.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const START_TIMEOUT_MS = 15_000;

const children = [];
let passed = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
  passed += 1;
}

// Starts one of the servers and resolves with the JSON line it prints once listening.
function startServer(script, env) {
  const child = spawn(process.execPath, [HERE + script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { script, child, stderr: '' };
  children.push(entry);
  child.stderr.setEncoding('utf8').on('data', (text) => { entry.stderr += text; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not print its address within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.on('exit', (code) => reject(new Error(`${script} exited early with status ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`${script} printed something other than its JSON address line: ${line}`));
      }
    });
  });
}

function stopServers() {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
}

// Remembers cookies by name, whatever their path; enough for one server.
class CookieJar {
  cookies = new Map();

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      const expired = attributes.some((attribute) => /^\s*(max-age=0|expires=.*1970)/i.test(attribute));
      if (expired || !value) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

// Follows redirects by hand until one leaves for REDIRECT_URI; returns that URL.
async function followToCallback(startUrl, jar) {
  let url = startUrl;
  for (let hop = 0; hop < 10; hop += 1) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
    const location = response.headers.get('location');
    if (!location) throw new Error(`GET ${url} answered ${response.status} without a redirect: ${await response.text()}`);
    const next = new URL(location, url);
    if (next.href.startsWith(REDIRECT_URI)) return next;
    url = next.href;
  }
  throw new Error(`no redirect to ${REDIRECT_URI} after 10 hops from ${startUrl}`);
}

const postJson = (url, body) => fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

// All flows share one cookie jar, as a browser would.
const providerCookies = new CookieJar();

// The front-channel half of a login: authorization request with PKCE S256, state and nonce,
// redirects followed to the callback; returns the code, its verifier and the nonce.
async function authorizeCode(discovery, clientId) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const authorize = new URL(discovery.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const callback = await followToCallback(authorize.href, providerCookies);
  check(callback.searchParams.get('state') === state, `callback state ${callback.searchParams.get('state')} is not ${state}`);
  check(callback.searchParams.get('iss') === discovery.issuer, `callback iss ${callback.searchParams.get('iss')} is not the issuer`);
  const code = callback.searchParams.get('code');
  check(code, `callback has no code: ${callback.href}`);
  return { code, verifier, nonce };
}

// The back-channel half: the token request, authenticated with HTTP Basic or in the form.
function redeemCode(discovery, { code, verifier }, { clientId, secret, authMethod }) {
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (authMethod === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
  } else {
    form.set('client_id', clientId);
    form.set('client_secret', secret);
  }
  return fetch(discovery.token_endpoint, { method: 'POST', headers, body: form });
}

// A whole login; returns the token response with the ID token's claims and header decoded.
async function oidcLogin(discovery, { clientId = 'gatehouse', secret = 'gatehouse-secret', authMethod = 'basic' } = {}) {
  const authorization = await authorizeCode(discovery, clientId);
  const response = await redeemCode(discovery, authorization, { clientId, secret, authMethod });
  const tokens = await response.json();
  check(response.status === 200 && tokens.id_token, `token endpoint answered ${response.status}: ${JSON.stringify(tokens)}`);
  return { tokens, nonce: authorization.nonce, claims: decodeJwt(tokens.id_token), header: decodeProtectedHeader(tokens.id_token) };
}

async function testProvider() {
  const { issuer } = await startServer('provider.mjs', { PORT: '0', REDIRECT_URIS: REDIRECT_URI });
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  check(discovery.issuer === issuer, `discovery issuer ${discovery.issuer} is not ${issuer}`);
  check(discovery.code_challenge_methods_supported?.includes('S256'), 'discovery does not offer PKCE S256');
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { keys } = await (await fetch(discovery.jwks_uri)).json();
  const kidInJwks = (kid) => keys.some((key) => key.kid === kid);

  // A normal login as alice, verified as a relying party would.
  const alice = await oidcLogin(discovery);
  const { payload } = await jwtVerify(alice.tokens.id_token, jwks, { issuer, audience: 'gatehouse' });
  check(payload.nonce === alice.nonce, `id_token nonce ${payload.nonce} is not the one sent`);
  check(payload.sub === 'alice' && payload.email === 'alice@example.com', `id_token is not alice's: ${JSON.stringify(payload)}`);
  check(payload.email_verified === true && payload.name === 'Alice Liddell', `id_token lacks alice's claims: ${JSON.stringify(payload)}`);
  const userinfo = await (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${alice.tokens.access_token}` } })).json();
  check(userinfo.email === 'alice@example.com' && userinfo.email_verified === true, `userinfo is not alice's: ${JSON.stringify(userinfo)}`);

  const viaPost = await oidcLogin(discovery, { clientId: 'gatehouse-post', secret: 'gatehouse-post-secret', authMethod: 'post' });
  check(viaPost.claims.aud === 'gatehouse-post', `client_secret_post login gave aud ${viaPost.claims.aud}`);

  // Each client must authenticate with the method it is registered with.
  for (const [clientId, secret, authMethod] of [['gatehouse', 'gatehouse-secret', 'post'], ['gatehouse-post', 'gatehouse-post-secret', 'basic']]) {
    const response = await redeemCode(discovery, await authorizeCode(discovery, clientId), { clientId, secret, authMethod });
    const body = await response.json();
    check(response.status === 401 && body.error === 'invalid_client', `${clientId} authenticating by ${authMethod} answered ${response.status} ${JSON.stringify(body)}`);
  }

  check((await postJson(`${issuer}/_test/login`, { sub: 'bob' })).status === 204, 'POST /_test/login did not answer 204');
  const bob = await oidcLogin(discovery);
  check(bob.claims.sub === 'bob' && bob.claims.email_verified === false, `login as bob gave ${JSON.stringify(bob.claims)}`);
  check((await postJson(`${issuer}/_test/login`, { sub: 'mallory' })).status === 400, 'an unknown account was accepted');

  // Each tampered token is signed by the JWKS key unless asked otherwise, so only the tampered claim is wrong.
  check((await postJson(`${issuer}/_test/tamper`, { aud: 'someone-else' })).status === 204, 'POST /_test/tamper did not answer 204');
  const wrongAud = await oidcLogin(discovery);
  check(wrongAud.claims.aud === 'someone-else', `tampered aud is ${wrongAud.claims.aud}`);
  check(kidInJwks(wrongAud.header.kid), 'tampered token is not signed with a JWKS key');
  await jwtVerify(wrongAud.tokens.id_token, jwks, { issuer });
  check(wrongAud.claims.sub === 'bob', 'tampering changed the subject');

  await postJson(`${issuer}/_test/tamper`, { nonce: 'not-the-nonce' });
  const wrongNonce = await oidcLogin(discovery);
  const { payload: nonceClaims } = await jwtVerify(wrongNonce.tokens.id_token, jwks, { issuer, audience: 'gatehouse' });
  check(nonceClaims.nonce === 'not-the-nonce', `tampered nonce is ${nonceClaims.nonce}`);

  await postJson(`${issuer}/_test/tamper`, { iss: 'http://127.0.0.1:1' });
  const wrongIss = await oidcLogin(discovery);
  const { payload: issClaims } = await jwtVerify(wrongIss.tokens.id_token, jwks, { audience: 'gatehouse' });
  check(issClaims.iss === 'http://127.0.0.1:1', `tampered iss is ${issClaims.iss}`);

  await postJson(`${issuer}/_test/tamper`, { exp_offset_s: -3600 });
  const expired = await oidcLogin(discovery);
  const expiredError = await jwtVerify(expired.tokens.id_token, jwks, { issuer, audience: 'gatehouse' }).catch((error) => error);
  check(expiredError?.code === 'ERR_JWT_EXPIRED', `expired token verified as ${expiredError?.code ?? 'valid'}`);
  check(expired.claims.iat < expired.claims.exp && expired.claims.exp < Date.now() / 1000 - 3000, 'expired token has odd iat/exp');

  await postJson(`${issuer}/_test/tamper`, { sign_with_unknown_key: true });
  const unknownKey = await oidcLogin(discovery);
  check(unknownKey.header.kid && !kidInJwks(unknownKey.header.kid), `token signed by an unknown key has kid ${unknownKey.header.kid}, which is in the JWKS`);
  const unknownKeyError = await jwtVerify(unknownKey.tokens.id_token, jwks).catch((error) => error);
  check(unknownKeyError?.code === 'ERR_JWKS_NO_MATCHING_KEY', `token signed by an unknown key verified as ${unknownKeyError?.code ?? 'valid'}`);

  // Tampering is one-shot: the next login is clean again.
  const clean = await oidcLogin(discovery);
  await jwtVerify(clean.tokens.id_token, jwks, { issuer, audience: 'gatehouse' });
  check(clean.claims.nonce === clean.nonce && kidInJwks(clean.header.kid), 'tampering outlived its one token');

  check((await fetch(`${issuer}/_test/reset`, { method: 'POST' })).status === 204, 'POST /_test/reset did not answer 204');
  const afterReset = await oidcLogin(discovery, { clientId: 'other', secret: 'other-secret' });
  check(afterReset.claims.sub === 'alice' && afterReset.claims.aud === 'other', `after reset: ${JSON.stringify(afterReset.claims)}`);
  check((await fetch(`${issuer}/_test/health`)).status === 200, 'GET /_test/health did not answer 200');
}

async function testGithub() {
  const { base } = await startServer('github.mjs', { PORT: '0' });

  async function authorize(clientId = 'gh-client') {
    const { verifier, challenge } = pkcePair();
    const url = new URL('/login/oauth/authorize', base);
    url.search = new URLSearchParams({
      client_id: clientId, redirect_uri: REDIRECT_URI, state: 'st-1', scope: 'read:user user:email', code_challenge: challenge, code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    if (response.status !== 302) return { status: response.status };
    const callback = new URL(response.headers.get('location'));
    check(callback.href.startsWith(REDIRECT_URI) && callback.searchParams.get('state') === 'st-1', `authorize redirected to ${callback.href}`);
    return { status: 302, code: callback.searchParams.get('code'), verifier };
  }

  function exchange({ code, verifier }, { json = false, secret = 'gh-secret' } = {}) {
    return fetch(new URL('/login/oauth/access_token', base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(json && { accept: 'application/json' }) },
      body: new URLSearchParams({ client_id: 'gh-client', client_secret: secret, code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
    });
  }

  const api = (path, token, headers = { 'user-agent': 'gatehouse-selftest', authorization: `Bearer ${token}` }) => fetch(new URL(path, base), { headers });

  check((await authorize('nobody')).status === 404, 'authorize with an unknown client_id did not answer 404');

  const first = await authorize();
  const formAnswer = await exchange(first);
  check(formAnswer.headers.get('content-type').startsWith('application/x-www-form-urlencoded'), `token answer without Accept json is ${formAnswer.headers.get('content-type')}`);
  const formToken = new URLSearchParams(await formAnswer.text());
  check(formToken.get('access_token') && formToken.get('token_type') === 'bearer', `form token answer: ${formToken}`);
  check(formToken.get('scope') === 'read:user,user:email', `granted scope is ${formToken.get('scope')}`);

  const reused = await exchange(first, { json: true });
  const reusedBody = await reused.json();
  check(reused.status === 200 && reusedBody.error === 'bad_verification_code', `reused code answered ${reused.status} ${JSON.stringify(reusedBody)}`);

  const second = await authorize();
  const wrongSecret = await (await exchange(second, { json: true, secret: 'nope' })).json();
  check(wrongSecret.error === 'incorrect_client_credentials', `wrong secret answered ${JSON.stringify(wrongSecret)}`);
  const badVerifier = new URLSearchParams(await (await exchange({ ...second, verifier: pkcePair().verifier })).text());
  check(badVerifier.get('error') === 'bad_verification_code', `bad verifier answered ${badVerifier}`);

  const third = await authorize();
  const jsonAnswer = await exchange(third, { json: true });
  check(jsonAnswer.headers.get('content-type').startsWith('application/json'), `token answer with Accept json is ${jsonAnswer.headers.get('content-type')}`);
  const { access_token: token } = await jsonAnswer.json();
  check(token, 'JSON token answer has no access_token');

  // fetch always sends a User-Agent; an empty one counts as none.
  check((await api('/user', token, { authorization: `Bearer ${token}`, 'user-agent': '' })).status === 403, '/user without User-Agent did not answer 403');
  const badToken = await api('/user', 'gho_nope');
  check(badToken.status === 401 && (await badToken.json()).message === 'Bad credentials', '/user with a bad token did not answer 401 Bad credentials');
  const octo = await (await api('/user', token)).json();
  check(octo.id === 1001 && octo.login === 'octo' && octo.email === null, `/user for octo: ${JSON.stringify(octo)}`);
  const viaTokenScheme = await api('/user', token, { 'user-agent': 'gatehouse-selftest', authorization: `token ${formToken.get('access_token')}` });
  check(viaTokenScheme.status === 200, `/user with "Authorization: token" answered ${viaTokenScheme.status}`);
  const octoEmails = await (await api('/user/emails', token)).json();
  const primary = octoEmails.find((email) => email.primary && email.verified);
  check(primary?.email === 'octo@example.com' && octoEmails.length === 2, `/user/emails for octo: ${JSON.stringify(octoEmails)}`);

  check((await postJson(`${base}/_test/login`, { user: 'unverified' })).status === 204, 'POST /_test/login did not answer 204');
  const unverifiedToken = (await (await exchange(await authorize(), { json: true })).json()).access_token;
  const unverifiedEmails = await (await api('/user/emails', unverifiedToken)).json();
  check(!unverifiedEmails.some((email) => email.primary && email.verified), `unverified user has a verified primary email: ${JSON.stringify(unverifiedEmails)}`);

  await postJson(`${base}/_test/login`, { user: 'public' });
  const publicToken = (await (await exchange(await authorize(), { json: true })).json()).access_token;
  const publicUser = await (await api('/user', publicToken)).json();
  check(publicUser.id === 1003 && publicUser.email === 'public@example.com', `/user for public: ${JSON.stringify(publicUser)}`);

  check((await fetch(`${base}/_test/reset`, { method: 'POST' })).status === 204, 'POST /_test/reset did not answer 204');
  const afterReset = (await (await exchange(await authorize(), { json: true })).json()).access_token;
  check((await (await api('/user', afterReset)).json()).login === 'octo', 'after reset the user is not octo');
  check((await fetch(`${base}/_test/health`)).status === 200, 'GET /_test/health did not answer 200');
}

try {
  await testProvider();
  await testGithub();
  console.log(`selftest: ${passed} passed, 0 failed`);
} catch (error) {
  console.error(`selftest: FAILED after ${passed} passed checks: ${error.stack ?? error}`);
  for (const { script, stderr } of children) if (stderr.trim()) console.error(`--- ${script} stderr ---\n${stderr.trimEnd()}`);
  console.log(`selftest: ${passed} passed, 1 failed`);
  process.exitCode = 1;
} finally {
  stopServers();
}
