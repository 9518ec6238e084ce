// An app's test suite that needs a logged-in user, without a browser or a password:
// `gatehouse dev token` prints the token pair POST /auth would answer, for a test user it makes
// when there is none. It runs with the same settings as the development server (here from the
// environment), and only where GATEHOUSE_DEV=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

const gatehouse = process.env.GATEHOUSE ?? "gatehouse";
const issuer = process.env.GATEHOUSE_ISSUER ?? "http://127.0.0.1:8080";

function devToken(email, ...flags) {
  const out = execFileSync(gatehouse, ["dev", "token", "--email", email, "--create", ...flags]);
  return JSON.parse(out);
}

test("a test user's token opens what a logged-in user sees", async () => {
  const { access_token, user } = devToken("tess@example.com");
  const res = await fetch(`${issuer}/user`, { headers: { authorization: `Bearer ${access_token}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).id, user.id);
});

test("a route that needs a second factor, with --second-factor", async () => {
  const { access_token } = devToken("tess@example.com", "--second-factor");
  const claims = JSON.parse(Buffer.from(access_token.split(".")[1], "base64url"));
  assert.equal(claims.aal, 2);
});
