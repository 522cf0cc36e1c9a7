"""Entry points. The Functions runtime loads ``main.py`` at the source root; this file only re-exports.

Each module imports its Google client libraries lazily, so loading every entry point costs a cold
start little more than functions-framework itself.
"""

from functions.certificate_trigger import on_pathway_progress_written
from functions.certificates import certificates
from functions.cohorts import cohorts
from functions.dashboard import dashboard, on_cohort_member_written, on_dashboard_progress_written
from functions.exports import exports
from functions.progress import progress
from functions.reconcile import task_reconcile
from functions.resources import resources
from functions.review import review
from functions.rollups import on_module_progress_written, on_resource_progress_written
from functions.storage_trigger import on_upload_finalized
from functions.tasks import task_expire_upload, task_notify_learner, task_reevaluate_learners
from functions.uploads import uploads
from shared.http import install_error_pages

install_error_pages()  # JSON errors from the framework and the server too, never an HTML page

__all__ = [
    "certificates",
    "cohorts",
    "dashboard",
    "exports",
    "on_cohort_member_written",
    "on_dashboard_progress_written",
    "on_module_progress_written",
    "on_pathway_progress_written",
    "on_resource_progress_written",
    "on_upload_finalized",
    "progress",
    "resources",
    "review",
    "task_expire_upload",
    "task_notify_learner",
    "task_reconcile",
    "task_reevaluate_learners",
    "uploads",
]
