"""The pipeline's one way of working side by side: items shared out to threads, a failure
stopping the rest and reaching the caller; and the read-ahead of result pages."""

from __future__ import annotations

import contextvars
import threading

import pytest

from syncs.side_by_side import SideBySide, read_ahead


def test_every_item_is_done_once_by_one_of_the_threads():
    done: list[int] = []
    lock = threading.Lock()
    names: set[str] = set()

    def work(item: int) -> None:
        with lock:
            done.append(item)
            names.add(threading.current_thread().name)

    with SideBySide(work, threads=3, name="test-lane") as team:
        for item in range(100):
            assert team.put(item)

    assert sorted(done) == list(range(100))
    assert names <= {"test-lane-0", "test-lane-1", "test-lane-2"}


def test_a_failure_stops_the_others_and_reaches_the_caller():
    started = threading.Event()
    release = threading.Event()
    done: list[int] = []

    def work(item: int) -> None:
        if item == 0:
            raise RuntimeError("Codat went away")
        started.set()
        release.wait(5)
        done.append(item)

    team = SideBySide(work, threads=2, name="test-lane")
    team.put(1)
    started.wait(5)
    team.put(0)
    while not team.stopped:
        threading.Event().wait(0.01)
    assert team.put(2) is False  # refused once a thread failed
    release.set()
    failure = team.close()

    assert isinstance(failure, RuntimeError)
    assert done == [1]  # what was under way finishes; nothing new starts


def test_as_a_context_the_first_failure_is_raised_after_every_thread_stopped():
    def work(item: int) -> None:
        raise ValueError(f"bad {item}")

    def share_out() -> None:
        with SideBySide(work, threads=2, name="t") as team:
            team.put(1)
            team.put(2)

    with pytest.raises(ValueError, match="bad"):
        share_out()

    assert not [t for t in threading.enumerate() if t.name.startswith("t-")]


def test_each_thread_runs_in_the_callers_context():
    task: contextvars.ContextVar[str] = contextvars.ContextVar("task", default="none")
    task.set("push 7")
    seen: list[str] = []

    with SideBySide(lambda _: seen.append(task.get()), threads=2, name="ctx") as team:
        team.put(None)
        team.put(None)

    assert seen == ["push 7", "push 7"]


def test_reading_ahead_yields_every_item_in_order_and_raises_what_the_reader_met():
    assert list(read_ahead(iter(range(25)), ahead=4, step=1)) == list(range(25))
    # Handed over a few at a time, the last hand-over short.
    assert list(read_ahead(iter(range(25)), ahead=8, step=4)) == list(range(25))

    def failing():
        yield 1
        yield 2
        raise RuntimeError("Codat went away")

    ahead = read_ahead(failing(), ahead=8, step=4)
    assert (next(ahead), next(ahead)) == (1, 2)  # what was read before the error comes first
    with pytest.raises(RuntimeError, match="went away"):
        next(ahead)


def test_leaving_a_read_ahead_early_stops_its_thread():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    ahead = read_ahead(endless(), ahead=3, step=1)
    assert next(ahead) == 0
    ahead.close()

    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
    assert len(produced) < 10
