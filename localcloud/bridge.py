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
* **Storage.** Objects finished in the storage backend become
  ``google.cloud.storage.object.v1.finalized`` CloudEvents (JSON ``StorageObjectData``) for the
  Storage-triggered function, found by polling the backend's listing (all versions) for new
  (name, generation) pairs.
* **One registration per document pattern, one queue per trigger.** The emulator pushes its
  events one at a time (its publisher is a thread pool of core size 0 over an unbounded queue,
  which never grows past one thread), so every push costs every later event time. The bridge
  therefore registers each document pattern once and fans the event out to every trigger on it
  (``users/{uid}/resource_progress/{rid}`` feeds the module rollup and the dashboard). Each trigger
  then has its own queue and workers, as each Eventarc trigger is its own subscription delivered
  independently: one trigger's backlog never holds up another's events.
* **Receiving is split from delivering.** Every event is written to the journal
  (``localcloud.journal``, SQLite under ``.local/``) before it is acknowledged; each trigger's
  workers deliver from the journal and delete an event only after a 2xx. Pending deliveries and
  the retry schedule survive a restart of the bridge.
* **Where the time goes** (``GET /stats`` ``targets``, ``POST /stats/reset`` forgets the samples):
  per trigger, the queue depth and, over the recent deliveries, p50 / p95 / max of ``arrival``
  (the write's commit time to the bridge's receipt: the emulator's push backlog), ``wait`` (due to
  picked up by a worker) and ``post`` (the function's reply time); ``receive_ms`` is the bridge's
  own handling of a push.
* **Delivery** is at least once, like Eventarc's with retries on: non-2xx replies and connection
  errors are retried with exponential backoff and jitter (0.1 s doubling, capped at
  ``backoff_max``, 10 s by default, so the local cloud recovers within seconds once a function
  heals), for ``retry_budget`` seconds (24 hours by default, as Eventarc). An event still failing
  after its budget goes to the dead-letter list (``GET /deadletter``, ``make status``), never
  silently away. Events can arrive out of order, as in production.
* **Restart.** The Firestore emulator does not retry a push that failed (measured: with the bridge
  down it logs ``Failed to publish ... Connection refused`` once and drops the event). So on a
  restart the bridge (1) catches up Storage finalize events from the backend's listing, against
  the (name, generation) pairs it had seen, and (2) runs a catch-up command for Firestore (default:
  ``python -m ops reconcile`` when the ``ops`` module exists, skipped otherwise), and records both
  (``GET /catchup``, ``make status``).
* **Faults on demand** (``POST /config``): ``duplicate`` (every event twice), ``drop`` (lose a
  delivery and redeliver it ``redeliver_after`` seconds later), ``reorder`` (hold each event a random
  time up to ``window`` seconds, so close events overtake each other), ``delay`` (hold every event),
  ``fail`` (answer a 503 in place of a chosen function for a fraction of its deliveries; counted and
  retried like a 5xx from the function).

Control API: ``GET /stats`` (tests wait until the bridge is idle), ``POST /stats/reset``,
``GET|POST /config``,
``POST /config/reset`` (back to the start-up settings), ``GET /deadletter``, ``DELETE /deadletter``
(``?id=N`` for one), ``POST /deadletter/redeliver`` (``{"ids": [...]}`` or all), ``GET /catchup``,
``POST /triggers {"id", "document", "url"}`` (route an extra Firestore path pattern somewhere, for
tests of the bridge itself).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import datetime as dt
import heapq
import importlib.util
import itertools
import json
import os
import queue
import random
import re
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from localcloud import entrypoints
from localcloud.journal import Delivery, Journal
from shared.events import STORAGE_FINALIZED

ROOT = Path(__file__).resolve().parent.parent
BACKOFF_START = 0.1
DAY = 24 * 3600.0
TRIGGER_PATH = re.compile(r"^/functions/projects/(?P<project>[^/]+)/triggers/(?P<trigger>[^/?]+)")
DEFAULT_CATCHUP = "auto"  # `python -m ops reconcile` if the module exists


class BadConfig(ValueError):
    pass


@dataclass
class Config:
    """How the bridge delivers; every field can be changed at run time through ``POST /config``."""

    duplicate: bool = False
    retry_budget: float = DAY  # seconds an event is retried before it is dead-lettered
    backoff_max: float = 10.0
    budgets: dict[str, float] = field(default_factory=dict)  # per target (entry point / trigger)
    drop_rate: float = 0.0  # fraction of events whose first delivery is lost...
    redeliver_after: float = 120.0  # ...and redelivered this much later
    reorder_window: float = 0.0
    delay: float = 0.0
    fail: dict[str, float] = field(default_factory=dict)  # target -> fraction answered 503

    def budget(self, target: str) -> float:
        return self.budgets.get(target, self.retry_budget)

    def updated(self, changes: dict[str, Any]) -> Config:
        """A copy with ``changes`` applied (``drop``/``reorder`` accept the nested forms too)."""
        data = asdict(self)
        changes = dict(changes)
        if "drop" in changes:
            drop = changes.pop("drop")
            if isinstance(drop, dict):
                changes.setdefault("drop_rate", drop.get("rate", 1.0))
                if "redeliver_after" in drop:
                    changes.setdefault("redeliver_after", drop["redeliver_after"])
            else:
                changes.setdefault("drop_rate", 1.0 if drop else 0.0)
        if "reorder" in changes:
            reorder = changes.pop("reorder")
            window = reorder.get("window", 2.0) if isinstance(reorder, dict) else reorder
            changes.setdefault("reorder_window", 2.0 if window is True else window or 0.0)
        unknown = set(changes) - set(data)
        if unknown:
            raise BadConfig(f"unknown settings: {sorted(unknown)}")
        for key, value in changes.items():
            current = data[key]
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise BadConfig(f"{key} must be true or false")
            elif isinstance(current, float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise BadConfig(f"{key} must be a number >= 0")
                value = float(value)
            elif isinstance(current, dict):
                if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, int | float) and v >= 0
                    for k, v in value.items()
                ):
                    raise BadConfig(f"{key} must map names to numbers >= 0")
                value = {k: float(v) for k, v in value.items()}
            data[key] = value
        for key in ("drop_rate",):
            if data[key] > 1:
                raise BadConfig(f"{key} is a fraction (0..1)")
        if any(rate > 1 for rate in data["fail"].values()):
            raise BadConfig("fail rates are fractions (0..1)")
        return Config(**data)


