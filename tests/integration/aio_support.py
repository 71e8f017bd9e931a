"""What the `pika.aio` tests share: running a coroutine on a loop of the
test's own that fails the test on anything the loop had to report, and
small helpers.

`run` collects every context the loop's exception handler receives
("Task exception was never retrieved", "Future exception was never
retrieved", a failing callback...). After the coroutine, and a garbage
collection that makes asyncio report abandoned futures, any such report
fails the test unless the test expected it (``expect_errors``).
"""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Coroutine
from typing import Any, Callable, TypeVar

from pika.aio import Channel

T = TypeVar("T")


def unique(prefix: str) -> str:
    """A queue or exchange name no other test uses."""
    return f"pika-test-aio-{prefix}-{uuid.uuid4().hex[:10]}"


def run(
    main: Callable[[], Coroutine[Any, Any, T]],
    timeout: float = 45.0,
    expect_errors: list[dict[str, Any]] | None = None,
) -> T:
    """Run ``main()`` on a new event loop, within ``timeout`` seconds.

    Reports the loop's exception handler gets go to ``expect_errors`` as
    they come, when given; otherwise any report fails the test. An
    exception never retrieved fails it either way.
    """
    loop = asyncio.new_event_loop()
    reports: list[dict[str, Any]] = expect_errors if expect_errors is not None else []
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:
        result = loop.run_until_complete(asyncio.wait_for(main(), timeout))
        # Let finished tasks and abandoned futures be collected while the
        # loop can still report them.
        gc.collect()
        loop.run_until_complete(asyncio.sleep(0))
        _cancel_leftovers(loop)
    finally:
        gc.collect()
        loop.close()
    if expect_errors is None:
        assert not reports, f"the event loop reported: {reports!r}"
    assert not any("never retrieved" in str(report.get("message")) for report in reports)
    return result


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


async def ready_and_consumers(channel: Channel, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue``, from a passive declare."""
    method = (await channel.queue_declare(queue, passive=True)).method
    return int(method.message_count or 0), int(method.consumer_count or 0)


async def eventually(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> None:
    """Await until ``condition()`` holds (polling the loop), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            raise AssertionError(f"{what or 'condition'} did not hold within {timeout:g} s")
        await asyncio.sleep(0.01)


async def until_counts(
    channel: Channel, queue: str, expected: tuple[int, int], timeout: float = 20.0
) -> None:
    """Await until ``queue`` has ``expected`` (ready messages, consumers):
    acks, nacks and cancels reach the queue after the channel's later replies."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        counts = await ready_and_consumers(channel, queue)
        if counts == expected:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"{queue}: {counts} instead of {expected} after {timeout:g} s")
        await asyncio.sleep(0.05)
