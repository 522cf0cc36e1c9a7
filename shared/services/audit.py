"""Audit entries: who did what to which submission (or to a learner's resource), and how it ended.

Entries get deterministic ids (``{submission}-{action}[-{generation}][-r{revision}]``) so a retried
transaction or a redelivered event cannot append the same fact twice (a revised decision is one
entry per revision). An entry about a learner's resource rather than a submission (an instructor
excusing a learner, :func:`learner_entry`) has no ``submission_id`` and the id
``{uid}-{resource}-{action}-{time}``, written in the transaction that makes the change (a retried
transaction commits one of its attempts, so one entry).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Action = Literal[
    "upload_url_issued",
    "upload_recorded",
    "upload_invalid",
    "upload_refused",
    "upload_expired",
    "submission_deleted",
    "submission_reviewed",
    "submission_revised",
    "resource_excused",
    "resource_unexcused",
]
Outcome = Literal[
    "ok", "refused", "invalid", "approved", "rejected", "expired", "deleted", "excused", "unexcused"
]

SYSTEM = "system"


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: str
    action: Action
    outcome: Outcome
    user_id: str
    submission_id: str | None
    resource_id: str
    pathway_id: str
    at: dt.datetime
    generation: int | None = None
    revision: int | None = None
    details: dict[str, Any] = {}

    @property
    def entry_id(self) -> str:
        if self.submission_id is None:
            return f"{self.user_id}-{self.resource_id}-{self.action}-{self.at:%Y%m%dT%H%M%S%fZ}"
        suffix = f"-{self.generation}" if self.generation is not None else ""
        if self.revision is not None:
            suffix += f"-r{self.revision}"
        return f"{self.submission_id}-{self.action}{suffix}"


def entry(
    *,
    actor: str,
    action: Action,
    outcome: Outcome,
    submission: Any,
    at: dt.datetime,
    generation: int | None = None,
    revision: int | None = None,
    **details: Any,
) -> AuditEntry:
    """An entry about ``submission`` (anything with user_id, submission_id, resource_id, pathway_id)."""
    return AuditEntry(
        actor=actor,
        action=action,
        outcome=outcome,
        user_id=submission.user_id,
        submission_id=submission.submission_id,
        resource_id=submission.resource_id,
        pathway_id=submission.pathway_id,
        at=at,
        generation=generation,
        revision=revision,
        details={k: v for k, v in details.items() if v is not None},
    )


def learner_entry(
    *,
    actor: str,
    action: Action,
    outcome: Outcome,
    uid: str,
    resource: Any,
    at: dt.datetime,
    **details: Any,
) -> AuditEntry:
    """An entry about learner ``uid``'s ``resource`` (anything with resource_id, pathway_id)."""
    return AuditEntry(
        actor=actor,
        action=action,
        outcome=outcome,
        user_id=uid,
        submission_id=None,
        resource_id=resource.resource_id,
        pathway_id=resource.pathway_id,
        at=at.astimezone(dt.UTC),
        details={k: v for k, v in details.items() if v is not None},
    )
