"""What the tests of the event bridge share: a recording endpoint, the local cloud's processes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.helpers import unique, wait_for

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"


class Recorder:
    """A real HTTP endpoint that records every request (path, headers, arrival and departure times,
    the status it answered) and answers ``status`` (204 by default), or per path from ``script``
    (a list of statuses, the last repeated), after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 204
        self.delay = delay
        self.script: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                time.sleep(recorder.delay)
                with recorder.lock:
                    statuses = recorder.script.get(self.path)
                    if statuses:
                        count = sum(1 for r in recorder.requests if r["path"] == self.path)
                        status = statuses[min(count, len(statuses) - 1)]
                    else:
                        status = recorder.status
                    recorder.requests.append(
                        {
                            "path": self.path,
                            "headers": self.headers,  # case-insensitive, as HTTP headers are
                            "body": body,
                            "status": status,
                            "arrived": arrived,
                            "left": time.monotonic(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[str]:
        """The subjects of the deliveries answered 2xx, in arrival order."""
        with self.lock:
            return [r["headers"]["ce-subject"] for r in self.requests if 200 <= r["status"] < 300]

    def at(self, path: str) -> list[dict[str, Any]]:
        """The requests to ``path``, in arrival order."""
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()


def probe_route(bridge: Any, recorder: Recorder) -> tuple[str, str]:
    """A fresh trigger id whose documents' events go to ``recorder``; returns (id, collection)."""
    probe = unique("probe")
    collection = f"bridge_probe/{probe}/docs"
    bridge.route_trigger(probe, f"{collection}/{{doc}}", recorder.url)
    return probe, collection


def pids() -> dict[str, int]:
    data: dict[str, int] = json.loads((LOCAL / "pids.json").read_text())
    return data


def kill(name: str) -> int:
    """Kill a process group of the local cloud as a crash would (SIGKILL); return its pid."""
    pid = pids()[name]
    os.killpg(pid, signal.SIGKILL)
    return pid


def hold(name: str) -> Path:
    """Keep the supervisor from restarting ``name`` until the returned file is removed."""
    path = LOCAL / "hold" / name
    path.parent.mkdir(exist_ok=True)
    path.touch()
    return path


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def wait_restarted(name: str, old_pid: int, url: str, timeout: float = 60) -> float:
    """Wait until ``name`` runs again under a new pid and answers ``url``; return how long it took."""
    start = time.monotonic()
    wait_for(
        lambda: pids().get(name) not in (None, old_pid) and answers(url),
        timeout=timeout,
        interval=0.1,
        what=f"{name} to be started again and answer",
    )
    return time.monotonic() - start
