#!/usr/bin/env python3
"""gatehouse's two Lambda functions, under cargo-lambda's emulator, as e2e/lambda/run.sh starts them.

    stories.py --base http://127.0.0.1:PORT --maildev http://127.0.0.1:WEB_PORT
        The checks: the API function (every path of --base goes to it as a function-URL event)
        signs a person up and sends no email; one invocation of the work function with
        EventBridge's scheduled event delivers it (its answer counts one email done and a
        sweep); then the emailed link activates the account, the person logs in, reads a
        protected resource, updates their account through seed 002's routes (PUT /user/{name}),
        logs out (DELETE /auth), and the token is refused on the next request.

    stories.py --base … --maildev … --dynamodb http://127.0.0.1:ENGINE_PORT --jobs-table TABLE
        The same on the DynamoDB store, where the job table's stream triggers the work function:
        after the sign-up, the records the stream gained are read from the engine (DescribeStream,
        GetShardIterator, GetRecords), kept as the deployment's filter keeps them (STREAM_FILTER:
        the insertion of a job, an item whose pk begins with J#), and the work function is
        invoked with them as Lambda's event source mapping delivers a batch; that invocation
        delivers the email (none is sent before it) and answers with no failed record; a
        scheduled invocation then sweeps and sends no second copy. Needs boto3 (run it with the
        python of moto's virtualenv, GATEHOUSE_MOTO_PYTHON) and the AWS credentials and region
        in the environment.

    stories.py --base http://127.0.0.1:PORT --schedule-every SECONDS
        Invokes the work function with the scheduled event every SECONDS until stopped (what
        EventBridge does every minute), printing each answer.

One line per check ("ok …" or "FAIL …"); exit status 0 when all passed, 1 otherwise. Python 3.11+,
standard library only but for --dynamodb; the HTTP client, the mail catcher and the assertions
are e2e/e2e.py's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
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


TEMPLATE = Path(__file__).resolve().parent.parent.parent / "deploy" / "aws" / "template.yaml"


def stream_filter(template: str) -> dict:
    """The work function's filter on the job table's stream: the one FilterCriteria pattern of
    the template's event source mapping, read from the template itself so the check runs what
    is deployed (the insertion of a job, `J#<id>`; a lane's entry `L#…`, a job's changes and
    removals start nothing)."""
    patterns = re.findall(r"^\s*FilterCriteria:\s*\n\s*Filters:\s*\n\s*- Pattern: '([^']*)'", template, re.M)
    if len(patterns) != 1:
        raise SystemExit(f"{TEMPLATE}: expected one FilterCriteria pattern, found {len(patterns)}")
    return json.loads(patterns[0])


STREAM_FILTER = stream_filter(TEMPLATE.read_text())


def invoke_work(base: str, event: dict | None = None) -> dict:
    """One invocation of the work function with `event`, by default the schedule's; its answer."""
    if event is None:
        event = {**SCHEDULED, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    request = urllib.request.Request(
        f"{base}/2015-03-31/functions/work/invocations",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=120) as answer:
        return json.loads(answer.read())


def kept_by(pattern, value) -> bool:
    """Whether an event filter pattern keeps `value`: a dict's keys each kept, a list of the
    values accepted, each a value or {"prefix": …}."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(key in value and kept_by(p, value[key]) for key, p in pattern.items())
    return any(
        isinstance(value, str) and value.startswith(accepted["prefix"]) if isinstance(accepted, dict) else value == accepted
        for accepted in pattern
    )


class JobStream:
    """The job table's stream on a DynamoDB endpoint, read from where the last read ended."""

    def __init__(self, endpoint: str, table: str):
        import boto3  # moto's virtualenv has it; the other modes need the standard library only

        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint)
        described = boto3.client("dynamodb", endpoint_url=endpoint).describe_table(TableName=table)["Table"]
        if "LatestStreamArn" not in described:
            raise e2e.Fail(f"the table {table} has no stream")
        self.arn = described["LatestStreamArn"]
        self.after: dict[str, str] = {}  # shard → the sequence number of the last record read
        self.read()  # what is there already is not the stories'

    def read(self) -> list[dict]:
        """The records written since the last read, shard by shard, each as GetRecords gives it."""
        records = []
        for shard in self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            start = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self.after:
                start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.after[shard_id]}
            iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id, **start)["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                if not page["Records"]:
                    break
                records += page["Records"]
                self.after[shard_id] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        return records

    def lambda_event(self, records: list[dict]) -> dict:
        """The event Lambda's event source mapping delivers for `records`: those STREAM_FILTER
        keeps, each with the stream's ARN and its creation time in epoch seconds."""
        delivered = []
        for record in records:
            if not kept_by(STREAM_FILTER, record):
                continue
            change = dict(record["dynamodb"])
            created = change.get("ApproximateCreationDateTime")
            if created is not None and not isinstance(created, (int, float)):
                change["ApproximateCreationDateTime"] = int(created.timestamp())
            delivered.append(
                {
                    "eventID": record["eventID"],
                    "eventName": record["eventName"],
                    "eventVersion": record["eventVersion"],
                    "eventSource": record["eventSource"],
                    "awsRegion": record["awsRegion"],
                    "dynamodb": change,
                    "eventSourceARN": self.arn,
                }
            )
        return {"Records": delivered}


def checks(base: str, maildev_url: str, stream: JobStream | None) -> int:
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

    def job_in_stream():
        records = stream.read()
        event = stream.lambda_event(records)
        e2e.expect_true(
            f"the insertion of a job (J#…) among the stream's {len(records)} new records", len(event["Records"]) >= 1, records
        )
        e2e.expect_eq(
            "the stream's view of the job table (the keys only)",
            {"KEYS_ONLY"},
            {r["dynamodb"]["StreamViewType"] for r in event["Records"]},
        )
        state["stream_event"] = event

    def stream_round():
        e2e.expect_eq("emails to the new address before the stream's invocation", 0, len(mail.messages_to(email)))
        done = invoke_work(base, state["stream_event"])
        e2e.expect_true("the answer counts the email as delivered", done.get("emails", {}).get("done", 0) >= 1, done)
        e2e.expect_eq("the answer's failed records (the batch's partial failures)", [], done.get("batchItemFailures"))
        e2e.expect_eq("a stream's invocation sweeps nothing", None, done.get("swept"))
        e2e.expect_eq("emails to the new address after the stream's invocation", 1, len(mail.messages_to(email)))

    def scheduled_sweep():
        done = invoke_work(base)
        e2e.expect_true("a scheduled round sweeps", isinstance(done.get("swept"), dict), done)
        e2e.expect_eq("the answer's emails delivered (none due)", 0, done.get("emails", {}).get("done", 0))
        e2e.expect_eq("emails to the new address after the scheduled invocation", 1, len(mail.messages_to(email)))

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

    if stream is None:
        delivery = [("one scheduled invocation of the work function delivers the queued email", scheduled_round)]
    else:
        delivery = [
            ("the job table's stream holds the queued email's job, kept by the work function's filter", job_in_stream),
            ("one invocation of the work function with that stream batch delivers the queued email", stream_round),
            ("a scheduled invocation of the work function sweeps, and sends no second copy", scheduled_sweep),
        ]
    for name, run in [
        ("sign-up through a function-URL event (POST /user: 201, pending)", sign_up),
        ("the API function sends no email itself", no_email_yet),
        *delivery,
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
    parser.add_argument("--dynamodb", metavar="ENDPOINT", help="the DynamoDB engine whose job table's stream to read")
    parser.add_argument("--jobs-table", help="the job table's name (with --dynamodb)")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    if args.schedule_every:
        while True:
            print(json.dumps(invoke_work(base)), flush=True)
            time.sleep(args.schedule_every)
    if not args.maildev:
        parser.error("--maildev is needed for the checks")
    if bool(args.dynamodb) != bool(args.jobs_table):
        parser.error("--dynamodb and --jobs-table go together")
    stream = None
    if args.dynamodb:
        try:
            stream = JobStream(args.dynamodb, args.jobs_table)
        except e2e.Fail as fail:
            print(f"FAIL the job table's stream: {fail}", flush=True)
            return 1
    return checks(base, args.maildev, stream)


if __name__ == "__main__":
    sys.exit(main())
