#!/usr/bin/env python3
"""The two small servers e2e/review/run.sh starts beside gatehouse, standard library only.

    python3 e2e/review/servers.py dns PORT ZONE
    python3 e2e/review/servers.py smtp PORT MAILBOX

`dns`: a DNS server on 127.0.0.1:PORT (UDP), authoritative for every name, answering TXT
questions from ZONE, a JSON object {"name": ["value", ...]} that e2e/review/check.py writes
(read afresh at each question, so a record counts as soon as it is written). A name ZONE does
not hold, or a question of another type, gets an empty NOERROR answer. This is what gatehouse's
GATEHOUSE_DNS_RESOLVER asks when an organization verifies a domain.

`smtp`: an SMTP server on 127.0.0.1:PORT that accepts every message (no TLS, no AUTH) and
appends one JSON line per message to MAILBOX once it has answered `250` to its end:
{"to": [recipients], "from": sender, "data": the message as sent}. check.py reads it to see
what gatehouse emailed, and to whom.

Each prints "ready" on stdout once it listens, and runs until SIGTERM.
"""

import asyncio
import json
import re
import signal
import socket
import struct
import sys

# ------------------------------------------------------------------------------------------
# DNS (RFC 1035): a question in, the TXT records of ZONE out.

TXT, CLASS_IN = 16, 1


def question_end(packet):
    """The offset just past the first question's QTYPE and QCLASS, and its name (lower case)."""
    offset, labels = 12, []
    while True:
        length = packet[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0:
            raise ValueError("a compressed name in a question")
        labels.append(packet[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    return offset + 4, ".".join(labels).lower()


def txt_rdata(value):
    """One TXT record: its text in strings of at most 255 bytes."""
    data = value.encode()
    chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    return b"".join(bytes([len(chunk)]) + chunk for chunk in chunks)


def answer(packet, zone_path):
    (ident, flags, qdcount) = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        # FORMERR, the question echoed as far as it goes.
        return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x0100) | 1, 0, 0, 0, 0)
    end, name = question_end(packet)
    qtype, qclass = struct.unpack("!HH", packet[end - 4:end])
    try:
        with open(zone_path) as zone_file:
            zone = json.load(zone_file)
    except (OSError, ValueError):
        zone = {}
    values = zone.get(name.rstrip("."), []) if (qtype, qclass) == (TXT, CLASS_IN) else []
    records = b""
    for value in values:
        rdata = txt_rdata(value)
        # The name as a pointer to the question's (offset 12), IN TXT, a TTL of 0.
        records += struct.pack("!HHHIH", 0xC00C, TXT, CLASS_IN, 0, len(rdata)) + rdata
    # QR, AA, the question's RD, RA; NOERROR.
    header = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | 0x0080, 1, len(values), 0, 0)
    return header + packet[12:end] + records


class Dns(asyncio.DatagramProtocol):
    def __init__(self, zone_path):
        self.zone_path = zone_path

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            self.transport.sendto(answer(data, self.zone_path), addr)
        except (ValueError, IndexError, struct.error) as error:
            print(f"dns: a malformed question from {addr}: {error}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# SMTP (RFC 5321), the commands a client sends to deliver: every message is taken.

async def smtp_session(reader, writer, mailbox):
    async def say(line):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    sender, recipients = None, []
    await say("220 review-sink ESMTP")
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("latin-1").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                writer.write(b"250-review-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE 10485760\r\n")
                await writer.drain()
            elif verb == "MAIL":
                found = re.search(r"<([^>]*)>", command)
                sender, recipients = found.group(1) if found else "", []
                await say("250 OK")
            elif verb == "RCPT":
                found = re.search(r"<([^>]*)>", command)
                recipients.append(found.group(1) if found else command[8:].strip())
                await say("250 OK")
            elif verb == "DATA":
                await say("354 go ahead")
                body = (await reader.readuntil(b"\r\n.\r\n"))[:-5]
                # Undo the dot-stuffing of lines that start with a dot.
                body = re.sub(rb"(?m)^\.\.", b".", body)
                with open(mailbox, "a") as out:
                    out.write(json.dumps({"to": recipients, "from": sender, "data": body.decode("latin-1")}) + "\n")
                await say("250 OK queued")
                sender, recipients = None, []
            elif verb in ("RSET", "NOOP"):
                if verb == "RSET":
                    sender, recipients = None, []
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


# ------------------------------------------------------------------------------------------

async def main(kind, port, path):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    if kind == "dns":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        transport, _ = await loop.create_datagram_endpoint(lambda: Dns(path), sock=sock)
    else:
        server = await asyncio.start_server(lambda r, w: smtp_session(r, w, path), "127.0.0.1", port,
                                            limit=16 * 1024 * 1024)
        transport = server
    print("ready", flush=True)
    await stop
    transport.close()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("dns", "smtp"):
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
