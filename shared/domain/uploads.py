"""Pure rules for submissions: file names, types, object paths, the rate-limit window, magic bytes,
and the resource status that follows from a learner's submissions.

Nothing here does I/O. The services feed it what the adapters read (the first bytes of an object, the
types a magic-byte library detected in them, the timestamps of a learner's recent upload URLs, the
learner's submissions for a resource).

The resource status and the submissions
    The learner's submissions for a resource are the source of truth for the upload-related part of
    ``users/{uid}/resource_progress/{rid}.status``; their statuses are kept, by submission id, in
    the per-resource index ``users/{uid}/resource_submissions/{rid}``
    (:class:`~shared.domain.models.ResourceSubmissions`), which every submission transaction reads
    by key and writes with the submission. Every change of a submission's state (upload
    recorded, invalid, approved, rejected, deleted, expired) recomputes it, in the same transaction,
    with :func:`resource_status`: ``reviewed`` if any submission is ``approved``; else ``submitted``
    if any is ``uploaded`` (awaiting review); else ``in_progress`` when the resource WAS
    ``submitted`` / ``reviewed`` (the learner started it and has nothing valid left); a resource
    with no upload-related state (``not_started``, ``in_progress``, ``completed``) keeps its status.
    So a deleted or invalid-overwritten only upload takes the resource back to ``in_progress`` (and
    its module's count down), and rejecting an older attempt leaves a newer upload ``submitted``.

    ``completed_at`` is set when the status becomes ``submitted`` / ``reviewed`` (if unset) and
    cleared when it drops back to ``in_progress``. ``submission_count`` counts RECORDED uploads: one
    per valid object generation, however often its event arrives; it never goes down (a deleted,
    rejected or later invalid-overwritten upload was still recorded). Whether a resource counts
    toward its module follows the status, not this count.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.models import (
    CompletionRule,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceSubmissions,
    Submission,
    SubmissionEntry,
    SubmissionStatus,
)
from shared.domain.progress import event_stamp, is_activity, is_late
from shared.errors import InvalidArgument, TooLarge, UnsupportedMediaType

MAX_FILE_NAME_CHARS = 200
MIB = 1024 * 1024
RATE_WINDOW = dt.timedelta(hours=1)
HEAD_BYTES = 2048
STAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"

# MIME type -> the file-name extensions that fit it (lower case, with the dot).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "application/pdf": (".pdf",),
    "application/zip": (".zip",),
    "text/plain": (".txt",),
    "text/markdown": (".md", ".markdown"),
    "text/csv": (".csv",),
    "application/json": (".json",),
    "text/x-python": (".py",),
    "application/x-ipynb+json": (".ipynb",),
}
# Types without a magic number: accepted when the bytes are plain UTF-8 text.
TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "text/x-python",
        "application/x-ipynb+json",
    }
)
# Other names a magic-byte library may give the same binary type.
_ALIASES: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "application/zip": frozenset({"application/zip", "application/x-zip-compressed"}),
}
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_SAFE_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_UID = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}$")
_PATH = re.compile(
    r"^pathways/(?P<pathway_id>[A-Za-z0-9_-]{1,128})"
    r"/users/(?P<user_id>[A-Za-z0-9_.@+-]{1,128})"
    r"/resources/(?P<resource_id>[A-Za-z0-9_-]{1,128})"
    r"/(?P<submission_id>[0-9a-f]{32})"
    r"/(?P<stamp>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})_(?P<file_name>[A-Za-z0-9._-]{1,200})$"
)


# ---- file names and types ---------------------------------------------------------------------


def normalise_content_type(content_type: str) -> str:
    """``Image/PNG; charset=x`` -> ``image/png``."""
    return content_type.split(";", 1)[0].strip().lower()


def extension_of(file_name: str) -> str:
    dot = file_name.rfind(".")
    return file_name[dot:].lower() if dot > 0 else ""


def check_file_name(file_name: str) -> None:
    """Refuse (400) names that are empty, too long, or carry path tricks or control characters."""
    if not file_name or not file_name.strip():
        raise InvalidArgument("file_name must not be empty")
    if len(file_name) > MAX_FILE_NAME_CHARS:
        raise InvalidArgument(f"file_name must be at most {MAX_FILE_NAME_CHARS} characters")
    if "/" in file_name or "\\" in file_name:
        raise InvalidArgument("file_name must not contain a path separator")
    if ".." in file_name:
        raise InvalidArgument("file_name must not contain '..'")
    if "\x00" in file_name:
        raise InvalidArgument("file_name must not contain a null byte")
    for ch in file_name:
        if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            raise InvalidArgument("file_name must not contain control characters")
    if not extension_of(file_name):
        raise InvalidArgument("file_name needs an extension that fits its content type")


def check_extension_fits(file_name: str, content_type: str) -> None:
    fits = EXTENSIONS.get(content_type, ())
    if extension_of(file_name) not in fits:
        wanted = ", ".join(fits) or "none known"
        raise InvalidArgument(
            f"file_name extension does not fit {content_type} (expected {wanted})"
        )


def sanitise_file_name(file_name: str) -> str:
    """A safe object-name component that keeps the extension: ``My report (v2).PDF`` -> ``My_report_v2_.pdf``."""
    ext = extension_of(file_name)
    stem = file_name[: len(file_name) - len(ext)] if ext else file_name
    ext = "." + _SAFE_CHAR.sub("_", ext[1:]) if ext else ""
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = _SAFE_CHAR.sub("_", stem)
    stem = re.sub(r"_+", "_", stem).strip("._")
    stem = re.sub(r"\.{2,}", ".", stem)
    if not stem:
        stem = "file"
    return (stem[: MAX_FILE_NAME_CHARS - len(ext)] + ext)[:MAX_FILE_NAME_CHARS]


def check_declared_upload(
    *,
    file_name: str,
    content_type: str,
    size_bytes: int,
    accepted_types: Sequence[str],
    max_file_size_mb: int,
) -> str:
    """Every check ``upload-url`` makes on the request; returns the sanitised file name."""
    check_file_name(file_name)
    accepted = {normalise_content_type(t) for t in accepted_types}
    if content_type not in accepted:
        raise UnsupportedMediaType(
            f"{content_type} is not accepted here (accepted: {', '.join(sorted(accepted))})"
        )
    check_extension_fits(file_name, content_type)
    if size_bytes <= 0:
        raise InvalidArgument("size_bytes must be greater than zero")
    if size_bytes > max_file_size_mb * MIB:
        raise TooLarge(f"the file is larger than {max_file_size_mb} MB")
    return sanitise_file_name(file_name)


def valid_uid(uid: str) -> bool:
    """Whether a uid can be a path segment and a document-id part (no slashes, no controls)."""
    return bool(_UID.match(uid))


# ---- object layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectKey:
    pathway_id: str
    user_id: str
    resource_id: str
    submission_id: str
    uploaded_stamp: str
    file_name: str

    @property
    def path(self) -> str:
        return (
            f"pathways/{self.pathway_id}/users/{self.user_id}/resources/{self.resource_id}"
            f"/{self.submission_id}/{self.uploaded_stamp}_{self.file_name}"
        )


def object_key(
    *,
    pathway_id: str,
    user_id: str,
    resource_id: str,
    submission_id: str,
    at: dt.datetime,
    file_name: str,
) -> ObjectKey:
    stamp = at.astimezone(dt.UTC).strftime(STAMP_FORMAT)
    key = ObjectKey(pathway_id, user_id, resource_id, submission_id, stamp, file_name)
    if parse_object_path(key.path) != key:
        raise InvalidArgument("these ids cannot form a submission object path")
    return key


def parse_object_path(name: str) -> ObjectKey | None:
    """The parts of a submission object's name, or None for anything outside the layout."""
    match = _PATH.match(name)
    if not match:
        return None
    parts = match.groupdict()
    try:
        dt.datetime.strptime(parts["stamp"], STAMP_FORMAT)
    except ValueError:
        return None
    return ObjectKey(
        pathway_id=parts["pathway_id"],
        user_id=parts["user_id"],
        resource_id=parts["resource_id"],
        submission_id=parts["submission_id"],
        uploaded_stamp=parts["stamp"],
        file_name=parts["file_name"],
    )


