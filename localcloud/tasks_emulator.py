"""The local Cloud Tasks: gcloud-tasks-emulator's API, dispatching the way a Cloud Tasks queue does.

Run by ``localcloud`` with the tasks venv's Python (``.venv-tasks``: gcloud-tasks-emulator 0.6.2
pins protobuf 4, which google-cloud-firestore refuses), from the repository root::

    .venv-tasks/bin/python -m localcloud.tasks_emulator --port P --queue projects/../queues/Q \\
        --max-attempts 10 --min-backoff 5 --max-backoff 600 --max-doublings 5 \\
        --max-dispatches-per-second 20 --max-concurrent-dispatches 20

The retry and rate settings are the deploy plan's (``deploy.plan.QUEUE_SETTINGS``, passed by
``localcloud``), so the local queue behaves as the deployed one. The emulator's gRPC API (create,
list, run, pause, resume, purge) is kept; what it does differently from Cloud Tasks is replaced:

- **Concurrency.** The emulator sends one task at a time per queue, in a loop. Cloud Tasks sends up
  to ``max-concurrent-dispatches`` at once, at most ``max-dispatches-per-second`` (a token bucket
  of that size), so the chains of a catalog re-evaluation's lanes, or many learners' expiry tasks,
  run side by side here as they do there.
- **Retries.** The emulator puts a failed task at the back of the queue and sends it again at once.
  Cloud Tasks waits: ``min-backoff``, doubled ``max-doublings`` times, then growing by that last
  interval each time, capped at ``max-backoff`` (:func:`backoff`), and gives up after
  ``max-attempts`` attempts (the first one included).
- **Names.** The emulator accepts a second task with a name already queued. Cloud Tasks answers
  ``ALREADY_EXISTS`` for a name queued, or executed or deleted within about an hour, which is what
  makes our derived task names (``reconcile-{run}-{batch}``, ``expire-{submission}``) idempotent:
  a redelivered batch cannot fork its chain.
- **Deadline.** A request that has not answered within the task's ``dispatch_deadline`` (Cloud
  Tasks' default for HTTP targets: 10 minutes; the product sets the task functions' 300 s) is
  abandoned and counts as a failed attempt.
- **GetTask, DeleteTask.** The emulator leaves them unimplemented; here they answer as Cloud Tasks
  does (a deleted task's name stays taken for the hour).
- **Headers.** ``X-CloudTasks-TaskExecutionCount`` counts the attempts that got a response and
  ``X-CloudTasks-TaskPreviousResponse`` carries the last one's status, as Cloud Tasks sends them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import signal
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib import error, request

import grpc  # only in the tasks venv: this module is run there
from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server
from gcloud_tasks_emulator.server import Greeter, QueueState
from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud.tasks_v2 import Attempt, HttpMethod, Queue

from localcloud.tasks_policy import Bucket, Policy, backoff, parse_seconds

logger = logging.getLogger("localcloud.tasks")

TOMBSTONE_SECONDS = 3600.0  # a name executed or deleted stays taken this long (Cloud Tasks: ~1 h)
DEFAULT_DEADLINE_SECONDS = 600.0  # Cloud Tasks' default dispatch deadline for HTTP targets


@dataclass
class Entry:
    """A queued task and its dispatch state."""

    task: Any  # tasks_v2.Task
    due: float  # epoch seconds
    running: bool = False
    responses: int = 0  # attempts that got an HTTP response
    previous: int | None = None  # the last attempt's status


# google.rpc.Code for an HTTP status (the mapping google/rpc/code.proto documents)
RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14}
RPC_CODES |= {504: 4}


def rpc_status(http: int | None) -> dict[str, Any]:
    """An attempt's ``response_status`` as Cloud Tasks reports it: the ``google.rpc`` code of the
    HTTP status (401 UNAUTHENTICATED 16, 403 PERMISSION_DENIED 7, 503 UNAVAILABLE 14...; UNKNOWN 2
    for others), OK 0 for a 2xx, UNAVAILABLE 14 without a response."""
    if http is None:
        return {"code": 14, "message": "no response"}
    if 200 <= http < 300:
        return {"code": 0, "message": f"HTTP {http}"}
    return {"code": RPC_CODES.get(http, 2), "message": f"HTTP {http}"}


class ParityState(QueueState):  # type: ignore[misc]  # untyped base (the tasks venv's package)
    """The emulator's queue state, with Cloud Tasks' naming, retry and dispatch rules."""

    def __init__(self, target_host: str, target_port: int, policy: Policy) -> None:
        super().__init__(target_host, target_port, policy.max_attempts - 1)
        self.policy = policy
        self.cond = threading.Condition()
        self.entries: dict[str, Entry] = {}  # task name -> entry (queued or running)
        self.tombstones: dict[str, float] = {}  # task name -> when it may be used again
        self.buckets: dict[str, Bucket] = {}
        self._ids = itertools.count(int(time.time() * 1000))

    # ---- the API ------------------------------------------------------------------------------

    def create_queue(self, parent: str | None, queue: Any) -> Any:
        with self.cond:
            created = super().create_queue(parent, queue)
            self.buckets.setdefault(queue.name, Bucket(self.policy.max_dispatches_per_second))
            self.cond.notify_all()
            return created

    def create_task(self, queue: str, task: Any) -> Any:
        now = time.time()
        with self.cond:
            if queue not in self._queue_tasks:
                raise FailedPrecondition(f"Queue {queue} does not exist.")  # type: ignore[no-untyped-call]
            if task.name:
                if task.name in self.entries or self.tombstones.get(task.name, 0.0) > now:
                    raise AlreadyExists("Requested entity already exists")  # type: ignore[no-untyped-call]
            else:
                task.name = f"{queue}/tasks/{next(self._ids)}"
            if task.http_request.url:
                task.http_request.http_method = task.http_request.http_method or HttpMethod.POST
            created = datetime.fromtimestamp(now, UTC)
            task.create_time = created
            due = now
            if task.schedule_time and task.schedule_time.timestamp() > 0:
                due = task.schedule_time.timestamp()
            else:
                task.schedule_time = created
            self._queue_tasks[queue].append(task)
            self.entries[task.name] = Entry(task=task, due=due)
            self.cond.notify_all()
        logger.info("created %s", task.name)
        return task

    def purge_queue(self, queue_name: str) -> Any:
        with self.cond:
            for task in self._queue_tasks.get(queue_name, []):
                entry = self.entries.pop(task.name, None)
                if entry is not None:
                    self.tombstones[task.name] = time.time() + TOMBSTONE_SECONDS
            return super().purge_queue(queue_name)

    def submit_task(self, task_name: str, force_run: bool = False) -> Any:
        """``RunTask``: dispatch now, whatever the schedule, and answer with the task."""
        with self.cond:
            entry = self.entries.get(task_name)
            if entry is None:
                raise NotFound(f"Task not found: {task_name}")  # type: ignore[no-untyped-call]
            if entry.running:
                raise FailedPrecondition(f"Task {task_name} is being dispatched")  # type: ignore[no-untyped-call]
            entry.running = True
        self.attempt(task_name.rsplit("/tasks/", 1)[0], task_name)
        return entry.task

    def get_task(self, task_name: str) -> Any:
        """``GetTask``: a task still queued (or being dispatched)."""
        with self.cond:
            entry = self.entries.get(task_name)
            if entry is None:
                raise NotFound(f"Task not found: {task_name}")  # type: ignore[no-untyped-call]
            return entry.task

    def delete_task(self, task_name: str) -> None:
        """``DeleteTask``: the task will not run (again); its name stays taken for an hour."""
        with self.cond:
            if task_name not in self.entries:
                raise NotFound(f"Task not found: {task_name}")  # type: ignore[no-untyped-call]
            self._forget(task_name.rsplit("/tasks/", 1)[0], task_name)
            self.cond.notify_all()

    # ---- dispatch -----------------------------------------------------------------------------

    def next_due(self, queue: str) -> tuple[str | None, float]:
        """The queued task to send now (under ``cond``), or how long to wait for one."""
        now = time.time()
        state = self._queues.get(queue)
        if state is None or state.state != Queue.State.RUNNING:
            return None, 0.5
        running = 0
        best: Entry | None = None
        for task in self._queue_tasks.get(queue, []):
            entry = self.entries.get(task.name)
            if entry is None:
                continue
            if entry.running:
                running += 1
            elif best is None or entry.due < best.due:
                best = entry
        if best is None or running >= self.policy.max_concurrent_dispatches:
            return None, 0.5
        if best.due > now:
            return None, min(0.5, best.due - now)
        wait = self.buckets[queue].take()
        if wait > 0:
            return None, wait
        best.running = True
        return str(best.task.name), 0.0

    def attempt(self, queue: str, name: str) -> None:
        """Send one attempt of a task (marked running), then settle it: done, or retried later,
        or given up."""
        with self.cond:
            entry = self.entries[name]
            task = entry.task
            task.dispatch_count += 1
            headers = dict(task.http_request.headers)
            headers.update(
                {
                    "X-CloudTasks-QueueName": queue.rsplit("/", 1)[-1],
                    "X-CloudTasks-TaskName": name.rsplit("/", 1)[-1],
                    "X-CloudTasks-TaskRetryCount": str(task.dispatch_count - 1),
                    "X-CloudTasks-TaskExecutionCount": str(entry.responses),
                    "X-CloudTasks-TaskETA": f"{entry.due:.6f}",
                }
            )
            if entry.previous is not None:
                headers["X-CloudTasks-TaskPreviousResponse"] = str(entry.previous)
        deadline = DEFAULT_DEADLINE_SECONDS
        if task.dispatch_deadline and task.dispatch_deadline.total_seconds() > 0:
            deadline = task.dispatch_deadline.total_seconds()
        sent = datetime.now(UTC)
        status: int | None = None
        req = request.Request(
            task.http_request.url,
            method=task.http_request.http_method.name,
            data=task.http_request.body or None,
            headers=headers,
        )
        try:
            with request.urlopen(req, timeout=deadline) as response:
                status = int(response.status)
        except error.HTTPError as exc:
            status = int(exc.code)
        except (OSError, error.URLError) as exc:  # refused, reset, deadline exceeded
            logger.warning("task %s: no response: %s", name, exc)
        ok = status is not None and 200 <= status < 300
        with self.cond:
            entry.running = False
            if status is not None:
                entry.responses += 1
                entry.previous = status
            task.last_attempt = Attempt(
                schedule_time=task.schedule_time,
                dispatch_time=sent,
                response_time=datetime.now(UTC),
                response_status=rpc_status(status),
            )
            if not task.first_attempt:
                task.first_attempt = task.last_attempt
            attempts = int(task.dispatch_count)
            limit = self.policy.max_attempts
            if ok or (limit > 0 and attempts >= limit):
                if not ok:
                    logger.error("giving up task %s after %d attempts", name, attempts)
                self._forget(queue, name)
            else:
                wait = backoff(self.policy, attempts)
                entry.due = time.time() + wait
                logger.info("task %s failed (%s): retry in %.1fs", name, status, wait)
            self.cond.notify_all()

    def _forget(self, queue: str, name: str) -> None:
        self.entries.pop(name, None)
        self.tombstones[name] = time.time() + TOMBSTONE_SECONDS
        tasks = self._queue_tasks.get(queue, [])
        self._queue_tasks[queue] = [t for t in tasks if t.name != name]


class Dispatcher(threading.Thread):
    """Sends each queue's due tasks, up to the policy's concurrency, from a pool of threads."""

    def __init__(self, state: ParityState) -> None:
        super().__init__(daemon=True, name="dispatcher")
        self.state = state
        self.pool = futures.ThreadPoolExecutor(
            max_workers=max(1, state.policy.max_concurrent_dispatches) * 4,
            thread_name_prefix="dispatch",
        )

    def run(self) -> None:
        state = self.state
        while True:
            with state.cond:
                wait = 0.5
                sent = False
                for queue in list(state._queue_tasks):
                    name, pause = state.next_due(queue)
                    if name is not None:
                        self.pool.submit(self._attempt, queue, name)
                        sent = True
                    else:
                        wait = min(wait, pause)
                if not sent:
                    state.cond.wait(timeout=max(0.01, wait))

    def _attempt(self, queue: str, name: str) -> None:
        try:
            self.state.attempt(queue, name)
        except Exception:  # a dispatch thread must never die silently
            logger.exception("dispatching %s", name)
            with self.state.cond:
                entry = self.state.entries.get(name)
                if entry is not None:
                    entry.running = False
                    entry.due = time.time() + self.state.policy.min_backoff
                self.state.cond.notify_all()


class ParityGreeter(Greeter):  # type: ignore[misc]
    """The emulator's gRPC servicer, with the two task calls it leaves unimplemented."""

    def __init__(self, state: ParityState) -> None:
        super().__init__(state)
        self.parity = state

    def GetTask(self, request: Any, context: Any) -> Any:
        try:
            return self.parity.get_task(request.name)
        except NotFound as err:
            context.abort(err.grpc_status_code, err.message)

    def DeleteTask(self, request: Any, context: Any) -> Any:
        from google.protobuf import empty_pb2

        try:
            self.parity.delete_task(request.name)
        except NotFound as err:
            context.abort(err.grpc_status_code, err.message)
        return empty_pb2.Empty()


