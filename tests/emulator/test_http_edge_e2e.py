"""The HTTP edge of the running functions (gunicorn under functions-framework, as in production).

Raw sockets send what no HTTP client library would: a header field over gunicorn's 8190-byte limit,
more than 100 header fields, a malformed request line or header name. gunicorn refuses them before
the application runs; the answer must still be the one JSON error with CORS headers.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers import unique

pytestmark = pytest.mark.cloud

RESOURCE = "prompt-engineering-m1-video"


def raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` bytes to the function at ``url``; the status, headers and body."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def request(origin: str, *extra: str, line: str = "GET /users/me/progress/x HTTP/1.1") -> bytes:
    head = [line, "Host: 127.0.0.1", f"Origin: {origin}", "Connection: close", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin1")


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, origin: str) -> None:
    code, headers, body = answer
    assert code == status, body
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == origin
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"}
    assert len(error["message"]) <= 120


@pytest.mark.parametrize("function", ["progress", "uploads", "review", "resources"])
def test_an_oversized_header_is_a_json_431_with_cors(cloud: dict[str, Any], function: str) -> None:
    url, origin = cloud["functions"][function], cloud["web"]
    answer = raw(url, request(origin, "X-Big: " + "a" * 9000))
    assert_json_error(answer, 431, origin)


def test_too_many_headers_is_a_json_431(cloud: dict[str, Any]) -> None:
    url, origin = cloud["functions"]["progress"], cloud["web"]
    many = [f"X-H{i}: {i}" for i in range(120)]
    assert_json_error(raw(url, request(origin, *many)), 431, origin)


@pytest.mark.parametrize(
    ("line", "extra"),
    [
        ("NOT AN HTTP REQUEST", []),
        ("GET /x HTTP/9.9", []),
        ("GET /users/me/progress/x HTTP/1.1", ["Bad Header Name: x"]),
        ("GET /users/me/progress/x HTTP/1.1", ["Content-Length: many"]),
    ],
)
def test_a_malformed_request_is_a_json_400(
    cloud: dict[str, Any], line: str, extra: list[str]
) -> None:
    url, origin = cloud["functions"]["progress"], cloud["web"]
    answer = raw(url, request(origin, *extra, line=line))
    assert 400 <= answer[0] < 500
    assert_json_error(answer, answer[0], origin)


def test_the_servers_own_404_is_json(cloud: dict[str, Any]) -> None:
    origin = cloud["web"]
    reply = requests.get(
        cloud["functions"]["progress"] + "/robots.txt", headers={"Origin": origin}, timeout=30
    )
    assert reply.status_code == 404
    assert reply.headers["Access-Control-Allow-Origin"] == origin
    assert reply.json()["error"]["code"] == "not_found"


def test_concurrent_calls_with_bad_uids_are_401_and_write_nothing_while_good_ones_write(
    cloud: dict[str, Any], mint: Any, db: Any
) -> None:
    url = cloud["functions"]["progress"] + f"/users/me/resources/{RESOURCE}/complete"
    stem = unique("edge")
    good = [f"{stem}-{i}" for i in range(4)]
    bad = [".", "..", "__x__", f"{stem}/evil", f"{stem}/../{stem}-0", "__proto__"]

    def complete(uid: str) -> tuple[str, int]:
        reply = requests.post(url, headers={"Authorization": f"Bearer {mint(uid)}"}, timeout=90)
        return uid, reply.status_code

    with ThreadPoolExecutor(len(good) + len(bad)) as pool:
        results = dict(pool.map(complete, good + bad))
    assert {results[u] for u in bad} == {401}, results
    assert {results[u] for u in good} <= {200, 503}, results
    for uid in good:
        if results[uid] == 200:
            snap = db.document(f"users/{uid}/resource_progress/{RESOURCE}").get()
            assert snap.exists
            assert snap.to_dict()["status"] == "completed"
    # nothing under the stem's document other than what the good uids wrote
    assert list(db.collection("users").document(stem).collections()) == []


@pytest.mark.parametrize(
    ("when", "status"),
    [
        ("0001-01-01T00:00:00+00:00", 200),  # Firestore's first instant: a real query
        ("9999-12-31T23:59:59.999999+00:00", 200),  # and its last
        ("0001-01-01T00:00:00+01:00", 400),  # before year 1 in UTC
        ("9999-12-31T23:59:59-01:00", 400),  # after year 9999 in UTC
    ],
)
def test_cursor_dates_at_and_beyond_the_edges_of_time(
    api: Any, mint: Any, when: str, status: int
) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(json.dumps([when, "s1"]).encode()).decode().rstrip("=")
    reply = api("review").get(
        f"/admin/submissions/pending?cursor={cursor}", token=mint("edge-teacher", admin=True)
    )
    assert reply.status_code == status, reply.text
