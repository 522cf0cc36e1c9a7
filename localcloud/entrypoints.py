"""Every entry point of docs/API.md with its kind: the local cloud, the bridge and deploy read this."""

from __future__ import annotations

HTTP = ["resources", "progress", "uploads", "review"]
TASKS = ["task_expire_upload", "task_notify_learner", "task_reevaluate_learners", "task_reconcile"]
FIRESTORE_TRIGGERS = {
    # entry point -> document path pattern (Eventarc path pattern syntax)
    "on_resource_progress_written": "users/{uid}/resource_progress/{resource_id}",
    "on_module_progress_written": "users/{uid}/module_progress/{module_id}",
}
STORAGE_TRIGGERS = ["on_upload_finalized"]
ALL = HTTP + TASKS + list(FIRESTORE_TRIGGERS) + STORAGE_TRIGGERS
