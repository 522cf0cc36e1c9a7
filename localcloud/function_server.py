"""Serve one entry point as the Functions runtime does (functions-framework's own app and its
gunicorn server, ``THREADS`` threads), with the client's connection kept alive as Google's front
end keeps it.

Why not plain ``python -m functions_framework``: deployed, a client's connection ends at Google's
front end, which keeps an idle HTTP/1.1 connection open for 610 seconds (the HTTP keepalive
timeout of Google's load balancers); the instance's gunicorn, which closes an idle connection
after 2 seconds, never faces the client. Locally the function process is what the client talks
to, and those 2 seconds close connections that clients are about to reuse: a request sent on one
as it closes gets no reply at all (``http.client.RemoteDisconnected``), a failure production does
not have. It showed under load as a rare ``RemoteDisconnected`` in the e2e tests, whose clients
reuse a connection after a few seconds of polling. So this server keeps idle connections for
:data:`KEEPALIVE_SECONDS`, and everything else is functions-framework's.

It runs as a script (``python -I localcloud/function_server.py --target ...``): it imports nothing
of the repository, so in the runtime venv only functions-framework and the staged source are
importable (``localcloud/parity.py``).
"""

from __future__ import annotations

import argparse

KEEPALIVE_SECONDS = 610  # Google's front end (load balancer) keepalive timeout for HTTP/1.1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument(
        "--signature-type", choices=["http", "event", "cloudevent", "typed"], default="http"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from functions_framework import create_app
    from functions_framework._http import create_server

    # functions-framework has no type annotations
    app = create_app(args.target, args.source, args.signature_type)  # type: ignore[no-untyped-call]
    server = create_server(app, False, keepalive=KEEPALIVE_SECONDS)  # type: ignore[no-untyped-call]
    server.run(args.host, args.port)


if __name__ == "__main__":
    main()
