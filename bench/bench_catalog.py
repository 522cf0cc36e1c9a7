"""Catalog re-evaluation benchmark (prints numbers; not a test). Needs the local cloud (`make up`;
for 20,000 learners with a bigger Firestore heap: `LOCALCLOUD_FIRESTORE_HEAP=3g make up`).

    python -m bench.bench_catalog                       # 20,000 learners (the issue's size)
    python -m bench.bench_catalog --learners 2000       # a smaller run on a busy machine
    python -m bench.bench_catalog --part cost           # only the reads / writes per learner

Part 1, scale: a fresh pathway (one module of five resources) is applied with ``python -m catalog
apply``; N learners who finished it are written directly (resource, module and pathway documents,
as the triggers leave them, with distinct completion times). Then ``catalog apply`` adds a sixth
resource and waits for the re-evaluation it enqueued (a ``task_reconcile`` run through the Cloud
Tasks emulator: lanes of ``--lane-size`` learners, at most 20, each a chain of batches of
``--page-size`` learners): it prints the time from the apply to the run's last batch (learners per
second), the lanes and their sizes, and the peak batch duration (from the run log), then reads every learner's module and pathway documents and counts those that are not
exactly 5/6 and 5/6. Then it removes the resource again, waits, and counts the learners whose module
and pathway are not exactly as seeded (numbers and ``completed_at``).

The event bridge is held down (``.local/hold/bridge``) while the learners are seeded, measured and
deleted: 7N seeded writes would otherwise each be delivered to a trigger that has nothing to do
(the documents are already consistent), and the re-evaluation writes the module and the pathway
rollups itself, so no number depends on a trigger. The bridge is let back at the end (it then runs
its catch-up reconcile, as after any outage). The emulator queues the events it could not deliver
meanwhile and sends them once the bridge is back (after 20,000 learners: about 168,000, for
minutes), so restart the local cloud before running tests against it.

Part 2, cost: the same on ``--cost-learners`` learners in a separate database of the emulator
(which the bridge does not watch), re-evaluated in this process by the very code the task runs
(``reconcile_batch``) over a Firestore client whose calls are counted: documents read (batch gets
and query results), documents written, per learner, for the add and for the removal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from bench.bench_progress import Counter, counting_client, load_stack

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
COST_DATABASE = "bench-catalog-cost"
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
RESOURCES = 5


def course(pid: str, extra: bool) -> dict[str, Any]:
    mid = f"{pid}-m1"
    rids = [f"{mid}-r{i}" for i in range(RESOURCES)] + ([f"{mid}-new"] if extra else [])
    return {
        "pathway_id": pid,
        "title": "Catalog bench",
        "modules": [
            {
                "module_id": mid,
                "title": "M1",
                "resources": [{"resource_id": r, "type": "article", "title": r} for r in rids],
            }
        ],
    }


def cli_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_EMULATOR_HOST") and k not in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
    }


def apply(
    folder: Path, pid: str, extra: bool, *args: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    (folder / f"{pid}.yaml").write_text(yaml.safe_dump(course(pid, extra), sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-m", "catalog", "apply", "--dir", str(folder), "--json", *args],
        cwd=ROOT,
        env={**cli_env(), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 3):
        sys.exit(f"catalog apply failed:\n{done.stdout}\n{done.stderr}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def rollups(pid: str, finished: bool) -> dict[str, dict[str, Any]]:
    """A learner's module and pathway documents (5 of 5 done; or 5 of 6 after the add)."""
    mid = f"{pid}-m1"
    total = RESOURCES + (0 if finished else 1)
    stamp = T0 + dt.timedelta(minutes=RESOURCES - 1) if finished else None
    pct = round(100.0 * RESOURCES / total, 2)
    return {
        f"module_progress/{mid}": {
            "module_id": mid,
            "pathway_id": pid,
            "completed_resources": RESOURCES,
            "total_resources": total,
            "percentage": pct,
            "completed_at": stamp,
        },
        f"pathway_progress/{pid}": {
            "pathway_id": pid,
            "completed_modules": 1 if finished else 0,
            "total_modules": 1,
            "percentage": 100.0 if finished else 0.0,
            "completed_resources": RESOURCES,
            "total_resources": total,
            "resource_percentage": pct,
            "completed_at": stamp,
        },
    }


