"""``on_resource_progress_written`` and ``on_module_progress_written``: the rollup triggers.

Firestore ``document.v1.written`` CloudEvents (protobuf or JSON, binary or structured mode) are
decoded by :func:`shared.events.decode_document_event`. Whether the event is this trigger's (its
document path) is decided from the event alone, before any dependency is built: an event on a path
the trigger does not own, or one it cannot decode, is logged as a warning and acknowledged (the
function returns normally, builds no client and writes nothing). Anything else that fails (e.g.
Firestore unavailable, a transaction that kept losing) raises, so Eventarc redelivers; the
recompute is idempotent, so that is safe. See :mod:`shared.services.rollups` for the rules.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import log
from shared.bootstrap import deps
from shared.errors import UnusableEvent
from shared.events import decode_document_event
from shared.services import rollups


@functions_framework.cloud_event
def on_resource_progress_written(cloud_event: Any) -> None:
    try:
        change = decode_document_event(cloud_event)
        rollups.owned_resource_progress(change)
        d = deps()
        rollups.resource_progress_written(change, d.catalog, d.progress)
    except UnusableEvent as exc:
        log.warning("event dropped", function="on_resource_progress_written", reason=exc.message)


@functions_framework.cloud_event
def on_module_progress_written(cloud_event: Any) -> None:
    try:
        change = decode_document_event(cloud_event)
        rollups.owned_module_progress(change)
        d = deps()
        rollups.module_progress_written(change, d.catalog, d.progress)
    except UnusableEvent as exc:
        log.warning("event dropped", function="on_module_progress_written", reason=exc.message)
