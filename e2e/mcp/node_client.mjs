// The TypeScript MCP SDK's client (@modelcontextprotocol/sdk: StreamableHTTPClientTransport with
// an authProvider, an OAuthClientProvider of the app's own) against examples/mcp/server.py behind
// nginx and gatehouse. The SDK does the flow up to the browser: its first request is refused with
// gatehouse's RFC 9728 challenge, it reads the protected resource metadata through nginx,
// discovers gatehouse (RFC 8414), registers itself (RFC 7591) and hands the authorization URL to
// the provider's redirectToAuthorization, which opens it in the browser (e2e/mcp/browser.mjs,
// where the person consents; the person logged in there before, for the Python client) and
// receives the code at the app's loopback callback. The SDK then throws UnauthorizedError, as it
// always does once it has sent the person away, and the app calls transport.finishAuth(code) and
// connects again: the SDK's own way back from the browser. `whoami` then answers with who
// gatehouse let in. `reindex` at /mcp/admin: the mcp:tools token is refused with 403
// insufficient_scope, the SDK asks the person again for mcp:admin (step-up; again through the
// browser, finishAuth and a second call), and the call goes through: the SDK registered with
// the first challenge's scope alone, and gatehouse registered it for the whole resource's. Last, the person logs out at gatehouse: the token is refused at
// the next request, and the SDK's next call sends the person to log in again.
//
//   node node_client.mjs --gatehouse URL --mcp URL --browser URL --account-id ID
//
// Prints one line per check ("  ok: …" or "  FAILED: …: why"); exit status 1 when one failed.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const LABEL = 'TypeScript SDK';
const CLIENT_NAME = 'Notes agent (@modelcontextprotocol/sdk on npm)';
/** The whole run, and each HTTP request, give up after these. */
const RUN_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;

const { values: args } = parseArgs({
  options: { gatehouse: { type: 'string' }, mcp: { type: 'string' }, browser: { type: 'string' }, 'account-id': { type: 'string' } },
});
for (const name of ['gatehouse', 'mcp', 'browser', 'account-id']) {
  if (!args[name]) {
    console.error(`--${name} is needed (see the top of node_client.mjs)`);
    process.exit(2);
  }
}
const GATEHOUSE = args.gatehouse.replace(/\/+$/, '');
const MCP = args.mcp.replace(/\/+$/, '');
const ADMIN = `${MCP}/admin`;
const METADATA = `${new URL(MCP).origin}/.well-known/oauth-protected-resource/mcp`;
const ACCOUNT = args['account-id'];

// ------------------------------------------------------------------------------------------
// The checks.

let passed = 0;
let failed = 0;
function ok(name) {
  passed += 1;
  console.log(`  ok: ${LABEL}: ${name}`);
}
function fail(name, why) {
  failed += 1;
  console.log(`  FAILED: ${LABEL}: ${name}: ${why}`);
}
function check(name, condition, detail) {
  if (condition) ok(name);
  else fail(name, typeof detail === 'string' ? detail : JSON.stringify(detail));
  return Boolean(condition);
}

setTimeout(() => {
  fail('the whole', `did not end within ${RUN_TIMEOUT_MS / 1000} s`);
  console.log(`${LABEL}: ${passed} passed, ${failed} failed`);
  process.exit(1);
}, RUN_TIMEOUT_MS).unref();

/** A JWT's payload, unverified: what the token says, for the checks. */
function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** The parameters of a WWW-Authenticate: Bearer challenge. */
function challenge(value) {
  return Object.fromEntries([...(value ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), m[2]]));
}

// ------------------------------------------------------------------------------------------
// What the app has around the SDK: its loopback callback, the browser, its provider.

/** The app's loopback redirect URI (RFC 8252): each query the browser brings back, in order. */
const callbacks = [];
const callbackServer = createServer((request, response) => {
  const address = new URL(request.url, 'http://127.0.0.1');
  if (address.pathname !== '/callback') {
    // The browser asks for /favicon.ico too.
    response.writeHead(404).end();
    return;
  }
  callbacks.push(Object.fromEntries(address.searchParams));
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end('Done: you may close this window.\n');
});
await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
const CALLBACK = `http://127.0.0.1:${callbackServer.address().port}/callback`;

