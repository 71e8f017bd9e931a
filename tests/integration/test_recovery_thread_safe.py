"""Automatic recovery of the thread-safe `Connection` against the real broker.

The connection is cut by the test proxy (`tests.utils.proxy.TcpProxy`) or
closed by ``rabbitmqctl close_connection`` (this test's connection only,
found by its connection_name), while other threads publish, consume and
make synchronous calls. Recovery times are printed (``pytest -s``).
"""

from __future__ import annotations

import collections
import functools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from pika import exceptions, spec
from pika.adapters import thread_safe_connection as tsc
from pika.adapters.thread_safe_connection import (
    Channel,
    Connection,
    ConnectionInterrupted,
    ReplyTimeout,
)
from pika.connection import ConnectionParameters, URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.select_support import broker_pid_of
from tests.integration.thread_safe_support import (
    FAST,
    Recovering,
    in_thread,
    report_times,
    unique,
)
from tests.utils import broker
from tests.utils.proxy import TcpProxy
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker

def broker_channel_count(connection_name: str) -> int:
    rows = broker.list_connections(("client_properties", "channels"))
    counts = [int(row["channels"]) for row in rows if connection_name in row["client_properties"]]
    assert len(counts) == 1, rows
    return counts[0]


# ------------------------------------------------------------- the option


