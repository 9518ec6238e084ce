#!/usr/bin/env python3
"""The app behind the proxies of e2e/proxy/run.sh: answers every request (any method, any
path) 200 with what it received as JSON, {"port", "method", "path", "headers": [[name, value],
...]} (the port it came in on; every header line as it came, repeated ones included), and
appends the same object as one line to a log file, so that a check can tell whether a request
reached it, through which site (each guarded host of check 10 has a port of its own) and with
what.

    python3 e2e/proxy/upstream.py PORT LOG [PORT...]
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    log_path = None

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = {"port": self.server.server_address[1], "method": self.command, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()]}
        line = json.dumps(seen)
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
        body = line.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        sys.stderr.write("upstream: %s %s\n" % (self.address_string(), format % args))


def main():
    Echo.log_path = sys.argv[2]
    servers = []
    for port in [int(sys.argv[1])] + [int(p) for p in sys.argv[3:]]:
        server = ThreadingHTTPServer(("127.0.0.1", port), Echo)
        server.daemon_threads = True
        servers.append(server)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = ", ".join(str(s.server_address[1]) for s in servers)
    print(f"upstream: listening on 127.0.0.1: {ports}", file=sys.stderr, flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
