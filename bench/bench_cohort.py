"""Cohort dashboard benchmark (prints numbers; not a test). Needs the local cloud (`make up`).

    python -m bench.bench_cohort                          # both parts
    python -m bench.bench_cohort --part serve --sizes 1000,5000
    python -m bench.bench_cohort --part drift --learners 200 --actions 5000 --no-faults

The pathway is the synthetic ``syn-p0`` of ``python -m seed.load --synthetic 1x10x8`` (10 modules x
8 resources; exercises and projects need an upload), loaded idempotently.

Part 1, serve: for each size (default 1,000 and 5,000 learners) a cohort whose dashboard rows and
counter shards are written directly, as the triggers leave them: each learner's realistic progress
(a pace drawn per learner: most are part-way, some finished, some never started; minutes per
resource; uploads submitted, most approved; last activity spread over 40 days) is turned into
their row by the triggers' own functions (``shared.domain.dashboard``) and the counters are the sum
of the rows' contributions. (Writing 40,000+ progress documents instead would make the local cloud
run every rollup trigger for each of them; the page reads only the aggregates either way.) Then:
documents read by one page (the service called in-process with a Firestore client whose RunQuery
and BatchGetDocuments replies are counted, catalog cache cold and warm), and p50 / p95 / max of
``GET /cohorts/{cid}/pathways/syn-p0/dashboard`` over HTTP (first page of 25, inactive for 7 days).

Part 2, drift: ``--learners`` learners join a cohort (members documents: the join trigger builds
their rows), then ``--actions`` learner actions (start, complete, uncomplete, PUT progress with
minutes, on the pathway's resources that need no upload) are sent over HTTP from 16 threads, with
the event bridge delivering every event twice and reordering them within 1 s (``--no-faults``:
without); meanwhile 5 % of the learners leave and join again. Once the bridge is idle, every row,
counter and the live count are compared with a from-scratch recount from the learners' documents
(``shared.services.dashboard.verify``): the drift must be 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.bench_progress import load_stack, pct
from localcloud.tokens import mint

ROOT = Path(__file__).resolve().parent.parent
PATHWAY = "syn-p0"
SHAPE = "1x10x8"


class Reads:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.docs = 0
        self.queries = 0

    def take(self) -> tuple[int, int]:
        with self.lock:
            out = (self.docs, self.queries)
            self.docs = self.queries = 0
            return out


def counting_client(project: str, reads: Reads) -> Any:
    """A real Firestore client counting the documents its queries and batched gets return."""
    from google.cloud import firestore

    db = firestore.Client(project=project)
    api = db._firestore_api
    batch_get, run_query = api.batch_get_documents, api.run_query

    def counted_batch_get(*args: Any, **kw: Any) -> Iterator[Any]:
        for response in batch_get(*args, **kw):
            if response.found and response.found.name:
                with reads.lock:
                    reads.docs += 1
            yield response

    def counted_run_query(*args: Any, **kw: Any) -> Iterator[Any]:
        with reads.lock:
            reads.queries += 1
        for response in run_query(*args, **kw):
            if response.document and response.document.name:
                with reads.lock:
                    reads.docs += 1
            yield response

    api.batch_get_documents = counted_batch_get
    api.run_query = counted_run_query
    return db


def load_catalog() -> Any:
    from seed.load import build_catalog, load, synthetic_spec
    from shared.adapters.progress_store import FirestoreCatalog
    from shared.services import dashboard

    n, m, k = (int(x) for x in SHAPE.split("x"))
    load(build_catalog(synthetic_spec(n, m, k)), progress=False)
    shape = dashboard.shape_of(FirestoreCatalog(), PATHWAY)
    assert shape is not None
    assert len(shape.resource_ids) == 80, shape
    return shape


# ---- part 1: serve -----------------------------------------------------------------------------


def synthetic_progress(
    shape: Any, uid: str, rnd: random.Random, now: dt.datetime
) -> dict[str, Any]:
    """A learner's realistic resource progress (models, not written)."""
    from shared.domain.models import ResourceProgress, ResourceStatus

    out: dict[str, Any] = {}
    if rnd.random() < 0.06:
        return out  # enrolled, never started
    pace = rnd.betavariate(1.6, 1.8)
    if rnd.random() < 0.08:
        pace = 1.0
    resources = [r for _, rs in shape.modules for r in rs]
    reached = min(len(resources), round(pace * len(resources)))
    days_ago = rnd.expovariate(1 / 6) if rnd.random() < 0.8 else rnd.uniform(10, 40)
    last = now - dt.timedelta(days=days_ago)
    for i, res in enumerate(resources[: reached + 1]):
        at = last - dt.timedelta(hours=(reached - i) * rnd.uniform(1, 8))
        if i == reached:
            status = ResourceStatus.in_progress
        elif res.requires_upload:
            status = ResourceStatus.reviewed if rnd.random() < 0.75 else ResourceStatus.submitted
        else:
            status = ResourceStatus.completed
        out[res.resource_id] = ResourceProgress(
            resource_id=res.resource_id,
            pathway_id=res.pathway_id,
            module_id=res.module_id,
            status=status,
            progress_percentage=100 if status != ResourceStatus.in_progress else 40,
            time_spent_minutes=rnd.randint(3, 45),
            started_at=at,
            completed_at=at if status != ResourceStatus.in_progress else None,
            updated_at=at,
        )
    return out


