"""`pika.aio`'s memory stays flat over many messages (``make soak``).

The `test_memory` soak's run, written with `pika.aio`: confirmed publishes
from many tasks at once (batches gathered, so the broker's queue stays
short), a ``consume()`` iterator acknowledging each message, and the same
memory samples and limits. It also checks that no future or task was left
holding an exception (the loop's exception handler must stay silent).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from typing import Any

import pytest

import pika.aio
from tests.soak.test_memory import (
    BODY,
    MAX_RSS_GROWTH,
    MAX_TRACED_GROWTH,
    MAX_TRACED_PEAK,
    PREFETCH,
    SAMPLE_EVERY,
    TIME_LIMIT,
    TOTAL,
    WARMUP,
    Sample,
    describe,
    median,
    resident_bytes,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(TIME_LIMIT + 120)]

#: Confirmed publishes gathered at once.
BATCH = 500


async def soak(url: str, samples: list[Sample]) -> None:
    queue = f"pika-aio-soak-{time.time_ns()}"
    async with pika.aio.connect(url, recovery=None) as conn:
        publisher = await conn.channel()
        consumer = await conn.channel()
        await consumer.queue_declare(queue, exclusive=True)
        await consumer.basic_qos(prefetch_count=PREFETCH)
        await publisher.confirm_delivery()

        async def publish() -> None:
            for _ in range(TOTAL // BATCH):
                await asyncio.gather(
                    *(publisher.basic_publish("", queue, BODY) for _ in range(BATCH))
                )

        publishing = asyncio.ensure_future(publish())
        consumed = 0
        async with consumer.consume(queue) as messages:
            async for method, _properties, _body in messages:
                assert method is not None
                await consumer.basic_ack(method.delivery_tag or 0)
                consumed += 1
                if consumed % SAMPLE_EVERY == 0:
                    samples.append((consumed, resident_bytes(), tracemalloc.get_traced_memory()[0]))
                if consumed == TOTAL // BATCH * BATCH:
                    break
        await publishing


def test_aio_memory_is_flat(broker_url: str) -> None:
    samples: list[Sample] = []
    reports: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    tracemalloc.start()
    try:
        started = time.monotonic()
        loop.run_until_complete(asyncio.wait_for(soak(broker_url, samples), TIME_LIMIT))
        elapsed = time.monotonic() - started
    finally:
        tracemalloc.stop()
        loop.close()
    assert not reports, reports
    report = describe(samples)
    print(f"\n{TOTAL:,} messages published with confirms and consumed in {elapsed:.0f} s\n{report}")
    settled = [sample for sample in samples if sample[0] >= WARMUP]
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
