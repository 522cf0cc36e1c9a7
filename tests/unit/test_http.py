"""The router: routing, auth modes, pydantic bodies, one error shape, CORS. No I/O.

Token checks run firebase-admin's real verifier in emulator mode (unsigned tokens), which needs no
network: it only decodes and checks the claims.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from pydantic import BaseModel, ConfigDict, Field

from localcloud.tokens import mint
from shared import bootstrap
from shared.domain.models import LearnerProfile
from shared.errors import Conflict, NotFound, RateLimited
from shared.http import MAX_BODY_BYTES, MAX_JSON_DEPTH, Call, Router, route_regex
from shared.services.profiles import keeper
from tests.unit.fakes import FakeProfiles

router = Router("test")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=0, le=100)


@router.get("/things/{thing_id}", auth="optional")
def get_thing(call: Call) -> dict[str, Any]:
    return {"thing": call.params["thing_id"], "uid": call.caller.uid if call.caller else None}


@router.post("/things/{thing_id}")
def post_thing(call: Call) -> tuple[dict[str, Any], int]:
    body = call.body(Body)
    return {"n": body.n, "uid": call.me.uid}, 201


class Free(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: Any = None


@router.put("/things/{thing_id}")
def put_thing(call: Call) -> dict[str, Any]:
    call.body(Free)
    return {"uid": call.me.uid, "thing": call.params["thing_id"]}


@router.get("/echo/{thing_id}", auth="none")
def echo(call: Call) -> dict[str, Any]:
    raise NotFound(f"no thing {call.params['thing_id']}")


@router.get("/too-large", auth="none")
def too_large(call: Call) -> dict[str, Any]:
    from werkzeug.exceptions import RequestEntityTooLarge

    raise RequestEntityTooLarge()


@router.get("/admin", auth="instructor")
def admin(call: Call) -> dict[str, Any]:
    return {"ok": True}


@router.get("/manage", auth="admin")
def manage(call: Call) -> dict[str, Any]:
    return {"admin": call.me.admin}


@router.get("/boom", auth="none")
def boom(call: Call) -> dict[str, Any]:
    raise RuntimeError("secret internals /home/x/app.py line 3")


@router.get("/busy", auth="none")
def busy(call: Call) -> dict[str, Any]:
    raise RateLimited("slow down", retry_after_seconds=42)


@router.get("/conflict", auth="none")
def conflict(call: Call) -> dict[str, Any]:
    raise Conflict("not now")


APP = flask.Flask(__name__)


@pytest.fixture(autouse=True)
def _emulated_auth() -> None:
    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = "127.0.0.1:1"
    os.environ["GOOGLE_CLOUD_PROJECT"] = "demo-aibc"
    os.environ["CORS_ORIGINS"] = "http://app.test"


@pytest.fixture(autouse=True)
def profiles() -> Iterator[FakeProfiles]:
    """Authenticated calls keep the caller's profile: here in memory (no I/O)."""
    fake = FakeProfiles()
    keeper().forget()
    with bootstrap.override(profiles=fake) as deps:
        yield fake
        assert deps.built == set(), f"the router built {sorted(deps.built)}"
    keeper().forget()


class BrokenProfiles(FakeProfiles):
    def profile(self, uid: str) -> LearnerProfile | None:
        raise RuntimeError("Firestore is down")


def call(method: str, path: str, *, token: str | None = None, **kw: Any) -> flask.Response:
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with APP.test_request_context(path, method=method, headers=headers, **kw):
        return router(flask.request)


def error_code(reply: flask.Response) -> str:
    code: str = json.loads(reply.get_data())["error"]["code"]
    return code


def test_routes_with_params_and_optional_auth() -> None:
    reply = call("GET", "/things/abc")
    assert reply.status_code == 200
    assert reply.get_json() == {"thing": "abc", "uid": None}
    reply = call("GET", "/api/v1/things/abc", token=mint("alice"))
    assert reply.get_json() == {"thing": "abc", "uid": "alice"}


def test_optional_auth_still_rejects_a_bad_token() -> None:
    assert call("GET", "/things/abc", token="not-a-jwt").status_code == 401


def test_body_is_validated_and_status_passed_through() -> None:
    reply = call("POST", "/things/x", token=mint("bob"), json={"n": 5})
    assert (reply.status_code, reply.get_json()) == (201, {"n": 5, "uid": "bob"})