def backoff(attempt: int, cap: float) -> float:
    """The wait before retry number ``attempt`` (1-based), before jitter."""
    return float(min(cap, BACKOFF_START * 2 ** min(attempt, 30)))


def out_of_budget(item: Delivery, config: Config, now: float) -> bool:
    return now - item.first_at >= config.budget(item.target)


SAMPLES = 4000  # per target: the recent deliveries whose wait and duration /stats summarises


def summary(values: list[float]) -> dict[str, float]:
    """p50 / p95 / max (milliseconds) of a list of seconds; empty: zeros."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

    return {"p50": at(0.5), "p95": at(0.95), "max": round(1000 * ordered[-1], 1)}


@dataclass
class TargetStats:
    """One target's (trigger's) deliveries: how long events waited for a worker once due, and how
    long the function took to answer (``/stats`` ``targets``; ``POST /stats/reset`` clears)."""

    queued: int = 0
    in_flight: int = 0
    delivered: int = 0
    retried: int = 0
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    posts: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def view(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "in_flight": self.in_flight,
            "delivered": self.delivered,
            "retried": self.retried,
            "arrival_ms": summary(list(self.arrivals)),
            "wait_ms": summary(list(self.waits)),
            "post_ms": summary(list(self.posts)),
            "samples": len(self.posts),
        }


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    enqueued: int = 0
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    in_flight: int = 0
    delivered_to: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)
    targets: dict[str, TargetStats] = field(default_factory=dict)
    receiving: int = 0  # the emulator's pushes being handled now, and the most at once
    receiving_max: int = 0
    receipts: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def target(self, name: str) -> TargetStats:
        """``name``'s figures (call with ``lock`` held)."""
        found = self.targets.get(name)
        if found is None:
            found = self.targets[name] = TargetStats()
        return found

    def reset_samples(self) -> None:
        with self.lock:
            self.receipts.clear()
            for target in self.targets.values():
                target.arrivals.clear()
                target.waits.clear()
                target.posts.clear()

    def fault(self, name: str) -> None:
        with self.lock:
            self.faults[name] = self.faults.get(name, 0) + 1

    def snapshot(self, pending: int) -> dict[str, Any]:
        with self.lock:
            return {
                "enqueued": self.enqueued,
                "delivered": self.delivered,
                "retried": self.retried,
                "dead_lettered": self.dead_lettered,
                "in_flight": self.in_flight,
                "pending": pending + self.in_flight,
                "quiet_for": round(time.monotonic() - self.last_activity, 3),
                "delivered_to": dict(self.delivered_to),
                "faults": dict(self.faults),
                "targets": {name: t.view() for name, t in sorted(self.targets.items())},
                "receiving_max": self.receiving_max,
                "receive_ms": summary(list(self.receipts)),
                "receive_busy_s": round(sum(self.receipts), 2),
            }


