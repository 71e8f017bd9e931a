"""`pika.adapters.utils.callback_worker`: order, the bounded queue and its
stoppable waits, and the bounded join that abandons a stuck callback."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pika.adapters.utils.callback_worker import CallbackWorker, CallbackWorkerGroup


class Blocker:
    """A callback that waits for `release`; `entered` once it runs."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        self.released.wait(30)


@pytest.fixture
def blocker() -> Iterator[Blocker]:
    stuck = Blocker()
    yield stuck
    stuck.released.set()


def test_callbacks_run_in_order_on_the_worker_thread_and_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exempt: set[int] = set()
    worker = CallbackWorker("test-worker", 0, None, exempt)
    ran: list[Any] = []

    def fail() -> None:
        raise ValueError("callback failure")

    worker.put(lambda n: ran.append((n, threading.current_thread().name)), (1,))
    worker.put(fail, ())
    worker.put(lambda n: ran.append((n, threading.get_ident() in exempt)), (2,))
    worker.close()
    assert worker.join(10)
    assert ran == [(1, "test-worker"), (2, True)]
    assert "callback failure" in caplog.text
    assert not exempt, "the thread left the exempt set as it ended"
    # After close, a callback runs at once on the calling thread.
    assert worker.put(lambda: ran.append("late"), ())
    assert ran[-1] == "late"


def test_a_full_queue_waits_up_to_the_put_timeout(blocker: Blocker) -> None:
    worker = CallbackWorker("test-full", 1, 0.2, set())
    worker.put(blocker, ())
    assert blocker.entered.wait(10)
    worker.put(lambda: None, ())  # the one place in the queue
    with pytest.raises(queue.Full):
        worker.put_nowait(lambda: None, ())
    started = time.monotonic()
    with pytest.raises(queue.Full):
        worker.put(lambda: None, ())
    assert time.monotonic() - started >= 0.2


def test_stop_waiting_ends_a_waiting_put_at_once(blocker: Blocker) -> None:
    worker = CallbackWorker("test-stop", 1, 60, set())
    worker.put(blocker, ())
    assert blocker.entered.wait(10)
    worker.put(lambda: None, ())
    outcome: list[bool] = []
    putter = threading.Thread(target=lambda: outcome.append(worker.put(lambda: None, ())))
    putter.start()
    time.sleep(0.1)  # usually waiting by now; if not, it finds waiting stopped
    worker.stop_waiting()
    putter.join(10)
    assert outcome == [False], "the put gave up without queueing"
    assert not putter.is_alive()


def test_group_join_abandons_a_stuck_worker_and_says_what_it_runs(
    blocker: Blocker, caplog: pytest.LogCaptureFixture
) -> None:
    group = CallbackWorkerGroup()
    stuck = group.add(CallbackWorker("test-stuck", 0, None, set()))
    idle = group.add(CallbackWorker("test-idle", 0, None, set()))
    stuck.put(blocker, ())
    assert blocker.entered.wait(10)
    stuck.close()
    idle.close()
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    assert group.join(0.3) is False
    assert time.monotonic() - started < 10
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1 and "test-stuck" in messages[0] and "Blocker" in messages[0]
    assert "abandoning" in messages[0]
    assert idle.join(0) and not stuck.join(0)
    blocker.released.set()
    assert stuck.join(10) and group.join(1)


def test_group_join_skips_the_calling_worker() -> None:
    group = CallbackWorkerGroup()
    worker = group.add(CallbackWorker("test-self", 0, None, set()))
    result: list[bool] = []
    worker.put(lambda: result.append(group.join(5)), ())
    worker.close()
    assert worker.join(10)
    assert result == [True]
