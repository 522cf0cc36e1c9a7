"""Where ``python -m deploy smoke`` sends its calls (deploy/smoke.py), without any I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import smoke


def test_a_deployed_project_is_called_at_its_function_urls_and_the_identity_toolkit() -> None:
    target = smoke.project_target("my-proj", "europe-west1", "AIza-key", "pw", None)
    assert target.functions == {
        name: f"https://europe-west1-my-proj.cloudfunctions.net/{name}"
        for name in ("resources", "progress", "uploads", "review")
    }
    assert target.identity_toolkit == "https://identitytoolkit.googleapis.com/v1"
    assert target.api_key == "AIza-key"
    assert target.bucket == "my-proj-submissions"
    assert target.pathway == "pw"
    assert target.emulators == {}  # the Admin SDK and clients talk to the real project


def test_the_local_cloud_is_read_from_its_stack_description(tmp_path: Path) -> None:
    stack = {
        "project_id": "demo-x",
        "bucket": "demo-x-submissions",
        "functions": {n: f"http://127.0.0.1:{i}" for i, n in enumerate(smoke.HTTP_FUNCTIONS)},
        "emulators": {
            "firestore": "h:1",
            "auth": "h:2",
            "storage": "h:3",
            "storage_backend": "h:4",
        },
    }
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    target = smoke.local_target("p", tmp_path / "stack.json")
    assert target.identity_toolkit == "http://h:2/identitytoolkit.googleapis.com/v1"
    assert target.emulators == {
        "FIRESTORE_EMULATOR_HOST": "h:1",
        "FIREBASE_AUTH_EMULATOR_HOST": "h:2",
        "STORAGE_EMULATOR_HOST": "http://h:4",  # the backend: the front refuses unsigned calls
    }
    assert target.functions["review"] == stack["functions"]["review"]


def test_without_a_running_local_cloud_it_says_so(tmp_path: Path) -> None:
    with pytest.raises(smoke.SmokeError, match="make up"):
        smoke.local_target("p", tmp_path / "missing.json")


def test_through_hosting_every_api_is_on_the_page_origin() -> None:
    target = smoke.project_target("my-proj", "europe-west1", "k", "pw", None, via_hosting=True)
    assert set(target.functions.values()) == {"https://my-proj.web.app/api/v1"}
