"""gatehouse's SCIM 2.0 server checked by scim2-tester, the conformance checker of the
python-scim project (RFC 7643 and RFC 7644), through scim2-client over HTTP.

Run by e2e/scim/run.sh, which starts gatehouse with a bootstrap admin and points its domain
verification at the DNS server this script runs (GATEHOUSE_DNS_RESOLVER=127.0.0.1:<dns port>).
It needs nothing else, only the HTTP API:

  1. logs the bootstrap admin in (POST /auth);
  2. creates an organization (POST /orgs), of which the admin is the owner;
  3. claims a domain for it (POST /orgs/{org}/domains), publishes the TXT challenge on its own
     DNS server (UDP and TCP on 127.0.0.1:<dns port>) and verifies the domain
     (POST /orgs/{org}/domains/{domain}/verify): gatehouse provisions a SCIM User only at an
     address (its primary email, else its userName) at a domain its organization verified;
  4. creates a SCIM token (POST /orgs/{org}/scim/tokens);
  5. runs every check of scim2-tester against {base}/scim/v2 with that token as the bearer.

scim2-tester makes up the values it sends: a uuid4 for a userName and uuid4@uuid4.com for an
email address, unless the attribute's model field has examples, which it then draws from. So
once the models are read from the server's own /Schemas and /ResourceTypes, the userName and
emails.value fields of every model are given, as their examples, addresses at the verified
domain that are new at each draw. Nothing else of what scim2-tester sends or checks is changed,
and no check is left out: the only ones skipped are those scim2-tester itself skips (a feature
the ServiceProviderConfig says is not supported, an attribute the schema does not have).

One line per check ("STATUS  check  reason"), then the details of each failed check, then
"scim: N passed, N failed, N skipped". Every HTTP exchange with /scim/v2 goes to the transcript
(--transcript), with the check that sent it. Exit status: 0 when every check passed or was
skipped by scim2-tester, 1 when one failed or the setup failed, 2 on a usage error.

The admin's password comes from the environment (GATEHOUSE_E2E_ADMIN_PASSWORD).
"""

from __future__ import annotations

import argparse
import collections.abc
import functools
import json
import os
import sys
import threading
import uuid
from typing import Any

import httpx2
import scim2_tester.checker
import scim2_tester.checkers
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Path
from scim2_tester import Status, check_server
from scim2_tester.utils import parametrize

# The statuses that pass. SKIPPED is scim2-tester's own decision (no check is filtered here).
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# How long one HTTP request may take: a debug build hashes passwords slowly.
TIMEOUT = 120.0


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# ------------------------------------------------------------------------------------------
# The DNS server that answers the domain's challenge.


