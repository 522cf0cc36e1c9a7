"""Firestore repositories for the catalog, learner progress, progress events and the rollups.

Documents are mapped to and from the pydantic models of :mod:`shared.domain.models` with the one
mapping of :mod:`shared.adapters.firestore`, and every transaction goes through its one runner.
Catalog documents are read with their document id as the ``*_id`` field (the seed stores the id
too; fields the model does not know are ignored, so admin tooling may add some). Learner documents
written by the upload flow may carry only ``status``, ``submission_count`` and ``updated_at``;
missing ``pathway_id`` / ``module_id`` are filled from the catalog by the domain rules.

Every transaction reads first, then writes, and has no side effect but its writes (the client may
run it again on contention). Writes use ``merge=True`` so fields written by other flows survive.
Progress events get a deterministic id per attempt, ``{time}-{resource}-{action}``, created with
``create`` so a collision could never overwrite history.

Transactions that write the same document are also serialised inside one process (the runner's
lock, keyed by document path). Correctness never depends on it (the transactions do); it avoids
lock waits: Firestore's server SDK transactions lock what they read, two of them reading the same
module's documents and both writing the module wait for each other until one is aborted and retried
(the emulator's lock timeout is 2 s). Measured in ``bench/bench_progress.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from shared.adapters.firestore import ATTEMPTS, client, from_document, run_transaction, to_document
from shared.domain.models import (
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
)
from shared.domain.progress import Outcome
from shared.domain.uploads import EVENT_TIME_FORMAT
from shared.services.ports import ModuleCompute, PathwayCompute

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def _progress(doc_id: str, data: dict[str, Any]) -> ResourceProgress:
    return from_document(
        ResourceProgress, "resource_id", doc_id, {"pathway_id": "", "module_id": "", **data}
    )


def _module_progress(doc_id: str, data: dict[str, Any]) -> ModuleProgress:
    return from_document(ModuleProgress, "module_id", doc_id, {"pathway_id": "", **data})


def _pathway_progress(doc_id: str, data: dict[str, Any]) -> PathwayProgress:
    return from_document(PathwayProgress, "pathway_id", doc_id, data)


def _parse(
    refs: list[Any], snaps: dict[str, dict[str, Any]], parse: Callable[[str, dict[str, Any]], M]
) -> dict[str, M]:
    return {ref.id: parse(ref.id, snaps[ref.path]) for ref in refs if ref.path in snaps}


class _Lazy:
    """The Firestore client, created on first use (constructing a store opens nothing)."""

    _db: firestore.Client | None = None

    @property
    def db(self) -> firestore.Client:
        if self._db is None:
            self._db = client()
        return self._db


class FirestoreCatalog(_Lazy):
    """Reads ``pathways``, ``modules`` and ``resources`` (one batched read per call)."""

    def __init__(self, db: firestore.Client | None = None) -> None:
        self._db = db

    def _many(self, collection: str, ids: Sequence[str], model: type[M], key: str) -> dict[str, M]:
        if not ids:
            return {}
        refs = [self.db.collection(collection).document(i) for i in dict.fromkeys(ids)]
        found: dict[str, M] = {}
        for snap in self.db.get_all(refs):
            if snap.exists:
                found[snap.id] = from_document(model, key, snap.id, snap.to_dict() or {})
        return found

    def pathways(self, ids: Sequence[str]) -> dict[str, Pathway]:
        return self._many("pathways", ids, Pathway, "pathway_id")

    def modules(self, ids: Sequence[str]) -> dict[str, Module]:
        return self._many("modules", ids, Module, "module_id")

    def resources(self, ids: Sequence[str]) -> dict[str, Resource]:
        return self._many("resources", ids, Resource, "resource_id")


class FirestoreProgressStore(_Lazy):
    """``users/{uid}/resource_progress``, ``module_progress``, ``pathway_progress`` and
    ``progress_events``: plain reads, the action transaction and the two rollup transactions."""

    def __init__(self, db: firestore.Client | None = None, attempts: int = ATTEMPTS) -> None:
        self._db = db
        self.attempts = attempts

    def _user(self, uid: str) -> firestore.DocumentReference:
        return self.db.collection("users").document(uid)

    def _refs(self, uid: str, collection: str, ids: Sequence[str]) -> list[Any]:
        user = self._user(uid)
        return [user.collection(collection).document(i) for i in dict.fromkeys(ids)]

    def _snapshots(self, refs: list[Any], transaction: Any = None) -> dict[str, dict[str, Any]]:
        """``{document path: fields}`` of the documents that exist, in one batched read."""
        if not refs:
            return {}
        return {
            snap.reference.path: snap.to_dict() or {}
            for snap in self.db.get_all(refs, transaction=transaction)
            if snap.exists
        }

    def _read(
        self,
        refs: list[Any],
        parse: Callable[[str, dict[str, Any]], M],
        transaction: Any = None,
    ) -> dict[str, M]:
        return _parse(refs, self._snapshots(refs, transaction), parse)

    def _transaction(self, writes: str, body: Callable[[Any], R]) -> R:
        """Run ``body`` in a transaction (the one runner: retries, backoff, then Unavailable),
        serialised in-process with others writing ``writes``."""
        return run_transaction(self.db, writes, body, attempts=self.attempts)

    # ---- reads ---------------------------------------------------------------------------------

    def resources(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        return self._read(self._refs(uid, "resource_progress", resource_ids), _progress)

    def statuses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceStatus]:
        return {rid: p.status for rid, p in self.resources(uid, resource_ids).items()}

    def modules(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]:
        return self._read(self._refs(uid, "module_progress", module_ids), _module_progress)

    def pathway(self, uid: str, pathway_id: str) -> PathwayProgress | None:
        refs = self._refs(uid, "pathway_progress", [pathway_id])
        return self._read(refs, _pathway_progress).get(pathway_id)

    # ---- the action transaction ----------------------------------------------------------------

    def apply(
        self, uid: str, resource_id: str, decide: Callable[[ResourceProgress | None], Outcome]
    ) -> Outcome:
        ref = self._refs(uid, "resource_progress", [resource_id])[0]
        events = self._user(uid).collection("progress_events")

        def body(txn: Any) -> Outcome:
            current = self._read([ref], _progress, txn).get(resource_id)
            outcome = decide(current)
            if outcome.changed:
                at = outcome.after.updated_at or dt.datetime.now(dt.UTC)
                event_id = f"{at:{EVENT_TIME_FORMAT}}-{resource_id}-{outcome.action.value}"
                txn.set(ref, to_document(outcome.after), merge=True)
                txn.create(events.document(event_id), outcome.event(at))
            return outcome

        return self._transaction(ref.path, body)

    # ---- the rollup transactions ---------------------------------------------------------------

    def recompute_module(
        self, uid: str, module_id: str, resource_ids: Sequence[str], compute: ModuleCompute
    ) -> ModuleProgress | None:
        refs = self._refs(uid, "resource_progress", resource_ids)
        ref = self._refs(uid, "module_progress", [module_id])[0]

        def body(txn: Any) -> ModuleProgress | None:
            snaps = self._snapshots([*refs, ref], txn)  # one round trip for every read
            progress = _parse(refs, snaps, _progress)
            current = _parse([ref], snaps, _module_progress).get(module_id)
            fresh = compute(progress, current)
            if fresh is not None:
                txn.set(ref, to_document(fresh), merge=True)
            return fresh

        return self._transaction(ref.path, body)

    def recompute_pathway(
        self, uid: str, pathway_id: str, module_ids: Sequence[str], compute: PathwayCompute
    ) -> PathwayProgress | None:
        refs = self._refs(uid, "module_progress", module_ids)
        ref = self._refs(uid, "pathway_progress", [pathway_id])[0]

        def body(txn: Any) -> PathwayProgress | None:
            snaps = self._snapshots([*refs, ref], txn)
            modules = _parse(refs, snaps, _module_progress)
            current = _parse([ref], snaps, _pathway_progress).get(pathway_id)
            fresh = compute(modules, current)
            if fresh is not None:
                txn.set(ref, to_document(fresh), merge=True)
            return fresh

        return self._transaction(ref.path, body)
