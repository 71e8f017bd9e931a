"""The thread-safe connection under faults: 8 publisher threads each get
10,000 publishes confirmed while the test proxy cuts the connection 10
times and a consumer on the same connection takes every message.

Every confirmed message must be consumed (duplicates are counted: delivery
is at least once across a recovery), every publish must get an outcome,
and no thread may be left waiting: the publishers end, and once the
connection is closed none of its threads is alive. It takes 10 to 20
seconds on a loaded two-core machine, so it runs with the suite.
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from typing import Any, Optional

import pytest

from pika import exceptions, spec
from pika.adapters.thread_safe_connection import Channel
from pika.recovery import RecoveryPolicy
from tests.integration.thread_safe_support import Recovering, in_thread, report_times, unique
from tests.utils.proxy import TcpProxy
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker

PUBLISHERS = 8
PER_PUBLISHER = 10_000
CUTS = 10
WINDOW = 500


class Tally:
    """What the publishers and the consumer saw, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.consumed: collections.Counter[str] = collections.Counter()
        self.confirmed: set[str] = set()
        self.nacks = 0
        self.republished = 0
        self.failures: list[BaseException] = []

    def on_message(self, ch: Channel, method: Any, properties: Any, _body: bytes) -> None:
        with self.lock:
            self.consumed[properties.message_id] += 1
        ch.basic_ack(method.delivery_tag)

    @property
    def duplicates(self) -> int:
        with self.lock:
            return sum(count - 1 for count in self.consumed.values())


def publish_confirmed(client: Recovering, queue: str, tally: Tally, index: int) -> int:
    """Publish until ``PER_PUBLISHER`` messages are confirmed; a nacked one
    (its outcome unknown at a connection loss) is published again under the
    same message id. Returns how many publishes were made."""
    channel = client.conn.channel(timeout=60)
    channel.confirm_delivery(lambda _frame: None, timeout=60)
    room = threading.Semaphore(WINDOW)
    retry: collections.deque[str] = collections.deque()
    done = threading.Event()
    confirmed = [0]
    made = 0
    number = 0

    def on_publish(message_id: str, error: Optional[BaseException]) -> None:
        with tally.lock:
            if error is None:
                tally.confirmed.add(message_id)
                confirmed[0] += 1
                if confirmed[0] == PER_PUBLISHER:
                    done.set()
            elif isinstance(error, exceptions.NackError):
                tally.nacks += 1
                retry.append(message_id)
            else:
                tally.failures.append(error)
        room.release()

    while not done.is_set():
        if not room.acquire(timeout=60):
            raise AssertionError(f"publisher {index}: no outcome for 60 s")
        if done.is_set():
            break
        if retry:
            message_id = retry.popleft()
            with tally.lock:
                tally.republished += 1
        elif number < PER_PUBLISHER:
            message_id = f"{index}-{number}"
            number += 1
        else:
            # Everything is published; wait for outcomes (and retries).
            room.release()
            time.sleep(0.01)
            continue
        channel.basic_publish(
            "",
            queue,
            b"soak",
            spec.BasicProperties(message_id=message_id),
            on_publish=functools.partial(on_publish, message_id),
        )
        made += 1
    return made


def pika_threads() -> list[threading.Thread]:
    """The live threads a thread-safe connection makes (I/O and workers)."""
    return [thread for thread in threading.enumerate() if thread.name.startswith("pika")]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("republish", [True, False], ids=["library_republishes", "nacked"])
def test_eight_confirming_publishers_and_a_consumer_through_ten_cuts(
    broker_url: str, proxy: TcpProxy, republish: bool
) -> None:
    """With ``republish_unconfirmed`` the library publishes again what was
    unconfirmed at each cut; without it those messages are nacked and the
    publishers publish them again themselves."""
    before = set(pika_threads())
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, republish_unconfirmed=republish)
    client = Recovering(proxy.rewrite_url(broker_url), policy)
    setup = client.conn.channel()
    queue = unique("soak")
    setup.queue_declare(queue, auto_delete=False)
    tally = Tally()
    consumer = client.conn.channel()
    consumer.basic_qos(prefetch_count=500)
    consumer.basic_consume(queue, tally.on_message)
    total = PUBLISHERS * PER_PUBLISHER
    started = time.monotonic()
    threads = [
        in_thread(functools.partial(publish_confirmed, client, queue, tally, index))
        for index in range(PUBLISHERS)
    ]
    try:
        # Spread the cuts over the run: one each time another slice is confirmed.
        for cut in range(CUTS):
            wait_until(
                lambda cut=cut: len(tally.confirmed) >= (cut + 1) * total // (CUTS + 2),
                timeout=120,
                interval=0.02,
                message=f"confirms before cut {cut + 1}",
            )
            proxy.cut()
            client.wait_recoveries(cut + 1, timeout=60)
        for thread, outcome in threads:
            thread.join(300)
            assert not thread.is_alive(), "a publisher is still waiting"
            assert len(outcome) == 1 and isinstance(outcome[0], int), outcome
        elapsed = time.monotonic() - started
        assert len(tally.confirmed) == total
        assert not tally.failures, tally.failures[:3]
        assert (tally.nacks > 0) != republish
        wait_until(
            lambda: tally.confirmed <= set(tally.consumed),
            timeout=120,
            message="every confirmed message consumed",
        )
        assert len(client.recovery_times()) == CUTS
        print(
            f"\n{PUBLISHERS} publishers x {PER_PUBLISHER} confirmed, {CUTS} cuts in "
            f"{elapsed:.1f} s: {sum(outcome[0] for _t, outcome in threads)} publishes, "
            f"{tally.nacks} nacks ({tally.republished} republished by the publishers), "
            f"{len(tally.consumed)} distinct consumed, {tally.duplicates} duplicates, "
            f"{consumer.stale_tags_dropped} stale acks dropped"
        )
        report_times("soak", client.recovery_times())
    finally:
        setup.queue_delete(queue)
        client.close()
    wait_until(
        lambda: not (set(pika_threads()) - before),
        timeout=30,
        message="every thread of the connection has ended",
    )
