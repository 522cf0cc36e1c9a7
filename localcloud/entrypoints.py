"""Re-export of the one registry of entry points (``functions/registry.py``, in the deployed source)."""

from functions.registry import ALL, FIRESTORE_TRIGGERS, HTTP, STORAGE_TRIGGERS, TASKS

__all__ = ["ALL", "FIRESTORE_TRIGGERS", "HTTP", "STORAGE_TRIGGERS", "TASKS"]