def seed(db: Any, pid: str, uids: list[str], workers: int = 8) -> float:
    mid = f"{pid}-m1"
    started = time.monotonic()

    def chunk(part: list[str]) -> None:
        batch = db.batch()
        for uid in part:
            for i in range(RESOURCES):
                at = T0 + dt.timedelta(minutes=i)
                batch.set(
                    db.document(f"users/{uid}/resource_progress/{mid}-r{i}"),
                    {
                        "resource_id": f"{mid}-r{i}",
                        "module_id": mid,
                        "pathway_id": pid,
                        "status": "completed",
                        "progress_percentage": 100,
                        "completed_at": at,
                        "started_at": at,
                        "updated_at": at,
                    },
                )
            for path, data in rollups(pid, True).items():
                batch.set(db.document(f"users/{uid}/{path}"), {**data, "updated_at": T0})
        batch.commit()

    per = 500 // (RESOURCES + 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(chunk, [uids[i : i + per] for i in range(0, len(uids), per)]))
    return time.monotonic() - started


def wrong(db: Any, pid: str, uids: list[str], finished: bool) -> int:
    """Learners whose module or pathway document is not exactly ``rollups(pid, finished)``."""
    want = rollups(pid, finished)
    keep = set(next(iter(want.values()))) | set(list(want.values())[1])

    def check(part: list[str]) -> int:
        refs = [db.document(f"users/{u}/{p}") for u in part for p in want]
        found: dict[str, dict[str, Any]] = {}
        for snap in db.get_all(refs):
            data = snap.to_dict() or {}
            found[snap.reference.path] = {k: v for k, v in data.items() if k in keep}
        return sum(any(found.get(f"users/{u}/{p}") != doc for p, doc in want.items()) for u in part)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(check, [uids[i : i + 300] for i in range(0, len(uids), 300)]))


def delete_learners(db: Any, pid: str, uids: list[str]) -> None:
    mid = f"{pid}-m1"
    paths = [f"resource_progress/{mid}-r{i}" for i in range(RESOURCES)]
    paths += [f"resource_progress/{mid}-new", f"module_progress/{mid}", f"pathway_progress/{pid}"]

    def chunk(part: list[str]) -> None:
        batch = db.batch()
        for uid in part:
            for p in paths:
                batch.delete(db.document(f"users/{uid}/{p}"))
        batch.commit()

    per = 500 // len(paths)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(chunk, [uids[i : i + per] for i in range(0, len(uids), per)]))


def run_report(db: Any, run_id: str) -> Any:
    """The run's report as ``python -m ops reconcile`` prints it (lanes, batches, peak)."""
    from shared.adapters.learners import FirestoreRunLog

    return FirestoreRunLog(db).report(run_id)


class BridgeHeld:
    """Hold the event bridge down (kill it; the supervisor does not restart it while held)."""

    def __enter__(self) -> None:
        self.held = LOCAL / "hold" / "bridge"
        self.held.parent.mkdir(exist_ok=True)
        self.held.touch()
        pid = json.loads((LOCAL / "pids.json").read_text())["bridge"]
        os.killpg(pid, signal.SIGKILL)

    def __exit__(self, *exc: object) -> None:
        self.held.unlink(missing_ok=True)


