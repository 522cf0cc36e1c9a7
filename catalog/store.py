"""Firestore side of ``python -m catalog``: read the stored catalog, count the learners a change
moves, write a plan, enqueue its re-evaluation.

Reading: the stored pathways the files name (by key), every module and resource of those pathways
(queries on ``pathway_id``) and any document the files name by id (a resource moved in from a
pathway the files do not name); with ``prune``, every stored pathway.

Counting: aggregation queries (``count()``), never a read of each learner: a change to a module's
resources moves the learners with a ``module_progress`` document of that module, a change to a
pathway's modules those with a ``pathway_progress`` document of that pathway.

Writing: batches of at most :data:`BATCH` writes (each committed again while Firestore answers
ABORTED, for up to :data:`COMMIT_PATIENCE` seconds); ``catalog_meta/version`` goes up by one in the
last batch (only when anything is written), so a version-checked cache never vouches for a catalog
it has not seen all of. Then one re-evaluation run per scanned pathway is enqueued: a reconcile
run (``task_reconcile``: the learners split into lanes by uid range, each lane a chain of batches
with a cursor, see :mod:`shared.services.reconcile`) named ``catalog-v{version}-{pathway}``,
carrying the version, so a retried apply cannot start it twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from catalog.plan import Catalog, Change, Plan
from shared.adapters.firestore import commit_batch, from_document
from shared.adapters.unit_of_work import CATALOG_META, CATALOG_VERSION
from shared.domain.models import Module, Pathway, Resource

BATCH = 400
COMMIT_PATIENCE = 120.0  # seconds a write batch is tried again while ABORTED (lock contention)


def _parse(kind: str, snap: Any) -> Pathway | Module | Resource:
    data = snap.to_dict() or {}
    if kind == "pathways":
        return from_document(Pathway, "pathway_id", snap.id, data)
    if kind == "modules":
        return from_document(Module, "module_id", snap.id, data)
    return from_document(Resource, "resource_id", snap.id, data)


def read_stored(db: Any, desired: Catalog, *, prune: bool = False) -> Catalog:
    from google.cloud.firestore_v1.base_query import FieldFilter

    found: dict[str, dict[str, Any]] = {"pathways": {}, "modules": {}, "resources": {}}
    if prune:
        for snap in db.collection("pathways").stream():
            found["pathways"][snap.id] = _parse("pathways", snap)
    wanted = {
        "pathways": [p.pathway_id for p in desired.pathways],
        "modules": [m.module_id for m in desired.modules],
        "resources": [r.resource_id for r in desired.resources],
    }
    for kind, ids in wanted.items():
        refs = [db.collection(kind).document(i) for i in ids]
        for start in range(0, len(refs), 300):
            for snap in db.get_all(refs[start : start + 300]):
                if snap.exists:
                    found[kind][snap.id] = _parse(kind, snap)
    managed = set(wanted["pathways"]) | set(found["pathways"])
    for pid in sorted(managed):
        for kind in ("modules", "resources"):
            query = db.collection(kind).where(filter=FieldFilter("pathway_id", "==", pid))
            for snap in query.stream():
                found[kind][snap.id] = _parse(kind, snap)
    return Catalog(
        list(found["pathways"].values()),
        list(found["modules"].values()),
        list(found["resources"].values()),
    )


def catalog_version(db: Any) -> int:
    snap = db.collection(CATALOG_META).document(CATALOG_VERSION).get()
    value = (snap.to_dict() or {}).get("version", 0) if snap.exists else 0
    return value if isinstance(value, int) else 0


def learners_moved(db: Any, change: Change) -> int:
    """How many learners' numbers the change moves (aggregation queries only)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    if not change.counts:
        return 0
    total = 0
    for group, key, ids in (
        ("module_progress", "module_id", change.module_ids),
        ("pathway_progress", "pathway_id", change.pathway_ids),
    ):
        for value in dict.fromkeys(ids):
            query = db.collection_group(group).where(filter=FieldFilter(key, "==", value))
            result = query.count().get()
            total += int(result[0][0].value)
    return total


def write(db: Any, plan: Plan, *, at: dt.datetime | None = None) -> tuple[int, int]:
    """Write ``plan``; returns ``(documents written or deleted, the catalog version)``."""
    version = catalog_version(db)
    if plan.empty:
        return 0, version
    ops: list[tuple[str, dict[str, Any] | None]] = [
        (path, doc.model_dump(mode="json")) for path, doc in plan.writes
    ]
    ops += [(path, None) for path in plan.deletes]
    version += 1
    meta = {"version": version, "updated_at": at or dt.datetime.now(dt.UTC)}
    for start in range(0, len(ops), BATCH):
        chunk = ops[start : start + BATCH]
        if start + BATCH >= len(ops):
            chunk = [*chunk, (f"{CATALOG_META}/{CATALOG_VERSION}", meta)]
        _commit(db, chunk)
    return len(ops), version


def _commit(db: Any, chunk: list[tuple[str, dict[str, Any] | None]]) -> None:
    """One write batch; run again while Firestore answers ABORTED (every rollup transaction
    holds a read lock on ``catalog_meta/version`` while it runs, and a running re-evaluation runs
    many at once). The writes are plain sets and deletes: committing them again is harmless."""
    batch = db.batch()
    for path, data in chunk:
        if data is None:
            batch.delete(db.document(path))
        else:
            batch.set(db.document(path), data)
    commit_batch(batch, patience=COMMIT_PATIENCE)


def run_id(version: int, pathway_id: str) -> str:
    return f"catalog-v{version}-{pathway_id}"[:128]


def enqueue_reevaluation(plan: Plan, version: int, *, page_size: int | None = None) -> list[str]:
    """Start one re-evaluation run per scanned pathway (after the write committed); returns the
    run ids. Uses the process's dependencies (``shared.bootstrap``): the queue and the run log."""
    from shared.bootstrap import deps
    from shared.services import reconcile

    d = deps()
    started = []
    for scanned, also in plan.runs.items():
        task = reconcile.ReconcileBatch(
            run_id=run_id(version, scanned),
            pathway_id=scanned,
            also_pathway_ids=also,
            catalog_version=version,
            page_size=page_size,
        )
        d.start_run(task)
        started.append(task.run_id)
    return started
