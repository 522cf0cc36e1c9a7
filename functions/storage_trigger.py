"""``on_upload_finalized``: Storage ``object.v1.finalized`` on the submissions bucket records uploads.

Events it cannot use (another bucket, a name outside the layout, no matching submission, an
undecodable payload) are acknowledged and dropped; a transient failure raises, so Eventarc retries.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from functions.uploads import _objects, _store
from shared import log
from shared.config import settings
from shared.errors import UnusableEvent
from shared.events import decode_storage_event
from shared.services.uploads import record_upload


@functions_framework.cloud_event
def on_upload_finalized(cloud_event: Any) -> None:
    try:
        obj = decode_storage_event(cloud_event)
    except UnusableEvent as exc:
        log.warning("storage event dropped", reason=exc.message)
        return
    record_upload(obj, store=_store(), objects=_objects(), cfg=settings())
