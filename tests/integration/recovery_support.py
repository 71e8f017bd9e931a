"""What the recovery acceptance tests share: a loop runner for the selector
and asyncio adapters, a connection with recovery that records its events,
and the ledger of a confirming publisher and a consumer.

Callbacks only record; tests assert on the records after the loop ran.
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pika import spec
from pika.adapters.base_connection import BaseConnection
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.connection import Parameters
from pika.frame import Method
from pika.parameters import URLParameters
from pika.recovery import RecoveryPolicy
from tests.utils.broker import close_connection, list_connections, queue_info, rabbitmqctl
from tests.utils.proxy import TcpProxy
from tests.utils.wait import WaitTimeout


def unique_name(prefix: str) -> str:
    """A queue or exchange name no other test uses."""
    return f"pika-test-{prefix}-{uuid.uuid4().hex[:10]}"


#: Quick reconnects, so a test spends its time recovering rather than waiting.
FAST_POLICY = RecoveryPolicy(initial_delay=0.05, max_delay=1.0, jitter=0.5)


class LoopRunner:
    """One native event loop and the connections on it, run from a test."""

    name = "abstract"

    def connect(self, params: Parameters, callbacks: dict[str, Any]) -> BaseConnection:
        raise NotImplementedError

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        raise NotImplementedError

    def cancel(self, handle: Any) -> None:
        raise NotImplementedError

    def run_until(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.run_until(lambda: time.monotonic() >= end, seconds + 5, "sleep")


class SelectRunner(LoopRunner):
    name = "select"

    def __init__(self) -> None:
        self.loop = IOLoop()

    def connect(self, params: Parameters, callbacks: dict[str, Any]) -> BaseConnection:
        return SelectConnection(params, custom_ioloop=self.loop, **callbacks)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return self.loop.call_later(delay, callback)

    def cancel(self, handle: Any) -> None:
        self.loop.remove_timeout(handle)

    def run_until(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        # A timer bounds each poll: an idle loop would otherwise block.
        guard = self.loop.call_later(timeout, lambda: None)
        try:
            while not condition():
                if time.monotonic() >= deadline:
                    raise WaitTimeout(f"select: {what} did not hold within {timeout:g} s")
                self.loop.poll()
        finally:
            self.loop.remove_timeout(guard)

    def close(self) -> None:
        self.loop.close()


class AsyncioRunner(LoopRunner):
    """An asyncio loop of the test's own; an exception a callback raises
    (which asyncio would only log) fails the next wait."""

    name = "asyncio"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[Any] = []
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))

    def connect(self, params: Parameters, callbacks: dict[str, Any]) -> BaseConnection:
        from pika.adapters.asyncio_connection import AsyncioConnection

        return AsyncioConnection(params, custom_ioloop=self.loop, **callbacks)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return self.loop.call_later(delay, callback)

    def cancel(self, handle: Any) -> None:
        handle.cancel()

    def run_until(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        async def wait() -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                if self.errors:
                    raise AssertionError(f"a callback failed: {self.errors[0]!r}")
                if time.monotonic() >= deadline:
                    raise WaitTimeout(f"asyncio: {what} did not hold within {timeout:g} s")
                await asyncio.sleep(0.005)

        self.loop.run_until_complete(wait())
        if self.errors:
            raise AssertionError(f"a callback failed: {self.errors[0]!r}")

    def close(self) -> None:
        self.loop.close()


class RecoveringClient:
    """A connection with recovery enabled; records its recovery events and
    how long each recovery took."""

    def __init__(
        self,
        runner: LoopRunner,
        params: Parameters,
        policy: RecoveryPolicy = FAST_POLICY,
        parameters: Optional[Sequence[Parameters]] = None,
        timeout: float = 15,
    ) -> None:
        self.runner = runner
        self.opened = False
        self.open_errors: list[BaseException] = []
        self.closed: list[BaseException] = []
        self.started: list[BaseException] = []
        self.failed: list[BaseException] = []
        self.renamed: list[tuple[str, str]] = []
        self.durations: list[float] = []
        self._began: Optional[float] = None
        self.conn = runner.connect(
            params,
            {
                "on_open_callback": self._on_open,
                "on_open_error_callback": lambda _c, e: self.open_errors.append(e),
                "on_close_callback": lambda _c, e: self.closed.append(e),
            },
        )
        self.conn.enable_recovery(policy, parameters)
        self.conn.add_on_recovery_started_callback(self._on_started)
        self.conn.add_on_recovery_succeeded_callback(self._on_succeeded)
        self.conn.add_on_recovery_failed_callback(lambda _c, e: self.failed.append(e))
        self.conn.add_on_queue_renamed_callback(
            lambda _c, old, new: self.renamed.append((old, new))
        )
        runner.run_until(lambda: self.opened or self.open_errors, timeout, "connection open")
        if self.open_errors:
            raise AssertionError(f"connection failed to open: {self.open_errors[0]!r}")

    def _on_open(self, _conn: Any) -> None:
        self.opened = True

    def _on_started(self, _conn: Any, error: BaseException) -> None:
        self.started.append(error)
        self._began = time.monotonic()

    def _on_succeeded(self, _conn: Any) -> None:
        if self._began is not None:
            self.durations.append(time.monotonic() - self._began)
            self._began = None

    @property
    def name(self) -> str:
        """The ``connection_name`` client property (see `named`)."""
        properties = self.conn.params.client_properties or {}
        return str(properties.get("connection_name", ""))

    @property
    def recoveries(self) -> int:
        return len(self.durations)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 15) -> None:
        self.runner.run_until(condition, timeout, what)

    def channel(self) -> Channel:
        opened: list[Channel] = []
        self.conn.channel(on_open_callback=opened.append)
        self.wait(lambda: opened, "channel open")
        return opened[0]

    def rpc(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Make a synchronous request and wait for its reply frame."""
        replies: list[Any] = []
        call(*args, callback=replies.append, **kwargs)
        self.wait(lambda: replies, getattr(call, "__name__", "request"))
        return replies[0]

    def renamed_to(self, old: str) -> str:
        """The latest name of a server-named queue first called ``old``."""
        name = old
        for before, after in self.renamed:
            if before == name:
                name = after
        return name

    def close(self) -> None:
        if not self.conn.is_closed:
            if not self.conn.is_closing:
                self.conn.close()
            self.wait(lambda: self.conn.is_closed, "connection closed")


