"""Seed loader: the sample catalog, or a large synthetic one, validated and written idempotently.

    python -m seed.load                     # the sample catalog (seed/catalog.json)
    python -m seed.load --synthetic 20x10x8 # 20 pathways x 10 modules x 8 resources, ids syn-*

Every document is validated with the domain models before anything is written. A document is written
only when its content differs from what is stored, so a second run changes nothing (and reports
``0 written``). Talks to the Firestore the environment names (``FIRESTORE_EMULATOR_HOST``); when
nothing is named, to the running local cloud (``.local/stack.json``, written by ``make up``); a real
project only when ``GOOGLE_CLOUD_PROJECT`` is set explicitly (with credentials).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.domain.models import Module, Pathway, Resource, ResourceType

CATALOG = Path(__file__).with_name("catalog.json")
UPLOAD_TYPES = {ResourceType.exercise, ResourceType.project}


@dataclass(frozen=True)
class Catalog:
    pathways: list[Pathway]
    modules: list[Module]
    resources: list[Resource]

    def documents(self) -> list[tuple[str, BaseModel]]:
        docs: list[tuple[str, BaseModel]] = []
        docs += [(f"pathways/{p.pathway_id}", p) for p in self.pathways]
        docs += [(f"modules/{m.module_id}", m) for m in self.modules]
        docs += [(f"resources/{r.resource_id}", r) for r in self.resources]
        return docs


def build_catalog(spec: dict[str, Any]) -> Catalog:
    """Turn the nested spec into validated documents with derived ids and orders."""
    pathways: list[Pathway] = []
    modules: list[Module] = []
    resources: list[Resource] = []
    for p in spec["pathways"]:
        pid = p["pathway_id"]
        module_ids: list[str] = []
        for m_index, m in enumerate(p["modules"], start=1):
            mid = m.get("module_id") or f"{pid}-m{m_index}"
            module_ids.append(mid)
            resource_ids: list[str] = []
            for r_index, r in enumerate(m["resources"]):
                rtype = ResourceType(r["type"])
                rid = r.get("resource_id") or f"{mid}-{rtype.value}"
                needs_upload = r.get("requires_upload", rtype in UPLOAD_TYPES)
                resource_ids.append(rid)
                resources.append(
                    Resource(
                        resource_id=rid,
                        pathway_id=pid,
                        module_id=mid,
                        title=r["title"],
                        type=rtype,
                        order=r_index,
                        url=r.get("url", ""),
                        duration_minutes=r.get("duration_minutes", 0),
                        requires_upload=needs_upload,
                        accepted_file_types=list(p["accepted_file_types"]) if needs_upload else [],
                        max_file_size_mb=p["max_file_size_mb"] if needs_upload else 0,
                        optional=r.get("optional", False),
                    )
                )
            modules.append(
                Module(
                    module_id=mid,
                    pathway_id=pid,
                    title=m["title"],
                    order=m_index - 1,
                    resource_ids=resource_ids,
                )
            )
        pathways.append(
            Pathway(
                pathway_id=pid,
                title=p["title"],
                description=p.get("description", ""),
                module_ids=module_ids,
            )
        )
    return Catalog(pathways, modules, resources)


def synthetic_spec(n_pathways: int, n_modules: int, n_resources: int) -> dict[str, Any]:
    kinds = [t.value for t in ResourceType]
    return {
        "pathways": [
            {
                "pathway_id": f"syn-p{p}",
                "title": f"Synthetic pathway {p}",
                "accepted_file_types": ["text/plain", "application/pdf", "image/png"],
                "max_file_size_mb": 10,
                "modules": [
                    {
                        "module_id": f"syn-p{p}-m{m}",
                        "title": f"Module {m}",
                        "resources": [
                            {"type": kinds[r % len(kinds)], "title": f"Resource {r}"}
                            for r in range(n_resources)
                        ],
                    }
                    for m in range(n_modules)
                ],
            }
            for p in range(n_pathways)
        ]
    }


def load(catalog: Catalog, *, db: Any = None, progress: bool = True) -> int:
    """Write what differs; return the number of documents written."""
    if db is None:
        from shared.adapters.firestore import client

        db = client()
    from tqdm import tqdm

    docs = catalog.documents()
    written = 0
    batch = db.batch()
    pending = 0
    refs = [db.document(path) for path, _ in docs]
    stored: dict[str, dict[str, Any] | None] = {}
    for start in range(0, len(refs), 300):
        for snap in db.get_all(refs[start : start + 300]):
            stored[snap.reference.path] = snap.to_dict() if snap.exists else None
    for (path, model), _ref in tqdm(
        zip(docs, refs, strict=True), total=len(docs), desc="seed", unit="doc", disable=not progress
    ):
        data = model.model_dump(mode="json")
        if stored.get(path) == data:
            continue
        batch.set(db.document(path), data)
        written += 1
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
    return written


class NoTarget(RuntimeError):
    pass


def point_at_firestore() -> str:
    """Make sure the environment names a Firestore; say which one."""
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return f"emulator {os.environ['FIRESTORE_EMULATOR_HOST']}"
    from localcloud.stackenv import client_environ, read_stack

    stack = read_stack()
    if stack is not None:
        os.environ.update(client_environ(stack))
        return f"the local cloud's emulator {os.environ['FIRESTORE_EMULATOR_HOST']}"
    if os.environ.get("GOOGLE_CLOUD_PROJECT"):
        return f"project {os.environ['GOOGLE_CLOUD_PROJECT']}"
    raise NoTarget(
        "no Firestore to seed: start the local cloud (`make up`), or set FIRESTORE_EMULATOR_HOST, "
        "or GOOGLE_CLOUD_PROJECT (with credentials) for a real project"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the catalog into Firestore.")
    parser.add_argument("--synthetic", metavar="NxMxK", help="generate N pathways x M modules x K")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.synthetic:
        n, m, k = (int(x) for x in args.synthetic.lower().split("x"))
        spec = synthetic_spec(n, m, k)
    else:
        spec = json.loads(CATALOG.read_text())
    catalog = build_catalog(spec)
    try:
        target = point_at_firestore()
    except NoTarget as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"seed: writing to {target}", file=sys.stderr)
    written = load(catalog, progress=not args.quiet)
    total = len(catalog.documents())
    print(f"seed: {total} documents checked, {written} written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
