// Keys, on a gatehouse of this test's own (same binary, fresh SQLite database): a new signing
// key (an algorithm switch, which signs at once) is fetched once and verifies; made-up key ids
// make at most one fetch of the keys per interval; a real enrolment-only token (aal 0) is
// refused with 403.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { generateKeyPair, SignJWT } from "jose";

import { createVerifier, GatehouseError } from "gatehouse-middleware";

import { call, claimsOf, countingFetch, freshPassword, headerOf, logIn, ownGatehouse } from "./helpers.mjs";

/** The GatehouseError a verification fails with. */
async function refusal(verification) {
  try {
    await verification;
  } catch (error) {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${error}`);
    return error;
  }
  assert.fail("expected the token to be refused");
}

/** Tokens with the claims of a real one, signed by a key of our own under made-up key ids. */
async function madeUpKids(claims, count) {
  const { privateKey } = await generateKeyPair("EdDSA");
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: `made-up-${i}-${Math.random()}`, typ: "JWT" }).sign(privateKey),
    ),
  );
}

describe("keys of a gatehouse that switches its algorithm", () => {
  let gatehouse;
  const user = { email: "ann@example.com", password: freshPassword() };

  before(async () => {
    gatehouse = await ownGatehouse("keys");
    // Admins must enrol a second factor: the bootstrap admin's login is an enrolment-only session.
    await gatehouse.start({ GATEHOUSE_MFA_REQUIRED: "admins" });
    await gatehouse.cli(["user", "create", "--email", user.email, "--password-stdin"], `${user.password}\n`);
  });
  after(async () => {
    await gatehouse?.stop();
    await gatehouse?.remove();
  });

  test("a token of a new key verifies after one fetch of the keys; made-up kids fetch no more", async () => {
    const counter = countingFetch();
    const verifier = createVerifier({ issuer: gatehouse.base, fetch: counter.fetch });
    const eddsa = (await logIn(user.email, user.password, gatehouse.base)).access_token;
    assert.equal(headerOf(eddsa).alg, "EdDSA");
    assert.equal((await verifier.verify(eddsa)).email, user.email);
    assert.equal(counter.count("/.well-known/openid-configuration"), 1);
    assert.equal(counter.count("/.well-known/jwks.json"), 1);

    // A restart with another algorithm adds a key of it, which signs at once.
    await gatehouse.stop();
    await gatehouse.start({ GATEHOUSE_MFA_REQUIRED: "admins", GATEHOUSE_TOKEN_ALGORITHM: "ES256" });
    const es256 = (await logIn(user.email, user.password, gatehouse.base)).access_token;
    assert.equal(headerOf(es256).alg, "ES256");
    assert.notEqual(headerOf(es256).kid, headerOf(eddsa).kid);

    const auth = await verifier.verify(es256);
    assert.equal(auth.email, user.email);
    assert.equal(auth.sessionId, claimsOf(es256).sid);
    assert.equal(counter.count("/.well-known/jwks.json"), 2, "one fetch of the keys for the new kid");
    assert.equal(counter.count("/.well-known/openid-configuration"), 1, "the discovery document is read once");

    // The old key still verifies the tokens it signed, from the keys already fetched.
    assert.equal((await verifier.verify(eddsa)).email, user.email);
    assert.equal((await verifier.verify(es256)).email, user.email);
    assert.equal(counter.count("/.well-known/jwks.json"), 2);

    // A burst of made-up kids within the interval (30 s by default) fetches nothing more.
    const forged = await madeUpKids(claimsOf(es256), 40);
    const concurrent = await Promise.all(forged.slice(0, 20).map((token) => refusal(verifier.verify(token))));
    for (const token of forged.slice(20)) concurrent.push(await refusal(verifier.verify(token)));
    for (const error of concurrent) {
      assert.equal(error.status, 401);
      assert.equal(error.reason, "unknown_key");
    }
    assert.equal(counter.count("/.well-known/jwks.json"), 2, "made-up kids within the interval fetch nothing");
  });

  test("made-up kids fetch the keys at most once per interval (keyRefetchInterval: 1)", async () => {
    const counter = countingFetch();
    const verifier = createVerifier({ issuer: gatehouse.base, fetch: counter.fetch, keyRefetchInterval: 1 });
    const token = (await logIn(user.email, user.password, gatehouse.base)).access_token;
    await verifier.verify(token);
    assert.equal(counter.count("/.well-known/jwks.json"), 1);

    for (const round of [1, 2, 3]) {
      const forged = await madeUpKids(claimsOf(token), 30);
      // 15 at once, then 15 one after the other, all within the same second.
      await Promise.all(forged.slice(0, 15).map((t) => refusal(verifier.verify(t))));
      for (const t of forged.slice(15)) await refusal(verifier.verify(t));
      assert.equal(counter.count("/.well-known/jwks.json"), 1 + round, `round ${round}: one fetch for 30 made-up kids`);
      await sleep(1100);
    }
    assert.equal(counter.count("/.well-known/openid-configuration"), 1);
  });

  test("a real enrolment-only token (aal 0) is refused with 403 mfa_enrolment_required", async () => {
    const login = await call("POST", "/auth", { base: gatehouse.base, body: { email: gatehouse.admin.email, password: gatehouse.admin.password } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(claimsOf(login.body.access_token).aal, 0);
    const error = await refusal(createVerifier({ issuer: gatehouse.base }).verify(login.body.access_token));
    assert.equal(error.status, 403);
    assert.equal(error.code, "mfa_enrolment_required");
    assert.match(error.message, /enrolment-only session \("aal" 0\)/);
  });
});