def confirmed_tags(method: Any, pending: collections.abc.Iterable[int]) -> list[int]:
    """The publish numbers among ``pending`` that a Basic.Ack/Nack covers."""
    tag = method.delivery_tag
    if method.multiple:
        return sorted(seq for seq in pending if seq <= tag)
    return [tag] if tag in pending else []


@dataclass
class Ledger:
    """Every message a confirming publisher sent, by message id, and what
    the broker and the consumer made of it."""

    #: Publish sequence number -> message id, until its confirm arrives.
    outstanding: dict[int, str] = field(default_factory=dict)
    published: int = 0
    confirmed: set[str] = field(default_factory=set)
    nacked: set[str] = field(default_factory=set)
    #: Confirms for a number already confirmed or never published.
    unexpected_confirms: list[tuple[str, int]] = field(default_factory=list)
    consumed: collections.Counter[str] = field(default_factory=collections.Counter)
    redelivered: int = 0
    #: Ack each delivery at once; otherwise `flush_acks` acks them in batches.
    ack_at_once: bool = True
    #: Channel -> highest delivery tag received and not yet acked.
    _unacked: dict[Channel, int] = field(default_factory=dict)

    def publish(self, chan: Channel, exchange: str, routing_key: str, prefix: str = "m") -> None:
        seq = chan.next_publish_seq_no
        message_id = f"{prefix}-{self.published}"
        self.published += 1
        self.outstanding[seq] = message_id
        chan.basic_publish(
            exchange,
            routing_key,
            message_id.encode(),
            spec.BasicProperties(message_id=message_id, delivery_mode=2),
        )

    def on_confirm(self, reply: Method) -> None:
        method = reply.method
        seqs = confirmed_tags(method, self.outstanding)
        if not seqs and not method.multiple:
            self.unexpected_confirms.append((method.NAME, method.delivery_tag))
        target = self.confirmed if isinstance(method, spec.Basic.Ack) else self.nacked
        for seq in seqs:
            target.add(self.outstanding.pop(seq))

    def on_message(self, chan: Channel, method: Any, properties: Any, _body: bytes) -> None:
        self.consumed[properties.message_id] += 1
        if method.redelivered:
            self.redelivered += 1
        if self.ack_at_once:
            chan.basic_ack(method.delivery_tag)
        else:
            self._unacked[chan] = method.delivery_tag

    def flush_acks(self) -> None:
        """Ack everything received so far, one multiple Basic.Ack per channel
        (a tag from before a recovery is dropped by the channel)."""
        for chan, tag in list(self._unacked.items()):
            if chan.is_open:
                del self._unacked[chan]
                chan.basic_ack(tag, multiple=True)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.consumed.values())

    def missing(self) -> set[str]:
        """Confirmed messages the consumer has not received."""
        return {message_id for message_id in self.confirmed if message_id not in self.consumed}


def summarize(durations: list[float]) -> str:
    if not durations:
        return "none"
    return (
        f"min {min(durations) * 1000:.0f} ms, median {statistics.median(durations) * 1000:.0f}"
        f" ms, max {max(durations) * 1000:.0f} ms"
    )


#: Publishes per tick of the publisher (a tick every PUBLISH_INTERVAL s).
BURST = 5
PUBLISH_INTERVAL = 0.01


