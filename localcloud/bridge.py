"""The event bridge: the local stand-in for Eventarc.

* Firestore writes under the watched collection groups (``resource_progress``, ``module_progress``)
  become ``google.cloud.firestore.document.v1.written`` CloudEvents in binary mode whose data is
  ``DocumentEventData`` as ``application/protobuf`` (as production sends), with the right
  ``subject`` (``documents/users/u/resource_progress/r``) and Eventarc's ``document``/``database``
  extension attributes. Old values come from the bridge's own cache of the last state it saw.
* Objects finished in the storage emulator become ``google.cloud.storage.object.v1.finalized``
  CloudEvents (JSON ``StorageObjectData``) for the Storage-triggered function, found by polling the
  emulator's object listing for new (name, generation) pairs.
* Delivery is at least once: non-2xx replies and connection errors are retried with exponential
  backoff and jitter, by a pool of workers, so events can arrive out of order as in production.
  ``duplicate`` mode delivers every event twice (same id), for tests.

A small control API (``GET /stats``, ``POST /config {"duplicate": bool}``) lets tests wait until the
bridge is idle and switch duplicate delivery on and off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from shared.events import FIRESTORE_WRITTEN, STORAGE_FINALIZED, encode_document_event

MAX_ATTEMPTS = 12
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    event_id: str
    attempt: int = 0
    not_before: float = 0.0


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
        self.functions = stack["functions"]
        self.duplicate = duplicate
        self.stats = Stats()
        self.queue: queue.Queue[Delivery] = queue.Queue()
        self.retry_lock = threading.Lock()
        self.retries: list[Delivery] = []
        self.cache: dict[str, dict[str, Any]] = {}
        self.cache_lock = threading.Lock()
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
            self.queue.put(
                Delivery(delivery.url, dict(delivery.headers), delivery.body, delivery.event_id)
            )

    def firestore_event(
        self, path: str, old: dict[str, Any] | None, new: dict[str, Any] | None, when: dt.datetime
    ) -> None:
        collection = path.split("/")[-2]
        target = {
            "resource_progress": "on_resource_progress_written",
            "module_progress": "on_module_progress_written",
        }.get(collection)
        if target is None:
            return
        database = f"projects/{self.project}/databases/(default)"
        body = encode_document_event(
            database_name=database, path=path, old=old, new=new, new_update_time=when
        )
        event_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/protobuf",
            "ce-specversion": "1.0",
            "ce-type": FIRESTORE_WRITTEN,
            "ce-source": f"//firestore.googleapis.com/{database}",
            "ce-subject": f"documents/{path}",
            "ce-id": event_id,
            "ce-time": when.isoformat().replace("+00:00", "Z"),
            "ce-dataschema": "https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/firestore/v1/data.proto",
            "ce-database": "(default)",
            "ce-namespace": "(default)",
            "ce-document": path,
            "ce-location": "nam5",
            "ce-project": self.project,
        }
        self.enqueue(Delivery(self.functions[target], headers, body, event_id))

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
        self.enqueue(Delivery(self.functions["on_upload_finalized"], headers, body, event_id))

    # ---- Firestore listener ----------------------------------------------------------------

    WATCHED = ("resource_progress", "module_progress")

    def watch_firestore(self) -> None:
        """Listen on the watched collection groups, and keep listening.

        A listener's stream can end for good (the client gives up on some server errors, e.g.
        ``499 Cancelled`` under load). A supervisor notices, subscribes again, and diffs the new
        listener's first snapshot against the cache, so writes made while it was down still become
        events (as Eventarc would still deliver them) instead of being lost.
        """
        from google.cloud import firestore

        self._db = firestore.Client(project=self.project)
        self._watches: dict[str, Any] = {}
        for group in self.WATCHED:
            self._watches[group] = self._subscribe(group, catch_up=False)
        threading.Thread(target=self._supervise, daemon=True).start()

    def _subscribe(self, group: str, *, catch_up: bool) -> Any:
        first = threading.Event()

        def on_snapshot(docs: list[Any], changes: list[Any], read_time: Any) -> None:
            if not first.is_set():
                self._first_snapshot(group, docs, catch_up=catch_up)
                first.set()
                return
            for change in changes:
                removed = change.type.name == "REMOVED"
                self._observe(change.document, removed=removed)

        watch: Any = self._db.collection_group(group).on_snapshot(on_snapshot)
        if not first.wait(30):
            watch.unsubscribe()
            raise RuntimeError(f"Firestore listener for {group} did not start")
        return watch

    def _first_snapshot(self, group: str, docs: list[Any], *, catch_up: bool) -> None:
        if not catch_up:
            with self.cache_lock:
                for doc in docs:
                    self.cache[doc.reference.path] = doc.to_dict() or {}
            return
        present = {doc.reference.path for doc in docs}
        for doc in docs:
            self._observe(doc, removed=False)
        with self.cache_lock:
            gone = [p for p in self.cache if p.split("/")[-2] == group and p not in present]
        for path in gone:
            self._observe_removed(path)

    def _observe(self, document: Any, *, removed: bool) -> None:
        if removed:
            self._observe_removed(document.reference.path)
            return
        path = document.reference.path
        new = document.to_dict() or {}
        with self.cache_lock:
            old = self.cache.get(path)
            self.cache[path] = new
        if old != new:
            when = getattr(document, "update_time", None) or dt.datetime.now(dt.UTC)
            self.firestore_event(path, old, new, when)

    def _observe_removed(self, path: str) -> None:
        with self.cache_lock:
            old = self.cache.pop(path, None)
        if old is not None:
            self.firestore_event(path, old, None, dt.datetime.now(dt.UTC))

    def _supervise(self, interval: float = 0.5) -> None:
        while not self.stop.wait(interval):
            for group, watch in list(self._watches.items()):
                if not getattr(watch, "_closed", False) and watch.is_active:
                    continue
                print(f"bridge: listener on {group} ended; subscribing again", flush=True)
                try:
                    self._watches[group] = self._subscribe(group, catch_up=True)
                except Exception as exc:  # noqa: BLE001 - keep supervising; retry next round
                    print(f"bridge: re-subscribing {group} failed: {exc}", flush=True)

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
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            delay = item.not_before - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, 0.05))
                self.queue.put(item)
                continue
            with self.stats.lock:
                self.stats.in_flight += 1
            ok = self._post(item)
            with self.stats.lock:
                self.stats.in_flight -= 1
                self.stats.last_activity = time.monotonic()
                if ok:
                    self.stats.delivered += 1
                    self.stats.delivered_to[item.url] = self.stats.delivered_to.get(item.url, 0) + 1
                elif item.attempt + 1 >= MAX_ATTEMPTS:
                    self.stats.dropped += 1
                else:
                    self.stats.retried += 1
            if not ok and item.attempt + 1 < MAX_ATTEMPTS:
                item.attempt += 1
                backoff = min(BACKOFF_MAX, BACKOFF_START * 2**item.attempt)
                item.not_before = time.monotonic() + backoff * random.uniform(0.5, 1.0)
                self.queue.put(item)
            elif not ok:
                print(f"bridge: dropped event {item.event_id} after {MAX_ATTEMPTS}", flush=True)

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

    # ---- control API ------------------------------------------------------------------------

    def control_server(self, port: int) -> ThreadingHTTPServer:
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path in ("/stats", "/health"):
                    stats = bridge.stats.snapshot(bridge.queue.qsize())
                    self._json(200, {**stats, "duplicate": bridge.duplicate})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                if self.path != "/config":
                    self._json(404, {"error": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                config = json.loads(self.rfile.read(length) or b"{}")
                if "duplicate" in config:
                    bridge.duplicate = bool(config["duplicate"])
                self._json(200, {"duplicate": bridge.duplicate})

            def log_message(self, format: str, *args: Any) -> None:
                return

        return ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def start(self, *, storage: bool = True) -> None:
        for _ in range(self.workers):
            threading.Thread(target=self.deliver_forever, daemon=True).start()
        self.watch_firestore()
        if storage:
            threading.Thread(target=self.poll_storage, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        for watch in getattr(self, "_watches", {}).values():
            watch.unsubscribe()

    def run(self, port: int) -> None:
        self.start()
        server = self.control_server(port)
        print(f"bridge: ready on {port}", flush=True)
        server.serve_forever()


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
