"""The bridge's journal on a real SQLite file (no local cloud needed): what it holds survives a
reopen, as it must survive a killed bridge, and concurrent writers lose nothing."""

from __future__ import annotations

import threading
from pathlib import Path

from localcloud.journal import Delivery, Journal, summary


def delivery(n: int) -> Delivery:
    return Delivery(
        f"target-{n % 3}", "http://127.0.0.1:1/x", {"ce-id": str(n)}, b"\x00" * n, str(n)
    )


def test_pending_deliveries_retries_and_seen_objects_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    first, second, third = delivery(1), delivery(2), delivery(3)
    journal.add([first, second], [("b", "a.png", "1")])
    journal.add([third])
    second.attempt, second.due = 4, 12345.0
    journal.reschedule(second, "HTTP 500")
    journal.done(first)
    journal.set_meta("heartbeat", 1.5)
    del journal

    reopened = Journal(path)
    pending = {d.event_id: d for d in reopened.pending()}
    assert set(pending) == {"2", "3"}
    assert (pending["2"].attempt, pending["2"].due, pending["2"].body) == (4, 12345.0, b"\x00\x00")
    assert reopened.seen_objects("b") == {("a.png", "1")}
    assert reopened.get_meta("heartbeat") == 1.5


def test_dead_letters_are_listed_revived_and_cleared(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    items = [delivery(n) for n in range(3)]
    journal.add(items)
    for item in items[:2]:
        item.attempt = 7
        journal.dead(item, "HTTP 503")
    listed = journal.dead_letters()
    assert [(e["event_id"], e["attempts"], e["last_error"]) for e in listed] == [
        ("0", 7, "HTTP 503"),
        ("1", 7, "HTTP 503"),
    ]
    assert [d.event_id for d in journal.revive([items[0].id])] == ["0"]
    assert journal.take_dead(None) == [items[1].id]
    assert journal.dead_letters() == []
    assert {d.event_id for d in journal.pending()} == {"0", "2"}
    found = summary(tmp_path / "j.sqlite")
    assert found is not None
    assert (found["pending"], found["dead_letters"]) == (2, [])


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    barrier = threading.Barrier(8)

    def write(worker: int) -> None:
        barrier.wait()
        for n in range(50):
            item = delivery(worker * 1000 + n)
            journal.add([item], [("b", f"{worker}-{n}", "1")])
            if n % 2:
                journal.done(item)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(journal.pending()) == 8 * 25
    assert len(journal.seen_objects("b")) == 8 * 50


def test_no_journal_no_summary(tmp_path: Path) -> None:
    assert summary(tmp_path / "missing.sqlite") is None


def test_the_firestore_catch_up_command_runs_and_is_recorded(tmp_path: Path) -> None:
    import shlex
    import sys

    import localcloud.__main__ as lc
    from localcloud.bridge import Bridge

    journal = Journal(tmp_path / "j.sqlite")
    stack = lc.stack_description()

    def catch_up(command: str) -> dict[str, object]:
        Bridge(stack, journal, catchup=command).catch_up_firestore(2.5)
        record: dict[str, object] = journal.catchups()[-1]
        return record

    python = shlex.quote(sys.executable)
    ran = catch_up(f"{python} -c \"print('reconciled 3 rollups')\"")
    assert (ran["kind"], ran["status"], ran["output"]) == (
        "firestore",
        "exit 0",
        ["reconciled 3 rollups"],
    )
    assert ran["down_for_seconds"] == 2.5
    failed = catch_up(f"{python} -c 'raise SystemExit(3)'")
    assert failed["status"] == "exit 3"
    skipped = catch_up("none")
    assert (skipped["status"], skipped["reason"]) == ("skipped", "no command configured")
    assert len(journal.catchups()) == 3
