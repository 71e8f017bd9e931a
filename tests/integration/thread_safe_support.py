"""What the thread-safe recovery tests share: a recovering connection that
records its recovery events, a thread runner, and how recovery times are
reported."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable

from pika.adapters.thread_safe_connection import Connection
from pika.connection import URLParameters
from pika.recovery import RecoveryPolicy
from tests.utils.wait import wait_until

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.2)


def unique(prefix: str) -> str:
    return f"pika-test-tsr-{prefix}-{uuid.uuid4().hex[:10]}"


class Recovering:
    """A thread-safe connection with recovery, named for rabbitmqctl, and a
    record of its recovery events (kind, time, argument, thread name)."""

    def __init__(
        self,
        url: str | list[str],
        policy: RecoveryPolicy = FAST,
        **options: Any,
    ) -> None:
        self.name = unique("conn")
        urls = [url] if isinstance(url, str) else url
        candidates = []
        for one in urls:
            params = URLParameters(one)
            params.client_properties = {"connection_name": self.name}
            candidates.append(params)
        self.events: list[tuple[str, float, Any, str]] = []
        self.closed: list[BaseException] = []
        self.conn = Connection(
            candidates if len(candidates) > 1 else candidates[0],
            on_close_callback=lambda _c, error: self.closed.append(error),
            recovery=policy,
            **options,
        )
        self.conn.add_on_recovery_started_callback(lambda _c, e: self._note("started", e))
        self.conn.add_on_recovery_succeeded_callback(lambda _c: self._note("succeeded", None))
        self.conn.add_on_recovery_failed_callback(lambda _c, e: self._note("failed", e))
        self.conn.add_on_queue_renamed_callback(
            lambda _c, old, new: self._note("renamed", (old, new))
        )

    def _note(self, kind: str, value: Any) -> None:
        self.events.append((kind, time.monotonic(), value, threading.current_thread().name))

    def of_kind(self, kind: str) -> list[Any]:
        return [value for event, _at, value, _thread in self.events if event == kind]

    def wait_recoveries(self, count: int, timeout: float = 20) -> None:
        wait_until(
            lambda: len(self.of_kind("succeeded")) >= count,
            timeout=timeout,
            message=f"recovery number {count}",
        )

    def recovery_times(self) -> list[float]:
        """Seconds from each recovery's start to its success."""
        times, started = [], None
        for kind, at, _value, _thread in self.events:
            if kind == "started":
                started = at
            elif kind == "succeeded" and started is not None:
                times.append(at - started)
                started = None
        return times

    def close(self) -> None:
        self.conn.close()


def report_times(what: str, times: list[float]) -> None:
    if times:
        ordered = sorted(times)
        print(
            f"\n{what}: {len(times)} recoveries, "
            f"median {ordered[len(ordered) // 2] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
        )


def in_thread(function: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``function`` on a new thread; the list gets its result or exception."""
    outcome: list[Any] = []

    def body() -> None:
        try:
            outcome.append(function())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, outcome
