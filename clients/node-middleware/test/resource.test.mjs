// gatehouse-middleware as a protected resource (the `resource` option), against a gatehouse of
// the test's own that lists two resources in GATEHOUSE_RESOURCES: real client-credentials
// tokens for one pass with their client and scopes, and are refused without the option, at the
// other resource, bound to a DPoP key, or lacking a route's scope; every refusal carries RFC
// 9728's challenge, whose metadata URL the app answers. Then the options and the canonical form,
// without gatehouse.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import express from "express";
import Fastify from "fastify";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from "jose";
import { canonicalResource, createVerifier, GatehouseError } from "gatehouse-middleware";
import { gatehouse, resourceMetadata } from "gatehouse-middleware/express";
import { gatehouseHook, resourceMetadata as fastifyMetadata } from "gatehouse-middleware/fastify";
import { gatehouse as httpGatehouse, resourceMetadata as httpMetadata } from "gatehouse-middleware/http";

import { assertProblem, call, claimsOf, fakeIssuer, freePort, get, headerOf, listen, ownGatehouse } from "./helpers.mjs";

/** Asserts the `403` of a missing scope: gatehouse's `forbidden` problem, and RFC 6750's challenge. */
function assertInsufficientScope(answer, challenge) {
  assert.equal(answer.status, 403, JSON.stringify(answer.body));
  assert.match(answer.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(answer.body.code, "forbidden");
  assert.equal(answer.body.type, "urn:gatehouse:problem:forbidden");
  assert.equal(answer.headers.get("www-authenticate"), challenge);
}

describe("a protected resource, with gatehouse's tokens for it", () => {
  let server;
  let port;
  let mcp;
  let reports;
  let metadataUrl;
  let client;
  let app;
  let options;

  /** `POST /oauth2/token` with client credentials for a resource: the answer's status and body. */
  async function tokenRequest(resource, scope, headers = {}) {
    const basic = Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64");
    const response = await fetch(`${server.base}/oauth2/token`, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ grant_type: "client_credentials", resource, scope }),
    });
    return { status: response.status, body: await response.json() };
  }

  async function tokenFor(resource, scope) {
    const answer = await tokenRequest(resource, scope);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.token_type, "Bearer");
    return answer.body.access_token;
  }

  before(async () => {
    port = await freePort();
    mcp = `http://127.0.0.1:${port}/mcp`;
    reports = `http://127.0.0.1:${port}/reports`;
    metadataUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
    server = await ownGatehouse("resource");
    await server.start({ GATEHOUSE_RESOURCES: `${mcp} mcp:tools mcp:admin, ${reports} reports:read` });

    const login = await call("POST", "/auth", { base: server.base, body: { email: server.admin.email, password: server.admin.password } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const registered = await call("POST", "/admin/clients", {
      base: server.base,
      token: login.body.access_token,
      body: { name: "Agent", grant_types: ["client_credentials"], scopes: ["mcp:tools", "mcp:admin", "reports:read"] },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    client = registered.body;

    options = { issuer: server.base, resource: mcp, resourceScopes: ["mcp:tools", "mcp:admin"], resourceName: "Test tools" };
    const application = express();
    application.use(resourceMetadata(options));
    application.get("/mcp", gatehouse(options), (req, res) => res.json(req.auth));
    application.get("/mcp/admin", gatehouse({ ...options, scopes: ["mcp:admin"] }), (req, res) => res.json(req.auth));
    application.get("/plain", gatehouse({ issuer: server.base }), (req, res) => res.json(req.auth));
    const listening = await new Promise((resolve) => {
      const s = application.listen(port, "127.0.0.1", () => resolve(s));
    });
    app = {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise((resolve) => {
          listening.closeAllConnections();
          listening.close(resolve);
        }),
    };
  });
  after(async () => {
    await app?.close();
    await server?.stop();
    await server?.remove();
  });

  test("a client's token for the resource passes, with its client, scopes and subject", async () => {
    // Asked for in another spelling: gatehouse writes the one canonical form in aud.
    const token = await tokenFor(`HTTP://127.0.0.1:${port}/mcp/`, "mcp:tools");
    assert.equal(headerOf(token).typ, "at+jwt");
    assert.equal(claimsOf(token).aud, mcp);

    const answer = await get(`${app.url}/mcp`, `Bearer ${token}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.isClient, true);
    assert.equal(answer.body.clientId, client.client_id);
    assert.deepEqual(answer.body.scopes, ["mcp:tools"]);
    assert.equal(answer.body.subject, client.client_id, "a client-credentials token's subject is its client");
    assert.equal(answer.body.accountId, client.client_id);
    assert.equal(answer.body.email, "");

    // The option in any spelling of the same URL.
    const verifier = createVerifier({ issuer: server.base, resource: `HTTP://127.0.0.1:${port}/mcp//` });
    assert.equal((await verifier.verify(token)).clientId, client.client_id);
  });

  test("without the resource option the same token is refused, as before", async () => {
    const token = await tokenFor(mcp, "mcp:tools");
    const answer = await get(`${app.url}/plain`, `Bearer ${token}`);
    assertProblem(answer, 401, "unauthorized", /"typ"\) is "at\+jwt", not "JWT"/);
    assert.equal(answer.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  });

  test("a token for the other resource is refused, with the challenge naming this one's metadata", async () => {
    const token = await tokenFor(reports, "reports:read");
    assert.equal(claimsOf(token).aud, reports);
    const answer = await get(`${app.url}/mcp`, `Bearer ${token}`);
    assertProblem(answer, 401, "unauthorized", /audience \("aud"\) is ".*\/reports", not the resource ".*\/mcp"/);
    assert.equal(
      answer.headers.get("www-authenticate"),
      `Bearer error="invalid_token", scope="mcp:tools mcp:admin", resource_metadata="${metadataUrl}"`,
    );
  });

  test("no token: 401 with the resource's challenge, naming the route's scope where it has one", async () => {
    const anonymous = await get(`${app.url}/mcp`);
    assertProblem(anonymous, 401, "unauthorized", /No access token/);
    assert.equal(anonymous.headers.get("www-authenticate"), `Bearer scope="mcp:tools mcp:admin", resource_metadata="${metadataUrl}"`);
    const admin = await get(`${app.url}/mcp/admin`);
    assert.equal(admin.headers.get("www-authenticate"), `Bearer scope="mcp:admin", resource_metadata="${metadataUrl}"`);
  });

  test("a scope the token lacks is 403 with insufficient_scope; a token with it passes", async () => {
    const narrow = await tokenFor(mcp, "mcp:tools");
    assertInsufficientScope(
      await get(`${app.url}/mcp/admin`, `Bearer ${narrow}`),
      `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${metadataUrl}"`,
    );
    const wide = await get(`${app.url}/mcp/admin`, `Bearer ${await tokenFor(mcp, "mcp:tools mcp:admin")}`);
    assert.equal(wide.status, 200, JSON.stringify(wide.body));
    assert.deepEqual(wide.body.scopes, ["mcp:tools", "mcp:admin"]);
  });

  test("the metadata document answers at the URL the challenge names", async () => {
    const challenge = (await get(`${app.url}/mcp`)).headers.get("www-authenticate");
    const url = /resource_metadata="([^"]+)"/.exec(challenge)[1];
    const answer = await get(url);
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get("content-type"), /^application\/json/);
    assert.equal(answer.headers.get("cache-control"), "public, max-age=60");
    assert.deepEqual(answer.body, {
      resource: mcp,
      authorization_servers: [server.base],
      scopes_supported: ["mcp:tools", "mcp:admin"],
      bearer_methods_supported: ["header"],
      resource_name: "Test tools",
    });
    // gatehouse's discovery answers for the authorization server it names.
    const discovery = await call("GET", "/.well-known/oauth-authorization-server", { base: answer.body.authorization_servers[0] });
    assert.equal(discovery.body.issuer, server.base);
  });

  test("a token bound to a DPoP key is refused as a bearer token, and with the DPoP scheme", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT({ htm: "POST", htu: `${server.base}/oauth2/token`, jti: randomUUID() })
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk })
      .setIssuedAt()
      .sign(privateKey);
    const answer = await tokenRequest(mcp, "mcp:tools", { dpop: proof });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.token_type, "DPoP");
    const bound = answer.body.access_token;
    assert.equal(claimsOf(bound).cnf.jkt, await calculateJwkThumbprint(jwk), "gatehouse bound it to the key");
    assert.equal(claimsOf(bound).aud, mcp);

    const asBearer = await get(`${app.url}/mcp`, `Bearer ${bound}`);
    assertProblem(asBearer, 401, "unauthorized", /bound to a key \(DPoP/);
    assert.equal(
      asBearer.headers.get("www-authenticate"),
      `Bearer error="invalid_token", scope="mcp:tools mcp:admin", resource_metadata="${metadataUrl}"`,
    );
    const asDpop = await get(`${app.url}/mcp`, `DPoP ${bound}`);
    assertProblem(asDpop, 401, "unauthorized", /DPoP scheme/);
    assert.match(asDpop.headers.get("www-authenticate"), /^Bearer error="invalid_request", /);
  });

  test("gatehouse's own access token passes as an account's, and carries no scope", async () => {
    const login = await call("POST", "/auth", { base: server.base, body: { email: server.admin.email, password: server.admin.password } });
    const own = login.body.access_token;
    const answer = await get(`${app.url}/mcp`, `Bearer ${own}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.isClient, false);
    assert.equal(answer.body.email, server.admin.email);
    assert.deepEqual(answer.body.scopes, []);
    assert.equal(answer.body.clientId, undefined);
    assertInsufficientScope(
      await get(`${app.url}/mcp/admin`, `Bearer ${own}`),
      `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${metadataUrl}"`,
    );
  });

  test("Fastify: the hook with scopes, and the metadata plugin", async () => {
    const fastify = Fastify();
    await fastify.register(fastifyMetadata, options);
    fastify.get("/mcp", { onRequest: gatehouseHook(options) }, async (request) => request.auth);
    fastify.get("/mcp/admin", { onRequest: gatehouseHook({ ...options, scopes: ["mcp:admin"] }) }, async (request) => request.auth);
    const url = await fastify.listen({ port: 0, host: "127.0.0.1" });
    try {
      const token = await tokenFor(mcp, "mcp:tools");
      const ok = await get(`${url}/mcp`, `Bearer ${token}`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.clientId, client.client_id);
      assertInsufficientScope(
        await get(`${url}/mcp/admin`, `Bearer ${token}`),
        `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${metadataUrl}"`,
      );
      const anonymous = await get(`${url}/mcp`);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get("www-authenticate"), `Bearer scope="mcp:tools mcp:admin", resource_metadata="${metadataUrl}"`);
      const metadata = await get(`${url}/.well-known/oauth-protected-resource/mcp`);
      assert.equal(metadata.status, 200);
      assert.equal(metadata.body.resource, mcp);
      assert.equal(metadata.headers.get("cache-control"), "public, max-age=60");
    } finally {
      await fastify.close();
    }
  });

  test("node:http: protect() with scopes, and the metadata handler", async () => {
    const metadata = httpMetadata(options);
    const protect = httpGatehouse({ ...options, scopes: ["mcp:admin"] }).protect((req, res) => res.end(req.auth.clientId));
    const api = await listen((req, res) => metadata(req, res) || protect(req, res));
    try {
      const ok = await get(`${api.url}/mcp`, `Bearer ${await tokenFor(mcp, "mcp:admin")}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, client.client_id);
      assertInsufficientScope(
        await get(`${api.url}/mcp`, `Bearer ${await tokenFor(mcp, "mcp:tools")}`),
        `Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="${metadataUrl}"`,
      );
      const answer = await get(`${api.url}/.well-known/oauth-protected-resource/mcp?x=1`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.resource_name, "Test tools");
      assert.equal((await get(`${api.url}/.well-known/oauth-protected-resource`)).status, 401, "another path is the app's");
    } finally {
      await api.close();
    }
  });
});

describe("a protected resource's tokens, signed by an issuer of the tests' own", () => {
  let issuer;
  const resource = "https://mcp.example.com/mcp";
  before(async () => {
    issuer = await fakeIssuer();
  });
  after(() => issuer.close());

  /** The claims of a client app's token for the resource. */
  function clientClaims(extra = {}) {
    const { iss, iat, exp, jti } = issuer.claims();
    return { iss, sub: "c0ffee", aud: resource, client_id: "c0ffee", scope: "mcp:tools", iat, exp, jti, ...extra };
  }

  async function refusal(verification) {
    try {
      await verification;
    } catch (error) {
      assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${error}`);
      return error;
    }
    assert.fail("expected the token to be refused");
  }

  test("aud may be a list, holding the resource in any spelling; one without it is refused", async () => {
    const verifier = createVerifier({ issuer: issuer.url, resource });
    const listed = await issuer.sign(clientClaims({ aud: ["https://other.example.com/", "HTTPS://MCP.example.com:443/mcp/"] }), { header: { typ: "at+jwt" } });
    assert.deepEqual((await verifier.verify(listed)).scopes, ["mcp:tools"]);
    const elsewhere = await issuer.sign(clientClaims({ aud: ["https://mcp.example.com/mcp/more", "https://mcp.example.com/"] }), { header: { typ: "at+jwt" } });
    const error = await refusal(verifier.verify(elsewhere));
    assert.equal(error.reason, "wrong_audience");
    assert.equal(error.headers["www-authenticate"], 'Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"');
  });

  test("a client token needs client_id, gatehouse's issuer, and no cnf", async () => {
    const verifier = createVerifier({ issuer: issuer.url, resource });
    const { client_id: _, ...anonymous } = clientClaims();
    assert.equal((await refusal(verifier.verify(await issuer.sign(anonymous, { header: { typ: "at+jwt" } })))).reason, "missing_claim");
    const foreign = await issuer.sign(clientClaims({ iss: "https://evil.example.com" }), { header: { typ: "at+jwt" } });
    assert.equal((await refusal(verifier.verify(foreign))).reason, "wrong_issuer");
    const bound = await issuer.sign(clientClaims({ cnf: { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }), { header: { typ: "at+jwt" } });
    assert.equal((await refusal(verifier.verify(bound))).reason, "dpop_bound");
  });

  test("requireAal: 2 and requireRole refuse a client token, which carries neither", async () => {
    const token = await issuer.sign(clientClaims(), { header: { typ: "at+jwt" } });
    const aal = await refusal(createVerifier({ issuer: issuer.url, resource, requireAal: 2 }).verify(token));
    assert.equal(aal.code, "insufficient_aal");
    assert.equal(aal.headers["www-authenticate"], undefined);
    const role = await refusal(createVerifier({ issuer: issuer.url, resource, requireRole: "admin" }).verify(token));
    assert.equal(role.code, "forbidden");
    assert.equal(role.reason, "role");
  });
});

