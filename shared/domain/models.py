"""Catalog, progress and submission documents as pydantic models (the shapes of docs/ARCHITECTURE.md)."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.errors import NotFound

ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
_ID = re.compile(ID_PATTERN)


def valid_id(value: str) -> bool:
    """Ids of this product: ``[A-Za-z0-9_-]{1,128}``, and never Firestore's reserved ``__x__``."""
    return bool(_ID.match(value)) and not (value.startswith("__") and value.endswith("__"))


def known_id(value: str, what: str) -> str:
    """``value`` when it can be an id of this product; else 404 (no such ``what``): an id from a
    URL path that breaks the rule names nothing that exists."""
    if not valid_id(value):
        raise NotFound(f"no such {what}")
    return value


class ResourceType(StrEnum):
    video = "video"
    article = "article"
    exercise = "exercise"
    project = "project"
    quiz = "quiz"


class ResourceStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    submitted = "submitted"
    reviewed = "reviewed"


class SubmissionStatus(StrEnum):
    pending_upload = "pending_upload"
    uploaded = "uploaded"
    approved = "approved"
    rejected = "rejected"
    invalid = "invalid"
    expired = "expired"
    deleted = "deleted"


class CompletionRule(StrEnum):
    """What completes a resource (``shared.domain.progress.rule_met``)."""

    manual = "manual"  # the learner checks it off
    upload = "upload"  # a valid upload is on record (submitted or reviewed)
    approved = "approved"  # an instructor approved a submission
    min_time = "min_time"  # time spent (PUT progress heartbeats) >= min_minutes
    score = "score"  # the best quiz score reported with PUT progress >= pass_score


class ChangePolicy(StrEnum):
    """How learners' numbers follow a catalog change (issue 13, docs/ARCHITECTURE.md)."""

    recount = "recount"  # numbers follow the current catalog
    keep_completed = "keep_completed"  # a level completed before the change stays completed


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_DUE_DAYS = 3660  # ten years


class DueAfter(_Strict):
    """A due date relative to the start of the learner's cohort (``shared.domain.due``): due
    ``days`` days and ``hours`` hours after it; at least one of them is more than 0."""

    days: int = Field(default=0, ge=0, le=MAX_DUE_DAYS, strict=True)
    hours: int = Field(default=0, ge=0, le=MAX_DUE_DAYS * 24, strict=True)

    @property
    def delta(self) -> dt.timedelta:
        return dt.timedelta(days=self.days, hours=self.hours)

    @model_validator(mode="after")
    def _some_time(self) -> DueAfter:
        if self.days == 0 and self.hours == 0:
            raise ValueError("give days and/or hours, more than 0 in all")
        return self


# ---- catalog --------------------------------------------------------------------------------


class Pathway(_Strict):
    pathway_id: Id
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    module_ids: list[Id]
    content_version: int = Field(default=1, ge=1)
    # catalog change (issue 13): how learners' numbers follow a change of this pathway
    change_policy: ChangePolicy = ChangePolicy.recount
    # retired by `catalog apply --prune` (the files no longer name it): kept, with its modules and
    # resources, so learners' history stays legible; no longer offered (docs/ARCHITECTURE.md)
    retired_at: dt.datetime | None = None


class Module(_Strict):
    module_id: Id
    pathway_id: Id
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    order: int = Field(ge=0)
    resource_ids: list[Id]
    content_version: int = Field(default=1, ge=1)
    # catalog change (issue 13): the pathway's policy (copied by `catalog apply`), and the pathway
    # content_version from which this module counts in it (keep_completed waives it before that)
    change_policy: ChangePolicy = ChangePolicy.recount
    counts_since_version: int = Field(default=1, ge=1)


class Resource(_Strict):
    resource_id: Id
    pathway_id: Id
    module_id: Id
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: ResourceType
    order: int = Field(ge=0)
    url: Annotated[str, StringConstraints(max_length=2000)] = ""
    duration_minutes: int = Field(default=0, ge=0, le=100_000)
    requires_upload: bool = False
    accepted_file_types: list[str] = Field(default_factory=list)
    max_file_size_mb: int = Field(default=0, ge=0, le=5_000)
    optional: bool = False
    # catalog change (issue 13): bumped by `catalog apply` when the resource changes; the module
    # content_version from which it counts as it does now (keep_completed waives it before that)
    content_version: int = Field(default=1, ge=1)
    counts_since_version: int = Field(default=1, ge=1)

    # ---- completion rules and due dates (shared.domain.progress) ----
    # ``completion`` None: the rule the resource had before rules existed, ``upload`` when it
    # ``requires_upload``, else ``manual`` (:attr:`rule`). ``optional`` (above) combines with any
    # rule: an optional resource can be done but never counts toward module or pathway numbers.
    completion: CompletionRule | None = None
    min_minutes: int | None = Field(default=None, ge=1, le=100_000)  # rule ``min_time``
    pass_score: int | None = Field(default=None, ge=0, le=100)  # rule ``score``
    due_at: dt.datetime | None = None  # completed / submitted after it: ``late``
    # or: due that long after the start of the learner's cohort (``shared.domain.due``)
    due_after: DueAfter | None = None

    @property
    def rule(self) -> CompletionRule:
        if self.completion is not None:
            return self.completion
        return CompletionRule.upload if self.requires_upload else CompletionRule.manual

    @model_validator(mode="after")
    def _rule_fits(self) -> Resource:
        rule = self.rule
        by_upload = rule in (CompletionRule.upload, CompletionRule.approved)
        if by_upload != self.requires_upload:
            raise ValueError(
                f"completion {rule.value} needs requires_upload {str(by_upload).lower()}"
            )
        if (rule == CompletionRule.min_time) != (self.min_minutes is not None):
            raise ValueError("min_minutes is given exactly when completion is min_time")
        if (rule == CompletionRule.score) != (self.pass_score is not None):
            raise ValueError("pass_score is given exactly when completion is score")
        if self.due_at is not None and self.due_at.tzinfo is None:
            raise ValueError("due_at needs a time zone")
        if self.due_at is not None and self.due_after is not None:
            raise ValueError(
                "give due_at (absolute) or due_after (from the cohort start), not both"
            )
        return self