class Records(BaseResolver):
    """Answers the TXT records published (name → values), and NXDOMAIN for any other name."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def publish(self, name: str, value: str) -> None:
        with self.lock:
            self.txt.setdefault(name.lower().rstrip("."), []).append(value)

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname = request.q.qname
        with self.lock:
            values = list(self.txt.get(str(qname).lower().rstrip("."), []))
        if not values:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in values:
                # One TXT record of strings of at most 255 bytes, as DNS wants them.
                data = value.encode()
                chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
                reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(chunks), ttl=0))
        return reply


def start_dns(port: int) -> Records:
    records = Records()
    quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-data,-error", prefix=False)
    try:
        for tcp in (False, True):
            DNSServer(records, port=port, address="127.0.0.1", tcp=tcp, logger=quiet).start_thread()
    except OSError as e:
        fail(f"the DNS server could not listen on 127.0.0.1:{port}: {e}")
    return records


# ------------------------------------------------------------------------------------------
# gatehouse's own API: the organization, its verified domain and its SCIM token.


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx2.Client(base_url=base, timeout=TIMEOUT, trust_env=False,
                                  headers={"Accept": "application/json"})
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any, expect: int, what: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            answer = self.http.request(method, path, json=body, headers=headers)
        except httpx2.HTTPError as e:
            fail(f"{what}: {method} {path} could not be sent: {e}")
        if answer.status_code != expect:
            fail(f"{what}: {method} {path} {json.dumps(body)} answered {answer.status_code}, expected "
                 f"{expect}: {answer.text}")
        return answer.json() if answer.content else None


def bootstrap(base: str, email: str, password: str, domain: str, records: Records) -> str:
    """The SCIM token of a new organization that verified `domain`."""
    api = Api(base)
    login = api.call("POST", "/auth", {"email": email, "password": password}, 200, "the admin's login")
    api.token = login["access_token"]

    org = api.call("POST", "/orgs", {"name": "SCIM conformance", "slug": "scim-conformance"}, 201,
                   "creating the organization")
    slug = org.get("slug") or org["id"]
    print(f"organization {slug} ({org.get('id')})", flush=True)

    claim = api.call("POST", f"/orgs/{slug}/domains", {"domain": domain}, 201, "claiming the domain")
    challenge = claim["challenge"]
    records.publish(challenge["name"], challenge["value"])
    verified = api.call("POST", f"/orgs/{slug}/domains/{domain}/verify", {}, 200, "verifying the domain")
    if verified.get("verified") is not True:
        fail(f"verifying the domain answered 200 without verified: true: {verified}")
    print(f"domain {domain} verified (TXT {challenge['name']})", flush=True)

    created = api.call("POST", f"/orgs/{slug}/scim/tokens", {"name": "scim2-tester"}, 201,
                       "creating the SCIM token")
    for field in ("id", "name", "token", "created_at"):
        if field not in created:
            fail(f"the SCIM token's answer has no {field!r}: {sorted(created)}")
    print(f"SCIM token {created['id']} ({created['name']})", flush=True)
    return created["token"]


# ------------------------------------------------------------------------------------------
# The transcript of the SCIM exchanges.


class Transcript:
    """Writes each exchange with the SCIM server: request line and body, status and body."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 (open for the whole run)
        self.count = 0

    def request(self, request: httpx2.Request) -> None:
        self.count += 1
        body = request.content.decode("utf-8", "replace") if request.content else ""
        self.file.write(f"\n#{self.count} > {request.method} {request.url}\n")
        if body:
            self.file.write(f"> {body}\n")

    def response(self, response: httpx2.Response) -> None:
        response.read()
        kind = response.headers.get("content-type", "")
        self.file.write(f"#{self.count} < {response.status_code} {kind}\n")
        if response.content:
            self.file.write(f"< {response.content.decode('utf-8', 'replace')}\n")
        self.file.flush()

    def note(self, text: str) -> None:
        self.file.write(f"\n==== {text}\n")
        self.file.flush()


# ------------------------------------------------------------------------------------------
# The addresses scim2-tester sends.


