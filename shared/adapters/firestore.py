"""The Firestore client: created lazily, once per process (honours FIRESTORE_EMULATOR_HOST)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from shared.config import settings

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore


@functools.cache
def client() -> firestore.Client:
    from google.cloud import firestore

    return firestore.Client(project=settings().project_id)
