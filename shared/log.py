"""Structured logs: one JSON object per line, with ``severity`` and ids, as Cloud Logging reads them.

One field vocabulary in every flow, so one Cloud Logging filter follows a learner from a click to
the rollup (``jsonPayload.uid="..."``): ``uid``, ``resource_id``, ``module_id``, ``pathway_id``,
``submission_id``, ``event_id`` and ``function``. Older spellings passed by a call site are
renamed here (``user_id`` and ``user`` become ``uid``, ``event`` becomes ``event_id``, ...), and
``function`` is filled from the runtime (``FUNCTION_TARGET``, set by Cloud Functions and by the
local cloud) when the call site does not name it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

VOCABULARY = ("uid", "resource_id", "module_id", "pathway_id", "submission_id", "event_id")
ALIASES = {
    "user_id": "uid",
    "user": "uid",
    "learner": "uid",
    "resource": "resource_id",
    "module": "module_id",
    "pathway": "pathway_id",
    "submission": "submission_id",
    "event": "event_id",
}


def fields_of(message: str, severity: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The log entry: the vocabulary's names for the ids, and the function that wrote it."""
    entry: dict[str, Any] = {"severity": severity, "message": message}
    for key, value in fields.items():
        name = ALIASES.get(key, key)
        if name in entry and name != key:
            continue  # the canonical name given explicitly wins over an alias
        entry[name] = value
    function = os.environ.get("FUNCTION_TARGET") or os.environ.get("K_SERVICE")
    if function and "function" not in entry:
        entry["function"] = function
    return entry


def log(severity: str, message: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps(fields_of(message, severity, fields), default=str) + "\n")
    sys.stdout.flush()


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
