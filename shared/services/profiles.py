"""Learner profiles: ``users/{uid}`` keeps the display name and email of the learner's ID token.

The functions keep it, never a client (``firestore.rules`` refuses every client write): on an
authenticated call, :meth:`ProfileKeeper.keep` compares the token's ``name`` / ``email`` claims
with what this process last saw for that uid (a bounded per-process cache) and only on a miss reads
the profile (one read by key) and writes it when it is missing or differs. So a learner's calls
cost nothing after the first one a process serves, and a changed name or email reaches the profile
on the next call.
"""

from __future__ import annotations

import threading

from shared import log
from shared.domain.identity import Caller
from shared.domain.models import LearnerProfile
from shared.services.ports import ProfileStore
from shared.services.uploads import Clock, utcnow

MAX_CACHED = 10_000


class ProfileKeeper:
    """The per-process memory of profiles known to be up to date."""

    def __init__(self, max_cached: int = MAX_CACHED) -> None:
        self._seen: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()
        self.max_cached = max_cached

    def keep(self, me: Caller, store: ProfileStore, now: Clock = utcnow) -> bool:
        """Bring ``users/{me.uid}`` in line with the token's claims; True when it wrote."""
        claims = (me.name, me.email)
        if claims == (None, None):
            return False  # a token without a name or email has nothing to keep
        with self._lock:
            if self._seen.get(me.uid) == claims:
                return False
        current = store.profile(me.uid)
        wrote = current is None or (current.display_name, current.email) != claims
        if wrote:
            store.put_profile(
                LearnerProfile(
                    user_id=me.uid, display_name=me.name, email=me.email, profile_updated_at=now()
                )
            )
            log.info("profile kept", uid=me.uid, created=current is None)
        with self._lock:
            if len(self._seen) >= self.max_cached:
                self._seen.clear()  # bounded: the next calls read (and seldom write) again
            self._seen[me.uid] = claims
        return wrote

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()


_keeper = ProfileKeeper()


def keeper() -> ProfileKeeper:
    """The process's keeper."""
    return _keeper
