// gatehouse's OpenID Connect provider as openid-client (v6) sees it: discovery, the
// authorization-code flow with PKCE and a nonce (the library builds the request and checks the
// callback and the ID token; the login and consent forms are posted over plain HTTP, as a
// browser would), userinfo, refresh, introspection, revocation, RP-initiated logout, client
// credentials and a first-party public client; then what must be refused: redirect URIs that
// are not registered (open redirects, another client's), a spent refresh token (the family
// dies), another client's code or ID token.
//
// Run by ../run.sh, which starts gatehouse and sets:
//   GATEHOUSE_RP_BASE            gatehouse's address, also its issuer (http://127.0.0.1:PORT)
//   GATEHOUSE_RP_ADMIN_EMAIL     the bootstrap admin
//   GATEHOUSE_RP_ADMIN_PASSWORD
// Prints one line per check and exits 1 at the first that fails.

import * as client from 'openid-client';
import { Browser, checks, httpTo, parseForm, setUp, settings } from './helpers.mjs';

const { base, adminEmail, adminPassword } = settings();
const issuer = base;
const origin = new URL(base).origin;
const LABEL = 'openid-client';

// The checks, and raw HTTP: the admin API, and requests a library would never send.
const { ok, check, equal, refused, describe, run } = checks();
const http = httpTo(base);

/** The JSON payload and header of a JWT, unverified (for claims the library does not expose). */
function jwtParts(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  return { header, payload };
}

// ------------------------------------------------------------------------------------------
// An authorization request, built by the library and walked in a browser.

/**
 * Walks an authorization request in `browser` until gatehouse sends it to a URL that is not
 * its own (the client's redirect URI, never fetched). Logs in with `login` when asked, answers
 * consent with `decision`. Returns { callback, sawLogin, sawConsent }.
 */
async function authorize(browser, authUrl, { login, decision = 'allow', expect = {} } = {}) {
  let url = authUrl.href ?? authUrl;
  let sawLogin = false;
  let sawConsent = false;
  for (let step = 0; step < 10; step += 1) {
    const page = await browser.get(url);
    let next;
    if (page.status === 303 || page.status === 302) {
      next = new URL(page.location, url).href;
    } else if (page.status === 200 && new URL(url).pathname === '/login') {
      check(`${expect.label ?? 'flow'}: a login is asked for`, !!login, 'no login was expected here');
      sawLogin = true;
      const form = parseForm(page.text, url, 'login');
      check(`${expect.label ?? 'flow'}: the login page has its form (form, next)`, form && form.fields.form && form.fields.next, page.text.slice(0, 400));
      equal(`${expect.label ?? 'flow'}: the login form posts to /login`, new URL(form.action).pathname, '/login');
      const answer = await browser.post(form.action, { ...form.fields, login: login.login, password: login.password });
      check(`${expect.label ?? 'flow'}: the login is accepted (303 on)`, answer.status === 303 && browser.cookies.has('gatehouse_session'), `${answer.status} ${answer.text.slice(0, 300)}`);
      next = new URL(answer.location, form.action).href;
    } else if (page.status === 200 && new URL(url).pathname === '/oauth2/authorize') {
      sawConsent = true;
      const form = parseForm(page.text, url, 'consent');
      check(`${expect.label ?? 'flow'}: the consent page has its form (form, request, allow/deny)`,
        form && form.fields.form && form.fields.request && form.buttons.some((b) => b.name === 'decision' && b.value === decision),
        page.text.slice(0, 400));
      equal(`${expect.label ?? 'flow'}: the consent form posts to /oauth2/consent`, new URL(form.action).pathname, '/oauth2/consent');
      const answer = await browser.post(form.action, { ...form.fields, decision });
      check(`${expect.label ?? 'flow'}: the consent answer sends the browser on (303)`, answer.status === 303, `${answer.status} ${answer.text.slice(0, 300)}`);
      next = new URL(answer.location, form.action).href;
    } else {
      check(`${expect.label ?? 'flow'}: gatehouse answers ${url}`, false, `${page.status} ${page.text.slice(0, 400)}`);
    }
    if (new URL(next).origin !== origin) return { callback: new URL(next), sawLogin, sawConsent };
    url = next;
  }
  check(`${expect.label ?? 'flow'}: the flow ends`, false, 'more than 10 steps');
}

