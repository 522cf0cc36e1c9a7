"""The seed catalog validates and has the shape the product promises (no I/O)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from seed.load import build_catalog, sample_catalog, synthetic_spec


def test_sample_catalog_shape() -> None:
    catalog = sample_catalog()
    assert [p.pathway_id for p in catalog.pathways] == ["image-generation", "prompt-engineering"]
    for pathway in catalog.pathways:
        (module_id,) = pathway.module_ids
        resources = [r for r in catalog.resources if r.module_id == module_id]
        assert [r.type.value for r in resources] == [
            "video",
            "article",
            "exercise",
            "quiz",
            "project",
        ]
        uploads = {r.type.value for r in resources if r.requires_upload}
        assert uploads == {"exercise", "project"}
    by_id = {r.resource_id: r for r in catalog.resources}
    assert by_id["image-generation-m1-project"].max_file_size_mb == 25
    assert "application/pdf" in by_id["image-generation-m1-project"].accepted_file_types
    assert by_id["prompt-engineering-m1-exercise"].max_file_size_mb == 10
    assert "text/markdown" in by_id["prompt-engineering-m1-exercise"].accepted_file_types
    assert by_id["prompt-engineering-m1-video"].accepted_file_types == []


def test_synthetic_catalog_counts() -> None:
    catalog = build_catalog(synthetic_spec(3, 4, 5))
    assert (len(catalog.pathways), len(catalog.modules), len(catalog.resources)) == (3, 12, 60)
    assert len({r.resource_id for r in catalog.resources}) == 60


def test_invalid_catalog_is_refused_before_writing() -> None:
    spec = synthetic_spec(1, 1, 1)
    spec["pathways"][0]["modules"][0]["resources"][0]["type"] = "podcast"
    with pytest.raises(ValueError, match="podcast"):
        build_catalog(spec)
    spec = synthetic_spec(1, 1, 1)
    spec["pathways"][0]["pathway_id"] = "bad id/with slash"
    with pytest.raises(ValidationError):
        build_catalog(spec)
