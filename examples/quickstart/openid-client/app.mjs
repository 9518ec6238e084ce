// A web app that logs people in through gatehouse, its OpenID Connect provider, with
// openid-client v6: discovery, the authorization code flow with PKCE and a nonce, the ID token
// checked (its signature too), userinfo, refresh and logout.
//
//   npm install openid-client
//   GATEHOUSE_ISSUER=http://127.0.0.1:8080 CLIENT_ID=… CLIENT_SECRET=… node app.mjs
//
// Register the app first, with the redirect URI http://127.0.0.1:3000/callback and the
// post-logout redirect URI http://127.0.0.1:3000/ (docs/INTEGRATING.md, "Quickstarts").
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as client from 'openid-client';

const app = new URL(process.env.APP_URL ?? 'http://127.0.0.1:3000');
const config = await client.discovery(
  new URL(process.env.GATEHOUSE_ISSUER), // the "issuer" of gatehouse's discovery, spelled exactly so
  process.env.CLIENT_ID,
  process.env.CLIENT_SECRET,
  undefined,
  {
    execute: [
      // Only because gatehouse is served over plain http on a loopback address here. In
      // production gatehouse is https, and this line goes.
      client.allowInsecureRequests,
      // Also check the signature of the ID token that comes straight from the token endpoint,
      // against gatehouse's JWKS (openid-client skips that unless told).
      client.enableNonRepudiationChecks,
    ],
  },
);

const sessions = new Map(); // this app's own sessions, by the random id in its cookie

async function handle(path, url, sid, session) {
  if (path === '/login') {
    const id = randomBytes(16).toString('base64url');
    const login = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    sessions.set(id, login);
    const to = client.buildAuthorizationUrl(config, {
      redirect_uri: new URL('/callback', app).href,
      scope: 'openid profile email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
      state: login.state,
      nonce: login.nonce,
    });
    return { status: 302, location: to.href, cookie: `sid=${id}; Path=/; HttpOnly; SameSite=Lax` };
  }
  if (path === '/callback' && session?.verifier) {
    // Checks the state, the iss of the answer, the PKCE verifier and the ID token (signature,
    // iss, aud, exp, nonce) before anything else.
    session.tokens = await client.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: session.verifier,
      expectedState: session.state,
      expectedNonce: session.nonce,
    });
    return { status: 302, location: new URL('/me', app).href };
  }
  if (!session?.tokens) return { status: path === '/' ? 200 : 401, body: { logged_in: false } };
  if (path === '/' || path === '/me') {
    const { sub } = session.tokens.claims(); // the account id: key your users on it
    const info = await client.fetchUserInfo(config, session.tokens.access_token, sub);
    return { status: 200, body: { logged_in: true, sub, email: info.email, name: info.name } };
  }
  if (path === '/refresh') {
    const before = session.tokens.access_token;
    session.tokens = await client.refreshTokenGrant(config, session.tokens.refresh_token); // spends it
    return { status: 200, body: { refreshed: session.tokens.access_token !== before, sub: session.tokens.claims()?.sub } };
  }
  if (path === '/logout') {
    sessions.delete(sid);
    // Ends the login at gatehouse, and every app session granted through it.
    const to = client.buildEndSessionUrl(config, {
      id_token_hint: session.tokens.id_token,
      post_logout_redirect_uri: new URL('/', app).href,
    });
    return { status: 302, location: to.href };
  }
  return { status: 404, body: { error: 'not found' } };
}

createServer(async (request, response) => {
  const url = new URL(request.url, app);
  const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(request.headers.cookie ?? '')?.[1];
  let answer;
  try {
    answer = await handle(url.pathname, url, sid, sessions.get(sid));
  } catch (error) {
    answer = { status: 502, body: { error: error.code ?? error.name, message: error.message } };
  }
  const headers = { 'content-type': 'application/json' };
  if (answer.location) headers.location = answer.location;
  if (answer.cookie) headers['set-cookie'] = answer.cookie;
  response.writeHead(answer.status, headers).end(JSON.stringify(answer.body ?? {}));
}).listen(Number(app.port), app.hostname, () => console.log(`listening on ${app.origin}`));
