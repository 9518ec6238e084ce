// gatehouse-middleware/http over real HTTP, against the gatehouse that test/run.sh started: the
// protect() wrapper and authenticate(req) in a handler of one's own.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { gatehouse, GatehouseError, sendError } from "gatehouse-middleware/http";

import { adminMadeAccount, adminToken, assertProblem, claimsOf, env, get, listen, logIn } from "./helpers.mjs";

describe("node:http: protect()", () => {
  let app;
  let aal2;
  before(async () => {
    const auth = gatehouse({ issuer: env.base });
    const strict = gatehouse({ issuer: env.base, requireAal: 2 });
    app = await listen(
      auth.protect(async (req, res) => {
        if (req.url === "/fails") throw new Error("a bug in the handler");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(req.auth));
      }),
    );
    aal2 = await listen(strict.protect((req, res) => res.end("second factor")));
  });
  after(async () => {
    await app.close();
    await aal2.close();
  });

  test("a real token reaches the handler with req.auth", async () => {
    const { account, email, password } = await adminMadeAccount("http-protect");
    const token = (await logIn(email, password)).access_token;
    const answer = await get(`${app.url}/anything`, `Bearer ${token}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.accountId, account.id);
    assert.equal(answer.body.email, email);
    assert.equal(answer.body.sessionId, claimsOf(token).sid);
    assert.deepEqual(answer.body.amr, ["pwd"]);
  });

  test("no token and a bad one are 401 problems; requireAal: 2 is a 403", async () => {
    assertProblem(await get(`${app.url}/anything`), 401, "unauthorized", /No access token/);
    assertProblem(await get(`${app.url}/anything`, "Bearer e30.e30.e30"), 401, "unauthorized");
    assertProblem(await get(`${aal2.url}/`, `Bearer ${await adminToken()}`), 403, "insufficient_aal");
  });

  test("a handler that throws is answered 500 without its error", async () => {
    const answer = await get(`${app.url}/fails`, `Bearer ${await adminToken()}`);
    assertProblem(answer, 500, "internal_error");
    assert.doesNotMatch(answer.body.detail, /a bug in the handler/);
  });
});

describe("node:http: authenticate(req)", () => {
  test("returns the caller, or throws a GatehouseError to answer with sendError", async () => {
    const auth = gatehouse({ issuer: env.base });
    await auth.ready();
    const seen = [];
    const app = await listen(async (req, res) => {
      try {
        const who = await auth.authenticate(req);
        res.end(`hello ${who.email}`);
      } catch (error) {
        seen.push(error);
        if (error instanceof GatehouseError) sendError(res, error);
        else throw error;
      }
    });
    try {
      const ok = await get(app.url, `Bearer ${await adminToken()}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, `hello ${env.adminEmail}`);

      assertProblem(await get(app.url), 401, "unauthorized");
      assert.ok(seen[0] instanceof GatehouseError);
      assert.equal(seen[0].status, 401);
      assert.equal(seen[0].code, "unauthorized");
      assert.equal(seen[0].reason, "missing_token");
      assert.deepEqual(seen[0].problem, {
        type: "urn:gatehouse:problem:unauthorized",
        title: "Unauthorized",
        status: 401,
        detail: "No access token: send it as Authorization: Bearer <token>.",
        code: "unauthorized",
      });
    } finally {
      await app.close();
    }
  });
});
