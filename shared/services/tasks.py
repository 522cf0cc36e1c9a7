"""Deferred work delivered by Cloud Tasks. Each handler is idempotent: a redelivery changes nothing.

- ``expire_upload``: an upload URL reached its expiry; a submission still ``pending_upload`` becomes
  ``expired``.
- ``notify_learner``: writes ``users/{uid}/notifications/{submission_id}-{decision}`` once (a
  revised decision: ``{submission_id}-revision-{n}``, once per revision).
- ``reevaluate_learners``: recomputes a module's rollup for every learner with progress in it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import log
from shared.domain import progress as progress_rules
from shared.domain.models import Id, ModuleProgress, ResourceProgress, SubmissionStatus
from shared.services import audit
from shared.services import catalog as cat
from shared.services.ports import CatalogReader, LearnerIndex, RollupStore, SubmissionStore, Tx
from shared.services.rollups import recompute_module
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
    """Recompute ``module_progress`` of every learner who has progress in ``module_id`` (for
    instance after a resource was added, removed or made optional). The module trigger then
    recomputes the pathway."""

    model_config = ConfigDict(extra="forbid")

    module_id: Id


class ReevaluateOutcome(TaskOutcome):
    learners: int = 0
    changed: int = 0


def reevaluate_learners(
    task: ReevaluateLearners,
    *,
    learners: LearnerIndex,
    catalog: CatalogReader,
    rollups: RollupStore,
    now: Clock = utcnow,
) -> ReevaluateOutcome:
    mod = catalog.modules([task.module_id]).get(task.module_id)
    if mod is None:
        return ReevaluateOutcome(outcome="unknown module")
    resources = cat.ordered(mod.resource_ids, catalog.resources(mod.resource_ids))
    ids = [r.resource_id for r in resources]

    def compute(
        progress: dict[str, ResourceProgress], current: ModuleProgress | None
    ) -> ModuleProgress | None:
        return progress_rules.module_rollup(mod, resources, progress, current, now())

    uids = learners.learners_in_module(task.module_id)
    changed = sum(1 for uid in uids if recompute_module(rollups, uid, mod.module_id, ids, compute))
    log.info("learners re-evaluated", module_id=mod.module_id, learners=len(uids), changed=changed)
    return ReevaluateOutcome(outcome="reevaluated", learners=len(uids), changed=changed)