@pytest.mark.parametrize(
    "kw",
    [
        {"json": {"n": 101}},
        {"json": {"n": 1, "extra": True}},
        {"json": [1, 2]},
        {"data": b"{broken", "content_type": "application/json"},
        {"json": {"n": "many"}},
    ],
)
def test_bad_bodies_are_400_with_a_json_error(kw: dict[str, Any]) -> None:
    reply = call("POST", "/things/x", token=mint("bob"), **kw)
    assert reply.status_code == 400
    assert error_code(reply) == "invalid_argument"


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "garbage",
        mint("carol", expires_in=-60),
        mint("carol", project_id="another-project"),
        mint("carol", audience="someone-else"),
        mint("carol", issuer="https://evil.example.com/demo-aibc"),
    ],
)
def test_missing_expired_foreign_tokens_are_401(token: str | None) -> None:
    reply = call("POST", "/things/x", token=token, json={"n": 1})
    assert reply.status_code == 401
    assert error_code(reply) == "unauthenticated"


def test_instructor_routes_need_the_claim() -> None:
    assert call("GET", "/admin", token=mint("dave")).status_code == 403
    assert call("GET", "/admin", token=mint("erin", instructor=True)).status_code == 200
    assert call("GET", "/admin").status_code == 401
    assert call("GET", "/admin", token=mint("root", admin=True)).status_code == 200  # admin too


def test_admin_routes_need_the_admin_claim_exactly() -> None:
    assert call("GET", "/manage", token=mint("erin", instructor=True)).status_code == 403
    fake = mint("mallory", extra={"admin": "true"})  # truthy, not true: not an admin
    assert call("GET", "/manage", token=fake).status_code == 403
    reply = call("GET", "/manage", token=mint("root", admin=True))
    assert (reply.status_code, reply.get_json()) == (200, {"admin": True})


def test_unknown_route_and_method() -> None:
    assert error_code(call("GET", "/nowhere")) == "not_found"
    reply = call("DELETE", "/things/x", token=mint("a"))
    assert reply.status_code == 405


def test_405_carries_allow_with_every_method_of_that_path() -> None:
    reply = call("DELETE", "/things/x", token=mint("a"))
    assert (reply.status_code, error_code(reply)) == (405, "method_not_allowed")
    assert reply.headers["Allow"] == "GET, OPTIONS, POST, PUT"
    assert call("PATCH", "/admin").headers["Allow"] == "GET, OPTIONS"


@pytest.mark.parametrize("uid", [".", "..", "__x__", "__proto__", "a/b", "../../etc", "a" * 129])
@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("POST", "/things/x", {"json": {"n": 1}}),
        ("PUT", "/things/x", {"json": {}}),
        ("GET", "/things/x", {}),  # optional auth: a token, once given, must still be valid
        ("GET", "/admin", {}),
    ],
)
def test_a_uid_that_is_not_an_id_is_401_on_every_route(
    uid: str, method: str, path: str, kw: dict[str, Any]
) -> None:
    reply = call(method, path, token=mint(uid, instructor=True), **kw)
    assert (reply.status_code, error_code(reply)) == (401, "unauthenticated")


def test_path_parameters_follow_the_id_rule_without_echoing_them() -> None:
    for bad in ("__x__", ".", "..", "a%20b", "x" * 129):
        reply = call("GET", f"/things/{bad}")
        assert (reply.status_code, error_code(reply)) == (404, "not_found"), bad
        assert "x" * 129 not in reply.get_data(as_text=True)
    assert call("GET", "/things/a_b-C9").status_code == 200