def seed_cohort(db: Any, shape: Any, cohort_id: str, learners: int, teacher: str) -> None:
    from shared.adapters.firestore import to_document
    from shared.adapters.unit_of_work import _nest
    from shared.domain import dashboard as agg

    now = dt.datetime.now(dt.UTC)
    rnd = random.Random(cohort_id)
    db.document(f"cohorts/{cohort_id}").set(
        {
            "cohort_id": cohort_id,
            "name": f"Bench cohort of {learners}",
            "pathway_ids": [PATHWAY],
            "instructor_uids": [teacher],
            "created_at": now,
            "updated_at": now,
        }
    )
    shards: dict[int, Counter[str]] = {}
    live: dict[int, int] = {}
    base = db.document(f"cohorts/{cohort_id}/dashboard/{PATHWAY}")
    batch, pending = db.batch(), 0
    for i in range(learners):
        uid = f"{cohort_id}-l{i:05d}"
        joined = now - dt.timedelta(days=rnd.uniform(30, 60))
        progress = synthetic_progress(shape, uid, rnd, now)
        entries = agg.sync_entries(shape, {}, progress, list(progress))
        row = agg.build_row(
            shape,
            cohort_id,
            uid,
            entries,
            joined_at=joined,
            display_name=f"Learner {i}",
            email=f"{uid}@example.com",
        )
        shard = agg.shard_of(uid)
        shards.setdefault(shard, Counter()).update(agg.contribution(row))
        live[shard] = live.get(shard, 0) + row.awaiting_review
        batch.set(base.collection("rows").document(uid), to_document(row))
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    for shard, counters in shards.items():
        batch.set(base.collection("counters").document(str(shard)), _nest(counters, int))
        batch.set(
            db.document(f"cohorts/{cohort_id}/live_counts/{shard}"),
            {"awaiting_review": live[shard], "pathways": {PATHWAY: live[shard]}},
        )
    batch.commit()


