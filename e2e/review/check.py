#!/usr/bin/env python3
"""The second outside review's seven request sequences (docs/SECURITY.md, "The second review"),
replayed against a running release binary, as e2e/review/run.sh starts it: each must meet the
secure outcome, and each also carries a positive control, a request that must succeed, so that
no check passes by everything being broken.

  1  a port in the forwarded host escapes no host rule: a plain user's GET /auth/forward for
     app.example.com (group:admin) is 403 forbidden as written, with :8443, :1 and :80, and for
     grafana.example.com:8443 (org:acme); control: the admin passes app.example.com in every
     spelling, acme's owner passes grafana.example.com:8443 with Remote-Org, and the plain user
     passes a host no rule names
  2  an organization's identity provider speaks only for accounts that are its alone: alice, made
     by acme's SAML IdP, makes an organization of her own; then neither that IdP nor the IdP an
     organization admin (bob) swaps in logs her in (error=identity_not_linked), and acme's owner
     is emailed the new IdP; control: alice's first login, and bob's IdP logging in a new person
  3  a personal API key mints none of the organization's credentials: an owner's key gets 403
     api_key_forbidden for a SCIM token, a SAML connection, an owner invitation and a role, and
     nothing of them exists after; revoked, it opens nothing (401); control: the key invites a
     member, and the owner's login makes a SCIM token that works
  4  the organization's policy holds at every door: with mfa_required, a member's password session
     gets 403 mfa_enrolment_required at POST /auth/org, 403 at an org:acme forward rule (no
     Remote-Org, nor from the session's active organization elsewhere), and the code grant's ID
     token and userinfo carry no org; control: each of those doors open before the policy
  5  an ID token with email_verified false for ceo@acme.test (an existing account at acme's
     verified domain) logs nobody in (error=identity_not_linked) and links nothing; control: ann,
     whose address the provider verified, logs in
  6  a connection named "Google" in an organization of anyone's: NameID victim@gmail.example (a
     domain it never verified) gets error=sso_domain_not_verified, no account and no email;
     control: an address at its own verified domain logs in
  7  a connection whose metadata sends browsers to https://evil.example/login, in an organization
     without a verified domain, is inactive: its login URL answers 403 sso_connection_inactive
     without a Location; control: once the organization verifies a domain, it redirects there

    GATEHOUSE_E2E_ADMIN_PASSWORD=... python3 e2e/review/check.py --base URL --admin-email EMAIL \
        --zone FILE --mailbox FILE --saml-python PYTHON --work DIR

Prints one line per finding ("  ok: N ..." or "  FAILED: N ...") and a summary; exit status 1
when one failed.
"""

import argparse
import json
import os
import secrets
import signal
import sys
import urllib.parse
from pathlib import Path

from harness import APP, ROOT, Browser, Fail, Gatehouse, code_grant, expect, jwt_claims, query_of, request, \
    start_provider

# Identity providers: (entity id, SSO URL, signing key of e2e/saml/keys).
IDP = ("https://idp.test/metadata", "https://idp.test/sso", "idp")
BOB_IDP = ("https://bob-idp.test/metadata", "https://bob-idp.test/sso", "other")
OIDC_SECRET = "gatehouse-secret"  # the client `gatehouse` of e2e/oidc/provider.mjs
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Uri": "/", "X-Forwarded-Method": "GET"}