def serve(host: str, port: int, queues: list[str], policy: Policy) -> None:
    state = ParityState("localhost", 80, policy)
    for name in queues:
        state.create_queue(name.rsplit("/queues/", 1)[0], Queue(name=name))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    add_CloudTasksServicer_to_server(ParityGreeter(state), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    Dispatcher(state).start()
    logger.info("Cloud Tasks (local) on %s:%d, %s", host, port, policy)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop(grace=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", action="append", default=[], required=True)
    parser.add_argument("--max-attempts", type=int, default=Policy.max_attempts)
    parser.add_argument("--min-backoff", type=parse_seconds, default=Policy.min_backoff)
    parser.add_argument("--max-backoff", type=parse_seconds, default=Policy.max_backoff)
    parser.add_argument("--max-doublings", type=int, default=Policy.max_doublings)
    parser.add_argument(
        "--max-dispatches-per-second", type=float, default=Policy.max_dispatches_per_second
    )
    parser.add_argument(
        "--max-concurrent-dispatches", type=int, default=Policy.max_concurrent_dispatches
    )
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    policy = Policy(
        max_attempts=args.max_attempts,
        min_backoff=args.min_backoff,
        max_backoff=args.max_backoff,
        max_doublings=args.max_doublings,
        max_dispatches_per_second=args.max_dispatches_per_second,
        max_concurrent_dispatches=args.max_concurrent_dispatches,
    )
    serve(args.host, args.port, args.queue, policy)


if __name__ == "__main__":
    main()
