"""The cohort dashboard's aggregates: pure functions, no I/O (issue 12 item 4).

For every learner of a cohort and every pathway of their membership the triggers keep a **row**
(:class:`Row`, ``cohorts/{cid}/dashboard/{pid}/rows/{uid}``): exactly what the dashboard counts for
that learner, derived from the learner's ``resource_progress`` documents (one :class:`Entry` per
resource with any state), the membership (``joined_at``) and the profile (name, email). Every
derived field of a row (module percentages, minutes, last activity, completion) is a function of
its entries, so a row is the same whatever order it was built in.

The per-(cohort, pathway) **counters** (sharded documents, summed when read) hold the sum of
:func:`contribution` over the rows. A trigger never adds a number from an event: in one transaction
it reads the row, rebuilds it from the learner's current truth (read by key) and applies
``contribution(new) - contribution(old)`` (:func:`delta`). Applying the same truth twice is a
zero delta; an event arriving late reads today's truth. So the counters always equal a
from-scratch recount (:func:`recount`) once the last event has been handled, however many times
and in whatever order events arrive.

Bits of an entry (per resource):
    ``STARTED``   status is not ``not_started``;
    ``COMPLETED`` counts as done (``completed``/``submitted``/``reviewed``; an upload resource only
                  with a valid upload), optional resources included (their module ignores them);
    ``SUBMITTED`` a valid upload is on record (``submitted`` or ``reviewed``);
    ``APPROVED``  an upload was approved (``reviewed``).
    A resource ``submitted`` but not ``reviewed`` is *awaiting review* (the instructors' live count).

Time spent: each row adds one learner to a histogram of total minutes (:func:`time_bucket`):
1-minute buckets below 2 hours, 10-minute buckets below 20 hours, 1-hour buckets above. The
median (:func:`median_from_histogram`) is therefore exact below 2 hours and within its bucket's
width above (the reply says which bucket).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.models import Resource, ResourceProgress, ResourceStatus
from shared.domain.progress import COUNTING, UPLOADED, ratio

STARTED, COMPLETED, SUBMITTED, APPROVED = 1, 2, 4, 8
BIT_NAMES = {
    "started": STARTED,
    "completed": COMPLETED,
    "submitted": SUBMITTED,
    "approved": APPROVED,
}
SHARDS = 8  # counter documents per (cohort, pathway), and live-count documents per cohort
EXACT_BELOW = 120
COARSE_BELOW = 1200


class Entry(BaseModel):
    """One resource as a learner's row holds it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    bits: int = 0
    minutes: int = 0
    at: dt.datetime | None = None  # last change of the resource's progress
    done_at: dt.datetime | None = None  # when it was completed (COMPLETED only)


class Row(BaseModel):
    """``cohorts/{cid}/dashboard/{pid}/rows/{uid}``: one learner of a cohort on one pathway."""

    model_config = ConfigDict(extra="ignore")

    uid: str
    cohort_id: str
    pathway_id: str
    display_name: str | None = None
    email: str | None = None
    joined_at: dt.datetime | None = None
    resources: dict[str, Entry] = Field(default_factory=dict)
    modules: dict[str, float] = Field(default_factory=dict)
    completed_modules: int = 0
    total_modules: int = 0
    percentage: float = 0.0
    resource_percentage: float = 0.0
    minutes: int = 0
    awaiting_review: int = 0
    # max(joined_at, the latest change of any resource): what "inactive for N days" is asked of
    last_activity_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Shape:
    """The pathway as the dashboard needs it: modules in order, each with its resources."""

    pathway_id: str
    modules: tuple[tuple[str, tuple[Resource, ...]], ...]

    @property
    def resource_ids(self) -> list[str]:
        return [r.resource_id for _, rs in self.modules for r in rs]

    @property
    def module_ids(self) -> list[str]:
        return [mid for mid, _ in self.modules]

    def resource(self, resource_id: str) -> Resource | None:
        for _, rs in self.modules:
            for r in rs:
                if r.resource_id == resource_id:
                    return r
        return None