/** Asks the browser (e2e/mcp/browser.mjs) to walk an authorization URL to the callback. */
async function browse(path, body) {
  const answer = await fetch(`${args.browser.replace(/\/+$/, '')}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS * 2),
  });
  const json = await answer.json();
  if (answer.status !== 200) throw new Error(`the browser: ${json.error}`);
  return json;
}

/** The OAuthClientProvider the SDK asks: what an MCP client keeps (in memory here). */
class Provider {
  constructor() {
    this.walks = [];
  }

  get redirectUrl() {
    return CALLBACK;
  }

  get clientMetadata() {
    return {
      client_name: CLIENT_NAME,
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    this.sentState = randomBytes(16).toString('base64url');
    return this.sentState;
  }

  clientInformation() {
    return this.client;
  }

  saveClientInformation(client) {
    this.client = client;
  }

  tokens() {
    return this.saved;
  }

  saveTokens(tokens) {
    this.saved = tokens;
  }

  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }

  codeVerifier() {
    return this.verifier;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
  }

  /** Opens the URL in the browser; keeps the code the callback received, for finishAuth. */
  async redirectToAuthorization(url) {
    const before = callbacks.length;
    const walk = await browse('/authorize', { url: url.href, callback: CALLBACK });
    walk.url = url.href;
    this.walks.push(walk);
    const query = callbacks[before];
    if (!query) throw new Error('the browser reached the callback, which heard nothing');
    if (query.error) throw new Error(`gatehouse answered the authorization with ${query.error}: ${query.error_description}`);
    if (query.state !== this.sentState) throw new Error(`state ${query.state}, expected ${this.sentState}`);
    this.code = query.code;
  }

  /** The code the browser brought back, once. */
  takeCode() {
    const { code } = this;
    this.code = undefined;
    return code;
  }
}

/**
 * Every request the SDK sends (the MCP calls and its OAuth requests) and its answer; and the
 * registrations' answers whole (what gatehouse registered the SDK for).
 */
const log = [];
const registrations = new Map();
async function recordingFetch(url, init) {
  const response = await fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const headers = new Headers(init?.headers);
  const method = init?.method ?? 'GET';
  log.push({
    method,
    url: String(url).split('?')[0],
    status: response.status,
    auth: headers.get('authorization') ?? '',
    challenge: response.headers.get('www-authenticate') ?? '',
  });
  if (method === 'POST' && new URL(url).pathname === '/oauth2/register' && response.status === 201) {
    const registration = await response.clone().json();
    registrations.set(registration.client_id, registration);
  }
  return response;
}
const sent = (since, method, url) => log.slice(since).filter((r) => r.method === method && r.url === url);

/**
 * Runs `act(client)` on a client connected to `url`, the app's loop around the SDK: when the SDK
 * has sent the person to the browser (UnauthorizedError), finishAuth with the code and again.
 */
async function withServer(url, provider, act) {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recordingFetch });
    const client = new Client({ name: 'notes-agent', version: '1.0.0' });
    try {
      await client.connect(transport);
      return await act(client);
    } catch (error) {
      const code = provider.takeCode();
      if (!(error instanceof UnauthorizedError) || !code) throw error;
      await transport.finishAuth(code);
    } finally {
      await client.close().catch(() => {});
    }
  }
  throw new Error('still unauthorized after two authorizations');
}

async function call(url, provider, tool) {
  return withServer(url, provider, async (client) => {
    const result = await client.callTool({ name: tool, arguments: {} });
    if (result.isError) throw new Error(`${tool} answered an error: ${JSON.stringify(result.content)}`);
    return result.structuredContent;
  });
}

async function attempt(name, action) {
  try {
    return await action();
  } catch (error) {
    fail(name, `${error.name}: ${error.message}`);
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------

async function firstCall(provider) {
  const since = log.length;
  const answer = await attempt('whoami at /mcp, the SDK doing the flow', () => call(MCP, provider, 'whoami'));
  if (answer === undefined) return false;
  const first = sent(since, 'POST', MCP)[0];
  const said = challenge(first?.challenge);
  check("the first request carries no token and is refused: 401 with gatehouse's RFC 9728 challenge through nginx",
    first && !first.auth && first.status === 401 && said.resource_metadata === METADATA && said.scope === 'mcp:tools', first);
  const metadata = sent(since, 'GET', METADATA);
  check("the SDK read the protected resource metadata at nginx's well-known address (served by gatehouse)",
    metadata.length > 0 && metadata[0].status === 200, metadata);
  const discovered = sent(since, 'GET', `${GATEHOUSE}/.well-known/oauth-authorization-server`);
  check('the SDK discovered gatehouse (RFC 8414 /.well-known/oauth-authorization-server)',
    discovered.length > 0 && discovered[0].status === 200, discovered);
  const registered = sent(since, 'POST', `${GATEHOUSE}/oauth2/register`);
  check('the SDK registered itself (RFC 7591): 201, a public client with a client_id',
    registered.map((r) => r.status).join() === '201' && provider.client?.client_id && !provider.client.client_secret,
    { registered, client: provider.client });
  const walk = provider.walks[0] ?? {};
  check("the browser opened the authorization URL and gatehouse asked for consent to this new app (the person's login stands)",
    JSON.stringify(walk.pages) === '["consent"]' && walk.consent.includes(CLIENT_NAME) && walk.consent.includes('registered itself'), walk);
  const asked = Object.fromEntries(new URL(walk.url ?? 'http://x').searchParams);
  check('the authorization request named the resource (RFC 8707), PKCE S256 and the challenged scope',
    asked.resource === MCP && asked.code_challenge_method === 'S256' && asked.scope?.split(' ').includes('mcp:tools'), asked);
  const exchanged = sent(since, 'POST', `${GATEHOUSE}/oauth2/token`);
  const payload = provider.saved ? claims(provider.saved.access_token) : {};
  check('finishAuth exchanged the code at /oauth2/token for a token whose aud is the MCP server, with mcp:tools',
    exchanged.map((r) => r.status).join() === '200' && payload.aud === MCP && payload.scope?.split(' ').includes('mcp:tools'),
    { exchanged, payload });
  const scopes = (answer['remote-scopes'] ?? '').split(',');
  check('whoami answers with who gatehouse let in: Remote-User the person, Remote-Client the app, Remote-Scopes mcp:tools',
    answer['remote-user'] === ACCOUNT && answer['remote-client'] === provider.client.client_id
      && scopes.includes('mcp:tools') && !scopes.includes('mcp:admin'), answer);
  return true;
}

async function stepUp(provider) {
  const since = log.length;
  const walks = provider.walks.length;
  const before = provider.saved;
  const registered = registrations.get(provider.client?.client_id) ?? {};
  check("gatehouse registered the SDK (which named the first challenge's scope) for all of the resource's",
    ['mcp:tools', 'mcp:admin'].every((s) => (registered.scope ?? '').split(' ').includes(s)), registered.scope);
  const answer = await attempt('reindex at /mcp/admin: gatehouse lets the SDK step up to mcp:admin',
    () => call(ADMIN, provider, 'reindex'));
  const refused = sent(since, 'POST', ADMIN)[0];
  const said = challenge(refused?.challenge);
  check('the mcp:tools token is refused at /mcp/admin: 403 insufficient_scope naming mcp:admin (nginx passes the challenge on)',
    refused && refused.auth === `Bearer ${before.access_token}` && refused.status === 403
      && said.error === 'insufficient_scope' && said.scope === 'mcp:admin' && said.resource_metadata === METADATA, refused);
  const walk = provider.walks[walks] ?? {};
  const asked = Object.fromEntries(new URL(walk.url ?? 'http://x').searchParams);
  check('the SDK asked the person again for mcp:admin, with the same registration',
    asked.scope?.split(' ').includes('mcp:admin') && asked.client_id === provider.client?.client_id, asked);
  check('the browser still had its session: consent only, no login', JSON.stringify(walk.pages) === '["consent"]', walk);
  if (answer === undefined) return;
  const payload = claims(provider.saved.access_token);
  check('the new token carries mcp:admin, its aud still the MCP server',
    payload.scope?.split(' ').includes('mcp:admin') && payload.aud === MCP, payload);
  check('reindex answers, for the same person and app, with mcp:admin in Remote-Scopes',
    answer.reindexed === 'yes' && answer['remote-user'] === ACCOUNT && answer['remote-client'] === provider.client.client_id
      && (answer['remote-scopes'] ?? '').split(',').includes('mcp:admin'), answer);
}

async function logOut(provider) {
  const token = provider.saved.access_token;
  const loggedOut = await attempt('the person logs out at gatehouse', () => browse('/logout', {}));
  if (loggedOut === undefined) return;
  check('the person logs out with the "Log out" button of /login ("Logged out")', /Logged out/i.test(loggedOut.said), loggedOut.said);
  const answer = await fetch(MCP, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const said = challenge(answer.headers.get('www-authenticate'));
  check("the app's token is refused at the next request: 401 invalid_token", answer.status === 401 && said.error === 'invalid_token',
    { status: answer.status, said });
  const since = log.length;
  const walks = provider.walks.length;
  const again = await attempt('whoami after the logout, the SDK authorizing anew', () => call(MCP, provider, 'whoami'));
  if (again === undefined) return;
  const refused = sent(since, 'POST', MCP)[0];
  check("the SDK's next call is refused (401), the person must log in again, and the call goes through",
    refused?.status === 401 && provider.walks[walks]?.pages?.[0] === 'login' && again['remote-user'] === ACCOUNT,
    { refused, walk: provider.walks[walks] });
}

async function main() {
  const provider = new Provider();
  if (await firstCall(provider)) {
    await stepUp(provider);
    await logOut(provider);
  }
  callbackServer.close();
  console.log(`${LABEL}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  fail('the run', error.stack || error);
  console.log(`${LABEL}: ${passed} passed, ${failed} failed`);
  process.exit(1);
});
