"""``catalog.files``: the authored files validate, and every problem names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.files import CatalogError, read_dir
from seed.load import sample_catalog

GOOD = """\
pathway_id: demo
title: Demo
change_policy: keep_completed
upload_defaults:
  accepted_file_types: [application/pdf]
  max_file_size_mb: 5
modules:
  - module_id: demo-m1
    title: One
    resources:
      - resource_id: demo-m1-video
        type: video
        title: Watch
      - resource_id: demo-m1-exercise
        type: exercise
        title: Do
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_a_file_becomes_documents_with_derived_ids_orders_and_upload_defaults(
    tmp_path: Path,
) -> None:
    found = read_dir(write(tmp_path, "demo.yaml", GOOD))
    (path,) = found.pathways
    assert (path.module_ids, path.change_policy.value) == (["demo-m1"], "keep_completed")
    (mod,) = found.modules
    assert mod.resource_ids == ["demo-m1-video", "demo-m1-exercise"]
    assert mod.change_policy == path.change_policy
    video, exercise = found.resources
    assert (video.order, video.requires_upload, video.accepted_file_types) == (0, False, [])
    assert (exercise.order, exercise.requires_upload) == (1, True)
    assert (exercise.accepted_file_types, exercise.max_file_size_mb) == (["application/pdf"], 5)


def test_the_sample_catalog_is_the_former_seed_json() -> None:
    catalog = sample_catalog()
    assert [p.pathway_id for p in catalog.pathways] == ["image-generation", "prompt-engineering"]
    assert len(catalog.documents()) == 14


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            GOOD.replace("type: video", "type: podcast"),
            "demo.yaml:12: modules[0].resources[0].type:",
        ),
        (
            GOOD.replace("title: Watch\n", "title: Watch\n        colour: red\n"),
            "demo.yaml:14: modules[0].resources[0].colour: Extra inputs",
        ),
        (
            GOOD.replace("change_policy: keep_completed", "change_policy: never"),
            "demo.yaml:3: change_policy:",
        ),
        (
            GOOD.replace(
                "      - resource_id: demo-m1-video\n",
                "      - resource_id: demo-m1-video\n        order: 3\n",
            ),
            "demo.yaml:12: modules[0].resources[0].order: derived by the catalog",
        ),
        (
            GOOD.replace("module_id: demo-m1", "module_id: bad id"),
            "demo.yaml:8: modules[0].module_id:",
        ),
        (
            GOOD.replace("pathway_id: demo", "pathway_id: other"),
            "demo.yaml:1: pathway_id: must match the file name",
        ),
        (GOOD + "  - {title: [unclosed\n", "demo.yaml:"),
    ],
)
def test_a_problem_names_the_file_line_and_field(
    tmp_path: Path, broken: str, expected: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        read_dir(write(tmp_path, "demo.yaml", broken))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_of_every_file_is_listed_and_ids_used_twice_are_refused(
    tmp_path: Path,
) -> None:
    write(tmp_path, "demo.yaml", GOOD)
    write(tmp_path, "copy.yaml", GOOD.replace("pathway_id: demo", "pathway_id: copy"))
    write(
        tmp_path,
        "bad.yaml",
        GOOD.replace("pathway_id: demo", "pathway_id: bad").replace("type: video", "type: x"),
    )
    with pytest.raises(CatalogError) as caught:
        read_dir(tmp_path)
    text = "\n".join(caught.value.problems)
    assert "bad.yaml:12" in text
    assert "module id 'demo-m1' is used more than once" in text
    assert "resource id 'demo-m1-video' is used more than once" in text
