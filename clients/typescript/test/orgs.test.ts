// Organizations through the client, against the real gatehouse that test/run.sh started: an
// organization made, read, changed, listed with its members and deleted; the session's active
// organization (switchOrg, a login with `org`) and the `org` claim of its access tokens; and
// invitations, from the emailed link to the membership; and domains claimed and given up.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { Gatehouse, MfaRequired, type Org } from "gatehouse-client";
import { verifyAccessToken } from "gatehouse-client/server";

import {
  activeAccount,
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

/** A slug no other test uses. */
function freshSlug(label: string): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** A client logged in as a new active account, and that account's address and password. */
async function loggedIn(label: string): Promise<{ gatehouse: Gatehouse; email: string; password: string; id: string }> {
  const { account, email, password } = await activeAccount(label);
  const gatehouse = new Gatehouse({ baseUrl: env.base });
  tokens(await gatehouse.logIn({ email, password }));
  return { gatehouse, email, password, id: account.id };
}

/** An organization the client's account owns. */
async function ownOrg(gatehouse: Gatehouse, label: string): Promise<Org> {
  const slug = freshSlug(label);
  return await gatehouse.createOrg({ name: `${label} ${slug}`, slug });
}

describe("organizations", () => {
  test("create one, list it, read it by id and slug, change it, page its members, delete it", async () => {
    const { gatehouse, email, id } = await loggedIn("founder");
    const slug = freshSlug("acme");
    const org = await gatehouse.createOrg({ name: "Acme, Inc.", slug, data: { plan: "free" } });
    assert.equal(org.name, "Acme, Inc.");
    assert.equal(org.slug, slug);
    assert.deepEqual(org.data, { plan: "free" });

    const taken = await failure(gatehouse.createOrg({ name: "Another", slug }));
    assert.equal(taken.status, 409);
    assert.equal(taken.code, "slug_taken");
    const unnamed = await failure(gatehouse.createOrg({ name: "" }));
    assert.equal(unnamed.code, "validation_failed");

    const mine = await gatehouse.orgs();
    assert.deepEqual(mine.map((standing) => [standing.org.id, standing.role]), [[org.id, "owner"]]);
    assert.ok(mine[0]?.permissions.includes("members:invite"));

    for (const key of [org.id, slug]) {
      const standing = await gatehouse.org(key);
      assert.equal(standing.org.id, org.id);
      assert.equal(standing.role, "owner");
    }

    const renamed = await gatehouse.updateOrg(slug, { name: "Acme", data: { plan: "team" } });
    assert.equal(renamed.name, "Acme");
    assert.deepEqual(renamed.data, { plan: "team" }, "data is replaced whole");
    assert.equal((await gatehouse.org(org.id)).org.name, "Acme");

    const members = await gatehouse.orgMembers(slug, { limit: 10 });
    assert.deepEqual(
      members.members.map((m) => [m.account.id, m.account.email, m.role]),
      [[id, email, "owner"]],
    );
    assert.equal(members.next_cursor ?? undefined, undefined, "one page");

    // Not a member, and no such organization; a key that needs encoding stays one path segment.
    const { gatehouse: stranger } = await loggedIn("stranger");
    const outsider = await failure(stranger.org(slug));
    assert.equal(outsider.status, 403);
    assert.equal(outsider.code, "not_a_member");
    assert.deepEqual(await stranger.orgs(), []);
    const odd = await failure(gatehouse.org("no/such org?"));
    assert.equal(odd.status, 404);
    assert.equal(odd.code, "not_found");

    await gatehouse.deleteOrg(slug);
    const gone = await failure(gatehouse.org(org.id));
    assert.equal(gone.status, 404);
    assert.equal(gone.code, "not_found");
    assert.deepEqual(await gatehouse.orgs(), []);
  });
});

describe("the session's organization", () => {
  test("switchOrg stores a new access token with the org claim and keeps the refresh token; refresh keeps the claim; null removes it", async () => {
    const { account, email, password } = await activeAccount("switcher");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    assert.equal(claimsOf(pair.access_token).org, undefined, "a login without org has no org claim");
    const org = await ownOrg(gatehouse, "switch");

    const before = await gatehouse.session();
    counter.reset();
    const switched = await gatehouse.switchOrg(org.slug);
    assert.deepEqual(counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`), ["POST /auth/org 200"]);
    assert.equal(switched.token_type, "Bearer");
    assert.equal(switched.org?.org.id, org.id);
    assert.equal(switched.org?.role, "owner");

    const after = await gatehouse.session();
    assert.equal(after?.accessToken, switched.access_token, "the new access token is stored");
    assert.notEqual(after?.accessToken, before?.accessToken);
    assert.equal(after?.refreshToken, before?.refreshToken, "the refresh token stays");
    // The new token lives no longer than the one it was asked with (whole seconds apart).
    assert.ok(after && before && after.expiresAt <= before.expiresAt + 1000, "no longer than the token presented");
    counter.reset();
    assert.equal((await gatehouse.me()).email, email);
    assert.deepEqual(
      counter.calls.map((c) => `${c.method} ${c.path} ${c.status} ${c.authorization}`),
      [`GET /user 200 Bearer ${switched.access_token}`],
      "the calls that follow carry the new token",
    );
    const claims = claimsOf(after!.accessToken);
    assert.deepEqual(claims.org, { id: org.id, slug: org.slug, role: "owner", permissions: switched.org?.permissions });
    assert.equal(claims.sid, claimsOf(pair.access_token).sid, "the same session");
    const verified = await verifyAccessToken(after!.accessToken, { issuer: env.base, audience: env.base });
    assert.equal(verified.org?.slug, org.slug);
    assert.equal(verified.sub, account.id);

    const { gatehouse: other } = await loggedIn("not-in-it");
    const foreign = await ownOrg(other, "foreign");

    const refreshed = await gatehouse.refresh();
    assert.notEqual(refreshed.refresh_token, before?.refreshToken, "the kept refresh token was the live one");
    assert.deepEqual((claimsOf(refreshed.access_token).org as { id: string }).id, org.id, "a refresh keeps the organization");

    const refused = await failure(gatehouse.switchOrg(foreign.slug));
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "not_a_member");
    const unchanged = await gatehouse.session();
    assert.equal(unchanged?.accessToken, refreshed.access_token, "a refused switch changes nothing");
    assert.equal(unchanged?.refreshToken, refreshed.refresh_token);

    const none = await gatehouse.switchOrg(null);
    assert.equal(none.org ?? undefined, undefined);
    const cleared = await gatehouse.session();
    assert.equal(cleared?.accessToken, none.access_token);
    assert.equal(cleared?.refreshToken, refreshed.refresh_token);
    assert.equal(claimsOf(none.access_token).org, undefined, "switchOrg(null) removes the claim");
    assert.equal(claimsOf((await gatehouse.refresh()).access_token).org, undefined, "and refreshed tokens stay without");
  });

  test("switchOrg with an expired access token refreshes once, and keeps the refreshed refresh token", async () => {
    const { email, password } = await activeAccount("switch-late");
    const counter = countingFetch();
    const gatehouse = new Gatehouse({ baseUrl: env.base, fetch: counter.fetch });
    const pair = tokens(await gatehouse.logIn({ email, password }));
    const org = await ownOrg(gatehouse, "late");
    await untilExpired(pair.access_token);

    counter.reset();
    const switched = await gatehouse.switchOrg(org.id);
    assert.deepEqual(
      counter.calls.map((c) => `${c.method} ${c.path} ${c.status}`),
      ["POST /auth/org 401", "POST /auth/refresh 200", "POST /auth/org 200"],
    );
    const session = await gatehouse.session();
    assert.equal(session?.accessToken, switched.access_token);
    assert.notEqual(session?.refreshToken, pair.refresh_token, "the refresh on the way rotated it");
    assert.equal((claimsOf(session!.accessToken).org as { slug: string }).slug, org.slug);
    // The stored refresh token is the live one: it refreshes, and the claim stays.
    const refreshed = await gatehouse.refresh();
    assert.equal((claimsOf(refreshed.access_token).org as { slug: string }).slug, org.slug);
  });

  test("logIn with org starts the session in it; not a member is 403 not_a_member and stores nothing", async () => {
    const { gatehouse: owner, email, password } = await loggedIn("login-org");
    const org = await ownOrg(owner, "entry");

    const inside = new Gatehouse({ baseUrl: env.base });
    const pair = tokens(await inside.logIn({ email, password, org: org.slug }));
    assert.deepEqual(claimsOf(pair.access_token).org, {
      id: org.id,
      slug: org.slug,
      role: "owner",
      permissions: (await owner.org(org.id)).permissions,
    });
    assert.equal(
      (claimsOf((await inside.refresh()).access_token).org as { id: string }).id,
      org.id,
      "the refreshed token keeps the organization",
    );

    const { email: otherEmail, password: otherPassword } = await activeAccount("login-outsider");
    const outside = new Gatehouse({ baseUrl: env.base });
    const refused = await failure(outside.logIn({ email: otherEmail, password: otherPassword, org: org.slug }));
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "not_a_member");
    assert.equal(await outside.session(), null);
  });

  test("logIn with org and a second factor: completeMfa starts the session in the organization", async () => {
    const { gatehouse, email, password } = await loggedIn("mfa-org");
    const org = await ownOrg(gatehouse, "mfa");
    const enrolment = await gatehouse.request<{ secret: string }>("POST", "/mfa/totp", { password });
    const enrolledAt = Date.now();
    await gatehouse.request("POST", "/mfa/totp/confirm", { code: totp(enrolment.secret, enrolledAt) });

    const second = new Gatehouse({ baseUrl: env.base });
    const challenge = await second.logIn({ email, password, org: org.slug });
    assert.ok(challenge instanceof MfaRequired);
    assert.equal(challenge.org, org.slug);
    // The confirming step's code is spent: the next step's (gatehouse accepts one step either way).
    const pair = await challenge.completeMfa({ code: totp(enrolment.secret, enrolledAt + 30_000) });
    assert.equal((claimsOf(pair.access_token).org as { id: string }).id, org.id);
    assert.equal(claimsOf(pair.access_token).aal, 2);
  });
});

describe("invitations", () => {
  test("invite an address; it signs up, finds the invitation, accepts the emailed link once; nobody else can", async () => {
    const { gatehouse: owner, id: ownerId } = await loggedIn("inviter");
    const org = await ownOrg(owner, "invites");
    const email = freshEmail("invitee");

    const invitation = await owner.invite(org.slug, { email, role: "member" });
    assert.equal(invitation.email, email);
    assert.equal(invitation.role, "member");
    assert.equal(invitation.invited_by, ownerId);
    assert.ok(Date.parse(invitation.expires_at) > Date.now());
    assert.deepEqual((await owner.orgInvitations(org.id)).map((i) => i.id), [invitation.id]);

    const link = await emailedLink(email, "invitation");
    assert.equal(link.origin, env.base);
    assert.equal(link.pathname, "/invitations/accept");
    const token = link.searchParams.get("token");
    assert.ok(token);

    // The address has no account yet: it signs up, confirms its address and logs in.
    const invitee = new Gatehouse({ baseUrl: env.base });
    const password = freshPassword();
    await invitee.signUp({ email, password });
    const activation = await emailedLink(email, "activation");
    await invitee.request("POST", "/activate", { token: activation.searchParams.get("token") }, { auth: false });
    tokens(await invitee.logIn({ email, password }));

    const waiting = await invitee.myInvitations();
    assert.equal(waiting.length, 1);
    assert.equal(waiting[0]?.id, invitation.id);
    assert.deepEqual(waiting[0]?.org, { id: org.id, name: org.name, slug: org.slug });
    assert.equal(waiting[0]?.role, "member");

    // Someone else holding the link cannot use it, and it stays good for its addressee.
    const { gatehouse: interloper } = await loggedIn("interloper");
    const mismatch = await failure(interloper.acceptInvitation(token));
    assert.equal(mismatch.status, 403);
    assert.equal(mismatch.code, "invitation_email_mismatch");
    assert.deepEqual(await interloper.orgs(), []);

    const joined = await invitee.acceptInvitation(token);
    assert.equal(joined.org.id, org.id);
    assert.equal(joined.role, "member");
    assert.ok(Array.isArray(joined.permissions));
    assert.ok(joined.joined_at);
    assert.deepEqual((await invitee.orgs()).map((s) => [s.org.slug, s.role]), [[org.slug, "member"]]);
    assert.deepEqual(await invitee.myInvitations(), []);
    assert.deepEqual(await owner.orgInvitations(org.slug), []);

    const again = await failure(invitee.acceptInvitation(token));
    assert.equal(again.status, 404);
    assert.equal(again.code, "not_found");

    // Two members now, paged one at a time in the order they joined.
    const first = await owner.orgMembers(org.slug, { limit: 1 });
    assert.deepEqual(first.members.map((m) => m.account.id), [ownerId]);
    assert.ok(first.next_cursor);
    const next = await owner.orgMembers(org.slug, { limit: 1, cursor: first.next_cursor });
    assert.deepEqual(next.members.map((m) => [m.account.email, m.role]), [[email, "member"]]);
    assert.equal(next.next_cursor ?? undefined, undefined);

    // The new member can switch into it.
    const switched = await invitee.switchOrg(org.slug);
    assert.equal((claimsOf(switched.access_token).org as { role: string }).role, "member");
  });

  test("an account accepts an invitation from its list by id; a revoked invitation is gone", async () => {
    const { gatehouse: owner } = await loggedIn("lister");
    const org = await ownOrg(owner, "listed");
    const { gatehouse: guest, email } = await loggedIn("guest");

    const invitation = await owner.invite(org.id, { email, role: "admin" });
    const listed = await guest.myInvitations();
    assert.deepEqual(listed.map((i) => [i.id, i.org.id, i.role]), [[invitation.id, org.id, "admin"]]);
    const joined = await guest.acceptMyInvitation(invitation.id);
    assert.equal(joined.org.slug, org.slug);
    assert.equal(joined.role, "admin");
    assert.equal((await guest.org(org.slug)).role, "admin");

    const member = await failure(owner.invite(org.slug, { email, role: "member" }));
    assert.equal(member.status, 409);
    assert.equal(member.code, "already_member");

    const { gatehouse: declined, email: declinedEmail } = await loggedIn("revoked");
    const revoked = await owner.invite(org.slug, { email: declinedEmail, role: "member" });
    const token = (await emailedLink(declinedEmail, "invitation")).searchParams.get("token");
    assert.ok(token);
    await owner.revokeInvitation(org.slug, revoked.id);
    assert.deepEqual(await owner.orgInvitations(org.slug), []);
    assert.deepEqual(await declined.myInvitations(), []);
    const dead = await failure(declined.acceptInvitation(token));
    assert.equal(dead.status, 404);
    assert.equal(dead.code, "not_found");
    const byId = await failure(declined.acceptMyInvitation(revoked.id));
    assert.equal(byId.status, 404);
  });

  test("claim a domain, read its TXT challenge, set and clear its auto-join role, give it up", async () => {
    const { gatehouse: owner } = await loggedIn("domains");
    const org = await ownOrg(owner, "domains");
    const domain = `${freshSlug("d")}.example`;

    const claimed = await owner.addOrgDomain(org.slug, domain.toUpperCase(), "member");
    assert.equal(claimed.domain, domain);
    assert.equal(claimed.verified, false);
    assert.equal(claimed.auto_join_role, "member");
    assert.equal(claimed.challenge.type, "dns_txt");
    assert.equal(claimed.challenge.name, `_gatehouse-challenge.${domain}`);
    assert.match(claimed.challenge.value, /^gatehouse-domain-verification=[0-9a-f]{48}$/);
    assert.deepEqual((await owner.orgDomains(org.id)).map((d) => d.domain), [domain]);

    // Verifying a domain the organization does not claim asks no DNS server: 404.
    const unclaimed = await failure(owner.verifyOrgDomain(org.slug, `other-${domain}`));
    assert.equal(unclaimed.status, 404);
    assert.equal(unclaimed.code, "not_found");
    const publicMail = await failure(owner.addOrgDomain(org.slug, "gmail.com"));
    assert.equal(publicMail.code, "public_mail_domain");

    const off = await owner.setDomainAutoJoin(org.slug, domain, null);
    assert.equal(off.auto_join_role, null);
    await owner.removeOrgDomain(org.slug, domain);
    assert.deepEqual(await owner.orgDomains(org.slug), []);
  });
});