def part_scale(
    stack: dict[str, Any], n: int, page_size: int, timeout: float, lane_size: int
) -> None:
    from google.cloud import firestore

    db = firestore.Client(project=stack["project_id"])
    pid = f"bench-cat-{uuid.uuid4().hex[:8]}"
    uids = [f"bc-{pid[-8:]}-{i:06d}" for i in range(n)]
    print(f"1. scale: {n} learners who finished {pid}-m1 ({RESOURCES} resources)")
    if n != 20_000:
        print("   (the issue's size, and the default, is 20,000: --learners 20000)")
    with tempfile.TemporaryDirectory() as tmp, BridgeHeld():
        folder = Path(tmp)
        apply(folder, pid, False)
        took = seed(db, pid, uids)
        print(f"   seeded {n * (RESOURCES + 2)} documents in {took:.1f} s (bridge held down)")
        args = ("--wait", "--timeout", str(timeout), "--page-size", str(page_size))
        try:
            for label, extra, finished in (("add", True, False), ("remove", False, True)):
                out = apply(folder, pid, extra, *args, env={"RECONCILE_LANE_SIZE": str(lane_size)})
                secs = out.get("reevaluated_seconds", float("nan"))
                (run_id,) = out["reevaluation_runs"]
                report = run_report(db, run_id)
                learners = report.tally.learners
                bad = wrong(db, pid, uids, finished)
                moved = out["changes"][0]["learners"]
                sizes = [lane.learners for lane in report.lanes]
                print(
                    f"   {label} a resource: plan said {moved} learners move; run "
                    f"{'done' if out.get('reevaluated') else 'NOT done'} in {secs:.1f} s "
                    f"({learners / secs:.1f} learners/s), {len(report.lanes)} lanes of "
                    f"{min(sizes)}-{max(sizes)} learners, {report.batches} batches of "
                    f"<= {page_size}, peak batch {report.peak_batch_seconds:.2f} s; learners not "
                    f"exactly {'as seeded' if finished else '5/6'}: {bad} of {n}"
                )
        finally:
            delete_learners(db, pid, uids)
            apply_empty = folder / f"{pid}.yaml"
            apply_empty.unlink(missing_ok=True)
            from google.cloud.firestore_v1.base_query import FieldFilter

            for kind in ("resources", "modules"):
                same = FieldFilter("pathway_id", "==", pid)
                for snap in db.collection(kind).where(filter=same).stream():
                    snap.reference.delete()
            db.document(f"pathways/{pid}").delete()
    print(
        "   note: holding the bridge down does not stop the emulator from queueing the events of\n"
        f"   the {n * (RESOURCES + 2)} seeded documents (and of their deletion): the bridge delivers\n"
        "   them for minutes now. `make down && make up` before tests or another benchmark."
    )


def counted(db: Any, counter: Counter) -> Any:
    """Count query results too (``counting_client`` counts batch gets and commits)."""
    api = db._firestore_api
    run_query = api.run_query

    def counted_run_query(*args: Any, **kw: Any) -> Iterator[Any]:
        for response in run_query(*args, **kw):
            if response.document and response.document.name:
                with counter.lock:
                    counter.reads += 1
            yield response

    api.run_query = counted_run_query
    return db


def part_cost(stack: dict[str, Any], n: int) -> None:
    from catalog import plan, store
    from catalog.files import read_dir
    from shared.adapters.learners import FirestoreLearnerIndex, FirestoreRunLog
    from shared.adapters.progress_store import FirestoreCatalog, FirestoreProgressStore
    from shared.services import reconcile

    counter = Counter()
    db = counted(counting_client(stack["project_id"], COST_DATABASE, counter), counter)
    pid = f"bench-cost-{uuid.uuid4().hex[:8]}"
    uids = [f"bcc-{pid[-8:]}-{i:05d}" for i in range(n)]
    print(f"2. cost: {n} learners, database {COST_DATABASE}, re-evaluated in this process")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for step, extra in (("seed", False), ("add", True), ("remove", False)):
            (folder / f"{pid}.yaml").write_text(yaml.safe_dump(course(pid, extra)))
            desired = read_dir(folder)
            the_plan = plan.plan(desired, store.read_stored(db, desired))
            _, version = store.write(db, the_plan)
            if step == "seed":
                seed(db, pid, uids)
                continue
            counter.take()
            reconciler = reconcile.Reconciler.for_run(
                FirestoreLearnerIndex(db), FirestoreCatalog(db), FirestoreProgressStore(db)
            )
            task = reconcile.ReconcileBatch(
                run_id=f"{pid}-{step}", pathway_id=pid, catalog_version=version
            )
            started = time.monotonic()
            report = reconcile.run_inline(
                task, reconciler=reconciler, runs=FirestoreRunLog(db), page_size=100
            )
            secs = time.monotonic() - started
            reads, missing, writes = counter.take()
            print(
                f"   {step}: {report.tally.learners} learners in {secs:.1f} s inline; per learner "
                f"{reads / n:.1f} documents read (+{missing / n:.1f} looked up and absent), "
                f"{writes / n:.2f} written (run log included)"
            )
        delete_learners(db, pid, uids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--cost-learners", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--lane-size", type=int, default=1000, help="learners per lane")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--part", choices=("all", "scale", "cost"), default="all")
    parser.add_argument("--stack", type=Path, default=LOCAL / "stack.json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stack = load_stack(args.stack)
    if args.part in ("all", "cost"):
        part_cost(stack, args.cost_learners)
    if args.part in ("all", "scale"):
        part_scale(stack, args.learners, args.page_size, args.timeout, args.lane_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
