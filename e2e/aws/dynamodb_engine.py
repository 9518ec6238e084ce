"""A DynamoDB-compatible engine for the tests: moto's server application on a loopback port,
answering one request at a time.

DynamoDB runs each TransactWriteItems atomically: its conditions and its writes are one step
that no other request interleaves with. moto checks a transaction's conditions and then applies
its writes without holding anything, so under its threaded server two transactions can both
pass a condition that only one may pass. Serving one request at a time (connections are still
accepted concurrently) gives back the isolation the store's races rely on.

    python dynamodb_engine.py [-H 127.0.0.1] -p PORT
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def one_at_a_time(app):
    """The WSGI application `app`, serving one request at a time (its whole answer included)."""
    lock = threading.Lock()

    def serve(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return serve


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, one_at_a_time(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
