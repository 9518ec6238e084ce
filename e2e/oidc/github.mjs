// A small local stand-in for GitHub's OAuth2 web flow (not OpenID Connect) and the two REST
// calls a login needs, /user and /user/emails, with GitHub's quirks: the token endpoint
// answers form-encoded unless asked for JSON, and its errors come with HTTP 200. A control
// API under /_test/ picks the user who approves the next authorizations.
//
// Start: [PORT=0] node e2e/oidc/github.mjs
// Once listening it prints one JSON line to stdout, {"base":"http://127.0.0.1:<port>","port":<port>}.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

const HOST = '127.0.0.1';
const CLIENT_ID = 'gh-client';
const CLIENT_SECRET = 'gh-secret';
const CODE_TTL_MS = 10 * 60 * 1000;

const USERS = {
  octo: {
    profile: { id: 1001, login: 'octo', name: 'The Octocat', email: null },
    emails: [
      { email: 'octo@example.com', primary: true, verified: true, visibility: 'private' },
      { email: 'octo-old@example.com', primary: false, verified: true, visibility: null },
    ],
  },
  unverified: {
    profile: { id: 1002, login: 'unverified', name: 'Unverified User', email: null },
    emails: [{ email: 'unverified@example.com', primary: true, verified: false, visibility: 'private' }],
  },
  public: {
    profile: { id: 1003, login: 'public', name: 'Public User', email: 'public@example.com' },
    emails: [{ email: 'public@example.com', primary: true, verified: true, visibility: 'public' }],
  },
};
const DEFAULT_USER = 'octo';

const TOKEN_ERRORS = {
  bad_verification_code: 'The code passed is incorrect or expired.',
  incorrect_client_credentials: 'The client_id and/or client_secret passed are incorrect.',
  redirect_uri_mismatch: 'The redirect_uri MUST match the registered callback URL for this application.',
};

let currentUser = DEFAULT_USER;
const codes = new Map(); // code -> { user, redirectUri, scope, codeChallenge, expiresAt }
const tokens = new Map(); // access token -> { user, scope }

const newSecret = (prefix) => `${prefix}_${randomBytes(18).toString('base64url')}`;

function send(res, status, body, headers = {}) {
  res.writeHead(status, headers).end(body);
}

function sendJson(res, status, value) {
  send(res, status, JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8' });
}

async function readBody(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  if (!text) return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(text);
  return Object.fromEntries(new URLSearchParams(text));
}

// GET /login/oauth/authorize: approved at once by the current user.
function authorize(res, query) {
  if (query.get('client_id') !== CLIENT_ID) {
    return send(res, 404, '<html><body><h1>404 Not Found</h1></body></html>', { 'content-type': 'text/html' });
  }
  const redirectUri = query.get('redirect_uri');
  const codeChallenge = query.get('code_challenge');
  if (!redirectUri) return send(res, 400, 'redirect_uri is required', { 'content-type': 'text/plain' });
  if (codeChallenge && query.get('code_challenge_method') !== 'S256') {
    return send(res, 400, 'code_challenge_method must be S256', { 'content-type': 'text/plain' });
  }
  const code = randomBytes(10).toString('hex');
  codes.set(code, {
    user: currentUser,
    redirectUri,
    scope: (query.get('scope') ?? '').split(/[\s,]+/).filter(Boolean).join(','),
    codeChallenge,
    expiresAt: Date.now() + CODE_TTL_MS,
  });
  const location = new URL(redirectUri);
  location.searchParams.set('code', code);
  if (query.has('state')) location.searchParams.set('state', query.get('state'));
  return send(res, 302, '', { location: location.href });
}

// Checks a token request; returns the error code, or null with the code's grant consumed.
function redeem(params) {
  if (params.client_id !== CLIENT_ID || params.client_secret !== CLIENT_SECRET) return { error: 'incorrect_client_credentials' };
  const grant = codes.get(params.code);
  codes.delete(params.code);
  if (!grant || grant.expiresAt < Date.now()) return { error: 'bad_verification_code' };
  if (params.redirect_uri && params.redirect_uri !== grant.redirectUri) return { error: 'redirect_uri_mismatch' };
  if (grant.codeChallenge) {
    const computed = params.code_verifier && createHash('sha256').update(params.code_verifier).digest('base64url');
    if (computed !== grant.codeChallenge) return { error: 'bad_verification_code' };
  }
  return { grant };
}

// POST /login/oauth/access_token: parameters from the query, a form or a JSON body.
async function accessToken(req, res, query) {
  const params = { ...Object.fromEntries(query), ...(await readBody(req)) };
  const { error, grant } = redeem(params);
  let answer;
  if (error) {
    answer = {
      error,
      error_description: TOKEN_ERRORS[error],
      error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${error.replaceAll('_', '-')}`,
    };
  } else {
    const token = newSecret('gho');
    tokens.set(token, { user: grant.user, scope: grant.scope });
    answer = { access_token: token, token_type: 'bearer', scope: grant.scope };
  }
  if ((req.headers.accept ?? '').includes('application/json')) return sendJson(res, 200, answer);
  return send(res, 200, new URLSearchParams(answer).toString(), { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
}

// GET /user and /user/emails: the REST API's checks, then the user's data.
function api(req, res, pathname) {
  if (!req.headers['user-agent']) {
    return sendJson(res, 403, {
      message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.',
      documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required',
    });
  }
  const authorization = req.headers.authorization;
  if (!authorization) return sendJson(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
  const [, token] = authorization.match(/^(?:bearer|token)\s+(\S+)$/i) ?? [];
  const session = tokens.get(token);
  if (!session) return sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
  const user = USERS[session.user];
  if (pathname === '/user/emails') return sendJson(res, 200, user.emails);
  return sendJson(res, 200, {
    ...user.profile,
    node_id: `U_${Buffer.from(String(user.profile.id)).toString('base64url')}`,
    avatar_url: `https://avatars.example.com/u/${user.profile.id}`,
    html_url: `https://github.com/${user.profile.login}`,
    type: 'User',
    site_admin: false,
  });
}

async function control(req, res, pathname) {
  const route = `${req.method} ${pathname}`;
  if (route === 'GET /_test/health') return sendJson(res, 200, { ok: true });
  if (route === 'POST /_test/reset') {
    currentUser = DEFAULT_USER;
    return send(res, 204);
  }
  if (route === 'POST /_test/login') {
    const { user } = await readBody(req);
    if (!Object.hasOwn(USERS, user)) return sendJson(res, 400, { error: `unknown user, expected one of ${Object.keys(USERS).join(', ')}` });
    currentUser = user;
    return send(res, 204);
  }
  return sendJson(res, 404, { error: `no control route ${route}` });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://unused');
  const route = `${req.method} ${url.pathname}`;
  try {
    if (url.pathname.startsWith('/_test/')) return await control(req, res, url.pathname);
    if (route === 'GET /login/oauth/authorize') return authorize(res, url.searchParams);
    if (route === 'POST /login/oauth/access_token') return await accessToken(req, res, url.searchParams);
    if (route === 'GET /user' || route === 'GET /user/emails') return api(req, res, url.pathname);
    return sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  } catch (error) {
    console.error(`github.mjs: ${route}:`, error);
    return sendJson(res, error instanceof SyntaxError ? 400 : 500, { message: String(error.message ?? error) });
  }
});

server.listen(Number(process.env.PORT || 0), HOST, () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ base: `http://${HOST}:${port}`, port })}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
