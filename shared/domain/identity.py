"""Who is calling: the verified identity behind a Firebase ID token, and the Cloud Tasks caller.

Task handlers run behind Cloud Run's IAM check (``--no-allow-unauthenticated``; only the tasks
invoker service account holds ``run.invoker``). Cloud Run verifies the Google-signed OIDC token that
Cloud Tasks attaches, then forwards it to the code with its signature part replaced by
``SIGNATURE_REMOVED_BY_GOOGLE``: the header and the claims are intact, the signature is gone, so a
signature check in the code always fails. The code therefore checks the forwarded claims
(:func:`check_task_claims`): audience, email, ``email_verified``, issuer, expiry. Locally the
enqueue adapter attaches a token of exactly that shape (:func:`forwarded_token`), so the one check
runs in every test. Pure functions: no I/O, no clock of their own.

Cloud Run's documentation: https://cloud.google.com/run/docs/authenticating/service-to-service
(``Authorization`` or ``X-Serverless-Authorization``; with both, the latter is the one checked and
``Authorization`` passes through untouched; the signature is removed before the container sees the
token) and https://cloud.google.com/run/docs/troubleshooting#signature-removed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

REMOVED_SIGNATURE = "SIGNATURE_REMOVED_BY_GOOGLE"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CLOCK_SKEW_SECONDS = 30
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True)
class Caller:
    uid: str
    instructor: bool = False
    # The custom claim ``admin: true``: sees every learner and manages cohorts.
    admin: bool = False
    # The token's ``name`` and ``email`` claims (kept in the learner's profile, ``users/{uid}``).
    name: str | None = None
    email: str | None = None


class TokenRefused(ValueError):
    """A forwarded task token that must be refused; ``unauthenticated`` says which status."""

    def __init__(self, message: str, *, unauthenticated: bool) -> None:
        super().__init__(message)
        self.unauthenticated = unauthenticated


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(part: str) -> Any:
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return json.loads(raw)


def task_claims(
    *, audience: str, email: str, issued_at: int, lifetime: int = 3600
) -> dict[str, Any]:
    """The claims of the OIDC token Cloud Tasks mints for a service account and an audience."""
    return {
        "aud": audience,
        "azp": email,
        "email": email,
        "email_verified": True,
        "exp": issued_at + lifetime,
        "iat": issued_at,
        "iss": "https://accounts.google.com",
        "sub": email,
    }


def forwarded_token(claims: dict[str, Any]) -> str:
    """A token as Cloud Run forwards it: ``<header>.<claims>.SIGNATURE_REMOVED_BY_GOOGLE``."""
    header = {"alg": "RS256", "kid": "local", "typ": "JWT"}
    return f"{_b64(header)}.{_b64(claims)}.{REMOVED_SIGNATURE}"


def forwarded_claims(token: str) -> dict[str, Any]:
    """The claims of a token whose signature Cloud Run removed; :class:`TokenRefused` otherwise.

    Only the stripped form is accepted: a token that still carries a signature did not come through
    Cloud Run's IAM check (Cloud Run strips every token it verified), so nothing here could vouch
    for it.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRefused("the task token is too long", unauthenticated=True)
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRefused("the task token is not a JWT", unauthenticated=True)
    header, body, signature = parts
    if signature != REMOVED_SIGNATURE:
        raise TokenRefused(
            "the task token was not forwarded by Cloud Run's IAM check", unauthenticated=True
        )
    try:
        head, claims = _unb64(header), _unb64(body)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise TokenRefused("the task token is malformed", unauthenticated=True) from None
    if not isinstance(head, dict) or not isinstance(claims, dict):
        raise TokenRefused("the task token is malformed", unauthenticated=True)
    return claims


def check_task_claims(claims: dict[str, Any], *, audience: str, email: str, now: float) -> None:
    """Raise :class:`TokenRefused` unless the claims name this handler and the queue's account.

    Expired, not yet valid or not issued by Google: 401 (no valid credential). Valid but for
    another audience, another account or an unverified email: 403 (a credential, not this one).
    """
    exp, iat = claims.get("exp"), claims.get("iat")
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise TokenRefused("the task token was not issued by Google", unauthenticated=True)
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenRefused("the task token has no expiry", unauthenticated=True)
    if exp + CLOCK_SKEW_SECONDS < now:
        raise TokenRefused("the task token has expired", unauthenticated=True)
    issued = iat if isinstance(iat, int | float) and not isinstance(iat, bool) else None
    if issued is not None and issued - CLOCK_SKEW_SECONDS > now:
        raise TokenRefused("the task token is not valid yet", unauthenticated=True)
    if claims.get("aud") != audience:
        raise TokenRefused("the task token is for another audience", unauthenticated=False)
    if claims.get("email") != email:
        raise TokenRefused("the task token names another account", unauthenticated=False)
    if claims.get("email_verified") is not True:
        raise TokenRefused("the task token's email is not verified", unauthenticated=False)
