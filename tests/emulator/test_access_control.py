"""HTTP access control through every route of docs/API.md, against the running functions.

No token, an expired token, a token for another project, a token with the wrong audience or a
forged issuer → 401; a learner on instructor routes → 403; CORS for the configured origin and the
OPTIONS preflight; errors never carry a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from localcloud.tokens import mint
from tests.helpers import unique

pytestmark = pytest.mark.cloud

R = "prompt-engineering-m1-exercise"
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("resources", "GET", "/modules/prompt-engineering-m1/resources", None),
    ("progress", "GET", "/users/me/progress/prompt-engineering", None),
    ("progress", "GET", f"/users/me/resources/{R}/progress", None),
    ("progress", "POST", f"/users/me/resources/{R}/start", None),
    (
        "progress",
        "PUT",
        f"/users/me/resources/{R}/progress",
        {"progress_percentage": 10, "time_spent_minutes": 1},
    ),
    ("progress", "POST", f"/users/me/resources/{R}/complete", None),
    ("progress", "POST", f"/users/me/resources/{R}/uncomplete", None),
    (
        "uploads",
        "POST",
        f"/users/me/resources/{R}/upload-url",
        {"file_name": "a.md", "content_type": "text/markdown", "size_bytes": 10},
    ),
    ("uploads", "GET", f"/users/me/resources/{R}/submissions", None),
    ("uploads", "GET", "/users/me/submissions/nope/download-url", None),
    ("uploads", "DELETE", "/users/me/submissions/nope", None),
    ("review", "GET", "/admin/submissions/pending", None),
    (
        "review",
        "POST",
        "/admin/submissions/nope/review",
        {"decision": "approve", "grade": 90, "comments": ""},
    ),
    (
        "review",
        "POST",
        "/admin/submissions/nope/revise",
        {"decision": "approve", "revision": 0, "reason": "second look"},
    ),
    (
        "review",
        "POST",
        "/admin/submissions/bulk-review",
        {"submissions": [{"submission_id": "nope", "generation": "1"}]},
    ),
]
BAD_TOKENS: dict[str, Callable[[], str | None]] = {
    "none": lambda: None,
    "garbage": lambda: "not.a.token",
    "expired": lambda: mint(unique("u"), expires_in=-120),
    "other-project": lambda: mint(unique("u"), project_id="someone-elses-project"),
    "wrong-audience": lambda: mint(unique("u"), audience="https://example.com/api"),
    "forged-issuer": lambda: mint(unique("u"), issuer="https://accounts.example.com/demo-aibc"),
}


def _send(
    cloud: dict[str, Any],
    fn: str,
    method: str,
    path: str,
    body: Any,
    token: str | None,
    **kw: Any,
) -> requests.Response:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(
        method, cloud["functions"][fn] + path, json=body, headers=headers, timeout=20, **kw
    )


def _assert_clean_error(reply: requests.Response, status: int) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert "Traceback" not in reply.text
    assert 'File "' not in reply.text


@pytest.mark.parametrize("bad", sorted(BAD_TOKENS))
@pytest.mark.parametrize(("fn", "method", "path", "body"), ROUTES)
def test_every_route_refuses_bad_tokens(
    cloud: dict[str, Any], fn: str, method: str, path: str, body: Any, bad: str
) -> None:
    reply = _send(cloud, fn, method, path, body, BAD_TOKENS[bad]())
    if fn == "resources" and bad == "none":
        assert reply.status_code == 200  # the catalog is readable without a token (no status)
        return
    _assert_clean_error(reply, 401)


@pytest.mark.parametrize(("fn", "method", "path", "body"), [r for r in ROUTES if r[0] == "review"])
def test_learners_get_403_on_instructor_routes(
    cloud: dict[str, Any], fn: str, method: str, path: str, body: Any
) -> None:
    _assert_clean_error(_send(cloud, fn, method, path, body, mint(unique("learner"))), 403)


def test_unknown_ids_are_404_without_echoing_other_users(cloud: dict[str, Any]) -> None:
    token = mint(unique("learner"))
    for fn, method, path in [
        ("uploads", "GET", "/users/me/submissions/no-such-submission/download-url"),
        ("uploads", "DELETE", "/users/me/submissions/no-such-submission"),
        ("progress", "POST", "/users/me/resources/no-such-resource/start"),
        ("resources", "GET", "/pathways/no-such-pathway/resources"),
    ]:
        reply = _send(cloud, fn, method, path, None, token)
        _assert_clean_error(reply, 404)


@pytest.mark.parametrize("fn", ["resources", "progress", "uploads", "review", "certificates"])
def test_cors_preflight_and_headers_for_the_frontend_origin(cloud: dict[str, Any], fn: str) -> None:
    origin = cloud.get("web", "http://127.0.0.1:8300")
    preflight = requests.options(
        cloud["functions"][fn] + "/users/me/progress/x",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    foreign = requests.options(
        cloud["functions"][fn] + "/x",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert "Access-Control-Allow-Origin" not in foreign.headers
