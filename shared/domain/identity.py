"""Who is calling: the verified identity behind a Firebase ID token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    uid: str
    instructor: bool = False
    # The token's ``name`` and ``email`` claims (kept in the learner's profile, ``users/{uid}``).
    name: str | None = None
    email: str | None = None
