"""The one way into Firestore: the client, the mapping between models and documents, and the
transaction runner every store uses.

The client is created lazily, once per process (it honours ``FIRESTORE_EMULATOR_HOST``).

Mapping: :func:`to_document` and :func:`from_document` are the only code that turns a pydantic model
into Firestore fields and back (datetimes stay timestamps, enums become their values; fields a
model does not know are ignored, so other flows may add some; the document id fills the model's id
field).

Transactions (:func:`run_transaction`): Firestore may run a transaction body again, so a body reads
first, then writes, and has no side effect but its writes. The runner

- serialises, inside one process, the transactions that name the same ``lock`` key (a
  :class:`KeyedLocks`): correctness never depends on it (the transactions do), it avoids lock
  waits. The server SDK's transactions lock what they read; the emulator makes a conflicting
  transaction wait for its lock timeout (2 s) and then aborts it, and in a deadlock (two
  transactions that read a document and then both write it) it aborts both;
- retries the whole transaction on ABORTED (from a commit, or from a read whose lock wait timed
  out, which the client library does not retry) and on a read's transient ``UNAVAILABLE`` /
  ``DEADLINE_EXCEEDED``, a bounded number of times with jittered exponential backoff: in all of
  those nothing was committed. A commit that failed with ``UNAVAILABLE`` / ``DEADLINE_EXCEEDED``
  may have landed, so it is not run again: it becomes :class:`~shared.errors.Unavailable` at once.
  Any other error propagates unchanged;
- when the attempts are exhausted raises :class:`~shared.errors.Unavailable` (HTTP: 503 with
  ``Retry-After``; a trigger lets it propagate and the event is delivered again).
"""

from __future__ import annotations

import enum
import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from shared import log
from shared.config import settings
from shared.errors import Unavailable

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

ATTEMPTS = 8  # whole-transaction runs before Unavailable
# Runs the client library makes itself (it retries at once, with no pause): one. Measured on the
# emulator, which ends a lock-wait cycle by aborting EVERY transaction in it after 2 s: the
# parties' immediate retries met again in the same cycle, so three client attempts under eight
# runs let a progress POST wait 30 s (tests/emulator/test_reconcile_e2e.py, learners acting while
# reconcile runs; 1 run in 3). Every retry now goes through the jittered backoff below, which
# spreads the parties apart: worst case about 8 x 2 s of lock waits plus 5 s of backoff, a 503
# after that; measured max 12 s over 14 runs of that test. Production Firestore (wound-wait) aborts
# only the younger transaction, at once, so the retry there costs the backoff alone.
CLIENT_ATTEMPTS = 1
BACKOFF_BASE = 0.05  # seconds; doubled per attempt, capped, with full jitter
BACKOFF_CAP = 2.0


@functools.cache
def client() -> firestore.Client:
    from google.cloud import firestore

    return firestore.Client(project=settings().project_id)


class LazyClient:
    """Base of every Firestore adapter: holds the client it was given (tests), else the process's
    client, created on first use (nothing connects at import or construction)."""

    def __init__(self, db: firestore.Client | None = None) -> None:
        self._db = db

    @property
    def db(self) -> firestore.Client:
        if self._db is None:
            self._db = client()
        return self._db


# ---- mapping ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_document(model: BaseModel, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """A model as Firestore fields: datetimes stay timestamps, enums become their values."""
    return {k: _plain(v) for k, v in model.model_dump(exclude=exclude).items()}


def from_document(
    model: type[M],
    id_field: str | None,
    doc_id: str,
    data: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> M:
    """The model a document holds: unknown fields ignored, ``id_field`` filled from the id."""
    known = {**(defaults or {}), **{k: v for k, v in data.items() if k in model.model_fields}}
    if id_field is not None:
        known[id_field] = doc_id
    return model.model_validate(known)


# ---- the transaction runner ------------------------------------------------------------------


class KeyedLocks:
    """One lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


WRITERS = KeyedLocks()


class _ReadFailed(Exception):
    """A transient error raised inside the body (by a read): nothing was committed."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _transient() -> tuple[type[Exception], ...]:
    from google.api_core import exceptions

    return (exceptions.Aborted, exceptions.ServiceUnavailable, exceptions.DeadlineExceeded)


def _commit_aborted(exc: BaseException) -> bool:
    """The client library wraps its last ABORTED commit in a ValueError once it stops retrying;
    ABORTED means nothing was committed."""
    from google.api_core import exceptions

    return isinstance(exc, exceptions.Aborted) or (
        isinstance(exc, ValueError) and isinstance(exc.__cause__, exceptions.Aborted)
    )


@contextmanager
def plain_read() -> Iterator[None]:
    """Around a read outside a transaction: a transient backend error (UNAVAILABLE,
    DEADLINE_EXCEEDED) becomes :class:`~shared.errors.Unavailable` (HTTP 503 + Retry-After), not a
    500. (The client library has already retried it with its own backoff.)"""
    from google.api_core import exceptions

    try:
        yield
    except (exceptions.ServiceUnavailable, exceptions.DeadlineExceeded) as exc:
        raise Unavailable("the database is busy right now; try again shortly") from exc


def backoff(attempt: int) -> float:
    """Seconds to wait before run ``attempt + 1``: full jitter over a capped exponential."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def commit_batch(
    batch: Any,
    *,
    patience: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Commit a write batch, again after a growing, jittered wait (0.5 s doubling to 8 s) while
    Firestore says to try again (ABORTED: a lock it needed timed out behind transactions;
    UNAVAILABLE; DEADLINE_EXCEEDED), for up to ``patience`` seconds. A batch is atomic, so a failed
    commit wrote nothing and the same batch can be sent again."""
    deadline = clock() + patience
    attempt = 0
    while True:
        try:
            batch.commit()
            return
        except _transient() as exc:
            ceiling = min(8.0, 0.5 * 2**attempt)
            wait = random.uniform(ceiling / 2, ceiling)
            if clock() + wait > deadline:
                raise
            attempt += 1
            log.warning(
                "batch commit retried",
                attempt=attempt,
                wait_s=round(wait, 3),
                error=type(exc).__name__,
            )
            sleep(wait)


def run_transaction(
    db: firestore.Client,
    lock: str,
    body: Callable[[Any], R],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> R:
    """Run ``body(transaction)`` in a Firestore transaction; see the module docstring."""
    from google.cloud import firestore

    transient = _transient()

    def guarded(txn: Any) -> R:
        try:
            return body(txn)
        except transient as exc:
            raise _ReadFailed(exc) from exc

    run: Callable[[Any], R] = firestore.transactional(guarded)
    last: BaseException | None = None
    for attempt in range(attempts):
        with WRITERS.hold(lock):
            try:
                return run(db.transaction(max_attempts=CLIENT_ATTEMPTS))
            except _ReadFailed as exc:
                last = exc.cause
            except Exception as exc:
                if isinstance(exc, transient) and not _commit_aborted(exc):
                    # A commit that timed out or lost its connection may have landed: running the
                    # transaction again could decide against its own write. Say so; do not retry.
                    raise Unavailable(
                        "the service is busy and the outcome is unknown; check before retrying",
                        retry_after_seconds=1,
                    ) from exc
                if not _commit_aborted(exc):
                    raise
                last = exc
        log.warning(
            "transaction contended; running it again",
            lock=lock,
            attempt=attempt + 1,
            error=type(last).__name__,
        )
        if attempt < attempts - 1:
            sleep(backoff(attempt))
    raise Unavailable(
        "too much contention on this data right now; try again shortly", retry_after_seconds=1
    ) from last