def entry_of(resource: Resource, progress: ResourceProgress | None) -> Entry | None:
    """What the row keeps of one resource's progress (``None``: nothing to keep)."""
    if progress is None:
        return None
    status = progress.status
    bits = 0
    if status != ResourceStatus.not_started:
        bits |= STARTED
    if status in COUNTING and (not resource.requires_upload or status in UPLOADED):
        bits |= COMPLETED
    if status in UPLOADED:
        bits |= SUBMITTED
    if status == ResourceStatus.reviewed:
        bits |= APPROVED
    minutes = max(0, progress.time_spent_minutes)
    if bits == 0 and minutes == 0:
        return None
    at = _utc(progress.updated_at or progress.completed_at or progress.started_at)
    done_at = _utc(progress.completed_at or at) if bits & COMPLETED else None
    return Entry(bits=bits, minutes=minutes, at=at, done_at=done_at)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    # Firestore keeps microseconds: normalise so a row read back compares equal to a fresh one
    return value.astimezone(dt.UTC)


def build_row(
    shape: Shape,
    cohort_id: str,
    uid: str,
    entries: Mapping[str, Entry],
    *,
    joined_at: dt.datetime | None,
    display_name: str | None,
    email: str | None,
) -> Row:
    """The row of a learner whose resources are ``entries`` (unknown resources are dropped)."""
    known = set(shape.resource_ids)
    kept = {rid: e for rid, e in sorted(entries.items()) if rid in known}
    modules: dict[str, float] = {}
    done_modules = done_resources = total_resources = 0
    for mid, resources in shape.modules:
        required = [r for r in resources if not r.optional]
        done = sum(1 for r in required if kept.get(r.resource_id, Entry()).bits & COMPLETED)
        modules[mid] = ratio(done, len(required))
        done_modules += done == len(required)
        done_resources += done
        total_resources += len(required)
    total_modules = len(shape.modules)
    complete = done_modules == total_modules
    times = [e.at for e in kept.values() if e.at is not None]
    joined = _utc(joined_at)
    last = max([*times, *([joined] if joined else [])], default=None)
    completed_at = None
    if complete:
        done_times = [e.done_at for e in kept.values() if e.done_at is not None]
        completed_at = max(done_times, default=None) or joined
    return Row(
        uid=uid,
        cohort_id=cohort_id,
        pathway_id=shape.pathway_id,
        display_name=display_name,
        email=email,
        joined_at=joined,
        resources=kept,
        modules=modules,
        completed_modules=done_modules,
        total_modules=total_modules,
        percentage=ratio(done_modules, total_modules),
        resource_percentage=ratio(done_resources, total_resources),
        minutes=sum(e.minutes for e in kept.values()),
        awaiting_review=sum(
            1 for e in kept.values() if e.bits & SUBMITTED and not e.bits & APPROVED
        ),
        last_activity_at=last,
        completed_at=completed_at,
    )


def sync_entries(
    shape: Shape,
    current: Mapping[str, Entry],
    progress: Mapping[str, ResourceProgress],
    resource_ids: Iterable[str],
) -> dict[str, Entry]:
    """``current`` with the entries of ``resource_ids`` replaced by what ``progress`` (the truth,
    read by key) says now."""
    out = dict(current)
    for rid in resource_ids:
        resource = shape.resource(rid)
        entry = None if resource is None else entry_of(resource, progress.get(rid))
        if entry is None:
            out.pop(rid, None)
        else:
            out[rid] = entry
    return out


# ---- counters ----------------------------------------------------------------------------------


def time_bucket(minutes: int) -> int:
    """The lower bound of the histogram bucket holding ``minutes``."""
    m = max(0, minutes)
    if m < EXACT_BELOW:
        return m
    if m < COARSE_BELOW:
        return EXACT_BELOW + (m - EXACT_BELOW) // 10 * 10
    return COARSE_BELOW + (m - COARSE_BELOW) // 60 * 60


def bucket_width(lower: int) -> int:
    if lower < EXACT_BELOW:
        return 1
    return 10 if lower < COARSE_BELOW else 60


