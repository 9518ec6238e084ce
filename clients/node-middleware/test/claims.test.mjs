// The checks of a token's header and claims that real tokens cannot show, with an issuer of the
// tests' own (helpers.mjs fakeIssuer) that signs whatever a test needs: the key's algorithm
// decides, never the header's; gatehouse's `typ`; `aal`; `nbf`; `iss`; required claims; `org`;
// the live check's answers; and the options refused at once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { createVerifier, GatehouseError } from "gatehouse-middleware";

import { fakeIssuer } from "./helpers.mjs";

async function refusal(verification) {
  try {
    await verification;
  } catch (error) {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${error}`);
    return error;
  }
  assert.fail("expected the token to be refused");
}

describe("header and claims", () => {
  let issuer;
  let verifier;
  before(async () => {
    issuer = await fakeIssuer();
    verifier = createVerifier({ issuer: issuer.url });
    await verifier.ready();
  });
  after(() => issuer.close());

  test("each key verifies with the algorithm its JWK declares: EdDSA, ES256, RS256", async () => {
    for (const key of ["EdDSA", "ES256", "RS256"]) {
      const auth = await verifier.verify(await issuer.sign(issuer.claims(), { key }));
      assert.equal(auth.email, "ann@example.com", key);
      assert.deepEqual(auth.appData, { plan: "pro" });
    }
  });

  test("a header naming another algorithm than its key's is refused, whatever the signature", async () => {
    // Signed with the ES256 key but naming the EdDSA key.
    const token = await issuer.sign(issuer.claims(), { key: "ES256", header: { kid: issuer.keys.EdDSA.kid } });
    const error = await refusal(verifier.verify(token));
    assert.equal(error.reason, "wrong_algorithm");
    assert.match(error.message, /"alg" "ES256", but its key "test-eddsa" is an EdDSA key/);
  });

  test("keys without an alg, and HMAC keys, verify nothing", async () => {
    const noAlg = await refusal(verifier.verify(await issuer.sign(issuer.claims(), { key: "noAlg" })));
    assert.equal(noAlg.reason, "unknown_key");
    const hmac = await refusal(verifier.verify(await issuer.sign(issuer.claims(), { key: "hmac" })));
    assert.equal(hmac.reason, "unknown_key");
  });

  test("only gatehouse's own access tokens: typ JWT", async () => {
    const client = await refusal(verifier.verify(await issuer.sign(issuer.claims(), { header: { typ: "at+jwt" } })));
    assert.equal(client.reason, "wrong_type");
    assert.match(client.message, /"typ"\) is "at\+jwt", not "JWT"/);
    const none = await refusal(verifier.verify(await issuer.sign(issuer.claims(), { header: { typ: undefined } })));
    assert.equal(none.reason, "wrong_type");
  });

  test("the issuer, named with what was expected", async () => {
    const error = await refusal(verifier.verify(await issuer.sign(issuer.claims({ iss: "https://evil.example.com" }))));
    assert.equal(error.reason, "wrong_issuer");
    assert.equal(error.message, `The token's issuer ("iss") is "https://evil.example.com", not "${issuer.url}".`);
  });

  test("the audience: the issuer by default, or any of those configured", async () => {
    const other = issuer.claims({ aud: "https://api.example.com" });
    assert.equal((await refusal(verifier.verify(await issuer.sign(other)))).reason, "wrong_audience");
    const api = createVerifier({ issuer: issuer.url, audience: ["https://api.example.com", "https://other.example.com"] });
    assert.equal((await api.verify(await issuer.sign(other))).email, "ann@example.com");
    const both = issuer.claims({ aud: ["https://x.example.com", issuer.url] });
    assert.equal((await verifier.verify(await issuer.sign(both))).email, "ann@example.com");
  });

  test("exp and nbf, with the clock tolerance", async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.sign(issuer.claims({ exp: now - 3 }));
    assert.equal((await verifier.verify(expired)).email, "ann@example.com", "within the default 5 s");
    const strict = createVerifier({ issuer: issuer.url, clockTolerance: 0 });
    assert.equal((await refusal(strict.verify(expired))).reason, "expired");
    const early = await issuer.sign(issuer.claims({ nbf: now + 60 }));
    const error = await refusal(verifier.verify(early));
    assert.equal(error.reason, "not_yet_valid");
    assert.match(error.message, /not valid yet \("nbf"\)/);
  });

  test("every claim gatehouse always issues is required", async () => {
    for (const claim of ["sub", "sid", "exp", "iat", "email", "role"]) {
      const claims = issuer.claims();
      delete claims[claim];
      const error = await refusal(verifier.verify(await issuer.sign(claims)));
      assert.equal(error.reason, "missing_claim", claim);
      assert.match(error.message, new RegExp(`no "${claim}" claim`));
    }
    const numeric = await refusal(verifier.verify(await issuer.sign(issuer.claims({ sid: 42 }))));
    assert.match(numeric.message, /"sid" claim is not a string/);
  });

  test("aal: 0 is refused with 403, a missing one counts as 1, requireAal: 2 wants 2", async () => {
    const enrolment = await refusal(verifier.verify(await issuer.sign(issuer.claims({ aal: 0 }))));
    assert.equal(enrolment.status, 403);
    assert.equal(enrolment.code, "mfa_enrolment_required");
    const claims = issuer.claims();
    delete claims.aal;
    assert.equal((await verifier.verify(await issuer.sign(claims))).aal, 1);

    const strict = createVerifier({ issuer: issuer.url, requireAal: 2 });
    const one = await refusal(strict.verify(await issuer.sign(issuer.claims())));
    assert.equal(one.status, 403);
    assert.equal(one.code, "insufficient_aal");
    assert.equal((await strict.verify(await issuer.sign(issuer.claims({ aal: 2, amr: ["pwd", "otp", "mfa"] })))).aal, 2);
  });

  test("the org claim, when present, is exposed as auth.org", async () => {
    const org = { id: "01930000-0000-7000-8000-0000000000aa", slug: "acme", role: "owner", permissions: ["billing:read"] };
    const auth = await verifier.verify(await issuer.sign(issuer.claims({ org })));
    assert.deepEqual(auth.org, org);
    assert.deepEqual(auth.claims.org, org);
  });

  test("unsigned and HMAC-signed tokens under a real kid", async () => {
    const claims = Buffer.from(JSON.stringify(issuer.claims())).toString("base64url");
    const header = Buffer.from(JSON.stringify({ alg: "none", kid: issuer.keys.EdDSA.kid, typ: "JWT" })).toString("base64url");
    assert.equal((await refusal(verifier.verify(`${header}.${claims}.`))).reason, "wrong_algorithm");
    const hs = await issuer.sign(issuer.claims(), { key: "hmac", header: { kid: issuer.keys.EdDSA.kid } });
    assert.equal((await refusal(verifier.verify(hs))).reason, "wrong_algorithm");
  });
});

