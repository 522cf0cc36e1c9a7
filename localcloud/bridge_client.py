"""Tests' and scripts' handle on the event bridge's control API."""

from __future__ import annotations

import time
from typing import Any

import requests


class BridgeClient:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def stats(self) -> dict[str, Any]:
        reply = requests.get(self.base + "/stats", timeout=5)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def configure(self, *, duplicate: bool) -> None:
        requests.post(
            self.base + "/config", json={"duplicate": duplicate}, timeout=5
        ).raise_for_status()

    def route_trigger(self, trigger_id: str, document: str, url: str) -> None:
        """Have the Firestore emulator's events for ``document`` (a path pattern) go to ``url``."""
        reply = requests.post(
            self.base + "/triggers",
            json={"id": trigger_id, "document": document, "url": url},
            timeout=10,
        )
        reply.raise_for_status()

    def wait_idle(self, *, quiet: float = 0.5, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until nothing is queued or in flight and nothing happened for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        stats = self.stats()
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["pending"] == 0 and stats["quiet_for"] >= quiet:
                return stats
            time.sleep(0.05)
        raise AssertionError(f"event bridge not idle after {timeout}s: {stats}")