# ---- rate limit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    stamps: list[dt.datetime]  # the window to store (pruned; with ``now`` added when allowed)
    retry_after_seconds: int


def rate_limit(
    stamps: Iterable[dt.datetime],
    now: dt.datetime,
    *,
    limit: int,
    window: dt.timedelta = RATE_WINDOW,
) -> RateDecision:
    """A rolling window: at most ``limit`` events in any ``window``; refused ones are not counted.

    Stamps later than ``now`` count too: requests take their time before their transactions are
    serialised, so a request may read the stamp of one that started after it (or ran on a server
    whose clock is ahead) and committed first. Ignoring those would grant more than ``limit``.
    """
    recent = sorted(s for s in stamps if s > now - window)
    if len(recent) < limit:
        return RateDecision(True, sorted([*recent, now]), 0)
    # The call becomes possible when enough of the oldest stamps have left the window.
    frees_at = recent[len(recent) - limit] + window
    wait = max(1, int((frees_at - now).total_seconds() + 0.999))
    return RateDecision(False, recent, wait)


# ---- what arrived ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Detected:
    """One match of a magic-byte library: its MIME type and extension (either may be empty)."""

    mime_type: str
    extension: str


def _looks_like_text(head: bytes, *, truncated: bool) -> bool:
    data = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if truncated:
        # The head may end inside a multi-byte character: drop at most 3 trailing bytes.
        for cut in range(4):
            try:
                text = data[: len(data) - cut].decode("utf-8")
                break
            except UnicodeDecodeError:
                continue
        else:
            return False
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch in "\t\r\n" or unicodedata.category(ch) != "Cc" for ch in text)


