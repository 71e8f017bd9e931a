"""The callback API's behaviour on every event-loop adapter, against the real broker.

One suite, parametrized over SelectConnection, AsyncioConnection,
TornadoConnection and GeventConnection through `adapter_driver`; faults
come from the broker itself (``rabbitmqctl``, conflicting declarations)
and from the test proxy (cut, stall). Each adapter's own surface (its
native loop, asyncio beside other coroutines) has a case or two after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

import pika.credentials
from pika import exceptions, spec
from pika.adapters.base_connection import BaseConnection
from pika.connection import ConnectionParameters, SSLOptions, URLParameters
from tests.integration.adapter_driver import AdapterDriver, in_reactor
from tests.integration.select_support import Recorder, unique
from tests.utils import broker
from tests.utils.extra_node import ExtraBrokerNode
from tests.utils.proxy import TcpProxy
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker

@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)


@pytest.fixture
def proxy(params: URLParameters) -> Iterator[TcpProxy]:
    with TcpProxy(params.host, params.port) as tcp_proxy:
        yield tcp_proxy


def through(proxy: TcpProxy, broker_url: str, **query: Any) -> URLParameters:
    url = proxy.rewrite_url(broker_url)
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return URLParameters(url)


def declare_queue(driver: AdapterDriver, chan: Any, name: str = "", **arguments: Any) -> str:
    declare_ok = driver.method(
        lambda done: chan.queue_declare(name, exclusive=True, callback=done, **arguments)
    )
    assert isinstance(declare_ok, spec.Queue.DeclareOk)
    return str(declare_ok.queue)


# ----------------------------------------------------------------- the suite


def test_open_and_close(driver: AdapterDriver, params: URLParameters) -> None:
    rec = Recorder()
    conn = driver.connect(params, rec)
    assert conn.is_open
    assert driver.kit.loop_of(conn.ioloop) is driver.loop
    assert conn.publisher_confirms and conn.basic_nack
    conn.close()
    reason = driver.until(lambda: rec.get("closed"), what="close callback")[0][1]
    assert isinstance(reason, exceptions.ConnectionClosedByClient)
    assert (reason.reply_code, reason.reply_text) == (200, "Normal shutdown")
    assert conn.is_closed


def test_declares(driver: AdapterDriver, params: URLParameters) -> None:
    chan = driver.channel(driver.connect(params))
    exchange, queue = unique("exchange"), unique("queue")
    ok = driver.method(
        lambda done: chan.exchange_declare(exchange, "topic", auto_delete=True, callback=done)
    )
    assert isinstance(ok, spec.Exchange.DeclareOk)
    ok = driver.method(lambda done: chan.queue_declare(queue, auto_delete=True, callback=done))
    assert isinstance(ok, spec.Queue.DeclareOk) and ok.queue == queue
    ok = driver.method(lambda done: chan.queue_bind(queue, exchange, "a.#", callback=done))
    assert isinstance(ok, spec.Queue.BindOk)
    ok = driver.method(lambda done: chan.queue_declare(queue, passive=True, callback=done))
    assert (ok.message_count, ok.consumer_count) == (0, 0)
    ok = driver.method(lambda done: chan.queue_delete(queue, callback=done))
    assert isinstance(ok, spec.Queue.DeleteOk)
    ok = driver.method(lambda done: chan.exchange_delete(exchange, callback=done))
    assert isinstance(ok, spec.Exchange.DeleteOk)


def test_publish_and_consume_with_ack(driver: AdapterDriver, params: URLParameters) -> None:
    chan = driver.channel(driver.connect(params))
    queue = declare_queue(driver, chan)
    driver.method(lambda done: chan.basic_qos(prefetch_count=5, callback=done))
    bodies = [f"message {number}".encode() * (number + 1) for number in range(50)]
    bodies.append(b"x" * 300_000)  # more than one frame
    properties = spec.BasicProperties(content_type="text/plain", headers={"k": "v"})
    for body in bodies:
        chan.basic_publish("", queue, body, properties)
    received: list[tuple[Any, Any, bytes]] = []

    def on_message(channel: Any, method: Any, props: Any, body: bytes) -> None:
        received.append((method, props, body))
        channel.basic_ack(method.delivery_tag)

    rec = Recorder()
    tag = chan.basic_consume(queue, on_message, callback=rec.cb("consume_ok"))
    driver.until(lambda: len(received) == len(bodies), what="all deliveries")
    assert rec.one("consume_ok").method.consumer_tag == tag
    assert [body for _, _, body in received] == bodies
    assert received[0][1].content_type == "text/plain"
    assert received[0][1].headers == {"k": "v"}
    driver.method(lambda done: chan.basic_cancel(tag, callback=done))
    ok = driver.method(lambda done: chan.queue_declare(queue, passive=True, callback=done))
    assert ok.message_count == 0, "every message was acked"


def test_publisher_confirms(driver: AdapterDriver, params: URLParameters) -> None:
    chan = driver.channel(driver.connect(params))
    queue = declare_queue(driver, chan)
    rec = Recorder()
    ok = driver.method(lambda done: chan.confirm_delivery(rec.cb("confirm"), callback=done))
    assert isinstance(ok, spec.Confirm.SelectOk)
    for number in range(20):
        chan.basic_publish("", queue, b"confirm me %d" % number)

    def confirmed() -> set[int]:
        tags: set[int] = set()
        for method_frame in rec.get("confirm"):
            method = method_frame.method
            assert isinstance(method, spec.Basic.Ack)
            top = method.delivery_tag
            tags.update(range(1, top + 1) if method.multiple else [top])
        return tags

    driver.until(lambda: confirmed() >= set(range(1, 21)), what="20 confirms")


def test_mandatory_message_is_returned(driver: AdapterDriver, params: URLParameters) -> None:
    chan = driver.channel(driver.connect(params))
    rec = Recorder()
    chan.add_on_return_callback(rec.cb("returned"))
    chan.basic_publish("", unique("nobody-listens"), b"lost", mandatory=True)
    returned_chan, method, _properties, body = driver.until(rec.has("returned")) and rec.one(
        "returned"
    )
    assert returned_chan is chan
    assert isinstance(method, spec.Basic.Return)
    assert (method.reply_code, body) == (312, b"lost")


def test_channel_closed_by_broker(driver: AdapterDriver, params: URLParameters) -> None:
    conn = driver.connect(params)
    chan = driver.channel(conn)
    queue = declare_queue(driver, chan, unique("conflict"), arguments={"x-max-length": 10})
    rec = Recorder()
    chan.add_on_close_callback(rec.cb("closed"))
    chan.queue_declare(queue, exclusive=True, arguments={"x-max-length": 20})
    closed_chan, reason = driver.until(rec.has("closed"), what="channel close") and rec.one(
        "closed"
    )
    assert closed_chan is chan and chan.is_closed
    assert isinstance(reason, exceptions.ChannelClosedByBroker)
    assert reason.reply_code == 406
    assert conn.is_open
    other = driver.channel(conn)
    ok = driver.method(lambda done: other.queue_declare(queue, passive=True, callback=done))
    assert ok.queue == queue


def test_connection_closed_by_broker(driver: AdapterDriver, broker_url: str) -> None:
    name = unique("forced")
    params = URLParameters(broker_url)
    params.client_properties = {"connection_name": name}
    rec = Recorder()
    conn = driver.connect(params, rec)
    driver.channel(conn)

    def broker_side_pid() -> str | None:
        # rabbitmqctl close_connection wants the connection's process id.
        for row in broker.list_connections(fields=("pid", "client_properties")):
            if f'"{name}"' in row["client_properties"]:
                return row["pid"]
        return None

    broker.close_connection(wait_until(broker_side_pid, message="broker lists it"), "go away")
    reason = driver.until(lambda: rec.get("closed"), what="close callback")[0][1]
    assert isinstance(reason, exceptions.ConnectionClosedByBroker)
    assert reason.reply_code == 320 and "go away" in reason.reply_text
    assert conn.is_closed


def test_connection_lost(driver: AdapterDriver, proxy: TcpProxy, broker_url: str) -> None:
    rec = Recorder()
    conn = driver.connect(through(proxy, broker_url), rec)
    chan = driver.channel(conn)
    chan_rec = Recorder()
    chan.add_on_close_callback(chan_rec.cb("closed"))
    assert proxy.cut() == 1
    reason = driver.until(lambda: rec.get("closed"), what="close callback")[0][1]
    assert isinstance(reason, exceptions.StreamLostError)
    assert conn.is_closed and chan.is_closed
    assert chan_rec.one("closed")[1] is reason


def test_heartbeat_timeout(driver: AdapterDriver, proxy: TcpProxy, broker_url: str) -> None:
    rec = Recorder()
    conn = driver.connect(through(proxy, broker_url, heartbeat=2), rec)
    driver.sleep(2.5)  # heartbeats flow while the link is healthy
    assert conn.is_open
    proxy.stall()
    stalled_at = time.monotonic()
    reason = driver.until(lambda: rec.get("closed"), timeout=15, what="heartbeat timeout")[0][1]
    elapsed = time.monotonic() - stalled_at
    assert isinstance(reason, exceptions.AMQPHeartbeatTimeout)
    assert 3.0 <= elapsed <= 7.0, f"detected after {elapsed:.1f} s (heartbeat 2 s)"


@pytest.mark.timeout(120)
def test_tls(driver: AdapterDriver, tls_broker: ExtraBrokerNode) -> None:
    """A verified TLS connection carries a multi-frame message; a wrong
    server name fails the opening."""
    files, port = tls_broker.tls, tls_broker.tls_port
    assert files is not None and port is not None
    context = files.client_context(with_client_cert=False)

    def tls_params(server_hostname: str) -> ConnectionParameters:
        return ConnectionParameters(
            host=tls_broker.host,
            port=port,
            ssl_options=SSLOptions(context, server_hostname),
            connection_attempts=1,
        )

    chan = driver.channel(driver.connect(tls_params("localhost")))
    queue = declare_queue(driver, chan)
    body = b"over tls " * 50_000
    chan.basic_publish("", queue, body)
    reply = driver.call(lambda done: chan.basic_get(queue, done, auto_ack=True))
    assert reply[3] == body

    with pytest.raises(AssertionError, match="failed to open"):
        driver.connect(tls_params("not-the-broker.example"))


# ------------------------------------------------- each adapter's own surface


def test_create_connection_tries_configs_in_turn(
    driver: AdapterDriver, params: URLParameters, proxy: TcpProxy
) -> None:
    proxy.refuse_new()
    refused = URLParameters(proxy.rewrite_url(f"amqp://guest:guest@{params.host}/"))
    rec = Recorder()
    driver.kit.connection_class.create_connection(
        [refused, params], rec.cb("done"), custom_ioloop=driver.loop
    )
    conn = driver.until(lambda: rec.get("done"), what="create_connection")[0]
    assert isinstance(conn, BaseConnection), conn
    driver.connections.append(conn)
    assert conn.is_open and driver.kit.loop_of(conn.ioloop) is driver.loop


def test_callback_from_another_thread(driver: AdapterDriver, params: URLParameters) -> None:
    """The thread-safe way into each loop: a publish handed over from a thread."""
    import threading

    conn = driver.connect(params)
    chan = driver.channel(conn)
    queue = declare_queue(driver, chan)
    received: list[bytes] = []
    chan.basic_consume(queue, lambda _ch, _m, _p, body: received.append(body), auto_ack=True)

    def publish() -> None:
        chan.basic_publish("", queue, b"from %s" % threading.current_thread().name.encode())

    worker = threading.Thread(
        target=driver.kit.call_from_thread, args=(conn.ioloop, publish), name="worker"
    )
    worker.start()
    driver.until(lambda: received, what="the message published from the thread")
    worker.join()
    assert received == [b"from MainThread"], "the callback ran on the loop's thread"


def test_asyncio_beside_other_coroutines(params: URLParameters) -> None:
    from pika.adapters.asyncio_connection import AsyncioConnection

    async def main() -> tuple[int, int, bytes]:
        loop = asyncio.get_running_loop()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticking = asyncio.ensure_future(ticker())
        opened: asyncio.Future[Any] = loop.create_future()
        closed: asyncio.Future[Any] = loop.create_future()
        conn = AsyncioConnection(
            params,
            on_open_callback=opened.set_result,
            on_open_error_callback=lambda _c, error: opened.set_exception(error),
            on_close_callback=lambda _c, reason: closed.set_result(reason),
        )
        assert conn.ioloop is loop
        await asyncio.wait_for(opened, 10)
        ticks_at_open = ticks
        got: asyncio.Future[bytes] = loop.create_future()

        def on_channel(chan: Any) -> None:
            def on_declared(frame: Any) -> None:
                chan.basic_publish("", frame.method.queue, b"side by side")
                chan.basic_consume(
                    frame.method.queue,
                    lambda _ch, _m, _p, body: got.set_result(body),
                    auto_ack=True,
                )

            chan.queue_declare("", exclusive=True, callback=on_declared)

        conn.channel(on_open_callback=on_channel)
        body = await asyncio.wait_for(got, 10)
        conn.close()
        await asyncio.wait_for(closed, 10)
        ticking.cancel()
        return ticks_at_open, ticks, body

    ticks_at_open, ticks, body = asyncio.run(main())
    assert body == b"side by side"
    assert 0 < ticks_at_open < ticks, "the other coroutine kept running throughout"


def test_asyncio_without_a_loop_uses_its_own_and_sets_none(
    params: URLParameters,
) -> None:
    import warnings

    from pika.adapters.asyncio_connection import AsyncioConnection

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = Recorder()
        conn = AsyncioConnection(params, on_open_callback=rec.cb("open"))
    loop = conn.ioloop
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running()
        loop.call_later(10, loop.stop)
        conn.add_on_open_callback(lambda _conn: loop.stop())
        loop.run_forever()
        assert rec.get("open") == [conn]
        conn.close()
        conn.add_on_close_callback(lambda _conn, _reason: loop.stop())
        loop.run_forever()
        assert conn.is_closed
        loop.run_until_complete(asyncio.sleep(0.05))  # the transport closes its socket
    finally:
        loop.close()


# ------------------------------------------------------------ Twisted's shape


async def twisted_connect(reactor: Any, params: URLParameters) -> Any:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from pika.adapters.twisted_connection import TwistedProtocolConnection

    endpoint = TCP4ClientEndpoint(reactor, params.host, params.port)
    amqp = await connectProtocol(endpoint, TwistedProtocolConnection(params, reactor))
    await amqp.ready
    assert amqp.is_open
    return amqp


def test_twisted_consume_from_a_queue(reactor: Any, params: URLParameters) -> None:
    from pika.adapters.twisted_connection import ClosableDeferredQueue, ReceivedMessage

    async def scenario() -> dict[str, Any]:
        amqp = await twisted_connect(reactor, params)
        chan = await amqp.channel()
        declare_ok = await chan.queue_declare("", exclusive=True)
        queue = declare_ok.method.queue
        await chan.basic_qos(prefetch_count=10)
        for number in range(5):
            await chan.basic_publish("", queue, b"twisted %d" % number)
        messages, tag = await chan.basic_consume(queue)
        received = []
        for _ in range(5):
            message = await messages.get()
            chan.basic_ack(message.method.delivery_tag)
            received.append(message)
        cancel_ok = await chan.basic_cancel(tag)
        after_cancel = await messages.get().addErrback(lambda failure: failure.value)
        reason = await amqp.close()
        return {
            "messages": messages,
            "tag": tag,
            "received": received,
            "chan": chan,
            "cancel_ok": cancel_ok,
            "after_cancel": after_cancel,
            "reason": reason,
            "amqp": amqp,
        }

    outcome = in_reactor(reactor, scenario)
    assert isinstance(outcome["messages"], ClosableDeferredQueue)
    assert outcome["tag"].startswith("ctag")
    received = outcome["received"]
    assert all(isinstance(message, ReceivedMessage) for message in received)
    assert [message.body for message in received] == [b"twisted %d" % n for n in range(5)]
    assert received[0].channel is outcome["chan"]
    assert isinstance(received[0].method, spec.Basic.Deliver)
    assert isinstance(outcome["cancel_ok"].method, spec.Basic.CancelOk)
    assert isinstance(outcome["after_cancel"], exceptions.ConsumerCancelled)
    assert isinstance(outcome["reason"], exceptions.ConnectionClosedByClient)
    assert outcome["amqp"].is_closed


def test_twisted_confirms_and_basic_get(reactor: Any, params: URLParameters) -> None:
    async def scenario() -> list[Any]:
        amqp = await twisted_connect(reactor, params)
        chan = await amqp.channel()
        queue = (await chan.queue_declare("", exclusive=True)).method.queue
        select_ok = await chan.confirm_delivery()
        acks = [await chan.basic_publish("", queue, b"confirmed %d" % n) for n in range(3)]
        first = await chan.basic_get(queue, auto_ack=True)
        await chan.queue_purge(queue)
        empty = await chan.basic_get(queue)
        await amqp.close()
        return [select_ok, acks, first, empty]

    select_ok, acks, first, empty = in_reactor(reactor, scenario)
    assert isinstance(select_ok.method, spec.Confirm.SelectOk)
    assert all(isinstance(ack.method, spec.Basic.Ack) for ack in acks)
    assert [ack.method.delivery_tag for ack in acks] == [1, 2, 3]
    assert first.body == b"confirmed 0" and isinstance(first.method, spec.Basic.GetOk)
    assert empty is None


def test_twisted_channel_closed_by_broker(reactor: Any, params: URLParameters) -> None:
    async def scenario() -> list[Any]:
        amqp = await twisted_connect(reactor, params)
        chan = await amqp.channel()
        name = unique("twisted-conflict")
        await chan.queue_declare(name, exclusive=True, arguments={"x-max-length": 1})
        messages, _tag = await chan.basic_consume(name)
        conflict = await chan.queue_declare(
            name, exclusive=True, arguments={"x-max-length": 2}
        ).addErrback(lambda failure: failure.value)
        queue_closed = await messages.get().addErrback(lambda failure: failure.value)
        afterwards = await chan.queue_purge(name).addErrback(lambda failure: failure.value)
        other = await amqp.channel()
        still_there = await other.queue_declare(name, passive=True)
        await amqp.close()
        return [conflict, queue_closed, afterwards, still_there.method.queue == name]

    conflict, queue_closed, afterwards, still_there = in_reactor(reactor, scenario)
    assert isinstance(conflict, exceptions.ChannelClosedByBroker)
    assert conflict.reply_code == 406
    assert queue_closed is conflict and afterwards is conflict
    assert still_there


def test_twisted_open_failure_fails_ready(reactor: Any, broker_url: str) -> None:
    params = URLParameters(broker_url)
    params.credentials = pika.credentials.PlainCredentials("guest", "wrong password")

    async def scenario() -> BaseException:
        try:
            await twisted_connect(reactor, params)
        except exceptions.AMQPConnectionError as error:
            return error
        raise AssertionError("the connection opened with a wrong password")

    assert isinstance(in_reactor(reactor, scenario), exceptions.AMQPConnectionError)


@pytest.mark.parametrize("fault", ["cut", "stall"])
def test_twisted_connection_faults(
    reactor: Any, proxy: TcpProxy, broker_url: str, fault: str
) -> None:
    """A cut link ends the connection with StreamLostError; a silent one,
    with heartbeat=2, with AMQPHeartbeatTimeout after two to three intervals."""
    from twisted.internet import task, threads

    params = through(proxy, broker_url, heartbeat=2)

    async def scenario() -> tuple[Any, float]:
        amqp = await twisted_connect(reactor, params)
        chan = await amqp.channel()
        await task.deferLater(reactor, 2.5, lambda: None)
        assert amqp.is_open
        started = time.monotonic()
        await threads.deferToThread(proxy.cut if fault == "cut" else proxy.stall)
        reason = await amqp.closed
        assert chan.is_closed
        return reason, time.monotonic() - started

    reason, elapsed = in_reactor(reactor, scenario)
    if fault == "cut":
        assert isinstance(reason, exceptions.StreamLostError)
    else:
        assert isinstance(reason, exceptions.AMQPHeartbeatTimeout)
        assert 3.0 <= elapsed <= 7.0, f"detected after {elapsed:.1f} s (heartbeat 2 s)"


def test_gevent_ioloop_runs_like_the_select_ioloop(params: URLParameters) -> None:
    """``connection.ioloop.start()`` parks the greenlet until ``stop()``."""
    pytest.importorskip("gevent")
    from pika.adapters.gevent_connection import GeventConnection

    rec = Recorder()

    def on_close(_conn: Any, reason: BaseException) -> None:
        rec.cb("closed")(reason)
        ioloop.stop()

    conn = GeventConnection(
        params, on_open_callback=lambda opened: opened.close(), on_close_callback=on_close
    )
    ioloop = conn.ioloop
    guard = ioloop.call_later(10, ioloop.stop)
    ioloop.start()
    ioloop.remove_timeout(guard)
    assert isinstance(rec.one("closed"), exceptions.ConnectionClosedByClient)
