"""Review-queue benchmark (prints numbers; not a test). Needs the local cloud (`make up`).

    python -m bench.bench_review                       # 300 learners, 6 earlier attempts each
    make bench-review BENCH_ARGS="--learners 100"

Seeds (straight into the Firestore emulator, as the functions would have left them) one resource of
its own, N learners each with a profile, ``--earlier`` reviewed attempts and one upload awaiting
review (the submissions and the per-resource index). Then, through the ``review`` function:

- pages through the queue of that resource (``limit=100``), printing per page the reply time and
  the documents the page read by key (profiles + indexes + earlier submissions, counted from the
  reply: what the queue reads does not depend on how many attempts a learner has);
- approves the first 50 with one bulk call, twice (the repeat must apply 0), printing both times;
- checks every item showed the learner's name, the titles and at most 5 earlier attempts.

Measured on 2026-11-25 (2 cores shared with other local clouds), 300 learners x 7 attempts: 3 pages,
page reply p50 408 ms / max 417 ms warm (1.9 s for a process's first page), at most 700 documents
read by key per page of 100 (+1 query); bulk approval of 50: 0.98 s (8.3 s with the items one after
another, before they ran 8 at a time), the repeat 0.28 s applying 0. 100 learners x 3 attempts:
one page in 231 ms reading 400 documents; bulk 0.59 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bench.bench_progress import load_stack, pct
from localcloud.tokens import mint

ROOT = Path(__file__).resolve().parent.parent
PATHWAY = "image-generation"
MODULE = f"{PATHWAY}-m1"


def seed(db: Any, run: str, resource: str, learners: int, earlier: int) -> list[str]:
    """Returns the ids of the submissions awaiting review."""
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    db.document(f"resources/{resource}").set(
        {
            "pathway_id": PATHWAY,
            "module_id": MODULE,
            "title": f"Bench project {run}",
            "type": "project",
            "order": 99,
            "requires_upload": True,
            "accepted_file_types": ["application/pdf"],
            "max_file_size_mb": 10,
        }
    )
    waiting: list[str] = []
    batch, writes = db.batch(), 0
    for i in range(learners):
        uid = f"bench-{run}-{i:05d}"
        entries = {}
        for attempt in range(1, earlier + 2):
            sid = f"{run}{i:05d}a{attempt:03d}"
            last = attempt == earlier + 1
            status = "uploaded" if last else ("rejected" if attempt % 2 else "approved")
            at = t0 + dt.timedelta(seconds=i, milliseconds=attempt)
            doc = {
                "submission_id": sid,
                "user_id": uid,
                "resource_id": resource,
                "module_id": MODULE,
                "pathway_id": PATHWAY,
                "attempt": attempt,
                "file_name": f"attempt{attempt}.pdf",
                "content_type": "application/pdf",
                "size_bytes": 1000,
                "declared_size_bytes": 1000,
                "gcs_bucket": "bench",
                "gcs_path": f"bench/{uid}/{sid}.pdf",
                "gcs_generation": 1_700_000_000_000_000 + i * 100 + attempt,
                "counted_generations": [1_700_000_000_000_000 + i * 100 + attempt],
                "status": status,
                "created_at": at,
                "uploaded_at": at,
                # learners of the bench teacher's cohort: the queue is the scoped one
                "cohort_ids": [f"bench-{run}"],
                "instructor_uids": [f"bench-teacher-{run}"],
            }
            if not last:
                doc.update(
                    reviewed_by="bench-teacher",
                    reviewed_at=at,
                    grade=50 + attempt,
                    review_comments=f"comment on attempt {attempt}",
                )
            else:
                waiting.append(sid)
            batch.set(db.document(f"submissions/{sid}"), doc)
            entries[sid] = {"attempt": attempt, "status": status}
            writes += 1
        batch.set(
            db.document(f"users/{uid}/resource_submissions/{resource}"),
            {
                "resource_id": resource,
                "user_id": uid,
                "attempts": earlier + 1,
                "submissions": entries,
            },
        )
        batch.set(
            db.document(f"users/{uid}"),
            {"display_name": f"Learner {i}", "email": f"{uid}@example.com"},
        )
        # the learner's membership: the bench teacher may review them (shared/services/access.py)
        batch.set(
            db.document(f"memberships/{uid}"),
            {
                "uid": uid,
                "cohort_ids": [f"bench-{run}"],
                "instructor_uids": [f"bench-teacher-{run}"],
            },
        )
        writes += 3
        if writes >= 400:
            batch.commit()
            batch, writes = db.batch(), 0
    batch.commit()
    return waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--earlier", type=int, default=6)
    args = parser.parse_args()
    stack = load_stack(ROOT / ".local" / "stack.json")
    from google.cloud import firestore

    db = firestore.Client(project=stack["project_id"])
    run = uuid.uuid4().hex[:8]
    resource = f"bench-review-{run}"
    started = time.monotonic()
    waiting = seed(db, run, resource, args.learners, args.earlier)
    print(
        f"seeded {args.learners} learners x {args.earlier + 1} attempts "
        f"in {time.monotonic() - started:.1f} s"
    )
    base = stack["functions"]["review"]
    teacher = mint(f"bench-teacher-{run}", instructor=True, project_id=stack["project_id"])
    headers = {"Authorization": f"Bearer {teacher}"}
    session = requests.Session()
    times: list[float] = []
    reads: list[int] = []
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"resource_id": resource, "limit": "100", **({"cursor": cursor} if cursor else {})}
        t = time.monotonic()
        reply = session.get(f"{base}/admin/submissions/pending", params=params, headers=headers)
        times.append(1000 * (time.monotonic() - t))
        if reply.status_code != 200:
            sys.exit(f"queue: {reply.status_code} {reply.text}")
        page = reply.json()
        items = page["submissions"]
        seen += items
        reads.append(
            len({i["user_id"] for i in items})  # profiles
            + len(items)  # per-resource indexes
            + sum(len(i["earlier_attempts"]) for i in items)  # earlier submissions
        )
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ok = all(
        i["learner_name"]
        and i["resource_title"]
        and i["pathway_title"]
        and len(i["earlier_attempts"]) == min(5, args.earlier)
        and i["earlier_attempts_total"] == args.earlier
        for i in seen
    )
    print(
        f"queue: {len(seen)} of {len(waiting)} items in {len(times)} pages of <= 100; "
        f"page reply p50 {statistics.median(times):.0f} ms / max {max(times):.0f} ms / "
        f"p95 {pct(times, 95):.0f} ms; documents read by key per page: max {max(reads)} "
        f"(+1 query); every item with name, titles and earlier attempts: {ok}"
    )
    by_id = {i["submission_id"]: i for i in seen}
    items = [
        {"submission_id": sid, "generation": by_id[sid]["gcs_generation"]}
        for sid in waiting[:50]
        if sid in by_id
    ]
    if not items:
        sys.exit("nothing to approve: the queue showed none of the seeded submissions")
    for label in ("bulk approve 50", "the same bulk call again"):
        t = time.monotonic()
        reply = session.post(
            f"{base}/admin/submissions/bulk-review",
            json={"submissions": items, "grade": 80},
            headers=headers,
            timeout=300,
        )
        took = time.monotonic() - t
        body = reply.json()
        statuses = sorted({r["status"] for r in body.get("results", [])})
        print(
            f"{label}: HTTP {reply.status_code} in {took:.2f} s, applied {body.get('approved')}, "
            f"item statuses {statuses}"
        )


if __name__ == "__main__":
    main()
