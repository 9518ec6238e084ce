// The browser/app client against the real gatehouse that test/run.sh started (its access
// tokens live GATEHOUSE_ACCESS_TOKEN_TTL, a few seconds, so that they expire during the tests).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Gatehouse, MemoryStorage, MfaRequired, webStorage, type Account } from "gatehouse-client";
import { verifyAccessToken } from "gatehouse-client/server";

import {
  activeAccount,
  admin,
  claimsOf,
  countingFetch,
  emailedLink,
  env,
  failure,
  freshEmail,
  freshPassword,
  tokens,
  totp,
  untilExpired,
} from "./helpers.js";

describe("sign-up", () => {
  test("a password that breaks the rules is a validation_failed GatehouseError naming the field", async () => {
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    const error = await failure(gatehouse.signUp({ email: freshEmail("short"), password: "short" }));
    assert.equal(error.status, 422);
    assert.equal(error.code, "validation_failed");
    assert.match(error.detail, /8 characters/);
    assert.equal(error.problem?.type, "urn:gatehouse:problem:validation_failed");
    assert.deepEqual(error.errors.map((e) => e.field), ["password"]);
    assert.equal(error.message, error.detail);
  });

  test("sign up, the emailed link activates, log in, read and merge-patch the account", async () => {
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    const email = freshEmail("ann");
    const password = freshPassword();

    const account = await gatehouse.signUp({ email, password, name: "Ann", phone: "+49 30 1234" });
    assert.ok(account);
    assert.equal(account.email, email);
    assert.equal(account.status, "pending");
    assert.deepEqual(account.data, { phone: "+49 30 1234" }, "other top-level fields are kept in data");

    const again = await failure(gatehouse.signUp({ email, password: freshPassword() }));
    assert.equal(again.status, 409);
    assert.equal(again.code, "email_taken");

    const pending = await failure(gatehouse.logIn({ email, password }));
    assert.equal(pending.status, 403);
    assert.equal(pending.code, "account_not_activated");
    assert.equal(await gatehouse.session(), null);

    // The confirmation email's link, posted as an API client does.
    const link = await emailedLink(email, "activation");
    await gatehouse.request("POST", "/activate", { token: link.searchParams.get("token") }, { auth: false });

    const pair = tokens(await gatehouse.logIn({ email, password }));
    assert.equal(pair.token_type, "Bearer");
    assert.equal(pair.user.email, email);
    assert.equal(pair.user.status, "active");
    const session = await gatehouse.session();
    assert.equal(session?.accessToken, pair.access_token);
    assert.equal(session?.refreshToken, pair.refresh_token);

    const me = await gatehouse.me();
    assert.equal(me.id, account.id);
    assert.equal(me.email_verified, true);

    const patched = await gatehouse.updateMe({ name: "Ann Lee", data: { city: "Berlin" } });
    assert.equal(patched.name, "Ann Lee");
    assert.deepEqual(patched.data, { phone: "+49 30 1234", city: "Berlin" }, "a merge patch merges data");
    const removed = await gatehouse.updateMe({ data: { phone: null } });
    assert.deepEqual(removed.data, { city: "Berlin" }, "null removes a key");
    assert.deepEqual((await gatehouse.me()).data, { city: "Berlin" });

    const invalid = await failure(gatehouse.updateMe({ username: "x" }));
    assert.equal(invalid.code, "validation_failed");
    assert.deepEqual(invalid.errors.map((e) => e.field), ["username"]);
  });
});

