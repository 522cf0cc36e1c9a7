"""The instructor's recent decisions (``GET /admin/submissions/decided``), what the revise button
starts from, against the local cloud: newest decision first, paged, with the context and the
decision; a revision moves the submission to the top with its new revision number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.emulator.test_submissions_e2e import IMG_PROJECT, PDF, Learner
from tests.helpers import enrol_in_cohort, unique

pytestmark = pytest.mark.cloud


def uploaded(me: Learner) -> tuple[str, str]:
    sid = me.upload(IMG_PROJECT, "work.pdf", "application/pdf", PDF)["submission_id"]
    return sid, str(me.wait_status(sid, "uploaded", timeout=60)["gcs_generation"])


def decided(review: Any, token: str, status: str, limit: int = 2) -> list[dict[str, Any]]:
    """The first pages (at most 10) of the decided list."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"status": status, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        reply = review.get("/admin/submissions/decided", token=token, params=params)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        items += page["submissions"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return items


def test_recent_decisions_newest_first_with_context_and_revisions(
    api: Any, mint: Callable[..., str], db: Any, stack: dict[str, Any]
) -> None:
    review = api("review")
    teacher_uid = unique("teach")
    teacher = mint(teacher_uid, instructor=True)
    ann = Learner(unique("ann"), api, mint, db)
    ann.token = mint(ann.uid, extra={"name": "Ann Decided"})
    bob = Learner(unique("bob"), api, mint, db)
    enrol_in_cohort(stack, [ann.uid, bob.uid], instructors=[teacher_uid])
    first, gen1 = uploaded(ann)
    second, gen2 = uploaded(bob)
    body = {"decision": "approve", "generation": gen1, "grade": 70, "comments": "ok"}
    assert review.post(f"/admin/submissions/{first}/review", token=teacher, json=body).ok
    body = {"decision": "approve", "generation": gen2, "grade": 80, "comments": "fine"}
    assert review.post(f"/admin/submissions/{second}/review", token=teacher, json=body).ok

    items = decided(review, teacher, "approved")
    ids = [i["submission_id"] for i in items]
    assert ids.index(second) < ids.index(first)  # the latest decision first
    stamps = [i["reviewed_at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    mine = next(i for i in items if i["submission_id"] == first)
    assert (mine["grade"], mine["revision"], mine["review_comments"]) == (70, 0, "ok")
    assert (mine["learner_name"], mine["resource_title"]) == (
        "Ann Decided",
        "Illustrate a short story",
    )
    assert mine["reviewed_by"]
    # an instructor of other cohorts sees none of these decisions
    stranger = mint(unique("other-teach"), instructor=True)
    seen = {i["submission_id"] for i in decided(review, stranger, "approved")}
    assert seen.isdisjoint({first, second})

    revise = {"decision": "reject", "revision": 0, "grade": 20, "comments": "redo", "reason": "r"}
    reply = review.post(f"/admin/submissions/{first}/revise", token=teacher, json=revise)
    assert reply.status_code == 200, reply.text
    rejected = decided(review, teacher, "rejected")
    top = next(i for i in rejected if i["submission_id"] == first)
    assert (top["revision"], top["revision_reason"], top["grade"]) == (1, "r", 20)
    assert first not in [i["submission_id"] for i in decided(review, teacher, "approved")]


def test_the_decided_list_refuses_learners_and_bad_queries(
    api: Any, mint: Callable[..., str]
) -> None:
    review = api("review")
    reply = review.get("/admin/submissions/decided", token=mint(unique("l")))
    assert reply.status_code == 403
    teacher = mint(unique("teach"), instructor=True)
    for params in ({"status": "uploaded"}, {"limit": "0"}, {"cursor": "nope"}, {"x": "1"}):
        reply = review.get("/admin/submissions/decided", token=teacher, params=params)
        assert reply.status_code == 400, (params, reply.text)
        assert reply.json()["error"]["code"] == "invalid_argument"
