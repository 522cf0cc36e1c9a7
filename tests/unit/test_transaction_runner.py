"""The one transaction runner (``shared.adapters.firestore.run_transaction``) and what its
exhaustion looks like over HTTP. No I/O: a fake client stands in for Firestore's transport (the
client library's own ``transactional`` wrapper runs for real around it)."""

from __future__ import annotations

import json
import threading
from typing import Any

import flask
import pytest
from google.api_core import exceptions

from shared.adapters import firestore as fs
from shared.errors import Unavailable
from shared.http import Call, Router


class FakeTransaction:
    """Just what ``google.cloud.firestore.transactional`` calls on a transaction."""

    def __init__(self, db: FakeDb, max_attempts: int) -> None:
        self.db = db
        self._max_attempts = max_attempts
        self._read_only = False
        self._id: bytes | None = None

    def _clean_up(self) -> None:
        self._id = None

    def _begin(self, retry_id: bytes | None = None) -> None:
        self._id = b"txn"
        self.db.begun += 1

    def _commit(self) -> list[Any]:
        self.db.commits += 1
        if self.db.commit_failures:
            raise self.db.commit_failures.pop(0)
        return []

    def _rollback(self) -> None:
        self.db.rollbacks += 1


class FakeDb:
    def __init__(self, commit_failures: list[Exception] | None = None) -> None:
        self.commit_failures = list(commit_failures or [])
        self.begun = self.commits = self.rollbacks = 0

    def transaction(self, max_attempts: int) -> FakeTransaction:
        return FakeTransaction(self, max_attempts)


def no_sleep(_: float) -> None:
    pass


def test_a_read_aborted_by_a_lock_timeout_runs_the_whole_transaction_again() -> None:
    runs: list[int] = []

    def body(txn: Any) -> str:
        runs.append(1)
        if len(runs) < 3:
            raise exceptions.Aborted("Transaction lock timeout")
        return "done"

    assert fs.run_transaction(FakeDb(), "k", body, sleep=no_sleep) == "done"  # type: ignore[arg-type]
    assert len(runs) == 3


def test_commits_aborted_past_the_clients_retries_are_retried_by_the_runner() -> None:
    aborts: list[Exception] = [exceptions.Aborted("contention")] * (fs.CLIENT_ATTEMPTS + 1)
    db = FakeDb(commit_failures=aborts)
    assert fs.run_transaction(db, "k", lambda txn: 7, sleep=no_sleep) == 7  # type: ignore[arg-type]
    assert db.commits == fs.CLIENT_ATTEMPTS + 2


def test_contention_that_outlasts_the_attempts_is_unavailable_with_backoff_between() -> None:
    waits: list[float] = []
    runs: list[int] = []

    def body(txn: Any) -> None:
        runs.append(1)
        raise exceptions.Aborted("Transaction lock timeout")

    with pytest.raises(Unavailable) as caught:
        fs.run_transaction(FakeDb(), "k", body, attempts=5, sleep=waits.append)  # type: ignore[arg-type]
    assert len(runs) == 5
    assert len(waits) == 4
    assert all(0 <= w <= min(fs.BACKOFF_CAP, fs.BACKOFF_BASE * 2**i) for i, w in enumerate(waits))
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"


def test_a_read_that_timed_out_is_retried_but_a_commit_that_timed_out_is_not() -> None:
    runs: list[int] = []

    def body(txn: Any) -> str:
        runs.append(1)
        if len(runs) == 1:
            raise exceptions.DeadlineExceeded("read timed out")
        return "done"

    assert fs.run_transaction(FakeDb(), "k", body, sleep=no_sleep) == "done"  # type: ignore[arg-type]
    # the commit's outcome is unknown: running the body again could decide against its own write
    db = FakeDb(commit_failures=[exceptions.DeadlineExceeded("commit timed out")])
    runs.clear()
    with pytest.raises(Unavailable, match="outcome is unknown"):
        fs.run_transaction(db, "k", lambda txn: runs.append(1), sleep=no_sleep)  # type: ignore[arg-type]
    assert (len(runs), db.commits) == (1, 1)


def test_other_errors_propagate_at_once() -> None:
    runs: list[int] = []

    def body(txn: Any) -> None:
        runs.append(1)
        raise exceptions.InternalServerError("UNKNOWN: commit outcome unknown")

    with pytest.raises(exceptions.InternalServerError):
        fs.run_transaction(FakeDb(), "k", body, sleep=no_sleep)  # type: ignore[arg-type]
    assert len(runs) == 1


def test_one_key_runs_one_transaction_at_a_time_in_a_process() -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def body(txn: Any) -> None:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        threading.Event().wait(0.01)
        with guard:
            inside -= 1

    threads = [
        threading.Thread(target=fs.run_transaction, args=(FakeDb(), "same", body)) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


def test_the_mapping_round_trips_a_model() -> None:
    from shared.domain.models import ResourceSubmissions, SubmissionEntry, SubmissionStatus

    index = ResourceSubmissions(
        resource_id="r",
        user_id="u",
        attempts=2,
        submissions={"a" * 32: SubmissionEntry(attempt=2, status=SubmissionStatus.uploaded)},
    )
    doc = fs.to_document(index)
    assert doc["submissions"]["a" * 32] == {"attempt": 2, "status": "uploaded"}
    assert fs.from_document(ResourceSubmissions, "resource_id", "r", {**doc, "x": 1}) == index


router = Router("runner-test")


@router.get("/busy", auth="none")
def busy(call: Call) -> dict[str, Any]:
    raise Unavailable("too much contention", retry_after_seconds=2)


def test_unavailable_is_a_503_json_error_with_retry_after() -> None:
    app = flask.Flask(__name__)
    with app.test_request_context("/busy", method="GET"):
        reply = router(flask.request)
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "2"
    assert json.loads(reply.get_data())["error"]["code"] == "unavailable"


def test_a_plain_read_that_times_out_is_unavailable() -> None:
    with pytest.raises(Unavailable), fs.plain_read():
        raise exceptions.DeadlineExceeded("busy")
    with pytest.raises(exceptions.NotFound), fs.plain_read():
        raise exceptions.NotFound("other errors pass through")


class FlakyBatch:
    """A write batch whose first commits fail as Firestore's do (a failed commit writes nothing)."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.commits = 0

    def commit(self) -> None:
        self.commits += 1
        if self.failures:
            raise self.failures.pop(0)


def test_a_batch_aborted_behind_a_lock_is_committed_again() -> None:
    waits: list[float] = []
    batch = FlakyBatch(
        [exceptions.Aborted("Transaction lock timeout"), exceptions.ServiceUnavailable("x")]
    )
    fs.commit_batch(batch, sleep=waits.append)
    assert batch.commits == 3
    assert len(waits) == 2
    assert 0.25 <= waits[0] <= 0.5
    assert 0.5 <= waits[1] <= 1.0


def test_a_batch_still_aborted_after_its_patience_raises_and_other_errors_are_not_retried() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    batch = FlakyBatch([exceptions.Aborted("lock")] * 100)
    with pytest.raises(exceptions.Aborted):
        fs.commit_batch(batch, patience=20.0, sleep=sleep, clock=lambda: now[0])
    assert 4 <= batch.commits <= 8
    assert now[0] <= 20.0
    refused = FlakyBatch([exceptions.InvalidArgument("bad")])
    with pytest.raises(exceptions.InvalidArgument):
        fs.commit_batch(refused, sleep=lambda _: None)
    assert refused.commits == 1
