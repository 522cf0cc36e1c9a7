"""Catalog use cases: look-ups by id, the pathway tree in catalog order, and the resource listing.

The catalog (``pathways``, ``modules``, ``resources``) is written only by ``python -m catalog apply``
(which the seed loader uses), so it may be cached per process: :class:`CachedCatalog` keeps each
document for ``ttl`` seconds (30 s by default), and, version-checked, is emptied as soon as a rollup
transaction finds ``catalog_meta/version`` newer than what it cached (:func:`known_version`), so no
rollup is ever committed against a catalog older than the last applied change. Unknown ids are not cached,
so a freshly seeded document is visible at once. ``bench/bench_progress.py`` measures what the cache
saves (the catalog reads of every ``complete`` and of both triggers).

Order: modules in ``pathway.module_ids`` order, resources in ``module.resource_ids`` order (ids the
catalog lists but that have no document are skipped).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from shared.domain.models import Module, Pathway, Resource, ResourceStatus, valid_id
from shared.domain.progress import ListedModule, ListedResource, PathwayListing
from shared.errors import NotFound, PathwayRetired, Unavailable
from shared.services import due
from shared.services.ports import CatalogReader, CohortStarts, StatusReader

T = TypeVar("T")


class StaleCatalog(Unavailable):
    """A transaction found the catalog version newer than the one its inputs were read at; the
    caller refreshes its catalog and runs it again (escaping: 503 / the event is redelivered)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"the catalog changed (version {version}); counting again")
        self.version = version


class CachedCatalog:
    """A :class:`CatalogReader` that remembers documents for ``ttl`` seconds (thread safe).

    Version-checked (issue 13): with ``version`` (a read by key of ``catalog_meta/version``, which
    ``catalog apply`` bumps in the batch that writes its change) the cache reads the version before
    it fetches anything after being emptied, so :attr:`known_version` is a version every cached
    document is at least as new as. A rollup transaction reads the version by key too
    (``Tx.catalog_version``); when it is newer the cache is stale: :meth:`refresh` empties it.
    """

    def __init__(
        self,
        inner: CatalogReader,
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        version: Callable[[], int] | None = None,
    ) -> None:
        self.inner = inner
        self.ttl = ttl
        self.clock = clock
        self.version = version
        self.known_version: int | None = None
        self._lock = threading.Lock()
        self._pathways: dict[str, tuple[float, Pathway]] = {}
        self._modules: dict[str, tuple[float, Module]] = {}
        self._resources: dict[str, tuple[float, Resource]] = {}

    def _get(
        self,
        store: dict[str, tuple[float, T]],
        ids: Sequence[str],
        fetch: Callable[[Sequence[str]], Mapping[str, T]],
    ) -> dict[str, T]:
        now = self.clock()
        found: dict[str, T] = {}
        missing: list[str] = []
        with self._lock:
            for i in ids:
                hit = store.get(i)
                if hit is not None and now - hit[0] < self.ttl:
                    found[i] = hit[1]
                elif i not in missing:
                    missing.append(i)
        if missing:
            if self.version is not None and self.known_version is None:
                seen = self.version()
                with self._lock:
                    if self.known_version is None:
                        self.known_version = seen
            fetched = fetch(missing)
            with self._lock:
                for i, doc in fetched.items():
                    store[i] = (now, doc)
            found.update(fetched)
        return found

    def vouched(self) -> int | None:
        """The version every document this cache returns from now on is at least as new as
        (read first when not known yet); ``None`` when not version-checked."""
        if self.version is None:
            return None
        with self._lock:
            known = self.known_version
        if known is None:
            seen = self.version()
            with self._lock:
                if self.known_version is None:
                    self.known_version = seen
                known = self.known_version
        return known

    def refresh(self, at_least: int | None = None) -> None:
        """Forget everything cached older than ``at_least`` (everything, when not given)."""
        with self._lock:
            if at_least is not None and (self.known_version or 0) >= at_least:
                return
            self._pathways.clear()
            self._modules.clear()
            self._resources.clear()
            self.known_version = None

    def catch_up(self) -> None:
        """Read the catalog version (one read by key) and forget everything cached when the
        catalog is newer: for a read that must show the applied catalog at once (the report's
        ``updated_since_completion``, the listing of retired pathways), not only a rollup."""
        if self.version is None:
            return
        seen = self.version()
        with self._lock:
            known = self.known_version
        if known is not None and seen > known:
            self.refresh(seen)

    def pathways(self, ids: Sequence[str]) -> dict[str, Pathway]:
        return self._get(self._pathways, ids, self.inner.pathways)

    def modules(self, ids: Sequence[str]) -> dict[str, Module]:
        return self._get(self._modules, ids, self.inner.modules)

    def resources(self, ids: Sequence[str]) -> dict[str, Resource]:
        return self._get(self._resources, ids, self.inner.resources)


# ---- look-ups ----------------------------------------------------------------------------------


def resource(catalog: CatalogReader, resource_id: str) -> Resource:
    found = catalog.resources([resource_id]).get(resource_id) if valid_id(resource_id) else None
    if found is None:
        raise NotFound(f"unknown resource {resource_id!r}")
    return found


def module(catalog: CatalogReader, module_id: str) -> Module:
    found = catalog.modules([module_id]).get(module_id) if valid_id(module_id) else None
    if found is None:
        raise NotFound(f"unknown module {module_id!r}")
    return found


