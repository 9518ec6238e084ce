// A real OpenID Connect provider (panva's oidc-provider) for gatehouse's social login tests.
// It logs users in without any interaction, and a small control API under /_test/ picks
// the account and can break the next ID token on purpose.
//
// Start: REDIRECT_URIS=http://127.0.0.1:8080/cb[,...] [PORT=0] node e2e/oidc/provider.mjs
// Once listening it prints one JSON line to stdout, {"issuer":"http://127.0.0.1:<port>","port":<port>},
// and nothing else there; diagnostics go to stderr.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

// oidc-provider prints some notices with console.info; stdout is kept for the ready line.
console.info = console.error;
console.log = console.error;

const HOST = '127.0.0.1';

const redirectUris = (process.env.REDIRECT_URIS ?? '').split(',').map((uri) => uri.trim()).filter(Boolean);
if (redirectUris.length === 0) {
  console.error('provider.mjs: REDIRECT_URIS (comma-separated redirect URIs) is required');
  process.exit(2);
}

const ACCOUNTS = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' },
  bob: { email: 'bob@example.com', email_verified: false, name: 'Bob' },
  carol: { email: 'carol@example.com', email_verified: true, name: 'Carol' },
  // At the domain an organization verifies in the single sign-on tests.
  ann: { email: 'ann@acme.test', email_verified: true, name: 'Ann Acme' },
  // At that domain too, but the provider does not say it verified the address.
  ceo: { email: 'ceo@acme.test', email_verified: false, name: 'Ceo Acme' },
  newbie: { email: 'newbie@acme.test', email_verified: false, name: 'New Acme' },
};
const DEFAULT_ACCOUNT = 'alice';

// What the control API has set.
const control = { account: DEFAULT_ACCOUNT, tamper: null };

async function newSigningKey(alg) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  return { kid, privateKey, jwk: { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' } };
}

const signingKeys = [await newSigningKey('RS256'), await newSigningKey('ES256')];

// Re-signs an ID token with the changes asked through POST /_test/tamper, with the provider's
// own key for that kid (so only the changed claim is wrong), or with a fresh key unknown to
// the JWKS when sign_with_unknown_key is set.
async function tamperIdToken(idToken, tamper) {
  const header = decodeProtectedHeader(idToken);
  const claims = decodeJwt(idToken);
  if (tamper.aud !== undefined) claims.aud = tamper.aud;
  if (tamper.nonce !== undefined) claims.nonce = tamper.nonce;
  if (tamper.iss !== undefined) claims.iss = tamper.iss;
  if (tamper.exp_offset_s !== undefined) {
    const lifetime = claims.exp - claims.iat;
    claims.exp = Math.floor(Date.now() / 1000) + tamper.exp_offset_s;
    claims.iat = claims.exp - lifetime;
  }
  const key = tamper.sign_with_unknown_key
    ? await newSigningKey(header.alg)
    : signingKeys.find((candidate) => candidate.kid === header.kid);
  return new SignJWT(claims).setProtectedHeader({ ...header, kid: key.kid }).sign(key.privateKey);
}

function client(clientId, secret, authMethod) {
  return {
    client_id: clientId,
    client_secret: secret,
    token_endpoint_auth_method: authMethod,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: redirectUris,
  };
}

function createProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: [
      client('gatehouse', 'gatehouse-secret', 'client_secret_basic'),
      client('gatehouse-post', 'gatehouse-post-secret', 'client_secret_post'),
      client('other', 'other-secret', 'client_secret_basic'),
    ],
    jwks: { keys: signingKeys.map((key) => key.jwk) },
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Claims of the granted scopes go into the ID token too, not only into userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = ACCOUNTS[sub];
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...account }) };
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
  });

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token') return;
    // oidc-provider takes client_secret_basic and client_secret_post interchangeably; a
    // client here must use the one it is registered with.
    const usedMethod = ctx.get('authorization') ? 'client_secret_basic' : 'client_secret_post';
    if (ctx.oidc?.client && ctx.oidc.client.clientAuthMethod !== usedMethod) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: `client authentication must use ${ctx.oidc.client.clientAuthMethod}` };
      return;
    }
    if (ctx.status === 200 && ctx.body?.id_token && control.tamper) {
      const { tamper } = control;
      control.tamper = null;
      ctx.body = { ...ctx.body, id_token: await tamperIdToken(ctx.body.id_token, tamper) };
    }
  });

  return provider;
}

// GET /interaction/:uid: logs in as the chosen account and grants everything asked.
async function finishInteraction(provider, req, res) {
  const { params } = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: control.account, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: control.account }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

// The provider never sees its session cookie, so every authorization request logs in afresh
// as the account currently chosen, even for a client that keeps its cookies.
function dropSessionCookie(req) {
  const { cookie } = req.headers;
  if (!cookie) return;
  req.headers.cookie = cookie
    .split(';')
    .filter((pair) => !/^\s*_session(\.[^=]*)?=/.test(pair))
    .join(';');
}

const TAMPER_FIELDS = {
  aud: (value) => typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string')),
  nonce: (value) => typeof value === 'string',
  iss: (value) => typeof value === 'string',
  exp_offset_s: (value) => Number.isFinite(value),
  sign_with_unknown_key: (value) => value === true,
};

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  const body = text ? JSON.parse(text) : {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SyntaxError('the body must be a JSON object');
  return body;
}

function answer(res, status, body) {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function handleControl(req, res, pathname) {
  const route = `${req.method} ${pathname}`;
  if (route === 'GET /_test/health') return answer(res, 200, { ok: true });
  if (route === 'POST /_test/reset') {
    control.account = DEFAULT_ACCOUNT;
    control.tamper = null;
    return answer(res, 204);
  }
  if (route === 'POST /_test/login') {
    const { sub } = await readJson(req);
    if (!Object.hasOwn(ACCOUNTS, sub)) {
      return answer(res, 400, { error: `unknown account, expected one of ${Object.keys(ACCOUNTS).join(', ')}` });
    }
    control.account = sub;
    return answer(res, 204);
  }
  if (route === 'POST /_test/tamper') {
    const tamper = await readJson(req);
    const bad = Object.keys(tamper).filter((field) => !TAMPER_FIELDS[field]?.(tamper[field]));
    if (bad.length > 0 || Object.keys(tamper).length === 0) {
      return answer(res, 400, { error: `expected some of ${Object.keys(TAMPER_FIELDS).join(', ')}, with valid values; wrong: ${bad.join(', ') || 'none given'}` });
    }
    control.tamper = tamper;
    return answer(res, 204);
  }
  return answer(res, 404, { error: `no control route ${route}` });
}

let provider;
let providerCallback;
const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://unused');
  try {
    if (pathname.startsWith('/_test/')) return await handleControl(req, res, pathname);
    if (req.method === 'GET' && pathname.startsWith('/interaction/')) return await finishInteraction(provider, req, res);
    dropSessionCookie(req);
    return providerCallback(req, res);
  } catch (error) {
    console.error(`provider.mjs: ${req.method} ${req.url}:`, error);
    if (!res.headersSent) answer(res, error instanceof SyntaxError ? 400 : error.statusCode ?? 500, { error: error.error_description ?? error.message });
  }
});

server.listen(Number(process.env.PORT || 0), HOST, () => {
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  provider = createProvider(issuer);
  provider.on('server_error', (_ctx, error) => console.error('provider.mjs: server_error', error));
  providerCallback = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
