"""`pika.aio.Channel` against the broker: the generated operations,
publishing (with and without confirms), basic_get, the consume iterator,
basic_consume with plain and async callbacks, acknowledgements, closing,
errors and the async context managers.

Each test runs its coroutine with `aio_support.run`, which fails it if the
event loop reports anything (an exception never retrieved included).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import pika.aio
from pika import exceptions, spec
from pika.aio import Channel, Connection
from pika.parameters import URLParameters
from tests.integration.aio_support import (
    eventually,
    ready_and_consumers,
    run,
    unique,
    until_counts,
)

pytestmark = pytest.mark.broker


async def _exclusive_queue(channel: Channel, **arguments: Any) -> str:
    return str((await channel.queue_declare("", exclusive=True, arguments=arguments)).method.queue)


def test_generated_operations_return_the_reply_frames(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            exchange, other, queue = unique("x"), unique("x2"), unique("q")
            declared = await channel.exchange_declare(exchange, "topic", auto_delete=True)
            assert isinstance(declared.method, spec.Exchange.DeclareOk)
            await channel.exchange_declare(other, "fanout", auto_delete=True)
            bound = await channel.exchange_bind(other, exchange, "#")
            assert isinstance(bound.method, spec.Exchange.BindOk)
            ok = await channel.queue_declare(queue, auto_delete=True)
            assert ok.method.queue == queue and ok.method.message_count == 0
            assert isinstance((await channel.queue_bind(queue, other)).method, spec.Queue.BindOk)
            await channel.basic_publish(exchange, "a.b", b"routed")
            purged = await channel.queue_purge(queue)
            assert purged.method.message_count == 1
            assert await channel.basic_qos(prefetch_count=10) is None
            assert await channel.basic_recover(requeue=True) is None
            await channel.queue_unbind(queue, other)
            await channel.exchange_unbind(other, exchange, "#")
            assert isinstance((await channel.tx_select()).method, spec.Tx.SelectOk)
            assert isinstance((await channel.tx_commit()).method, spec.Tx.CommitOk)
            assert isinstance((await channel.tx_rollback()).method, spec.Tx.RollbackOk)
            deleted = await channel.queue_delete(queue)
            assert isinstance(deleted.method, spec.Queue.DeleteOk)
            await channel.exchange_delete(other)
            await channel.exchange_delete(exchange)

    run(main)


def test_bad_arguments_raise_the_validation_errors_at_once(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            with pytest.raises(TypeError, match="queue must be a str"):
                await channel.queue_declare(5)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="prefetch_count must be >= 0"):
                await channel.basic_qos(prefetch_count=-1)
            with pytest.raises(TypeError, match="on_message_callback must be callable"):
                await channel.basic_consume("q", "nope")  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="inactivity_timeout"):
                channel.consume("q", inactivity_timeout=-1)
            # The channel is still usable.
            assert channel.is_open
            await _exclusive_queue(channel)

    run(main)


def test_publish_and_get(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            properties = spec.BasicProperties(content_type="text/plain", headers={"k": 1})
            await channel.basic_publish("", queue, b"first", properties)
            await channel.basic_publish("", queue, "second")
            method, props, body = await channel.basic_get(queue)
            assert method is not None and props is not None
            assert body == b"first" and props.headers == {"k": 1}
            await channel.basic_ack(method.delivery_tag or 0)
            method, _props, body = await channel.basic_get(queue, auto_ack=True)
            assert body == b"second"
            assert await channel.basic_get(queue) == (None, None, None)

    run(main)


def test_pipelined_gets_each_get_their_own_answer(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            for index in range(3):
                await channel.basic_publish("", queue, b"%d" % index)
            await ready_and_consumers(channel, queue)  # the publishes have arrived
            results = await asyncio.gather(
                *(channel.basic_get(queue, auto_ack=True) for _ in range(5))
            )
            assert [body for _m, _p, body in results] == [b"0", b"1", b"2", None, None]

    run(main)


def test_nack_and_reject_requeue_or_drop(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            for body in (b"a", b"b"):
                await channel.basic_publish("", queue, body)
            method, _p, _b = await channel.basic_get(queue)
            assert method is not None
            await channel.basic_nack(method.delivery_tag or 0, requeue=True)
            method, _p, body = await channel.basic_get(queue)
            assert method is not None and method.redelivered and body == b"a"
            await channel.basic_reject(method.delivery_tag or 0, requeue=False)
            method, _p, body = await channel.basic_get(queue)
            assert method is not None and body == b"b"
            await channel.basic_reject(method.delivery_tag or 0, requeue=False)
            await until_counts(channel, queue, (0, 0))

    run(main)


def test_unconfirmed_publishing_loop_yields_and_every_message_arrives(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.ensure_future(ticker())
            for index in range(5000):
                await channel.basic_publish("", queue, b"%d" % index)
            task.cancel()
            # The loop ran other tasks while the publisher published.
            assert ticks > 10
            await until_counts(channel, queue, (5000, 0))

    run(main)


def test_confirmed_publishes_pipelined_from_many_tasks(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            await channel.confirm_delivery()
            await channel.confirm_delivery()  # again: nothing happens
            queue = await _exclusive_queue(channel)
            results = await asyncio.gather(
                *(channel.basic_publish("", queue, b"%d" % index) for index in range(2000))
            )
            assert results == [None] * 2000
            assert (await ready_and_consumers(channel, queue))[0] == 2000

    run(main)


def test_nacked_publish_raises_nack_error_for_that_message_only(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            await channel.confirm_delivery()
            queue = await _exclusive_queue(
                channel, **{"x-max-length": 2, "x-overflow": "reject-publish"}
            )
            outcomes = await asyncio.gather(
                *(channel.basic_publish("", queue, b"%d" % index) for index in range(4)),
                return_exceptions=True,
            )
            assert outcomes[:2] == [None, None]
            for index, error in enumerate(outcomes[2:], start=2):
                assert isinstance(error, exceptions.NackError)
                [message] = error.messages
                assert message.body == b"%d" % index
            # The channel goes on.
            assert (await ready_and_consumers(channel, queue))[0] == 2

    run(main)


def test_unroutable_mandatory_publish_raises_unroutable_error(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            await channel.confirm_delivery()
            queue = await _exclusive_queue(channel)
            nowhere = unique("nowhere")
            outcomes = await asyncio.gather(
                channel.basic_publish("", queue, b"routed", mandatory=True),
                channel.basic_publish("", nowhere, b"lost", mandatory=True),
                channel.basic_publish("", queue, b"routed too", mandatory=True),
                channel.basic_publish("", nowhere, b"not mandatory"),
                return_exceptions=True,
            )
            assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
            error = outcomes[1]
            assert isinstance(error, exceptions.UnroutableError)
            [returned] = error.messages
            assert returned.body == b"lost"
            assert returned.method.routing_key == nowhere

    run(main)


def test_returns_reach_the_return_callbacks_without_confirms(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            returned: list[bytes] = []
            channel.add_on_return_callback(lambda _ch, _m, _p, body: returned.append(body))
            await channel.basic_publish("", unique("nowhere"), b"back", mandatory=True)
            await eventually(lambda: returned, what="the return")
            assert returned == [b"back"]

    run(main)


def test_consume_iterator_yields_and_cancels_on_exit(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            for index in range(10):
                await channel.basic_publish("", queue, b"%d" % index)
            bodies = []
            async with channel.consume(queue) as messages:
                assert messages.consumer_tag in channel.consumer_tags
                async for method, _props, body in messages:
                    assert method is not None and body is not None
                    bodies.append(body)
                    await channel.basic_ack(method.delivery_tag or 0)
                    if len(bodies) == 4:
                        break
            assert bodies == [b"%d" % index for index in range(4)]
            assert channel.consumer_tags == []
            # Received but not yielded: requeued on exit.
            await until_counts(channel, queue, (6, 0))

    run(main)


def test_consume_iterator_inactivity_timeout_and_broker_cancel(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = unique("cancelled")
            await channel.queue_declare(queue)
            seen: list[Any] = []
            async for method, _props, body in channel.consume(
                queue, auto_ack=True, inactivity_timeout=0.05
            ):
                seen.append(body)
                if method is None and len(seen) == 1:
                    await channel.basic_publish("", queue, b"late")
                elif body == b"late":
                    async with conn.channel() as other:
                        await other.queue_delete(queue)
            # The broker cancelled the consumer: the iteration ended.
            assert seen[:2] == [None, b"late"]
            assert set(seen[2:]) <= {None}

    run(main)


def test_basic_consume_with_plain_and_async_callbacks(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            plain: list[bytes] = []
            handled: list[bytes] = []

            def on_plain(_ch: Channel, _m: spec.Basic.Deliver, _p: Any, body: bytes) -> None:
                plain.append(body)

            async def on_async(
                ch: Channel, method: spec.Basic.Deliver, _p: Any, body: bytes
            ) -> None:
                await asyncio.sleep(0.001)
                handled.append(body)
                await ch.basic_ack(method.delivery_tag or 0)

            tag = await channel.basic_consume(queue, on_plain, auto_ack=True)
            await channel.basic_publish("", queue, b"p")
            await eventually(lambda: plain == [b"p"], what="the plain callback")
            assert await channel.basic_cancel(tag) == []
            tag = await channel.basic_consume(queue, on_async, consumer_tag="mine")
            assert tag == "mine"
            for index in range(20):
                await channel.basic_publish("", queue, b"%d" % index)
            await eventually(lambda: len(handled) == 20, what="the async callbacks")
            await channel.basic_cancel(tag)
            await until_counts(channel, queue, (0, 0))

    run(main)


def test_consumer_callback_exceptions_reach_the_loop_handler(broker_url: str) -> None:
    reports: list[dict[str, Any]] = []

    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            done: list[bytes] = []

            def fails(_ch: Channel, _m: spec.Basic.Deliver, _p: Any, body: bytes) -> None:
                done.append(body)
                raise RuntimeError("plain")

            async def fails_later(
                _ch: Channel, _m: spec.Basic.Deliver, _p: Any, body: bytes
            ) -> None:
                done.append(body)
                raise RuntimeError("async")

            await channel.basic_consume(queue, fails, auto_ack=True)
            await channel.basic_publish("", queue, b"1")
            await eventually(lambda: len(done) == 1)
            await channel.basic_cancel(channel.consumer_tags[0])
            await channel.basic_consume(queue, fails_later, auto_ack=True)
            await channel.basic_publish("", queue, b"2")
            await eventually(lambda: len(done) == 2 and len(reports) == 2)
            # The connection and channel go on.
            assert (await ready_and_consumers(channel, queue))[0] == 0

    run(main, expect_errors=reports)
    assert [str(report["exception"]) for report in reports] == ["plain", "async"]


def test_broker_close_raises_in_the_awaiting_call_and_later_ones(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn:
            channel = await conn.channel()
            with pytest.raises(exceptions.ChannelClosedByBroker) as raised:
                await channel.queue_declare(unique("missing"), passive=True)
            assert raised.value.reply_code == 404
            assert channel.is_closed
            for call in (
                channel.queue_declare(unique("q")),
                channel.basic_get("q"),
                channel.basic_publish("", "q", b"x"),
                channel.basic_ack(1),
            ):
                with pytest.raises(exceptions.ChannelClosedByBroker):
                    await call
            with pytest.raises(exceptions.ChannelClosedByBroker):
                channel.consume("q")
            await channel.close()  # closed already: nothing happens
            # The connection is fine.
            async with conn.channel() as other:
                await _exclusive_queue(other)

    run(main)


def test_pending_calls_and_confirms_fail_when_the_broker_closes_the_channel(
    broker_url: str,
) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            await channel.confirm_delivery()
            queue = await _exclusive_queue(channel)
            outcomes = await asyncio.gather(
                channel.basic_publish("", queue, b"x"),
                channel.basic_publish(unique("no-exchange"), "k", b"y"),
                channel.queue_declare(queue, passive=True),
                return_exceptions=True,
            )
            # The first may have been confirmed before the close.
            assert outcomes[0] is None or isinstance(outcomes[0], exceptions.ChannelClosedByBroker)
            assert all(isinstance(item, exceptions.ChannelClosedByBroker) for item in outcomes[1:])

    run(main)


def test_iterator_raises_the_broker_close(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)

            async def consume() -> None:
                async for _message in channel.consume(queue):
                    pass

            task = asyncio.ensure_future(consume())
            await eventually(lambda: channel.consumer_tags, what="the consumer")
            with pytest.raises(exceptions.ChannelClosedByBroker):
                await channel.queue_declare(unique("missing"), passive=True)
            with pytest.raises(exceptions.ChannelClosedByBroker):
                await task

    run(main)


def test_closing_the_channel_ends_iterators_and_later_calls_raise(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn:
            async with conn.channel() as channel:
                queue = await _exclusive_queue(channel)
                messages = channel.consume(queue)
                await messages.__aenter__()
                waiting = asyncio.ensure_future(messages.__anext__())
                await asyncio.sleep(0.05)
            assert channel.is_closed
            with pytest.raises(StopAsyncIteration):
                await waiting
            with pytest.raises(exceptions.ChannelWrongStateError):
                await channel.basic_get(queue)
            with pytest.raises(exceptions.ChannelWrongStateError):
                channel.consume(queue)

    run(main)


def test_flow_returns_the_confirmed_state(broker_url: str) -> None:
    async def main() -> None:
        async with pika.aio.connect(broker_url) as conn, conn.channel() as channel:
            # RabbitMQ refuses to pause (540 NOT_IMPLEMENTED); resuming is fine.
            assert await channel.flow(True) is True

    run(main)


def test_connection_context_manager_closes_channels(broker_url: str) -> None:
    async def main() -> tuple[Connection, Channel]:
        async with pika.aio.connect(broker_url) as conn:
            channel = await conn.channel()
            assert conn.is_open and channel.is_open
            assert "capabilities" in conn.server_properties
        return conn, channel

    conn, channel = run(main)
    assert conn.is_closed and channel.is_closed


def test_messages_over_max_message_size_raise_or_are_reported(broker_url: str) -> None:
    params = URLParameters(broker_url)
    params.max_message_size = 1000
    big = b"B" * 5000

    async def main() -> None:
        async with pika.aio.connect(params) as conn, conn.channel() as channel:
            queue = await _exclusive_queue(channel)
            await channel.basic_publish("", queue, big)
            await channel.basic_publish("", queue, b"small")
            with pytest.raises(exceptions.MessageTooLargeError) as raised:
                await channel.basic_get(queue)
            assert raised.value.body_size == 5000 and raised.value.rejected
            # The next get gets its own answer.
            assert (await channel.basic_get(queue, auto_ack=True))[2] == b"small"

            await channel.basic_publish("", queue, big)
            await channel.basic_publish("", queue, b"after")
            async with channel.consume(queue) as messages:
                with pytest.raises(exceptions.MessageTooLargeError):
                    await messages.__anext__()
                method, _props, body = await messages.__anext__()
                assert body == b"after" and method is not None
                await channel.basic_ack(method.delivery_tag or 0)

            errors: list[exceptions.MessageTooLargeError] = []
            bodies: list[bytes] = []
            channel.add_on_message_too_large_callback(lambda _ch, error: errors.append(error))
            await channel.basic_consume(queue, lambda _ch, _m, _p, body: bodies.append(body))
            await channel.basic_publish("", queue, big)
            await channel.basic_publish("", queue, b"last")
            await eventually(lambda: errors and bodies, what="the report and the message")
            assert errors[0].body_size == 5000 and bodies == [b"last"]

    run(main)
