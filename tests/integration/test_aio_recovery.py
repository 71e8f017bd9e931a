"""Automatic recovery of `pika.aio` connections, with faults injected by
the proxy between client and broker.

What is checked: topology, ``consume()`` iterators and `basic_consume`
consumers continue after a cut; a call awaiting a reply at the loss raises
`ConnectionInterrupted`; calls made during the recovery wait for it
(`RecoveryWaitTimeout` past ``recovery_wait_timeout``); a recovery that
gives up ends waiting calls and ``wait_closed`` with its error; and, under
repeated cuts, a confirming publisher and a consumer lose no confirmed
message.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import pika.aio
from pika import exceptions, spec
from pika.aio import Channel, Connection
from pika.recovery import RecoveryPolicy
from tests.integration.aio_support import eventually, run, unique
from tests.integration.recovery_support import FAST_POLICY
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker


class Recoveries:
    """Counts a connection's recoveries."""

    def __init__(self, conn: Connection) -> None:
        self.started = 0
        self.succeeded = 0
        conn.add_on_recovery_started_callback(self._started)
        conn.add_on_recovery_succeeded_callback(self._succeeded)

    def _started(self, _conn: Connection, _error: BaseException) -> None:
        self.started += 1

    def _succeeded(self, _conn: Connection) -> None:
        self.succeeded += 1


async def _cut_and_recover(proxy: TcpProxy, conn: Connection, recoveries: Recoveries) -> None:
    before = recoveries.succeeded
    proxy.cut()
    await eventually(lambda: recoveries.succeeded > before and conn.is_open, 30, "the recovery")


def test_topology_iterators_and_consumers_continue_after_a_cut(
    broker_url: str, proxy: TcpProxy
) -> None:
    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        async with pika.aio.connect(url, recovery=FAST_POLICY) as conn:
            recoveries = Recoveries(conn)
            renamed: list[tuple[str, str]] = []
            conn.add_on_queue_renamed_callback(lambda _c, old, new: renamed.append((old, new)))
            channel = await conn.channel()
            await channel.basic_qos(prefetch_count=50)
            exchange = unique("x")
            await channel.exchange_declare(exchange, "fanout", auto_delete=True)
            server_named = str((await channel.queue_declare("", exclusive=True)).method.queue)
            await channel.queue_bind(server_named, exchange)
            named_queue = unique("q")
            await channel.queue_declare(named_queue, auto_delete=True)
            await channel.queue_bind(named_queue, exchange)
            called: list[bytes] = []
            await channel.basic_consume(
                named_queue, lambda _ch, _m, _p, body: called.append(body), auto_ack=True
            )
            async with channel.consume(server_named, auto_ack=True) as messages:
                await channel.basic_publish(exchange, "", b"before")
                assert (await messages.__anext__())[2] == b"before"
                await eventually(lambda: called == [b"before"])
                await _cut_and_recover(proxy, conn, recoveries)
                assert renamed and renamed[0][0] == server_named
                await channel.basic_publish(exchange, "", b"after")
                assert (await messages.__anext__())[2] == b"after"
                await eventually(lambda: called == [b"before", b"after"])
            assert recoveries.started == recoveries.succeeded == 1
            await channel.queue_delete(named_queue)

    run(main)


def test_a_call_awaiting_its_reply_at_the_loss_raises_connection_interrupted(
    broker_url: str, proxy: TcpProxy
) -> None:
    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        async with pika.aio.connect(url, recovery=FAST_POLICY) as conn:
            recoveries = Recoveries(conn)
            channel = await conn.channel()
            proxy.stall()
            waiting = asyncio.ensure_future(channel.queue_declare("", exclusive=True))
            await asyncio.sleep(0.1)
            proxy.resume()
            proxy.cut()
            with pytest.raises(exceptions.ConnectionInterrupted):
                await waiting
            # A call made during the recovery waits for it, then proceeds.
            declared = await channel.queue_declare("", exclusive=True)
            assert declared.method.queue
            assert recoveries.succeeded == 1 and conn.is_open

    run(main)


def test_a_call_cancelled_while_it_waits_for_the_recovery(broker_url: str, proxy: TcpProxy) -> None:
    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        async with pika.aio.connect(url, recovery=FAST_POLICY) as conn:
            recoveries = Recoveries(conn)
            channel = await conn.channel()
            proxy.refuse_new(True)
            proxy.cut()
            await eventually(lambda: conn.is_recovering, what="the recovery to begin")
            waiting = asyncio.ensure_future(channel.queue_declare("", exclusive=True))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            proxy.refuse_new(False)
            await eventually(lambda: recoveries.succeeded == 1, 30, "the recovery")
            assert (await channel.queue_declare("", exclusive=True)).method.queue

    run(main)