describe("the resource options", () => {
  test("that cannot work are refused at once", () => {
    const issuer = "https://auth.example.com";
    assert.throws(() => createVerifier({ issuer, scopes: ["mcp:tools"] }), /set resource/);
    assert.throws(() => createVerifier({ issuer, resourceScopes: ["mcp:tools"] }), /set resource too/);
    assert.throws(() => createVerifier({ issuer, resource: "mcp.example.com/mcp" }), /not an absolute URL/);
    assert.throws(() => createVerifier({ issuer, resource: "http://mcp.example.com/mcp" }), /http only on a loopback address/);
    assert.throws(() => createVerifier({ issuer, resource: "https://mcp.example.com/mcp?x" }), /without user, query or fragment/);
    assert.throws(() => createVerifier({ issuer, resource: "https://mcp.example.com/mcp", live: "user" }), /does not go with resource/);
    assert.throws(() => createVerifier({ issuer, resource: "https://mcp.example.com/mcp", scopes: ["a b"] }), /list of scopes/);
    assert.throws(() => resourceMetadata({ issuer }), /needs the resource option/);
  });

  test("the canonical form is gatehouse's, and the metadata URL RFC 9728's", () => {
    assert.equal(canonicalResource("HTTPS://MCP.Example.com:443/mcp/"), "https://mcp.example.com/mcp");
    assert.equal(canonicalResource("https://mcp.example.com"), "https://mcp.example.com/");
    assert.equal(canonicalResource("https://mcp.example.com:8443//"), "https://mcp.example.com:8443/");
    assert.equal(canonicalResource("https://bücher.example/a/../api"), "https://xn--bcher-kva.example/api");
    assert.equal(canonicalResource("http://[::1]:80/mcp"), "http://[::1]/mcp");
    const offline = async () => new Response("", { status: 404 }); // the verifier's first fetch of the discovery document
    const metadataOf = (resource) => createVerifier({ issuer: "https://auth.example.com", resource, fetch: offline, log: () => {} }).resource.metadataUrl;
    assert.equal(metadataOf("https://mcp.example.com/"), "https://mcp.example.com/.well-known/oauth-protected-resource");
    assert.equal(metadataOf("https://mcp.example.com:8443/v1/mcp/"), "https://mcp.example.com:8443/.well-known/oauth-protected-resource/v1/mcp");
  });
});
