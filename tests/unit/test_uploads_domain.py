"""Pure upload rules: names, types, paths, the rate-limit window, magic-byte verdicts (no I/O)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain import uploads as rules
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