def nested(depth: int) -> str:
    return '{"data": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_json_nested_deeper_than_the_limit_is_400() -> None:
    token = mint("nest")
    ok = call(
        "PUT",
        "/things/x",
        token=token,
        data=nested(MAX_JSON_DEPTH),
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.get_data()
    deep = call(
        "PUT",
        "/things/x",
        token=token,
        data=nested(MAX_JSON_DEPTH + 1),
        content_type="application/json",
    )
    assert (deep.status_code, error_code(deep)) == (400, "invalid_argument")
    assert "nests deeper" in deep.get_json()["error"]["message"]
    # deep enough to exhaust the JSON parser's recursion: still a 400, never a 500
    abyss = call(
        "PUT", "/things/x", token=token, data=nested(30_000), content_type="application/json"
    )
    assert (abyss.status_code, error_code(abyss)) == (400, "invalid_argument")


def test_error_messages_echo_at_most_about_100_characters_of_input() -> None:
    long = "k" * 5000
    unknown_field = call("POST", "/things/x", token=mint("e"), json={"n": 1, long: 2})
    assert unknown_field.status_code == 400
    assert len(unknown_field.get_json()["error"]["message"]) < 200
    # a path parameter reaches a handler only as a valid id (at most 128 characters) ...
    echoed = call("GET", "/echo/" + "a" * 128)
    assert echoed.status_code == 404
    assert len(echoed.get_json()["error"]["message"]) == len("no thing ") + 128
    # ... anything longer is refused by the router without being echoed
    refused = call("GET", "/echo/" + "a" * 5000)
    assert refused.status_code == 404
    assert len(refused.get_json()["error"]["message"]) < 40
    method = call("X" * 300, "/things/x")
    assert method.status_code == 405
    assert len(method.get_json()["error"]["message"]) < 60


def test_a_body_over_the_limit_is_413_before_it_is_read() -> None:
    big = b'{"data": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    reply = call("PUT", "/things/x", token=mint("big"), data=big, content_type="application/json")
    assert (reply.status_code, error_code(reply)) == (413, "too_large")
    ok = b'{"data": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    reply = call("PUT", "/things/x", token=mint("big"), data=ok, content_type="application/json")
    assert reply.status_code == 200


def test_route_patterns_escape_their_literal_parts() -> None:
    pattern = route_regex("/a.b/{x}/c+d")
    import re

    assert re.match(pattern, "/a.b/1/c+d")
    assert re.match(pattern, "/a.b/1/c+d/")
    assert not re.match(pattern, "/aXb/1/c+d")
    assert not re.match(pattern, "/a.b/1/ccd")
    assert not re.match(pattern, "/a.b/1/2/c+d")


def test_a_werkzeug_error_inside_a_route_is_its_own_json_status() -> None:
    reply = call("GET", "/too-large", headers={"Origin": "http://app.test"})
    assert (reply.status_code, error_code(reply)) == (413, "too_large")
    assert reply.headers["Access-Control-Allow-Origin"] == "http://app.test"


def test_unexpected_errors_are_500_without_internals() -> None:
    reply = call("GET", "/boom")
    assert reply.status_code == 500
    body = reply.get_data(as_text=True)
    assert "secret" not in body
    assert "Traceback" not in body
    assert json.loads(body) == {"error": {"code": "internal", "message": "internal error"}}


def test_rate_limit_carries_retry_after_and_conflict_is_409() -> None:
    reply = call("GET", "/busy")
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "42")
    assert call("GET", "/conflict").status_code == 409


def test_cors_for_the_configured_origin_only() -> None:
    allowed = call("GET", "/things/a", headers={"Origin": "http://app.test"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://app.test"
    other = call("GET", "/things/a", headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = call(
        "OPTIONS",
        "/things/a",
        headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_an_authenticated_call_keeps_the_profile_once(profiles: FakeProfiles) -> None:
    token = mint("frank", extra={"name": "Frank"})
    for _ in range(3):
        assert call("GET", "/things/a", token=token).status_code == 200
    assert profiles.docs["frank"].display_name == "Frank"
    assert profiles.docs["frank"].email == "frank@example.com"
    assert (profiles.reads, profiles.writes) == (1, 1)
    call("GET", "/things/a", token=mint("frank", extra={"name": "Frank Z"}))
    assert (profiles.docs["frank"].display_name, profiles.writes) == ("Frank Z", 2)
    call("GET", "/things/a")  # no token: nothing to keep
    assert profiles.reads == 2


def test_a_failing_profile_store_never_fails_the_request() -> None:
    keeper().forget()
    with bootstrap.override(profiles=BrokenProfiles()):
        reply = call("POST", "/things/x", token=mint("gina"), json={"n": 2})
    assert (reply.status_code, reply.get_json()) == (201, {"n": 2, "uid": "gina"})
