"""The LRS push (shared/services/lrs.py) over a fake transport: batches, 409 handled one statement
at a time, retries on 5xx and broken connections, a refusal stops the push."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.services import lrs


class FakeLrs(lrs.LrsClient):
    """An LRS in memory behind ``_once``: 409 for a batch naming an id it holds."""

    def __init__(self, answers: list[Any] | None = None) -> None:
        super().__init__("https://lrs.example/xapi", "u", "p", sleep=lambda _s: None)
        self.held: dict[str, Any] = {}
        self.calls: list[tuple[str, str]] = []
        self.scripted = list(answers or [])

    def _once(self, method: str, url: str, body: bytes) -> lrs.Answer:
        self.calls.append((method, url))
        if self.scripted:
            answer = self.scripted.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return lrs.Answer(answer, b"")
        data = json.loads(body)
        if method == "POST":
            if any(s["id"] in self.held for s in data):
                return lrs.Answer(409, b"")
            self.held.update({s["id"]: s for s in data})
            return lrs.Answer(200, json.dumps([s["id"] for s in data]).encode())
        if data["id"] in self.held:
            return lrs.Answer(409, b"")
        self.held[data["id"]] = data
        return lrs.Answer(204, b"")


def statements(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"id-{i}", "verb": {"id": "v"}} for i in range(start, start + n)]


def test_statements_go_in_batches_and_a_second_push_finds_them_stored() -> None:
    client = FakeLrs()
    tally = lrs.push(statements(7), client, size=3)
    assert (tally.sent, tally.already, tally.batches) == (7, 0, 3)
    assert client.headers["X-Experience-API-Version"] == "1.0.3"
    assert client.headers["Authorization"] == "Basic dTpw"
    again = lrs.push(statements(9), client, size=3)  # 7 stored, 2 new
    assert (again.sent, again.already) == (2, 7)
    assert sorted(client.held) == sorted(s["id"] for s in statements(9))


def test_5xx_and_broken_connections_are_retried_then_given_up() -> None:
    client = FakeLrs([503, ConnectionResetError("reset"), 429])
    tally = lrs.push(statements(2), client, size=5)
    assert (tally.sent, tally.retries) == (2, 3)
    failing = FakeLrs([500] * lrs.ATTEMPTS)
    with pytest.raises(lrs.LrsError, match="failed 6 times"):
        lrs.push(statements(1), failing)


def test_a_refusal_stops_the_push_and_the_endpoint_must_be_http() -> None:
    with pytest.raises(lrs.LrsError, match="HTTP 400"):
        lrs.push(statements(1), FakeLrs([400]))
    with pytest.raises(lrs.LrsError, match="http"):
        lrs.LrsClient("file:///etc/passwd", "u", "p")
