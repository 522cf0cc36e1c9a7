"""A small Learning Record Store for tests: what ``python -m ops xapi`` needs of an LRS, kept in
memory (no real LRS is available here).

As xAPI 1.0.3 says: ``POST /statements`` stores a batch atomically and answers 200 with the ids;
``PUT /statements?statementId=`` stores one and answers 204; an id it holds already is a 409 (this
one, like several LRSs, answers 409 for any id it holds, even with the same content, so a client's
handling of 409 is exercised). Basic auth and ``X-Experience-API-Version`` are required (401 /
400). ``fail_next`` answers that many requests with 503 first.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LocalLrs:
    def __init__(self, username: str, password: str) -> None:
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.statements: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, int]] = []  # (method, status)
        self.fail_next = 0
        self.lock = threading.Lock()
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                with lrs.lock:
                    lrs.requests.append((self.command, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Experience-API-Version", "1.0.3")
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                size = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(size) or b"null")

            def _checked(self) -> bool:
                with lrs.lock:
                    if lrs.fail_next > 0:
                        lrs.fail_next -= 1
                        failing = True
                    else:
                        failing = False
                if failing:
                    self._body()
                    self._answer(503, {"error": "try again"})
                    return False
                if self.headers.get("Authorization") != lrs.auth:
                    self._answer(401, {"error": "bad credentials"})
                    return False
                if not self.headers.get("X-Experience-API-Version", "").startswith("1.0"):
                    self._answer(400, {"error": "X-Experience-API-Version is required"})
                    return False
                return True

            def do_POST(self) -> None:
                if not self.path.startswith("/xapi/statements") or not self._checked():
                    return
                body = self._body()
                batch = body if isinstance(body, list) else [body]
                with lrs.lock:
                    if any(s.get("id") in lrs.statements for s in batch):
                        conflict = True
                    else:
                        conflict = False
                        for s in batch:
                            lrs.statements[s["id"]] = s
                if conflict:
                    self._answer(409, {"error": "a statement id is stored already"})
                else:
                    self._answer(200, [s["id"] for s in batch])

            def do_PUT(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                if parsed.path != "/xapi/statements" or not self._checked():
                    return
                sid = urllib.parse.parse_qs(parsed.query).get("statementId", [""])[0]
                body = self._body()
                if body.get("id") != sid:
                    self._answer(400, {"error": "statementId and id differ"})
                    return
                with lrs.lock:
                    held = sid in lrs.statements
                    if not held:
                        lrs.statements[sid] = body
                self._answer(409 if held else 204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/xapi/"

    def __enter__(self) -> LocalLrs:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
