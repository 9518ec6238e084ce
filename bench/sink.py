#!/usr/bin/env python3
"""Local receivers for the mail benchmark (bench/mail.py), standard library only.

    python3 bench/sink.py smtp PORT RECORD [--delay-ms N] [--no-pipelining]
    python3 bench/sink.py http PORT RECORD

`smtp`: an SMTP server that accepts every message (EHLO answers PIPELINING and 8BITMIME) and,
for each, appends one line to RECORD once it has answered `250` to the message's end:
`<unix time in ms> <recipient> <Message-ID>`. With --delay-ms it waits that long before that
`250`, as a relay that takes its time does; with --no-pipelining its EHLO leaves PIPELINING out,
so the client must wait for each command's answer.

`http`: an HTTP/1.1 server (keep-alive) that answers `204` to every POST and appends
`<unix time in ms> <webhook-id> <the account id of the body's data.account.id>` per request.

RECORD is written line by line and flushed at once, so a reader sees each arrival as it happens.
"""

import asyncio
import json
import re
import sys
import time

RECORD = None


def record(*fields):
    RECORD.write(" ".join(str(f) for f in fields) + "\n")
    RECORD.flush()


async def smtp_session(reader, writer, delay, pipelining):
    async def say(line):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    recipients, message_id = [], None
    await say("220 sink ESMTP")
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("latin-1").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                offered = b"250-PIPELINING\r\n" if pipelining else b""
                writer.write(b"250-sink\r\n" + offered + b"250-8BITMIME\r\n250 SIZE 10485760\r\n")
                await writer.drain()
            elif verb == "MAIL":
                recipients, message_id = [], None
                await say("250 OK")
            elif verb == "RCPT":
                match = re.search(r"<([^>]*)>", command)
                recipients.append(match.group(1) if match else command[8:])
                await say("250 OK")
            elif verb == "DATA":
                await say("354 go ahead")
                body = await reader.readuntil(b"\r\n.\r\n")
                found = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]*>)", body)
                message_id = found.group(1).decode("latin-1") if found else "-"
                if delay:
                    await asyncio.sleep(delay)
                await say("250 OK queued")
                now = int(time.time() * 1000)
                for recipient in recipients:
                    record(now, recipient, message_id)
            elif verb == "RSET":
                recipients, message_id = [], None
                await say("250 OK")
            elif verb == "NOOP":
                await say("250 OK")
            elif verb == "QUIT":
                await say("221 bye")
                return
            else:
                await say("502 not implemented")
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def http_session(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            webhook_id = "-"
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"webhook-id":
                    webhook_id = value.strip().decode()
            body = await reader.readexactly(length) if length else b""
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
            try:
                account = json.loads(body)["data"]["account"]["id"]
            except (ValueError, KeyError, TypeError):
                account = "-"
            record(int(time.time() * 1000), webhook_id, account)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return
    finally:
        writer.close()


async def main():
    global RECORD
    kind, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    delay = 0.0
    if "--delay-ms" in sys.argv:
        delay = int(sys.argv[sys.argv.index("--delay-ms") + 1]) / 1000
    pipelining = "--no-pipelining" not in sys.argv
    RECORD = open(path, "a", buffering=1)
    if kind == "smtp":
        server = await asyncio.start_server(lambda r, w: smtp_session(r, w, delay, pipelining), "127.0.0.1", port,
                                            limit=1 << 22)
    elif kind == "http":
        server = await asyncio.start_server(http_session, "127.0.0.1", port, limit=1 << 22)
    else:
        sys.exit(f"unknown kind {kind}: smtp or http")
    print(f"sink {kind} listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