def magic_verdict(
    declared_type: str,
    head: bytes,
    detected: Sequence[Detected],
    *,
    truncated: bool,
) -> str | None:
    """None when the first bytes fit the declared type, else the reason they do not.

    Binary types need a magic-byte match for the declared type. Text types have no magic: the bytes
    must be UTF-8 without NULs or control characters (tab, CR, LF allowed) and match no binary
    signature.
    """
    if not head:
        return "the file is empty"
    if declared_type in TEXT_TYPES:
        binary = [d for d in detected if not _textual(d.mime_type)]
        if binary:
            what = binary[0].mime_type or binary[0].extension or "binary data"
            return f"declared {declared_type} but the content is {what}"
        if not _looks_like_text(head, truncated=truncated):
            return f"declared {declared_type} but the content is not UTF-8 text"
        return None
    names = _ALIASES.get(declared_type, frozenset({declared_type}))
    exts = set(EXTENSIONS.get(declared_type, ()))
    for d in detected:
        if d.mime_type.lower() in names or d.extension.lower() in exts:
            return None
    found = next((d.mime_type or d.extension for d in detected if d.mime_type or d.extension), "")
    if not found and _looks_like_text(head, truncated=truncated):
        found = "text"
    return f"declared {declared_type} but the content is {found or 'not of that type'}"


def _textual(mime_type: str) -> bool:
    m = mime_type.lower()
    return m.startswith("text/") or m in {"application/json", "application/xml"}


def upload_verdict(
    *,
    declared_type: str,
    declared_size: int,
    object_content_type: str | None,
    object_size: int,
    accepted_types: Sequence[str],
    max_file_size_mb: int,
    head: bytes,
    detected: Sequence[Detected],
) -> str | None:
    """None for a valid upload, else why it is invalid (size, declared and stored type, magic)."""
    if object_size <= 0:
        return "the file is empty"
    if object_size > max_file_size_mb * MIB:
        return f"the file is larger than {max_file_size_mb} MB"
    if object_size > declared_size:
        return "the file is larger than declared"
    accepted = {normalise_content_type(t) for t in accepted_types}
    if declared_type not in accepted:
        return f"{declared_type} is no longer accepted for this resource"
    if object_content_type is None or normalise_content_type(object_content_type) != declared_type:
        return f"stored as {object_content_type or 'no type'} but declared {declared_type}"
    return magic_verdict(declared_type, head, detected, truncated=object_size > len(head))


# ---- the resource status, derived from the learner's submissions -----------------------------

UPLOAD_STATUSES = frozenset({ResourceStatus.submitted, ResourceStatus.reviewed})


def resource_status(
    current: ResourceStatus, submissions: Iterable[SubmissionStatus]
) -> ResourceStatus:
    """The resource's status given every one of the learner's submissions for it.

    ``reviewed`` if any is approved; else ``submitted`` if any is uploaded; else ``in_progress`` if
    the resource was submitted or reviewed; else ``current`` (no upload-related state to undo).
    """
    statuses = set(submissions)
    if SubmissionStatus.approved in statuses:
        return ResourceStatus.reviewed
    if SubmissionStatus.uploaded in statuses:
        return ResourceStatus.submitted
    if current in UPLOAD_STATUSES:
        return ResourceStatus.in_progress
    return current


def with_submission(index: ResourceSubmissions, written: Submission) -> ResourceSubmissions:
    """The per-resource index once ``written`` is stored: its entry replaced, and the attempt
    counter at least its attempt."""
    entries = {
        **index.submissions,
        written.submission_id: SubmissionEntry(attempt=written.attempt, status=written.status),
    }
    return index.model_copy(
        update={"submissions": entries, "attempts": max(index.attempts, written.attempt)}
    )


def statuses(index: ResourceSubmissions) -> dict[str, SubmissionStatus]:
    return {sid: entry.status for sid, entry in index.submissions.items()}


