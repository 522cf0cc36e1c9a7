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
    stack = lc.stack_description()
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
    assert "admin" not in body
    assert decode(tokens.mint("root", admin=True).split(".")[1])["admin"] is True


# ---- the seed loader's target ------------------------------------------------------------------


def test_seed_refuses_clearly_when_nothing_names_a_firestore(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from localcloud import stackenv
    from seed import load

    for name in ("FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(stackenv, "read_stack", lambda path=None: None)
    assert load.main(["--quiet"]) == 2
    assert "make up" in capsys.readouterr().err


def test_seed_points_at_the_running_local_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    from localcloud import stackenv
    from seed import load

    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    stack = lc.stack_description()
    monkeypatch.setattr(stackenv, "read_stack", lambda path=None: stack)
    assert "local cloud" in load.point_at_firestore()
    assert (
        stackenv.client_environ(stack)["FIRESTORE_EMULATOR_HOST"] == stack["emulators"]["firestore"]
    )
    import os

    assert os.environ["FIRESTORE_EMULATOR_HOST"] == stack["emulators"]["firestore"]
    # storage clients talk to the backend: the public front refuses unsigned requests
    assert os.environ["STORAGE_EMULATOR_HOST"] == "http://" + stack["emulators"]["storage_backend"]


def test_functions_use_the_storage_backend_and_sign_for_the_front() -> None:
    stack = lc.stack_description()
    env = lc.function_env(stack)
    assert env["STORAGE_EMULATOR_HOST"] == "http://" + stack["emulators"]["storage_backend"]
    assert env["STORAGE_PUBLIC_ENDPOINT"] == "http://" + stack["emulators"]["storage"]


# ---- the event bridge's policy -------------------------------------------------------------------


def test_backoff_doubles_from_a_tenth_of_a_second_up_to_its_cap() -> None:
    from localcloud.bridge import backoff

    assert [backoff(n, 10.0) for n in range(1, 5)] == [0.2, 0.4, 0.8, 1.6]
    assert backoff(50, 10.0) == 10.0
    assert backoff(10_000, 30.0) == 30.0


def test_one_emulator_registration_per_document_pattern_fans_out_to_every_trigger_on_it() -> None:
    from functions.registry import FIRESTORE_TRIGGERS
    from localcloud.bridge import fanout

    routes = fanout(FIRESTORE_TRIGGERS)
    assert sorted(t for targets in routes.values() for t in targets) == sorted(FIRESTORE_TRIGGERS)
    patterns = [{FIRESTORE_TRIGGERS[t] for t in targets} for targets in routes.values()]
    assert all(len(p) == 1 for p in patterns)  # a registration covers one pattern...
    assert len({next(iter(p)) for p in patterns}) == len(routes)  # ...and each pattern once
    assert routes["on_resource_progress_written"] == [
        "on_resource_progress_written",
        "on_dashboard_progress_written",
    ]
    assert fanout({"a": "x/{id}", "b": "y/{id}"}) == {"a": ["a"], "b": ["b"]}


def test_the_budget_is_24_hours_unless_a_target_has_its_own() -> None:
    from localcloud.bridge import Config, out_of_budget
    from localcloud.journal import Delivery

    config = Config().updated({"budgets": {"probe": 2}})
    item = Delivery("on_upload_finalized", "http://x", {}, b"", "e1", first_at=1000.0)
    assert not out_of_budget(item, config, 1000.0 + 23 * 3600)
    assert out_of_budget(item, config, 1000.0 + 24 * 3600)
    probe = Delivery("probe", "http://x", {}, b"", "e2", first_at=1000.0)
    assert not out_of_budget(probe, config, 1001.0)
    assert out_of_budget(probe, config, 1002.0)


def test_fault_settings_accept_the_short_forms() -> None:
    from localcloud.bridge import Config

    config = Config().updated({"drop": {"rate": 0.5, "redeliver_after": 3}, "reorder": True})
    assert (config.drop_rate, config.redeliver_after, config.reorder_window) == (0.5, 3.0, 2.0)
    config = config.updated({"drop": False, "reorder": {"window": 0}, "fail": {"review": 1}})
    assert (config.drop_rate, config.reorder_window, config.fail) == (0.0, 0.0, {"review": 1.0})


@pytest.mark.parametrize(
    "changes",
    [
        {"drop_rate": 1.5},
        {"fail": {"x": 2}},
        {"fail": ["x"]},
        {"delay": -0.1},
        {"delay": True},
        {"duplicate": 1},
        {"budgets": {"x": None}},
        {"nope": 1},
    ],
)
def test_bad_fault_settings_are_refused(changes: dict[str, object]) -> None:
    from localcloud.bridge import BadConfig, Config

    with pytest.raises(BadConfig):
        Config().updated(changes)


def test_the_firestore_catch_up_command_is_ops_reconcile_only_where_ops_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from localcloud import bridge

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert bridge.catchup_command("auto") is None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert bridge.catchup_command("auto")[-3:] == ["-m", "ops", "reconcile"]  # type: ignore[index]
    assert bridge.catchup_command("none") is None
    assert bridge.catchup_command("make fix --all") == ["make", "fix", "--all"]


def test_a_crash_loop_backs_off() -> None:
    from localcloud.supervisor import restart_delay

    assert [restart_delay(n) for n in range(6)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert restart_delay(20) == 30.0
