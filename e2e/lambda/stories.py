#!/usr/bin/env python3
"""gatehouse's two Lambda functions, under cargo-lambda's emulator, as e2e/lambda/run.sh starts them.

    stories.py --base http://127.0.0.1:PORT --maildev http://127.0.0.1:WEB_PORT
        The checks: the API function (every path of --base goes to it as a function-URL event)
        signs a person up and sends no email; one invocation of the work function with
        EventBridge's scheduled event delivers it (its answer counts one email done and a
        sweep); then the emailed link activates the account, the person logs in, reads a
        protected resource, updates their account through seed 002's routes (PUT /user/{name}),
        logs out (DELETE /auth), and the token is refused on the next request.

    stories.py --base http://127.0.0.1:PORT --schedule-every SECONDS
        Invokes the work function with the scheduled event every SECONDS until stopped (what
        EventBridge does every minute), printing each answer.

One line per check ("ok …" or "FAIL …"); exit status 0 when all passed, 1 otherwise. Python 3.11+,
standard library only; the HTTP client, the mail catcher and the assertions are e2e/e2e.py's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import secrets
import sys
import time
import urllib.request
from pathlib import Path

_spec = importlib.util.spec_from_file_location("e2e", Path(__file__).resolve().parent.parent / "e2e.py")
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e"] = e2e
_spec.loader.exec_module(e2e)

SCHEDULED = {
    "version": "0",
    "id": "0c2a3b5e-6d4c-4e38-9d0b-6c1f6c1f6c1f",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "region": "eu-west-3",
    "resources": ["arn:aws:events:eu-west-3:123456789012:rule/gatehouse-work"],
    "detail": {},
}


def invoke_work(base: str) -> dict:
    """One invocation of the work function, as the schedule makes it; its answer."""
    request = urllib.request.Request(
        f"{base}/2015-03-31/functions/work/invocations",
        data=json.dumps({**SCHEDULED, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=120) as answer:
        return json.loads(answer.read())


def checks(base: str, maildev_url: str) -> int:
    api = e2e.Client(base, 30.0)
    mail = e2e.MailDev(maildev_url, 10.0)
    passed = failed = 0

    def step(name, run):
        nonlocal passed, failed
        try:
            run()
        except e2e.Fail as fail:
            failed += 1
            print(f"FAIL {name}: {fail}", flush=True)
            return False
        passed += 1
        print(f"ok   {name}", flush=True)
        return True

    tag = secrets.token_hex(4)
    email, username = f"lambda-{tag}@example.com", f"lambda_{tag}"
    password = e2e.secret("Lambda-" + secrets.token_urlsafe(15))
    state: dict = {}

    def sign_up():
        body = {"email": email, "password": password, "username": username, "city": "Lyon"}
        account = e2e.expect_json(api.request("POST", "/user", json_body=body), 201)
        e2e.expect_eq('"status"', "pending", account.get("status"))
        state["id"] = account["id"]

    def no_email_yet():
        time.sleep(1.5)
        e2e.expect_eq("emails to the new address before the work function runs", 0, len(mail.messages_to(email)))

    def scheduled_round():
        done = invoke_work(base)
        e2e.expect_true("the answer counts the email as delivered", done.get("emails", {}).get("done", 0) >= 1, done)
        e2e.expect_true("a scheduled round sweeps", isinstance(done.get("swept"), dict), done)
        e2e.expect_eq("emails to the new address after one scheduled invocation", 1, len(mail.messages_to(email)))

    def activate():
        link = mail.wait_for_link(email, base, "/activate", 5.0)
        user = e2e.expect_json(api.request("GET", link), 200).get("user") or {}
        e2e.expect_eq('"user.status" after the emailed link', "active", user.get("status"))

    def log_in():
        body = e2e.expect_json(api.request("POST", "/auth", json_body={"email": email, "password": password}), 200)
        state["token"] = e2e.secret(body["access_token"])

    def protected():
        body = e2e.expect_json(api.request("GET", "/protected", token=state["token"]), 200)
        e2e.expect_eq("/protected user_id", state["id"], body.get("user_id"))
        home = e2e.expect_json(api.request("GET", "/", token=state["token"]), 200)
        e2e.expect_eq("GET / names the person", username, (home.get("user") or {}).get("username"))

    def seed_routes():
        changed = api.request("PUT", f"/user/{username}", json_body={"city": "Nantes"}, token=state["token"])
        e2e.expect_status(changed, 200)
        shown = e2e.expect_json(api.request("GET", f"/user/{username}", token=state["token"]), 200)
        e2e.expect_eq("the updated data", "Nantes", (shown.get("data") or {}).get("city"))

    def log_out():
        e2e.expect_status(api.request("DELETE", "/auth", token=state["token"]), 204)
        e2e.expect_unauthorized(api.request("GET", "/protected", token=state["token"]), token_sent=True)

    for name, run in [
        ("sign-up through a function-URL event (POST /user: 201, pending)", sign_up),
        ("the API function sends no email itself", no_email_yet),
        ("one scheduled invocation of the work function delivers the queued email", scheduled_round),
        ("the emailed link activates the account", activate),
        ("login (POST /auth)", log_in),
        ("a protected resource with the token (GET /protected, GET /)", protected),
        ("seed 002's routes: PUT /user/{username}, GET /user/{username}", seed_routes),
        ("logout (DELETE /auth), and the token is refused on the next request", log_out),
    ]:
        if not step(name, run):
            break
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--maildev")
    parser.add_argument("--schedule-every", type=float)
    args = parser.parse_args()
    base = args.base.rstrip("/")
    if args.schedule_every:
        while True:
            print(json.dumps(invoke_work(base)), flush=True)
            time.sleep(args.schedule_every)
    if not args.maildev:
        parser.error("--maildev is needed for the checks")
    return checks(base, args.maildev)


if __name__ == "__main__":
    sys.exit(main())