def pathway(catalog: CatalogReader, pathway_id: str) -> Pathway:
    found = catalog.pathways([pathway_id]).get(pathway_id) if valid_id(pathway_id) else None
    if found is None:
        raise NotFound(f"unknown pathway {pathway_id!r}")
    return found


def ordered(ids: Iterable[str], docs: Mapping[str, T]) -> list[T]:
    return [docs[i] for i in ids if i in docs]


@dataclass(frozen=True)
class ModuleTree:
    module: Module
    resources: list[Resource]


@dataclass(frozen=True)
class PathwayTree:
    pathway: Pathway
    modules: list[ModuleTree]

    @property
    def resource_ids(self) -> list[str]:
        return [r.resource_id for m in self.modules for r in m.resources]


def module_tree(catalog: CatalogReader, module_id: str) -> ModuleTree:
    mod = module(catalog, module_id)
    resources = ordered(mod.resource_ids, catalog.resources(mod.resource_ids))
    return ModuleTree(mod, resources)


def pathway_tree(catalog: CatalogReader, pathway_id: str) -> PathwayTree:
    path = pathway(catalog, pathway_id)
    mods = ordered(path.module_ids, catalog.modules(path.module_ids))
    rids = [rid for m in mods for rid in m.resource_ids]
    docs = catalog.resources(rids)
    return PathwayTree(path, [ModuleTree(m, ordered(m.resource_ids, docs)) for m in mods])


# ---- listing (the ``resources`` function) ------------------------------------------------------


def _listed(
    tree: ModuleTree,
    statuses: Mapping[str, ResourceStatus] | None,
    dues: Mapping[str, dt.datetime | None],
) -> ListedModule:
    items = []
    for r in tree.resources:
        status = None
        if statuses is not None:
            status = statuses.get(r.resource_id, ResourceStatus.not_started)
        fields = r.model_dump(exclude={"pathway_id", "module_id"})
        items.append(
            ListedResource(
                **{**fields, "completion": r.rule, "due_at": dues.get(r.resource_id)},
                status=status,
            )
        )
    m = tree.module
    return ListedModule(module_id=m.module_id, title=m.title, order=m.order, resources=items)


def list_pathway(
    catalog: CatalogReader,
    progress: StatusReader,
    pathway_id: str,
    uid: str | None,
    cohorts: CohortStarts | None = None,
) -> PathwayListing:
    """A pathway's resources grouped by module; each with the caller's status when ``uid``, and
    ``due_at`` the caller's due time (a relative one from their cohort's start, read through
    ``cohorts``; anonymous: the absolute ones only). A retirement applied a moment ago is seen at
    once (:func:`catch_up`)."""
    catch_up(catalog)
    tree = pathway_tree(catalog, pathway_id)
    statuses = progress.statuses(uid, tree.resource_ids) if uid is not None else None
    dues = due.due_times(cohorts, uid, (r for m in tree.modules for r in m.resources))
    return PathwayListing(
        pathway_id=tree.pathway.pathway_id,
        title=tree.pathway.title,
        modules=[_listed(m, statuses, dues) for m in tree.modules],
        retired_at=tree.pathway.retired_at,
    )


def list_module(
    catalog: CatalogReader,
    progress: StatusReader,
    module_id: str,
    uid: str | None,
    cohorts: CohortStarts | None = None,
) -> ListedModule:
    tree = module_tree(catalog, module_id)
    ids = [r.resource_id for r in tree.resources]
    statuses = progress.statuses(uid, ids) if uid is not None else None
    return _listed(tree, statuses, due.due_times(cohorts, uid, tree.resources))


def known_version(catalog: CatalogReader) -> int | None:
    """The version a version-checked cache vouches for (``None``: not version-checked)."""
    if isinstance(catalog, CachedCatalog):
        return catalog.vouched()
    return None


def refresh(catalog: CatalogReader, at_least: int) -> None:
    if isinstance(catalog, CachedCatalog):
        catalog.refresh(at_least)


def catch_up(catalog: CatalogReader) -> None:
    """A version-checked cache older than the stored catalog is emptied (see
    :meth:`CachedCatalog.catch_up`); any other reader reads the store anyway."""
    if isinstance(catalog, CachedCatalog):
        catalog.catch_up()


def require_offered(catalog: CatalogReader, res: Resource) -> None:
    """Raise :class:`PathwayRetired` when ``res``'s pathway is retired: a learner's record of a
    retired pathway stands as it is (no start, time, completion, undo or upload). Seen at once
    after the apply that retired it (:func:`catch_up`, one read by key); an action that raced the
    apply and committed first is counted by the apply's re-evaluation, as any action is."""
    catch_up(catalog)
    path = catalog.pathways([res.pathway_id]).get(res.pathway_id)
    if path is not None and path.retired_at is not None:
        raise PathwayRetired(
            f"pathway {res.pathway_id} was retired on {path.retired_at:%Y-%m-%d}; "
            "your record of it is kept, and it takes no new work"
        )


def require_version(catalog: CatalogReader, version: int) -> None:
    """Raise :class:`StaleCatalog` unless the catalog is at least at ``version`` (a task carrying
    the version of the change it re-evaluates; a cache older than it is refreshed first)."""
    if not isinstance(catalog, CachedCatalog) or catalog.version is None:
        return
    if (catalog.vouched() or 0) < version:
        catalog.refresh()
        current = catalog.vouched() or 0
        if current < version:
            raise StaleCatalog(current)
