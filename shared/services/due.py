"""A learner's due times (the rules: :mod:`shared.domain.due`): the reads they need.

A relative due date (``Resource.due_after``) counts from the start of the learner's cohort that
has the pathway, so knowing it takes the learner's ``memberships/{uid}`` and their cohorts, both
by key. Resources with an absolute ``due_at`` or none need no read at all.

- Inside a transaction (``reader`` a :class:`~shared.services.ports.Tx`): :func:`learner_resource`
  before deciding ``late``; the transactions that complete a resource
  (``shared.services.progress``) and that take it to ``submitted`` (``ResourceState.read`` of
  ``shared.services.uploads``, used by the upload and review flows) call it with their reads.
- Outside (a :class:`~shared.services.ports.CohortReader`, plain reads): :func:`due_times` for the
  listing and the reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from shared.domain import due as rules
from shared.domain.models import Resource
from shared.services.ports import CohortStarts


def learner_start(reader: CohortStarts, uid: str, pathway_id: str) -> dt.datetime | None:
    """The start the learner's relative due dates in the pathway count from (two reads by key:
    the membership, then its cohorts in one batch)."""
    membership = reader.membership(uid)
    if membership is None or not membership.cohort_ids:
        return None
    return rules.cohort_start(pathway_id, reader.cohorts(membership.cohort_ids).values())


def learner_resource(reader: CohortStarts, uid: str, resource: Resource) -> Resource:
    """``resource`` with ``due_at`` the learner's due time (no read unless it is relative)."""
    if not rules.relative(resource):
        return resource
    return rules.for_learner(resource, learner_start(reader, uid, resource.pathway_id))


def due_times(
    reader: CohortStarts | None, uid: str | None, resources: Iterable[Resource]
) -> dict[str, dt.datetime | None]:
    """Each resource's due time for the learner ``uid``; without a learner (or a reader), the
    absolute ones only. The learner's cohorts are read once, and only when a resource is relative."""
    listed = list(resources)
    starts: dict[str, dt.datetime | None] = {}
    if reader is not None and uid is not None and any(rules.relative(r) for r in listed):
        membership = reader.membership(uid)
        ids = membership.cohort_ids if membership is not None else []
        cohorts = list(reader.cohorts(ids).values()) if ids else []
        for pid in {r.pathway_id for r in listed}:
            starts[pid] = rules.cohort_start(pid, cohorts)
    return {r.resource_id: rules.due_time(r, starts.get(r.pathway_id)) for r in listed}