describe("login", () => {
  test("a wrong password is invalid_credentials; nothing is stored and nothing refreshed", async () => {
    const { email } = await activeAccount("wrong");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const error = await failure(gatehouse.logIn({ email, password: freshPassword() }));
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_credentials");
    assert.equal(await gatehouse.session(), null);
    assert.equal(counter.refreshes(), 0);
  });

  test("log in by username; the call carries the access token and needs no refresh while it lives", async () => {
    const { account, email, password } = await activeAccount("byname");
    const username = `u${account.id.replace(/-/g, "").slice(-12)}`;
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    tokens(await gatehouse.logIn({ email, password }));
    await gatehouse.updateMe({ username });
    await gatehouse.logOut();

    const counter = countingFetch();
    const byName = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await byName.logIn({ username, password }));
    const me = await byName.me();
    assert.equal(me.username, username);
    const call = counter.calls.find((c) => c.path === "/user");
    assert.equal(call?.authorization, `Bearer ${pair.access_token}`);
    assert.equal(counter.refreshes(), 0);
    // The generic call: any route, the answer's JSON.
    const hello = await byName.request<{ message: string; user: Account }>("GET", "/");
    assert.equal(hello.message, `Hello ${username}`);
  });
});

describe("refresh", () => {
  test("an expired access token is refreshed exactly once and the call succeeds", async () => {
    const { email, password } = await activeAccount("expiry");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    await untilExpired(pair.access_token);
    counter.reset();

    const me = await gatehouse.me();
    assert.equal(me.email, email);
    assert.deepEqual(
      counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`),
      ["GET /user 401", "POST /auth/refresh 200", "GET /user 200"],
    );
    const session = await gatehouse.session();
    assert.notEqual(session?.accessToken, pair.access_token);
    assert.notEqual(session?.refreshToken, pair.refresh_token, "the refresh token rotates");

    counter.reset();
    await gatehouse.me();
    assert.equal(counter.refreshes(), 0, "the new token serves the next call without a refresh");
    assert.equal(claimsOf(session!.accessToken).sid, claimsOf(pair.access_token).sid, "the same session goes on");
  });

  test("concurrent calls with an expired token share one refresh, and each is retried once", async () => {
    const { email, password } = await activeAccount("together");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    await untilExpired(pair.access_token);
    counter.reset();

    const [a, b, c, protectedAnswer, patched] = await Promise.all([
      gatehouse.me(),
      gatehouse.me(),
      gatehouse.me(),
      gatehouse.request<{ user_id: string }>("GET", "/protected"),
      gatehouse.updateMe({ data: { together: true } }),
    ]);
    assert.equal(a.email, email);
    assert.equal(b.email, email);
    assert.equal(c.email, email);
    assert.equal(protectedAnswer.user_id, a.id);
    assert.deepEqual(patched.data, { together: true });
    assert.equal(counter.refreshes(), 1, "one refresh for five calls");
    const calls = counter.calls.filter((call) => call.path !== "/auth/refresh");
    assert.equal(calls.length, 10, "each call was sent twice: refused, then retried");
    assert.equal(calls.filter((call) => call.status === 401).length, 5);
  });

  test("a call whose 401 arrives after the refresh is retried with the new token, without a second refresh", async () => {
    const { email, password } = await activeAccount("late");
    const counter = countingFetch();
    let expired = "";
    // The answer to GET /protected with the expired token comes late: after the refresh is done.
    const slow: typeof fetch = async (input, init) => {
      const response = await counter.fetch(input, init);
      const late = new URL(String(input)).pathname === "/protected" && new Headers(init?.headers).get("authorization") === `Bearer ${expired}`;
      if (late) await new Promise((resolve) => setTimeout(resolve, 1000));
      return response;
    };
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: slow });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    expired = pair.access_token;
    await untilExpired(pair.access_token);
    counter.reset();

    const [me, answer] = await Promise.all([gatehouse.me(), gatehouse.request<{ user_id: string }>("GET", "/protected")]);
    assert.equal(answer.user_id, me.id);
    assert.equal(counter.refreshes(), 1);
    const calls = counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`);
    assert.deepEqual(calls.slice(0, 2).sort(), ["GET /protected 401", "GET /user 401"]);
    assert.deepEqual(calls.slice(2), ["POST /auth/refresh 200", "GET /user 200", "GET /protected 200"]);
  });

  test("refresh() by hand: concurrent calls share one request and get the same pair", async () => {
    const { email, password } = await activeAccount("byhand");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    tokens(await gatehouse.logIn({ email, password }));
    const [one, two] = await Promise.all([gatehouse.refresh(), gatehouse.refresh()]);
    assert.equal(one, two);
    assert.equal(counter.refreshes(), 1);
    assert.equal((await gatehouse.session())?.refreshToken, one.refresh_token);
  });

  test("a refused refresh (the session ended elsewhere) forgets the session: one refresh, no loop", async () => {
    const { email, password } = await activeAccount("ended");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    tokens(await gatehouse.logIn({ email, password }));

    // Another device ends every session of the account.
    const other = new Gatehouse({ baseUrl: env.base });
    tokens(await other.logIn({ email, password }));
    await other.logOut({ everywhere: true });

    counter.reset();
    const error = await failure(gatehouse.me());
    assert.equal(error.status, 401);
    assert.equal(error.code, "unauthorized");
    assert.deepEqual(
      counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`),
      ["GET /user 401", "POST /auth/refresh 400"],
    );
    assert.equal(await gatehouse.session(), null, "the refused refresh cleared the session");

    counter.reset();
    const next = await failure(gatehouse.me());
    assert.equal(next.status, 401);
    assert.equal(counter.refreshes(), 0);
    assert.equal(counter.calls[0]?.authorization, null, "no token is sent any more");

    const refused = await failure(gatehouse.refresh());
    assert.equal(refused.code, "unauthorized");
    assert.equal(counter.refreshes(), 0, "refresh() without a session asks nothing");
  });

  test("a session forgotten while its refresh is under way stays forgotten", async () => {
    const { email, password } = await activeAccount("forgotten");
    const storage = new MemoryStorage();
    let refreshing: () => void = () => undefined;
    const refreshSent = new Promise<void>((resolve) => (refreshing = resolve));
    const held: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (new URL(String(input)).pathname === "/auth/refresh") {
        refreshing();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      return response;
    };
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: held, storage });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    await untilExpired(pair.access_token);

    const call = failure(gatehouse.me());
    await refreshSent;
    storage.set(null); // the app forgets the session (another tab logged out, say)
    const error = await call;
    assert.equal(error.status, 401);
    assert.equal(await gatehouse.session(), null, "the refreshed pair did not bring it back");
  });

  test("a refresh that gets no answer keeps the session", async () => {
    const { email, password } = await activeAccount("offline");
    let offline = false;
    const flaky: typeof fetch = (input, init) =>
      offline && new URL(String(input)).pathname === "/auth/refresh"
        ? Promise.reject(new TypeError("fetch failed"))
        : fetch(input, init);
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: flaky });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    await untilExpired(pair.access_token);

    offline = true;
    const error = await failure(gatehouse.me());
    assert.equal(error.status, 0);
    assert.equal(error.code, "network_error");
    assert.equal((await gatehouse.session())?.refreshToken, pair.refresh_token, "kept for the next try");

    offline = false;
    assert.equal((await gatehouse.me()).email, email, "the next call refreshes and succeeds");
  });
});

describe("logout", () => {
  test("after logOut the next call fails with 401 without any refresh, and gatehouse refuses the old tokens", async () => {
    const { email, password } = await activeAccount("logout");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    await gatehouse.logOut();
    assert.equal(await gatehouse.session(), null);
    assert.ok(counter.calls.some((c) => c.method === "DELETE" && c.path === "/auth" && c.status === 204));

    counter.reset();
    const error = await failure(gatehouse.me());
    assert.equal(error.status, 401);
    assert.equal(error.code, "unauthorized");
    assert.equal(counter.calls.length, 1);
    assert.equal(counter.refreshes(), 0);

    // The session is over on gatehouse's side too, not only forgotten here.
    const stale = new Gatehouse({ baseUrl: env.base });
    const old = await failure(
      stale.request("GET", "/user", undefined, { auth: false, headers: { authorization: `Bearer ${pair.access_token}` } }),
    );
    assert.equal(old.status, 401);
    const spent = await failure(stale.request("POST", "/auth/refresh", { refresh_token: pair.refresh_token }, { auth: false }));
    assert.equal(spent.status, 400);
    assert.equal(spent.code, "token_invalid");

    await gatehouse.logOut(); // logged out already: nothing to do
  });

  test("logOut with an expired access token refreshes once and ends the session", async () => {
    const { email, password } = await activeAccount("logout-late");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    await untilExpired(pair.access_token);
    counter.reset();
    await gatehouse.logOut();
    assert.deepEqual(
      counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`),
      ["DELETE /auth 401", "POST /auth/refresh 200", "DELETE /auth 204"],
    );
    assert.equal(await gatehouse.session(), null);
  });
});

