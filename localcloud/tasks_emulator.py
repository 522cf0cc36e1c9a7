"""The Cloud Tasks emulator (``gcloud-tasks-emulator``, in its own venv) with a retry backoff, as
Cloud Tasks has one.

Deployed, a task whose handler fails or cannot be reached is retried after the queue's backoff
(``QUEUE_SETTINGS`` in deploy/plan.py: 5 s doubling to 600 s, 10 attempts: about half an hour). The
emulator retries a failed task at once, every 0.1 s, so its 20 attempts (``-r 20``) are spent in
about two seconds: a handler that takes longer than that to come back (a crashed function the
supervisor restarts, on a loaded machine) loses the task for good, which production never does.
It showed as the rare failure of ``test_a_reevaluation_whose_handler_is_killed_mid_batch_...``: the
batch in flight when ``task_reconcile`` was killed was given up while the handler restarted, and
the run never finished. Here a failed attempt schedules the next one after a backoff of
:data:`MIN_BACKOFF` seconds doubling up to :data:`MAX_BACKOFF` (scaled down from production's, as
the event bridge's is, so the local cloud catches up within seconds once a handler heals): 20
attempts span about two and a half minutes.

Run as a script with the emulator's venv (``.venv-tasks/bin/python localcloud/tasks_emulator.py
start ...``, the emulator's own arguments); it imports nothing of the repository.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

MIN_BACKOFF = 0.1  # seconds before the first retry
MAX_BACKOFF = 10.0  # the longest wait between two attempts


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return float(min(MAX_BACKOFF, MIN_BACKOFF * 2 ** max(0, attempts - 1)))


def main() -> None:
    # the emulator's venv (.venv-tasks) has it; the dev venv has not
    from gcloud_tasks_emulator import __main__ as cli  # type: ignore[import-not-found]
    from gcloud_tasks_emulator import server  # type: ignore[import-not-found]

    submit = server.QueueState.submit_task
    dispatched: dict[str, int] = {}  # task name: attempts seen so far

    def submit_with_backoff(self: Any, task_name: str, force_run: bool = False) -> Any:
        task = submit(self, task_name, force_run)
        attempts = int(task.dispatch_count)
        if dispatched.get(task.name) == attempts:
            return task  # not dispatched this time (scheduled later)
        dispatched[task.name] = attempts
        code = int(task.last_attempt.response_status.code) if task.last_attempt else 0
        if code < 400:
            dispatched.pop(task.name, None)  # done (or not tried yet): nothing to remember
        elif code < 600:
            wait = dt.timedelta(seconds=backoff(attempts))
            task.schedule_time = dt.datetime.now(dt.UTC) + wait
        return task

    server.QueueState.submit_task = submit_with_backoff
    cli.main()


if __name__ == "__main__":
    main()
