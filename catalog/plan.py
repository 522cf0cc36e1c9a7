"""The difference between the authored catalog and the stored one: pure, no I/O.

:func:`plan` compares two :class:`Catalog` s (the files, and what Firestore holds) and returns the
:class:`Change` s an operator reads, the documents to write (with their ``content_version`` and
``counts_since_version`` worked out) and to delete, and the re-evaluation runs to enqueue.

What alters what counts (and is re-evaluated): a resource added, removed, moved to another module,
or changed in any field but the display ones (``title``, ``description``, ``order``, ``url``: so
``optional``, ``requires_upload`` and any completion rule do) and the due dates (``due_at``,
``due_after``: they decide ``late`` at the next completion, never a count); a module added to or removed from a
pathway, or moved to another one. Reordering and display edits are written and reported, and move
no learner's numbers.

Versions: a resource's ``content_version`` goes up when any field but its place (``order``, its
module) changes; a module's when its title, policy, or any of its resources (added, removed, moved
in or out, reordered, changed) does; a pathway's when its own fields or any of its modules do. A
resource added, moved in, or changed in a counting field starts counting at its module's new
version (``counts_since_version``); a module added to (or moved into) a pathway at the pathway's
new version: that is what the ``keep_completed`` policy compares (:mod:`shared.domain.catalog_change`).
Nothing changed: nothing written, no version bumped (a second apply writes 0).

Stored pathways that the files do not name are left alone (and listed) unless ``prune``, which
*retires* them (``prune_only``: only those of them): the pathway document gets ``retired_at`` and
keeps everything else, its modules and resources stay as they are (learners' progress documents
name them: a learner's record of a retired pathway stays legible and exact), and one
re-evaluation run over the pathway's learners marks their pathway rollups retired
(:mod:`shared.domain.catalog_change`); certificates are untouched (the numbers do not change). A
retired pathway the files name again is restored (the mark goes, the same way). Modules and
resources removed from a pathway that stays are removed and re-evaluated as always.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from pydantic import BaseModel

from shared.domain.models import Module, Pathway, Resource

DISPLAY_FIELDS = frozenset({"title", "description", "order", "url"})
# Due dates decide ``late`` when a learner completes, never what counts: written and versioned,
# not re-evaluated, and a keep_completed pathway does not waive the resource for them.
DUE_FIELDS = frozenset({"due_at", "due_after"})
VERSION_FIELDS = frozenset({"content_version", "counts_since_version"})
PLACE_FIELDS = frozenset({"order", "module_id", "pathway_id"})

M = TypeVar("M", bound=BaseModel)
Level = Literal["pathway", "module", "resource"]
Kind = Literal["added", "removed", "changed", "reordered", "moved", "retired", "restored"]


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


@dataclass(frozen=True)
class Change:
    level: Level
    kind: Kind
    id: str
    detail: str
    counts: bool  # alters what counts: re-evaluated
    # whose numbers it moves: learners with a rollup of these modules / pathways
    module_ids: tuple[str, ...] = ()
    pathway_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    writes: list[tuple[str, BaseModel]]
    deletes: list[str]
    # re-evaluation: pathway whose learners are scanned -> the pathways recounted for each of them
    runs: dict[str, list[str]] = field(default_factory=dict)
    unmanaged: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.writes and not self.deletes


def differing(a: BaseModel, b: BaseModel, ignore: Iterable[str] = VERSION_FIELDS) -> set[str]:
    """The fields whose values differ (``ignore`` aside)."""
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    skip = set(ignore)
    return {k for k in da.keys() | db.keys() if k not in skip and da.get(k) != db.get(k)}


def _by_id(items: Iterable[M], key: str) -> dict[str, M]:
    return {getattr(i, key): i for i in items}


def plan(
    desired: Catalog,
    stored: Catalog,
    *,
    prune: bool = False,
    prune_only: Iterable[str] | None = None,
    now: dt.datetime | None = None,
) -> Plan:
    """The plan; ``now``: the ``retired_at`` of the pathways ``prune`` retires."""
    want_p = _by_id(desired.pathways, "pathway_id")
    have_p = _by_id(stored.pathways, "pathway_id")
    # pruned pathways are retired, never diffed: their modules and resources stay as stored
    managed = set(want_p)
    unnamed = sorted(p for p in have_p.keys() - want_p.keys() if have_p[p].retired_at is None)
    only = set(prune_only) if prune_only is not None else None
    retiring = [p for p in unnamed if prune and (only is None or p in only)]
    want_m = _by_id(desired.modules, "module_id")
    have_m = {
        m.module_id: m for m in stored.modules if m.pathway_id in managed or m.module_id in want_m
    }
    want_r = _by_id(desired.resources, "resource_id")
    have_r = {
        r.resource_id: r
        for r in stored.resources
        if r.pathway_id in managed or r.resource_id in want_r
    }
    changes: list[Change] = []
    touched_modules: set[str] = set()  # their content changed
    counting_resources: set[str] = set()  # start counting anew (counts_since_version)
    content_resources: set[str] = set()  # content_version bumps
    runs: dict[str, set[str]] = defaultdict(set)

    def rerun(src: str, dst: str) -> None:
        runs[src].add(dst)
        runs.setdefault(dst, set())  # the destination's own learners are scanned too

    # ---- resources
    for rid in sorted(want_r.keys() | have_r.keys()):
        w, h = want_r.get(rid), have_r.get(rid)
        if h is None and w is not None:
            changes.append(
                Change("resource", "added", rid, f"in {w.module_id}", True, (w.module_id,))
            )
            touched_modules.add(w.module_id)
            counting_resources.add(rid)
            rerun(w.pathway_id, w.pathway_id)
        elif w is None and h is not None:
            changes.append(
                Change("resource", "removed", rid, f"from {h.module_id}", True, (h.module_id,))
            )
            touched_modules.add(h.module_id)
            rerun(h.pathway_id, h.pathway_id)
        elif w is not None and h is not None:
            diff = differing(w, h)
            if w.module_id != h.module_id:
                changes.append(
                    Change(
                        "resource",
                        "moved",
                        rid,
                        f"{h.module_id} -> {w.module_id}",
                        True,
                        (h.module_id, w.module_id),
                    )
                )
                touched_modules |= {h.module_id, w.module_id}
                counting_resources.add(rid)
                rerun(h.pathway_id, w.pathway_id)
            content = diff - PLACE_FIELDS
            if content:
                counts = bool(content - DISPLAY_FIELDS - DUE_FIELDS)
                changes.append(
                    Change(
                        "resource",
                        "changed",
                        rid,
                        ", ".join(sorted(content)),
                        counts,
                        (w.module_id,) if counts else (),
                    )
                )
                content_resources.add(rid)
                touched_modules.add(w.module_id)
                if counts:
                    counting_resources.add(rid)
                    rerun(w.pathway_id, w.pathway_id)
            if "order" in diff and w.module_id == h.module_id:
                changes.append(
                    Change("resource", "reordered", rid, f"{h.order} -> {w.order}", False)
                )
                touched_modules.add(w.module_id)

    # ---- modules
    touched_pathways: set[str] = set()
    counting_modules: set[str] = set()
    for mid in sorted(want_m.keys() | have_m.keys()):
        wm, hm = want_m.get(mid), have_m.get(mid)
        if hm is None and wm is not None:
            changes.append(
                Change("module", "added", mid, f"to {wm.pathway_id}", True, (), (wm.pathway_id,))
            )
            touched_pathways.add(wm.pathway_id)
            counting_modules.add(mid)
            rerun(wm.pathway_id, wm.pathway_id)
        elif wm is None and hm is not None:
            changes.append(
                Change(
                    "module", "removed", mid, f"from {hm.pathway_id}", True, (), (hm.pathway_id,)
                )
            )
            touched_pathways.add(hm.pathway_id)
            rerun(hm.pathway_id, hm.pathway_id)
        elif wm is not None and hm is not None:
            diff = differing(wm, hm)
            if wm.pathway_id != hm.pathway_id:
                changes.append(
                    Change(
                        "module",
                        "moved",
                        mid,
                        f"{hm.pathway_id} -> {wm.pathway_id}",
                        True,
                        (),
                        (hm.pathway_id, wm.pathway_id),
                    )
                )
                touched_pathways |= {hm.pathway_id, wm.pathway_id}
                counting_modules.add(mid)
                rerun(hm.pathway_id, wm.pathway_id)
            own = diff - {"order", "pathway_id", "resource_ids"}
            if own:
                changes.append(Change("module", "changed", mid, ", ".join(sorted(own)), False))
                touched_modules.add(mid)
            if "order" in diff and wm.pathway_id == hm.pathway_id:
                changes.append(
                    Change("module", "reordered", mid, f"{hm.order} -> {wm.order}", False)
                )
                touched_pathways.add(wm.pathway_id)
            if "resource_ids" in diff:
                touched_modules.add(mid)

    # ---- pathways
    for pid in sorted(want_p.keys()):
        wp, hp = want_p[pid], have_p.get(pid)
        if hp is None:
            changes.append(Change("pathway", "added", pid, "", False))
        else:
            if hp.retired_at is not None:
                changes.append(
                    Change(
                        "pathway", "restored", pid, "named again: offered again", True, (), (pid,)
                    )
                )
                rerun(pid, pid)
            own = differing(wp, hp) - {"module_ids", "retired_at"}
            if own:
                changes.append(Change("pathway", "changed", pid, ", ".join(sorted(own)), False))
                touched_pathways.add(pid)
            if wp.module_ids != hp.module_ids:
                touched_pathways.add(pid)

    # ---- versions, bottom-up through the stored ones
    module_version: dict[str, int] = {}
    for mid, wm in want_m.items():
        hm = have_m.get(mid)
        if hm is None:
            module_version[mid] = 1
        else:
            bump = mid in touched_modules or bool(differing(wm, hm) - {"order"})
            module_version[mid] = hm.content_version + (1 if bump else 0)
    pathway_version: dict[str, int] = {}
    for pid in want_p:
        hp = have_p.get(pid)
        mods_changed = any(
            module_version[m.module_id] != (have_m[m.module_id].content_version)
            for m in desired.modules
            if m.pathway_id == pid and m.module_id in have_m
        )
        if hp is None:
            pathway_version[pid] = 1
        else:
            bump = pid in touched_pathways or mods_changed
            pathway_version[pid] = hp.content_version + (1 if bump else 0)
        if pid in touched_pathways or mods_changed:
            touched_pathways.add(pid)

    final: list[BaseModel] = []
    for p in desired.pathways:
        final.append(p.model_copy(update={"content_version": pathway_version[p.pathway_id]}))
    for m in desired.modules:
        hm = have_m.get(m.module_id)
        since = (
            pathway_version[m.pathway_id]
            if hm is None or m.module_id in counting_modules
            else hm.counts_since_version
        )
        final.append(
            m.model_copy(
                update={
                    "content_version": module_version[m.module_id],
                    "counts_since_version": since,
                }
            )
        )
    for r in desired.resources:
        hr = have_r.get(r.resource_id)
        version = 1 if hr is None else hr.content_version + (r.resource_id in content_resources)
        if hr is None or r.resource_id in counting_resources:
            since = module_version[r.module_id]
        else:
            since = hr.counts_since_version
        final.append(
            r.model_copy(update={"content_version": version, "counts_since_version": since})
        )

    at = now or dt.datetime.now(dt.UTC)
    for pid in retiring:
        kept = sum(1 for m in stored.modules if m.pathway_id == pid)
        detail = f"not in the files: retired, its {kept} module(s) kept, learners' rollups marked"
        changes.append(Change("pathway", "retired", pid, detail, True, (), (pid,)))
        final.append(have_p[pid].model_copy(update={"retired_at": at}))
        rerun(pid, pid)

    stored_docs: Mapping[str, BaseModel] = {
        **{f"pathways/{k}": v for k, v in have_p.items()},
        **{f"modules/{k}": v for k, v in have_m.items()},
        **{f"resources/{k}": v for k, v in have_r.items()},
    }
    writes: list[tuple[str, BaseModel]] = []
    for doc in final:
        path = _path(doc)
        old = stored_docs.get(path)
        if old is None or differing(doc, old, ignore=()):
            writes.append((path, doc))
    deletes = [f"resources/{r}" for r in sorted(have_r.keys() - want_r.keys())]
    deletes += [f"modules/{m}" for m in sorted(have_m.keys() - want_m.keys())]
    return Plan(
        changes=changes,
        writes=writes,
        deletes=deletes,
        runs={src: sorted(dst - {src}) for src, dst in sorted(runs.items())},
        unmanaged=[p for p in unnamed if p not in retiring],
    )


def _path(doc: BaseModel) -> str:
    if isinstance(doc, Pathway):
        return f"pathways/{doc.pathway_id}"
    if isinstance(doc, Module):
        return f"modules/{doc.module_id}"
    if isinstance(doc, Resource):
        return f"resources/{doc.resource_id}"
    raise TypeError(type(doc).__name__)
