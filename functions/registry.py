"""The one registry of entry points: name, kind and trigger of every deployed function.

Part of the deployed source (stdlib only), so the runtime, the local cloud (``localcloud``) and the
deploy (``deploy``) read the same list, and the deploy never imports the local-cloud package.
``main.py`` exports exactly these names (tests/unit/test_registry.py checks it).
"""

from __future__ import annotations

# Public HTTP APIs (Firebase ID token checked by the code; `certificates` verification is public).
HTTP = [
    "resources",
    "progress",
    "uploads",
    "review",
    "exports",  # a cohort's CSV and xAPI exports
    "cohorts",  # cohorts, enrolment, invite codes
    "certificates",  # public verification and the learner's certificates
    "dashboard",  # a cohort's progress at a glance
]
# Task handlers: HTTP, called only by Cloud Tasks (or Cloud Scheduler) with the invoker's OIDC token.
TASKS = ["task_expire_upload", "task_notify_learner", "task_reevaluate_learners", "task_reconcile"]
# Firestore document.v1.written triggers: entry point -> document path pattern (Eventarc syntax).
FIRESTORE_TRIGGERS = {
    "on_resource_progress_written": "users/{uid}/resource_progress/{resource_id}",
    "on_module_progress_written": "users/{uid}/module_progress/{module_id}",
    "on_pathway_progress_written": "users/{uid}/pathway_progress/{pathway_id}",  # certificates
    # the cohort dashboard's aggregates
    "on_dashboard_progress_written": "users/{uid}/resource_progress/{resource_id}",
    "on_cohort_member_written": "cohorts/{cohort_id}/members/{uid}",
}
# Cloud Storage object.v1.finalized triggers, on the submissions bucket (SUBMISSIONS_BUCKET).
STORAGE_TRIGGERS = ["on_upload_finalized"]
ALL = HTTP + TASKS + list(FIRESTORE_TRIGGERS) + STORAGE_TRIGGERS