describe("the live check, live: 'user'", () => {
  let issuer;
  before(async () => {
    issuer = await fakeIssuer();
  });
  after(() => issuer.close());

  test("asks gatehouse on every request: the account while the session lives, 401 once it ended, 503 otherwise", async () => {
    const live = createVerifier({ issuer: issuer.url, live: "user" });
    const claims = issuer.claims();
    const token = await issuer.sign(claims);
    const asked = () => issuer.fetches.filter((path) => path === "/user").length;

    assert.deepEqual((await live.verify(token)).account, { id: claims.sub, email: "live@example.com" });
    assert.deepEqual((await live.verify(token)).account, { id: claims.sub, email: "live@example.com" });
    assert.equal(asked(), 2, "nothing is cached");

    issuer.ended.add(claims.sid);
    const ended = await refusal(live.verify(token));
    assert.equal(ended.status, 401);
    assert.equal(ended.reason, "session_ended");

    issuer.userStatus = 500;
    const down = await refusal(live.verify(await issuer.sign(issuer.claims())));
    assert.equal(down.status, 503);
    assert.equal(down.code, "unavailable");
    assert.match(down.message, /GET .*\/user answered 500/);
    issuer.userStatus = undefined;

    // The offline checks come first: a bad token never reaches gatehouse.
    const before = asked();
    await refusal(live.verify(await issuer.sign(issuer.claims({ aud: "https://api.example.com" }))));
    assert.equal(asked(), before);
  });
});

describe("options", () => {
  test("that cannot work are refused at once", () => {
    assert.throws(() => createVerifier({}), /issuer option is required/);
    assert.throws(() => createVerifier({ issuer: "auth.example.com" }), /is not a URL/);
    assert.throws(() => createVerifier({ issuer: "ftp://auth.example.com" }), /not an http\(s\) URL/);
    assert.throws(() => createVerifier({ issuer: "https://auth.example.com", requireAal: 3 }), /requireAal is 1 or 2/);
    assert.throws(() => createVerifier({ issuer: "https://auth.example.com", live: "introspect" }), /not offered/);
    assert.throws(() => createVerifier({ issuer: "https://auth.example.com", live: true }), /live is false or 'user'/);
    assert.throws(() => createVerifier({ issuer: "https://auth.example.com", clockTolerance: -1 }), /clockTolerance is a number of seconds/);
  });

  test("a trailing slash on the issuer is the same issuer", async () => {
    const issuer = await fakeIssuer();
    try {
      const verifier = createVerifier({ issuer: `${issuer.url}/` });
      assert.equal((await verifier.verify(await issuer.sign(issuer.claims()))).email, "ann@example.com");
    } finally {
      await issuer.close();
    }
  });

  test("keys older than keysMaxAge are fetched again at the next request", async () => {
    const issuer = await fakeIssuer();
    try {
      const verifier = createVerifier({ issuer: issuer.url, keysMaxAge: 0.2, keyRefetchInterval: 0.2 });
      const token = await issuer.sign(issuer.claims());
      await verifier.verify(token);
      await verifier.verify(token);
      assert.equal(issuer.fetches.filter((path) => path === "/jwks").length, 1);
      await sleep(300);
      await verifier.verify(token);
      assert.equal(issuer.fetches.filter((path) => path === "/jwks").length, 2);
    } finally {
      await issuer.close();
    }
  });
});
