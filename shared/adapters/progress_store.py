"""Firestore repositories for the catalog and learner progress.

Documents are mapped to and from the pydantic models of :mod:`shared.domain.models` with the one
mapping of :mod:`shared.adapters.firestore`. Catalog documents are read with their document id as
the ``*_id`` field (the seed stores the id too; fields the model does not know are ignored, so
admin tooling may add some). Learner documents written by the upload flow may carry only
``status``, ``submission_count`` and ``updated_at``; missing ``pathway_id`` / ``module_id`` are
filled from the catalog by the domain rules.

The learner actions and the rollups run their transactions through the one unit of work
(:class:`~shared.adapters.unit_of_work.FirestoreUnitOfWork`, the runner of
:mod:`shared.adapters.firestore`); see :mod:`shared.services.progress` and
:mod:`shared.services.rollups`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from shared.adapters.firestore import LazyClient, from_document, plain_read
from shared.adapters.unit_of_work import (
    FirestoreUnitOfWork,
    module_progress,
    pathway_progress,
    resource_progress,
)
from shared.domain.models import (
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
)

if TYPE_CHECKING:  # pragma: no cover
    pass

M = TypeVar("M", bound=BaseModel)


class FirestoreCatalog(LazyClient):
    """Reads ``pathways``, ``modules`` and ``resources`` (one batched read per call); the client
    is created on first use."""

    def _many(self, collection: str, ids: Sequence[str], model: type[M], key: str) -> dict[str, M]:
        if not ids:
            return {}
        refs = [self.db.collection(collection).document(i) for i in dict.fromkeys(ids)]
        found: dict[str, M] = {}
        with plain_read():
            snaps = list(self.db.get_all(refs))
        for snap in snaps:
            if snap.exists:
                found[snap.id] = from_document(model, key, snap.id, snap.to_dict() or {})
        return found

    def pathways(self, ids: Sequence[str]) -> dict[str, Pathway]:
        return self._many("pathways", ids, Pathway, "pathway_id")

    def modules(self, ids: Sequence[str]) -> dict[str, Module]:
        return self._many("modules", ids, Module, "module_id")

    def resources(self, ids: Sequence[str]) -> dict[str, Resource]:
        return self._many("resources", ids, Resource, "resource_id")

    def version(self) -> int:
        """``catalog_meta/version`` (0 when there is none): what ``catalog apply`` bumps."""
        from shared.adapters.unit_of_work import CATALOG_META, CATALOG_VERSION

        with plain_read():
            snap = self.db.collection(CATALOG_META).document(CATALOG_VERSION).get()
        value = (snap.to_dict() or {}).get("version", 0) if snap.exists else 0
        return value if isinstance(value, int) else 0


class FirestoreProgressStore(FirestoreUnitOfWork):
    """The ``ProgressStore`` port: the unit of work (the learner actions and the rollups run their
    transactions through it) and the plain reads of ``resource_progress``, ``module_progress`` and
    ``pathway_progress``."""

    def resources(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        refs = self.refs.learner(uid, "resource_progress", resource_ids)
        return self.refs.get_many(refs, resource_progress)

    def statuses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceStatus]:
        return {rid: p.status for rid, p in self.resources(uid, resource_ids).items()}

    def modules(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]:
        return self.refs.get_many(
            self.refs.learner(uid, "module_progress", module_ids), module_progress
        )

    def pathway(self, uid: str, pathway_id: str) -> PathwayProgress | None:
        refs = self.refs.learner(uid, "pathway_progress", [pathway_id])
        return self.refs.get_many(refs, pathway_progress).get(pathway_id)
