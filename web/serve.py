"""Serve the web page of the local cloud: the bundle in ``web/dist`` and ``/config.json``.

    python web/serve.py --port 8300

``/config.json`` is built, on every request, from ``.local/stack.json`` (written by
``python -m localcloud up``): the project id, the bucket, the HTTP functions' URLs and the Auth and
Firestore emulator hosts. Nothing secret from the stack (the tasks secret, the signing key) is
served. When the bundle is missing it is built once with ``node web/build.mjs`` before serving.
Standard library only; GET and HEAD only; no directory listings; paths cannot leave ``web/dist``
(and ``web/dist-local``, the local cloud's own debugging page ``/debug.html``, which Hosting never
serves).

Every reply carries the security headers Firebase Hosting sends in production (the ``hosting``
section of firebase.json: CSP, no framing, nosniff, referrer policy), the CSP's ``connect-src``
widened to this local cloud's functions and emulators; so the browser test runs the page under the
production policy. Caching stays off locally (``no-store``).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import re
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
# Pages of the local cloud only (the "who can read what" debugging page): built beside dist, never
# deployed by Hosting, served here after dist.
LOCAL_DIST = WEB / "dist-local"
STACK = ROOT / ".local" / "stack.json"
FIREBASE_JSON = ROOT / "firebase.json"
HTTP_FUNCTIONS = ("resources", "progress", "uploads", "review", "dashboard", "exports", "cohorts", "certificates")
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


def _glob(glob: str) -> re.Pattern[str]:
    """Hosting's header globs: ``**/`` any directories, ``**`` anything, ``*`` within a segment,
    ``@(a|b)`` one of."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob.startswith("@(", i):
            end = glob.index(")", i)
            choices = "|".join(re.escape(c) for c in glob[i + 2 : end].split("|"))
            out, i = out + f"(?:{choices})", end + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(f"^{out}$")


def local_origins(stack: dict[str, Any]) -> list[str]:
    """Origins the page calls in the local cloud: the HTTP functions and the emulators."""
    functions = stack.get("functions", {})
    emulators = stack.get("emulators", {})
    origins = [functions[name] for name in HTTP_FUNCTIONS if name in functions]
    origins += [
        f"http://{emulators[k]}" for k in ("auth", "firestore", "storage") if k in emulators
    ]
    return sorted(set(origins))


def hosting_headers(
    path: str, stack: dict[str, Any], config: Path = FIREBASE_JSON
) -> dict[str, str]:
    """The production headers for ``path`` (firebase.json's hosting section), Cache-Control aside,
    with the CSP's connect-src extended to the local cloud."""
    try:
        rules = json.loads(config.read_text())["hosting"]["headers"]
    except (OSError, ValueError, KeyError):
        return {}
    headers: dict[str, str] = {}
    for rule in rules:
        if _glob(rule["source"]).match(path):
            headers.update({h["key"]: h["value"] for h in rule["headers"]})
    headers.pop("Cache-Control", None)
    headers.pop("Strict-Transport-Security", None)  # plain http locally
    csp = headers.get("Content-Security-Policy")
    if csp:
        extra = " ".join(local_origins(stack))
        headers["Content-Security-Policy"] = re.sub(
            r"(^|; )connect-src ([^;]*)", rf"\1connect-src \2 {extra}", csp
        )
    return headers


def ensure_bundle() -> None:
    if (DIST / "index.html").exists() and (DIST / "app.js").exists():
        return
    sys.stderr.write("web/dist is missing: building it with node web/build.mjs\n")
    subprocess.run(["node", str(WEB / "build.mjs")], cwd=ROOT, check=True)


def _find(path: str) -> Path | None:
    """The file for a URL path in dist, else in dist-local; None outside them or missing."""
    for root in (DIST, LOCAL_DIST):
        target = (root / path.lstrip("/")).resolve()
        if target.is_relative_to(root.resolve()) and target.is_file():
            return target
    return None


class Handler(BaseHTTPRequestHandler):
    server_version = "aibc-web"

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        try:
            stack: dict[str, Any] | None = json.loads(STACK.read_text())
        except (OSError, ValueError):
            stack = None
        self._extra = hosting_headers(path, stack or {})
        if path == "/config.json":
            if stack is None:
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
        target = _find(path)
        if target is None:
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
        for key, value in getattr(self, "_extra", {}).items():
            if key != "X-Content-Type-Options":
                self.send_header(key, value)
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
