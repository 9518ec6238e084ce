// gatehouse-middleware/express over real HTTP, against the gatehouse that test/run.sh started:
// real tokens pass and expose their claims; every kind of bad token is refused with gatehouse's
// problem document; the options' requirements answer 403; the live check sees a logout.
import assert from "node:assert/strict";
import { generateKeyPair, SignJWT } from "jose";
import { after, before, describe, test } from "node:test";

import express from "express";
import { gatehouse, GatehouseError } from "gatehouse-middleware/express";

import {
  adminMadeAccount,
  adminToken,
  assertProblem,
  call,
  claimsOf,
  env,
  freePort,
  get,
  hs256,
  logIn,
  rawToken,
  signedUpAccount,
  totp,
  untilExpired,
} from "./helpers.mjs";

/** An Express app with `/api` protected by `gatehouse(options)`, on a free port. */
async function app(options, extra) {
  const application = express();
  const middleware = gatehouse({ issuer: env.base, ...options });
  application.get("/health", (req, res) => res.json({ ok: true }));
  application.use("/api", middleware);
  application.get("/api/me", (req, res) => res.json({ auth: req.auth, locals: res.locals.auth }));
  extra?.(application);
  const server = await new Promise((resolve) => {
    const s = application.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    middleware,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

describe("Express: a real token", () => {
  let api;
  before(async () => {
    api = await app({});
  });
  after(() => api.close());

  test("of an account that signed up and activated passes, with its claims as req.auth and res.locals.auth", async () => {
    const { account, email, password } = await signedUpAccount("express-signup");
    const { access_token } = await logIn(email, password);
    const answer = await get(`${api.url}/api/me`, `Bearer ${access_token}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { auth, locals } = answer.body;
    const claims = claimsOf(access_token);
    assert.equal(auth.accountId, account.id);
    assert.equal(auth.accountId, claims.sub);
    assert.equal(auth.email, email);
    assert.equal(auth.role, "user");
    assert.equal(auth.aal, 1);
    assert.deepEqual(auth.amr, ["pwd"]);
    assert.deepEqual(auth.appData, {});
    assert.equal(auth.sessionId, claims.sid);
    assert.equal(auth.org, undefined);
    assert.deepEqual(auth.claims, claims);
    assert.equal(auth.claims.iss, env.base);
    assert.equal(auth.claims.aud, env.base);
    assert.equal(auth.account, undefined, "no live check, no account");
    assert.deepEqual(locals, auth);
  });

  test("carries the app_data an admin wrote, and the admin's role", async () => {
    const { email, password } = await adminMadeAccount("express-appdata", { plan: "pro", seats: 3 });
    const user = await get(`${api.url}/api/me`, `Bearer ${(await logIn(email, password)).access_token}`);
    assert.equal(user.status, 200);
    assert.deepEqual(user.body.auth.appData, { plan: "pro", seats: 3 });

    const admin = await get(`${api.url}/api/me`, `Bearer ${await adminToken()}`);
    assert.equal(admin.status, 200);
    assert.equal(admin.body.auth.role, "admin");
    assert.equal(admin.body.auth.email, env.adminEmail);
  });

  test("routes outside the protected path are left alone", async () => {
    const answer = await get(`${api.url}/health`);
    assert.equal(answer.status, 200);
  });

  test("ready() resolves once gatehouse's discovery document and keys are read", async () => {
    await api.middleware.ready();
  });
});

describe("Express: refusals are 401 with gatehouse's problem document", () => {
  let api;
  let kid;
  before(async () => {
    api = await app({});
    kid = (await call("GET", "/.well-known/jwks.json")).body.keys[0].kid;
  });
  after(() => api.close());

  test("no token", async () => {
    const answer = await get(`${api.url}/api/me`);
    assertProblem(answer, 401, "unauthorized", /No access token/);
    assert.equal(answer.headers.get("www-authenticate"), "Bearer");
  });

  test("another scheme", async () => {
    const answer = await get(`${api.url}/api/me`, "Basic YWRtaW46YWRtaW4=");
    assertProblem(answer, 401, "unauthorized", /Bearer scheme/);
    assert.equal(answer.headers.get("www-authenticate"), 'Bearer error="invalid_request"');
  });

  test("garbage", async () => {
    for (const garbage of ["Bearer", "Bearer not-a-token", "Bearer a.b.c", "Bearer ....", `Bearer ${"x".repeat(9000)}.a.b`]) {
      const answer = await get(`${api.url}/api/me`, garbage);
      assertProblem(answer, 401, "unauthorized");
      assert.equal(answer.headers.get("www-authenticate"), 'Bearer error="invalid_token"', garbage.slice(0, 20));
    }
  });

  test("a token signed by another key under gatehouse's kid", async () => {
    const real = claimsOf(await adminToken());
    const { privateKey } = await generateKeyPair("EdDSA");
    const forged = await new SignJWT(real).setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" }).sign(privateKey);
    assertProblem(await get(`${api.url}/api/me`, `Bearer ${forged}`), 401, "unauthorized", /signature does not verify/);
  });

  test("a token signed by a key gatehouse does not publish", async () => {
    const real = claimsOf(await adminToken());
    const { privateKey } = await generateKeyPair("EdDSA");
    const forged = await new SignJWT(real).setProtectedHeader({ alg: "EdDSA", kid: "made-up", typ: "JWT" }).sign(privateKey);
    assertProblem(await get(`${api.url}/api/me`, `Bearer ${forged}`), 401, "unauthorized", /does not publish \("kid" "made-up"\)/);
  });

  test("alg none, an HMAC made with the public key, and another algorithm than the key's", async () => {
    const real = claimsOf(await adminToken());
    const jwk = (await call("GET", "/.well-known/jwks.json")).body.keys[0];
    const none = rawToken({ alg: "none", kid, typ: "JWT" }, real);
    assertProblem(await get(`${api.url}/api/me`, `Bearer ${none}`), 401, "unauthorized", /"alg" "none", but its key .* is an EdDSA key/);
    const hmac = hs256({ alg: "HS256", kid, typ: "JWT" }, real, Buffer.from(jwk.x, "base64url"));
    assertProblem(await get(`${api.url}/api/me`, `Bearer ${hmac}`), 401, "unauthorized", /"alg" "HS256", but its key .* is an EdDSA key/);
    const { privateKey } = await generateKeyPair("ES256");
    const es256 = await new SignJWT(real).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).sign(privateKey);
    assertProblem(await get(`${api.url}/api/me`, `Bearer ${es256}`), 401, "unauthorized", /"alg" "ES256", but its key .* is an EdDSA key/);
  });

  test("a real token for another audience", async () => {
    const other = await app({ audience: "https://api.example.com" });
    try {
      const answer = await get(`${other.url}/api/me`, `Bearer ${await adminToken()}`);
      assertProblem(answer, 401, "unauthorized", new RegExp(`audience \\("aud"\\) is "${env.base}", not "https://api.example.com"`));
    } finally {
      await other.close();
    }
  });

  test("an expired real token (no clock tolerance, then the default 5 s)", async () => {
    const strict = await app({ clockTolerance: 0 });
    try {
      const token = await adminToken();
      assert.equal((await get(`${strict.url}/api/me`, `Bearer ${token}`)).status, 200);
      await untilExpired(token);
      assertProblem(await get(`${strict.url}/api/me`, `Bearer ${token}`), 401, "unauthorized", /The token expired at .* \("exp"\)/);
      // Within the default tolerance of 5 s the same token still passes; past it, it does not.
      assert.equal((await get(`${api.url}/api/me`, `Bearer ${token}`)).status, 200);
      await untilExpired(token, 5);
      assertProblem(await get(`${api.url}/api/me`, `Bearer ${token}`), 401, "unauthorized", /expired/);
    } finally {
      await strict.close();
    }
  });
});

describe("Express: the options' requirements answer 403", () => {
  test("requireAal: 2 refuses a one-factor session and lets a two-factor one through", async () => {
    const api = await app({ requireAal: 2 });
    try {
      const { email, password } = await adminMadeAccount("express-aal");
      const pair = await logIn(email, password);
      const refused = await get(`${api.url}/api/me`, `Bearer ${pair.access_token}`);
      assertProblem(refused, 403, "insufficient_aal", /"aal" 2\); the token's session has "aal" 1/);

      // Enrol an authenticator: the session that confirms it is at level 2, and so is the next token.
      const enrolment = await call("POST", "/mfa/totp", { token: pair.access_token, body: { password } });
      assert.equal(enrolment.status, 200, JSON.stringify(enrolment.body));
      const confirmed = await call("POST", "/mfa/totp/confirm", { token: pair.access_token, body: { code: totp(enrolment.body.secret) } });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      const refreshed = await call("POST", "/auth/refresh", { body: { refresh_token: pair.refresh_token } });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const passed = await get(`${api.url}/api/me`, `Bearer ${refreshed.body.access_token}`);
      assert.equal(passed.status, 200, JSON.stringify(passed.body));
      assert.equal(passed.body.auth.aal, 2);
      assert.deepEqual(passed.body.auth.amr, ["pwd", "otp", "mfa"]);
    } finally {
      await api.close();
    }
  });

  test("requireRole: 'admin' refuses a user and lets the admin through", async () => {
    const api = await app({ requireRole: "admin" });
    try {
      const { email, password } = await adminMadeAccount("express-role");
      const refused = await get(`${api.url}/api/me`, `Bearer ${(await logIn(email, password)).access_token}`);
      assertProblem(refused, 403, "forbidden", /for the role "admin"; the account's role is "user"/);
      assert.equal((await get(`${api.url}/api/me`, `Bearer ${await adminToken()}`)).status, 200);
    } finally {
      await api.close();
    }
  });
});

describe("Express: live: 'user'", () => {
  test("refuses a token right after its logout, which the offline check accepts until it expires", async () => {
    const offline = await app({ clockTolerance: 0 });
    const live = await app({ clockTolerance: 0, live: "user" });
    try {
      const { account, email, password } = await adminMadeAccount("express-live");
      const { access_token } = await logIn(email, password);
      const before = await get(`${live.url}/api/me`, `Bearer ${access_token}`);
      assert.equal(before.status, 200, JSON.stringify(before.body));
      assert.equal(before.body.auth.account.id, account.id, "the live check exposes the account gatehouse answered");
      assert.equal(before.body.auth.account.email, email);

      const logout = await call("DELETE", "/auth", { token: access_token });
      assert.equal(logout.status, 204, JSON.stringify(logout.body));

      assertProblem(await get(`${live.url}/api/me`, `Bearer ${access_token}`), 401, "unauthorized", /session has ended/);
      assert.ok(Date.now() / 1000 < claimsOf(access_token).exp, "the token had not expired yet when it was refused");
      assert.equal((await get(`${offline.url}/api/me`, `Bearer ${access_token}`)).status, 200, "offline, a logged-out token passes until exp");
      await untilExpired(access_token);
      assertProblem(await get(`${offline.url}/api/me`, `Bearer ${access_token}`), 401, "unauthorized", /expired/);
    } finally {
      await offline.close();
      await live.close();
    }
  });

  test("live: 'introspect' is refused at once: gatehouse does not introspect its own tokens", () => {
    assert.throws(() => gatehouse({ issuer: env.base, live: "introspect" }), /not offered.*\/oauth2\/introspect.*live: 'user'/s);
  });
});

describe("Express: gatehouse misconfigured or away", () => {
  test("an issuer spelled localhost where gatehouse says 127.0.0.1 fails at start, naming both", async () => {
    const logged = [];
    const api = await app({ issuer: `http://localhost:${env.port}`, log: (error) => logged.push(error) });
    try {
      await assert.rejects(api.middleware.ready(), (error) => {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.code, "internal_error");
        assert.equal(error.reason, "issuer_mismatch");
        assert.ok(error.message.includes(`"http://localhost:${env.port}"`), error.message);
        assert.ok(error.message.includes(`"${env.base}"`), error.message);
        return true;
      });
      assert.equal(logged[0]?.reason, "issuer_mismatch", "reported at start without anyone asking");
      const answer = await get(`${api.url}/api/me`, `Bearer ${await adminToken()}`);
      assertProblem(answer, 500, "internal_error");
      assert.doesNotMatch(answer.body.detail, /localhost/, "the cause stays in the server's log");
    } finally {
      await api.close();
    }
  });

  test("a gatehouse that cannot be reached answers 503, and a missing token still 401", async () => {
    const logged = [];
    const api = await app({ issuer: `http://127.0.0.1:${await freePort()}`, log: (error) => logged.push(error) });
    try {
      await assert.rejects(api.middleware.ready(), (error) => error instanceof GatehouseError && error.code === "unavailable");
      const answer = await get(`${api.url}/api/me`, `Bearer ${await adminToken()}`);
      assertProblem(answer, 503, "unavailable");
      assert.equal(answer.headers.get("retry-after"), "1");
      assert.match(logged.at(-1).message, /discovery document could not be fetched/);
      assertProblem(await get(`${api.url}/api/me`), 401, "unauthorized");
    } finally {
      await api.close();
    }
  });
});
