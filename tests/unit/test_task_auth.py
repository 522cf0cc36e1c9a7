"""Who may call a task handler: the forwarded OIDC token's claims, as Cloud Run delivers them (no I/O).

Tokens are built by hand here (header, claims, ``SIGNATURE_REMOVED_BY_GOOGLE``), so a change in the
minting helpers cannot make these tests agree with themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import flask
import pytest
from werkzeug.datastructures import Headers

from functions.tasks import expire_router
from shared.adapters.tasks import local_task_token, verify_task_call
from shared.domain.identity import REMOVED_SIGNATURE, forwarded_claims
from shared.errors import PermissionDenied, Unauthenticated
from tests.unit.test_uploads_services import CFG

URL = "https://us-central1-p.cloudfunctions.net/task_expire_upload"
OTHER_URL = "https://us-central1-p.cloudfunctions.net/task_notify_learner"
SA = "aibc-tasks-invoker@p.iam.gserviceaccount.com"
PROD = replace(
    CFG,
    tasks_emulator_host=None,
    tasks_service_account=SA,
    functions_base={"task_expire_upload": URL, "task_notify_learner": OTHER_URL},
)
NOW = 1_800_000_000.0


def part(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "aud": URL,
        "azp": "1234567890",
        "email": SA,
        "email_verified": True,
        "exp": int(NOW) + 3000,
        "iat": int(NOW) - 600,
        "iss": "https://accounts.google.com",
        "sub": "1234567890",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(body: dict[str, Any], signature: str = REMOVED_SIGNATURE) -> str:
    return f"{part({'alg': 'RS256', 'kid': 'abc', 'typ': 'JWT'})}.{part(body)}.{signature}"


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def verify(headers: dict[str, str], cfg: Any = PROD) -> None:
    verify_task_call(headers, "task_expire_upload", cfg, now=NOW)


def test_the_stripped_signature_form_with_the_right_claims_is_accepted() -> None:
    verify(bearer(token(claims())))
    verify(bearer(token(claims(iss="accounts.google.com"))))
    # header names are case-insensitive, as in a flask request; the scheme too
    verify_task_call(
        Headers({"authorization": f"bearer {token(claims())}"}), "task_expire_upload", PROD, now=NOW
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (claims(aud=OTHER_URL), "another function's URL"),
        (claims(aud=URL + "/"), "not exactly the URL"),
        (claims(aud=None), "no audience"),
        (claims(email="someone@p.iam.gserviceaccount.com"), "another service account"),
        (claims(email=None), "no email"),
        (claims(email_verified=False), "email not verified"),
        (claims(email_verified="true"), "email_verified not the JSON true"),
        (claims(email_verified=None), "email_verified missing"),
    ],
)
def test_another_audience_or_account_is_403(body: dict[str, Any], why: str) -> None:
    with pytest.raises(PermissionDenied):
        verify(bearer(token(body)))


@pytest.mark.parametrize(
    ("tok", "why"),
    [
        (token(claims(exp=int(NOW) - 120)), "expired"),
        (token(claims(exp=None)), "no expiry"),
        (token(claims(exp="soon")), "expiry not a number"),
        (token(claims(iat=int(NOW) + 600)), "issued in the future"),
        (token(claims(iss="https://evil.example.com")), "another issuer"),
        (token(claims(iss=None)), "no issuer"),
        (token(claims(), signature="c2lnbmF0dXJl"), "a signature Cloud Run did not strip"),
        (token(claims(), signature=""), "an empty signature"),
        ("a.b", "two parts"),
        ("a.b.c.d", "four parts"),
        (f"!!!.{part(claims())}.{REMOVED_SIGNATURE}", "header not base64 JSON"),
        (f"{part({'alg': 'RS256'})}.bm90IGpzb24.{REMOVED_SIGNATURE}", "claims not JSON"),
        (f"{part({'alg': 'RS256'})}.{part([1, 2])}.{REMOVED_SIGNATURE}", "claims not an object"),
        (token(claims(pad="x" * 9000)), "absurdly long"),
    ],
)
def test_expired_malformed_or_foreign_tokens_are_401(tok: str, why: str) -> None:
    with pytest.raises(Unauthenticated):
        verify(bearer(tok))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {token(claims())}"},
        {"X-Aibc-Task-Secret": "anything"},  # the old local scheme means nothing now
    ],
)
def test_no_token_is_401(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthenticated):
        verify(headers)


def test_x_serverless_authorization_is_the_one_checked_when_both_are_present() -> None:
    good, bad = token(claims()), token(claims(aud=OTHER_URL))
    verify({"X-Serverless-Authorization": f"Bearer {good}", "Authorization": f"Bearer {bad}"})
    with pytest.raises(PermissionDenied):
        verify({"X-Serverless-Authorization": f"Bearer {bad}", "Authorization": f"Bearer {good}"})


def test_without_a_configured_account_every_call_is_refused() -> None:
    with pytest.raises(PermissionDenied):
        verify(bearer(token(claims())), replace(PROD, tasks_service_account=None))


def test_the_local_token_has_the_shape_cloud_run_forwards_and_passes_the_same_check() -> None:
    local = replace(PROD, tasks_emulator_host="127.0.0.1:9124")
    at = dt.datetime.fromtimestamp(NOW - 60, tz=dt.UTC)
    tok = local_task_token(local, URL, at)
    assert tok.endswith("." + REMOVED_SIGNATURE)
    body = forwarded_claims(tok)
    assert (body["aud"], body["email"], body["email_verified"]) == (URL, SA, True)
    assert body["iss"] == "https://accounts.google.com"
    verify(bearer(tok), local)
    # minted for another handler: refused by this one
    with pytest.raises(PermissionDenied):
        verify(bearer(local_task_token(local, OTHER_URL, at)), local)
    # a task due more than an hour ago carries an expired token
    with pytest.raises(Unauthenticated):
        verify(bearer(local_task_token(local, URL, at.replace(year=at.year - 1))), local)


# ---- through the handler's router: refusals are JSON, nothing runs ------------------------------

APP = flask.Flask(__name__)


def live(**overrides: Any) -> dict[str, Any]:
    """Claims valid at the real current time (the router reads the clock)."""
    now = int(time.time())
    return claims(**{"iat": now - 60, "exp": now + 600, **overrides})


# The tokens are made when the test runs (the router reads the real clock): made at collection,
# they would expire during a long run (a suite longer than their 10 minutes).
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        (lambda: {}, 401, "unauthenticated"),
        (lambda: bearer(token(live(exp=int(time.time()) - 3600))), 401, "unauthenticated"),
        (lambda: bearer("not-a-jwt"), 401, "unauthenticated"),
        (lambda: bearer(token(live(aud=OTHER_URL))), 403, "permission_denied"),
        (
            lambda: bearer(token(live(email="x@p.iam.gserviceaccount.com"))),
            403,
            "permission_denied",
        ),
    ],
    ids=["no-token", "expired", "not-a-jwt", "other-audience", "other-account"],
)
def test_refusals_through_the_router_are_json(
    headers: Callable[[], dict[str, str]],
    status: int,
    code: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKS_SERVICE_ACCOUNT", SA)
    monkeypatch.setenv("FUNCTION_URL_TASK_EXPIRE_UPLOAD", URL)
    monkeypatch.delenv("CLOUD_TASKS_EMULATOR_HOST", raising=False)
    with APP.test_request_context(
        "/", method="POST", headers=headers(), json={"submission_id": "s1"}
    ):
        reply = expire_router(flask.request)
    assert reply.status_code == status
    assert reply.get_json()["error"]["code"] == code