class Soak:
    """A recovering publisher connection and a recovering consumer
    connection, both to ``params`` (failing over across ``parameters``), on
    one durable queue (of the given ``queue_arguments``): the publisher
    publishes a burst every PUBLISH_INTERVAL while its channel is open, the
    consumer acks in batches. ``node`` is the broker node to ask about the
    queue (rabbitmqctl -n); ``policy`` is both clients' recovery policy."""

    def __init__(
        self,
        runner: LoopRunner,
        params: Parameters,
        parameters: Optional[Sequence[Parameters]] = None,
        queue_arguments: Optional[dict[str, Any]] = None,
        node: Optional[str] = None,
        policy: RecoveryPolicy = FAST_POLICY,
    ) -> None:
        self.runner = runner
        self.node = node
        # Acks go out in batches, so some are still unsent at a cut: their
        # tags are stale after the recovery, and the messages come again.
        self.ledger = Ledger(ack_at_once=False)
        self.queue = unique_name("soak")
        self.consumer = RecoveringClient(runner, params, policy, parameters)
        self.publisher = RecoveringClient(runner, params, policy, parameters)
        consume_channel = self.consumer.channel()
        self.consumer.rpc(
            consume_channel.queue_declare, self.queue, durable=True, arguments=queue_arguments
        )
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

    def cut_repeatedly(self, proxy: TcpProxy, times: int, interval: float) -> None:
        """Cut both connections at ``proxy`` ``times`` times: each cut once
        both clients are back and ``interval`` seconds after the previous one."""
        for number in range(times):
            self.runner.sleep(interval)
            self.runner.run_until(self.both_open, 30, f"recovery before cut {number + 1}")
            assert proxy.cut() == 2
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
        while not self._queue_empty():
            assert time.monotonic() < deadline, f"{self.queue} did not drain"
            self.runner.sleep(0.3)

    def _queue_empty(self) -> bool:
        info = queue_info(self.queue, node=self.node)
        return info is not None and info.messages == 0

    def figures(self) -> dict[str, Any]:
        """What the run measured, by name."""
        ledger = self.ledger
        channels = (self.consume_channel, self.publish_channel)
        return {
            "adapter": self.runner.name,
            "published": ledger.published,
            "confirmed": len(ledger.confirmed),
            "nacked": len(ledger.nacked),
            "consumed_unique": len(ledger.consumed),
            "duplicates": ledger.duplicates,
            "redelivered": ledger.redelivered,
            "stale_tags_dropped": sum(chan.stale_tags_dropped for chan in channels),
            "consumer_recoveries": self.consumer.recoveries,
            "publisher_recoveries": self.publisher.recoveries,
            "consumer_recovery_time": summarize(self.consumer.durations),
            "publisher_recovery_time": summarize(self.publisher.durations),
        }

    def check(self) -> None:
        """No confirmed message lost, every publish confirmed or nacked, no
        recovery failed."""
        ledger = self.ledger
        assert not ledger.missing(), f"confirmed but never consumed: {sorted(ledger.missing())}"
        assert not ledger.confirmed & ledger.nacked
        assert not ledger.unexpected_confirms, ledger.unexpected_confirms
        assert ledger.published == len(ledger.confirmed) + len(ledger.nacked)
        for client in (self.consumer, self.publisher):
            assert not client.failed and not client.closed

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


def list_rows(
    what: str, fields: tuple[str, ...], node: Optional[str] = None
) -> list[tuple[str, ...]]:
    """``rabbitmqctl list_<what>`` on the default vhost, one tuple of ``fields`` a row."""
    output = rabbitmqctl(f"list_{what}", "--quiet", "--no-table-headers", *fields, node=node)
    return [tuple(line.split("\t")) for line in output.splitlines() if line.strip()]


def bindings_of(node: Optional[str] = None) -> set[tuple[str, str, str, str]]:
    """Every binding: (source exchange, destination kind, destination, routing key)."""
    rows = list_rows(
        "bindings", ("source_name", "destination_kind", "destination_name", "routing_key"), node
    )
    return {(row[0], row[1], row[2], row[3]) for row in rows}


def queue_names(node: Optional[str] = None) -> set[str]:
    return {row[0] for row in list_rows("queues", ("name",), node)}


def exchange_names(node: Optional[str] = None) -> set[str]:
    return {row[0] for row in list_rows("exchanges", ("name",), node)}


def named(url: str, name: str) -> URLParameters:
    """Parameters for ``url`` whose connection carries ``connection_name``."""
    params = URLParameters(url)
    params.client_properties = {"connection_name": name}
    return params


def close_named_connection(name: str, reason: str = "closed by a recovery test") -> None:
    """Make the broker close (320 CONNECTION_FORCED) the connection called ``name``."""
    for row in list_connections(("pid", "client_properties")):
        if name in row.get("client_properties", ""):
            close_connection(row["pid"], reason)
            return
    raise AssertionError(f"the broker lists no connection named {name}")


def channel_count(name: str) -> int:
    """How many channels the broker counts on the connection called ``name``."""
    for row in list_connections(("channels", "client_properties")):
        if name in row.get("client_properties", ""):
            return int(row["channels"])
    raise AssertionError(f"the broker lists no connection named {name}")
