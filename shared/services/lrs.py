"""Pushing xAPI statements to a Learning Record Store (``python -m ops xapi``).

Statements go in batches (``POST {endpoint}/statements``, a JSON array; Basic auth;
``X-Experience-API-Version: 1.0.3``). Their ids are derived from the progress events
(:func:`shared.domain.exports.statement_id`), so a push may run again at any time: an LRS answers
200 for a batch it stored (a statement it already holds unchanged is accepted again, as xAPI
1.0.3 allows), and 409 when the batch names a statement id it holds with other content (some LRSs
answer 409 for any id they hold). A batch refused with 409 is sent again one statement at a time
(``PUT /statements?statementId=``): 204 is sent, 409 is "already stored". A 5xx, 429 or a broken
connection is retried with jittered exponential backoff a bounded number of times; any other
answer stops the push with :class:`LrsError`.
"""

from __future__ import annotations

import base64
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.domain.exports import XAPI_VERSION

ATTEMPTS = 6
BACKOFF_BASE = 0.2
BACKOFF_CAP = 10.0
BATCH = 100


class LrsError(RuntimeError):
    """The LRS refused a request (or stayed unreachable after the retries)."""


@dataclass
class PushTally:
    sent: int = 0
    already: int = 0
    batches: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class LrsClient:
    def __init__(
        self,
        endpoint: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
            raise LrsError(f"LRS_ENDPOINT must be an http(s) URL, not {endpoint[:100]!r}")
        self.endpoint = endpoint.rstrip("/") + "/"
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {
            "Authorization": f"Basic {token}",
            "X-Experience-API-Version": XAPI_VERSION,
            "Content-Type": "application/json",
        }
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep
        self.retries = 0

    def _once(self, method: str, url: str, body: bytes) -> Answer:
        # The URL is the operator's LRS_ENDPOINT, checked to be http(s) by the constructor.
        request = urllib.request.Request(url, data=body, method=method, headers=self.headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                return Answer(reply.status, reply.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read())

    def send(self, method: str, path: str, body: Any) -> Answer:
        """One request, retried on 5xx, 429 and connection errors."""
        url = urllib.parse.urljoin(self.endpoint, path)
        data = json.dumps(body, separators=(",", ":")).encode()
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                self.retries += 1
                self.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
            try:
                answer = self._once(method, url, data)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                problem = repr(exc)
                continue
            if answer.status >= 500 or answer.status == 429:
                problem = f"HTTP {answer.status}"
                continue
            return answer
        raise LrsError(f"{method} {url} failed {self.attempts} times (last: {problem})")

    def push_batch(self, statements: list[dict[str, Any]], tally: PushTally) -> None:
        answer = self.send("POST", "statements", statements)
        tally.batches += 1
        if answer.status == 200:
            tally.sent += len(statements)
            return
        if answer.status != 409:
            raise LrsError(f"the LRS refused a batch: HTTP {answer.status} {answer.body[:300]!r}")
        for one in statements:
            sid = urllib.parse.quote(str(one["id"]))
            single = self.send("PUT", f"statements?statementId={sid}", one)
            if single.status in (200, 204):
                tally.sent += 1
            elif single.status == 409:
                tally.already += 1
            else:
                raise LrsError(
                    f"the LRS refused statement {one['id']}: HTTP {single.status} "
                    f"{single.body[:300]!r}"
                )


def batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def push(statements: Iterable[dict[str, Any]], client: LrsClient, size: int = BATCH) -> PushTally:
    """Push every statement in batches of ``size``; the tally says what was sent and what the LRS
    held already."""
    tally = PushTally()
    for batch in batches(statements, size):
        client.push_batch(batch, tally)
    tally.retries = client.retries
    return tally
