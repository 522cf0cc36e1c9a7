"""``on_upload_finalized``: Storage ``object.v1.finalized`` on the submissions bucket records uploads.

Relevance is decided from the event alone, before any dependency is built: an undecodable payload,
another bucket or a name outside the submission layout is acknowledged and dropped without creating
a Firestore or Storage client (no credentials needed). Events naming no matching submission are
acknowledged too; a transient failure (including :class:`~shared.errors.Unavailable` after the
transaction's retries) raises, so Eventarc delivers the event again.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import log
from shared.bootstrap import deps
from shared.errors import UnusableEvent
from shared.events import decode_storage_event
from shared.services.uploads import record_upload, relevant_upload


@functions_framework.cloud_event
def on_upload_finalized(cloud_event: Any) -> None:
    try:
        obj = decode_storage_event(cloud_event)
    except UnusableEvent as exc:
        log.warning("storage event dropped", reason=exc.message)
        return
    d = deps()
    if relevant_upload(obj, d.settings) is None:
        return
    record_upload(obj, store=d.submissions, objects=d.objects, cfg=d.settings)