class FreshAddresses(collections.abc.Sequence):
    """Examples for a field: each one drawn is a new address at `domain`. scim2-tester picks a
    field's value with random.choice(field.examples), which takes one item by its index."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    def __len__(self) -> int:
        return 1 << 30

    def __getitem__(self, index: Any) -> str:
        if isinstance(index, slice):
            raise TypeError("FreshAddresses cannot be sliced")
        return f"scim-{uuid.uuid4().hex[:16]}@{self.domain}"

    def __repr__(self) -> str:
        return f"FreshAddresses({self.domain!r})"


def addresses_at(scim: SyncSCIMClient, domain: str) -> list[str]:
    """Gives the userName and emails.value fields of the models the server described addresses
    at `domain` as examples; returns the paths given them."""
    given = []
    provider = scim.provider
    # The models the resource types are served with (User[EnterpriseUser] is a model of its
    # own, with fields of its own), then the bare schemas' models.
    served = [provider.model_for(resource_type) for resource_type in provider.resource_types]
    models = list(dict.fromkeys([m for m in served if m is not None] + list(provider.models)))
    for model in models:
        for path in parametrize(Path, model).iter_paths():
            name = str(path)
            last = name.rsplit(":", 1)[-1].lower()
            if last not in ("username", "emails.value"):
                continue
            binding = path.resolve()
            if binding is None or binding.target_model is None:
                continue
            field = binding.target_model.model_fields.get(binding.target_field_name)
            if field is None:
                continue
            field.examples = FreshAddresses(domain)  # type: ignore[assignment]
            given.append(f"{model.__name__}.{name}")
    return given


# ------------------------------------------------------------------------------------------
# The checks.


def one_line(text: Any) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def note_checks(transcript: Transcript) -> None:
    """Makes each check of scim2-tester write its name to the transcript when it starts, so
    that the exchanges there can be told apart. Only the transcript changes: the checks are
    called as they are, with what they are given, and return what they return."""
    wrappers: dict[Any, Any] = {}

    def noted(check: Any) -> Any:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> Any:
            model = next((a for a in args[1:] if isinstance(a, type)), None)
            transcript.note(f"{check.__name__}({model.__name__})" if model else check.__name__)
            return check(*args, **kwargs)

        run.noted = True  # type: ignore[attr-defined]
        return run

    modules = [scim2_tester.checker] + [
        module for name, module in sorted(sys.modules.items()) if name.startswith("scim2_tester.checkers.")
    ]
    for module in modules:
        for name, value in list(vars(module).items()):
            is_check = hasattr(value, "tags") or name == "resource_type_tests" or (
                name.startswith("_") and name.endswith("_endpoint"))
            if not callable(value) or getattr(value, "noted", False) or not is_check:
                continue
            if not getattr(value, "__module__", "").startswith("scim2_tester.checkers"):
                continue
            if value not in wrappers:
                wrappers[value] = noted(value)
            setattr(module, name, wrappers[value])


def run_checks(scim_url: str, token: str | None, domain: str, transcript_path: str) -> int:
    transcript = Transcript(transcript_path)
    note_checks(transcript)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.Client(base_url=scim_url, headers=headers, timeout=TIMEOUT, trust_env=False,
                         event_hooks={"request": [transcript.request], "response": [transcript.response]})
    scim = SyncSCIMClient(http)
    harness_errors = []

    # The models, from what the server publishes, so that the userNames and emails can be
    # made at the verified domain. A server whose description cannot be read is left to the
    # checks, which say why.
    transcript.note("discovery of the models (before the checks)")
    try:
        scim.discover()
    except Exception as e:  # noqa: BLE001 (any failure is the checks' to report)
        print(f"discovery failed before the checks: {one_line(e)}", flush=True)
        harness_errors.append(f"the server's description could not be read: {one_line(e)}")
    else:
        given = addresses_at(scim, domain)
        print(f"addresses at {domain} for {', '.join(given) or 'no field'}", flush=True)
        if not any(g.lower().endswith(".username") for g in given):
            harness_errors.append("no userName field among the models the server described")

    transcript.note("check_server")
    results = check_server(scim)

    failed = []
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    width = max((len(r.status.name) for r in results), default=7)
    for r in results:
        name = f"{r.resource_type}/{r.title}" if r.resource_type else str(r.title)
        print(f"{r.status.name:<{width}}  {name}  {one_line(r.reason)}", flush=True)
        if r.status in PASSED:
            counts["passed"] += 1
        elif r.status == Status.SKIPPED:
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
            failed.append((name, r))

    # The checks of both standard resource types must have run: a server that describes no
    # User or Group would otherwise pass on the discovery checks alone.
    for kind in ("User", "Group"):
        if not any(r.resource_type == kind for r in results):
            harness_errors.append(f"no check ran on the {kind} resource type")

    for name, r in failed:
        print(f"\n---- {r.status.name} {name}", flush=True)
        print(f"reason: {r.reason}")
        if r.data is not None:
            data = r.data.model_dump(mode="json", exclude_none=True) if hasattr(r.data, "model_dump") else r.data
            text = data if isinstance(data, str) else json.dumps(data, default=str, indent=None)
            print(f"data: {text[:4000]}")
    for error in harness_errors:
        print(f"\nerror: {error}", flush=True)
        counts["failed"] += 1

    print(f"\ntranscript of the {transcript.count} SCIM requests: {transcript_path}")
    print(f"scim: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped", flush=True)
    return 1 if counts["failed"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="gatehouse's public URL")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--dns-port", type=int, required=True, help="where gatehouse asks for TXT records")
    parser.add_argument("--domain", default="example.org", help="the domain the organization verifies")
    parser.add_argument("--transcript", required=True, help="the file of the SCIM exchanges")
    args = parser.parse_args()
    password = os.environ.get("GATEHOUSE_E2E_ADMIN_PASSWORD")
    if not password:
        parser.error("GATEHOUSE_E2E_ADMIN_PASSWORD is not set")

    base = args.base.rstrip("/")
    records = start_dns(args.dns_port)
    token = bootstrap(base, args.admin_email, password, args.domain, records)
    print(f"scim2-tester against {base}/scim/v2", flush=True)
    return run_checks(f"{base}/scim/v2", token, args.domain, args.transcript)


if __name__ == "__main__":
    sys.exit(main())