describe("second factor", () => {
  test("enrol TOTP, then logIn answers MfaRequired and completeMfa finishes with a code or a recovery code", async () => {
    const { email, password } = await activeAccount("mfa");
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    tokens(await gatehouse.logIn({ email, password }));

    const enrolment = await gatehouse.request<{ secret: string; otpauth_uri: string }>("POST", "/mfa/totp", { password });
    assert.match(enrolment.otpauth_uri, /^otpauth:\/\/totp\//);
    const enrolledAt = Date.now();
    const { recovery_codes } = await gatehouse.request<{ recovery_codes: string[] }>("POST", "/mfa/totp/confirm", {
      code: totp(enrolment.secret, enrolledAt),
    });
    assert.equal(recovery_codes.length, 10);

    const second = new Gatehouse({ baseUrl: env.base });
    const challenge = await second.logIn({ email, password });
    assert.ok(challenge instanceof MfaRequired, "a right password answers MfaRequired");
    assert.equal(challenge.mfaRequired, true);
    assert.ok(challenge.mfaToken.length > 20);
    assert.deepEqual(challenge.methods, ["totp", "recovery_code"]);
    assert.equal(await second.session(), null, "no session before the second step");

    // A code is accepted once: the confirming step's code is spent, so this login uses the
    // next step's (gatehouse accepts one step either way).
    const pair = await challenge.completeMfa({ code: totp(enrolment.secret, enrolledAt + 30_000) });
    assert.equal(pair.user.email, email);
    assert.equal((await second.me()).email, email);
    const claims = await verifyAccessToken(pair.access_token, { issuer: env.base, audience: env.base, minAal: 2 });
    assert.equal(claims.aal, 2);
    assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);

    // A recovery code, through the client's own completeMfa; then the same one again.
    const third = new Gatehouse({ baseUrl: env.base });
    const again = await third.logIn({ email, password });
    assert.ok(again instanceof MfaRequired);
    tokens(await third.completeMfa(again, { recoveryCode: recovery_codes[0]! }));
    assert.equal((await third.me()).email, email);

    const fourth = new Gatehouse({ baseUrl: env.base });
    const once = await fourth.logIn({ email, password });
    assert.ok(once instanceof MfaRequired);
    assert.deepEqual(once.methods, ["totp", "recovery_code"]);
    const spent = await failure(once.completeMfa({ recoveryCode: recovery_codes[0]! }));
    assert.equal(spent.status, 401);
    assert.equal(spent.code, "invalid_code");
    assert.equal(await fourth.session(), null);

    // A wrong password is still invalid_credentials, as for an account without a factor.
    const wrong = await failure(fourth.logIn({ email, password: freshPassword() }));
    assert.equal(wrong.code, "invalid_credentials");
  });
});