def test_calls_during_a_long_recovery_time_out_and_a_failed_one_ends_them(
    broker_url: str, proxy: TcpProxy
) -> None:
    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        policy = RecoveryPolicy(initial_delay=0.1, max_delay=0.2, max_attempts=15)
        conn = await pika.aio.connect(url, recovery=policy, recovery_wait_timeout=0.3)
        failed: list[BaseException] = []
        conn.add_on_recovery_failed_callback(lambda _conn, error: failed.append(error))
        channel = await conn.channel()
        proxy.refuse_new(True)
        proxy.cut()
        await eventually(lambda: conn.is_recovering, what="the recovery to begin")
        started = time.monotonic()
        with pytest.raises(exceptions.RecoveryWaitTimeout):
            await channel.queue_declare("", exclusive=True)
        assert time.monotonic() - started >= 0.25
        waiting = asyncio.ensure_future(conn.wait_closed())
        await eventually(lambda: failed, 30, "the recovery to give up")
        with pytest.raises(exceptions.AMQPConnectionError):
            await waiting
        with pytest.raises(exceptions.AMQPConnectionError):
            await channel.queue_declare("", exclusive=True)
        assert conn.is_closed

    run(main)


def test_acks_of_deliveries_from_before_the_loss_are_dropped(
    broker_url: str, proxy: TcpProxy
) -> None:
    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        async with pika.aio.connect(url, recovery=FAST_POLICY) as conn:
            recoveries = Recoveries(conn)
            channel = await conn.channel()
            queue = unique("stale")
            # Not auto-delete: the loss of its consumer would delete it.
            await channel.queue_declare(queue)
            await channel.basic_publish("", queue, b"m")
            async with channel.consume(queue) as messages:
                method, _props, _body = await messages.__anext__()
                assert method is not None
                await _cut_and_recover(proxy, conn, recoveries)
                assert channel.is_stale_delivery_tag(method.delivery_tag or 0)
                await channel.basic_ack(method.delivery_tag or 0)
                assert channel.stale_tags_dropped == 1
                # The broker redelivers it under a new tag.
                again, _props, body = await messages.__anext__()
                assert again is not None and again.redelivered and body == b"m"
                await channel.basic_ack(again.delivery_tag or 0)
            await channel.queue_delete(queue)

    run(main)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("republish", [False, True], ids=["nack", "republish"])
def test_no_confirmed_message_is_lost_across_cuts(
    broker_url: str, proxy: TcpProxy, republish: bool
) -> None:
    cuts = 20
    policy = RecoveryPolicy(
        initial_delay=0.05, max_delay=0.5, jitter=0.5, republish_unconfirmed=republish
    )

    async def main() -> dict[str, Any]:
        url = proxy.rewrite_url(broker_url)
        queue = unique("ledger")
        confirmed: set[int] = set()
        nacked = 0
        received: set[int] = set()
        stop = asyncio.Event()
        async with pika.aio.connect(url, recovery=policy, recovery_wait_timeout=30) as conn:
            recoveries = Recoveries(conn)
            publisher = await conn.channel()
            await publisher.queue_declare(queue)
            await publisher.confirm_delivery()
            consumer = await conn.channel()
            await consumer.basic_qos(prefetch_count=200)

            async def publish(number: int) -> None:
                nonlocal nacked
                properties = spec.BasicProperties(message_id=str(number))
                try:
                    await publisher.basic_publish("", queue, b"%d" % number, properties)
                except exceptions.NackError:
                    nacked += 1
                else:
                    confirmed.add(number)

            async def publish_all() -> None:
                number = 0
                while not stop.is_set():
                    await asyncio.gather(*(publish(number + i) for i in range(50)))
                    number += 50

            async def consume(channel: Channel) -> None:
                async with channel.consume(queue) as messages:
                    async for method, _props, body in messages:
                        assert method is not None and body is not None
                        received.add(int(body))
                        await channel.basic_ack(method.delivery_tag or 0)

            publishing = asyncio.ensure_future(publish_all())
            consuming = asyncio.ensure_future(consume(consumer))
            for _ in range(cuts):
                await eventually(lambda: len(confirmed) > 0, 30, "a confirm")
                await asyncio.sleep(0.2)
                await _cut_and_recover(proxy, conn, recoveries)
            stop.set()
            await publishing
            await eventually(lambda: confirmed <= received, 60, "every confirmed message")
            consuming.cancel()
            await asyncio.gather(consuming, return_exceptions=True)
            await consumer.queue_delete(queue)
            return {
                "recoveries": recoveries.succeeded,
                "confirmed": len(confirmed),
                "nacked": nacked,
                "lost": len(confirmed - received),
            }

    figures = run(main, timeout=220)
    assert figures["recoveries"] == cuts
    assert figures["lost"] == 0
    assert figures["confirmed"] > cuts * 50
    if republish:
        assert figures["nacked"] == 0


def test_a_failing_recovery_callback_is_reported_and_the_recovery_goes_on(
    broker_url: str, proxy: TcpProxy
) -> None:
    reports: list[dict[str, Any]] = []

    async def main() -> None:
        url = proxy.rewrite_url(broker_url)
        async with pika.aio.connect(url, recovery=FAST_POLICY) as conn:
            recoveries = Recoveries(conn)

            def fails(_conn: Connection, _error: BaseException) -> None:
                raise RuntimeError("from the callback")

            conn.add_on_recovery_started_callback(fails)
            channel = await conn.channel()
            await _cut_and_recover(proxy, conn, recoveries)
            assert (await channel.queue_declare("", exclusive=True)).method.queue

    run(main, expect_errors=reports)
    assert [str(report["exception"]) for report in reports] == ["from the callback"]
