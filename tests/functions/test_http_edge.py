"""The HTTP edge through functions-framework's real app (``create_app(...).test_client()``) on main.py.

Every answer is the one JSON error with CORS headers, including the ones the framework itself makes
(``/robots.txt``), and the refusals happen before any adapter is used: the adapters are tripwires.
gunicorn's own error page (headers it cannot parse) is replaced by :func:`write_gunicorn_error`,
checked here on a fake socket and against the running local cloud in tests/emulator.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from localcloud.tokens import mint
from shared import bootstrap
from shared.http import MAX_JSON_DEPTH, write_gunicorn_error

SOURCE = str(Path(__file__).resolve().parents[2] / "main.py")
ORIGIN = "http://app.test"


class Tripwire:
    """Stands in for Firestore: a refused request must never reach it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused request reached an adapter ({name})")


@pytest.fixture(autouse=True)
def _edge(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:1")  # unsigned tokens, no I/O
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-aibc")
    monkeypatch.setenv("CORS_ORIGINS", ORIGIN)
    adapters = bootstrap.NAMES - {"settings", "reconcile_page_size"}
    with bootstrap.override(**{name: Tripwire() for name in adapters}):
        yield


def client(target: str) -> Any:
    app = create_app(target, SOURCE, "http")  # type: ignore[no-untyped-call]
    return app.test_client()


def auth(uid: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(uid, **kw)}", "Origin": ORIGIN}


def assert_json_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.get_data(as_text=True)
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    body: dict[str, Any] = json.loads(reply.get_data())
    assert body["error"]["code"] == code
    return body


def test_the_frameworks_own_404_is_a_json_error_with_cors() -> None:
    for path in ("/robots.txt", "/favicon.ico"):
        reply = client("progress").get(path, headers={"Origin": ORIGIN})
        assert_json_error(reply, 404, "not_found")
        assert "<html" not in reply.get_data(as_text=True).lower()


@pytest.mark.parametrize("uid", [".", "..", "__x__", "a/b"])
def test_a_uid_that_is_not_an_id_is_401_before_any_write(uid: str) -> None:
    progress = client("progress")
    reply = progress.post("/users/me/resources/r1/complete", headers=auth(uid))
    assert_json_error(reply, 401, "unauthenticated")
    reply = progress.put(
        "/api/v1/users/me/resources/r1/progress",
        headers=auth(uid),
        json={"progress_percentage": 10, "time_spent_minutes": 1},
    )
    assert_json_error(reply, 401, "unauthenticated")
    uploads = client("uploads").post(
        "/users/me/resources/r1/upload-url",
        headers=auth(uid),
        json={"file_name": "a.png", "content_type": "image/png", "size_bytes": 10},
    )
    assert_json_error(uploads, 401, "unauthenticated")
    review = client("review").get("/admin/submissions/pending", headers=auth(uid, instructor=True))
    assert_json_error(review, 401, "unauthenticated")


def test_deeply_nested_json_is_400() -> None:
    deep = '{"progress_percentage": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    reply = client("progress").put(
        "/users/me/resources/r1/progress",
        headers=auth("nester"),
        data=deep,
        content_type="application/json",
    )
    assert_json_error(reply, 400, "invalid_argument")
    abyss = "[" * 30_000 + "]" * 30_000  # under 64 KiB, past the parser's recursion
    reply = client("progress").put(
        "/users/me/resources/r1/progress",
        headers=auth("nester"),
        data=abyss,
        content_type="application/json",
    )
    assert_json_error(reply, 400, "invalid_argument")


def cursor(when: str, submission_id: str = "s1") -> str:
    raw = json.dumps([when, submission_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "10000-01-01T00:00:00+00:00",
        "2026-13-01T00:00:00+00:00",
        "2026-01-01T00:00:00",  # no zone
    ],
)
def test_a_cursor_with_an_out_of_range_date_is_400(when: str) -> None:
    reply = client("review").get(
        f"/admin/submissions/pending?cursor={cursor(when)}",
        headers=auth("teacher", instructor=True),
    )
    assert_json_error(reply, 400, "invalid_argument")


def test_405_carries_allow_through_the_real_app() -> None:
    reply = client("progress").patch("/users/me/resources/r1/complete", headers=auth("a"))
    assert_json_error(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == "OPTIONS, POST"
    reply = client("progress").delete("/users/me/resources/r1/progress", headers=auth("a"))
    assert reply.headers["Allow"] == "GET, OPTIONS, PUT"


def test_an_unknown_id_in_the_path_is_404_without_echo() -> None:
    reply = client("progress").get("/users/me/progress/" + "x" * 3000, headers=auth("a"))
    body = assert_json_error(reply, 404, "not_found")
    assert len(body["error"]["message"]) < 40


class FakeSocket:
    def __init__(self) -> None:
        self.sent = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: int) -> None:  # pragma: no cover - timeout is 0
        pass

    def send(self, data: bytes) -> int:
        self.sent += data
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.sent += data


def test_gunicorns_error_page_is_a_json_error() -> None:
    sock = FakeSocket()
    write_gunicorn_error(sock, 431, "Request Header Fields Too Large", "x" * 9000)
    head, _, body = sock.sent.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    assert "Content-Type: application/json" in lines
    assert f"Access-Control-Allow-Origin: {ORIGIN}" in lines
    assert f"Content-Length: {len(body)}" in lines
    error = json.loads(body)["error"]
    assert error["code"] == "too_large"
    assert len(error["message"]) < 120
