"""Memory stays flat over a million messages published and consumed (``make soak``).

Marked ``slow``: excluded from the default run; ``make soak`` (or
``pytest --run-slow tests/soak``) runs it. One process publishes with
confirms (a bounded window, so the broker's queue stays short) and consumes
with acks. Every `SAMPLE_EVERY` messages it samples the process's resident
memory and the bytes tracemalloc sees allocated. After a warm-up the
traced allocations must not grow with the message count (a leak of even one
small object per message would add tens of megabytes), and the resident
size must stay within a small margin of its warm-up value.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from typing import Any, Callable, Optional

import pytest

from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.connection import Connection
from pika.parameters import URLParameters

#: Messages to publish and consume (PIKA_SOAK_MESSAGES overrides, for a quick look).
TOTAL = int(os.environ.get("PIKA_SOAK_MESSAGES", "1000000"))
SAMPLE_EVERY = TOTAL // 20
WARMUP = TOTAL // 5
CONFIRM_WINDOW = 2000
PREFETCH = 1000
BODY = b"m" * 128
TIME_LIMIT = 1500.0
#: Most growth of the traced allocations from the first to the last third of
#: the samples after warm-up: a leak of one small object per message would
#: add tens of megabytes over the run.
MAX_TRACED_GROWTH = 1024 * 1024
#: Most any one sample after warm-up may lie above the first third's median
#: (buffers in flight at the moment of sampling).
MAX_TRACED_PEAK = 4 * 1024 * 1024
#: Most growth of the resident size allowed after warm-up (allocator slack).
MAX_RSS_GROWTH = 16 * 1024 * 1024

pytestmark = [pytest.mark.slow, pytest.mark.timeout(TIME_LIMIT + 120)]

Sample = tuple[int, int, int]  # messages consumed, resident bytes, traced bytes


def resident_bytes() -> int:
    """The process's resident set size (Linux /proc), or 0 where unknown."""
    try:
        with open("/proc/self/statm") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def median(values: list[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle] + ordered[~middle]) / 2


class Soak:
    """Publishes `TOTAL` messages with confirms and consumes them, sampling memory."""

    def __init__(self, url: str) -> None:
        self.queue = f"pika-soak-{os.getpid()}-{int(time.time())}"
        self.published = 0
        self.confirmed = 0
        self.consumed = 0
        self.samples: list[Sample] = []
        self.failure: Optional[str] = None
        self.publisher: Optional[Channel] = None
        self.connection = SelectConnection(
            URLParameters(url),
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )

    def run(self) -> None:
        ioloop = self.connection.ioloop
        guard = ioloop.call_later(TIME_LIMIT, lambda: self._fail(f"not done in {TIME_LIMIT} s"))
        try:
            ioloop.start()
        finally:
            ioloop.remove_timeout(guard)
            ioloop.close()

    def _fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        if self.connection.is_open:
            self.connection.close()
        else:
            self.connection.ioloop.stop()

    def _on_open(self, connection: Connection) -> None:
        connection.channel(on_open_callback=self._on_consumer_channel)

    def _on_open_error(self, connection: Connection, error: BaseException) -> None:
        self.failure = f"cannot connect: {error}"
        connection.ioloop.stop()  # type: ignore[attr-defined]

    def _on_closed(self, connection: Connection, error: BaseException) -> None:
        if self.consumed < TOTAL and self.failure is None:
            self.failure = f"connection closed early: {error}"
        connection.ioloop.stop()  # type: ignore[attr-defined]

    def _on_consumer_channel(self, channel: Channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.basic_qos(prefetch_count=PREFETCH)
        channel.queue_declare(self.queue, exclusive=True, callback=self._after(channel))

    def _after(self, consumer: Channel) -> Callable[[Any], None]:
        def start(_frame: Any) -> None:
            consumer.basic_consume(self.queue, self._on_message)
            self.connection.channel(on_open_callback=self._on_publisher_channel)

        return start

    def _on_publisher_channel(self, channel: Channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        self.publisher = channel
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._top_up())

    def _on_channel_closed(self, channel: Channel, error: Exception) -> None:
        if self.consumed < TOTAL:
            self._fail(f"channel {channel.channel_number} closed: {error}")

    def _top_up(self) -> None:
        publisher = self.publisher
        assert publisher is not None
        room = min(CONFIRM_WINDOW - (self.published - self.confirmed), TOTAL - self.published)
        for _ in range(room):
            publisher.basic_publish("", self.queue, BODY)
        self.published += max(room, 0)

    def _on_confirm(self, method_frame: Any) -> None:
        method = method_frame.method
        if type(method).__name__ != "Ack":
            self._fail(f"the broker nacked delivery tag {method.delivery_tag}")
            return
        tag = int(method.delivery_tag)
        self.confirmed = tag if method.multiple else self.confirmed + 1
        if self.published < TOTAL and CONFIRM_WINDOW - (self.published - self.confirmed) >= 500:
            self._top_up()

    def _on_message(self, channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        channel.basic_ack(method.delivery_tag)
        self.consumed += 1
        if self.consumed % SAMPLE_EVERY == 0:
            self.samples.append(
                (self.consumed, resident_bytes(), tracemalloc.get_traced_memory()[0])
            )
        if self.consumed == TOTAL:
            self.connection.close()


def describe(samples: list[Sample]) -> str:
    return "\n".join(
        f"{count:>9,} messages  RSS {rss / 2**20:8.2f} MiB  traced {traced / 2**20:8.3f} MiB"
        for count, rss, traced in samples
    )


def test_memory_is_flat_over_a_million_messages(broker_url: str) -> None:
    tracemalloc.start()
    try:
        soak = Soak(broker_url)
        started = time.monotonic()
        soak.run()
        elapsed = time.monotonic() - started
    finally:
        tracemalloc.stop()
    assert soak.failure is None, soak.failure
    assert soak.consumed == TOTAL
    report = describe(soak.samples)
    print(f"\n{TOTAL:,} messages published with confirms and consumed in {elapsed:.0f} s\n{report}")
    settled = [sample for sample in soak.samples if sample[0] >= WARMUP]
    third = max(1, len(settled) // 3)
    early = median([traced for _count, _rss, traced in settled[:third]])
    late = median([traced for _count, _rss, traced in settled[-third:]])
    assert late - early <= MAX_TRACED_GROWTH, (
        f"traced allocations grew by {(late - early) / 2**10:,.0f} KiB after warm-up\n{report}"
    )
    peak = max(traced for _count, _rss, traced in settled)
    assert peak - early <= MAX_TRACED_PEAK, (
        f"traced allocations peaked {(peak - early) / 2**10:,.0f} KiB above their level\n{report}"
    )
    base_rss = settled[0][1]
    if base_rss:
        rss_growth = max(rss for _count, rss, _traced in settled) - base_rss
        assert rss_growth <= MAX_RSS_GROWTH, (
            f"resident size grew by {rss_growth / 2**20:.1f} MiB after warm-up\n{report}"
        )
