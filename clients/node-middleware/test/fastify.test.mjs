// gatehouse-middleware/fastify over real HTTP, against the gatehouse that test/run.sh started:
// the plugin protecting the routes of its scope only, and the hook of a single route.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import Fastify from "fastify";
import { gatehouse, gatehouseHook } from "gatehouse-middleware/fastify";

import { adminMadeAccount, adminToken, assertProblem, env, get, logIn } from "./helpers.mjs";

describe("Fastify", () => {
  let app;
  let url;
  // Fastify's own warnings and errors (a reply sent twice, a hook that failed), which must be none.
  const logged = [];
  before(async () => {
    app = Fastify({ logger: { level: "warn", stream: { write: (line) => logged.push(line) } } });
    app.get("/health", async () => ({ ok: true }));
    app.register(
      async (api) => {
        await api.register(gatehouse, { issuer: env.base });
        api.get("/me", async (request) => request.auth);
      },
      { prefix: "/api" },
    );
    app.get("/admin-only", { onRequest: gatehouseHook({ issuer: env.base, requireRole: "admin" }) }, async (request) => ({
      email: request.auth.email,
    }));
    app.get("/second-factor", { onRequest: gatehouseHook({ issuer: env.base, requireAal: 2 }) }, async () => ({ ok: true }));
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  after(() => app.close());

  test("the plugin lets a real token through with request.auth", async () => {
    const { account, email, password } = await adminMadeAccount("fastify", { tier: "gold" });
    const answer = await get(`${url}/api/me`, `Bearer ${(await logIn(email, password)).access_token}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.accountId, account.id);
    assert.equal(answer.body.email, email);
    assert.deepEqual(answer.body.appData, { tier: "gold" });
  });

  test("the plugin refuses no token and a bad one with gatehouse's problem, and leaves other scopes alone", async () => {
    assertProblem(await get(`${url}/api/me`), 401, "unauthorized", /No access token/);
    assertProblem(await get(`${url}/api/me`, "Bearer nonsense"), 401, "unauthorized");
    assert.equal((await get(`${url}/health`)).status, 200);
  });

  test("a route's own hook: requireRole and requireAal answer 403", async () => {
    const { email, password } = await adminMadeAccount("fastify-hook");
    const user = (await logIn(email, password)).access_token;
    assertProblem(await get(`${url}/admin-only`, `Bearer ${user}`), 403, "forbidden");
    const admin = await get(`${url}/admin-only`, `Bearer ${await adminToken()}`);
    assert.equal(admin.status, 200);
    assert.equal(admin.body.email, env.adminEmail);
    assertProblem(await get(`${url}/second-factor`, `Bearer ${user}`), 403, "insufficient_aal");
    assertProblem(await get(`${url}/second-factor`), 401, "unauthorized");
  });

  test("Fastify logged no warning and no error", () => {
    assert.deepEqual(logged, []);
  });
});
