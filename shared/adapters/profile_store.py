"""Firestore behind the ``ProfileStore`` port: ``users/{uid}`` (the learner's profile fields,
merged so that other fields of the document survive), read by key only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.adapters.firestore import LazyClient, from_document, plain_read, to_document
from shared.domain.models import LearnerProfile

USERS = "users"
FIELDS = ("display_name", "email", "profile_updated_at")


def _profile(uid: str, data: dict[str, Any]) -> LearnerProfile:
    return from_document(LearnerProfile, "user_id", uid, data)


class FirestoreProfileStore(LazyClient):
    def profile(self, uid: str) -> LearnerProfile | None:
        with plain_read():
            snap = self.db.collection(USERS).document(uid).get()
        return _profile(uid, snap.to_dict() or {}) if snap.exists else None

    def profiles(self, uids: Sequence[str]) -> dict[str, LearnerProfile]:
        refs = [self.db.collection(USERS).document(u) for u in dict.fromkeys(uids)]
        if not refs:
            return {}
        with plain_read():
            snaps = list(self.db.get_all(refs))
        return {s.id: _profile(s.id, s.to_dict() or {}) for s in snaps if s.exists}

    def put_profile(self, profile: LearnerProfile) -> None:
        data = to_document(profile, exclude={"user_id"})
        ref = self.db.collection(USERS).document(profile.user_id)
        ref.set({k: data[k] for k in FIELDS}, merge=True)