def settle_progress(
    current: ResourceProgress | None,
    submissions: Mapping[str, SubmissionStatus],
    written: Submission,
    at: dt.datetime,
    *,
    recorded_upload: bool = False,
    resource: Resource | None = None,
) -> ResourceProgress | None:
    """The resource progress after ``written`` (one submission's new state) is stored; ``None`` when
    nothing changes (write nothing, so no progress event fires). ``resource`` (when the caller has
    it): its completion rule and due date (see :func:`settle`).

    ``submissions`` maps each of the learner's submissions for ``written``'s resource to its status,
    as read in the same transaction (with or without ``written``'s old status, which ``written``
    replaces). ``recorded_upload``: ``written`` records a new valid object generation, so
    ``submission_count`` goes up by one.
    """
    every = {**submissions, written.submission_id: written.status}
    before = current or ResourceProgress(
        resource_id=written.resource_id,
        pathway_id=written.pathway_id,
        module_id=written.module_id,
    )
    return settle(
        before,
        every.values(),
        at,
        recorded_upload=recorded_upload,
        resource=resource,
        submitted_at=written.uploaded_at or at,
    )


def settle(
    before: ResourceProgress,
    submissions: Iterable[SubmissionStatus],
    at: dt.datetime,
    *,
    recorded_upload: bool = False,
    resource: Resource | None = None,
    submitted_at: dt.datetime | None = None,
) -> ResourceProgress | None:
    """``before`` with the status every one of the learner's submissions for the resource implies
    (:func:`resource_status`), ``started_at`` / ``completed_at`` following it; ``None`` when nothing
    changes. The rule of :func:`settle_progress`, and of the drift repair, which recounts a status
    from the per-resource index alone (``before``: the stored progress, or a fresh one).

    With ``resource``: under the ``approved`` rule ``completed_at`` is the approval (set when the
    status becomes ``reviewed``, cleared when it leaves it), else the first valid upload. ``late``
    is decided when the status enters ``submitted`` / ``reviewed`` and ``submitted_at`` (the upload
    time of the submission that takes it there) is given: after ``due_at`` is late; it is cleared
    when the status leaves them. The drift repair passes no ``submitted_at``: it keeps ``late``."""
    status = resource_status(before.status, submissions)
    started_at, completed_at, late = before.started_at, before.completed_at, before.late
    done = UPLOAD_STATUSES
    if resource is not None and resource.rule == CompletionRule.approved:
        done = frozenset({ResourceStatus.reviewed})
    if status in UPLOAD_STATUSES:
        started_at = started_at or at
        if before.status not in UPLOAD_STATUSES and resource is not None and submitted_at:
            late = is_late(resource, submitted_at)
    elif before.status in UPLOAD_STATUSES:
        late = False
    if status in done:
        completed_at = completed_at or at
    elif before.status in UPLOAD_STATUSES or status in UPLOAD_STATUSES:
        completed_at = None
    after = before.model_copy(
        update={
            "status": status,
            "submission_count": before.submission_count + (1 if recorded_upload else 0),
            "started_at": started_at,
            "completed_at": completed_at,
            "late": late,
        }
    )
    if after == before:
        return None
    return after.model_copy(update={"updated_at": at})


def progress_event(
    action: str,
    before: ResourceProgress | None,
    after: ResourceProgress,
    at: dt.datetime,
    submission_id: str | None,
    generation: int | None = None,
    *,
    run_id: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The ``users/{uid}/progress_events`` entry for a change of a resource's progress that a
    submission caused, and its deterministic id (time first, as the learner actions' events, so
    the collection reads in order; the submission id and, for an upload, the object generation
    keep two facts apart). A drift repair (``submission_id`` ``None``) names its ``run_id``."""
    stamp = event_stamp(at)
    suffix = f"-{generation}" if generation is not None else ""
    cause = submission_id if submission_id is not None else run_id
    event_id = f"{stamp}-{after.resource_id}-{action}-{cause}{suffix}"
    extra: dict[str, Any] = {"run_id": run_id} if run_id is not None else {}
    if after.late != (before.late if before else False):
        extra["late"] = after.late
    if after.completed_at is not None and (before is None or before.completed_at is None):
        extra["completed"] = True  # this change met the resource's rule (an upload, an approval)
    return event_id, {
        **extra,
        "action": action,
        "activity": is_activity(action),
        "resource_id": after.resource_id,
        "module_id": after.module_id,
        "pathway_id": after.pathway_id,
        "from_status": (before.status if before else ResourceStatus.not_started).value,
        "to_status": after.status.value,
        "progress_percentage": after.progress_percentage,
        "time_spent_minutes": after.time_spent_minutes,
        "submission_count": after.submission_count,
        "submission_id": submission_id,
        "generation": generation,
        "at": at,
    }