def contribution(row: Row | None) -> Counter[str]:
    """What one row adds to the counters, as dotted counter names (``res.<rid>.started``, ...)."""
    out: Counter[str] = Counter()
    if row is None:
        return out
    out["learners"] += 1
    if row.completed_at is not None:
        out["completed_learners"] += 1
        out[f"done.{row.completed_at.date().isoformat()}"] += 1
    out["awaiting_review"] += row.awaiting_review
    out[f"time.{time_bucket(row.minutes)}"] += 1
    for rid, entry in row.resources.items():
        for name, bit in BIT_NAMES.items():
            if entry.bits & bit:
                out[f"res.{rid}.{name}"] += 1
    for mid, pct in row.modules.items():
        if pct >= 100.0:
            out[f"mod.{mid}.completed"] += 1
        out[f"mod.{mid}.pct_x100"] += round(pct * 100)
    return out


def delta(old: Row | None, new: Row | None) -> dict[str, int]:
    """``contribution(new) - contribution(old)``, zeros left out (an unchanged row: ``{}``)."""
    before, after = contribution(old), contribution(new)
    out = {k: after.get(k, 0) - before.get(k, 0) for k in before.keys() | after.keys()}
    return {k: v for k, v in sorted(out.items()) if v != 0}


def recount(rows: Iterable[Row]) -> dict[str, int]:
    """The counters, counted from scratch from ``rows`` (zeros left out)."""
    total: Counter[str] = Counter()
    for row in rows:
        total.update(contribution(row))
    return {k: v for k, v in sorted(total.items()) if v != 0}


def apply(counters: Mapping[str, int], change: Mapping[str, int]) -> dict[str, int]:
    """``counters`` + ``change`` (zeros left out): what the increments of a delta do."""
    out = dict(counters)
    for key, value in change.items():
        out[key] = out.get(key, 0) + value
    return {k: v for k, v in sorted(out.items()) if v != 0}


def shard_of(uid: str, shards: int = SHARDS) -> int:
    """The counter shard a learner's deltas go to (stable across processes)."""
    return zlib.crc32(uid.encode()) % shards


def flatten(data: Mapping[str, object], prefix: str = "") -> dict[str, int]:
    """A counter document's nested maps as dotted names (the inverse of the adapter's nesting)."""
    out: dict[str, int] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, int) and not isinstance(value, bool):
            out[name] = value
    return out


def sum_counters(docs: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for doc in docs:
        total.update(doc)
    return {k: v for k, v in sorted(total.items()) if v != 0}


# ---- reading the counters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Median:
    minutes: int | None  # the lower bound of the bucket holding the median
    width: int  # 1: exact
    learners: int  # learners counted (those with any time)


def median_from_histogram(histogram: Mapping[int, int]) -> Median:
    """The median of total minutes over learners who spent any time (bucket 0 left out)."""
    items = sorted((b, n) for b, n in histogram.items() if b > 0 and n > 0)
    total = sum(n for _, n in items)
    if total == 0:
        return Median(None, 1, 0)
    middle = (total + 1) // 2  # the lower median
    seen = 0
    for lower, n in items:
        seen += n
        if seen >= middle:
            return Median(lower, bucket_width(lower), total)
    raise AssertionError("unreachable")  # pragma: no cover


def median_exact(values: Sequence[int]) -> int | None:
    """The lower median of ``values`` > 0 (what :func:`median_from_histogram` approximates)."""
    kept = sorted(v for v in values if v > 0)
    return kept[(len(kept) + 1) // 2 - 1] if kept else None


def counter_view(counters: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """Dotted counters grouped by their first part (``res``, ``mod``, ``time``, ``done``): for
    ``res.<rid>.started`` → ``{"res": {"<rid>.started": n}}``; top-level names under ``""``."""
    out: dict[str, dict[str, int]] = {}
    for name, value in counters.items():
        head, _, rest = name.partition(".")
        if rest:
            out.setdefault(head, {})[rest] = value
        else:
            out.setdefault("", {})[head] = value
    return out
