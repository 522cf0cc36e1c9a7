"""Progress benchmark (prints numbers; not a test). Needs the local cloud (`make up`).

    python -m bench.bench_progress                  # both parts, 200 learners
    python -m bench.bench_progress --learners 50 --workers 32
    python -m bench.bench_progress --part cost      # only the reads/writes count
    python -m bench.bench_progress --part load      # only the load run
    python -m bench.bench_progress --part faults --learners 50   # only the run with faults

Part 1, cost: Firestore reads and writes of one ``complete``, counted by wrapping the Firestore client
in-process (its GAPIC calls: documents returned by BatchGetDocuments, writes in Commit), calling the
service and then both triggers' use cases directly against the local cloud's Firestore (the
resource trigger writes the module and, when that changed, the pathway; the module trigger then
peeks and finds nothing to write), for a
learner completing the video, article and quiz of ``prompt-engineering-m1`` after uploads of the
exercise and project were recorded (so the third ``complete`` completes the module and the pathway).
Shown with the per-process catalog cache warm (steady state) and disabled (every call reads the
catalog), against the issue's floor of 2 writes (+1 when a module completes).

Part 2, load: N learners x 10 concurrent actions over HTTP (start, PUT progress (+1 min), complete on
the video, article and quiz, and PUT progress on the already submitted exercise), all submitted at
once to a pool of ``--workers`` threads in random order. Polling every learner's pathway and module
documents in batches timestamps every change; the k-th ``complete`` reply of a
learner counts as reflected when that learner's pathway first shows 2 + k completed resources (ranks,
because a count cannot say which resource it includes). Lost or doubled updates are counted from the
final documents (status, minutes, module and pathway counts, ``completed_at`` values the poller saw on
the module, ``complete`` events in progress_events); they must all be 0.

Part 3, faults: N learners complete the video, article and quiz over HTTP while the pathway trigger
(``on_module_progress_written``) is killed for 45 s and, a few seconds into the run, the event bridge
is killed for 10 s (the supervisor restarts dead processes; a file in ``.local/hold/`` keeps one
down). Once both are back and the bridge is idle it prints how many of those learners' module and
pathway rollups differ from a from-scratch recount (every learner did everything: 5 / 5, complete),
runs ``python -m ops reconcile --pathway prompt-engineering`` (through the task queue), prints its
report, and counts again: 0 must differ, and reconcile's dry run must then find 0 drifted.

Reading part 2: on the local cloud the reply -> pathway time is dominated by the event transport
and by two cores shared by every emulator, function and client, not by the triggers (part 1 prints
the time spent in our code: a few ms). The bridge receives Firestore events from the emulator itself
(registered eventarc triggers), which pushes them ONE AT A TIME: under a burst its backlog is most
of the lag. After the run the bench prints, per trigger, the bridge's figures: commit -> bridge
(that backlog), the wait for a worker and the function's reply time. Measured on 2026-11-25 with
200 learners: HTTP p50 589 ms / p95 1394 ms; reply -> pathway p50 4.4 s / p95 5.9 s; 0 lost, 0
doubled. (With the earlier collection-group listener as the event source it was p50 42 s / p95
167 s.) Three more triggers on the same writes made it p50 12.1 s / p95 18.5 s; on 2026-11-26 (2
cores, load average 20-37 from other local clouds) p50 25.6-30.2 s before and 5.1-6.6 s after the
bridge's one push per document pattern, the resource trigger's pathway recount and the peek.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PID = "prompt-engineering"
MID = f"{PID}-m1"
VIDEO, ARTICLE, EXERCISE, QUIZ, PROJECT = (
    f"{MID}-{k}" for k in ("video", "article", "exercise", "quiz", "project")
)
BY_HAND = (VIDEO, ARTICLE, QUIZ)
COST_DATABASE = "bench-progress-cost"
NO_REPLY = (
    599  # the connection failed: counted with the non-200 replies (the write may have landed)
)
POLL_PAUSE = 0.02  # between polling rounds: the emulator's direct memory grows with stream churn


def load_stack(path: Path) -> dict[str, Any]:
    if not path.exists():
        sys.exit("the local cloud is not running: start it with `make up`")
    stack: dict[str, Any] = json.loads(path.read_text())
    emu = stack["emulators"]
    os.environ.update(
        {
            "GOOGLE_CLOUD_PROJECT": stack["project_id"],
            "FIRESTORE_EMULATOR_HOST": emu["firestore"],
            "FIREBASE_AUTH_EMULATOR_HOST": emu["auth"],
        }
    )
    return stack


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def record_uploads(db: Any, uid: str) -> None:
    """The exercise and project submitted, with the per-resource submission index that implies it
    (so a reconcile leaves the status alone)."""
    now = dt.datetime.now(dt.UTC)
    batch = db.batch()
    for rid in (EXERCISE, PROJECT):
        batch.set(
            db.document(f"users/{uid}/resource_progress/{rid}"),
            {"status": "submitted", "submission_count": 1, "updated_at": now},
            merge=True,
        )
        sid = uuid.uuid4().hex
        batch.set(
            db.document(f"users/{uid}/resource_submissions/{rid}"),
            {
                "resource_id": rid,
                "user_id": uid,
                "attempts": 1,
                "submissions": {sid: {"attempt": 1, "status": "uploaded"}},
                "updated_at": now,
            },
        )
    batch.commit()


# ---- part 1: reads and writes per complete -----------------------------------------------------


@dataclass
class Counter:
    reads: int = 0
    missing: int = 0
    writes: int = 0
    commits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[int, int, int]:
        with self.lock:
            out = (self.reads, self.missing, self.writes)
            self.reads = self.missing = self.writes = self.commits = 0
            return out


def counting_client(project: str, database: str, counter: Counter) -> Any:
    """A real Firestore client whose GAPIC calls are counted (documents read, writes committed)."""
    from google.cloud import firestore

    db = firestore.Client(project=project, database=database)
    api = db._firestore_api
    batch_get, commit = api.batch_get_documents, api.commit

    def counted_batch_get(*args: Any, **kw: Any) -> Iterator[Any]:
        for response in batch_get(*args, **kw):
            with counter.lock:
                if response.found and response.found.name:
                    counter.reads += 1
                elif response.missing:
                    counter.missing += 1
            yield response

    def counted_commit(*args: Any, **kw: Any) -> Any:
        request = kw.get("request") or (args[0] if args else {})
        writes = request.get("writes", []) if isinstance(request, dict) else request.writes
        with counter.lock:
            counter.writes += len(writes)
            counter.commits += 1
        return commit(*args, **kw)

    api.batch_get_documents = counted_batch_get
    api.commit = counted_commit
    return db


def part_cost(stack: dict[str, Any]) -> None:
    from google.cloud import firestore

    from shared.adapters.progress_store import FirestoreCatalog, FirestoreProgressStore
    from shared.events import DocumentChange, EventMeta
    from shared.services import progress as progress_service
    from shared.services import rollups
    from shared.services.catalog import CachedCatalog

    print("== part 1: Firestore reads / writes per `complete` (service + both triggers)")
    print("   reads = documents returned (missing documents in brackets, also billed)")
    # A separate database of the same emulator, which the event bridge does not watch, so the
    # stack's own triggers do not race the counted calls; the catalog is copied into it.
    plain = firestore.Client(project=stack["project_id"], database=COST_DATABASE)
    timings: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    source = firestore.Client(project=stack["project_id"])
    for collection in ("pathways", "modules", "resources", "catalog_meta"):
        for snap in source.collection(collection).stream():
            plain.document(f"{collection}/{snap.id}").set(snap.to_dict() or {})
    for label, ttl in (("catalog cache warm", 30.0), ("catalog cache off", 0.0)):
        counter = Counter()
        db = counting_client(stack["project_id"], COST_DATABASE, counter)
        inner = FirestoreCatalog(db)
        # version-checked, as shared.bootstrap builds it: an action reads catalog_meta/version
        catalog = CachedCatalog(inner, ttl=ttl, version=inner.version)
        store = FirestoreProgressStore(db)
        if ttl:  # warm the cache as a running instance would be
            progress_service.report(catalog, store, "warm-up", PID)
            rollups.module_progress_written(
                DocumentChange(
                    EventMeta("warm", "", "", "", None),
                    f"users/warm-up/module_progress/{MID}",
                    None,
                    {"pathway_id": PID},
                    None,
                ),
                catalog,
                store,
            )
        uid = f"bench-cost-{uuid.uuid4().hex[:8]}"
        record_uploads(plain, uid)
        counter.take()
        print(f"-- {label}")
        header = (
            f"   {'action':<34}{'HTTP fn':>12}{'resource trig':>14}{'module trig':>15}{'total':>12}"
        )
        print(header)
        for rid in BY_HAND:
            t0 = time.perf_counter()
            progress_service.complete(catalog, store, uid, rid)
            t1 = time.perf_counter()
            http = counter.take()
            rdoc = plain.document(f"users/{uid}/resource_progress/{rid}").get().to_dict()
            meta = EventMeta(id="bench", type="", source="", subject="", time=None)
            change = DocumentChange(meta, f"users/{uid}/resource_progress/{rid}", None, rdoc, None)
            t2 = time.perf_counter()
            module = rollups.resource_progress_written(change, catalog, store)
            t3 = time.perf_counter()
            mod = counter.take()
            path_counts = (0, 0, 0)
            if module is not None:
                mchange = DocumentChange(
                    meta, f"users/{uid}/module_progress/{MID}", None, module.model_dump(), None
                )
                t4 = time.perf_counter()
                rollups.module_progress_written(mchange, catalog, store)
                timings[label].append((t1 - t0, t3 - t2, time.perf_counter() - t4))
                path_counts = counter.take()
            total = tuple(a + b + c for a, b, c in zip(http, mod, path_counts, strict=True))

            def fmt(c: tuple[int, ...]) -> str:
                return f"{c[0]}r({c[1]})/{c[2]}w"

            completes_module = rid == BY_HAND[-1]
            name = f"complete {rid.rsplit('-', 1)[1]}" + (
                " (module done)" if completes_module else ""
            )
            print(
                f"   {name:<34}{fmt(http):>12}{fmt(mod):>14}{fmt(path_counts):>15}{fmt(total):>12}"
            )
        print("   floor (issue): 2 writes, +1 when the module completes")
    for label, rows in timings.items():
        service_ms, module_ms, pathway_ms = (
            sorted(1000 * r[i] for r in rows)[len(rows) // 2] for i in range(3)
        )
        print(
            f"   time in our code, {label} (median of {len(rows)}, one client, no bridge): "
            f"complete {service_ms:.0f} ms, resource trigger (module and pathway)"
            f" {module_ms:.0f} ms, module trigger {pathway_ms:.0f} ms"
        )
    print(
        "   writes above the floor: every complete changes the module's percentage and the\n"
        "   pathway's resource_percentage, so both rollup documents are rewritten (1 + 1); a\n"
        "   retried / duplicated event reads the same documents and writes nothing."
    )


# ---- part 2: load ------------------------------------------------------------------------------


@dataclass
class Watch:
    """Timelines of the learners' pathway and module documents, by polling them in batches.

    (A collection-group listener is the natural tool, but the emulator cancels it under this load
    (``499 Server sendMessage() failed``), so the bench polls: one BatchGetDocuments of every
    unfinished learner's two documents per round; the round trip is the time resolution.)
    """

    db: Any
    uids: list[str]
    pathway: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    module_completed_at: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    rounds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    target: int = 5

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                todo = [u for u in self.uids if self._latest(u) < self.target]
            if not todo:
                self.stop.wait(0.05)
                continue
            refs = []
            for u in todo:
                refs.append(self.db.document(f"users/{u}/pathway_progress/{PID}"))
                refs.append(self.db.document(f"users/{u}/module_progress/{MID}"))
            began = time.monotonic()
            try:
                snaps = [
                    s for i in range(0, len(refs), 100) for s in self.db.get_all(refs[i : i + 100])
                ]
            except Exception as exc:  # noqa: BLE001 - a failed round is retried, the run goes on
                print(f"   (poll round failed: {type(exc).__name__}; retrying)", file=sys.stderr)
                self.stop.wait(0.5)
                continue
            now = time.monotonic()
            self.stop.wait(POLL_PAUSE)
            with self.lock:
                self.rounds.append(now - began)
                for snap in snaps:
                    if not snap.exists:
                        continue
                    uid, collection = snap.reference.path.split("/")[1:3]
                    data = snap.to_dict() or {}
                    if collection == "pathway_progress":
                        count = int(data.get("completed_resources", 0))
                        if self._latest(uid) != count:
                            self.pathway[uid].append((now, count))
                    elif data.get("completed_at") is not None:
                        self.module_completed_at[uid].add(data["completed_at"])

    def _latest(self, uid: str) -> int:
        line = self.pathway.get(uid) or []
        return line[-1][1] if line else -1

    def latest(self, uid: str) -> int:
        with self.lock:
            return self._latest(uid)

    def first_at_least(self, uid: str, count: int) -> float | None:
        with self.lock:
            for t, c in self.pathway.get(uid, []):
                if c >= count:
                    return t
        return None


def wait_until(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def part_load(stack: dict[str, Any], learners: int, workers: int, timeout: float) -> None:
    from google.cloud import firestore

    from localcloud.bridge_client import BridgeClient
    from localcloud.tokens import mint

    print(f"== part 2: {learners} learners x 10 concurrent actions, {workers} client threads")
    db = firestore.Client(project=stack["project_id"])
    prefix = f"bench-{uuid.uuid4().hex[:6]}-"
    uids = [f"{prefix}{i:04d}" for i in range(learners)]
    watch = Watch(db, uids)
    watch.start()
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda u: record_uploads(db, u), uids))
        wait_until(
            lambda: all(watch.latest(u) == 2 for u in uids), timeout, "the uploads to roll up"
        )
        base = stack["functions"]["progress"]
        tokens = {u: mint(u) for u in uids}
        jobs: list[tuple[str, str, str, dict[str, Any] | None]] = []
        for u in uids:
            for rid in BY_HAND:
                jobs.append((u, "POST", f"/users/me/resources/{rid}/start", None))
                body = {"progress_percentage": 50, "time_spent_minutes": 1}
                jobs.append((u, "PUT", f"/users/me/resources/{rid}/progress", body))
                jobs.append((u, "POST", f"/users/me/resources/{rid}/complete", None))
            body = {"progress_percentage": 50, "time_spent_minutes": 1}
            jobs.append((u, "PUT", f"/users/me/resources/{EXERCISE}/progress", body))
        random.shuffle(jobs)
        local = threading.local()
        replies: list[tuple[str, str, int, float, float]] = []
        replies_lock = threading.Lock()

        def run(job: tuple[str, str, str, dict[str, Any] | None]) -> None:
            u, method, path, body = job
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            started = time.monotonic()
            try:
                r = session.request(
                    method,
                    base + path,
                    json=body,
                    headers={"Authorization": f"Bearer {tokens[u]}"},
                    timeout=120,
                )
                status = r.status_code
            except requests.ConnectionError:  # e.g. a kept-alive connection reset: no reply
                status = NO_REPLY
                local.session = None
            done = time.monotonic()
            with replies_lock:
                replies.append((u, path, status, started, done))

        bridge = BridgeClient(stack["bridge"])
        bridge.reset_stats()
        bridge_before = bridge.stats()
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, jobs))
        t_http = time.monotonic() - t0
        finishers = {
            u
            for u in uids
            if sum(1 for r in replies if r[0] == u and r[1].endswith("/complete") and r[2] == 200)
            == 3
        }
        wait_until(
            lambda: all(watch.latest(u) >= 5 for u in finishers),
            timeout,
            "every pathway at 5 / 5",
        )
        t_all = time.monotonic() - t0
        requests.get(stack["bridge"] + "/stats", timeout=5)
        bad = [r for r in replies if r[2] != 200]
        http_ms = [1000 * (r[4] - r[3]) for r in replies]
        print(f"   {len(replies)} HTTP actions in {t_http:.1f}s ({len(replies) / t_http:.0f}/s),")
        print(f"   all pathways complete {t_all:.1f}s after the first request; non-200: {len(bad)}")
        if bad:  # which ones: a 4xx, a 503 (contention, Retry-After) or no reply at all (599)
            codes = sorted({r[2] for r in bad})
            counts = {code: sum(1 for r in bad if r[2] == code) for code in codes}
            print(f"   non-200 replies by status: {counts}, e.g. {bad[0][1]}")
        print(f"   HTTP reply time: p50 {pct(http_ms, 50):.0f} ms, p95 {pct(http_ms, 95):.0f} ms")
        rounds = [1000 * r for r in watch.rounds]
        print(f"   (polling resolution: one round p50 {pct(rounds, 50):.0f} ms)")

        lags: list[float] = []
        early = 0
        by_learner: dict[str, list[float]] = defaultdict(list)
        for u, path, status, _, done in replies:
            if path.endswith("/complete") and status == 200:
                by_learner[u].append(done)
        for u, dones in by_learner.items():
            for k, done in enumerate(sorted(dones), start=1):
                seen = watch.first_at_least(u, 2 + k)
                if seen is None:
                    continue
                if seen < done:
                    early += 1
                lags.append(max(0.0, seen - done) * 1000)
        print(
            f"   reply -> pathway reflects it: p50 {pct(lags, 50):.0f} ms, p95 {pct(lags, 95):.0f} ms,"
            f" max {max(lags):.0f} ms ({len(lags)} completes; {early} already visible at reply)"
        )

        # ---- exactness
        lost = doubled = ambiguous = 0
        problems: list[str] = []
        put_ok: dict[tuple[str, str], int] = defaultdict(int)
        put_failed: dict[tuple[str, str], int] = defaultdict(int)
        complete_ok: dict[tuple[str, str], bool] = defaultdict(bool)
        for u, path, status, _, _ in replies:
            rid = path.split("/")[4]
            if path.endswith("/progress"):
                (put_ok if status == 200 else put_failed)[(u, rid)] += 1
            elif path.endswith("/complete") and status == 200:
                complete_ok[(u, rid)] = True
        for u in uids:
            rp: dict[str, dict[str, Any]] = {
                s.id: s.to_dict() or {}
                for s in db.collection(f"users/{u}/resource_progress").stream()
            }
            for rid in BY_HAND:
                d = rp.get(rid, {})
                if d.get("status") != "completed" and complete_ok[(u, rid)]:
                    lost += 1
                    problems.append(f"{u} {rid} status {d.get('status')}")
            for rid in (*BY_HAND, EXERCISE):
                minutes = rp.get(rid, {}).get("time_spent_minutes", 0)
                expected, unsure = put_ok[(u, rid)], put_failed[(u, rid)]
                if minutes < expected:
                    lost += 1
                elif minutes > expected + unsure:
                    doubled += 1
                elif minutes > expected:
                    ambiguous += 1  # a 5xx reply whose commit had landed: not a double
                if minutes != expected:
                    problems.append(f"{u} {rid} minutes {minutes}, {expected} acknowledged")
            m = db.document(f"users/{u}/module_progress/{MID}").get().to_dict() or {}
            p = db.document(f"users/{u}/pathway_progress/{PID}").get().to_dict() or {}
            if (m.get("completed_resources"), m.get("percentage")) != (5, 100.0) or not m.get(
                "completed_at"
            ):
                lost += 1
                problems.append(f"{u} module {m}")
            if (p.get("completed_resources"), p.get("completed_modules")) != (5, 1) or not p.get(
                "completed_at"
            ):
                lost += 1
                problems.append(f"{u} pathway {p}")
            if len(watch.module_completed_at.get(u, set())) > 1:
                doubled += 1
                problems.append(f"{u} module completed_at changed")
            completes = [
                e
                for e in (
                    s.to_dict() or {} for s in db.collection(f"users/{u}/progress_events").stream()
                )
                if e.get("action") == "complete"
            ]
            if len(completes) != len(BY_HAND):
                doubled += len(completes) > len(BY_HAND)
                lost += len(completes) < len(BY_HAND)
                problems.append(f"{u} {len(completes)} complete events")
        bridge_after = bridge.wait_idle(quiet=1.0, timeout=timeout)
        events = bridge_after["enqueued"] - bridge_before["enqueued"]
        retried = bridge_after["retried"] - bridge_before["retried"]
        print(f"   bridge: {events} events enqueued, {retried} redeliveries after errors")
        print_targets(bridge_before, bridge_after)
        print(f"   lost updates: {lost}   doubled updates: {doubled}", end="")
        print(f"   (5xx replies whose write landed anyway: {ambiguous})" if ambiguous else "")
        for line in problems[:10]:
            print("     ", line)
    finally:
        watch.stop.set()


def print_targets(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Per trigger, from the bridge: events delivered during the run; the emulator's commit ->
    the bridge's receipt (arrival), receipt (or retry time) -> a worker picks it up (wait), and
    the function's reply time (post); p50 / p95 / max ms."""
    print(
        "   per trigger (bridge): delivered; commit->bridge, queued, function reply p50/p95/max ms"
    )
    if "receive_ms" in after:
        r = after["receive_ms"]
        busy = after["receive_busy_s"] - before.get("receive_busy_s", 0.0)
        print(
            f"     the emulator's pushes: at most {after['receiving_max']} at once; handled in"
            f" p50 {r['p50']:.1f} / p95 {r['p95']:.1f} / max {r['max']:.0f} ms; {busy:.1f} s in all"
        )
    old = before.get("targets", {})
    for name, t in after.get("targets", {}).items():
        delivered = t["delivered"] - old.get(name, {}).get("delivered", 0)
        if not delivered:
            continue

        def fmt(s: dict[str, float]) -> str:
            return f"{s['p50']:.0f}/{s['p95']:.0f}/{s['max']:.0f}"

        print(
            f"     {name:<32}{delivered:>6}   arrival {fmt(t['arrival_ms']):>16}"
            f"   wait {fmt(t['wait_ms']):>18}   reply {fmt(t['post_ms']):>14}"
        )


# ---- part 3: a load run with a rollup function and the bridge killed -----------------------------

LOCAL = ROOT / ".local"


def _kill(name: str) -> Path:
    """Hold back ``name``'s restart, then kill its process group as a crash would."""
    import signal

    held = LOCAL / "hold" / name
    held.parent.mkdir(exist_ok=True)
    held.touch()
    pid = json.loads((LOCAL / "pids.json").read_text())[name]
    os.killpg(pid, signal.SIGKILL)
    return held


def restarts() -> dict[str, int]:
    path = LOCAL / "restarts.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return {name: int(entry.get("count", 0)) for name, entry in data.items()}


def rollups_off(db: Any, uids: list[str]) -> int:
    """Module and pathway rollups of ``uids`` that differ from the recount (all 5 / 5 done)."""
    off = 0
    for u in uids:
        m = db.document(f"users/{u}/module_progress/{MID}").get().to_dict() or {}
        p = db.document(f"users/{u}/pathway_progress/{PID}").get().to_dict() or {}
        off += (m.get("completed_resources"), m.get("total_resources"), m.get("percentage")) != (
            5,
            5,
            100.0,
        ) or not m.get("completed_at")
        off += (
            p.get("completed_resources"),
            p.get("completed_modules"),
            p.get("percentage"),
        ) != (5, 1, 100.0) or not p.get("completed_at")
    return off


def ops_reconcile(*args: str) -> dict[str, Any]:
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
    done = subprocess.run(
        [sys.executable, "-m", "ops", "reconcile", "--json", "--pathway", PID, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def part_faults(stack: dict[str, Any], learners: int, workers: int, timeout: float) -> None:
    from google.cloud import firestore

    from localcloud.bridge_client import BridgeClient
    from localcloud.tokens import mint

    print(
        f"== part 3: {learners} learners x 3 completes; on_module_progress_written killed 45 s,"
        " the bridge killed 10 s"
    )
    db = firestore.Client(project=stack["project_id"])
    bridge = BridgeClient(stack["bridge"])
    uids = [f"bench-faults-{uuid.uuid4().hex[:6]}-{i:04d}" for i in range(learners)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda u: record_uploads(db, u), uids))
    base = stack["functions"]["progress"]
    tokens = {u: mint(u) for u in uids}
    jobs = [(u, rid) for u in uids for rid in BY_HAND]
    random.shuffle(jobs)
    statuses: list[int] = []
    lock = threading.Lock()

    def run(job: tuple[str, str]) -> None:
        u, rid = job
        r = requests.post(
            f"{base}/users/me/resources/{rid}/complete",
            headers={"Authorization": f"Bearer {tokens[u]}"},
            timeout=120,
        )
        with lock:
            statuses.append(r.status_code)

    restarted_before = restarts()
    t0 = time.monotonic()
    trigger = _kill("on_module_progress_written")
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run, job) for job in jobs]
            time.sleep(3.0)
            held = _kill("bridge")
            time.sleep(10.0)
            held.unlink()
            for f in futures:
                f.result()
        t_http = time.monotonic() - t0
        time.sleep(max(0.0, 45.0 - (time.monotonic() - t0)))
    finally:
        trigger.unlink(missing_ok=True)
        (LOCAL / "hold" / "bridge").unlink(missing_ok=True)
    wait_until(lambda: _answers(stack["functions"]["on_module_progress_written"]), 120, "restart")
    bridge.wait_idle(quiet=3.0, timeout=timeout)
    t_settled = time.monotonic() - t0
    non_200 = sum(1 for s in statuses if s != 200)
    print(f"   {len(statuses)} completes in {t_http:.1f}s; non-200: {non_200}")
    after_restarts = restarts()
    came_back = {
        n: after_restarts.get(n, 0) - restarted_before.get(n, 0)
        for n in ("on_module_progress_written", "bridge")
    }
    stats = bridge.stats()
    catchups = [c for c in bridge.catchups() if c.get("kind") == "firestore"]
    print(
        f"   restarted by the supervisor: {came_back}; bridge redeliveries after errors:"
        f" {stats['retried']} (since its restart);"
        f" firestore catch-ups (a reconcile run by the restarted bridge): {len(catchups)}"
    )
    before = rollups_off(db, uids)
    print(f"   bridge idle {t_settled:.1f}s after the start; rollups differing from a recount:")
    print(f"     before reconcile: {before} of {2 * learners}")
    started = time.monotonic()
    report = ops_reconcile()
    tally = report["tally"]
    print(
        f"   ops reconcile --pathway {PID}: {tally['learners']} learners in"
        f" {time.monotonic() - started:.1f}s; drifted / repaired:"
        f" statuses {tally['statuses']['drifted']} / {tally['statuses']['repaired']},"
        f" modules {tally['modules']['drifted']} / {tally['modules']['repaired']},"
        f" pathways {tally['pathways']['drifted']} / {tally['pathways']['repaired']}"
    )
    bridge.wait_idle(quiet=2.0, timeout=timeout)
    after = rollups_off(db, uids)
    dry = ops_reconcile("--dry-run", "--inline")["tally"]
    drifted = sum(dry[level]["drifted"] for level in ("statuses", "modules", "pathways"))
    print(f"     after reconcile:  {after} of {2 * learners}  (must be 0)")
    print(f"   reconcile dry run afterwards: {drifted} drifted levels (must be 0)")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--workers", type=int, default=64, help="client threads for part 2")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--stack", type=Path, default=ROOT / ".local" / "stack.json")
    parser.add_argument("--part", choices=["cost", "load", "faults", "all"], default="all")
    args = parser.parse_args()
    stack = load_stack(args.stack)
    if args.part in ("cost", "all"):
        part_cost(stack)
    if args.part in ("load", "all"):
        part_load(stack, args.learners, args.workers, args.timeout)
    if args.part in ("faults", "all"):
        part_faults(stack, args.learners, args.workers, args.timeout)


if __name__ == "__main__":
    main()