def test_recovery_is_opt_in(broker_url: str) -> None:
    params = URLParameters(broker_url)
    with Connection(params) as plain:
        assert not plain.is_recovering
        with pytest.raises(exceptions.ConnectionWrongStateError):
            plain.add_on_recovery_started_callback(lambda _c, _e: None)
    with pytest.raises(TypeError):
        Connection(params, recovery="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        Connection([], recovery=FAST)
    with pytest.raises(TypeError):
        Connection(params, None, None, 10, 1000, 30.0, FAST)  # type: ignore[call-arg]


def test_parameters_sequence_fails_over_when_opening(broker_url: str) -> None:
    good = URLParameters(broker_url)
    dead = ConnectionParameters(host="127.0.0.1", port=1, connection_attempts=1)
    with Connection([dead, good], recovery=FAST) as conn:
        assert conn.is_open and f":{good.port}" in repr(conn)
    with Connection((dead, good)) as conn:
        assert conn.is_open
    with pytest.raises(exceptions.AMQPConnectionError):
        Connection([dead, dead])


# ------------------------------------------------- state during a recovery


def test_a_call_during_recovery_waits_and_succeeds(broker_url: str, proxy: TcpProxy) -> None:
    client = Recovering(proxy.rewrite_url(broker_url), RecoveryPolicy(initial_delay=1, jitter=0))
    try:
        channel = client.conn.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        outcomes: list[Optional[BaseException]] = []
        channel.confirm_delivery(lambda _frame: None)
        proxy.cut()
        wait_until(lambda: client.conn.is_recovering, message="recovery begins")
        assert not client.conn.is_open and not client.conn.is_closed
        assert not channel.is_open and not channel.is_closed
        assert "recovering" in repr(client.conn)
        # Too short a timeout: ReplyTimeout, and the request is never sent.
        never = unique("never-sent")
        with pytest.raises(ReplyTimeout):
            channel.queue_declare(never, timeout=0.2)
        waited_from = time.monotonic()
        late = unique("late")
        declarer, declared = in_thread(lambda: channel.queue_declare(late, auto_delete=True))
        # A publish during the recovery is held, then confirmed.
        channel.basic_publish("", late, b"held", on_publish=outcomes.append)
        declarer.join(15)
        assert declared and isinstance(declared[0].method, spec.Queue.DeclareOk), declared
        waited = time.monotonic() - waited_from
        client.wait_recoveries(1)
        assert client.conn.is_open and channel.is_open
        assert waited > 0.5  # it waited for the recovery (1 s of backoff)
        wait_until(lambda: outcomes, message="the held publish is confirmed")
        assert outcomes == [None]
        assert broker.queue_info(never) is None
        renamed = dict(client.of_kind("renamed"))
        assert set(renamed) == {queue}
        assert channel.queue_declare(renamed[queue], passive=True).method.queue == renamed[queue]
        thread_names = {thread for _k, _at, _v, thread in client.events}
        assert thread_names == {"pika-connection-callbacks"}
        report_times("a call during recovery", client.recovery_times())
    finally:
        client.close()


def test_calls_waiting_at_the_loss_raise_promptly(broker_url: str, proxy: TcpProxy) -> None:
    client = Recovering(proxy.rewrite_url(broker_url))
    try:
        channel = client.conn.channel()
        proxy.stall()
        declarer, declared = in_thread(
            lambda: channel.queue_declare(unique("lost"), exclusive=True, timeout=30)
        )
        getter, got = in_thread(lambda: channel.basic_get(unique("nowhere"), timeout=30))
        opener, opened = in_thread(lambda: client.conn.channel(timeout=30))
        time.sleep(0.3)
        cut_at = time.monotonic()
        proxy.cut()
        for thread in (declarer, getter, opener):
            thread.join(5)
        assert time.monotonic() - cut_at < 3
        for outcome in (declared, got, opened):
            assert outcome and isinstance(outcome[0], ConnectionInterrupted), outcome
            assert isinstance(outcome[0], exceptions.AMQPConnectionError)
            assert isinstance(outcome[0].error, exceptions.StreamLostError)
        proxy.resume()
        client.wait_recoveries(1)
        # The channel whose opening was interrupted is not reopened.
        assert broker_channel_count(client.name) == 1
        assert client.conn.channel().is_open
        assert channel.queue_declare(unique("after"), exclusive=True).method is not None
    finally:
        client.close()


def test_a_call_during_a_recovery_that_never_succeeds_raises(
    broker_url: str, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tsc, "MAX_PENDING_CALLS", 5)
    policy = RecoveryPolicy(initial_delay=0.3, max_delay=0.3, jitter=0, max_attempts=3)
    client = Recovering(proxy.rewrite_url(broker_url), policy)
    channel = client.conn.channel()
    channel.confirm_delivery(lambda _frame: None)
    proxy.refuse_new(True)
    proxy.cut()
    wait_until(lambda: client.conn.is_recovering, message="recovery begins")
    declarer, declared = in_thread(lambda: channel.queue_declare(unique("never"), timeout=30))
    outcomes: list[Optional[BaseException]] = []
    channel.basic_publish("", "whatever", b"held", on_publish=outcomes.append)

    def publish_many() -> None:
        for _ in range(20):
            channel.basic_publish("", "whatever", b"blocked")

    publisher, published = in_thread(publish_many)
    declarer.join(15)
    publisher.join(15)
    assert declared and published, "a waiting call did not return"
    wait_until(lambda: client.of_kind("failed"), message="recovery failed")
    failed = client.of_kind("failed")
    assert len(failed) == 1
    final = failed[0]
    assert isinstance(final, exceptions.AMQPConnectionError)
    # The held call and the publisher blocked on the full call queue get the final error.
    assert declared[0] is final and published[0] is final
    wait_until(lambda: outcomes and client.closed, message="publish and close reported")
    assert outcomes == [final] and client.closed == [final]
    assert client.conn.is_closed and not client.conn.is_recovering and channel.is_closed
    with pytest.raises(exceptions.AMQPError):
        channel.queue_declare(unique("after"))


@pytest.mark.parametrize("stop", ["close", "abort"])
def test_close_and_abort_stop_a_recovery(broker_url: str, proxy: TcpProxy, stop: str) -> None:
    client = Recovering(proxy.rewrite_url(broker_url), RecoveryPolicy(initial_delay=5, jitter=0))
    channel = client.conn.channel()
    proxy.cut()
    wait_until(lambda: client.conn.is_recovering, message="recovery begins")
    declarer, declared = in_thread(lambda: channel.queue_declare(unique("held"), timeout=30))
    time.sleep(0.1)
    stopped_at = time.monotonic()
    if stop == "close":
        client.conn.close(timeout=5)
    else:
        client.conn.abort(timeout=5)
    assert time.monotonic() - stopped_at < 2
    assert client.conn.is_closed and not client.conn.is_recovering
    declarer.join(5)
    assert declared and isinstance(declared[0], exceptions.ConnectionClosedByClient)
    wait_until(lambda: client.closed, message="on_close_callback")
    assert isinstance(client.closed[0], exceptions.ConnectionClosedByClient)
    assert not client.of_kind("failed")


# ------------------------------------------------- deliveries and confirms


def test_stale_acks_from_worker_threads_are_dropped_and_counted(
    broker_url: str, proxy: TcpProxy
) -> None:
    client = Recovering(proxy.rewrite_url(broker_url))
    try:
        channel = client.conn.channel()
        queue = unique("stale")
        channel.queue_declare(queue, auto_delete=False)
        held: list[int] = []
        acked_late: list[int] = []
        threads: set[str] = set()

        def on_message(ch: Channel, method: Any, _properties: Any, body: bytes) -> None:
            threads.add(threading.current_thread().name)
            if body == b"after":
                # Acks from before the loss, made on this worker thread.
                for tag in held:
                    ch.basic_ack(tag)
                acked_late.extend(held)
                ch.basic_ack(method.delivery_tag)
            elif method.redelivered:
                ch.basic_ack(method.delivery_tag)
            else:
                held.append(method.delivery_tag)

        channel.basic_consume(queue, on_message)
        for number in range(3):
            channel.basic_publish("", queue, b"before %d" % number)
        wait_until(lambda: len(held) == 3, message="three deliveries held")
        proxy.cut()
        client.wait_recoveries(1)
        channel.basic_publish("", queue, b"after")
        wait_until(lambda: acked_late, message="the late acks")
        wait_until(lambda: channel.stale_tags_dropped == 3, message="stale acks counted")
        assert all(channel.is_stale_delivery_tag(tag) for tag in held)
        wait_until(
            lambda: (info := broker.queue_info(queue)) is not None and info.messages == 0,
            message="every message acknowledged",
        )
        assert channel.is_open
        assert threads == {f"pika-channel-{channel.channel_number}"}
        channel.queue_delete(queue)
    finally:
        client.close()


@pytest.mark.parametrize("republish", [False, True])
def test_unconfirmed_publishes_get_their_outcome(
    broker_url: str, proxy: TcpProxy, republish: bool
) -> None:
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, republish_unconfirmed=republish)
    client = Recovering(proxy.rewrite_url(broker_url), policy)
    try:
        channel = client.conn.channel()
        queue = unique("unconfirmed")
        channel.queue_declare(queue, auto_delete=False)
        channel.confirm_delivery(lambda _frame: None)
        outcomes: list[Optional[BaseException]] = []
        proxy.stall()  # the confirms cannot come back
        for number in range(5):
            channel.basic_publish("", queue, b"%d" % number, on_publish=outcomes.append)
        time.sleep(0.2)
        proxy.cut()
        proxy.resume()
        client.wait_recoveries(1)
        wait_until(lambda: len(outcomes) == 5, message="every publish has an outcome")
        if republish:
            assert outcomes == [None] * 5
            wait_until(
                lambda: (info := broker.queue_info(queue)) is not None and info.messages >= 5,
                message="the republished messages are queued",
            )
        else:
            assert all(isinstance(outcome, exceptions.NackError) for outcome in outcomes)
        after: list[Optional[BaseException]] = []
        channel.basic_publish("", queue, b"after", on_publish=after.append)
        wait_until(lambda: after, message="confirm after recovery")
        assert after == [None]
        channel.queue_delete(queue)
    finally:
        client.close()


