"""One log vocabulary: every flow's ids under the same names, and the function that wrote them."""

from __future__ import annotations

import json

import pytest

from shared import log


def test_old_spellings_become_the_vocabularys_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FUNCTION_TARGET", raising=False)
    monkeypatch.delenv("K_SERVICE", raising=False)
    log.info("x", user_id="u1", resource="r1", module="m1", pathway="p1", event="e1", n=3)
    entry = json.loads(capsys.readouterr().out)
    assert entry == {
        "severity": "INFO",
        "message": "x",
        "uid": "u1",
        "resource_id": "r1",
        "module_id": "m1",
        "pathway_id": "p1",
        "event_id": "e1",
        "n": 3,
    }


def test_the_function_comes_from_the_runtime_unless_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUNCTION_TARGET", "on_upload_finalized")
    log.warning("y", uid="u")
    log.error("z", function="review")
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["function"] == "on_upload_finalized"
    assert first["uid"] == "u"
    assert second["function"] == "review"


def test_an_explicit_canonical_name_wins_over_an_alias(capsys: pytest.CaptureFixture[str]) -> None:
    log.info("w", uid="right", user_id="wrong")
    assert json.loads(capsys.readouterr().out)["uid"] == "right"


def test_no_call_site_uses_an_old_spelling() -> None:
    """The logger renames them, but the source says what the logs say."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("shared/**/*.py"), *root.glob("functions/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("info", "warning", "error")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "log"
            ):
                offenders += [
                    f"{path.relative_to(root)}:{node.lineno} {k.arg}"
                    for k in node.keywords
                    if k.arg in log.ALIASES
                ]
    assert offenders == []
