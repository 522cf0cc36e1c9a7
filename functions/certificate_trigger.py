"""``on_pathway_progress_written``: Firestore ``document.v1.written`` on
``users/{uid}/pathway_progress/{pathway_id}`` issues or revokes the learner's certificate.

Whether the event is this trigger's is decided from the event alone, before any dependency is
built (a foreign path or an undecodable payload is logged and acknowledged); the decision reads the
stored progress in a transaction, so duplicates and late events are harmless. Anything else that
fails raises, so Eventarc delivers the event again. See :mod:`shared.services.certificates`.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import log
from shared.bootstrap import deps
from shared.errors import UnusableEvent
from shared.events import decode_document_event
from shared.services import certificates


@functions_framework.cloud_event
def on_pathway_progress_written(cloud_event: Any) -> None:
    try:
        change = decode_document_event(cloud_event)
        certificates.owned_pathway_progress(change)
        d = deps()
        certificates.pathway_progress_written(change, d.catalog, d.certificates)
    except UnusableEvent as exc:
        log.warning("event dropped", function="on_pathway_progress_written", reason=exc.message)