# ---- learner state ---------------------------------------------------------------------------


class ResourceProgress(_Doc):
    resource_id: str
    pathway_id: str
    module_id: str
    status: ResourceStatus = ResourceStatus.not_started
    progress_percentage: int = 0
    time_spent_minutes: int = 0
    submission_count: int = 0
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # catalog change (issue 13): the resource's content_version when it was completed
    content_version: int | None = None

    # ---- completion rules, due dates, excuses (shared.domain.progress) ----
    score: int | None = None  # the best quiz score reported (rule ``score``)
    late: bool = False  # completed (or submitted) after the resource's ``due_at``
    excused: bool = False  # an instructor excused the learner: the resource leaves their count
    excused_by: str | None = None
    excused_at: dt.datetime | None = None
    excuse_reason: str | None = None


class ModuleProgress(_Doc):
    module_id: str
    pathway_id: str
    completed_resources: int = 0
    total_resources: int = 0
    percentage: float = 0.0
    completed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # catalog change (issue 13): the module content_version this was counted against, and the
    # resources a keep_completed change waived for this learner
    content_version: int | None = None
    waived_resource_ids: list[str] = Field(default_factory=list)


class PathwayProgress(_Doc):
    pathway_id: str
    completed_modules: int = 0
    total_modules: int = 0
    percentage: float = 0.0
    completed_resources: int = 0
    total_resources: int = 0
    resource_percentage: float = 0.0
    completed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # catalog change (issue 13): the pathway content_version this was counted against, and the
    # modules a keep_completed change waived for this learner
    content_version: int | None = None
    waived_module_ids: list[str] = Field(default_factory=list)
    # the pathway's retired_at when it was counted: the pathway was retired (pruned) and this
    # rollup is the learner's archived record of it
    retired_at: dt.datetime | None = None


class Submission(_Doc):
    submission_id: str
    user_id: str
    resource_id: str
    module_id: str
    pathway_id: str
    attempt: int
    file_name: str
    content_type: str
    # The size of the recorded object (until one is recorded: the declared size).
    size_bytes: int
    # The size declared when the URL was issued, never changed: every object generation written
    # through that URL is judged against it (older documents lack it: then ``size_bytes``).
    declared_size_bytes: int | None = None
    gcs_bucket: str
    gcs_path: str
    gcs_generation: int | None = None
    status: SubmissionStatus = SubmissionStatus.pending_upload
    invalid_reason: str | None = None
    created_at: dt.datetime | None = None
    uploaded_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    review_comments: str | None = None
    grade: int | None = None
    # Object generations already recorded (valid or invalid): a redelivered event is a no-op.
    counted_generations: list[int] = Field(default_factory=list)
    deleted_at: dt.datetime | None = None
    # How often the decision was revised (0: the first decision stands); a revision names the one
    # it saw, so of two instructors revising at once exactly one wins.
    revision: int = 0
    revision_reason: str | None = None
    # Copied from the learner's ``memberships/{uid}`` when the submission is created and kept in
    # step on enrolment changes (shared.services.cohorts): the review queue of an instructor and
    # its cohort filter are one array-contains query, and the rules check instructor_uids.
    cohort_ids: list[str] = Field(default_factory=list)
    instructor_uids: list[str] = Field(default_factory=list)
    # The learner's due time for the resource when the upload was recorded (absolute, or from
    # their cohort's start: shared.domain.due); the review queue's ``late`` compares it with
    # ``uploaded_at``. Older documents lack it: then the resource's ``due_at``.
    due_at: dt.datetime | None = None


class SubmissionEntry(_Doc):
    """One submission as its learner's per-resource index holds it."""

    attempt: int
    status: SubmissionStatus


class ResourceSubmissions(_Doc):
    """``users/{uid}/resource_submissions/{resource_id}``: a learner's submissions for one resource.

    Every transaction that changes a submission reads this document BY KEY (never a query: in a
    transaction a query locks the whole result range, so it conflicts with every insert into the
    collection) and writes it with the submission: ``attempts`` counts the upload URLs issued (the
    next attempt number), ``submissions`` maps each submission id to its attempt and status (what
    the resource status is derived from).
    """

    resource_id: str
    user_id: str
    attempts: int = 0
    submissions: dict[str, SubmissionEntry] = Field(default_factory=dict)
    updated_at: dt.datetime | None = None


class LearnerProfile(_Doc):
    """``users/{uid}``: what the functions keep of a learner's ID token claims (``name``,
    ``email``); readable by the learner and by instructors, written only by the functions."""

    user_id: str
    display_name: str | None = None
    email: str | None = None
    profile_updated_at: dt.datetime | None = None
