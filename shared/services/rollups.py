"""Rollup use cases behind the two Firestore triggers (they replace the original SQL triggers 1, 2).

``resource_progress_written``: a write to ``users/{uid}/resource_progress/{rid}`` recomputes
``users/{uid}/module_progress/{mid}``; ``module_progress_written``: a write to
``users/{uid}/module_progress/{mid}`` recomputes ``users/{uid}/pathway_progress/{pid}``.

Neither uses the event's payload for anything but *which* level to recompute: the numbers always
come from the source of truth, read inside one transaction (the module's resource_progress
documents, or the pathway's module_progress documents, plus the current rollup document), so a
duplicate event recomputes the same numbers and an old event arriving late recomputes today's. The
rollup is written only when anything but ``updated_at`` changed; that is also why the module
trigger's own write cannot loop (the pathway trigger listens on a different collection, and writes
only on change too).

Which module: the document's ``module_id`` (new value, else old value, for a delete), else the
catalog's resource. Which pathway: the module_progress document's ``pathway_id``, else the catalog's
module. Events on other paths, and payloads that cannot be decoded, raise
:class:`~shared.errors.UnusableEvent`: the entry point logs a warning and acknowledges.
Events naming ids the catalog does not know are also acknowledged (nothing to recompute).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from shared import log
from shared.domain import progress as rules
from shared.domain.models import ModuleProgress, PathwayProgress, ResourceProgress, valid_id
from shared.errors import UnusableEvent
from shared.events import DocumentChange
from shared.services import catalog as cat
from shared.services.ports import (
    CatalogReader,
    ModuleCompute,
    PathwayCompute,
    RollupStore,
    Tx,
)

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def recompute_module(
    store: RollupStore,
    uid: str,
    module_id: str,
    resource_ids: Sequence[str],
    compute: ModuleCompute,
) -> ModuleProgress | None:
    """In one transaction: read the resources' progress and the module's (by key), ``compute``;
    write the result when it is not ``None``. Returns what was written (``None``: nothing)."""

    def work(tx: Tx) -> ModuleProgress | None:
        progress = tx.progresses(uid, resource_ids)
        current = tx.module_progress(uid, [module_id]).get(module_id)
        fresh = compute(progress, current)
        if fresh is not None:
            tx.put_module_progress(uid, fresh)
        return fresh

    return store.transact(work, lock=f"users/{uid}/module_progress/{module_id}")


def recompute_pathway(
    store: RollupStore,
    uid: str,
    pathway_id: str,
    module_ids: Sequence[str],
    compute: PathwayCompute,
) -> PathwayProgress | None:
    """The same for a pathway from its modules' progress."""

    def work(tx: Tx) -> PathwayProgress | None:
        modules = tx.module_progress(uid, module_ids)
        current = tx.pathway_progress(uid, pathway_id)
        fresh = compute(modules, current)
        if fresh is not None:
            tx.put_pathway_progress(uid, fresh)
        return fresh

    return store.transact(work, lock=f"users/{uid}/pathway_progress/{pathway_id}")


def owned_resource_progress(change: DocumentChange) -> tuple[str, str]:
    """``(uid, resource_id)`` of a ``users/{uid}/resource_progress/{rid}`` change; else
    :class:`UnusableEvent`. Pure: the trigger asks before any client exists."""
    return _owned(change, "resource_progress")


def owned_module_progress(change: DocumentChange) -> tuple[str, str]:
    """``(uid, module_id)`` of a ``users/{uid}/module_progress/{mid}`` change; else
    :class:`UnusableEvent`."""
    return _owned(change, "module_progress")


def _owned(change: DocumentChange, collection: str) -> tuple[str, str]:
    seg = change.segments
    if len(seg) != 4 or seg[0] != "users" or seg[2] != collection:
        raise UnusableEvent(f"not a {collection} document: {change.path}")
    uid, doc_id = seg[1], seg[3]
    if not valid_id(uid) or not valid_id(doc_id):
        raise UnusableEvent(f"unexpected ids in {change.path}")
    return uid, doc_id


def _field(change: DocumentChange, name: str) -> str | None:
    for doc in (change.new, change.old):
        value = (doc or {}).get(name)
        if isinstance(value, str) and valid_id(value):
            return value
    return None


def resource_progress_written(
    change: DocumentChange, catalog: CatalogReader, store: RollupStore, clock: Clock = utcnow
) -> ModuleProgress | None:
    uid, resource_id = owned_resource_progress(change)
    module_id = _field(change, "module_id")
    if module_id is None:
        res = catalog.resources([resource_id]).get(resource_id)
        if res is None:
            raise UnusableEvent(f"unknown resource {resource_id}")
        module_id = res.module_id
    mod = catalog.modules([module_id]).get(module_id)
    if mod is None:
        raise UnusableEvent(f"unknown module {module_id}")
    resources = cat.ordered(mod.resource_ids, catalog.resources(mod.resource_ids))

    def compute(
        progress: dict[str, ResourceProgress], current: ModuleProgress | None
    ) -> ModuleProgress | None:
        return rules.module_rollup(mod, resources, progress, current, clock())

    ids = [r.resource_id for r in resources]
    written = recompute_module(store, uid, mod.module_id, ids, compute)
    log.info(
        "module rollup",
        event_id=change.meta.id,
        uid=uid,
        resource_id=resource_id,
        module_id=mod.module_id,
        written=written is not None,
        percentage=written.percentage if written else None,
    )
    return written


def module_progress_written(
    change: DocumentChange, catalog: CatalogReader, store: RollupStore, clock: Clock = utcnow
) -> PathwayProgress | None:
    uid, module_id = owned_module_progress(change)
    pathway_id = _field(change, "pathway_id")
    if pathway_id is None:
        mod = catalog.modules([module_id]).get(module_id)
        if mod is None:
            raise UnusableEvent(f"unknown module {module_id}")
        pathway_id = mod.pathway_id
    path = catalog.pathways([pathway_id]).get(pathway_id)
    if path is None:
        raise UnusableEvent(f"unknown pathway {pathway_id}")
    module_ids = list(path.module_ids)
    mods = catalog.modules(module_ids)
    resources = catalog.resources([rid for m in mods.values() for rid in m.resource_ids])
    totals = {
        mid: rules.count_module(cat.ordered(m.resource_ids, resources), {})[1]
        for mid, m in mods.items()
    }

    def compute(
        modules: dict[str, ModuleProgress], current: PathwayProgress | None
    ) -> PathwayProgress | None:
        return rules.pathway_rollup(path.pathway_id, module_ids, modules, totals, current, clock())

    written = recompute_pathway(store, uid, path.pathway_id, module_ids, compute)
    log.info(
        "pathway rollup",
        event_id=change.meta.id,
        uid=uid,
        module_id=module_id,
        pathway_id=path.pathway_id,
        written=written is not None,
        percentage=written.percentage if written else None,
    )
    return written
