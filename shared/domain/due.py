"""Due dates: absolute, or relative to the start of the learner's cohort. Pure, no I/O.

A resource is due (``Resource``):

- at ``due_at`` (absolute, with a time zone), the same for every learner; or
- ``due_after`` (``days`` and/or ``hours``) after the start (``Cohort.starts_at``) of the
  learner's cohort that has the resource's pathway: a bootcamp runs the same pathway for many
  cohorts, each with its own start.

A catalog resource has one or the other, never both (``Resource`` refuses both). A learner's due
time for a resource (:func:`due_time`): the absolute one when set; else the relative rule counted
from :func:`cohort_start`; else none (never late).

Several cohorts: a learner may be in more than one cohort that has the pathway (moved to a later
cohort, or enrolled twice). The start counted from is the **latest** start among them (the most
lenient due date: a learner who moved to a later cohort gets that cohort's time). Cohorts without
``starts_at`` and cohorts that do not have the pathway are not counted; none left: no due date.

When it is decided: ``late`` is decided once, in the transaction that completes the resource (or
whose upload first takes it to ``submitted``), with the due time read in that transaction (the
learner's membership and cohorts, by key). A later change of the catalog, of a cohort's start or
of the learner's cohorts does not re-decide a flag already set; it applies to completions after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from shared.domain.cohorts import Cohort
from shared.domain.models import Resource


def cohort_start(pathway_id: str, cohorts: Iterable[Cohort]) -> dt.datetime | None:
    """The start that the pathway's relative due dates count from for a learner in ``cohorts``:
    the latest ``starts_at`` of those that have the pathway; ``None`` when none has one."""
    starts = [
        c.starts_at for c in cohorts if c.starts_at is not None and pathway_id in c.pathway_ids
    ]
    return max(starts) if starts else None


def due_time(resource: Resource, start: dt.datetime | None) -> dt.datetime | None:
    """When ``resource`` is due for a learner whose cohort start (:func:`cohort_start`) is
    ``start``: ``due_at`` when set, else ``start + due_after``, else ``None``."""
    if resource.due_at is not None:
        return resource.due_at
    if resource.due_after is None or start is None:
        return None
    return start + resource.due_after.delta


def relative(resource: Resource) -> bool:
    """Whether the learner's cohorts are needed to know when ``resource`` is due."""
    return resource.due_at is None and resource.due_after is not None


def for_learner(resource: Resource, start: dt.datetime | None) -> Resource:
    """``resource`` as the learner sees it: ``due_at`` their due time (:func:`due_time`), so the
    rules of :mod:`shared.domain.progress` and :mod:`shared.domain.uploads` decide ``late`` from
    it (``due_after`` resolved away, so the copy keeps the model's one-or-the-other rule)."""
    if not relative(resource):
        return resource
    return resource.model_copy(update={"due_at": due_time(resource, start), "due_after": None})
