"""The local cloud's own pure parts: prerequisite messages, the stack description, tokens."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import localcloud.__main__ as lc
from localcloud import entrypoints, tokens


def test_missing_emulator_java_and_tools_are_named_with_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcloud, no java
    monkeypatch.setattr(lc, "firestore_emulator", lambda: None)
    monkeypatch.setattr(lc, "FIREBASE_BIN", tmp_path / "firebase")
    monkeypatch.setattr(lc, "TASKS_VENV_BIN", tmp_path)
    with pytest.raises(lc.StartError) as caught:
        lc.check_prerequisites()
    message = str(caught.value)
    assert "gcloud components install cloud-firestore-emulator" in message
    assert "google-cloud-cli-firestore-emulator" in message
    assert "Java" in message
    assert "make install" in message


def test_stack_describes_every_entry_point_and_emulator() -> None:
    stack = lc.stack_description("s3cret")
    assert set(stack["functions"]) == set(entrypoints.ALL)
    assert set(stack["emulators"]) >= {"firestore", "storage", "tasks", "auth"}
    assert stack["project_id"].startswith("demo-")  # a demo- project can never reach real resources
    env = lc.function_env(stack)
    assert env["FIRESTORE_EMULATOR_HOST"] == stack["emulators"]["firestore"]
    assert env["FIREBASE_AUTH_EMULATOR_HOST"] == stack["emulators"]["auth"]
    assert env["STORAGE_PUBLIC_ENDPOINT"] == "http://" + stack["emulators"]["storage"]
    for name in entrypoints.ALL:
        assert env[f"FUNCTION_URL_{name.upper()}"] == stack["functions"][name]


def test_every_port_is_distinct() -> None:
    assert len(set(lc.PORTS.values())) == len(lc.PORTS)


def test_minted_tokens_look_like_the_auth_emulators() -> None:
    token = tokens.mint("alice", instructor=True, expires_in=60)
    header, claims, signature = token.split(".")
    assert signature == ""

    def decode(part: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        )
        return data

    assert decode(header)["alg"] == "none"
    body = decode(claims)
    assert (body["sub"], body["user_id"], body["aud"]) == ("alice", "alice", "demo-aibc")
    assert body["iss"] == "https://securetoken.google.com/demo-aibc"
    assert body["instructor"] is True
    assert "instructor" not in decode(tokens.mint("bob").split(".")[1])
