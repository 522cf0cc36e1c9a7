"""Which learners have progress in a module: collection-group queries on ``resource_progress`` and
``module_progress`` by ``module_id`` (production needs collection-group single-field indexes on
``module_id`` for both)."""

from __future__ import annotations

from typing import Any

from shared.adapters.firestore import client


class FirestoreLearnerIndex:
    def __init__(self, db: Any = None) -> None:
        self._db = db

    def learners_in_module(self, module_id: str) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        db = self._db if self._db is not None else client()
        uids: set[str] = set()
        for group in ("resource_progress", "module_progress"):
            query = db.collection_group(group).where(
                filter=FieldFilter("module_id", "==", module_id)
            )
            for snap in query.select(["module_id"]).stream():
                user = snap.reference.parent.parent
                if user is not None and user.parent.id == "users":
                    uids.add(user.id)
        return sorted(uids)
