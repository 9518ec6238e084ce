// The previous major versions the package supports, Express 4 and Fastify 4 (installed as
// express4 and fastify4), against the gatehouse that test/run.sh started: a real token passes
// with its claims, no token is a 401 problem, requireAal: 2 a 403.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import express from "express4";
import Fastify from "fastify4";
import { gatehouse as expressGatehouse } from "gatehouse-middleware/express";
import { gatehouse as fastifyGatehouse, gatehouseHook } from "gatehouse-middleware/fastify";

import { adminMadeAccount, assertProblem, env, get, logIn } from "./helpers.mjs";

describe("Express 4", () => {
  test("protects a path, answers 401 and 403 as Express 5 does", async () => {
    assert.match((await import("express4/package.json", { with: { type: "json" } })).default.version, /^4\./);
    const app = express();
    app.use("/api", expressGatehouse({ issuer: env.base }));
    app.get("/api/me", (req, res) => res.json({ auth: req.auth, locals: res.locals.auth }));
    app.get("/aal2", expressGatehouse({ issuer: env.base, requireAal: 2 }), (req, res) => res.json({ ok: true }));
    const server = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const url = `http://127.0.0.1:${server.address().port}`;
    try {
      const { account, email, password } = await adminMadeAccount("express4");
      const token = (await logIn(email, password)).access_token;
      const ok = await get(`${url}/api/me`, `Bearer ${token}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.auth.accountId, account.id);
      assert.deepEqual(ok.body.locals, ok.body.auth);
      assertProblem(await get(`${url}/api/me`), 401, "unauthorized");
      assertProblem(await get(`${url}/aal2`, `Bearer ${token}`), 403, "insufficient_aal");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("Fastify 4", () => {
  test("the plugin and the hook, as with Fastify 5", async () => {
    const logged = [];
    const app = Fastify({ logger: { level: "warn", stream: { write: (line) => logged.push(line) } } });
    assert.match(app.version, /^4\./);
    app.register(
      async (api) => {
        await api.register(fastifyGatehouse, { issuer: env.base });
        api.get("/me", async (request) => request.auth);
      },
      { prefix: "/api" },
    );
    app.get("/aal2", { onRequest: gatehouseHook({ issuer: env.base, requireAal: 2 }) }, async () => ({ ok: true }));
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const { account, email, password } = await adminMadeAccount("fastify4");
      const token = (await logIn(email, password)).access_token;
      const ok = await get(`${url}/api/me`, `Bearer ${token}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.accountId, account.id);
      assertProblem(await get(`${url}/api/me`), 401, "unauthorized");
      assertProblem(await get(`${url}/aal2`, `Bearer ${token}`), 403, "insufficient_aal");
      assert.deepEqual(logged, []);
    } finally {
      await app.close();
    }
  });
});
