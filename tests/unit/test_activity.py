"""Every progress event says whether it is the learner's own action (``activity``): the overview's
recent activity is one indexed query on it, so heartbeats never crowd real actions out."""

from __future__ import annotations

import datetime as dt

from shared.domain import progress as rules
from shared.domain.models import Resource, ResourceType
from shared.domain.progress import ProgressUpdate, is_activity
from shared.domain.uploads import progress_event

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RES = Resource(
    resource_id="r1", pathway_id="p1", module_id="m1", title="R", type=ResourceType.video, order=0
)


def test_learner_actions_are_activity_and_heartbeats_are_not() -> None:
    started = rules.start(RES, None, NOW)
    assert started.event(NOW)["activity"] is True
    beat = rules.update(
        RES, started.after, ProgressUpdate(progress_percentage=10, time_spent_minutes=1), NOW
    )
    assert beat.changed
    assert beat.event(NOW)["activity"] is False
    done = rules.complete(RES, beat.after, NOW)
    assert done.event(NOW)["activity"] is True
    back = rules.uncomplete(RES, done.after, NOW)
    assert back.event(NOW)["activity"] is True


def test_upload_flow_and_repairs_are_not_activity() -> None:
    after = rules.start(RES, None, NOW).after
    for action in ("upload_recorded", "submission_reviewed", "upload_expired"):
        _, event = progress_event(action, None, after, NOW, "s1")
        assert event["activity"] is False, action
    _, repair = progress_event("reconcile", None, after, NOW, None, run_id="run1")
    assert repair["activity"] is False
    assert [a for a in ("start", "complete", "uncomplete", "update") if is_activity(a)] == [
        "start",
        "complete",
        "uncomplete",
    ]
