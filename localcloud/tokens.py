"""Unsigned Firebase ID tokens, as the Auth emulator issues them (``alg: none``).

firebase-admin accepts them only while ``FIREBASE_AUTH_EMULATOR_HOST`` is set; the Firestore emulator
honours them for ``firestore.rules``. Production never accepts them.

    python -m localcloud.tokens alice            # a learner
    python -m localcloud.tokens bob --instructor # an instructor (of the cohorts naming bob)
    python -m localcloud.tokens root --admin     # an admin (every learner; manages cohorts)
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from typing import Any

DEFAULT_PROJECT = "demo-aibc"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint(
    uid: str,
    *,
    instructor: bool = False,
    admin: bool = False,
    project_id: str = DEFAULT_PROJECT,
    expires_in: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
    email: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer or f"https://securetoken.google.com/{project_id}",
        "aud": audience or project_id,
        "auth_time": now - 10,
        "user_id": uid,
        "sub": uid,
        "iat": min(now - 10, now + expires_in - 1),
        "exp": now + expires_in,
        "email": email or f"{uid}@example.com",
        "email_verified": True,
        "firebase": {"identities": {}, "sign_in_provider": "custom"},
    }
    if instructor:
        claims["instructor"] = True
    if admin:
        claims["admin"] = True
    claims.update(extra or {})
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("uid")
    parser.add_argument("--instructor", action="store_true")
    parser.add_argument("--admin", action="store_true")
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args()
    print(
        mint(
            args.uid,
            instructor=args.instructor,
            admin=args.admin,
            project_id=args.project,
            expires_in=args.expires_in,
        )
    )


if __name__ == "__main__":
    main()
