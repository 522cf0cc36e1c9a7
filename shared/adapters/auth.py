"""Firebase Auth: verifies ID tokens with firebase-admin (lazy app, cached for the process).

In production the token's RS256 signature, audience, issuer and expiry are verified. Locally, with
``FIREBASE_AUTH_EMULATOR_HOST`` set, firebase-admin accepts the emulator's unsigned tokens and checks
audience, issuer and subject but not expiry, so expiry is checked here too.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from shared.config import settings
from shared.domain.identity import Caller
from shared.errors import Unauthenticated


@functools.cache
def firebase_app() -> Any:
    import firebase_admin

    try:
        return firebase_admin.get_app()
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": settings().project_id})


def verify_id_token(token: str) -> Caller:
    from firebase_admin import auth

    try:
        claims: dict[str, Any] = auth.verify_id_token(token, app=firebase_app())
    except (ValueError, auth.InvalidIdTokenError, auth.ExpiredIdTokenError) as exc:
        raise Unauthenticated(f"invalid Firebase ID token ({type(exc).__name__})") from None
    except Exception:  # noqa: BLE001 - certificate fetch errors etc. must be 401, not 500
        raise Unauthenticated("the Firebase ID token could not be verified") from None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < time.time():
        raise Unauthenticated("the Firebase ID token has expired")
    uid = claims.get("uid") or claims.get("sub")
    if not isinstance(uid, str) or not uid:
        raise Unauthenticated("the Firebase ID token has no subject")
    return Caller(
        uid=uid,
        instructor=claims.get("instructor") is True,
        admin=claims.get("admin") is True,
        name=_claim(claims, "name"),
        email=_claim(claims, "email"),
    )


def _claim(claims: dict[str, Any], key: str) -> str | None:
    value = claims.get(key)
    return value[:320] if isinstance(value, str) and value.strip() else None
