"""Tests' and scripts' handle on the event bridge's control API."""

from __future__ import annotations

import time
from typing import Any

import requests


class BridgeClient:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def _get(self, path: str) -> dict[str, Any]:
        reply = requests.get(self.base + path, timeout=5)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = requests.post(self.base + path, json=body, timeout=10)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def stats(self) -> dict[str, Any]:
        return self._get("/stats")

    def reset_stats(self) -> None:
        """Forget the per-target wait and duration samples (counts are kept)."""
        self._post("/stats/reset", {})

    def config(self) -> dict[str, Any]:
        return self._get("/config")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change delivery settings and faults, e.g. ``configure(duplicate=True)``,
        ``configure(drop={"rate": 1, "redeliver_after": 2})``, ``configure(reorder={"window": 2})``,
        ``configure(delay=1.5)``, ``configure(fail={"on_upload_finalized": 0.5})``,
        ``configure(budgets={"my-trigger": 1.0})``."""
        return self._post("/config", settings)

    def reset(self, *, timeout: float = 60.0) -> dict[str, Any]:
        """Back to the settings the bridge started with (no faults); waits out a restart."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._post("/config/reset", {})
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def dead_letters(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._get("/deadletter")["entries"]
        return entries

    def clear_dead_letters(self, ids: list[int] | None = None) -> list[int]:
        query = "".join(f"&id={i}" for i in ids or [])[1:]
        reply = requests.delete(
            self.base + "/deadletter" + (f"?{query}" if query else ""), timeout=5
        )
        reply.raise_for_status()
        removed: list[int] = reply.json()["removed"]
        return removed

    def catchups(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._get("/catchup")["catchups"]
        return found

    def route_trigger(self, trigger_id: str, document: str, url: str) -> None:
        """Have the Firestore emulator's events for ``document`` (a path pattern) go to ``url``."""
        self._post("/triggers", {"id": trigger_id, "document": document, "url": url})

    def wait_idle(self, *, quiet: float = 0.5, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until nothing is queued or in flight and nothing happened for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        stats: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                stats = self.stats()
            except requests.RequestException:  # restarting: it comes back with its journal
                time.sleep(0.2)
                continue
            if stats["pending"] == 0 and stats["quiet_for"] >= quiet:
                return stats
            time.sleep(0.05)
        raise AssertionError(f"event bridge not idle after {timeout}s: {stats}")