def test_rabbitmqctl_close_connection_is_recovered(broker_url: str) -> None:
    client = Recovering(broker_url)
    try:
        channel = client.conn.channel()
        exchange = unique("ex")
        channel.exchange_declare(exchange, "fanout", auto_delete=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange)
        got: list[tuple[bytes, str]] = []

        def on_message(ch: Channel, method: Any, _properties: Any, body: bytes) -> None:
            got.append((body, threading.current_thread().name))
            ch.basic_ack(method.delivery_tag)

        channel.basic_consume(queue, on_message)
        channel.basic_publish(exchange, "", b"before")
        wait_until(lambda: got, message="first delivery")
        broker.close_connection(broker_pid_of(client.name), "test: thread-safe recovery")
        client.wait_recoveries(1)
        started = client.of_kind("started")
        assert isinstance(started[0], exceptions.ConnectionClosedByBroker)
        assert started[0].reply_code == 320
        renamed = dict(client.of_kind("renamed"))
        channel.basic_publish(exchange, "", b"after")
        wait_until(lambda: len(got) == 2, message="delivery after recovery")
        assert got[1] == (b"after", f"pika-channel-{channel.channel_number}")
        info = broker.queue_info(renamed[queue])
        assert info is not None and info.consumers == 1
        report_times("rabbitmqctl close_connection", client.recovery_times())
    finally:
        client.close()


