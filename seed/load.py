"""Seed loader: the sample catalog, or a large synthetic one, validated and written idempotently.

    python -m seed.load                     # the sample catalog (catalog/pathways/*.yaml)
    python -m seed.load --synthetic 20x10x8 # 20 pathways x 10 modules x 8 resources, ids syn-*

The catalog goes through the code path of ``python -m catalog apply`` (validated with the domain
models, planned against what is stored, written with ``content_version`` worked out and
``catalog_meta/version`` bumped), so a second run changes nothing (and reports ``0 written``). The
seed enqueues no re-evaluation: ``python -m catalog apply`` does, for a catalog learners are in.
Talks to the Firestore the environment names (``FIRESTORE_EMULATOR_HOST``); when nothing is named,
to the running local cloud (``.local/stack.json``, written by ``make up``); a real project only when
``GOOGLE_CLOUD_PROJECT`` is set explicitly (with credentials).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from catalog.plan import Catalog
from shared.domain.models import Module, Pathway, Resource, ResourceType

UPLOAD_TYPES = {ResourceType.exercise, ResourceType.project}

__all__ = ["Catalog", "build_catalog", "load", "sample_catalog", "synthetic_spec"]


def sample_catalog() -> Catalog:
    """The sample catalog: the authored files of ``catalog/pathways``."""
    from catalog.files import read_dir

    return read_dir()


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
    """Write what differs (``catalog apply``'s plan and write); return the number of documents
    written. ``progress`` is kept for callers of the former loader (the write is batched)."""
    if db is None:
        from shared.adapters.firestore import client

        db = client()
    from catalog import plan, store

    stored = store.read_stored(db, catalog)
    written, _ = store.write(db, plan.plan(catalog, stored))
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
        catalog = build_catalog(spec)
    else:
        catalog = sample_catalog()
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
