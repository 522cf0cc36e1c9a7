"""Who may call a task handler (the local-secret path and the refusals; no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.adapters.tasks import TASK_SECRET_HEADER, verify_task_call
from shared.errors import PermissionDenied, Unauthenticated
from tests.unit.test_uploads_services import CFG

LOCAL = replace(CFG, tasks_emulator_host="127.0.0.1:9124", tasks_local_secret="s3cret")


def test_the_local_secret_is_accepted_only_while_the_emulator_is_used() -> None:
    verify_task_call({TASK_SECRET_HEADER: "s3cret"}, "task_expire_upload", LOCAL)
    with pytest.raises(Unauthenticated):
        verify_task_call({}, "task_expire_upload", LOCAL)
    with pytest.raises(PermissionDenied):
        verify_task_call({TASK_SECRET_HEADER: "s3cre"}, "task_expire_upload", LOCAL)
    # the same secret means nothing once the emulator is not configured (production)
    production = replace(LOCAL, tasks_emulator_host=None, tasks_service_account="tasks@p.iam")
    with pytest.raises(Unauthenticated):
        verify_task_call({TASK_SECRET_HEADER: "s3cret"}, "task_expire_upload", production)


def test_misconfiguration_refuses_every_call() -> None:
    with pytest.raises(PermissionDenied):
        verify_task_call(
            {TASK_SECRET_HEADER: "x"}, "task_expire_upload", replace(LOCAL, tasks_local_secret=None)
        )
    with pytest.raises(PermissionDenied):
        verify_task_call({"Authorization": "Bearer x"}, "task_expire_upload", CFG)
