"""Reading the authored files: ``catalog/pathways/{pathway_id}.yaml``, one pathway each.

A file holds the pathway's fields, its ``modules`` in order, each with its ``resources`` in order::

    pathway_id: prompt-engineering        # must match the file name
    title: Prompt Engineering
    description: Write prompts that make language models reliable.
    change_policy: recount                # or keep_completed (docs/ARCHITECTURE.md)
    upload_defaults:                      # for resources that require an upload
      accepted_file_types: [text/plain, application/pdf]
      max_file_size_mb: 10
    modules:
      - module_id: prompt-engineering-m1
        title: Foundations of prompting
        resources:
          - resource_id: prompt-engineering-m1-video
            type: video
            title: Anatomy of a prompt
            url: https://example.com/videos/anatomy
            duration_minutes: 15

A resource takes every field of :class:`shared.domain.models.Resource` except those the catalog
derives (``pathway_id``, ``module_id``, ``order``, ``content_version``, ``counts_since_version``);
``requires_upload`` defaults to true for exercises and projects, and then ``accepted_file_types`` /
``max_file_size_mb`` default to the pathway's ``upload_defaults``. Ids are explicit: an id is what
tells a moved resource from a removed one and an added one.

Errors are collected over every file and each names the file, the line and the field
(``catalog/pathways/x.yaml:12: modules[0].resources[2].type: Input should be 'video', ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.plan import Catalog
from shared.domain.models import ChangePolicy, Id, Module, Pathway, Resource, ResourceType

ROOT = Path(__file__).resolve().parent
PATHWAYS = ROOT / "pathways"
REPO = Path(__file__).resolve().parents[1]  # the checkout: files are named relative to it
UPLOAD_TYPES = {ResourceType.exercise, ResourceType.project}
M = TypeVar("M", bound=BaseModel)
DERIVED = ("pathway_id", "module_id", "order", "content_version", "counts_since_version")


class CatalogError(ValueError):
    """The files do not make a valid catalog; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadDefaults(_Strict):
    accepted_file_types: list[str] = Field(default_factory=list)
    max_file_size_mb: int = Field(default=0, ge=0, le=5_000)


class ModuleFile(_Strict):
    module_id: Id
    title: str
    resources: list[dict[str, Any]]


class PathwayFile(_Strict):
    pathway_id: Id
    title: str
    description: str = ""
    change_policy: ChangePolicy = ChangePolicy.recount
    upload_defaults: UploadDefaults = Field(default_factory=UploadDefaults)
    modules: list[ModuleFile]


def _line(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the node at ``loc`` (the deepest one that exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if found is None:
                return line
            # a missing or wrong value: the key's line
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return line
            node = node.value[key]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def _where(loc: Sequence[int | str]) -> str:
    out = ""
    for key in loc:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(file)"


@dataclass
class _Reader:
    path: Path
    node: yaml.Node | None
    problems: list[str]

    def problem(self, loc: Sequence[int | str], message: str) -> None:
        line = _line(self.node, loc)
        at = f"{self.path}:{line}" if line is not None else str(self.path)
        self.problems.append(f"{at}: {_where(loc)}: {message}")

    def validate(self, model: type[M], data: Any, loc: Sequence[int | str]) -> M | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                self.problem([*loc, *err["loc"]], err["msg"])
            return None


def read_file(path: Path, problems: list[str], display: Path | None = None) -> Catalog:
    """One pathway file as catalog documents (empty, with ``problems`` added, when invalid)."""
    shown = display or path
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problems.append(f"{shown}{line}: not valid YAML: {getattr(exc, 'problem', exc)}")
        return Catalog([], [], [])
    reader = _Reader(shown, node, problems)
    before = len(problems)
    spec = reader.validate(PathwayFile, data, [])
    if spec is None:
        return Catalog([], [], [])
    if spec.pathway_id != path.stem:
        reader.problem(["pathway_id"], f"must match the file name ({path.stem!r})")
    pid = spec.pathway_id
    modules: list[Module] = []
    resources: list[Resource] = []
    for m_index, m in enumerate(spec.modules):
        rids: list[str] = []
        for r_index, raw in enumerate(m.resources):
            loc: list[int | str] = ["modules", m_index, "resources", r_index]
            if not isinstance(raw, dict):
                reader.problem(loc, "a resource is a mapping of its fields")
                continue
            for key in DERIVED:
                if key in raw:
                    reader.problem([*loc, key], "derived by the catalog; do not write it")
            fields = {k: v for k, v in raw.items() if k not in DERIVED}
            try:
                kind = ResourceType(str(fields.get("type")))
            except ValueError:
                kind = None
            upload = fields.setdefault("requires_upload", kind in UPLOAD_TYPES)
            if upload is True:
                fields.setdefault("accepted_file_types", spec.upload_defaults.accepted_file_types)
                fields.setdefault("max_file_size_mb", spec.upload_defaults.max_file_size_mb)
            res = reader.validate(
                Resource,
                {**fields, "pathway_id": pid, "module_id": m.module_id, "order": r_index},
                loc,
            )
            if res is not None:
                resources.append(res)
                rids.append(res.resource_id)
        mod = reader.validate(
            Module,
            {
                "module_id": m.module_id,
                "pathway_id": pid,
                "title": m.title,
                "order": m_index,
                "resource_ids": rids,
                "change_policy": spec.change_policy,
            },
            ["modules", m_index],
        )
        if mod is not None:
            modules.append(mod)
    path_doc = reader.validate(
        Pathway,
        {
            "pathway_id": pid,
            "title": spec.title,
            "description": spec.description,
            "module_ids": [m.module_id for m in spec.modules],
            "change_policy": spec.change_policy,
        },
        [],
    )
    if len(problems) > before or path_doc is None:
        return Catalog([], [], [])
    return Catalog([path_doc], modules, resources)


def read_dir(folder: Path = PATHWAYS) -> Catalog:
    """Every ``*.yaml`` of ``folder`` as one catalog; :class:`CatalogError` lists every problem
    (also ids used twice across the files)."""
    problems: list[str] = []
    parts: list[Catalog] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise CatalogError([f"{folder}: no pathway files (*.yaml)"])
    for path in files:
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        parts.append(read_file(path, problems, shown))
    merged = Catalog(
        [p for c in parts for p in c.pathways],
        [m for c in parts for m in c.modules],
        [r for c in parts for r in c.resources],
    )
    for kind, ids in (
        ("module", [m.module_id for m in merged.modules]),
        ("resource", [r.resource_id for r in merged.resources]),
    ):
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                problems.append(f"{folder}: {kind} id {i!r} is used more than once")
            seen.add(i)
    if problems:
        raise CatalogError(problems)
    return merged
