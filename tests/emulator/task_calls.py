"""Headers of a task call as the local queue makes them (and variants the handlers must refuse)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from shared.adapters.tasks import local_task_token
from shared.config import settings


def task_headers(
    cloud: dict[str, Any],
    entry_point: str,
    *,
    audience_of: str | None = None,
    email: str | None = None,
    at: dt.datetime | None = None,
) -> dict[str, str]:
    """``Authorization`` for a call to ``entry_point``, minted as the enqueue adapter mints it.

    ``audience_of`` names another handler whose URL becomes the audience; ``email`` another account.
    """
    cfg = settings()
    if email is not None:
        cfg = replace(cfg, tasks_service_account=email)
    url = cloud["functions"][audience_of or entry_point]
    return {"Authorization": "Bearer " + local_task_token(cfg, url, at)}
