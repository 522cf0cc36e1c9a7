"""Cloud Tasks' queue rules, pure: the retry schedule and the dispatch rate (used by
:mod:`localcloud.tasks_emulator`, which needs the tasks venv; this module needs nothing)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Policy:
    """A queue's retry and rate settings, as ``gcloud tasks queues create`` takes them."""

    max_attempts: int = 10  # -1: unlimited
    min_backoff: float = 5.0
    max_backoff: float = 600.0
    max_doublings: int = 5
    max_dispatches_per_second: float = 20.0
    max_concurrent_dispatches: int = 20


def backoff(policy: Policy, attempts: int) -> float:
    """Seconds before the next attempt of a task that has failed ``attempts`` times (>= 1): the
    interval starts at ``min_backoff``, doubles ``max_doublings`` times, then grows linearly by the
    last doubled interval, and is capped at ``max_backoff`` (Cloud Tasks' documented schedule:
    10 s, 20 s, 40 s, 80 s, 160 s, 240 s, 300 s... for 10 s / 300 s / 3 doublings)."""
    n = max(1, attempts)
    top = policy.min_backoff * 2**policy.max_doublings
    if n - 1 <= policy.max_doublings:
        interval = policy.min_backoff * 2 ** (n - 1)
    else:
        interval = top * (n - 1 - policy.max_doublings + 1)
    return float(min(interval, policy.max_backoff))


def parse_seconds(text: str) -> float:
    """``"5s"``, ``"600s"``, ``"0.5"``: seconds."""
    return float(text.removesuffix("s"))


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens a second, holding at most ``max(1, rate)``."""

    rate: float
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = max(1.0, self.rate)

    def take(self) -> float:
        """Take a token: 0.0 if one was there, else the seconds until one is."""
        now = time.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate
