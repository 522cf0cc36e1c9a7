"""Deferred work delivered by Cloud Tasks. Each handler is idempotent: a redelivery changes nothing.

- ``expire_upload``: an upload URL reached its expiry; a submission still ``pending_upload`` becomes
  ``expired``.
- ``notify_learner``: writes ``users/{uid}/notifications/{submission_id}-{decision}`` once (a
  revised decision: ``{submission_id}-revision-{n}``, once per revision).
- ``reevaluate_learners``: starts the chained re-evaluation of a pathway's learners (a reconcile
  run of bounded batches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import log
from shared.domain.models import Id, SubmissionStatus
from shared.services import audit, reconcile
from shared.services.ports import CatalogReader, SubmissionStore, Tx
from shared.services.uploads import Clock, ResourceState, submission_lock, utcnow


class ExpireUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: Id


class NotifyLearner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: Id
    decision: Literal["approve", "reject"]
    # Set for a revised decision: the revision it announces (one notification per revision).
    revision: int | None = Field(default=None, ge=1)


class TaskOutcome(BaseModel):
    outcome: str


def expire_upload(
    task: ExpireUpload, *, store: SubmissionStore, now: Clock = utcnow
) -> TaskOutcome:
    def work(tx: Tx) -> str:
        sub = tx.submission(task.submission_id)
        if sub is None:
            return "unknown submission"
        if sub.status != SubmissionStatus.pending_upload:
            return f"already {sub.status}"
        state = ResourceState.read(tx, sub.user_id, sub.resource_id)
        at = state.stamp(now())
        # A pending submission never made the resource submitted, so this normally writes only the
        # submission; settling anyway keeps every submission change on the one rule.
        expired = sub.model_copy(update={"status": SubmissionStatus.expired})
        state.write(tx, expired, at, action="upload_expired")
        tx.put_audit(
            audit.entry(
                actor=audit.SYSTEM,
                action="upload_expired",
                outcome="expired",
                submission=sub,
                at=at,
            )
        )
        return "expired"

    outcome = store.transact(work, lock=submission_lock(task.submission_id))
    log.info("expire task handled", submission_id=task.submission_id, outcome=outcome)
    return TaskOutcome(outcome=outcome)


def notification_id(submission_id: str, decision: str, revision: int | None = None) -> str:
    if revision is not None:
        return f"{submission_id}-revision-{revision}"
    return f"{submission_id}-{decision}"


def notify_learner(
    task: NotifyLearner, *, store: SubmissionStore, now: Clock = utcnow
) -> TaskOutcome:
    at = now()
    note_id = notification_id(task.submission_id, task.decision, task.revision)

    def work(tx: Tx) -> str:
        sub = tx.submission(task.submission_id)
        if sub is None:
            return "unknown submission"
        if tx.notification_exists(sub.user_id, note_id):
            return "already notified"
        approved = task.decision == "approve"
        revised = task.revision is not None
        title = "Submission approved" if approved else "Submission needs another try"
        extra: dict[str, object] = {}
        if revised:
            title = "Review revised: " + ("approved" if approved else "needs another try")
            extra = {"revision": task.revision, "reason": sub.revision_reason or ""}
        tx.put_notification(
            sub.user_id,
            note_id,
            {
                **extra,
                "kind": "submission_revised" if revised else "submission_reviewed",
                "submission_id": sub.submission_id,
                "resource_id": sub.resource_id,
                "module_id": sub.module_id,
                "pathway_id": sub.pathway_id,
                "attempt": sub.attempt,
                "decision": task.decision,
                "grade": sub.grade,
                "comments": sub.review_comments or "",
                "title": title,
                "read": False,
                "created_at": at,
            },
        )
        return "notified"

    outcome = store.transact(work, lock=submission_lock(task.submission_id))
    log.info("notify task handled", submission_id=task.submission_id, outcome=outcome)
    return TaskOutcome(outcome=outcome)


# ---- re-evaluating learners after a module's resources change ---------------------------------


class ReevaluateLearners(BaseModel):
    """Re-evaluate every learner of a pathway (of ``module_id``'s pathway, or ``pathway_id``) after
    its catalog changed: starts a chained reconcile run (``task_reconcile``, bounded batches of
    learners after a cursor, see :mod:`shared.services.reconcile`), never walks the learners here.
    ``python -m catalog apply`` starts such runs itself; this task is for other callers."""

    model_config = ConfigDict(extra="forbid")

    module_id: Id | None = None
    pathway_id: Id | None = None
    also_pathway_ids: list[Id] = Field(default_factory=list, max_length=50)
    catalog_version: int | None = Field(default=None, ge=0)
    run_id: Id | None = None


class ReevaluateOutcome(TaskOutcome):
    run_id: str | None = None
    pathway_id: str | None = None
    lanes: int | None = None


def reevaluate_learners(
    task: ReevaluateLearners,
    *,
    catalog: CatalogReader,
    start: Callable[[reconcile.ReconcileBatch], reconcile.RunStarted],
    task_name: str | None = None,
    now: Clock = utcnow,
) -> ReevaluateOutcome:
    """Start the run with ``start`` (the composition root's ``Deps.start_run``: in lanes, as
    ``catalog apply`` starts its runs); its id is ``run_id``, else derived from the delivering
    task's name (so a redelivery starts nothing new), else from the time."""
    pathway_id = task.pathway_id
    if pathway_id is None:
        if task.module_id is None:
            return ReevaluateOutcome(outcome="nothing named")
        mod = catalog.modules([task.module_id]).get(task.module_id)
        if mod is None:
            return ReevaluateOutcome(outcome="unknown module")
        pathway_id = mod.pathway_id
    suffix = task_name.rsplit("/", 1)[-1] if task_name else f"{now():%Y%m%dT%H%M%S%f}"
    run_id = (task.run_id or f"reevaluate-{pathway_id}-{suffix}")[:128]
    batch = reconcile.ReconcileBatch(
        run_id=run_id,
        pathway_id=pathway_id,
        also_pathway_ids=task.also_pathway_ids,
        catalog_version=task.catalog_version,
    )
    started = start(batch)
    log.info("re-evaluation started", run_id=run_id, pathway_id=pathway_id, lanes=started.lanes)
    return ReevaluateOutcome(
        outcome="started", run_id=run_id, pathway_id=pathway_id, lanes=started.lanes
    )