describe("the account", () => {
  test("changePassword: a wrong current password is refused without a refresh; the right one ends the other sessions", async () => {
    const { email, password } = await activeAccount("change");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    tokens(await gatehouse.logIn({ email, password }));
    const elsewhere = new Gatehouse({ baseUrl: env.base });
    tokens(await elsewhere.logIn({ email, password }));

    const wrong = await failure(gatehouse.changePassword({ currentPassword: freshPassword(), newPassword: freshPassword() }));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.code, "invalid_credentials");
    assert.equal(counter.refreshes(), 0, "a 401 that is not about the token is no reason to refresh");
    assert.ok(await gatehouse.session());

    const newPassword = freshPassword();
    await gatehouse.changePassword({ currentPassword: password, newPassword });
    assert.equal((await gatehouse.me()).email, email, "this session goes on");
    const ended = await failure(elsewhere.me());
    assert.equal(ended.status, 401);
    assert.equal(await elsewhere.session(), null, "the other one ended, its refresh refused");

    const old = await failure(new Gatehouse({ baseUrl: env.base }).logIn({ email, password }));
    assert.equal(old.code, "invalid_credentials");
    tokens(await new Gatehouse({ baseUrl: env.base }).logIn({ email, password: newPassword }));
  });

  test("forgotPassword answers alike for any address and emails a reset link to an account", async () => {
    const { email } = await activeAccount("forgot");
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    await gatehouse.forgotPassword(email);
    await gatehouse.forgotPassword(freshEmail("nobody"));
    const link = await emailedLink(email, "password_reset");
    assert.equal(link.pathname, "/password/reset");
    const invalid = await failure(gatehouse.forgotPassword("not an address"));
    assert.equal(invalid.code, "validation_failed");
  });

  test("deleteMe deletes the account and forgets the session", async () => {
    const { email, password } = await activeAccount("delete");
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    tokens(await gatehouse.logIn({ email, password }));
    await gatehouse.deleteMe();
    assert.equal(await gatehouse.session(), null);
    const gone = await failure(gatehouse.logIn({ email, password }));
    assert.equal(gone.code, "invalid_credentials");
    const lookup = await failure((await admin()).request("GET", `/user/${encodeURIComponent(email)}`));
    assert.equal(lookup.status, 404);
    assert.equal(lookup.code, "not_found");
  });
});

