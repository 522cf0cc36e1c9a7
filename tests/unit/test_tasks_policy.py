"""The local Cloud Tasks' queue rules (pure): the retry schedule and the dispatch rate."""

from __future__ import annotations

from deploy.plan import QUEUE_SETTINGS
from localcloud.__main__ import tasks_argv
from localcloud.tasks_policy import Bucket, Policy, backoff, parse_seconds


def test_the_retry_schedule_is_the_one_cloud_tasks_documents() -> None:
    # cloud.google.com/tasks/docs/configuring-queues: min 10 s, max 300 s, 3 doublings
    policy = Policy(min_backoff=10, max_backoff=300, max_doublings=3)
    assert [backoff(policy, n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]


def test_the_deployed_queue_waits_5s_then_doubles_five_times_then_grows_linearly() -> None:
    policy = Policy()  # the deploy plan's numbers
    assert [backoff(policy, n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 320, 480]
    assert backoff(policy, 50) == 600


def test_the_bucket_lets_a_second_of_dispatches_through_then_paces_them() -> None:
    bucket = Bucket(rate=3)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take()
    assert 0.0 < wait <= 1 / 3 + 0.01


def test_the_local_queue_is_started_with_the_deployed_queue_settings() -> None:
    argv = tasks_argv("projects/p/locations/r/queues/q")
    assert argv[1:3] == ["-m", "localcloud.tasks_emulator"]
    for flag in (
        "max-attempts",
        "min-backoff",
        "max-backoff",
        "max-doublings",
        "max-dispatches-per-second",
        "max-concurrent-dispatches",
    ):
        assert f"--{flag}={QUEUE_SETTINGS[flag]}" in argv
    assert parse_seconds(QUEUE_SETTINGS["min-backoff"]) == Policy().min_backoff
