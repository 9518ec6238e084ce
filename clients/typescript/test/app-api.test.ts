// The whole story of a web app: the page logs in at gatehouse and calls the app's own API with
// `gatehouse.fetch`; the API (a small node:http server here) verifies the token with
// gatehouse-client/server. An expired token is refreshed once and the request sent again.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";

import { Gatehouse, MfaRequired } from "gatehouse-client";
import { bearerToken, verifyAccessToken } from "gatehouse-client/server";

import { activeAccount, countingFetch, env, untilExpired } from "./helpers.js";

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text;
}

const api = createServer(async (request, response) => {
  const token = bearerToken(request.headers.authorization);
  try {
    if (!token) throw new Error("no token");
    const claims = await verifyAccessToken(token, { issuer: env.base, audience: env.base });
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ sub: claims.sub, email: claims.email, echo: await bodyOf(request) }));
  } catch {
    response.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
    response.end();
  }
});
let apiUrl = "";

before(async () => {
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => api.close(() => resolve())));

describe("gatehouse.fetch: the app's own API", () => {
  test("sends the token, refreshes an expired one once and sends the request again, with its body", async () => {
    const { account, email, password } = await activeAccount("app");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const login = await gatehouse.logIn({ email, password });
    assert.ok(!(login instanceof MfaRequired));

    const first = await gatehouse.fetch(`${apiUrl}/orders`);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { sub: account.id, email, echo: "" });
    assert.equal(counter.refreshes(), 0);

    await untilExpired(login.access_token);
    counter.reset();
    const order = await gatehouse.fetch(new URL("/orders", apiUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ item: "tea" }),
    });
    assert.equal(order.status, 200);
    assert.deepEqual(await order.json(), { sub: account.id, email, echo: '{"item":"tea"}' });
    assert.deepEqual(
      counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`),
      ["POST /orders 401", "POST /auth/refresh 200", "POST /orders 200"],
    );

    await gatehouse.logOut();
    counter.reset();
    const out = await gatehouse.fetch(`${apiUrl}/orders`);
    assert.equal(out.status, 401, "logged out: the API's 401 comes back as it is");
    assert.equal(counter.calls.length, 1);
    assert.equal(counter.calls[0]?.authorization, null);
  });

  test("an Authorization header of the caller's own is left alone and never refreshed", async () => {
    const { email, password } = await activeAccount("own-header");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    assert.ok(!((await gatehouse.logIn({ email, password })) instanceof MfaRequired));
    counter.reset();
    const answer = await gatehouse.fetch(`${apiUrl}/orders`, { headers: { Authorization: "Bearer not-a-token" } });
    assert.equal(answer.status, 401);
    assert.deepEqual(counter.calls.map((c) => c.authorization), ["Bearer not-a-token"]);
  });
});