describe("storage and transport", () => {
  test("webStorage keeps the session where a reloaded page finds it", async () => {
    const { email, password } = await activeAccount("reload");
    const items = new Map<string, string>();
    const store = {
      getItem: (key: string) => items.get(key) ?? null,
      setItem: (key: string, value: string) => void items.set(key, value),
      removeItem: (key: string) => void items.delete(key),
    };
    const page = new Gatehouse({ baseUrl: env.base, storage: webStorage(store) });
    tokens(await page.logIn({ email, password }));
    assert.ok(items.get("gatehouse.session")?.includes("refreshToken"));

    const reloaded = new Gatehouse({ baseUrl: `${env.base}/`, storage: webStorage(store) });
    assert.equal((await reloaded.me()).email, email);
    await reloaded.logOut();
    assert.equal(items.size, 0);

    items.set("gatehouse.session", "{not json");
    assert.equal(await new Gatehouse({ baseUrl: env.base, storage: webStorage(store) }).session(), null);
  });

  test("no answer at all is a GatehouseError with status 0", async () => {
    const gatehouse = new Gatehouse({ baseUrl: "http://127.0.0.1:9" });
    const error = await failure(gatehouse.logIn({ email: "a@example.com", password: "whatever it is" }));
    assert.equal(error.status, 0);
    assert.equal(error.code, "network_error");
    assert.ok(error.cause);
  });

  test("an answer that is not a problem document still becomes a GatehouseError", async () => {
    const gatehouse = new Gatehouse({ baseUrl: env.base });
    // The provider's token endpoint refuses in RFC 6749's shape.
    const error = await failure(
      gatehouse.request("POST", "/oauth2/token", { grant_type: "client_credentials" }, { auth: false }),
    );
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_client");
    assert.equal(error.problem, undefined);
  });
});