class Review:
    def __init__(self, args):
        self.g = Gatehouse(args.base, args.zone, args.mailbox)
        self.python, self.work = args.saml_python, Path(args.work)
        self.admin_email, self.admin_password = args.admin_email, os.environ["GATEHOUSE_E2E_ADMIN_PASSWORD"]
        self.password = f"a review passphrase {secrets.token_hex(8)}"
        self.passed = self.failed = 0
        self.provider = None
        self.metadata_of = {}

    def run(self, label, check):
        try:
            detail = check()
        except Fail as failure:
            self.failed += 1
            print(f"  FAILED: {label}: {failure}", flush=True)
        except Exception as error:  # a crash of the check is a failure too
            self.failed += 1
            print(f"  FAILED: {label}: {type(error).__name__}: {error}", flush=True)
        else:
            self.passed += 1
            print(f"  ok: {label}: {detail}", flush=True)

    # -- helpers ----------------------------------------------------------------------------

    def metadata(self, idp):
        if idp not in self.metadata_of:
            entity, sso_url, cert = idp
            answer = self.g.idp(self.python, "metadata", "--entity-id", entity, "--sso-url", sso_url, "--cert", cert)
            self.metadata_of[idp] = answer["xml"]
        return self.metadata_of[idp]

    def sp_metadata(self, connection):
        """The connection's SP metadata, as gatehouse serves it, in a file for idp.py."""
        served = request(connection["metadata_url"])
        expect(served.status == 200, f"the SP metadata: {served}")
        path = self.work / f"sp-{connection['id']}.xml"
        path.write_bytes(served.body)
        return str(path)

    def user(self, address):
        """An active account the admin makes (its address vouched for): (its id, a password login)."""
        made = self.g.ok(self.g.api("POST", "/admin/users", {"email": address, "password": self.password}, self.admin),
                         201, f"the admin makes {address}")
        return made["id"], self.g.login(address, self.password)

    def join(self, org, address, role, token):
        """acme's owner invites `address` with `role`; its account accepts from its list."""
        invite = {"email": address, "role": role}
        self.g.ok(self.g.api("POST", f"/orgs/{org}/invitations", invite, self.owner), 201, f"invite {address}")
        listed = self.g.ok(self.g.api("GET", "/invitations", token=token), 200, "GET /invitations")["invitations"]
        mine = [i for i in listed if i["org"]["slug"] == org]
        expect(mine, f"{address} sees no invitation to {org}: {listed}")
        self.g.ok(self.g.api("POST", f"/invitations/{mine[0]['id']}/accept", {}, token), 200, f"{address} accepts")

    def forward(self, token, host):
        return self.g.api("GET", "/auth/forward", token=token, headers={**FORWARDED, "X-Forwarded-Host": host})

    def setup(self):
        g = self.g
        self.admin = g.login(self.admin_email, self.admin_password)
        self.admin_id = g.ok(g.api("GET", "/user", token=self.admin), 200, "GET /user as the admin")["id"]
        self.owner_id, self.owner = self.user("owner@example.com")
        self.pat_id, self.pat = self.user("pat@example.com")
        self.bob_id, self.bob = self.user("bob@example.com")
        self.mia_id, self.mia = self.user("mia@example.com")
        self.ceo_id, _ = self.user("ceo@acme.test")
        self.mallory_id, self.mallory = self.user("mallory@example.com")
        g.ok(g.api("POST", "/orgs", {"name": "Acme", "slug": "acme"}, self.owner), 201, "the owner makes acme")
        g.verify_domain("acme", "acme.test", self.owner)
        body = {"metadata_xml": self.metadata(IDP), "name": "Acme IdP"}
        self.saml = g.ok(g.api("POST", "/orgs/acme/sso/saml", body, self.owner), 201, "acme's SAML connection")
        expect(self.saml.get("active") is True, f"acme verified acme.test, its connection is active: {self.saml}")
        return "the admin, owner, pat, bob, mia, ceo@acme.test and mallory; acme verified acme.test (DNS) " \
               f"and connected its SAML IdP {IDP[0]}"

    # -- the findings -----------------------------------------------------------------------

    def finding_1_a_port_in_the_forwarded_host_escaped_every_host_rule(self):
        """1 a port in the forwarded host escapes no host rule (forward-auth)"""
        spellings = ["app.example.com", "app.example.com:8443", "app.example.com:1", "app.example.com:80"]
        for host in spellings + ["grafana.example.com:8443"]:
            resp = self.forward(self.pat, host)
            self.g.refused(resp, 403, "forbidden", f"the plain user at {host}")
            expect(not resp.header("Remote-User"), f"a 403 naming someone: {resp}")
        # Controls: the token is good, the rules let through whom they name, in every spelling.
        for host in spellings:
            resp = self.forward(self.admin, host)
            expect(resp.status == 200 and resp.header("Remote-User") == self.admin_id, f"the admin at {host}: {resp}")
        resp = self.forward(self.owner, "grafana.example.com:8443")
        expect(resp.status == 200 and resp.header("Remote-Org") == "acme", f"acme's owner at grafana: {resp}")
        resp = self.forward(self.pat, "other.example.com:8443")
        expect(resp.status == 200 and resp.header("Remote-User") == self.pat_id, f"the plain user elsewhere: {resp}")
        return f"the plain user: 403 forbidden at {', '.join(spellings)} and grafana.example.com:8443; " \
               "control: the admin passes all four, the owner passes grafana (Remote-Org acme), the user other hosts"

    def finding_2_an_organizations_idp_logged_in_to_accounts_of_other_organizations(self):
        """2 an organization's SAML IdP logs in no account of another organization, swapped or not"""
        g, sp = self.g, self.sp_metadata(self.saml)
        landed, browser = g.saml_login(self.python, self.saml, sp, "alice@acme.test", IDP)
        back = g.landing(landed)
        expect("code" in back, f"control: alice's first login through acme's IdP should log her in: {back}")
        alice = g.exchange(back["code"], browser)["access_token"]
        expect(g.ok(g.api("GET", "/user", token=alice), 200)["email"] == "alice@acme.test", "alice's account")
        g.ok(g.api("POST", "/orgs", {"name": "Alice's", "slug": "alices"}, alice), 201, "alice makes her own org")
        landed, _ = g.saml_login(self.python, self.saml, sp, "alice@acme.test", IDP)
        back = g.landing(landed)
        expect(back.get("error") == "identity_not_linked" and "code" not in back,
               f"acme's IdP, alice owning another org: expected error=identity_not_linked, got {back}")
        # bob, made an admin of acme (not its owner), puts an IdP of his own in the connection.
        self.join("acme", "bob@example.com", "admin", self.bob)
        mails_before = len(g.mails())
        path = f"/orgs/acme/sso/{self.saml['id']}"
        swapped = g.ok(g.api("PATCH", path, {"metadata_xml": self.metadata(BOB_IDP)}, self.bob), 200, "bob's swap")
        expect(swapped["idp"]["entity_id"] == BOB_IDP[0], f"the connection names bob's IdP: {swapped}")
        landed, _ = g.saml_login(self.python, self.saml, sp, "carol@acme.test", BOB_IDP)
        back = g.landing(landed)
        expect("code" in back, f"control: bob's IdP's answers verify and log a new person in: {back}")
        landed, _ = g.saml_login(self.python, self.saml, sp, "alice@acme.test", BOB_IDP)
        back = g.landing(landed)
        expect(back.get("error") == "identity_not_linked" and "code" not in back,
               f"bob's IdP naming alice: expected error=identity_not_linked, got {back}")
        subject, _ = g.wait_mail("owner@example.com", BOB_IDP[0], after=mails_before)
        return "alice's first login made her account; after she made an org, acme's IdP and bob's swapped-in " \
               f"IdP both get error=identity_not_linked (bob's logs carol in); the owner was emailed {subject!r}"

    def finding_3_a_personal_api_key_minted_the_organizations_credentials(self):
        """3 a personal API key mints none of the organization's credentials"""
        g = self.g
        made = g.ok(g.api("POST", "/user/api-keys", {"name": "leaked"}, self.owner), 201, "the owner's key")
        key = made["key"]
        expect(g.ok(g.api("GET", "/user", token=key), 200)["id"] == self.owner_id, "control: the key is the owner's")
        connections = len(g.ok(g.api("GET", "/orgs/acme/sso", token=self.owner), 200)["connections"])
        refusals = [("/orgs/acme/scim/tokens", {"name": "Okta"}),
                    ("/orgs/acme/sso/saml", {"metadata_xml": self.metadata(BOB_IDP), "name": "Key's IdP"}),
                    ("/orgs/acme/invitations", {"email": "eve@example.com", "role": "owner"}),
                    ("/orgs/acme/roles", {"name": "auditor", "permissions": ["reports:read"]})]
        for path, body in refusals:
            g.refused(g.api("POST", path, body, key), 403, "api_key_forbidden", f"POST {path} with the key")
        # Controls: the key does what takes no login; the owner's login makes a SCIM token that works.
        member = {"email": "kim@example.com", "role": "member"}
        g.ok(g.api("POST", "/orgs/acme/invitations", member, key), 201, "control: a member invitation with the key")
        scim = g.ok(g.api("POST", "/orgs/acme/scim/tokens", {"name": "Okta"}, self.owner), 201, "control: the login")
        g.ok(g.api("GET", "/scim/v2/Users", token=scim["token"]), 200, "control: the SCIM token works")
        # Nothing the key asked for exists.
        tokens = g.ok(g.api("GET", "/orgs/acme/scim/tokens", token=self.owner), 200)
        expect([t["id"] for t in tokens["tokens"]] == [scim["id"]], f"SCIM tokens: {tokens}")
        now = len(g.ok(g.api("GET", "/orgs/acme/sso", token=self.owner), 200)["connections"])
        expect(now == connections, f"the key added a connection: {connections} -> {now}")
        roles = g.ok(g.api("GET", "/orgs/acme/roles", token=self.owner), 200)["roles"]
        expect("auditor" not in [r["name"] for r in roles], f"the key made a role: {roles}")
        invited = g.ok(g.api("GET", "/orgs/acme/invitations", token=self.owner), 200)["invitations"]
        invited = [i["email"] for i in invited]
        expect("kim@example.com" in invited and "eve@example.com" not in invited, f"invitations: {invited}")
        g.ok(g.api("DELETE", f"/orgs/acme/scim/tokens/{scim['id']}", token=self.owner), 204, "the SCIM token revoked")
        # Revoked, the key opens nothing.
        g.ok(g.api("DELETE", f"/user/api-keys/{made['id']}", token=self.owner), 204, "the key revoked")
        g.refused(g.api("GET", "/user", token=key), 401, "unauthorized", "GET /user with the revoked key")
        g.refused(g.api("POST", "/orgs/acme/invitations", member, key), 401, "unauthorized", "the revoked key invites")
        return "the key: 403 api_key_forbidden for a SCIM token, a SAML connection, an owner invitation and a role, " \
               "none made; revoked: 401; control: the key invites a member, a login makes a working SCIM token"

    def finding_4_the_organizations_policy_held_at_two_doors_of_five(self):
        """4 the organization's policy holds at every door that grants or states it"""
        g = self.g
        self.join("acme", "mia@example.com", "member", self.mia)
        mia = g.login("mia@example.com", self.password)  # a password session, no second factor
        client = {"name": "Portal", "redirect_uris": ["https://portal.example.com/callback"],
                  "scopes": ["openid", "email", "org"], "first_party": True}
        client = g.ok(g.api("POST", "/admin/clients", client, self.admin), 201, "the admin registers a client")
        grant = {"scope": "openid email org", "org_hint": "acme"}

        def doors(active):
            """What each door shows of acme: (POST /auth/org, the org: rule, elsewhere, ID token, userinfo)."""
            switched = g.api("POST", "/auth/org", {"org": "acme"}, mia)
            rule, elsewhere = self.forward(mia, "grafana.example.com"), self.forward(active, "other.example.com")
            expect(elsewhere.status == 200 and elsewhere.header("Remote-User") == self.mia_id, f"a login: {elsewhere}")
            tokens = code_grant(g, client, "mia@example.com", self.password, **grant)
            info = g.ok(g.api("GET", "/oauth2/userinfo", token=tokens["access_token"]), 200, "userinfo")
            expect(info.get("sub") == self.mia_id, f"userinfo of another: {info}")
            return switched, rule, elsewhere.header("Remote-Org"), jwt_claims(tokens["id_token"]).get("org"), info

        # Control: before the policy every door opens to the admitted member.
        switched = g.ok(g.api("POST", "/auth/org", {"org": "acme"}, mia), 200, "control: mia enters acme")
        active = switched["access_token"]
        entered, rule, elsewhere, id_org, info = doors(active)
        expect(entered.status == 200 and rule.status == 200 and rule.header("Remote-Org") == "acme"
               and elsewhere == "acme" and (id_org or {}).get("slug") == "acme" and info.get("org"),
               f"control, before the policy: {entered}; {rule}; elsewhere {elsewhere}; ID token {id_org}; {info}")
        g.ok(g.api("PATCH", "/orgs/acme", {"policy": {"mfa_required": True}}, self.owner), 200, "the policy")
        try:
            entered, rule, elsewhere, id_org, info = doors(active)
            g.refused(entered, 403, "mfa_enrolment_required", "POST /auth/org under mfa_required")
            g.refused(rule, 403, "forbidden", "forward-auth at the org:acme rule")
            expect(not rule.header("Remote-Org") and not elsewhere, f"Remote-Org: {rule}; elsewhere {elsewhere}")
            expect(id_org is None and "org" not in info, f"the ID token's org {id_org}, userinfo {info}")
        finally:
            # The server admin (no member) acts as an owner without the policy.
            g.ok(g.api("PATCH", "/orgs/acme", {"policy": {}}, self.admin), 200, "the policy lifted")
        return "under mfa_required: POST /auth/org 403 mfa_enrolment_required, the org:acme rule 403 forbidden, " \
               "no Remote-Org elsewhere, no org in the ID token or userinfo; control: all five open before"

    def finding_5_an_unverified_email_took_over_an_account(self):
        """5 an ID token without email_verified takes over no account (OpenID Connect)"""
        g = self.g
        body = {"issuer": "http://127.0.0.1:9", "client_id": "gatehouse", "client_secret": OIDC_SECRET, "name": "Acme"}
        added = g.ok(g.api("POST", "/orgs/acme/sso/oidc", body, self.owner), 201, "acme's OIDC connection")
        # The provider must know the connection's redirect URI; the connection then names it.
        self.provider, issuer = start_provider(added["redirect_uri"], self.work)
        change = {"issuer": issuer, "client_secret": OIDC_SECRET}
        connection = g.ok(g.api("PATCH", f"/orgs/acme/sso/{added['id']}", change, self.owner), 200, "the issuer")

        def log_in(sub):
            chosen = request(f"{issuer}/_test/login", "POST", {"Content-Type": "application/json"},
                             json.dumps({"sub": sub}))
            expect(chosen.status == 204, f"the provider's control API: {chosen}")
            browser = Browser()
            start = connection["login_url"] + "?redirect_to=" + urllib.parse.quote(APP + "done")
            return query_of(browser.follow(start, lambda url: url.startswith(APP))), browser

        back, browser = log_in("ann")
        expect("code" in back, f"control: ann (email_verified true) should log in: {back}")
        ann = g.ok(g.api("GET", "/user", token=g.exchange(back["code"], browser)["access_token"]), 200)
        expect(ann["email"] == "ann@acme.test", f"ann's account: {ann}")
        linked = g.ok(g.api("GET", f"/admin/users/{ann['id']}/identities", token=self.admin), 200)
        expect(len(linked.get("identities") or []) == 1, f"control: ann's identity: {linked}")
        back, _ = log_in("ceo")
        expect(back.get("error") == "identity_not_linked" and "code" not in back,
               f"ceo (email_verified false): expected error=identity_not_linked, got {back}")
        linked = g.ok(g.api("GET", f"/admin/users/{self.ceo_id}/identities", token=self.admin), 200)
        expect(linked.get("identities") == [], f"the ceo's account got an identity: {linked}")
        return "ceo@acme.test with email_verified false: error=identity_not_linked, nothing linked to the " \
               "account; control: ann (verified) logs in"

    def finding_6_a_connection_named_google_took_over_addresses_of_others(self):
        """6 a connection named "Google" makes no account and sends no email off its verified domains"""
        g = self.g
        org = g.ok(g.api("POST", "/orgs", {"name": "Google"}, self.mallory), 201, "mallory's org Google")
        g.verify_domain(org["slug"], "mallory.test", self.mallory)
        body = {"metadata_xml": self.metadata(IDP), "name": "Google"}
        connection = g.ok(g.api("POST", f"/orgs/{org['slug']}/sso/saml", body, self.mallory), 201, "the connection")
        sp = self.sp_metadata(connection)
        landed, _ = g.saml_login(self.python, connection, sp, "someone@mallory.test", IDP)
        back = g.landing(landed)
        expect("code" in back, f"control: an address at the org's verified domain logs in: {back}")
        mails_before = len(g.mails())
        landed, _ = g.saml_login(self.python, connection, sp, "victim@gmail.example", IDP)
        back = g.landing(landed)
        expect(back.get("error") == "sso_domain_not_verified" and "code" not in back,
               f"victim@gmail.example: expected error=sso_domain_not_verified, got {back}")
        found = g.ok(g.api("GET", "/admin/users?q=victim%40gmail.example", token=self.admin), 200, "the search")
        expect(found["users"] == [], f"an account for the victim: {found}")
        found = g.ok(g.api("GET", "/admin/users?q=someone%40mallory.test", token=self.admin), 200, "the search")
        expect(len(found["users"]) == 1, f"control: the search finds the account the control made: {found}")
        # An email queued after the attempt arrives; none to the victim came before or with it.
        g.ok(g.api("POST", "/password/forgot", {"email": "pat@example.com"}), 202, "a later email")
        g.wait_mail("pat@example.com", after=mails_before)
        told = [recipients for recipients, _, _ in g.mails() if "victim@gmail.example" in recipients]
        expect(not told, f"the victim was emailed: {told}")
        return "victim@gmail.example: error=sso_domain_not_verified, no account, no email (a later one arrived); " \
               "control: someone@mallory.test logs in"

    def finding_7_gatehouses_own_url_redirected_anywhere(self):
        """7 a connection sends no browser anywhere before its organization verifies a domain"""
        g = self.g
        fixture = (ROOT / "e2e/saml/fixtures/idp-metadata.xml").read_text()
        evil = fixture.replace('Location="https://idp.test/sso"', 'Location="https://evil.example/login"')
        expect("https://idp.test/sso" not in evil, "the fixture's SSO location was not replaced")
        g.ok(g.api("POST", "/orgs", {"name": "Evil Corp", "slug": "evil-corp"}, self.mallory), 201, "the org")
        body = {"metadata_xml": evil, "name": "Evil"}
        connection = g.ok(g.api("POST", "/orgs/evil-corp/sso/saml", body, self.mallory), 201, "the connection")
        expect(connection.get("active") is False, f"a connection without a verified domain is active: {connection}")
        for accept in ("application/json", "text/html"):
            resp = request(connection["login_url"], headers={"Accept": accept})
            expect(resp.status == 403 and not resp.header("Location"), f"anonymous, Accept {accept}: {resp}")
        g.refused(request(connection["login_url"]), 403, "sso_connection_inactive", "the anonymous login")
        # Control: once the organization verified a domain, its connection sends browsers to its IdP.
        g.verify_domain("evil-corp", "evil-corp.test", self.mallory)
        shown = g.ok(g.api("GET", f"/orgs/evil-corp/sso/{connection['id']}", token=self.mallory), 200)
        resp = Browser().get(connection["login_url"])
        expect(shown.get("active") is True and resp.status == 302
               and resp.header("Location").startswith("https://evil.example/login?"),
               f"control, after the domain: active {shown.get('active')}, {resp}")
        return "anonymous GET login_url: 403 sso_connection_inactive, no Location; control: after a verified " \
               "domain, active and a 302 to https://evil.example/login"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("--base", "--admin-email", "--zone", "--mailbox", "--saml-python", "--work"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    # A SIGTERM (run.sh's cleanup) still runs the `finally` below, which stops the provider.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    review = Review(args)
    findings = [getattr(review, name) for name in sorted(dir(review)) if name.startswith("finding_")]
    try:
        review.run("setup", review.setup)
        if review.failed:
            return 1
        for method in findings:
            review.run(method.__doc__, method)
    finally:
        if review.provider:
            review.provider.terminate()
            review.provider.wait(timeout=10)
            (review.work / "provider.pid").unlink(missing_ok=True)
    print(f"review: {review.passed - 1} of {len(findings)} findings hold, {review.failed} failed", flush=True)
    return 1 if review.failed else 0


if __name__ == "__main__":
    sys.exit(main())
