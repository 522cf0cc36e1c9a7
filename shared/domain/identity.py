"""Who is calling: the verified identity behind a Firebase ID token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    uid: str
    instructor: bool = False
