"""Acceptance: a consumer and a confirming publisher keep running while the
test proxy cuts their connections again and again.

Every message confirmed to the publisher (Basic.Ack) must reach the
consumer at least once; messages unconfirmed at a cut must be reported as
nacked, never as confirmed; the duplicates (redeliveries of messages whose
ack was lost with the connection) are counted and reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from pika.parameters import URLParameters
from tests.integration.recovery_support import (
    AsyncioRunner,
    Ledger,
    LoopRunner,
    RecoveringClient,
    SelectRunner,
    summarize,
)
from tests.integration.select_support import unique
from tests.utils import broker
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker

#: Publishes per tick of the publisher (a tick every PUBLISH_INTERVAL s).
BURST = 5
PUBLISH_INTERVAL = 0.01
CUT_INTERVAL = 0.5


class Soak:
    """A publisher connection and a consumer connection through one proxy."""

    def __init__(self, runner: LoopRunner, broker_url: str, proxy: TcpProxy) -> None:
        self.runner = runner
        self.proxy = proxy
        # Acks go out in batches, so some are still unsent at a cut: their
        # tags are stale after the recovery, and the messages come again.
        self.ledger = Ledger(ack_at_once=False)
        self.queue = unique("soak")
        params = URLParameters(proxy.rewrite_url(broker_url))
        self.consumer = RecoveringClient(runner, params)
        self.publisher = RecoveringClient(runner, params)
        consume_channel = self.consumer.channel()
        self.consumer.rpc(consume_channel.queue_declare, self.queue, durable=True)
        self.consumer.rpc(consume_channel.basic_qos, prefetch_count=100)
        consume_channel.basic_consume(self.queue, self.ledger.on_message)
        self.consume_channel = consume_channel
        self.publish_channel = self.publisher.channel()
        self.publisher.rpc(self.publish_channel.confirm_delivery, self.ledger.on_confirm)
        self.cuts = 0
        self._publish_timer: Any = None
        self._ack_timer: Any = None

    def start(self) -> None:
        self._publish_tick()
        self._ack_tick()

    def _publish_tick(self) -> None:
        chan = self.publish_channel
        if self.publisher.conn.is_open and chan.is_open:
            for _ in range(BURST):
                self.ledger.publish(chan, "", self.queue)
        self._publish_timer = self.runner.call_later(PUBLISH_INTERVAL, self._publish_tick)

    def _ack_tick(self) -> None:
        self.ledger.flush_acks()
        self._ack_timer = self.runner.call_later(PUBLISH_INTERVAL, self._ack_tick)

    def stop_publishing(self) -> None:
        if self._publish_timer is not None:
            self.runner.cancel(self._publish_timer)
            self._publish_timer = None

    def stop_acking(self) -> None:
        if self._ack_timer is not None:
            self.runner.cancel(self._ack_timer)
            self._ack_timer = None

    def both_open(self) -> bool:
        return (
            self.consumer.conn.is_open
            and self.publisher.conn.is_open
            and self.consume_channel.is_open
            and self.publish_channel.is_open
        )

    def cut_repeatedly(self, times: int, interval: float) -> None:
        """Cut every proxied connection ``times`` times: each cut once both
        clients are back and ``interval`` seconds after the previous one."""
        for number in range(times):
            self.runner.sleep(interval)
            self.runner.run_until(self.both_open, 30, f"recovery before cut {number + 1}")
            assert self.proxy.cut() == 2
            self.cuts += 1
        self.runner.run_until(self.both_open, 30, "recovery after the last cut")

    def drain(self) -> None:
        """Stop publishing and wait for every confirm and every confirmed message."""
        self.stop_publishing()
        ledger = self.ledger
        self.runner.run_until(lambda: not ledger.outstanding, 30, "every confirm")
        self.runner.run_until(lambda: not ledger.missing(), 30, "every confirmed message")
        # Nacked messages may have reached the queue all the same: let them arrive.
        deadline = time.monotonic() + 30
        while not _queue_empty(self.queue):
            assert time.monotonic() < deadline, f"{self.queue} did not drain"
            self.runner.sleep(0.3)

    def close(self) -> None:
        self.stop_publishing()
        self.stop_acking()
        for client in (self.publisher, self.consumer):
            if client.conn.is_open:
                client.conn.close()
        self.runner.run_until(
            lambda: self.publisher.conn.is_closed and self.consumer.conn.is_closed,
            15,
            "connections closed",
        )


def _queue_empty(name: str) -> bool:
    info = broker.queue_info(name)
    return info is not None and info.messages == 0


@pytest.fixture
def proxy(broker_url: str) -> Iterator[TcpProxy]:
    params = URLParameters(broker_url)
    with TcpProxy(params.host, params.port) as proxy:
        yield proxy


def run_soak(
    runner: LoopRunner,
    broker_url: str,
    proxy: TcpProxy,
    cuts: int,
    report: Callable[[str, Any], None],
) -> Soak:
    soak = Soak(runner, broker_url, proxy)
    began = time.monotonic()
    try:
        soak.start()
        soak.cut_repeatedly(cuts, CUT_INTERVAL)
        runner.sleep(0.5)  # some traffic after the last recovery too
        soak.drain()
        ledger = soak.ledger
        channels = (soak.consume_channel, soak.publish_channel)
        figures = {
            "adapter": runner.name,
            "cuts": soak.cuts,
            "seconds": round(time.monotonic() - began, 1),
            "published": ledger.published,
            "confirmed": len(ledger.confirmed),
            "nacked": len(ledger.nacked),
            "consumed_unique": len(ledger.consumed),
            "duplicates": ledger.duplicates,
            "redelivered": ledger.redelivered,
            "stale_tags_dropped": sum(chan.stale_tags_dropped for chan in channels),
            "consumer_recoveries": soak.consumer.recoveries,
            "publisher_recoveries": soak.publisher.recoveries,
            "consumer_recovery_time": summarize(soak.consumer.durations),
            "publisher_recovery_time": summarize(soak.publisher.durations),
        }
        print(f"\nrecovery soak ({runner.name}):")
        for name, value in figures.items():
            print(f"  {name}: {value}")
            report(name, value)

        assert not ledger.missing(), f"confirmed but never consumed: {sorted(ledger.missing())}"
        assert not ledger.confirmed & ledger.nacked
        assert not ledger.unexpected_confirms, ledger.unexpected_confirms
        assert ledger.published == len(ledger.confirmed) + len(ledger.nacked)
        assert soak.consumer.recoveries == cuts and soak.publisher.recoveries == cuts
        assert not soak.consumer.failed and not soak.publisher.failed
        assert not soak.consumer.closed and not soak.publisher.closed
        # Recovery brought the consumer back every time (one consumer, not more).
        info = broker.queue_info(soak.queue)
        assert info is not None and info.consumers == 1
        return soak
    finally:
        soak.close()
        broker.rabbitmqctl("delete_queue", soak.queue)


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("runner_class", "cuts"),
    # The selector loop takes the full acceptance run; asyncio shows that
    # recovery works on another adapter.
    [(SelectRunner, 20), (AsyncioRunner, 5)],
    ids=["select", "asyncio"],
)
def test_cuts_lose_no_confirmed_message(
    runner_class: type[LoopRunner],
    cuts: int,
    broker_url: str,
    proxy: TcpProxy,
    record_property: Callable[[str, Any], None],
) -> None:
    runner = runner_class()
    try:
        run_soak(runner, broker_url, proxy, cuts, record_property)
    finally:
        runner.close()
