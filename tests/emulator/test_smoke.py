"""``python -m deploy smoke --local``: the deployed-project smoke test, run against the local cloud
so it cannot rot (deploy/smoke.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy import smoke

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cloud


def assert_gone(db: Any, uids: list[str]) -> None:
    from firebase_admin import auth
    from google.cloud.firestore import FieldFilter

    from shared.adapters.auth import firebase_app

    for uid in uids:
        with pytest.raises(auth.UserNotFoundError):
            auth.get_user(uid, app=firebase_app())
        user = db.collection("users").document(uid)
        assert not user.get().exists
        assert [c.id for c in user.collections() if list(c.limit(1).stream())] == []
        mine = db.collection("submissions").where(filter=FieldFilter("user_id", "==", uid))
        assert list(mine.stream()) == []


def test_the_smoke_command_passes_on_the_local_cloud_and_leaves_nothing(db: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "smoke", "--local", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] is True
    assert result["leftovers"] == []
    assert len(result["users"]) == 2
    assert len(result["submissions"]) == 1
    assert "approved" in done.stdout
    assert_gone(db, result["users"])


def test_a_broken_deployment_fails_the_smoke_test_and_it_still_cleans_up(db: Any) -> None:
    target = smoke.local_target("prompt-engineering")
    target.functions["review"] = target.functions["progress"]  # the review API is "not deployed"
    target.timeout = 20
    lines: list[str] = []
    result = smoke.run(target, out=lines.append)
    assert result["ok"] is False
    assert "review" in result["error"]
    assert "404" in result["error"]
    assert result["leftovers"] == []
    assert any("recorded submission" in line for line in lines)  # it got that far
    assert_gone(db, result["users"])
