"""Serve the web page of the local cloud: the bundle in ``web/dist`` and ``/config.json``.

    python web/serve.py --port 8300

``/config.json`` is built, on every request, from ``.local/stack.json`` (written by
``python -m localcloud up``): the project id, the bucket, the HTTP functions' URLs and the Auth and
Firestore emulator hosts. Nothing secret from the stack (the tasks secret, the signing key) is
served. When the bundle is missing it is built once with ``node web/build.mjs`` before serving.
Standard library only; GET and HEAD only; no directory listings; paths cannot leave ``web/dist``.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import signal
import subprocess
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent
DIST = WEB / "dist"
STACK = ROOT / ".local" / "stack.json"
HTTP_FUNCTIONS = ("resources", "progress", "uploads", "review")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


def _split_host(hostport: str, default_port: int) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    if not host:
        return hostport, default_port
    return host, int(port)


def client_config(stack: dict[str, Any]) -> dict[str, Any]:
    """What the browser needs from the stack description, and nothing more."""
    emulators = stack.get("emulators", {})
    fs_host, fs_port = _split_host(emulators.get("firestore", "127.0.0.1:8180"), 8180)
    auth_host = emulators.get("auth", "127.0.0.1:9099")
    functions = stack.get("functions", {})
    return {
        "project_id": stack.get("project_id", "demo-aibc"),
        "api_key": "fake-api-key",
        "bucket": stack.get("bucket", ""),
        "functions": {name: functions[name] for name in HTTP_FUNCTIONS if name in functions},
        "auth_emulator": f"http://{auth_host}",
        "firestore_emulator": {"host": fs_host, "port": fs_port},
    }


def ensure_bundle() -> None:
    if (DIST / "index.html").exists() and (DIST / "app.js").exists():
        return
    sys.stderr.write("web/dist is missing: building it with node web/build.mjs\n")
    subprocess.run(["node", str(WEB / "build.mjs")], cwd=ROOT, check=True)


class Handler(BaseHTTPRequestHandler):
    server_version = "aibc-web"

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == "/config.json":
            try:
                stack = json.loads(STACK.read_text())
            except (OSError, ValueError):
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    b'{"error": "no .local/stack.json"}',
                    "application/json",
                    head,
                )
                return
            body = json.dumps(client_config(stack)).encode()
            self._send(HTTPStatus.OK, body, "application/json", head)
            return
        if path in ("", "/"):
            path = "/index.html"
        target = (DIST / path.lstrip("/")).resolve()
        if not target.is_relative_to(DIST.resolve()) or not target.is_file():
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8", head)
            return
        content_type = TYPES.get(target.suffix) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        self._send(HTTPStatus.OK, target.read_bytes(), content_type, head)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"web: {self.address_string()} {format % args}\n")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args(argv)
    ensure_bundle()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, _stop)
    sys.stderr.write(f"web: serving {DIST} on http://{args.host}:{server.server_port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
