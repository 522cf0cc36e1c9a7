"""docs/openapi.json is generated from the models and in step with the routers."""

from __future__ import annotations

from tools import openapi


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    assert openapi.check_routes() == []


def test_the_checked_in_file_is_current() -> None:
    assert openapi.OUT.read_text() == openapi.render(), "run `python -m tools.openapi`"


def test_request_bodies_forbid_unknown_fields() -> None:
    spec = openapi.build()
    assert spec["openapi"] == "3.1.0"
    body = spec["components"]["schemas"]["ProgressUpdate"]
    assert body["additionalProperties"] is False
    assert body["properties"]["progress_percentage"]["maximum"] == 100
