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
from typing import TypeVar

from shared import log
from shared.domain import catalog_change as change_rules
from shared.domain import progress as rules
from shared.domain.models import (
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    ResourceProgress,
    valid_id,
)
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
T = TypeVar("T")
R = TypeVar("R")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def module_work(
    uid: str,
    module_id: str,
    resource_ids: Sequence[str],
    compute: ModuleCompute,
    catalog_version: int | None = None,
) -> Callable[[Tx], ModuleProgress | None]:
    """The body of a module's recount: read the resources' progress and the module's (by key),
    ``compute``; write the result when it is not ``None``, and return it.

    ``catalog_version``: the catalog version ``compute``'s catalog is at least as new as; the body
    reads ``catalog_meta/version`` by key and raises
    :class:`~shared.services.catalog.StaleCatalog` when it is newer (nothing written)."""

    def work(tx: Tx) -> ModuleProgress | None:
        _check_version(tx, catalog_version)
        progress = tx.progresses(uid, resource_ids)
        current = tx.module_progress(uid, [module_id]).get(module_id)
        fresh = compute(progress, current)
        if fresh is not None:
            tx.put_module_progress(uid, fresh)
        return fresh

    return work


def pathway_work(
    uid: str,
    pathway_id: str,
    module_ids: Sequence[str],
    compute: PathwayCompute,
    catalog_version: int | None = None,
) -> Callable[[Tx], PathwayProgress | None]:
    """The same for a pathway from its modules' progress."""

    def work(tx: Tx) -> PathwayProgress | None:
        _check_version(tx, catalog_version)
        modules = tx.module_progress(uid, module_ids)
        current = tx.pathway_progress(uid, pathway_id)
        fresh = compute(modules, current)
        if fresh is not None:
            tx.put_pathway_progress(uid, fresh)
        return fresh

    return work


def module_and_pathway_work(
    uid: str,
    module_id: str,
    resource_ids: Sequence[str],
    compute_module: ModuleCompute,
    pathway_id: str,
    module_ids: Sequence[str],
    compute_pathway: PathwayCompute,
    catalog_version: int | None = None,
) -> Callable[[Tx], tuple[ModuleProgress, PathwayProgress | None] | None]:
    """A module's recount and, when it changes, its pathway's, in ONE transaction: read the
    resources' progress, the pathway's modules and the pathway (by key); recount the module, then
    the pathway from the modules as they will be; write what changed. ``None``: the module is
    right (nothing written). ``module_ids``: the pathway's modules (``module_id`` among them)."""

    def work(tx: Tx) -> tuple[ModuleProgress, PathwayProgress | None] | None:
        _check_version(tx, catalog_version)
        progress = tx.progresses(uid, resource_ids)
        modules = tx.module_progress(uid, module_ids)
        current = tx.pathway_progress(uid, pathway_id)
        fresh = compute_module(progress, modules.get(module_id))
        if fresh is None:
            return None
        pathway = compute_pathway({**modules, module_id: fresh}, current)
        tx.put_module_progress(uid, fresh)
        if pathway is not None:
            tx.put_pathway_progress(uid, pathway)
        return fresh, pathway

    return work


def module_lock(uid: str, module_id: str) -> str:
    return f"users/{uid}/module_progress/{module_id}"


def pathway_lock(uid: str, pathway_id: str) -> str:
    return f"users/{uid}/pathway_progress/{pathway_id}"


def settle(store: RollupStore, work: Callable[[Tx], R | None], lock: str) -> R | None:
    """``work`` in a transaction, unless a :meth:`~RollupStore.peek` at the documents as they are
    finds nothing to write (most events: a start or a minute of progress leaves the counts as they
    are). Exact: the peek reads after the write that caused the event committed, so a rollup that
    is right for what it read is right for that write; any later write brings its own event. When
    there is something to write, the transaction reads and decides again."""
    if store.peek(work) is None:
        return None
    return store.transact(work, lock=lock)


def _check_version(tx: Tx, catalog_version: int | None) -> None:
    if catalog_version is None:
        return
    current = tx.catalog_version()
    if current > catalog_version:
        raise cat.StaleCatalog(current)


STALE_ATTEMPTS = 3


def with_fresh_catalog(catalog: CatalogReader, run: Callable[[int | None], T]) -> T:
    """``run(version)`` with the catalog's known version; when a transaction finds the catalog
    newer, the cache is refreshed and ``run`` runs again (at most :data:`STALE_ATTEMPTS` times)."""
    for attempt in range(STALE_ATTEMPTS):
        try:
            return run(cat.known_version(catalog))
        except cat.StaleCatalog as exc:
            log.info("catalog changed; counting again", version=exc.version, attempt=attempt + 1)
            cat.refresh(catalog, exc.version)
            if attempt == STALE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


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

    def run(version: int | None) -> ModuleProgress | None:
        # The catalog is the authority on where a resource lives (it may have moved since the
        # document was written): its module, and the one the document names when that differs.
        stated = _field(change, "module_id")
        res = catalog.resources([resource_id]).get(resource_id)
        module_ids = list(dict.fromkeys(m for m in (res and res.module_id, stated) if m))
        if not module_ids:
            raise UnusableEvent(f"unknown resource {resource_id}")
        mods = catalog.modules(module_ids)
        if not mods:
            raise UnusableEvent(f"unknown module {module_ids[0]}")
        first: ModuleProgress | None = None
        for mid in module_ids:
            if mid in mods:
                written, pathway = _recount_module(catalog, store, uid, mods[mid], clock, version)
                first = first if mid != module_ids[0] else written
                log.info(
                    "module rollup",
                    event_id=change.meta.id,
                    uid=uid,
                    resource_id=resource_id,
                    module_id=mid,
                    written=written is not None,
                    percentage=written.percentage if written else None,
                )
                if written is not None:
                    log.info(
                        "pathway rollup",
                        event_id=change.meta.id,
                        uid=uid,
                        module_id=mid,
                        pathway_id=mods[mid].pathway_id,
                        written=pathway is not None,
                        percentage=pathway.percentage if pathway else None,
                        via="resource trigger",
                    )
        return first

    return with_fresh_catalog(catalog, run)