/** The redirect URI each configuration sends. */
const redirectUris = new Map();

/** A fresh authorization request built by the library: its URL and the checks for its answer. */
async function request(config, params = {}) {
  const redirectUri = redirectUris.get(config);
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedNonce = client.randomNonce();
  const expectedState = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    nonce: expectedNonce,
    state: expectedState,
    redirect_uri: redirectUri,
    ...params,
  });
  return { url, checks: { pkceCodeVerifier, expectedNonce, expectedState, idTokenExpected: true } };
}

/** The status an openid-client error carries (a refused request), if any. */
function statusOf(error) {
  return error?.status ?? error?.cause?.status ?? error?.response?.status;
}

// ------------------------------------------------------------------------------------------
async function main() {
  // Set-up through the admin API.
  const { person: ann, personId: annId, register } = await setUp({ http, check }, { adminEmail, adminPassword },
    { email: 'ann@example.com', name: 'Ann Example', username: 'ann' });
  const notes = await register({
    name: 'Notes (openid-client)',
    redirect_uris: ['https://notes.example.com/cb'],
    post_logout_redirect_uris: ['https://notes.example.com/bye'],
    confidential: true,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes: ['openid', 'profile', 'email', 'offline_access', 'app_data'],
    first_party: false,
  });
  check('set-up: a confidential client gets its secret once', typeof notes.client_secret === 'string' && notes.client_secret.length >= 20, notes);
  const wiki = await register({
    name: 'Wiki (openid-client)',
    redirect_uris: ['https://wiki.example.net/cb'],
    post_logout_redirect_uris: ['https://wiki.example.net/bye'],
    confidential: true,
    first_party: false,
  });
  const desktop = await register({
    name: 'Desktop (openid-client)',
    redirect_uris: ['http://127.0.0.1/callback'],
    confidential: false,
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    first_party: true,
  });
  check('set-up: a public client has no secret', !desktop.client_secret, desktop);

  // ----------------------------------------------------------------------------------------
  // Discovery.
  const insecure = { execute: [client.allowInsecureRequests] };
  const notesConfig = await client.discovery(new URL(issuer), notes.client_id, notes.client_secret, client.ClientSecretBasic(notes.client_secret), insecure);
  const meta = notesConfig.serverMetadata();
  equal('discovery: the issuer is the public URL', meta.issuer, issuer);
  for (const [key, path] of [
    ['authorization_endpoint', '/oauth2/authorize'],
    ['token_endpoint', '/oauth2/token'],
    ['userinfo_endpoint', '/oauth2/userinfo'],
    ['revocation_endpoint', '/oauth2/revoke'],
    ['introspection_endpoint', '/oauth2/introspect'],
    ['end_session_endpoint', '/oauth2/logout'],
    ['jwks_uri', '/.well-known/jwks.json'],
  ]) {
    equal(`discovery: ${key}`, meta[key], `${issuer}${path}`);
  }
  check('discovery: PKCE S256 only', JSON.stringify(meta.code_challenge_methods_supported) === '["S256"]', meta.code_challenge_methods_supported);
  check('discovery: response_type code only', JSON.stringify(meta.response_types_supported) === '["code"]', meta.response_types_supported);
  check('discovery: the answer carries iss (RFC 9207)', meta.authorization_response_iss_parameter_supported === true, meta);
  const wikiConfig = await client.discovery(new URL(issuer), wiki.client_id, wiki.client_secret, client.ClientSecretPost(wiki.client_secret), insecure);
  redirectUris.set(notesConfig, 'https://notes.example.com/cb');
  redirectUris.set(wikiConfig, 'https://wiki.example.net/cb');

  // ----------------------------------------------------------------------------------------
  // The authorization-code flow, a confidential client that asks for consent.
  const browser = new Browser();
  const first = await request(notesConfig);
  equal('code flow: the library asks for S256', first.url.searchParams.get('code_challenge_method'), 'S256');
  const walked = await authorize(browser, first.url, { login: ann, expect: { label: 'code flow' } });
  check('code flow: gatehouse asked to log in, then for consent', walked.sawLogin && walked.sawConsent, walked);
  equal('code flow: the answer goes to the registered redirect URI', `${walked.callback.origin}${walked.callback.pathname}`, 'https://notes.example.com/cb');
  equal('code flow: the answer carries iss', walked.callback.searchParams.get('iss'), issuer);
  const tokens = await client.authorizationCodeGrant(notesConfig, walked.callback, first.checks);
  ok('code flow: openid-client accepts the callback and the ID token (signature, iss, aud, nonce, exp)');
  const claims = tokens.claims();
  equal('ID token: sub is ann', claims.sub, annId);
  equal('ID token: aud is the client', Array.isArray(claims.aud) ? claims.aud.join() : claims.aud, notes.client_id);
  equal('ID token: azp is the client', claims.azp, notes.client_id);
  equal('ID token: iss', claims.iss, issuer);
  equal('ID token: nonce', claims.nonce, first.checks.expectedNonce);
  equal('ID token: email', claims.email, ann.login);
  equal('ID token: name', claims.name, 'Ann Example');
  equal('ID token: preferred_username', claims.preferred_username, 'ann');
  check('ID token: auth_time, amr, acr and sid', typeof claims.auth_time === 'number' && Array.isArray(claims.amr) && claims.acr && claims.sid, claims);
  equal('tokens: token_type Bearer', tokens.token_type.toLowerCase(), 'bearer');
  check('tokens: a refresh token with offline_access', typeof tokens.refresh_token === 'string', tokens);
  check('tokens: expires_in', tokens.expiresIn() > 0, tokens);
  equal('tokens: scope', tokens.scope, 'openid profile email offline_access');
  const access = jwtParts(tokens.access_token);
  equal('access token: typ at+jwt', access.header.typ, 'at+jwt');
  equal('access token: aud is the client', access.payload.aud, notes.client_id);

  const info = await client.fetchUserInfo(notesConfig, tokens.access_token, claims.sub);
  equal('userinfo: sub', info.sub, annId);
  equal('userinfo: email', info.email, ann.login);
  equal('userinfo: name', info.name, 'Ann Example');

  const refreshed = await client.refreshTokenGrant(notesConfig, tokens.refresh_token);
  check('refresh: a new refresh token, not the old one', refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, refreshed);
  check('refresh: a new access token', refreshed.access_token && refreshed.access_token !== tokens.access_token, refreshed);
  equal('refresh: the new ID token is still ann', refreshed.claims()?.sub, annId);
  equal('refresh: the new access token works at userinfo', (await client.fetchUserInfo(notesConfig, refreshed.access_token, annId)).sub, annId);

  const introspected = await client.tokenIntrospection(notesConfig, refreshed.access_token);
  check('introspection: active, with client_id and sub', introspected.active === true && introspected.client_id === notes.client_id && introspected.sub === annId, introspected);

  // ----------------------------------------------------------------------------------------
  // Organizations: the `org` scope puts the organization named by `org_hint` (ann belongs to
  // two) in the ID token, userinfo and introspection; the latter two read it live.
  const annAuth = await http('POST', '/auth', { json: { email: ann.login, password: ann.password } });
  check('organizations: ann logs in (POST /auth)', annAuth.status === 200, `${annAuth.status} ${annAuth.text.slice(0, 300)}`);
  for (const [name, slug] of [['Alpha', 'alpha'], ['Beta', 'beta']]) {
    const made = await http('POST', '/orgs', { token: annAuth.json.access_token, json: { name, slug } });
    check(`organizations: ann creates ${slug}`, made.status === 201, `${made.status} ${made.text.slice(0, 300)}`);
  }
  const teams = await register({
    name: 'Teams (openid-client)',
    redirect_uris: ['https://teams.example.com/cb'],
    confidential: true,
    scopes: ['openid', 'email', 'org'],
    first_party: false,
  });
  const teamsConfig = await client.discovery(new URL(issuer), teams.client_id, teams.client_secret, client.ClientSecretBasic(teams.client_secret), insecure);
  redirectUris.set(teamsConfig, 'https://teams.example.com/cb');
  check('discovery: the org scope and claim are listed',
    teamsConfig.serverMetadata().scopes_supported.includes('org') && teamsConfig.serverMetadata().claims_supported.includes('org'),
    teamsConfig.serverMetadata());
  const inBeta = await request(teamsConfig, { scope: 'openid email org', org_hint: 'beta' });
  const walkedBeta = await authorize(browser, inBeta.url, { expect: { label: 'org scope' } });
  check('org scope: consent is asked for the new client', walkedBeta.sawConsent, walkedBeta);
  const teamTokens = await client.authorizationCodeGrant(teamsConfig, walkedBeta.callback, inBeta.checks);
  ok('org scope: openid-client accepts the ID token');
  const orgClaim = teamTokens.claims().org;
  check('ID token: org names beta, the org_hint, with ann\'s role and permissions',
    orgClaim && orgClaim.slug === 'beta' && orgClaim.role === 'owner' && orgClaim.permissions.includes('org:delete') && typeof orgClaim.id === 'string',
    teamTokens.claims());
  const teamInfo = await client.fetchUserInfo(teamsConfig, teamTokens.access_token, annId);
  equal('userinfo: org is beta', teamInfo.org?.slug, 'beta');
  const teamIntrospected = await client.tokenIntrospection(teamsConfig, teamTokens.access_token);
  equal('introspection: org is beta', teamIntrospected.org?.slug, 'beta');
  const deleted = await http('DELETE', '/orgs/beta', { token: annAuth.json.access_token });
  equal('organizations: ann deletes beta', deleted.status, 204);
  const afterDelete = await client.fetchUserInfo(teamsConfig, teamTokens.access_token, annId);
  check('userinfo: read live, no org once beta is gone', afterDelete.sub === annId && afterDelete.org === undefined, afterDelete);
  const notesInfo = await client.fetchUserInfo(notesConfig, refreshed.access_token, annId);
  check('userinfo: a client without the org scope never sees one', notesInfo.org === undefined, notesInfo);

  // A second request in the same browser: no login, and the consent is remembered.
  const again = await request(notesConfig);
  const walkedAgain = await authorize(browser, again.url, { expect: { label: 'second request' } });
  check('second request: no login and no consent page this time', !walkedAgain.sawLogin && !walkedAgain.sawConsent, walkedAgain);
  const second = await client.authorizationCodeGrant(notesConfig, walkedAgain.callback, again.checks);
  ok('second request: openid-client accepts it');
  await client.tokenRevocation(notesConfig, second.access_token);
  ok('revocation: the access token is revoked (200)');
  await refused('revocation: userinfo then refuses the access token (401)', () => client.fetchUserInfo(notesConfig, second.access_token, annId),
    (e) => statusOf(e) === 401 || `status ${statusOf(e)}: ${describe(e)}`);
  equal('revocation: userinfo over raw HTTP says 401', (await http('GET', '/oauth2/userinfo', { token: second.access_token })).status, 401);
  equal('revocation: introspection says inactive', (await client.tokenIntrospection(notesConfig, second.access_token)).active, false);
  await refused('revocation: the session\'s refresh token is dead too (invalid_grant)', () => client.refreshTokenGrant(notesConfig, second.refresh_token),
    (e) => e.error === 'invalid_grant' || describe(e));
  equal('revocation: the other client session lives on', (await client.fetchUserInfo(notesConfig, refreshed.access_token, annId)).sub, annId);

  // ----------------------------------------------------------------------------------------
  // Refused: redirect URIs that are not registered, exactly, for this client.
  const authorizeUrl = (params) => {
    const u = new URL(meta.authorization_endpoint);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    return u.href;
  };
  const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
  const goodParams = {
    client_id: notes.client_id,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    redirect_uri: 'https://notes.example.com/cb',
  };
  const control = await browser.get(authorizeUrl(goodParams));
  check('control: the same request with the registered redirect URI gets a code', control.status === 303 && new URL(control.location).searchParams.has('code'), control);
  for (const [label, uri] of [
    ['an unregistered redirect_uri', 'https://notes.example.com/other'],
    ['a look-alike host (https://notes.example.com.evil.com/cb)', 'https://notes.example.com.evil.com/cb'],
    ['a path escape (https://notes.example.com/cb/../evil)', 'https://notes.example.com/cb/../evil'],
    ['an added query (https://notes.example.com/cb?x=1)', 'https://notes.example.com/cb?x=1'],
    ['a trailing slash', 'https://notes.example.com/cb/'],
    ['http instead of https', 'http://notes.example.com/cb'],
    ["another client's redirect_uri (Wiki's, with Notes' client_id)", 'https://wiki.example.net/cb'],
    [undefined, undefined],
  ]) {
    const r = await browser.get(authorizeUrl({ ...goodParams, redirect_uri: uri }));
    const name = label ?? 'a missing redirect_uri';
    check(`refused: ${name} → 400 page, no redirect`, r.status === 400 && !r.location && /text\/html/.test(r.headers.get('content-type') ?? ''),
      `${r.status} location=${r.location} ${r.text.slice(0, 200)}`);
  }
  {
    const r = await browser.get(authorizeUrl({ ...goodParams, client_id: 'no-such-client' }));
    check('refused: an unknown client_id → 400 page, no redirect', r.status === 400 && !r.location, `${r.status} ${r.location}`);
  }
  {
    // Wiki's client_id with Notes' redirect URI: the other direction of the same mix-up.
    const r = await browser.get(authorizeUrl({ ...goodParams, client_id: wiki.client_id }));
    check("refused: Notes' redirect_uri with Wiki's client_id → 400 page, no redirect", r.status === 400 && !r.location, `${r.status} ${r.location}`);
  }
  {
    const r = await browser.get(authorizeUrl({ ...goodParams, code_challenge_method: 'plain', code_challenge: challenge }));
    const to = r.location ? new URL(r.location) : undefined;
    check('refused: code_challenge_method=plain → redirect with error=invalid_request', r.status === 303 && to?.searchParams.get('error') === 'invalid_request' && !to.searchParams.has('code'), r);
    equal('refused: the error answer carries state', to.searchParams.get('state'), 'st');
  }

  // ----------------------------------------------------------------------------------------
  // Another client's code, another client's ID token.
  {
    const req = await request(notesConfig);
    const { callback } = await authorize(browser, req.url, { expect: { label: "Notes' code at Wiki" } });
    // Wiki's library is handed Notes' callback (same state, so its own checks pass) and redeems
    // the code with Wiki's credentials.
    await refused("wrong client: Notes' code redeemed by Wiki → invalid_grant", () => client.authorizationCodeGrant(wikiConfig, callback, req.checks),
      (e) => e.error === 'invalid_grant' || describe(e));
  }
  {
    // A real token response of Notes, delivered to Wiki's library (a mix-up): its ID token's
    // aud is Notes, and the library configured as Wiki must not take it.
    const req = await request(notesConfig);
    const { callback } = await authorize(browser, req.url, { expect: { label: "Notes' ID token at Wiki" } });
    const redeemed = await http('POST', meta.token_endpoint, {
      basic: [notes.client_id, notes.client_secret],
      form: { grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: 'https://notes.example.com/cb', code_verifier: req.checks.pkceCodeVerifier },
    });
    check("wrong aud: Notes redeems its code (raw HTTP) and gets an ID token", redeemed.status === 200 && redeemed.json?.id_token, redeemed.text);
    equal("wrong aud: that ID token's aud is Notes", jwtParts(redeemed.json.id_token).payload.aud, notes.client_id);
    const mixedUp = await client.discovery(new URL(issuer), wiki.client_id, wiki.client_secret, client.ClientSecretPost(wiki.client_secret), insecure);
    mixedUp[client.customFetch] = async (url, options) => {
      if (url === meta.token_endpoint) {
        return new Response(redeemed.text, { status: 200, headers: { 'content-type': 'application/json' } });
      }
      return fetch(url, options);
    };
    await refused("wrong aud: openid-client configured as Wiki rejects Notes' ID token", () => client.authorizationCodeGrant(mixedUp, callback, req.checks),
      (e) => (e.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && e.cause?.cause?.claim === 'aud') || describe(e));
  }

  // ----------------------------------------------------------------------------------------
  // A spent refresh token presented again: the whole family ends.
  {
    const req = await request(notesConfig);
    const { callback } = await authorize(browser, req.url, { expect: { label: 'refresh reuse' } });
    const t0 = await client.authorizationCodeGrant(notesConfig, callback, req.checks);
    const t1 = await client.refreshTokenGrant(notesConfig, t0.refresh_token);
    const t2 = await client.refreshTokenGrant(notesConfig, t1.refresh_token);
    check('refresh reuse: three distinct refresh tokens', new Set([t0.refresh_token, t1.refresh_token, t2.refresh_token]).size === 3, [t0, t1, t2]);
    equal('refresh reuse: the latest access token works', (await client.fetchUserInfo(notesConfig, t2.access_token, annId)).sub, annId);
    await refused('refresh reuse: the first refresh token again → invalid_grant', () => client.refreshTokenGrant(notesConfig, t0.refresh_token),
      (e) => e.error === 'invalid_grant' || describe(e));
    await refused('refresh reuse: the latest refresh token is refused too (invalid_grant)', () => client.refreshTokenGrant(notesConfig, t2.refresh_token),
      (e) => e.error === 'invalid_grant' || describe(e));
    equal('refresh reuse: the latest access token is refused at userinfo (401)', (await http('GET', '/oauth2/userinfo', { token: t2.access_token })).status, 401);
    equal('refresh reuse: introspection says inactive', (await client.tokenIntrospection(notesConfig, t2.access_token)).active, false);
  }

  // ----------------------------------------------------------------------------------------
  // RP-initiated logout.
  {
    const req = await request(notesConfig);
    const { callback } = await authorize(browser, req.url, { expect: { label: 'logout' } });
    const t = await client.authorizationCodeGrant(notesConfig, callback, req.checks);
    const bad = await browser.get(client.buildEndSessionUrl(notesConfig, {
      id_token_hint: t.id_token, post_logout_redirect_uri: 'https://evil.example.com/bye', state: 'ls',
    }).href);
    check('refused: an unregistered post_logout_redirect_uri → 400 page, no redirect', bad.status === 400 && !bad.location, `${bad.status} ${bad.location}`);
    const wikiLogout = await browser.get(client.buildEndSessionUrl(notesConfig, {
      id_token_hint: t.id_token, post_logout_redirect_uri: 'https://wiki.example.net/bye', state: 'ls',
    }).href);
    check("refused: another client's post_logout_redirect_uri → 400 page, no redirect", wikiLogout.status === 400 && !wikiLogout.location, `${wikiLogout.status} ${wikiLogout.location}`);
    equal('refused logouts left the session alone (userinfo still 200)', (await http('GET', '/oauth2/userinfo', { token: t.access_token })).status, 200);

    const state = client.randomState();
    const out = await browser.get(client.buildEndSessionUrl(notesConfig, {
      id_token_hint: t.id_token, post_logout_redirect_uri: 'https://notes.example.com/bye', state,
    }).href);
    const to = out.location ? new URL(out.location) : undefined;
    check('logout: 303 to the registered post_logout_redirect_uri', out.status === 303 && `${to?.origin}${to?.pathname}` === 'https://notes.example.com/bye', out);
    equal('logout: state comes back', to.searchParams.get('state'), state);
    equal('logout: the client session granted through the login ended (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: t.access_token })).status, 401);
    equal('logout: so did the earlier one (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: refreshed.access_token })).status, 401);
    const silent = await request(notesConfig, { prompt: 'none' });
    const { callback: none } = await authorize(browser, silent.url, { expect: { label: 'prompt=none' } });
    await refused('logout: prompt=none then answers login_required', () => client.authorizationCodeGrant(notesConfig, none, silent.checks),
      (e) => e.error === 'login_required' || describe(e));
  }

  // ----------------------------------------------------------------------------------------
  // Client credentials.
  {
    const cc = await client.clientCredentialsGrant(notesConfig, { scope: 'app_data' });
    const { header, payload } = jwtParts(cc.access_token);
    equal('client credentials: typ at+jwt', header.typ, 'at+jwt');
    equal('client credentials: sub is the client', payload.sub, notes.client_id);
    equal('client credentials: aud is the client', payload.aud, notes.client_id);
    check('client credentials: no refresh token, no ID token', !cc.refresh_token && !cc.id_token, cc);
    const inspected = await client.tokenIntrospection(notesConfig, cc.access_token);
    check('client credentials: introspection active, sub = client_id', inspected.active === true && inspected.sub === notes.client_id, inspected);
    const u = await http('GET', '/oauth2/userinfo', { token: cc.access_token });
    check('client credentials: userinfo refuses it (no openid, no person)', u.status !== 200, `${u.status} ${u.text}`);
    equal('client credentials: that refusal is 403', u.status, 403);
    await refused('client credentials: openid cannot be asked for (invalid_scope)', () => client.clientCredentialsGrant(notesConfig, { scope: 'openid' }),
      (e) => e.error === 'invalid_scope' || describe(e));
    await refused('client credentials: Wiki is not allowed the grant (unauthorized_client)', () => client.clientCredentialsGrant(wikiConfig),
      (e) => e.error === 'unauthorized_client' || describe(e));
  }

  // ----------------------------------------------------------------------------------------
  // A first-party public client: no consent page, client_id only.
  {
    const sent = [];
    const desktopConfig = await client.discovery(new URL(issuer), desktop.client_id, { token_endpoint_auth_method: 'none' }, client.None(), insecure);
    desktopConfig[client.customFetch] = async (url, options) => {
      if (url === meta.token_endpoint) sent.push({ headers: new Headers(options.headers), body: String(options.body) });
      return fetch(url, options);
    };
    // A native app's loopback redirect URI: the registered one has no port, this run's has one.
    const port = 49152 + Math.floor(Math.random() * 16000);
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const req = await request(desktopConfig, { redirect_uri: redirectUri });
    const fresh = new Browser();
    const walkedDesktop = await authorize(fresh, req.url, { login: ann, expect: { label: 'public client' } });
    check('public client: a login, and no consent page (first-party)', walkedDesktop.sawLogin && !walkedDesktop.sawConsent, walkedDesktop);
    equal('public client: the answer goes to the loopback URI with its port', `${walkedDesktop.callback.origin}${walkedDesktop.callback.pathname}`, `http://127.0.0.1:${port}/callback`);
    const t = await client.authorizationCodeGrant(desktopConfig, walkedDesktop.callback, req.checks);
    ok('public client: openid-client accepts the callback and the ID token');
    const body = new URLSearchParams(sent[0]?.body);
    check('public client: the token request carries client_id and no secret', body.get('client_id') === desktop.client_id && !body.has('client_secret') && !sent[0].headers.has('authorization'), sent[0]);
    equal('public client: ID token sub', t.claims().sub, annId);
    equal('public client: ID token aud', t.claims().aud, desktop.client_id);
    equal('public client: ID token nonce', t.claims().nonce, req.checks.expectedNonce);
    equal('public client: userinfo', (await client.fetchUserInfo(desktopConfig, t.access_token, annId)).email, ann.login);
    const r = await client.refreshTokenGrant(desktopConfig, t.refresh_token);
    check('public client: refresh rotates the token', r.refresh_token && r.refresh_token !== t.refresh_token, r);
    await refused('public client: introspection is for confidential clients (invalid_client)', () => client.tokenIntrospection(desktopConfig, r.access_token),
      (e) => e.error === 'invalid_client' || describe(e));
    await client.tokenRevocation(desktopConfig, r.refresh_token);
    equal('public client: revoking the refresh token ends the session (userinfo 401)', (await http('GET', '/oauth2/userinfo', { token: r.access_token })).status, 401);
  }
}

await run(LABEL, main);