def part_serve(stack: dict[str, Any], sizes: list[int], calls: int) -> None:
    from google.cloud import firestore

    from shared.adapters.dashboard_store import FirestoreDashboardStore
    from shared.adapters.progress_store import FirestoreCatalog
    from shared.domain.identity import Caller
    from shared.services import dashboard
    from shared.services.catalog import CachedCatalog

    shape = load_catalog()
    db = firestore.Client(project=stack["project_id"])
    run = uuid.uuid4().hex[:6]
    teacher = f"bench-teacher-{run}"
    token = mint(teacher, instructor=True)
    url = stack["functions"]["dashboard"]
    session = requests.Session()
    print(f"part 1, serve: pathway {PATHWAY} ({len(shape.module_ids)} modules x 8 resources)")
    for size in sizes:
        cid = f"bench-{run}-{size}"
        t0 = time.perf_counter()
        seed_cohort(db, shape, cid, size, teacher)
        print(f"  {size} learners: rows and counters seeded in {time.perf_counter() - t0:.1f} s")
        reads = Reads()
        counted = counting_client(stack["project_id"], reads)
        store = FirestoreDashboardStore(counted)
        catalog = CachedCatalog(FirestoreCatalog(counted), ttl=300)
        me = Caller(uid=teacher, instructor=True)
        query = dashboard.DashboardQuery()
        for label in ("catalog cache cold", "catalog cache warm"):
            t0 = time.perf_counter()
            page = dashboard.dashboard(me, cid, PATHWAY, query, store=store, catalog=catalog)
            took = (time.perf_counter() - t0) * 1000
            docs, queries = reads.take()
            print(
                f"    in-process, {label}: {docs} documents read ({queries} queries), "
                f"reply says {page.documents_read}; {took:.0f} ms; learners {page.learners}, "
                f"inactive 7 d: {len(page.inactive.learners)}{'+' if page.inactive.more else ''}, "
                f"median time {page.time_spent.median_minutes} min"
            )
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            reply = session.get(
                f"{url}/cohorts/{cid}/pathways/{PATHWAY}/dashboard",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            times.append((time.perf_counter() - t0) * 1000)
            assert reply.status_code == 200, reply.text
            assert reply.json()["learners"] == size
        print(
            f"    HTTP GET x{calls}: p50 {pct(times, 50):.0f} ms / p95 {pct(times, 95):.0f} ms / "
            f"max {max(times):.0f} ms; documents_read {reply.json()['documents_read']}"
        )


# ---- part 2: drift -----------------------------------------------------------------------------


def join(db: Any, cohort_id: str, uid: str, teacher: str) -> None:
    """The members document and ``memberships/{uid}`` in one transaction, as the cohort flows
    write them."""
    from google.cloud import firestore

    @firestore.transactional  # type: ignore[misc]
    def work(tx: Any) -> None:
        mine = db.document(f"memberships/{uid}")
        snap = mine.get(transaction=tx)
        cohorts = set((snap.to_dict() or {}).get("cohort_ids", []) if snap.exists else [])
        now = dt.datetime.now(dt.UTC)
        tx.set(
            db.document(f"cohorts/{cohort_id}/members/{uid}"),
            {
                "uid": uid,
                "cohort_id": cohort_id,
                "pathway_ids": [PATHWAY],
                "joined_at": now,
                "via": "operator",
            },
        )
        tx.set(
            mine,
            {
                "uid": uid,
                "cohort_ids": sorted(cohorts | {cohort_id}),
                "instructor_uids": [teacher],
                "updated_at": now,
            },
        )

    work(db.transaction())


def leave(db: Any, cohort_id: str, uid: str) -> None:
    from google.cloud import firestore

    @firestore.transactional  # type: ignore[misc]
    def work(tx: Any) -> None:
        mine = db.document(f"memberships/{uid}")
        snap = mine.get(transaction=tx)
        cohorts = set((snap.to_dict() or {}).get("cohort_ids", []) if snap.exists else [])
        tx.delete(db.document(f"cohorts/{cohort_id}/members/{uid}"))
        tx.set(mine, {"uid": uid, "cohort_ids": sorted(cohorts - {cohort_id})}, merge=True)

    work(db.transaction())


def part_drift(stack: dict[str, Any], learners: int, actions: int, faults: bool) -> int:
    from google.cloud import firestore

    from localcloud.bridge_client import BridgeClient
    from shared.adapters.dashboard_store import FirestoreDashboardStore
    from shared.services import dashboard

    shape = load_catalog()
    db = firestore.Client(project=stack["project_id"])
    bridge = BridgeClient(stack["bridge"])
    run = uuid.uuid4().hex[:6]
    cid, teacher = f"bench-drift-{run}", f"bench-teacher-{run}"
    db.document(f"cohorts/{cid}").set(
        {"cohort_id": cid, "name": "drift", "pathway_ids": [PATHWAY], "instructor_uids": [teacher]}
    )
    uids = [f"{cid}-l{i:04d}" for i in range(learners)]
    tokens = {u: mint(u) for u in uids}
    plain = [r.resource_id for _, rs in shape.modules for r in rs if not r.requires_upload]
    print(
        f"part 2, drift: {learners} learners, {actions} actions from 16 threads, "
        f"faults: {'duplicate + reorder 1 s' if faults else 'none'}"
    )
    if faults:
        bridge.configure(duplicate=True, reorder={"window": 1.0})
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda u: join(db, cid, u, teacher), uids))
        rnd = random.Random(run)
        plan: list[tuple[str, str, str]] = []
        for _ in range(actions):
            uid = rnd.choice(uids)
            kind = rnd.choices(
                ["start", "time", "complete", "uncomplete", "rejoin"], [3, 3, 5, 1, 0.05]
            )[0]
            plan.append((uid, kind, rnd.choice(plain)))
        url = stack["functions"]["progress"]
        statuses: Counter[int] = Counter()
        times: list[float] = []
        lock = threading.Lock()
        local = threading.local()

        def act(step: tuple[str, str, str]) -> None:
            uid, kind, rid = step
            if kind == "rejoin":
                leave(db, cid, uid)
                join(db, cid, uid, teacher)
                return
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            headers = {"Authorization": f"Bearer {tokens[uid]}"}
            base = f"{url}/users/me/resources/{rid}"
            started = time.perf_counter()
            if kind == "time":
                body = {"progress_percentage": 50, "time_spent_minutes": random.randint(1, 30)}
                reply = session.put(f"{base}/progress", json=body, headers=headers, timeout=60)
            else:
                reply = session.post(f"{base}/{kind}", headers=headers, timeout=60)
            with lock:
                statuses[reply.status_code] += 1
                times.append((time.perf_counter() - started) * 1000)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(act, plan))
        sent = time.perf_counter() - t0
        print(
            f"  sent in {sent:.0f} s: HTTP {dict(sorted(statuses.items()))} "
            f"(409: uncomplete of what was not completed), p50 {pct(times, 50):.0f} ms / "
            f"p95 {pct(times, 95):.0f} ms"
        )
        stats = bridge.wait_idle(quiet=3.0, timeout=1800)
        print(
            f"  bridge idle {time.perf_counter() - t0:.0f} s after the start; "
            f"faults so far: {stats.get('faults')}"
        )
    finally:
        if faults:
            bridge.reset()
    t0 = time.perf_counter()
    drift = dashboard.verify(FirestoreDashboardStore(db), shape, cid)
    print(
        f"  recount from scratch ({drift.learners} learners, {time.perf_counter() - t0:.1f} s): "
        f"rows off {len(drift.rows_off)}, counters off {len(drift.counters_off)}, "
        f"live count off {drift.live_off is not None}; DRIFT {drift.total}"
    )
    if drift.total:
        print(
            f"  first differences: rows {drift.rows_off[:5]}, counters {list(drift.counters_off.items())[:5]}"
        )
    return drift.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=["serve", "drift", "all"], default="all")
    parser.add_argument(
        "--sizes", default="1000,5000", help="cohort sizes served (comma-separated)"
    )
    parser.add_argument("--calls", type=int, default=20, help="HTTP GETs per size")
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--actions", type=int, default=5000)
    parser.add_argument("--no-faults", action="store_true")
    args = parser.parse_args()
    stack = load_stack(ROOT / ".local" / "stack.json")
    if args.part in ("serve", "all"):
        part_serve(stack, [int(s) for s in args.sizes.split(",")], args.calls)
    drift = 0
    if args.part in ("drift", "all"):
        drift = part_drift(stack, args.learners, args.actions, not args.no_faults)
    raise SystemExit(1 if drift else 0)


if __name__ == "__main__":
    main()
