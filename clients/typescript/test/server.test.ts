// gatehouse-client/server: verifying real access tokens of the gatehouse that test/run.sh
// started, against its JWKS.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createRemoteJWKSet, errors, jwtVerify } from "jose";

import { Gatehouse, MfaRequired, type TokenPair } from "gatehouse-client";
import { bearerToken, createVerifier, verifyAccessToken } from "gatehouse-client/server";

import { activeAccount, admin, env, untilExpired } from "./helpers.js";

interface JoseFailure {
  code: string;
  claim?: string;
  reason?: string;
  message: string;
}

/** The jose error a verification fails with. */
async function refusal(verification: Promise<unknown>): Promise<JoseFailure> {
  try {
    await verification;
  } catch (error) {
    assert.ok(error instanceof Error && "code" in error, `expected a jose error, got ${String(error)}`);
    return error as unknown as JoseFailure;
  }
  assert.fail("expected the token to be refused");
}

async function loggedIn(label: string): Promise<{ gatehouse: Gatehouse; pair: TokenPair; id: string; email: string }> {
  const { account, email, password } = await activeAccount(label);
  const gatehouse = new Gatehouse({ baseUrl: env.base });
  const result = await gatehouse.logIn({ email, password });
  assert.ok(!(result instanceof MfaRequired));
  return { gatehouse, pair: result, id: account.id, email };
}

describe("verifyAccessToken", () => {
  test("verifies a real token and returns its typed claims", async () => {
    const { pair, id, email } = await loggedIn("verify");
    const claims = await verifyAccessToken(pair.access_token, { issuer: env.base, audience: env.base });
    assert.equal(claims.iss, env.base);
    assert.equal(claims.aud, env.base);
    assert.equal(claims.sub, id);
    assert.equal(typeof claims.sid, "string");
    assert.equal(claims.email, email);
    assert.equal(claims.role, "user");
    assert.deepEqual(claims.app_data, {});
    assert.deepEqual(claims.amr, ["pwd"]);
    assert.equal(claims.aal, 1);
    assert.ok(claims.exp > claims.iat);

    // A trailing slash on the issuer is the same issuer; a verifier keeps its options.
    const verify = createVerifier({ issuer: `${env.base}/`, audience: env.base });
    assert.equal((await verify(pair.access_token)).sub, id);
  });

  test("carries app_data that an admin wrote, from the next token on", async () => {
    const { gatehouse, id } = await loggedIn("appdata");
    await (await admin()).request("PATCH", `/user/${id}`, { app_data: { plan: "pro" } }, {
      contentType: "application/merge-patch+json",
    });
    const pair = await gatehouse.refresh();
    const claims = await verifyAccessToken(pair.access_token, { issuer: env.base, audience: env.base });
    assert.deepEqual(claims.app_data, { plan: "pro" });
  });

  test("refuses a tampered token", async () => {
    const { pair } = await loggedIn("tamper");
    const [header, payload, signature] = pair.access_token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    claims.role = "admin";
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
    const error = await refusal(verifyAccessToken(forged, { issuer: env.base, audience: env.base }));
    assert.equal(error.code, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");

    // gatehouse refuses it too.
    const answer = await fetch(`${env.base}/user`, { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(answer.status, 401);
  });

  test("refuses a token for another audience, or of another issuer", async () => {
    const { pair } = await loggedIn("audience");
    const audience = await refusal(
      verifyAccessToken(pair.access_token, { issuer: env.base, audience: "https://api.example.com" }),
    );
    assert.equal(audience.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert.equal(audience.claim, "aud");

    const issuer = await refusal(
      verifyAccessToken(pair.access_token, {
        issuer: "https://auth.example.com",
        audience: env.base,
        jwksUrl: `${env.base}/.well-known/jwks.json`,
      }),
    );
    assert.equal(issuer.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert.equal(issuer.claim, "iss");
  });

  test("an issuer mismatch names the token's issuer and the expected one", async () => {
    const { pair } = await loggedIn("issuer");
    // The same gatehouse under another spelling of its address: the classic mistake.
    const otherSpelling = env.base.replace("127.0.0.1", "localhost");
    assert.notEqual(otherSpelling, env.base);
    const error = await refusal(
      verifyAccessToken(pair.access_token, {
        issuer: otherSpelling,
        audience: env.base,
        jwksUrl: `${env.base}/.well-known/jwks.json`,
      }),
    );
    assert.equal(error.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert.equal(error.claim, "iss");
    assert.ok(error instanceof errors.JWTClaimValidationFailed, "still jose's error class");
    assert.equal(error.reason, "check_failed");
    assert.match(error.message, /^unexpected "iss" claim value: /);
    assert.ok(error.message.includes(`the token's issuer is "${env.base}"`), error.message);
    assert.ok(error.message.includes(`this verifier expects "${otherSpelling}"`), error.message);
  });

  test("refuses an expired token", async () => {
    const { pair } = await loggedIn("expired");
    await untilExpired(pair.access_token);
    const error = await refusal(verifyAccessToken(pair.access_token, { issuer: env.base, audience: env.base }));
    assert.equal(error.code, "ERR_JWT_EXPIRED");
  });

  test("refuses a password-only token where a second factor is required (minAal 2)", async () => {
    const { pair } = await loggedIn("aal");
    const error = await refusal(
      verifyAccessToken(pair.access_token, { issuer: env.base, audience: env.base, minAal: 2 }),
    );
    assert.equal(error.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert.equal(error.claim, "aal");
  });

  test("refuses a client app's at+jwt access token, even for that app's audience", async () => {
    const client = await (await admin()).request<{ client_id: string; client_secret: string }>("POST", "/admin/clients", {
      name: "typescript client tests",
      grant_types: ["client_credentials"],
      scopes: [],
    });
    const answer = await fetch(`${env.base}/oauth2/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials" }),
    });
    assert.equal(answer.status, 200);
    const { access_token: appToken } = (await answer.json()) as { access_token: string };

    // The token is sound as what it is: an app's token, verified as one.
    const jwks = createRemoteJWKSet(new URL(`${env.base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(appToken, jwks, { issuer: env.base, audience: client.client_id, typ: "at+jwt" });
    assert.equal(payload.client_id, client.client_id);

    // As a gatehouse token it is refused: by its type even where the audience would match.
    const typ = await refusal(verifyAccessToken(appToken, { issuer: env.base, audience: client.client_id }));
    assert.equal(typ.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert.equal(typ.claim, "typ");
    const aud = await refusal(verifyAccessToken(appToken, { issuer: env.base, audience: env.base }));
    assert.equal(aud.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
  });
});

describe("bearerToken", () => {
  test("reads the token of an Authorization header", () => {
    assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
    assert.equal(bearerToken("bearer  abc.def-_ghi "), "abc.def-_ghi");
    assert.equal(bearerToken("Basic dXNlcjpwYXNz"), null);
    assert.equal(bearerToken("Bearer "), null);
    assert.equal(bearerToken(undefined), null);
  });
});