def _recount_module(
    catalog: CatalogReader,
    store: RollupStore,
    uid: str,
    mod: Module,
    clock: Clock,
    version: int | None,
) -> tuple[ModuleProgress | None, PathwayProgress | None]:
    """Peek at the module; when its numbers change, recount it AND its pathway in one
    transaction (:func:`module_and_pathway_work`), one event earlier than the module trigger would
    (on the local cloud every event waits for the emulator's one-at-a-time pushes; in production
    every hop is an Eventarc delivery). The module trigger still runs on the module write (and on
    every module write made elsewhere: reconcile, re-evaluation); it peeks, finds the pathway
    right and opens no transaction. One transaction, not a module's then a pathway's: measured,
    the module trigger's pathway transaction then ran while this trigger's was open, and the
    emulator aborts both parties of such a lock cycle after 2 s. Returns what was written."""
    resources = cat.ordered(mod.resource_ids, catalog.resources(mod.resource_ids))

    def compute(
        progress: dict[str, ResourceProgress], current: ModuleProgress | None
    ) -> ModuleProgress | None:
        return change_rules.module_rollup(mod, resources, progress, current, clock())

    ids = [r.resource_id for r in resources]
    alone = module_work(uid, mod.module_id, ids, compute, version)
    if store.peek(alone) is None:
        return None, None
    path = catalog.pathways([mod.pathway_id]).get(mod.pathway_id)
    if path is None:
        return store.transact(alone, lock=module_lock(uid, mod.module_id)), None
    mods, totals = pathway_totals(catalog, path)

    def compute_pathway(
        modules: dict[str, ModuleProgress], current: PathwayProgress | None
    ) -> PathwayProgress | None:
        return change_rules.pathway_rollup(path, mods, modules, totals, current, clock())

    module_ids = list(dict.fromkeys([*path.module_ids, mod.module_id]))
    both = module_and_pathway_work(
        uid, mod.module_id, ids, compute, path.pathway_id, module_ids, compute_pathway, version
    )
    written = store.transact(both, lock=pathway_lock(uid, path.pathway_id))
    return written if written is not None else (None, None)


def module_progress_written(
    change: DocumentChange, catalog: CatalogReader, store: RollupStore, clock: Clock = utcnow
) -> PathwayProgress | None:
    uid, module_id = owned_module_progress(change)

    def run(version: int | None) -> tuple[str, PathwayProgress | None]:
        pathway_id = _field(change, "pathway_id")
        mod = catalog.modules([module_id]).get(module_id)
        if mod is not None:
            pathway_id = mod.pathway_id  # the catalog's word first: the module may have moved
        if pathway_id is None:
            raise UnusableEvent(f"unknown module {module_id}")
        path = catalog.pathways([pathway_id]).get(pathway_id)
        if path is None:
            raise UnusableEvent(f"unknown pathway {pathway_id}")
        return path.pathway_id, recount_pathway(catalog, store, uid, path, clock, version)

    pathway_id, written = with_fresh_catalog(catalog, run)
    log.info(
        "pathway rollup",
        event_id=change.meta.id,
        uid=uid,
        module_id=module_id,
        pathway_id=pathway_id,
        written=written is not None,
        percentage=written.percentage if written else None,
    )
    return written


def pathway_totals(
    catalog: CatalogReader, path: Pathway
) -> tuple[dict[str, Module], dict[str, int]]:
    """The pathway's modules and each one's counting resources (for modules never touched)."""
    mods = catalog.modules(list(path.module_ids))
    resources = catalog.resources([rid for m in mods.values() for rid in m.resource_ids])
    totals = {
        mid: rules.count_module(cat.ordered(m.resource_ids, resources), {})[1]
        for mid, m in mods.items()
    }
    return mods, totals


def recount_pathway(
    catalog: CatalogReader,
    store: RollupStore,
    uid: str,
    path: Pathway,
    clock: Clock = utcnow,
    version: int | None = None,
    *,
    peek: bool = True,
) -> PathwayProgress | None:
    """Recompute one learner's pathway rollup (with the change policy of
    :mod:`shared.domain.catalog_change`); ``peek``: look before opening a transaction
    (:func:`settle`), else transact at once."""
    module_ids = list(path.module_ids)
    mods, totals = pathway_totals(catalog, path)

    def compute(
        modules: dict[str, ModuleProgress], current: PathwayProgress | None
    ) -> PathwayProgress | None:
        return change_rules.pathway_rollup(path, mods, modules, totals, current, clock())

    work = pathway_work(uid, path.pathway_id, module_ids, compute, version)
    if not peek:
        return store.transact(work, lock=pathway_lock(uid, path.pathway_id))
    return settle(store, work, pathway_lock(uid, path.pathway_id))
