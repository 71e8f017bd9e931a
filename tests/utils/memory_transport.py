"""In-memory transports: the callback layer driven by scripted server frames,
without a socket or a broker.

Two ways in:

`ConnectionPair` (after h11's ``ConnectionPair``) holds a real
`pika.connection.Connection` subclass, `MemoryConnection`, whose adapter
hooks talk to the pair instead of a socket and an event loop. Nothing runs
behind the test's back: the test feeds the broker's frames (`send`,
`deliver`, `handshake`...), reads and decodes what the client wrote
(`sent`, `expect`), moves a fake clock (`advance`), and drops or refuses
the stream. The callbacks the connection queues for "the next loop turn"
run in `ConnectionPair.run`, which every helper calls first.

`ScriptedBroker` serves the select-based stacks (`BlockingConnection`, the
thread-safe `Connection`) on the real `IOLoop`: `memory_select_connection`
makes a `SelectConnection` class whose I/O services hand out in-memory
streams instead of sockets. The broker answers the handshake and each
synchronous request as soon as it is written (a default reply, or the one
a test registers with `ScriptedBroker.answer`), acknowledges publishes on
channels in confirm mode, and takes frames to push and streams to drop from
the test, from any thread. Timers there run on the real clock.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import socket
import threading
from typing import Any, Callable, Optional, Union

from pika import connection as connection_mod
from pika import frame, spec
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from pika.engine.outbound import BytesLike
from tests.utils.frames import Decoded, FrameDecoder, content_bytes, method_bytes

#: What a broker announces by default: every capability the client uses.
CAPABILITIES = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
}


def server_start(capabilities: Optional[dict[str, Any]] = None) -> spec.Connection.Start:
    """The Connection.Start a RabbitMQ-like broker sends."""
    return spec.Connection.Start(
        server_properties={
            "product": "memory broker",
            "capabilities": dict(CAPABILITIES if capabilities is None else capabilities),
        },
        mechanisms=b"PLAIN AMQPLAIN",
        locales=b"en_US",
    )


# --------------------------------------------------------------------- clock


class _Timer:
    __slots__ = ("callback", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback: Optional[Callable[[], None]] = callback


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._heap: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        """Run ``callback`` once `advance` has moved ``delay`` seconds on."""
        timer = _Timer(self.now + max(0.0, delay), callback)
        heapq.heappush(self._heap, (timer.due, next(self._order), timer))
        return timer

    @staticmethod
    def cancel(timer: _Timer) -> None:
        timer.callback = None

    def pending(self) -> list[float]:
        """Seconds from now to each timer still armed, soonest first."""
        return sorted(t.due - self.now for _due, _n, t in self._heap if t.callback is not None)

    def advance(self, seconds: float, after_each: Callable[[], None]) -> None:
        """Move ``seconds`` on, firing due timers in order (the clock reads
        each one's due time while it runs), ``after_each`` after each."""
        end = self.now + seconds
        while self._heap and self._heap[0][0] <= end:
            due, _n, timer = heapq.heappop(self._heap)
            callback, timer.callback = timer.callback, None
            if callback is None:
                continue
            self.now = max(self.now, due)
            callback()
            after_each()
        self.now = end


# ------------------------------------------------------- the callback layer


class MemoryConnection(connection_mod.Connection):
    """A callback `Connection` whose adapter is a `ConnectionPair`."""

    def __init__(self, pair: ConnectionPair, parameters: connection_mod.Parameters, **kw: Any):
        self._pair = pair
        super().__init__(parameters, **kw)

    def _adapter_connect_stream(self) -> None:
        self._pair._connect_requested()

    def _adapter_disconnect_stream(self) -> None:
        self._pair.connected = False

    def _adapter_emit_data(self, buffers: list[BytesLike]) -> None:
        self._pair._client_wrote(buffers)

    def _adapter_call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return self._pair.clock.call_later(delay, callback)

    def _adapter_remove_timeout(self, timeout_id: Any) -> None:
        self._pair.clock.cancel(timeout_id)

    def _adapter_add_callback(self, callback: Callable[[], None]) -> None:
        self._pair._soon.append(callback)

    def _adapter_get_write_buffer_size(self) -> int:
        return self._pair.write_buffer_size

    def _adapter_now(self) -> float:
        return self._pair.clock.now


class ConnectionPair:
    """A `MemoryConnection` and the test's broker side of its stream.

    ``kwargs`` go to the connection (``on_open_callback`` and the like).
    The stream connects on the first `run` (every helper runs first).
    """

    #: Turns of queued callbacks `run` allows before it calls it a loop.
    MAX_TURNS = 10_000

    def __init__(
        self, parameters: Optional[connection_mod.Parameters] = None, **kwargs: Any
    ) -> None:
        self.clock = FakeClock()
        self._soon: collections.deque[Callable[[], None]] = collections.deque()
        self._decoder = FrameDecoder()
        self._unread: list[Decoded] = []
        #: Whether a stream is up between the client and this side.
        self.connected = False
        #: Streams the connection asked for (the first, then reconnects).
        self.connects = 0
        #: Refuse this many of the next stream connects (after the protocol
        #: header, as a broker that goes away mid-connect).
        self.refuse = 0
        #: What `_adapter_get_write_buffer_size` reports.
        self.write_buffer_size = 0
        self.conn = MemoryConnection(
            self, parameters or connection_mod.ConnectionParameters(), **kwargs
        )

    # -------------------------------------------------------- adapter side

    def _connect_requested(self) -> None:
        self.connects += 1
        self._soon.append(self._connect)

    def _connect(self) -> None:
        self._decoder = FrameDecoder()
        self.connected = True
        self.conn._on_stream_connected()
        if self.refuse:
            self.refuse -= 1
            self.drop(ConnectionRefusedError("refused by the test"))

    def _client_wrote(self, buffers: list[BytesLike]) -> None:
        assert self.connected, "the client wrote with no stream up"
        for chunk in buffers:
            self._unread += self._decoder.feed(bytes(chunk))

    # --------------------------------------------------------- test side

    def run(self) -> None:
        """Run what the connection queued for its next loop turns."""
        for _turn in range(self.MAX_TURNS):
            if not self._soon:
                return
            self._soon.popleft()()
        raise AssertionError("queued callbacks keep queueing more")

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, firing the timers due meanwhile."""
        self.run()
        self.clock.advance(seconds, self.run)
        self.run()

    def sent(self) -> list[Decoded]:
        """The frames the client wrote since the last call, decoded."""
        self.run()
        frames, self._unread = self._unread, []
        return frames

    def sent_methods(self) -> list[tuple[int, Any]]:
        """``(channel number, method)`` of each method frame written since
        the last `sent`/`sent_methods`/`expect` (other frames are dropped)."""
        return [(f.channel_number, f.method) for f in self.sent() if isinstance(f, frame.Method)]

    def expect(self, *classes: type) -> list[Any]:
        """Assert that the client wrote exactly methods of ``classes``, in
        order, since the last read; returns the methods."""
        written = self.sent_methods()
        assert [type(method) for _ch, method in written] == list(classes), [
            (number, method.NAME) for number, method in written
        ]
        return [method for _ch, method in written]

    def send_bytes(self, data: bytes) -> None:
        """Hand ``data`` to the client as received bytes."""
        self.run()
        assert self.connected, "no stream to send on"
        self.conn._on_data_available(data)
        self.run()

    def send(self, channel: int, *methods: Any) -> None:
        """Send ``methods`` as method frames on ``channel``, in one read."""
        self.send_bytes(b"".join(method_bytes(channel, m) for m in methods))

    def deliver(
        self,
        channel: int,
        consumer_tag: str,
        delivery_tag: int,
        body: bytes = b"body",
        redelivered: bool = False,
        exchange: str = "",
        routing_key: str = "rk",
        **props: Any,
    ) -> None:
        """Send a Basic.Deliver with its content."""
        method = spec.Basic.Deliver(consumer_tag, delivery_tag, redelivered, exchange, routing_key)
        self.send_bytes(content_bytes(channel, method, body, **props))

    def send_content(self, channel: int, method: Any, body: bytes, **props: Any) -> None:
        """Send a content method (Basic.Return, Basic.GetOk...) with ``body``."""
        self.send_bytes(content_bytes(channel, method, body, **props))

    def drop(self, error: Optional[BaseException] = None) -> None:
        """The stream breaks (``error``, default a reset)."""
        self.run()
        assert self.connected, "no stream to drop"
        self.connected = False
        self.conn._on_stream_terminated(error or ConnectionResetError("reset by the test"))
        self.run()

    def handshake(
        self,
        heartbeat: int = 0,
        frame_max: int = 131072,
        channel_max: int = 2047,
        capabilities: Optional[dict[str, Any]] = None,
    ) -> None:
        """Play the broker's side of the opening: the protocol header is
        answered with Start, Start-Ok with Tune, Open with Open-Ok."""
        header = self.sent()
        assert header == [frame.ProtocolHeader()], header
        self.send(0, server_start(capabilities))
        self.expect(spec.Connection.StartOk)
        self.send(0, spec.Connection.Tune(channel_max, frame_max, heartbeat))
        self.expect(spec.Connection.TuneOk, spec.Connection.Open)
        self.send(0, spec.Connection.OpenOk())

    def open_channel(
        self, number: Optional[int] = None, on_open: Optional[Callable[[Any], Any]] = None
    ) -> Any:
        """``conn.channel()``, answered: returns the open channel."""
        chan = self.conn.channel(number, on_open)
        assert self.sent_methods() == [(chan.channel_number, spec.Channel.Open())]
        self.send(chan.channel_number, spec.Channel.OpenOk())
        assert chan.is_open
        return chan


def open_pair(
    parameters: Optional[connection_mod.Parameters] = None, heartbeat: int = 0, **kwargs: Any
) -> ConnectionPair:
    """A `ConnectionPair` whose connection is open."""
    pair = ConnectionPair(parameters, **kwargs)
    pair.handshake(heartbeat=heartbeat)
    assert pair.conn.is_open
    return pair


# ------------------------------------------------ the select-based stacks

#: ``responder(channel, method)`` -> the bytes the broker sends back.
Responder = Callable[[int, Any], bytes]


class _Reference(nbio_interface.AbstractIOReference):
    """A pending in-memory operation; cancelling stops its completion."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> bool:
        done, self.cancelled = self.cancelled, True
        return not done


class MemoryStream(nbio_interface.AbstractStreamTransport):
    """One client stream of a `ScriptedBroker`: decodes what the client
    writes and hands the broker's answers to the client on its loop."""

    def __init__(self, broker: ScriptedBroker, nbio: MemoryIOServices, protocol: Any) -> None:
        self._broker = broker
        self._nbio = nbio
        self._protocol = protocol
        self._decoder = FrameDecoder()
        self.closed = False
        #: Channels in confirm mode, with the number of their last publish
        #: (what the broker confirms it with).
        self.published: dict[int, int] = {}
        #: ``(channel, method)`` of each method the client wrote, in order.
        self.received: list[tuple[int, Any]] = []

    def get_protocol(self) -> Any:
        return self._protocol

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._nbio.add_callback(lambda: self._protocol.connection_lost(None))

    def write(self, data: BytesLike) -> None:
        self.writelines([data])

    def writelines(self, buffers: Any) -> None:
        if self.closed:
            return
        out = b""
        for chunk in buffers:
            for value in self._decoder.feed(bytes(chunk)):
                out += self._broker._answer(self, value)
        if out:
            self.push(out)

    def push(self, data: bytes) -> None:
        """Hand ``data`` to the client on its loop (callable from any thread)."""

        def received() -> None:
            if not self.closed:
                self._protocol.data_received(data)

        self._nbio.add_callback_threadsafe(received)

    def lose(self, error: BaseException) -> None:
        """Break the stream with ``error`` (callable from any thread)."""

        def lost() -> None:
            if not self.closed:
                self.closed = True
                self._protocol.connection_lost(error)

        self._nbio.add_callback_threadsafe(lost)


class ScriptedBroker:
    """The broker side of streams made by `MemoryIOServices`.

    Answers the handshake (announcing `CAPABILITIES` and ``heartbeat``),
    every synchronous request with the first reply the protocol allows (a
    Queue.Declare of ``""`` gets a fresh ``amq.gen-`` name, Basic.Get gets
    GetEmpty), and publishes on channels in confirm mode with Basic.Ack.
    `answer` replaces the reply to one request class.
    """

    def __init__(self, heartbeat: int = 0) -> None:
        self.heartbeat = heartbeat
        #: Every stream made so far; the last one is the live one.
        self.streams: list[MemoryStream] = []
        #: Refuse this many of the next TCP connects.
        self.refuse = 0
        self._answers: dict[type, Responder] = {}
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        #: Notified when a stream is made or a method received.
        self._changed = threading.Condition(self._lock)

    @property
    def stream(self) -> MemoryStream:
        """The latest stream."""
        return self.streams[-1]

    def answer(self, request: type, responder: Optional[Responder]) -> None:
        """Answer each ``request`` method with ``responder(channel, method)``
        (``b""``: stay silent; the test may `MemoryStream.push` later);
        None restores the default answer."""
        if responder is None:
            self._answers.pop(request, None)
        else:
            self._answers[request] = responder

    def cut_on(self, request: type) -> None:
        """Answer the next ``request`` by breaking the stream (a connection
        reset) instead of replying; later ones get the default answer."""

        def cut(_channel: int, _method: Any) -> bytes:
            self._answers.pop(request, None)
            self.stream.lose(ConnectionResetError("cut by the scripted broker"))
            return b""

        self.answer(request, cut)

    def received(self, request: Optional[type] = None) -> list[tuple[int, Any]]:
        """``(channel, method)`` the client wrote on every stream (of class
        ``request`` if given)."""
        with self._lock:
            methods = [item for stream in self.streams for item in stream.received]
        return [item for item in methods if request is None or type(item[1]) is request]

    def wait_for_received(self, request: type, count: int, timeout: float = 30.0) -> None:
        """Block until the client wrote ``count`` methods of class ``request``."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: len(self._received_unlocked(request)) >= count, timeout
            ):
                raise AssertionError(f"waited for {count} {request.__name__}")

    def _received_unlocked(self, request: type) -> list[Any]:
        return [m for s in self.streams for _n, m in s.received if type(m) is request]

    def _connect_error(self) -> Optional[BaseException]:
        with self._lock:
            if self.refuse:
                self.refuse -= 1
                return ConnectionRefusedError("refused by the scripted broker")
        return None

    def _new_stream(self, nbio: MemoryIOServices, protocol: Any) -> MemoryStream:
        stream = MemoryStream(self, nbio, protocol)
        with self._changed:
            self.streams.append(stream)
            self._changed.notify_all()
        return stream

    def _answer(self, stream: MemoryStream, value: Decoded) -> bytes:
        if isinstance(value, frame.ProtocolHeader):
            return method_bytes(0, server_start())
        if not isinstance(value, frame.Method):
            return b""
        channel, method = value.channel_number, value.method
        with self._changed:
            stream.received.append((channel, method))
            self._changed.notify_all()
        if type(method) is spec.Basic.Publish and channel in stream.published:
            stream.published[channel] += 1
        responder = self._answers.get(type(method))
        if responder is not None:
            return responder(channel, method)
        reply = self._default_reply(stream, channel, method)
        return b"" if reply is None else method_bytes(channel, reply)

    def _default_reply(self, stream: MemoryStream, channel: int, method: Any) -> Any:
        kind = type(method)
        if kind is spec.Connection.StartOk:
            return spec.Connection.Tune(2047, 131072, self.heartbeat)
        if kind is spec.Connection.Close:
            return spec.Connection.CloseOk()
        if kind is spec.Confirm.Select:
            stream.published[channel] = 0
        elif kind is spec.Basic.Publish:
            if channel not in stream.published:
                return None
            return spec.Basic.Ack(stream.published[channel])
        elif kind is spec.Queue.Declare:
            name = method.queue or f"amq.gen-{next(self._names)}"
            return None if method.nowait else spec.Queue.DeclareOk(name, 0, 0)
        elif kind is spec.Basic.Get:
            return spec.Basic.GetEmpty()
        elif kind is spec.Channel.Flow:
            return spec.Channel.FlowOk(method.active)
        if kind not in spec.REPLIES or getattr(method, "nowait", False):
            return None
        reply = spec.REPLIES[kind][0]()
        for name in ("consumer_tag", "queue"):
            if hasattr(reply, name) and hasattr(method, name):
                setattr(reply, name, getattr(method, name))
        for name in ("message_count", "consumer_count"):
            if hasattr(reply, name) and getattr(reply, name) is None:
                setattr(reply, name, 0)
        return reply


class MemoryIOServices(SelectorIOServicesAdapter):
    """The I/O services of a real `IOLoop` whose streams are a
    `ScriptedBroker`'s: no name is resolved and no socket connected."""

    def __init__(self, loop: Any, broker: ScriptedBroker) -> None:
        super().__init__(loop)
        self._broker = broker

    def _soon(self, callback: Callable[[], None]) -> _Reference:
        reference = _Reference()

        def run() -> None:
            if not reference.cancelled:
                reference.cancelled = True
                callback()

        self.add_callback(run)
        return reference

    def getaddrinfo(  # every address resolves to the broker
        self, host: str, port: int, on_done: Callable[..., None], *_args: Any, **_kwargs: Any
    ) -> _Reference:
        record = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))
        return self._soon(lambda: on_done([record]))

    def connect_socket(
        self,
        sock: socket.socket,
        resolved_addr: tuple[Any, ...],
        on_done: Callable[[Union[BaseException, None]], None],
    ) -> _Reference:
        error = self._broker._connect_error()
        return self._soon(lambda: on_done(error))

    def create_streaming_connection(
        self,
        protocol_factory: Callable[[], nbio_interface.AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[[Any], None],
        ssl_context: Any = None,
        server_hostname: Optional[str] = None,
    ) -> _Reference:
        sock.close()

        def connect() -> None:
            protocol = protocol_factory()
            stream = self._broker._new_stream(self, protocol)
            protocol.connection_made(stream)
            on_done((stream, protocol))

        return self._soon(connect)


def memory_select_connection(broker: ScriptedBroker) -> type[SelectConnection]:
    """A `SelectConnection` class whose streams are ``broker``'s."""

    class MemorySelectConnection(SelectConnection):
        @classmethod
        def _loop_services(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
            loop = custom_ioloop if custom_ioloop is not None else IOLoop()
            return MemoryIOServices(loop, broker)

    return MemorySelectConnection