def commit_time(raw: bytes) -> float | None:
    """When the write an emulator event reports was committed (the new value's ``update_time``,
    as a Unix time); ``None`` for a delete or a payload that cannot be read. The bridge's
    ``arrival`` figures are measured from it."""
    from google.events.cloud.firestore_v1.types import DocumentEventData

    try:
        pb = DocumentEventData.pb().FromString(raw)
    except Exception:  # noqa: BLE001 - only a measurement: the function judges the payload
        return None
    if not pb.HasField("value") or not pb.value.HasField("update_time"):
        return None
    stamp = pb.value.update_time
    return float(stamp.seconds + stamp.nanos / 1e9)


def fanout(triggers: dict[str, str]) -> dict[str, list[str]]:
    """One emulator registration per document pattern, named after its first trigger, and the
    triggers each one's events go to (in registry order)."""
    by_pattern: dict[str, list[str]] = {}
    for name, pattern in triggers.items():
        by_pattern.setdefault(pattern, []).append(name)
    return {names[0]: names for names in by_pattern.values()}


def catchup_command(spec: str) -> list[str] | None:
    """The Firestore catch-up command: ``auto`` is ``python -m ops reconcile`` if ``ops`` exists."""
    if spec == "auto":
        if importlib.util.find_spec("ops") is None:
            return None
        return [sys.executable, "-m", "ops", "reconcile"]
    if spec.strip().lower() in ("", "none", "off"):
        return None
    return shlex.split(spec)


