"""The event bridge: the local stand-in for Eventarc.

* **Firestore.** The official Firestore emulator emits ``google.cloud.firestore.document.v1.written``
  CloudEvents itself, for triggers registered on it (``POST /emulator/v1/projects/{p}/eventarcTrigger``,
  the mechanism firebase-tools' functions emulator uses), to the host given by its
  ``--functions_emulator`` flag: that host is this bridge. The bridge registers one trigger per
  Firestore-triggered entry point with its document path pattern, receives the emulator's events at
  ``/functions/projects/{p}/triggers/{trigger}``, and delivers them in binary mode with
  ``DocumentEventData`` as raw ``application/protobuf`` bytes, as production does (the emulator sends
  the bytes base64-encoded and names the source ``projects/projects/...``; both are normalised).
  Old and new values come from the emulator, so they are exact.
* **Storage.** Objects finished in the storage emulator become
  ``google.cloud.storage.object.v1.finalized`` CloudEvents (JSON ``StorageObjectData``) for the
  Storage-triggered function, found by polling the emulator's listing for new (name, generation).
* **Delivery** is at least once: non-2xx replies and connection errors are retried with exponential
  backoff and jitter by a pool of workers, so events can arrive out of order, as in production.
  ``duplicate`` mode delivers every event twice (same id), for tests.

Control API: ``GET /stats`` (tests wait until the bridge is idle), ``POST /config {"duplicate": bool}``,
``POST /triggers {"id", "document", "url"}`` (route an extra Firestore path pattern somewhere, for
tests of the bridge itself).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import heapq
import itertools
import json
import queue
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from localcloud import entrypoints
from shared.events import STORAGE_FINALIZED

MAX_ATTEMPTS = 12
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0
TRIGGER_PATH = re.compile(r"^/functions/projects/(?P<project>[^/]+)/triggers/(?P<trigger>[^/?]+)")


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    event_id: str
    attempt: int = 0


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    enqueued: int = 0
    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    in_flight: int = 0
    delivered_to: dict[str, int] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)

    def snapshot(self, pending: int) -> dict[str, Any]:
        with self.lock:
            return {
                "enqueued": self.enqueued,
                "delivered": self.delivered,
                "retried": self.retried,
                "dropped": self.dropped,
                "in_flight": self.in_flight,
                "pending": pending + self.in_flight,
                "quiet_for": round(time.monotonic() - self.last_activity, 3),
                "delivered_to": dict(self.delivered_to),
            }


class Bridge:
    def __init__(self, stack: dict[str, Any], *, workers: int = 8, duplicate: bool = False) -> None:
        self.stack = stack
        self.project = stack["project_id"]
        self.duplicate = duplicate
        self.stats = Stats()
        self.ready: queue.Queue[Delivery] = queue.Queue()
        self.later: list[tuple[float, int, Delivery]] = []
        self.later_lock = threading.Condition()
        self.counter = itertools.count()
        self.routes: dict[str, str] = {
            name: stack["functions"][name] for name in entrypoints.FIRESTORE_TRIGGERS
        }
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=workers * 2)
        self.session.mount("http://", adapter)
        self.workers = workers
        self.stop = threading.Event()

    # ---- producing events ----------------------------------------------------------------

    def enqueue(self, delivery: Delivery) -> None:
        copies = 2 if self.duplicate else 1
        with self.stats.lock:
            self.stats.enqueued += copies
            self.stats.last_activity = time.monotonic()
        for _ in range(copies):
            self.ready.put(
                Delivery(delivery.url, dict(delivery.headers), delivery.body, delivery.event_id)
            )

    def register_trigger(self, trigger_id: str, document_pattern: str) -> None:
        """Ask the Firestore emulator to send writes matching ``document_pattern`` to us."""
        host = self.stack["emulators"]["firestore"]
        reply = self.session.post(
            f"http://{host}/emulator/v1/projects/{self.project}/eventarcTrigger",
            params={"eventarcTriggerId": trigger_id},
            json={
                "eventType": "google.cloud.firestore.document.v1.written",
                "database": "(default)",
                "namespace": "(default)",
                "document": {"value": document_pattern, "matchType": "PATH_PATTERN"},
            },
            timeout=10,
        )
        reply.raise_for_status()

    def firestore_event(self, trigger_id: str, headers: dict[str, str], body: bytes) -> bool:
        """An event from the Firestore emulator: normalise it as Eventarc would deliver it."""
        url = self.routes.get(trigger_id)
        if url is None:
            return False
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raw = body  # already raw protobuf
        ce = {k.lower(): v for k, v in headers.items() if k.lower().startswith("ce-")}
        ce.pop("ce-datacontenttype", None)  # binary mode: the content type is Content-Type
        ce["ce-source"] = ce.get("ce-source", "").replace("/projects/projects/", "/projects/")
        event_id = ce.setdefault("ce-id", str(uuid.uuid4()))
        self.enqueue(Delivery(url, {**ce, "Content-Type": "application/protobuf"}, raw, event_id))
        return True

    def storage_event(self, obj: dict[str, Any]) -> None:
        bucket, name = obj["bucket"], obj["name"]
        event_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-type": STORAGE_FINALIZED,
            "ce-source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
            "ce-subject": f"objects/{name}",
            "ce-id": event_id,
            "ce-time": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "ce-bucket": bucket,
        }
        body = json.dumps(obj).encode()
        url = self.stack["functions"]["on_upload_finalized"]
        self.enqueue(Delivery(url, headers, body, event_id))

    # ---- Storage poller ----------------------------------------------------------------------

    def poll_storage(self, interval: float = 0.15) -> None:
        storage = self.stack["emulators"]["storage_backend"]
        bucket = self.stack["bucket"]
        url = f"http://{storage}/storage/v1/b/{bucket}/o"
        seen: set[tuple[str, str]] = set()
        first = True
        while not self.stop.is_set():
            try:
                items: list[dict[str, Any]] = []
                token = None
                while True:
                    params = {"maxResults": "1000", **({"pageToken": token} if token else {})}
                    reply = self.session.get(url, params=params, timeout=10)
                    reply.raise_for_status()
                    page = reply.json()
                    items += page.get("items", [])
                    token = page.get("nextPageToken")
                    if not token:
                        break
                current = {(o["name"], str(o.get("generation", ""))): o for o in items}
                if not first:
                    for key in current.keys() - seen:
                        obj = dict(current[key])
                        obj.setdefault("bucket", bucket)
                        self.storage_event(obj)
                seen = set(current)
                first = False
            except (requests.RequestException, ValueError) as exc:
                print(f"bridge: storage poll failed: {exc}", flush=True)
            self.stop.wait(interval)

    # ---- delivery ----------------------------------------------------------------------------

    def deliver_forever(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.ready.get(timeout=0.2)
            except queue.Empty:
                continue
            with self.stats.lock:
                self.stats.in_flight += 1
            ok = self._post(item)
            retry = not ok and item.attempt + 1 < MAX_ATTEMPTS
            with self.stats.lock:
                self.stats.in_flight -= 1
                self.stats.last_activity = time.monotonic()
                if ok:
                    self.stats.delivered += 1
                    self.stats.delivered_to[item.url] = self.stats.delivered_to.get(item.url, 0) + 1
                elif retry:
                    self.stats.retried += 1
                else:
                    self.stats.dropped += 1
            if retry:
                item.attempt += 1
                backoff = min(BACKOFF_MAX, BACKOFF_START * 2**item.attempt)
                due = time.monotonic() + backoff * random.uniform(0.5, 1.0)
                with self.later_lock:
                    heapq.heappush(self.later, (due, next(self.counter), item))
                    self.later_lock.notify()
            elif not ok:
                print(f"bridge: dropped event {item.event_id} after {MAX_ATTEMPTS}", flush=True)

    def release_retries(self) -> None:
        """Move retries whose backoff has passed back to the ready queue."""
        while not self.stop.is_set():
            with self.later_lock:
                now = time.monotonic()
                while self.later and self.later[0][0] <= now:
                    self.ready.put(heapq.heappop(self.later)[2])
                wait = self.later[0][0] - now if self.later else 0.5
                self.later_lock.wait(timeout=max(0.01, min(wait, 0.5)))

    def pending(self) -> int:
        with self.later_lock:
            return self.ready.qsize() + len(self.later)

    def _post(self, item: Delivery) -> bool:
        try:
            reply = self.session.post(item.url, data=item.body, headers=item.headers, timeout=30)
        except requests.RequestException as exc:
            print(f"bridge: {item.event_id} -> {item.url}: {exc}", flush=True)
            return False
        if 200 <= reply.status_code < 300:
            return True
        print(f"bridge: {item.event_id} -> {item.url}: HTTP {reply.status_code}", flush=True)
        return False

    # ---- HTTP: the emulator's callbacks and the control API --------------------------------

    def server(self, port: int) -> ThreadingHTTPServer:
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path in ("/stats", "/health"):
                    stats = bridge.stats.snapshot(bridge.pending())
                    self._json(200, {**stats, "duplicate": bridge.duplicate})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                match = TRIGGER_PATH.match(self.path)
                if match:
                    known = bridge.firestore_event(match["trigger"], dict(self.headers), body)
                    self._json(200 if known else 404, {"accepted": known})
                elif self.path == "/config":
                    config = json.loads(body or b"{}")
                    if "duplicate" in config:
                        bridge.duplicate = bool(config["duplicate"])
                    self._json(200, {"duplicate": bridge.duplicate})
                elif self.path == "/triggers":
                    spec = json.loads(body or b"{}")
                    bridge.routes[spec["id"]] = spec["url"]
                    bridge.register_trigger(spec["id"], spec["document"])
                    self._json(200, {"registered": spec["id"]})
                else:
                    self._json(404, {"error": "not found"})

            def log_message(self, format: str, *args: Any) -> None:
                return

        return ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def run(self, port: int) -> None:
        server = self.server(port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        for _ in range(self.workers):
            threading.Thread(target=self.deliver_forever, daemon=True).start()
        threading.Thread(target=self.release_retries, daemon=True).start()
        for name, pattern in entrypoints.FIRESTORE_TRIGGERS.items():
            self.register_trigger(name, pattern)
        threading.Thread(target=self.poll_storage, daemon=True).start()
        print(f"bridge: ready on {port}", flush=True)
        self.stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Eventarc stand-in")
    parser.add_argument("--stack", default=".local/stack.json")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duplicate", action="store_true", help="deliver every event twice")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    stack = json.loads(Path(args.stack).read_text())
    Bridge(stack, workers=args.workers, duplicate=args.duplicate).run(args.port)


if __name__ == "__main__":
    main()