def test_failover_to_the_next_parameters(broker_url: str) -> None:
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as first, TcpProxy(target.host, target.port) as second:
        client = Recovering([first.rewrite_url(broker_url), second.rewrite_url(broker_url)])
        try:
            channel = client.conn.channel()
            assert first.connection_count == 1 and second.total_connections == 0
            first.refuse_new(True)
            first.cut()
            client.wait_recoveries(1)
            assert second.connection_count == 1
            assert f":{second.port}" in repr(client.conn)
            assert channel.queue_declare(unique("failover"), exclusive=True).method is not None
        finally:
            client.close()


# ---------------------------------------------------------------- under load


@pytest.mark.timeout(180)
@pytest.mark.parametrize("republish", [False, True])
def test_cuts_under_four_confirming_publishers_and_a_consumer(
    broker_url: str, proxy: TcpProxy, republish: bool
) -> None:
    """Every message confirmed to a publisher is consumed at least once."""
    cuts, publishers, window = 20, 4, 200
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, republish_unconfirmed=republish)
    client = Recovering(proxy.rewrite_url(broker_url), policy)
    setup = client.conn.channel()
    queue = unique("load")
    setup.queue_declare(queue, auto_delete=False)
    consumed: collections.Counter[str] = collections.Counter()
    confirmed: set[str] = set()
    nacked: set[str] = set()
    other_failures: list[BaseException] = []
    published = [0] * publishers
    settled = [0] * publishers
    stop = threading.Event()
    lock = threading.Lock()

    def on_message(ch: Channel, method: Any, properties: Any, _body: bytes) -> None:
        with lock:
            consumed[properties.message_id] += 1
        ch.basic_ack(method.delivery_tag)

    consumer = client.conn.channel()
    consumer.basic_qos(prefetch_count=200)
    consumer.basic_consume(queue, on_message)

    def publish(index: int) -> None:
        channel = client.conn.channel(timeout=30)
        channel.confirm_delivery(lambda _frame: None, timeout=30)
        room = threading.Semaphore(window)
        number = 0
        while not stop.is_set():
            if not room.acquire(timeout=30):
                raise AssertionError(f"publisher {index}: no outcome for 30 s")
            message_id = f"{index}-{number}"

            def on_publish(error: Optional[BaseException], message_id: str = message_id) -> None:
                with lock:
                    settled[index] += 1
                    if error is None:
                        confirmed.add(message_id)
                    elif isinstance(error, exceptions.NackError):
                        nacked.add(message_id)
                    else:
                        other_failures.append(error)
                room.release()

            channel.basic_publish(
                "",
                queue,
                b"payload",
                spec.BasicProperties(message_id=message_id),
                on_publish=on_publish,
            )
            published[index] += 1
            number += 1

    threads = [in_thread(functools.partial(publish, index)) for index in range(publishers)]
    try:
        for cut in range(cuts):
            time.sleep(0.4)
            proxy.cut()
            client.wait_recoveries(cut + 1)
        time.sleep(0.4)
        stop.set()
        for thread, outcome in threads:
            thread.join(30)
            assert not thread.is_alive() and outcome == [None], outcome
        wait_until(lambda: settled == published, timeout=30, message="every publish has an outcome")
        wait_until(
            lambda: confirmed <= set(consumed),
            timeout=30,
            message="every confirmed message is consumed",
        )
        assert not other_failures, other_failures[:3]
        if republish:
            assert not nacked
        duplicates = sum(count - 1 for count in consumed.values())
        times = client.recovery_times()
        assert len(times) == cuts
        print(
            f"\n{cuts} cuts, republish={republish}: {sum(published)} published, "
            f"{len(confirmed)} confirmed, {len(nacked)} nacked, {len(consumed)} consumed, "
            f"{duplicates} duplicates, {consumer.stale_tags_dropped} stale acks dropped"
        )
        report_times("under load", times)
    finally:
        stop.set()
        setup.queue_delete(queue)
        client.close()