class Bridge:
    def __init__(
        self,
        stack: dict[str, Any],
        journal: Journal,
        *,
        workers: int = 16,
        config: Config | None = None,
        catchup: str = DEFAULT_CATCHUP,
    ) -> None:
        self.stack = stack
        self.project = stack["project_id"]
        self.journal = journal
        self.initial = config or Config()
        self.config = self.initial
        self.catchup = catchup
        self.stats = Stats()
        # One queue and its own workers per target: Eventarc gives every trigger its own
        # subscription, so one trigger's backlog never holds up another's events.
        self.queues: dict[str, queue.Queue[Delivery]] = {}
        self.queues_lock = threading.Lock()
        self.later: list[tuple[float, int, Delivery]] = []
        self.later_lock = threading.Condition()
        self.counter = itertools.count()
        self.routes: dict[str, str] = {
            name: stack["functions"][name] for name in entrypoints.FIRESTORE_TRIGGERS
        }
        # The emulator's registrations: one per document pattern, fanned out here to every
        # trigger on that pattern (the emulator pushes one event at a time, so each push saved
        # is time every event gains).
        self.fanout: dict[str, list[str]] = fanout(entrypoints.FIRESTORE_TRIGGERS)
        self.extra_triggers: dict[str, dict[str, str]] = {}
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=workers * 8)
        self.session.mount("http://", adapter)
        self.workers = workers
        self.started = False
        self.stop = threading.Event()
        self.restarted = False

    # ---- settings ------------------------------------------------------------------------

    def configure(self, changes: dict[str, Any]) -> Config:
        self.config = self.config.updated(changes)
        self.journal.set_meta("config", asdict(self.config))
        return self.config

    def reset(self) -> Config:
        self.config = self.initial
        self.journal.set_meta("config", asdict(self.config))
        return self.config

    # ---- producing events ----------------------------------------------------------------

    def accept(
        self, deliveries: list[Delivery], seen: list[tuple[str, str, str]] | None = None
    ) -> None:
        """Journal an event's deliveries, one per target (each twice in duplicate mode), then
        schedule them: it is now safe to ack."""
        config = self.config
        copies = list(deliveries)
        if config.duplicate:
            copies += [
                Delivery(d.target, d.url, dict(d.headers), d.body, d.event_id, first_at=d.first_at)
                for d in deliveries
            ]
        now = time.time()
        for copy in copies:
            hold = config.delay + random.uniform(0, config.reorder_window)
            copy.due = now + hold
        self.journal.add(copies, seen or [])
        with self.stats.lock:
            self.stats.enqueued += len(copies)
            self.stats.last_activity = time.monotonic()
        for copy in copies:
            if config.delay:
                self.stats.fault("delayed")
            if config.reorder_window:
                self.stats.fault("reordered")
            self.schedule(copy)

    def schedule(self, item: Delivery) -> None:
        if item.due <= time.time():
            self._make_ready(item)
            return
        with self.later_lock:
            heapq.heappush(self.later, (item.due, next(self.counter), item))
            self.later_lock.notify()

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

    def add_trigger(self, trigger_id: str, document: str, url: str) -> None:
        self.routes[trigger_id] = url
        self.fanout[trigger_id] = [trigger_id]
        self.register_trigger(trigger_id, document)
        self.extra_triggers[trigger_id] = {"document": document, "url": url}
        self.journal.set_meta("extra_triggers", self.extra_triggers)

    def firestore_event(self, trigger_id: str, headers: dict[str, str], body: bytes) -> bool:
        """An event from the Firestore emulator: normalise it as Eventarc would deliver it."""
        targets = self.fanout.get(trigger_id)
        if not targets:
            return False
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raw = body  # already raw protobuf
        ce = {k.lower(): v for k, v in headers.items() if k.lower().startswith("ce-")}
        ce.pop("ce-datacontenttype", None)  # binary mode: the content type is Content-Type
        ce["ce-source"] = ce.get("ce-source", "").replace("/projects/projects/", "/projects/")
        event_id = ce.setdefault("ce-id", str(uuid.uuid4()))
        headers = {**ce, "Content-Type": "application/protobuf"}
        written = commit_time(raw)
        if written is not None:
            with self.stats.lock:
                for target in targets:
                    self.stats.target(target).arrivals.append(max(0.0, time.time() - written))
        self.accept([Delivery(t, self.routes[t], dict(headers), raw, event_id) for t in targets])
        return True

    def storage_delivery(self, obj: dict[str, Any]) -> Delivery:
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
        target = entrypoints.STORAGE_TRIGGERS[0]
        url = self.stack["functions"][target]
        return Delivery(target, url, headers, json.dumps(obj).encode(), event_id)

    # ---- Storage poller ----------------------------------------------------------------------

    def list_objects(self) -> list[dict[str, Any]]:
        storage = self.stack["emulators"]["storage_backend"]
        url = f"http://{storage}/storage/v1/b/{self.stack['bucket']}/o"
        items: list[dict[str, Any]] = []
        token = None
        while True:
            params = {"maxResults": "1000", "versions": "true"}
            if token:
                params["pageToken"] = token
            reply = self.session.get(url, params=params, timeout=10)
            reply.raise_for_status()
            page = reply.json()
            items += page.get("items", [])
            token = page.get("nextPageToken")
            if not token:
                return items

    def poll_storage(self, interval: float = 0.15) -> None:
        bucket = self.stack["bucket"]
        seen = self.journal.seen_objects(bucket)
        first = True
        while not self.stop.is_set():
            try:
                current = {
                    (o["name"], str(o.get("generation", ""))): o for o in self.list_objects()
                }
                new = sorted(current.keys() - seen, key=lambda k: int(k[1] or 0))
                if first and not self.restarted:
                    # A fresh local cloud: whatever is there was not uploaded through it.
                    self.journal.add([], [(bucket, *key) for key in new])
                elif new:
                    for key in new:
                        obj = {**current[key], "bucket": bucket}
                        self.accept([self.storage_delivery(obj)], [(bucket, *key)])
                    if first:
                        self.journal.record_catchup(
                            "storage",
                            {"events": len(new), "objects": [f"{n}#{g}" for n, g in new][:50]},
                        )
                        print(f"bridge: caught up {len(new)} storage events", flush=True)
                elif first:
                    self.journal.record_catchup("storage", {"events": 0, "objects": []})
                seen |= set(new)
                first = False
            except Exception as exc:  # noqa: BLE001 - the poller must outlive a bad round
                print(f"bridge: storage poll failed: {exc!r}", flush=True)
            self.stop.wait(interval)

    # ---- Firestore catch-up ------------------------------------------------------------------

    def catch_up_firestore(self, down_for: float | None) -> None:
        """Writes pushed while the bridge was down are lost: run the catch-up command."""
        command = catchup_command(self.catchup)
        detail: dict[str, Any] = {"down_for_seconds": down_for}
        if command is None:
            reason = "no `ops` module" if self.catchup == "auto" else "no command configured"
            detail |= {"status": "skipped", "reason": reason}
            self.journal.record_catchup("firestore", detail)
            print(f"bridge: firestore catch-up skipped ({reason})", flush=True)
            return
        detail |= {"status": "running", "command": command}
        self.journal.record_catchup("firestore", detail)
        try:
            done = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False
            )
            output = (done.stdout + done.stderr).strip().splitlines()[-20:]
            detail |= {"status": f"exit {done.returncode}", "output": output}
        except (OSError, subprocess.TimeoutExpired) as exc:
            detail |= {"status": "failed", "output": [repr(exc)]}
        self.journal.update_catchup("firestore", detail)
        print(f"bridge: firestore catch-up {detail['status']}", flush=True)

    # ---- delivery ----------------------------------------------------------------------------

    def queue_of(self, target: str) -> queue.Queue[Delivery]:
        """``target``'s queue; its workers are started with it (once the bridge runs)."""
        with self.queues_lock:
            found = self.queues.get(target)
            if found is None:
                found = self.queues[target] = queue.Queue()
                if self.started:
                    self._start_workers(target, found)
            return found

    def _start_workers(self, target: str, ready: queue.Queue[Delivery]) -> None:
        for _ in range(self.workers):
            threading.Thread(target=self.deliver_forever, args=(ready,), daemon=True).start()

    def start_workers(self) -> None:
        with self.queues_lock:
            self.started = True
            for target, ready in self.queues.items():
                self._start_workers(target, ready)

    def _make_ready(self, item: Delivery) -> None:
        with self.stats.lock:
            self.stats.target(item.target).queued += 1
        self.queue_of(item.target).put(item)

    def deliver_forever(self, ready: queue.Queue[Delivery]) -> None:
        while not self.stop.is_set():
            try:
                item = ready.get(timeout=0.2)
            except queue.Empty:
                continue
            with self.stats.lock:
                self.stats.target(item.target).queued -= 1
            try:
                self.deliver(item)
            except Exception as exc:  # noqa: BLE001 - a worker must outlive any one event
                print(f"bridge: delivering {item.event_id} failed: {exc!r}", flush=True)
                item.due = time.time() + 1.0
                self.schedule(item)  # it is still in the journal: try again

    def deliver(self, item: Delivery) -> None:
        config = self.config
        if not item.held_once and config.drop_rate and random.random() < config.drop_rate:
            item.held_once = True  # lost once; redelivered later, as a lost delivery would be
            item.due = time.time() + config.redeliver_after
            self.journal.reschedule(item, "dropped by the drop fault; redelivered later")
            self.stats.fault("dropped")
            self.schedule(item)
            return
        started = time.time()
        with self.stats.lock:
            self.stats.in_flight += 1
            target = self.stats.target(item.target)
            target.in_flight += 1
            target.waits.append(max(0.0, started - item.due))
        try:
            outcome = self._attempt(item, config)
        finally:
            with self.stats.lock:
                self.stats.in_flight -= 1
                target.in_flight -= 1
                target.posts.append(time.time() - started)
                self.stats.last_activity = time.monotonic()
        with self.stats.lock:
            if outcome == "delivered":
                self.stats.delivered += 1
                target.delivered += 1
                self.stats.delivered_to[item.url] = self.stats.delivered_to.get(item.url, 0) + 1
            elif outcome == "dead":
                self.stats.dead_lettered += 1
            else:
                self.stats.retried += 1
                target.retried += 1
        if outcome == "retry":
            self.schedule(item)

    def _attempt(self, item: Delivery, config: Config) -> str:
        """One delivery attempt, its outcome journaled: delivered, retry or dead."""
        rate = config.fail.get(item.target, 0.0)
        if rate and random.random() < rate:
            self.stats.fault("failed")
            error = "HTTP 503 (injected by the fail fault)"
        else:
            error = self._post(item)
        now = time.time()
        if not error:
            self.journal.done(item)
            return "delivered"
        item.attempt += 1  # attempts made so far
        if out_of_budget(item, config, now):
            self.journal.dead(item, error)
            print(f"bridge: dead-lettered {item.event_id} -> {item.target}: {error}", flush=True)
            return "dead"
        item.due = now + backoff(item.attempt, config.backoff_max) * random.uniform(0.5, 1.0)
        self.journal.reschedule(item, error)
        return "retry"

    def release_retries(self) -> None:
        """Move deliveries whose time has come back to the ready queue."""
        while not self.stop.is_set():
            with self.later_lock:
                now = time.time()
                while self.later and self.later[0][0] <= now:
                    self._make_ready(heapq.heappop(self.later)[2])
                wait = self.later[0][0] - now if self.later else 0.5
                self.later_lock.wait(timeout=max(0.01, min(wait, 0.5)))

    def pending(self) -> int:
        with self.queues_lock:
            ready = sum(q.qsize() for q in self.queues.values())
        with self.later_lock:
            return ready + len(self.later)

    def _post(self, item: Delivery) -> str:
        """Deliver once; an error text, or "" on a 2xx."""
        try:
            reply = self.session.post(item.url, data=item.body, headers=item.headers, timeout=60)
        except requests.RequestException as exc:
            print(f"bridge: {item.event_id} -> {item.url}: {exc}", flush=True)
            return f"{type(exc).__name__}: {exc}"
        if 200 <= reply.status_code < 300:
            return ""
        print(f"bridge: {item.event_id} -> {item.url}: HTTP {reply.status_code}", flush=True)
        return f"HTTP {reply.status_code}"

    def redeliver_dead(self, ids: list[int] | None) -> int:
        revived = self.journal.revive(ids)
        for item in revived:
            self.schedule(item)
        return len(revived)

    # ---- HTTP: the emulator's callbacks and the control API --------------------------------

    def server(self, port: int) -> ThreadingHTTPServer:
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                return raw

            def _ids(self, data: Any) -> list[int] | None:
                ids = data.get("ids") if isinstance(data, dict) else None
                if ids is None:
                    return None
                if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                    raise BadConfig("ids must be a list of integers")
                return ids

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path in ("/stats", "/health"):
                    stats = bridge.stats.snapshot(bridge.pending())
                    stats |= {"duplicate": bridge.config.duplicate, "restarted": bridge.restarted}
                    self._json(200, stats)
                elif path == "/config":
                    self._json(200, asdict(bridge.config))
                elif path == "/deadletter":
                    entries = bridge.journal.dead_letters()
                    self._json(200, {"count": len(entries), "entries": entries})
                elif path == "/catchup":
                    self._json(200, {"catchups": bridge.journal.catchups()})
                else:
                    self._json(404, {"error": {"code": "not_found", "message": "no such route"}})

            def do_DELETE(self) -> None:
                split = urlsplit(self.path)
                if split.path != "/deadletter":
                    self._json(404, {"error": {"code": "not_found", "message": "no such route"}})
                    return
                raw = parse_qs(split.query).get("id")
                try:
                    ids = [int(i) for i in raw] if raw else None
                except ValueError:
                    self._json(400, {"error": {"code": "bad_request", "message": "bad id"}})
                    return
                self._json(200, {"removed": bridge.journal.take_dead(ids)})

            def do_POST(self) -> None:
                body = self._body()
                match = TRIGGER_PATH.match(self.path)
                if match:
                    began = time.perf_counter()
                    with bridge.stats.lock:
                        bridge.stats.receiving += 1
                        bridge.stats.receiving_max = max(
                            bridge.stats.receiving_max, bridge.stats.receiving
                        )
                    try:
                        known = bridge.firestore_event(match["trigger"], dict(self.headers), body)
                    except Exception as exc:  # noqa: BLE001 - not journaled: not acknowledged
                        self._json(500, {"error": {"code": "internal", "message": repr(exc)}})
                        return
                    finally:
                        with bridge.stats.lock:
                            bridge.stats.receiving -= 1
                            bridge.stats.receipts.append(time.perf_counter() - began)
                    self._json(200 if known else 404, {"accepted": known})
                    return
                try:
                    data = json.loads(body or b"{}")
                    if self.path == "/config":
                        if not isinstance(data, dict):
                            raise BadConfig("send a JSON object")
                        self._json(200, asdict(bridge.configure(data)))
                    elif self.path == "/config/reset":
                        self._json(200, asdict(bridge.reset()))
                    elif self.path == "/stats/reset":
                        bridge.stats.reset_samples()
                        self._json(200, {"reset": True})
                    elif self.path == "/deadletter/redeliver":
                        self._json(200, {"redelivered": bridge.redeliver_dead(self._ids(data))})
                    elif self.path == "/triggers":
                        bridge.add_trigger(data["id"], data["document"], data["url"])
                        self._json(200, {"registered": data["id"]})
                    else:
                        self._json(404, {"error": {"code": "not_found", "message": "no route"}})
                except (BadConfig, ValueError, KeyError, TypeError) as exc:
                    self._json(400, {"error": {"code": "bad_request", "message": str(exc)}})

            def log_message(self, format: str, *args: Any) -> None:
                return

        return ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def heartbeat(self) -> None:
        while not self.stop.wait(1.0):
            self.journal.set_meta("heartbeat", time.time())

    def run(self, port: int) -> None:
        last_beat = self.journal.get_meta("heartbeat")
        self.restarted = last_beat is not None
        saved = self.journal.get_meta("config")
        if self.restarted and saved:
            with contextlib.suppress(BadConfig, TypeError):
                self.config = Config(**saved)
        if self.restarted:
            self.journal.set_meta("restarts", (self.journal.get_meta("restarts") or 0) + 1)
        self.journal.set_meta("heartbeat", time.time())
        pending = self.journal.pending()
        for item in pending:
            self.schedule(item)
        with self.stats.lock:
            self.stats.enqueued += len(pending)
        # Routes first: the emulator keeps its registrations across our restart, so it may push an
        # event for a journaled route before the loop below has registered it again.
        extra = self.journal.get_meta("extra_triggers") or {}
        for trigger_id, spec in extra.items():
            self.routes[trigger_id] = spec["url"]
            self.fanout[trigger_id] = [trigger_id]
        for target in [*self.routes, *entrypoints.STORAGE_TRIGGERS]:
            self.queue_of(target)
        server = self.server(port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.start_workers()
        threading.Thread(target=self.release_retries, daemon=True).start()
        threading.Thread(target=self.heartbeat, daemon=True).start()
        for name, pattern in entrypoints.FIRESTORE_TRIGGERS.items():
            if name in self.fanout:  # the first trigger of its pattern names the registration
                self.register_trigger(name, pattern)
        for trigger_id, spec in extra.items():
            self.add_trigger(trigger_id, spec["document"], spec["url"])
        threading.Thread(target=self.poll_storage, daemon=True).start()
        if self.restarted:
            down_for = round(time.time() - float(last_beat), 1)
            print(f"bridge: restarted ({len(pending)} pending, down ~{down_for}s)", flush=True)
            threading.Thread(target=self.catch_up_firestore, args=(down_for,), daemon=True).start()
        print(f"bridge: ready on {port}", flush=True)
        self.stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Eventarc stand-in")
    parser.add_argument("--stack", default=".local/stack.json")
    parser.add_argument("--journal", default=".local/bridge.sqlite")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duplicate", action="store_true", help="deliver every event twice")
    parser.add_argument("--workers", type=int, default=16, help="delivery workers per trigger")
    parser.add_argument(
        "--retry-budget", type=float, default=DAY, help="seconds before dead-lettering (24 h)"
    )
    parser.add_argument("--backoff-max", type=float, default=10.0, help="retry backoff cap (s)")
    parser.add_argument(
        "--catchup-command",
        default=os.environ.get("LOCALCLOUD_CATCHUP_COMMAND", DEFAULT_CATCHUP),
        help="run on restart for Firestore writes missed while down ('auto': python -m ops "
        "reconcile if the ops module exists; 'none': nothing)",
    )
    args = parser.parse_args()
    stack = json.loads(Path(args.stack).read_text())
    config = Config(
        duplicate=args.duplicate, retry_budget=args.retry_budget, backoff_max=args.backoff_max
    )
    bridge = Bridge(
        stack,
        Journal(Path(args.journal)),
        workers=args.workers,
        config=config,
        catchup=args.catchup_command,
    )
    bridge.run(args.port)


if __name__ == "__main__":
    main()
