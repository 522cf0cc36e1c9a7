"""The event bridge's journal: every event it accepted, until delivered or dead-lettered.

A small SQLite file under ``.local/`` (WAL mode: a committed row survives the bridge being killed).
The bridge writes an event here *before* it acknowledges it to the emulator, and deletes it only
after a 2xx from the function, so pending deliveries and the retry schedule survive a restart of
the bridge. It also keeps the (name, generation) pairs of storage objects already turned into
events, the dead-letter list, the catch-ups done on restart, and the bridge's settings.

``make status`` reads the same file (read-only), so it can report while the bridge is down.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    first_at REAL NOT NULL,
    due REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT NOT NULL DEFAULT '',
    dead_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state);
CREATE TABLE IF NOT EXISTS seen_objects (
    bucket TEXT NOT NULL, name TEXT NOT NULL, generation TEXT NOT NULL,
    PRIMARY KEY (bucket, name, generation)
);
CREATE TABLE IF NOT EXISTS catchups (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Delivery:
    target: str  # the entry point (or test trigger id) it is for: budgets and faults key on it
    url: str
    headers: dict[str, str]
    body: bytes
    event_id: str
    first_at: float = field(default_factory=time.time)
    attempt: int = 0
    id: int = 0
    due: float = 0.0
    held_once: bool = False  # the drop fault already lost it once


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    # ---- deliveries ----------------------------------------------------------------------

    def _insert(self, item: Delivery) -> None:
        cursor = self.db.execute(
            "INSERT INTO deliveries (target, url, headers, body, event_id, attempt, first_at, due)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.target,
                item.url,
                json.dumps(item.headers),
                item.body,
                item.event_id,
                item.attempt,
                item.first_at,
                item.due,
            ),
        )
        item.id = int(cursor.lastrowid or 0)

    def add(self, items: Iterable[Delivery], seen: Iterable[tuple[str, str, str]] = ()) -> None:
        """Persist new deliveries (and the storage objects they come from), all or nothing."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for item in items:
                    self._insert(item)
                self.db.executemany(
                    "INSERT OR IGNORE INTO seen_objects (bucket, name, generation) VALUES (?, ?, ?)",
                    list(seen),
                )
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def done(self, item: Delivery) -> None:
        with self.lock:
            self.db.execute("DELETE FROM deliveries WHERE id = ?", (item.id,))

    def reschedule(self, item: Delivery, error: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE deliveries SET attempt = ?, due = ?, last_error = ? WHERE id = ?",
                (item.attempt, item.due, error[:500], item.id),
            )

    def dead(self, item: Delivery, error: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE deliveries SET state = 'dead', attempt = ?, last_error = ?, dead_at = ?"
                " WHERE id = ?",
                (item.attempt, error[:500], time.time(), item.id),
            )

    def pending(self) -> list[Delivery]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, target, url, headers, body, event_id, attempt, first_at, due"
                " FROM deliveries WHERE state = 'pending' ORDER BY due"
            ).fetchall()
        return [
            Delivery(
                target=row[1],
                url=row[2],
                headers=json.loads(row[3]),
                body=bytes(row[4]),
                event_id=row[5],
                attempt=int(row[6]),
                first_at=float(row[7]),
                id=int(row[0]),
                due=float(row[8]),
            )
            for row in rows
        ]

    # ---- dead letters ----------------------------------------------------------------------

    def dead_letters(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, target, url, headers, event_id, attempt, first_at, dead_at, last_error"
                " FROM deliveries WHERE state = 'dead' ORDER BY id"
            ).fetchall()
        entries = []
        for row in rows:
            headers = json.loads(row[3])
            entries.append(
                {
                    "id": row[0],
                    "target": row[1],
                    "url": row[2],
                    "event_id": row[4],
                    "type": headers.get("ce-type", ""),
                    "subject": headers.get("ce-subject", ""),
                    "attempts": row[5],
                    "first_at": row[6],
                    "dead_at": row[7],
                    "last_error": row[8],
                }
            )
        return entries

    def take_dead(self, ids: list[int] | None) -> list[int]:
        """Remove dead letters (all, or those ids); return the ids removed."""
        with self.lock:
            rows = self.db.execute("SELECT id FROM deliveries WHERE state = 'dead'").fetchall()
            found = [r[0] for r in rows if ids is None or r[0] in ids]
            self.db.executemany("DELETE FROM deliveries WHERE id = ?", [(i,) for i in found])
        return found

    def revive(self, ids: list[int] | None) -> list[Delivery]:
        """Dead letters back to pending, with a fresh budget (redeliver them)."""
        now = time.time()
        with self.lock:
            rows = self.db.execute("SELECT id FROM deliveries WHERE state = 'dead'").fetchall()
            found = [r[0] for r in rows if ids is None or r[0] in ids]
            self.db.executemany(
                "UPDATE deliveries SET state = 'pending', attempt = 0, first_at = ?, due = ?,"
                " dead_at = NULL WHERE id = ?",
                [(now, now, i) for i in found],
            )
        return [d for d in self.pending() if d.id in found]

    # ---- storage objects, catch-ups, settings ------------------------------------------------

    def seen_objects(self, bucket: str) -> set[tuple[str, str]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT name, generation FROM seen_objects WHERE bucket = ?", (bucket,)
            ).fetchall()
        return {(r[0], r[1]) for r in rows}

    def record_catchup(self, kind: str, detail: dict[str, Any]) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO catchups (at, kind, detail) VALUES (?, ?, ?)",
                (time.time(), kind, json.dumps(detail)),
            )

    def update_catchup(self, kind: str, detail: dict[str, Any]) -> None:
        """Replace the latest record of ``kind`` (a command that finished)."""
        with self.lock:
            self.db.execute(
                "UPDATE catchups SET detail = ? WHERE id = (SELECT MAX(id) FROM catchups"
                " WHERE kind = ?)",
                (json.dumps(detail), kind),
            )

    def catchups(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT at, kind, detail FROM catchups ORDER BY id").fetchall()
        return [{"at": r[0], "kind": r[1], **json.loads(r[2])} for r in rows]

    def get_meta(self, key: str) -> Any:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


def summary(path: Path) -> dict[str, Any] | None:
    """What ``make status`` shows, read without the bridge (None when there is no journal)."""
    if not path.exists():
        return None
    reader = Journal.__new__(Journal)
    reader.path, reader.lock = path, threading.Lock()
    reader.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        pending = reader.db.execute(
            "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"
        ).fetchone()
        return {
            "pending": int(pending[0]),
            "dead_letters": reader.dead_letters(),
            "catchups": reader.catchups(),
            "restarts": reader.get_meta("restarts") or 0,
        }
    finally:
        reader.db.close()