def test_publishers_block_once_the_call_queue_is_full_during_recovery(
    broker_url: str, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tsc, "MAX_PENDING_CALLS", 20)
    client = Recovering(proxy.rewrite_url(broker_url), RecoveryPolicy(initial_delay=1, jitter=0))
    try:
        channel = client.conn.channel()
        queue = unique("blocked-publisher")
        channel.queue_declare(queue, auto_delete=False)
        proxy.cut()
        wait_until(lambda: client.conn.is_recovering, message="recovery begins")

        def publish_many() -> int:
            for number in range(50):
                channel.basic_publish("", queue, b"%d" % number)
            return 50

        publisher, done = in_thread(publish_many)
        publisher.join(0.5)
        assert publisher.is_alive(), "the publisher should wait during the recovery"
        with pytest.raises(ReplyTimeout):
            channel.queue_declare(queue, passive=True, timeout=0.2)
        publisher.join(15)
        assert done == [50]
        wait_until(
            lambda: (info := broker.queue_info(queue)) is not None and info.messages == 50,
            message="every held publish arrives",
        )
        channel.queue_delete(queue)
    finally:
        client.close()


# ---------------------------------------------------------------- the example


def recovered(lines: list[str], count: int) -> bool:
    return lines.count("Recovered") >= count


@pytest.mark.timeout(120)
def test_the_example_carries_on_through_cuts(broker_url: str, proxy: TcpProxy) -> None:
    repo = Path(__file__).resolve().parents[2]
    queue = unique("example")
    environment = dict(
        os.environ,
        AMQP_URL=proxy.rewrite_url(broker_url),
        PYTHONPATH=str(repo),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, str(repo / "examples" / "thread_safe_recovery.py"), queue, "600"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        lines.extend(line.rstrip("\n") for line in process.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("Publishing") for line in lines), timeout=20)
        for cut in range(1, 4):
            time.sleep(0.5)
            proxy.cut()
            wait_until(functools.partial(recovered, lines, cut), timeout=20, message="recovered")
        assert process.wait(60) == 0, lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(10)
        with Connection(URLParameters(broker_url)) as cleaner:
            cleaner.channel().queue_delete(queue)
    assert sum(line.startswith("Connection lost (StreamLostError") for line in lines) == 3
    assert lines[-1].startswith("All 1200 messages confirmed and consumed ("), lines
