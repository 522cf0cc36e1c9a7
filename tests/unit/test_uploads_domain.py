"""Pure upload rules: names, types, paths, the rate-limit window, magic-byte verdicts (no I/O)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain import uploads as rules
from shared.domain.models import (
    ResourceProgress,
    ResourceStatus,
    ResourceSubmissions,
    Submission,
    SubmissionStatus,
)
from shared.errors import InvalidArgument, TooLarge, UnsupportedMediaType
from shared.services.uploads import detect_types

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"
NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
ACCEPT = ["image/png", "image/jpeg", "application/pdf", "text/markdown", "text/plain"]


def declared(**kw: object) -> str:
    args: dict[str, object] = {
        "file_name": "work.png",
        "content_type": "image/png",
        "size_bytes": 1000,
        "accepted_types": ACCEPT,
        "max_file_size_mb": 10,
    }
    args.update(kw)
    return rules.check_declared_upload(**args)  # type: ignore[arg-type]


# ---- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "a" * 197 + ".png",  # 201 characters
        "dir/x.png",
        "dir\\x.png",
        "..png",
        "a..b.png",
        "x\x00.png",
        "x\x07.png",
        "x\n.png",
        "x\u202egnp.png",
        "noextension",
    ],
)
def test_bad_file_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        declared(file_name=name)


def test_a_name_of_exactly_200_characters_is_fine() -> None:
    assert len(declared(file_name="a" * 196 + ".png")) == 200


@pytest.mark.parametrize(
    ("name", "ctype"),
    [("photo.jpg", "image/png"), ("doc.png", "application/pdf"), ("notes.txt", "text/markdown")],
)
def test_the_extension_must_fit_the_type(name: str, ctype: str) -> None:
    with pytest.raises(InvalidArgument, match="extension"):
        declared(file_name=name, content_type=ctype)


def test_jpeg_takes_both_extensions_case_insensitively() -> None:
    assert declared(file_name="A.JPG", content_type="image/jpeg") == "A.jpg"
    assert declared(file_name="b.jpeg", content_type="image/jpeg") == "b.jpeg"


def test_type_outside_the_resource_is_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        declared(file_name="x.webp", content_type="image/webp")


def test_sizes() -> None:
    with pytest.raises(InvalidArgument):
        declared(size_bytes=0)
    with pytest.raises(TooLarge):
        declared(size_bytes=10 * rules.MIB + 1)
    assert declared(size_bytes=10 * rules.MIB) == "work.png"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("My report (v2).PDF", "My_report_v2.pdf"),
        ("café crème.md", "cafe_creme.md"),
        (".hidden.png", "hidden.png"),
        ("@@@.png", "file.png"),
        ("a  b.txt", "a_b.txt"),
    ],
)
def test_sanitised_names(raw: str, safe: str) -> None:
    assert rules.sanitise_file_name(raw) == safe


@given(st.text(min_size=1, max_size=200))
def test_whatever_passes_the_checks_sanitises_to_a_layout_name(name: str) -> None:
    try:
        rules.check_file_name(name)
    except InvalidArgument:
        return
    safe = rules.sanitise_file_name(name)
    assert 0 < len(safe) <= 200
    key = rules.ObjectKey("p", "u", "r", "0" * 32, "2025-01-01_00-00-00", safe)
    assert rules.parse_object_path(key.path) == key
    ext = rules.extension_of(name)
    if ext[1:].isascii() and ext[1:].isalnum():
        assert rules.extension_of(safe) == ext


# ---- paths -----------------------------------------------------------------------------------


def test_object_path_round_trip() -> None:
    key = rules.object_key(
        pathway_id="image-generation",
        user_id="u-1",
        resource_id="image-generation-m1-exercise",
        submission_id="ab" * 16,
        at=NOW,
        file_name="work.png",
    )
    assert key.path == (
        "pathways/image-generation/users/u-1/resources/image-generation-m1-exercise/"
        + "ab" * 16
        + "/2025-03-04_05-06-07_work.png"
    )
    assert rules.parse_object_path(key.path) == key


@pytest.mark.parametrize(
    "name",
    [
        "folder/Test.cs",
        "pathways/p/users/u/resources/r/" + "ab" * 16 + "/2025-03-04_05-06-07_",
        "pathways/p/users/u/resources/r/notanid/2025-03-04_05-06-07_x.png",
        "pathways/p/users/u/resources/r/" + "ab" * 16 + "/2025-13-04_05-06-07_x.png",
        "pathways/p/users/u/resources/r/" + "ab" * 16 + "/extra/2025-03-04_05-06-07_x.png",
        "pathways/p/users/u/r/" + "ab" * 16 + "/2025-03-04_05-06-07_x.png",
    ],
)
def test_names_outside_the_layout_do_not_parse(name: str) -> None:
    assert rules.parse_object_path(name) is None


def test_uids_that_cannot_be_path_segments() -> None:
    assert rules.valid_uid("Abc123_-.@+")
    assert not rules.valid_uid("a/b")
    assert not rules.valid_uid("")
    assert not rules.valid_uid("x" * 129)


# ---- rate limit ------------------------------------------------------------------------------


def test_ten_per_rolling_hour_then_retry_after_the_oldest_leaves() -> None:
    stamps: list[dt.datetime] = []
    for i in range(10):
        d = rules.rate_limit(stamps, NOW + dt.timedelta(minutes=i), limit=10)
        assert d.allowed
        stamps = d.stamps
    eleventh = rules.rate_limit(stamps, NOW + dt.timedelta(minutes=10), limit=10)
    assert not eleventh.allowed
    assert eleventh.retry_after_seconds == 50 * 60  # the first stamp leaves at NOW + 60 min
    later = rules.rate_limit(stamps, NOW + dt.timedelta(minutes=60, seconds=1), limit=10)
    assert later.allowed
    assert len(later.stamps) == 10  # the oldest was pruned, the new one added


def test_stamps_of_requests_that_committed_first_with_a_later_clock_count() -> None:
    # ten requests stamped a moment after this one's clock reading committed before it
    later = [NOW + dt.timedelta(milliseconds=i) for i in range(1, 11)]
    d = rules.rate_limit(later, NOW, limit=10)
    assert not d.allowed
    nine = rules.rate_limit(later[:9], NOW, limit=10)
    assert nine.allowed
    assert nine.stamps == sorted([NOW, *later[:9]])


def test_retry_after_is_at_least_one_second() -> None:
    stamps = [NOW - dt.timedelta(minutes=59, seconds=59, milliseconds=900)] * 10
    d = rules.rate_limit(stamps, NOW, limit=10)
    assert not d.allowed
    assert d.retry_after_seconds == 1


@given(st.lists(st.integers(min_value=-7200, max_value=0), max_size=30))
def test_the_window_decides_and_retry_after_is_exact(offsets: list[int]) -> None:
    stamps = [NOW + dt.timedelta(seconds=o) for o in offsets]
    in_window = [s for s in stamps if NOW - rules.RATE_WINDOW < s <= NOW]
    d = rules.rate_limit(stamps, NOW, limit=10)
    assert d.allowed == (len(in_window) < 10)
    if d.allowed:
        assert len(d.stamps) == len(in_window) + 1
        assert d.stamps[-1] == NOW
        return
    assert sorted(d.stamps) == sorted(in_window)  # a refusal counts nothing
    wait = dt.timedelta(seconds=d.retry_after_seconds)
    assert rules.rate_limit(d.stamps, NOW + wait, limit=10).allowed
    if d.retry_after_seconds > 1:
        earlier = NOW + wait - dt.timedelta(seconds=1)
        assert not rules.rate_limit(d.stamps, earlier, limit=10).allowed


# ---- magic bytes -----------------------------------------------------------------------------


def verdict(name: str, declared_type: str) -> str | None:
    head = (FILES / name).read_bytes()[: rules.HEAD_BYTES]
    return rules.magic_verdict(declared_type, head, detect_types(head), truncated=False)


def test_real_files_match_their_types() -> None:
    assert verdict("sample.png", "image/png") is None
    assert verdict("sample.pdf", "application/pdf") is None
    assert verdict("notes.md", "text/markdown") is None
    assert verdict("script.sh", "text/plain") is None  # a script is text


def test_a_script_declared_as_png_is_invalid() -> None:
    assert verdict("script.sh", "image/png") == "declared image/png but the content is text"


def test_binaries_declared_as_text_are_invalid() -> None:
    assert verdict("sample.png", "text/markdown") is not None
    assert verdict("sample.pdf", "text/plain") is not None  # %PDF matches a binary signature


def test_a_pdf_declared_as_png_is_invalid() -> None:
    assert verdict("sample.pdf", "image/png") is not None


def test_text_rules() -> None:
    ok = "naïve café ✓\tok\r\n".encode()
    assert rules.magic_verdict("text/plain", ok, [], truncated=False) is None
    assert rules.magic_verdict("text/plain", b"\xef\xbb\xbfbom", [], truncated=False) is None
    assert rules.magic_verdict("text/plain", b"a\x00b", [], truncated=False) is not None
    assert rules.magic_verdict("text/plain", b"a\x1bb", [], truncated=False) is not None
    assert rules.magic_verdict("text/plain", b"\xff\xfe", [], truncated=False) is not None
    # a head cut inside a multi-byte character is still text when the object goes on
    cut = "é".encode() * 3
    assert rules.magic_verdict("text/plain", cut[:-1], [], truncated=True) is None
    assert rules.magic_verdict("text/plain", cut[:-1], [], truncated=False) is not None


def test_upload_verdict_checks_size_and_stored_type() -> None:
    head = (FILES / "sample.png").read_bytes()
    base = {
        "declared_type": "image/png",
        "declared_size": len(head),
        "object_content_type": "image/png",
        "object_size": len(head),
        "accepted_types": ACCEPT,
        "max_file_size_mb": 1,
        "head": head,
        "detected": detect_types(head),
    }
    assert rules.upload_verdict(**base) is None  # type: ignore[arg-type]
    bad: list[dict[str, object]] = [
        {"object_size": 0},
        {"object_size": rules.MIB + 1, "declared_size": rules.MIB + 1},
        {"object_size": len(head) + 1},
        {"object_content_type": "image/jpeg"},
        {"object_content_type": None},
        {"accepted_types": ["application/pdf"]},
    ]
    for change in bad:
        assert rules.upload_verdict(**{**base, **change}) is not None, change  # type: ignore[arg-type]


# ---- the resource status, derived from the learner's submissions -----------------------------

R = ResourceStatus
SS = SubmissionStatus
AT = NOW + dt.timedelta(minutes=5)


@pytest.mark.parametrize(
    ("current", "submissions", "expected"),
    [
        # any approval: reviewed, whatever else there is
        (R.in_progress, [SS.approved], R.reviewed),
        (R.submitted, [SS.rejected, SS.uploaded, SS.approved], R.reviewed),
        (R.not_started, [SS.deleted, SS.approved], R.reviewed),
        # no approval, something awaiting review: submitted
        (R.reviewed, [SS.uploaded, SS.deleted], R.submitted),
        (R.in_progress, [SS.rejected, SS.uploaded], R.submitted),
        (R.completed, [SS.uploaded], R.submitted),
        # nothing valid left: back to in_progress from an upload-related status
        (R.submitted, [SS.deleted], R.in_progress),
        (R.submitted, [SS.invalid], R.in_progress),
        (R.submitted, [SS.rejected, SS.pending_upload], R.in_progress),
        (R.reviewed, [SS.deleted, SS.expired], R.in_progress),
        (R.submitted, [], R.in_progress),
        # ... but a status without upload-related state is the learner's own: kept
        (R.not_started, [SS.invalid], R.not_started),
        (R.not_started, [SS.pending_upload, SS.expired], R.not_started),
        (R.in_progress, [SS.rejected, SS.deleted], R.in_progress),
        (R.completed, [SS.deleted], R.completed),
        (R.in_progress, [], R.in_progress),
    ],
)
def test_resource_status_follows_the_submissions(
    current: ResourceStatus, submissions: list[SubmissionStatus], expected: ResourceStatus
) -> None:
    assert rules.resource_status(current, submissions) == expected
    assert rules.resource_status(current, reversed(submissions)) == expected


def sub(n: int, status: SubmissionStatus, *, uid: str = "alice", rid: str = "ex") -> Submission:
    return Submission(
        submission_id=f"{n:032x}",
        user_id=uid,
        resource_id=rid,
        module_id="m1",
        pathway_id="p",
        attempt=n,
        file_name="x.png",
        content_type="image/png",
        size_bytes=10,
        gcs_bucket="b",
        gcs_path=f"x/{n}",
        status=status,
    )


def settle(
    current: ResourceProgress | None,
    subs: list[Submission],
    written: Submission,
    at: dt.datetime,
    *,
    recorded_upload: bool = False,
) -> ResourceProgress | None:
    """``settle_progress`` given the learner's submissions for the resource (as their index holds
    their statuses)."""
    statuses = {s.submission_id: s.status for s in subs}
    return rules.settle_progress(current, statuses, written, at, recorded_upload=recorded_upload)


def progress(status: ResourceStatus, **kw: Any) -> ResourceProgress:
    return ResourceProgress(resource_id="ex", pathway_id="p", module_id="m1", status=status, **kw)


def test_a_recorded_upload_creates_the_progress_submitted_and_completed() -> None:
    first = sub(1, SS.pending_upload)
    after = settle(
        None, [first], first.model_copy(update={"status": SS.uploaded}), AT, recorded_upload=True
    )
    assert after is not None
    assert (after.resource_id, after.module_id, after.pathway_id) == ("ex", "m1", "p")
    assert after.status == R.submitted
    assert after.submission_count == 1
    assert after.started_at == after.completed_at == after.updated_at == AT


def test_deleting_the_only_upload_goes_back_to_in_progress_keeping_the_count() -> None:
    before = progress(R.submitted, submission_count=1, started_at=NOW, completed_at=NOW)
    only = sub(1, SS.uploaded)
    after = settle(before, [only], only.model_copy(update={"status": SS.deleted}), AT)
    assert after is not None
    assert after.status == R.in_progress
    assert after.completed_at is None
    assert after.started_at == NOW
    assert after.submission_count == 1  # it counts recorded uploads; a delete does not undo one
    assert after.updated_at == AT


def test_rejecting_an_older_attempt_keeps_a_newer_upload_submitted() -> None:
    before = progress(R.submitted, submission_count=2, started_at=NOW, completed_at=NOW)
    older, newer = sub(1, SS.uploaded), sub(2, SS.uploaded)
    written = older.model_copy(update={"status": SS.rejected})
    assert settle(before, [older, newer], written, AT) is None  # nothing changes
    gone = settle(before, [written, newer], newer.model_copy(update={"status": SS.rejected}), AT)
    assert gone is not None
    assert (gone.status, gone.completed_at) == (R.in_progress, None)


def test_an_invalid_overwrite_of_the_only_upload_goes_back_to_in_progress() -> None:
    before = progress(R.submitted, submission_count=1, started_at=NOW, completed_at=NOW)
    only = sub(1, SS.uploaded)
    after = settle(before, [only], only.model_copy(update={"status": SS.invalid}), AT)
    assert after is not None
    assert (after.status, after.completed_at, after.submission_count) == (R.in_progress, None, 1)


def test_an_invalid_first_upload_of_an_untouched_resource_writes_nothing() -> None:
    pending = sub(1, SS.pending_upload)
    written = pending.model_copy(update={"status": SS.invalid})
    assert settle(None, [pending], written, AT) is None
    untouched = progress(R.in_progress, started_at=NOW)
    assert settle(untouched, [pending], written, AT) is None


def test_approval_keeps_an_earlier_completed_at() -> None:
    before = progress(R.submitted, submission_count=1, started_at=NOW, completed_at=NOW)
    mine = sub(1, SS.uploaded)
    after = settle(before, [mine], mine.model_copy(update={"status": SS.approved}), AT)
    assert after is not None
    assert (after.status, after.completed_at) == (R.reviewed, NOW)
    rejected = settle(before, [mine], mine.model_copy(update={"status": SS.rejected}), AT)
    assert rejected is not None
    assert rejected.status == R.in_progress


def test_the_index_records_each_submission_and_counts_attempts() -> None:
    index = ResourceSubmissions(resource_id="ex", user_id="alice")
    first, second = sub(1, SS.pending_upload), sub(2, SS.pending_upload)
    index = rules.with_submission(rules.with_submission(index, first), second)
    assert index.attempts == 2
    uploaded = first.model_copy(update={"status": SS.uploaded})
    index = rules.with_submission(index, uploaded)
    assert index.attempts == 2  # a change of state is not a new attempt
    assert rules.statuses(index) == {
        first.submission_id: SS.uploaded,
        second.submission_id: SS.pending_upload,
    }


def test_a_progress_event_id_is_deterministic_and_names_the_fact() -> None:
    after = progress(R.submitted, submission_count=1)
    one = rules.progress_event("upload_recorded", None, after, AT, "s1", 7)
    assert one == rules.progress_event("upload_recorded", None, after, AT, "s1", 7)
    assert one[0].endswith("-ex-upload_recorded-s1-7")
    assert one[1]["from_status"] == "not_started"
    assert one[1]["to_status"] == "submitted"
    assert rules.progress_event("upload_recorded", None, after, AT, "s1", 8)[0] != one[0]


INITIAL = st.sampled_from(list(ResourceStatus))
STATUSES = st.sampled_from(list(SubmissionStatus))


def consistent(status: ResourceStatus) -> ResourceProgress | None:
    """A stored progress for ``status`` as the services leave it (or none at all)."""
    if status == R.not_started:
        return None
    done = status in (R.completed, R.submitted, R.reviewed)
    return progress(status, started_at=NOW, completed_at=NOW if done else None)


def replay(
    initial: ResourceStatus, writes: list[tuple[int, SubmissionStatus]]
) -> tuple[ResourceProgress | None, dict[int, Submission], list[ResourceStatus]]:
    """Apply ``writes`` one transaction at a time, as the services do; returns the final progress,
    the final submissions and the status after each write."""
    current = consistent(initial)
    subs: dict[int, Submission] = {}
    seen: list[ResourceStatus] = []
    for i, (n, status) in enumerate(writes):
        written = subs.get(n, sub(n, SS.pending_upload)).model_copy(update={"status": status})
        at = AT + dt.timedelta(seconds=i)
        settled = settle(
            current, list(subs.values()), written, at, recorded_upload=status == SS.uploaded
        )
        subs[n] = written
        if settled is not None:
            assert settled.updated_at == at
            current = settled
        seen.append(current.status if current else R.not_started)
    return current, subs, seen


@given(
    INITIAL,
    st.dictionaries(st.integers(min_value=1, max_value=5), STATUSES, min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_any_set_of_submissions_in_any_order_settles_on_the_rule(
    initial: ResourceStatus, final: dict[int, SubmissionStatus], rnd: Any
) -> None:
    order = list(final.items())
    rnd.shuffle(order)
    current, _, _ = replay(initial, order)
    status = current.status if current else R.not_started
    assert status == rules.resource_status(initial, final.values())
    if status in rules.UPLOAD_STATUSES:
        assert current is not None
        assert current.completed_at is not None
    elif status in (R.not_started, R.in_progress):
        assert current is None or current.completed_at is None
    uploads = sum(1 for s in final.values() if s == SS.uploaded)
    assert (current.submission_count if current else 0) == uploads


@given(
    INITIAL,
    st.lists(st.tuples(st.integers(min_value=1, max_value=3), STATUSES), max_size=12),
)
def test_after_every_change_the_status_is_the_rule_on_the_submissions_so_far(
    initial: ResourceStatus, writes: list[tuple[int, SubmissionStatus]]
) -> None:
    current, subs, seen = replay(initial, writes)
    upload_related = initial in rules.UPLOAD_STATUSES
    live: dict[int, SubmissionStatus] = {}
    for (n, status), got in zip(writes, seen, strict=True):
        live[n] = status
        valid = {SS.approved, SS.uploaded} & set(live.values())
        upload_related = upload_related or bool(valid)
        if SS.approved in valid:
            assert got == R.reviewed
        elif SS.uploaded in valid:
            assert got == R.submitted
        else:
            assert got == (R.in_progress if upload_related else initial)
    # a change written again (a retried transaction after it committed) writes nothing
    if writes and current is not None:
        n, status = writes[-1]
        assert settle(current, list(subs.values()), subs[n], AT) is None
