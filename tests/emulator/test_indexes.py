"""Every Firestore query the product runs, and the index that serves it in firestore.indexes.json.

The Firestore emulator does NOT enforce composite indexes: it answers any valid query, and it never
reads firestore.indexes.json (``test_the_emulator_does_not_enforce_composite_indexes`` proves it,
and fails the day that changes). So the emulator cannot tell us an index is missing. This module
therefore checks three things:

1. ``QUERIES`` below lists every query, next to the code that runs it (``used_by``). The list is
   kept in step with the code mechanically: every function in shared/ or functions/ that builds a
   query, and every ``query(...)`` of the web page (web/src and the local debugging page in web/local,
   Firebase JS SDK), must be listed, and
   the fields each filters and orders on (read from the source) must be the fields of its specs. Adding or changing a query without updating the list
   fails ``test_the_list_matches_the_code``.
2. Each query, built from its spec, runs against a real Firestore emulator (started here on port
   8492, independent of ``make up``) over seeded documents and returns exactly the expected
   documents in the expected order: the query is valid and means what the spec says.
3. Statically, following Firestore's index rules, each spec is served by firestore.indexes.json:
   a query with equality filters and an order different from them needs a composite index whose
   fields are the equality fields (any order) followed by the order-by fields (in order, with their
   directions); an equality-only query is served by the automatic single-field indexes, except in
   a collection-group query, which needs a single-field index exemption with COLLECTION_GROUP
   scope. And every index in the file serves some query (an unused index costs a write per
   document write).

To add a query: add a ``QuerySpec`` with ``used_by`` pointing at the function that runs it, add the
index the static check asks for to firestore.indexes.json, and run this module.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import unique, wait_for

ROOT = Path(__file__).resolve().parents[2]
INDEX_FILE = ROOT / "firestore.indexes.json"
HOST = "127.0.0.1:8492"
PROJECT = "demo-aibc-indexes"
ASC, DESC = "ASCENDING", "DESCENDING"
COLLECTION, COLLECTION_GROUP = "COLLECTION", "COLLECTION_GROUP"


@dataclass(frozen=True)
class QuerySpec:
    """One query: equality (and at most one array-contains) filters, then order-by clauses."""

    name: str
    used_by: str  # "path/to/module.py:Class.method" (or "path:function")
    collection: str  # the collection id (the index file's collectionGroup)
    equals: tuple[str, ...] = ()
    order_by: tuple[tuple[str, str], ...] = ()
    scope: str = COLLECTION
    parent: str = ""  # for a sub-collection queried per parent, e.g. "users/{uid}"
    contains: str = ""  # an array-contains filter on this field

    @property
    def filters(self) -> frozenset[str]:
        """Every filtered field (equality and array-contains)."""
        return frozenset(self.equals) | ({self.contains} if self.contains else set())

    def __str__(self) -> str:
        return self.name


SUBMISSION_STORE = "shared/adapters/submission_store.py"
LEARNERS = "shared/adapters/learners.py"
COHORT_STORE = "shared/adapters/cohort_store.py"
LEARNER_JS = "web/src/learner.js"
INSTRUCTOR_JS = "web/src/instructor.js"
NOTIFICATIONS_JS = "web/src/notifications.js"
DEBUG_JS = "web/local/debug.js"  # the local cloud's debugging page, never deployed

QUERIES: tuple[QuerySpec, ...] = (
    QuerySpec(
        "review queue, every pathway, oldest upload first (cursor on uploaded_at, submission_id)",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.pending",
        collection="submissions",
        equals=("status",),
        order_by=(("uploaded_at", ASC), ("submission_id", ASC)),
    ),
    QuerySpec(
        "review queue of one pathway, oldest upload first",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.pending",
        collection="submissions",
        equals=("status", "pathway_id"),
        order_by=(("uploaded_at", ASC), ("submission_id", ASC)),
    ),
    QuerySpec(
        "review queue of one module, oldest upload first",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.pending",
        collection="submissions",
        equals=("status", "module_id"),
        order_by=(("uploaded_at", ASC), ("submission_id", ASC)),
    ),
    QuerySpec(
        "review queue of one resource, oldest upload first",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.pending",
        collection="submissions",
        equals=("status", "resource_id"),
        order_by=(("uploaded_at", ASC), ("submission_id", ASC)),
    ),
    QuerySpec(
        "recent decisions (approved or rejected), the latest first (cursor on reviewed_at, id)",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.decided",
        collection="submissions",
        equals=("status",),
        order_by=(("reviewed_at", DESC), ("submission_id", DESC)),
    ),
    QuerySpec(
        "an instructor's recent decisions (their learners: instructor_uids), the latest first",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.decided",
        collection="submissions",
        equals=("status",),
        contains="instructor_uids",
        order_by=(("reviewed_at", DESC), ("submission_id", DESC)),
    ),
    QuerySpec(
        "a learner's submissions for one resource",
        used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.list_submissions",
        collection="submissions",
        equals=("user_id", "resource_id"),
    ),
    *(
        QuerySpec(
            f"learners with {group} documents{where}, between two uids (reconcile pages, lanes)",
            used_by=f"{LEARNERS}:FirestoreLearnerIndex._ranged",
            collection=group,
            scope=COLLECTION_GROUP,
            equals=equals,
        )
        for group in ("resource_progress", "module_progress", "pathway_progress")
        for where, equals in (("", ()), (" in one pathway", ("pathway_id",)))
    ),
    # The cohort dashboard (single-field indexes only; their filters are in the code).
    QuerySpec(
        "dashboard: a page of a cohort's rows by uid",
        used_by="shared/adapters/dashboard_store.py:FirestoreDashboardStore.rows_page",
        collection="rows",
        parent="cohorts/{uid}/dashboard/p",
        order_by=(("__name__", ASC),),
    ),
    QuerySpec(
        "dashboard: rows inactive since a time (last_activity_at < t), oldest first",
        used_by="shared/adapters/dashboard_store.py:FirestoreDashboardStore.inactive",
        collection="rows",
        parent="cohorts/{uid}/dashboard/p",
        order_by=(("last_activity_at", ASC),),
    ),
    # The web page reads Firestore directly (Firebase JS SDK, under firestore.rules).
    QuerySpec(
        "web: live pending queue (admin)",
        used_by=INSTRUCTOR_JS,
        collection="submissions",
        equals=("status",),
    ),
    QuerySpec(
        "web: live pending queue of an instructor's learners",
        used_by=INSTRUCTOR_JS,
        collection="submissions",
        equals=("status",),
        contains="instructor_uids",
    ),
    # issue 12: the review queue of an instructor (instructor_uids) or of a cohort (cohort_ids)
    *(
        QuerySpec(
            f"review queue of {who}{what}, oldest upload first",
            used_by=f"{SUBMISSION_STORE}:FirestoreSubmissionStore.pending",
            collection="submissions",
            equals=("status", *scope),
            contains=array,
            order_by=(("uploaded_at", ASC), ("submission_id", ASC)),
        )
        for who, array in (("an instructor", "instructor_uids"), ("a cohort", "cohort_ids"))
        for what, scope in (
            ("", ()),
            (" in one pathway", ("pathway_id",)),
            (" in one module", ("module_id",)),
            (" in one resource", ("resource_id",)),
        )
    ),
    QuerySpec(
        "every cohort by id (admin)",
        used_by=f"{COHORT_STORE}:FirestoreCohortReader.list_cohorts",
        collection="cohorts",
        order_by=(("__name__", ASC),),
    ),
    QuerySpec(
        "the cohorts an instructor teaches, by id",
        used_by=f"{COHORT_STORE}:FirestoreCohortReader.list_cohorts",
        collection="cohorts",
        contains="instructor_uids",
        order_by=(("__name__", ASC),),
    ),
    QuerySpec(
        "a page of a cohort's members by uid",
        used_by=f"{COHORT_STORE}:FirestoreCohortReader.members",
        collection="members",
        parent="cohorts/{uid}",
        order_by=(("__name__", ASC),),
    ),
    QuerySpec(
        "the ids of a learner's submissions (keeping their cohort copies in step)",
        used_by=f"{COHORT_STORE}:FirestoreCohortStore.submission_ids",
        collection="submissions",
        equals=("user_id",),
    ),
    QuerySpec(
        "web: a learner's resource progress in one pathway (live)",
        used_by=LEARNER_JS,
        collection="resource_progress",
        parent="users/{uid}",
        equals=("pathway_id",),
    ),
    QuerySpec(
        "web: a learner's submissions in one pathway (live)",
        used_by=LEARNER_JS,
        collection="submissions",
        equals=("user_id", "pathway_id"),
    ),
    QuerySpec(
        "web: a learner's recent activity on the overview (actions only, newest first)",
        used_by=LEARNER_JS,
        collection="progress_events",
        parent="users/{uid}",
        equals=("activity",),
        order_by=(("at", DESC),),
    ),
    QuerySpec(
        "web: a learner's newest events, for events written before `activity` existed",
        used_by=LEARNER_JS,
        collection="progress_events",
        parent="users/{uid}",
        order_by=(("at", DESC),),
    ),
    QuerySpec(
        "web: a learner's unread notifications (the live count)",
        used_by=NOTIFICATIONS_JS,
        collection="notifications",
        parent="users/{uid}",
        equals=("read",),
    ),
    QuerySpec(
        "web: a learner's notifications, newest first (the live list)",
        used_by=NOTIFICATIONS_JS,
        collection="notifications",
        parent="users/{uid}",
        order_by=(("created_at", DESC),),
    ),
    QuerySpec(
        "web: another learner's submissions (the access demo; the rules refuse it)",
        used_by=DEBUG_JS,
        collection="submissions",
        equals=("user_id",),
    ),
    QuerySpec(
        "a learner's excuse trail in a pathway, one action at a time, the latest first",
        used_by="shared/adapters/excuse_log.py:FirestoreExcuseLog.excuse_entries",
        collection="audit_log",
        equals=("user_id", "pathway_id", "action"),
        order_by=(("at", DESC),),
    ),
)


# ---- Firestore's index rules, statically ---------------------------------------------------


def load_index_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(INDEX_FILE.read_text())
    return data


def composite_fields(spec: QuerySpec) -> tuple[frozenset[str], tuple[tuple[str, str], ...]] | None:
    """The composite index a spec needs, as (equality fields, ordered fields); None if none. (The
    array-contains field, if any, is ``spec.contains``: an index field with ``arrayConfig``.)"""
    order = tuple(o for o in spec.order_by if o[0] != "__name__")
    fields = set(spec.filters) | {f for f, _ in order}
    if not order or len(fields) <= 1:
        return None  # filters only (single-field indexes, merged) or a single field
    return frozenset(spec.equals), order


def index_serves(index: dict[str, Any], spec: QuerySpec) -> bool:
    if index.get("collectionGroup") != spec.collection or index.get("queryScope") != spec.scope:
        return False
    need = composite_fields(spec)
    if need is None:
        return False
    equals, order = need
    fields = [(f["fieldPath"], f.get("order") or f.get("arrayConfig")) for f in index["fields"]]
    if fields and fields[-1][0] == "__name__":
        fields = fields[:-1]
    width = len(equals) + (1 if spec.contains else 0)
    head, tail = fields[:width], fields[width:]
    arrays = [f for f, kind in head if kind == "CONTAINS"]
    return (
        {f for f, kind in head if kind != "CONTAINS"} == equals
        and arrays == ([spec.contains] if spec.contains else [])
        and tuple(tail) == order
    )


def single_field_served(data: dict[str, Any], spec: QuerySpec, field: str) -> bool:
    """Automatic indexes serve COLLECTION scope unless an override drops them; COLLECTION_GROUP
    scope needs an override that adds it."""
    overrides = [
        o
        for o in data.get("fieldOverrides", [])
        if o["collectionGroup"] == spec.collection and o["fieldPath"] == field
    ]
    if not overrides:
        return spec.scope == COLLECTION
    scopes = {
        i.get("queryScope", COLLECTION) for o in overrides for i in o["indexes"] if "order" in i
    }
    return spec.scope in scopes


def serving(data: dict[str, Any], spec: QuerySpec) -> list[str]:
    """What in the file serves ``spec`` (empty: nothing does)."""
    if composite_fields(spec) is not None:
        return [
            f"index #{n}" for n, index in enumerate(data["indexes"]) if index_serves(index, spec)
        ]
    fields = list(dict.fromkeys([*sorted(spec.filters), *(f for f, _ in spec.order_by)]))
    fields = [f for f in fields if f != "__name__"]
    if all(single_field_served(data, spec, f) for f in fields):
        return [f"single-field {spec.scope} index on {', '.join(fields)}"]
    return []


def test_the_index_file_is_well_formed() -> None:
    data = load_index_file()
    assert set(data) == {"indexes", "fieldOverrides"}
    for index in data["indexes"]:
        assert set(index) == {"collectionGroup", "queryScope", "fields"}, index
        assert index["queryScope"] in {COLLECTION, COLLECTION_GROUP}
        assert len(index["fields"]) >= 2, "a one-field composite index is refused by Firestore"
        for field in index["fields"]:
            if "arrayConfig" in field:
                assert set(field) == {"fieldPath", "arrayConfig"}, field
                assert field["arrayConfig"] == "CONTAINS"
                continue
            assert set(field) == {"fieldPath", "order"}, field
            assert field["order"] in {ASC, DESC}
    for override in data["fieldOverrides"]:
        assert set(override) == {"collectionGroup", "fieldPath", "indexes"}, override
        for index in override["indexes"]:
            assert index.get("queryScope") in {COLLECTION, COLLECTION_GROUP}, index
            assert index.get("order") in {ASC, DESC} or index.get("arrayConfig") == "CONTAINS"


@pytest.mark.parametrize("spec", QUERIES, ids=str)
def test_each_query_is_served_by_the_index_file(spec: QuerySpec) -> None:
    found = serving(load_index_file(), spec)
    if not found:
        need = composite_fields(spec)
        if need is None:
            hint = (
                f"a fieldOverride for {spec.collection}.{', '.join(spec.equals)} with "
                f'{{"order": "ASCENDING", "queryScope": "{spec.scope}"}}'
            )
        else:
            fields = [{"fieldPath": f, "order": ASC} for f in sorted(need[0])]
            if spec.contains:
                fields.append({"fieldPath": spec.contains, "arrayConfig": "CONTAINS"})
            fields += [{"fieldPath": f, "order": o} for f, o in need[1]]
            hint = json.dumps(
                {"collectionGroup": spec.collection, "queryScope": spec.scope, "fields": fields}
            )
        pytest.fail(f"no index in firestore.indexes.json serves {spec.name!r}; add {hint}")


def test_every_index_in_the_file_serves_a_query() -> None:
    data = load_index_file()
    for n, index in enumerate(data["indexes"]):
        assert any(index_serves(index, s) for s in QUERIES), f"index #{n} serves no query: {index}"
    for override in data["fieldOverrides"]:
        group_scoped = [i for i in override["indexes"] if i.get("queryScope") == COLLECTION_GROUP]
        users = [
            s
            for s in QUERIES
            if s.collection == override["collectionGroup"]
            and s.scope == COLLECTION_GROUP
            and override["fieldPath"] in (*s.equals, *(f for f, _ in s.order_by))
        ]
        assert not group_scoped or users, f"collection-group index serves no query: {override}"


def test_the_static_check_catches_a_missing_index() -> None:
    """The rules above are sharp: without its index a spec is reported, with it it passes."""
    spec = QUERIES[0]
    data = load_index_file()
    assert serving(data, spec)
    without = {**data, "indexes": [i for i in data["indexes"] if not index_serves(i, spec)]}
    assert serving(without, spec) == []
    wrong_direction = json.loads(json.dumps(data))
    for index in wrong_direction["indexes"]:
        if index_serves(index, spec):
            index["fields"][-1]["order"] = DESC
    assert serving(wrong_direction, spec) == []
    group = next(s for s in QUERIES if s.scope == COLLECTION_GROUP and s.equals)
    assert serving({"indexes": [], "fieldOverrides": []}, group) == []


# ---- the list matches the code ------------------------------------------------------------

QUERY_METHODS = {"where", "order_by", "collection_group"}
SINGLE_FIELD_OPS = {"<", "<=", ">", ">="}


def _functions(path: Path) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    tree = ast.parse(path.read_text())

    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, Any]]:
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{node.name}", node
                yield from walk(node.body, f"{prefix}{node.name}.")

    yield from walk(tree.body, "")


def _calls(node: ast.AST, name: str) -> list[ast.Call]:
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                out.append(sub)
    return out


def _const(node: ast.AST | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def query_fields(fn: ast.AST) -> tuple[set[str], list[tuple[str, str]], bool]:
    """(filtered fields, order-by clauses, uses collection_group) as written in a function."""
    equals: set[str] = set()
    single: list[tuple[str, str]] = []  # filters that need no composite index (checked below)
    for call in [*_calls(fn, "FieldFilter"), *_calls(fn, "where")]:
        args = call.args
        if len(args) >= 2 and isinstance(_const(args[0]), str):
            op = _const(args[1])
            if op in SINGLE_FIELD_OPS:
                single.append((str(_const(args[0])), str(op)))
                continue
            assert op in ("==", "array_contains"), f"QuerySpec knows == and array_contains: {op!r}"
            equals.add(args[0].value)  # type: ignore[attr-defined]
    order: list[tuple[str, str]] = []
    calls = sorted(_calls(fn, "order_by"), key=lambda c: (c.end_lineno, c.end_col_offset))
    for call in calls:  # source order: a chain's inner call ends first
        field = _const(call.args[0]) if call.args else None
        assert isinstance(field, str), "order_by on a computed field: list it by hand"
        direction = ASC
        for kw in call.keywords:
            if kw.arg == "direction":
                value = kw.value
                text = value.attr if isinstance(value, ast.Attribute) else _const(value)
                direction = DESC if str(text).upper() == DESC else ASC
        order.append((field, direction))
    for field, op in single:
        # served by single-field indexes: a range on the field ordered by first; anything else
        # would need a composite index QuerySpec cannot state
        alone = not equals and order[:1] == [(field, ASC)]
        assert alone, f"QuerySpec knows == and array_contains; extend it for {op!r}"
    return equals, order, bool(_calls(fn, "collection_group"))


def _strings(tree: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _adapter_strings(path: Path) -> set[str]:
    """The strings of a module and of the ``shared.adapters`` modules it imports from (document
    paths such as the dashboard's live with the unit of work)."""
    tree = ast.parse(path.read_text())
    names = _strings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shared.adapters."):
            source = ROOT / (str(node.module).replace(".", "/") + ".py")
            names |= _strings(ast.parse(source.read_text()))
    return names


def test_the_code_reader_sees_filters_orders_and_groups() -> None:
    source = """
def listing(db, uid, rid):
    q = db.collection("submissions").where(filter=FieldFilter("user_id", "==", uid))
    q = q.where("resource_id", "==", rid)
    return q.order_by("created_at", direction=firestore.Query.DESCENDING).order_by("attempt")

def everyone(db, m):
    return db.collection_group("resource_progress").where(filter=FieldFilter("module_id", "==", m))
"""
    listing, everyone = ast.parse(source).body
    assert query_fields(listing) == (
        {"user_id", "resource_id"},
        [("created_at", DESC), ("attempt", ASC)],
        False,
    )
    assert query_fields(everyone) == ({"module_id"}, [], True)
    with pytest.raises(AssertionError, match="knows == and array_contains"):
        query_fields(ast.parse('q.where(filter=FieldFilter("n", ">", 1))'))


JsQuery = tuple[str, str, frozenset[str], tuple[tuple[str, str], ...]]


def js_queries(text: str) -> list[JsQuery]:
    """(collection, scope, equality fields, order-by) of each ``query(...)`` in web code."""
    found: list[JsQuery] = []
    for match in re.finditer(r"\bquery\(", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        body = text[match.end() : end - 1]
        source = re.search(r"\b(collection|collectionGroup)\(\s*db\s*,([^)]*)\)", body)
        assert source, f"query without collection(db, ...): {body[:80]!r}"
        name = re.findall(r'"([^"]+)"', source.group(2))[-1]
        scope = COLLECTION_GROUP if source.group(1) == "collectionGroup" else COLLECTION
        equals = set()
        for field, op in re.findall(r'\bwhere\(\s*"([^"]+)"\s*,\s*"([^"]+)"', body):
            assert op in ("==", "array-contains"), f"QuerySpec knows == and array-contains: {op!r}"
            equals.add(field)
        order = tuple(
            (field, DESC if way == "desc" else ASC)
            for field, way in re.findall(r'\borderBy\(\s*"([^"]+)"(?:\s*,\s*"(asc|desc)")?', body)
        )
        found.append((name, scope, frozenset(equals), order))
    return found


def test_the_web_reader_sees_filters_orders_and_groups() -> None:
    text = """
      onSnapshot(query(collection(db, ...base, "resource_progress"), where("pathway_id", "==", p)));
      getDocs(query(collectionGroup(db, "submissions"), where("user_id", "==", u),
        orderBy("created_at", "desc"), orderBy("attempt")));
    """
    assert js_queries(text) == [
        ("resource_progress", COLLECTION, frozenset({"pathway_id"}), ()),
        (
            "submissions",
            COLLECTION_GROUP,
            frozenset({"user_id"}),
            (("created_at", DESC), ("attempt", ASC)),
        ),
    ]


def web_queries() -> dict[str, list[JsQuery]]:
    out: dict[str, list[JsQuery]] = {}
    paths = [*(ROOT / "web" / "src").rglob("*.js"), *(ROOT / "web" / "local").rglob("*.js")]
    for path in sorted(paths):
        found = js_queries(path.read_text())
        if found:
            out[str(path.relative_to(ROOT))] = found
    return out


def querying_functions() -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}
    for folder in ("shared", "functions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for qualname, fn in _functions(path):
                own = [c for name in QUERY_METHODS for c in _calls(fn, name)]
                if own:
                    found[f"{path.relative_to(ROOT)}:{qualname}"] = fn
    # an enclosing function is listed only if the query is not all in a nested one
    return {
        k: v
        for k, v in found.items()
        if not any(other != k and other.startswith(k + ".") for other in found)
    }


def test_the_list_matches_the_code() -> None:
    in_code = querying_functions()
    in_web = web_queries()
    listed = {s.used_by for s in QUERIES}
    unlisted = sorted((set(in_code) | set(in_web)) - listed)
    assert not unlisted, f"queries not in QUERIES (add a QuerySpec for each): {unlisted}"
    for used_by in sorted(listed):
        specs = [s for s in QUERIES if s.used_by == used_by]
        if used_by in in_web:
            want = sorted((s.collection, s.scope, s.filters, s.order_by) for s in specs)
            assert sorted(in_web[used_by], key=repr) == sorted(want, key=repr), used_by
            continue
        assert used_by in in_code, f"{used_by} runs no query any more: update QUERIES"
        equals, order, group = query_fields(in_code[used_by])
        assert set().union(*(s.filters for s in specs)) == equals, (used_by, equals)
        for spec in specs:
            assert list(spec.order_by) == order, (spec.name, order)
            assert (spec.scope == COLLECTION_GROUP) == group, spec.name
        path = ROOT / used_by.split(":")[0]
        names = _strings(in_code[used_by]) | _adapter_strings(path)
        for spec in specs:
            assert spec.collection in names, f"{spec.name}: {spec.collection!r} not in {path}"


# ---- the queries run on the emulator -------------------------------------------------------


def _port_open(host: str) -> bool:
    name, port = host.split(":")
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((name, int(port))) == 0


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Firestore client on this module's own emulator (a fresh one: nothing else uses 8492)."""
    gcloud = shutil.which("gcloud")
    assert gcloud, "the Firestore emulator comes with the Google Cloud CLI (gcloud)"
    assert not _port_open(HOST), f"{HOST} is taken: this module starts its own emulator there"
    log = (tmp_path_factory.mktemp("firestore-emulator") / "emulator.log").open("w")
    proc = subprocess.Popen(
        [gcloud, "emulators", "firestore", "start", f"--host-port={HOST}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def ready() -> bool:
            assert proc.poll() is None, f"the emulator exited; see {log.name}"
            try:
                return requests.get(f"http://{HOST}/", timeout=5).ok
            except requests.RequestException:  # not up yet, or slow on a busy machine
                return False

        wait_for(ready, timeout=90, interval=0.25, what="the Firestore emulator on " + HOST)
        from google.cloud import firestore

        saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
        os.environ["FIRESTORE_EMULATOR_HOST"] = HOST
        try:
            client = firestore.Client(project=PROJECT)
        finally:
            if saved is None:
                os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
            else:
                os.environ["FIRESTORE_EMULATOR_HOST"] = saved
        yield client
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _value(field: str, rank: int) -> Any:
    """A value that sorts by ``rank`` (timestamps for *_at fields, strings otherwise)."""
    if field.endswith("_at"):
        return START + dt.timedelta(minutes=rank)
    return f"{field}-{rank:03d}"


def _build(db: Any, spec: QuerySpec, parent: str, equal: dict[str, str]) -> Any:
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    if spec.scope == COLLECTION_GROUP:
        query: Any = db.collection_group(spec.collection)
    else:
        query = db.collection(f"{parent}/{spec.collection}" if parent else spec.collection)
    for field in spec.equals:
        query = query.where(filter=FieldFilter(field, "==", equal[field]))
    if spec.contains:
        query = query.where(
            filter=FieldFilter(spec.contains, "array_contains", equal[spec.contains])
        )
    for field, direction in spec.order_by:
        way = firestore.Query.DESCENDING if direction == DESC else firestore.Query.ASCENDING
        query = query.order_by(field, direction=way)
    return query


@pytest.mark.parametrize("spec", QUERIES, ids=str)
def test_each_query_runs_on_the_emulator_and_means_what_it_says(db: Any, spec: QuerySpec) -> None:
    run = unique("q")
    equal = {f: f"{run}-{f}" for f in spec.filters}
    if spec.scope == COLLECTION_GROUP:  # documents under two different parents
        parents = [f"users/{run}-u0", f"users/{run}-u1"]
    else:
        parents = [spec.parent.format(uid=f"{run}-u0")] if spec.parent else [""]
    ranks = [3, 1, 4, 0, 2]  # insertion order differs from every sort order
    expected: list[tuple[dict[str, Any], str]] = []
    batch = db.batch()
    for n, rank in enumerate(ranks):
        parent = parents[n % len(parents)]
        doc_id = f"{run}-d{n}"
        data: dict[str, Any] = {**equal}
        if spec.contains:
            data[spec.contains] = [f"{run}-x", equal[spec.contains]]
        for i, (field, _) in enumerate(spec.order_by):
            if field == "__name__":  # the document id orders itself
                continue
            data[field] = _value(field, rank if i == 0 else (7 * rank + n) % 5)
        path = f"{parent}/{spec.collection}/{doc_id}" if parent else f"{spec.collection}/{doc_id}"
        batch.set(db.document(path), data)
        expected.append((data, doc_id))
        # a near miss for every equality filter: must not come back
        for field in spec.equals:
            miss = {**data, field: data[field] + "-other"}
            batch.set(db.document(f"{path}-miss-{field}"), miss)
        if spec.contains:
            miss = {**data, spec.contains: [f"{run}-x"]}
            batch.set(db.document(f"{path}-miss-{spec.contains}"), miss)
    batch.commit()

    for field, direction in reversed(spec.order_by):  # stable sorts, last key first

        def key(item: tuple[dict[str, Any], str], f: str = field) -> Any:
            return item[1] if f == "__name__" else item[0][f]

        expected.sort(key=key, reverse=direction == DESC)
    want = [doc_id for _, doc_id in expected]
    got = [snap.id for snap in _build(db, spec, parents[0], equal).stream()]
    if not spec.filters:  # an unfiltered query also returns the other tests' documents
        got = [doc_id for doc_id in got if doc_id.startswith(run)]
    if spec.order_by:
        assert got == want
    else:
        assert sorted(got) == sorted(want)


def test_the_emulator_does_not_enforce_composite_indexes(db: Any) -> None:
    """A query that real Firestore refuses without a composite index (equality on one field, order
    on another, no such index in the file) runs on the emulator. If this starts failing, the
    emulator enforces indexes: run the real queries there and drop the static check."""
    spec = QuerySpec(
        "no index exists for this one",
        used_by="(test)",
        collection="submissions",
        equals=("file_name",),
        order_by=(("size_bytes", DESC),),
    )
    assert serving(load_index_file(), spec) == []
    run = unique("noindex")
    db.document(f"submissions/{run}-a").set({"file_name": run, "size_bytes": 1})
    db.document(f"submissions/{run}-b").set({"file_name": run, "size_bytes": 2})
    got = [s.id for s in _build(db, spec, "", {"file_name": run}).stream()]
    assert got == [f"{run}-b", f"{run}-a"]
