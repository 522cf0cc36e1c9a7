"""docs/openapi.json is generated from the models and in step with the four HTTP functions' routers."""

from __future__ import annotations

from tools import openapi


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    assert openapi.check_routes() == []


def test_the_checked_in_file_is_current() -> None:
    assert openapi.OUT.read_text() == openapi.render(), (
        "docs/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_all_four_http_functions_are_described() -> None:
    spec = openapi.build()
    assert spec["openapi"] == "3.1.0"
    tags = {op["x-entry-point"] for path in spec["paths"].values() for op in path.values()}
    assert tags == {"resources", "progress", "uploads", "review", "certificates"}


def test_request_bodies_forbid_unknown_fields_and_carry_their_bounds() -> None:
    schemas = openapi.build()["components"]["schemas"]
    progress = schemas["ProgressUpdate"]
    assert progress["additionalProperties"] is False
    assert progress["properties"]["progress_percentage"]["maximum"] == 100
    assert schemas["UploadUrlRequest"]["additionalProperties"] is False
    review = schemas["ReviewRequest"]
    assert review["additionalProperties"] is False
    assert set(review["properties"]["decision"]["enum"]) == {"approve", "reject"}


def test_upload_url_is_201_and_review_routes_need_the_instructor_claim() -> None:
    paths = openapi.build()["paths"]
    upload = paths["/users/me/resources/{resource_id}/upload-url"]["post"]
    assert "201" in upload["responses"]
    assert "Retry-After" in upload["responses"]["429"]["headers"]
    pending = paths["/admin/submissions/pending"]["get"]
    assert pending["x-required-claim"] == "instructor"
    assert "403" in pending["responses"]
    assert {p["name"] for p in pending["parameters"]} == {
        "pathway_id",
        "module_id",
        "resource_id",
        "limit",
        "cursor",
    }
    assert all(
        "Allow" in op["responses"]["405"]["headers"] for p in paths.values() for op in p.values()
    )
