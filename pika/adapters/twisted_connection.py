"""The connection as a Twisted protocol, with channels that answer in Deferreds.

Twisted makes the TCP (or TLS) connection itself, through an endpoint or a
``ClientCreator``, and hands the protocol its transport:

    endpoint = TCP4ClientEndpoint(reactor, "localhost", 5672)
    amqp = yield connectProtocol(endpoint, TwistedProtocolConnection(params))
    yield amqp.ready
    channel = yield amqp.channel()
    messages, tag = yield channel.basic_consume("work")
    message = yield messages.get()

`TwistedProtocolConnection` is the Twisted side: it passes bytes and the
loss of the transport to `_TwistedConnection`, the callback `Connection`
whose timers and callbacks run on the reactor. `TwistedChannel` turns each
request of a callback `Channel` into a Deferred that fires with the reply
(or fails with the reason the channel closed). Consumers receive
`ReceivedMessage` tuples through a `ClosableDeferredQueue`.

Twisted is an optional dependency: ``pip install pika[twisted]``.
"""

from __future__ import annotations

import collections
import logging
from typing import Any, Callable, NamedTuple, Sequence

try:
    from twisted.internet import defer, protocol
    from twisted.python import failure
except ImportError as exc:
    raise ImportError(
        "pika.adapters.twisted_connection needs Twisted: pip install pika[twisted]"
    ) from exc

from pika import amqp_object, channel, connection, exceptions, frame, spec, validation
from pika.adapters.twisted_operations import TwistedOperations
from pika.adapters.utils import connection_workflow
from pika.confirms import ConfirmTracker
from pika.engine.outbound import BytesLike
from pika.operations import Publication
from pika.telemetry import hand_off
from pika.wrapping import WrappedChannelState, WrappedState

__all__ = [
    "ClosableDeferredQueue",
    "ReceivedMessage",
    "TwistedChannel",
    "TwistedProtocolConnection",
]

LOGGER = logging.getLogger(__name__)

LINGER_SECONDS = 5.0
"""How long a closing transport may take to flush before it is aborted."""


def __getattr__(name: str) -> Any:
    # The global reactor is imported (and so installed) only when asked for,
    # so that importing this module leaves the choice of reactor open.
    if name == "reactor":
        from twisted.internet import reactor

        return reactor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ClosableDeferredQueue(defer.DeferredQueue):
    """A `DeferredQueue` that can be closed with a reason.

    Once closed, `put` returns a failed Deferred, and `get` hands out what
    the queue still holds, then fails with the reason; Deferreds already
    waiting fail at once. `closed` is the reason, or None while open.

    Args:
        size: Most items held; None for no limit.
        backlog: Most `get` calls waiting; None for no limit.
    """

    def __init__(self, size: int | None = None, backlog: int | None = None) -> None:
        super().__init__(size, backlog)
        self.closed: BaseException | None = None

    def put(self, obj: Any) -> defer.Deferred[Any] | None:  # type: ignore[override]
        """Add an item, or hand it to a waiting `get`.

        Args:
            obj: The item.

        Returns:
            None, or a failed Deferred once the queue is closed.

        Raises:
            twisted.internet.defer.QueueOverflow: Twisted's: the queue holds ``size`` items already.
        """
        if self.closed is not None:
            return defer.fail(self.closed)
        super().put(obj)
        return None

    def get(self) -> defer.Deferred[Any]:
        """Take the next item.

        Returns:
            A Deferred that fires with it, or fails with the close reason once the queue is closed
            and empty.
        """
        if self.closed is not None and not self.pending:
            return defer.fail(self.closed)
        return super().get()

    def close(self, reason: Exception | None) -> None:
        """Close the queue: waiting and later `get` calls fail with ``reason`` once the queue is
        empty.

        Args:
            reason: The exception to fail them with.
        """
        if self.closed is not None:
            return
        self.closed = reason if reason is not None else defer.CancelledError("queue closed")
        waiting, self.waiting = self.waiting, []
        for deferred in waiting:
            deferred.errback(self.closed)


class ReceivedMessage(NamedTuple):
    """A delivered, fetched or returned message."""

    channel: TwistedChannel
    method: Any
    properties: spec.BasicProperties
    body: bytes


class _Published(NamedTuple):
    """What a confirmed publish keeps to describe a nacked message."""

    method: spec.Basic.Publish
    properties: spec.BasicProperties | None
    body: bytes


class TwistedChannel(TwistedOperations, WrappedChannelState):
    """A `pika.channel.Channel` whose requests return Deferreds.

    Every Deferred fails with the channel's close reason if the channel
    closes before the answer comes. In confirm mode (`confirm_delivery`),
    `basic_publish` fires with the broker's Basic.Ack frame and fails with
    `NackError` on Basic.Nack; otherwise it fires at once with None.
    Unroutable mandatory messages reach `add_on_return_callback`.

    Args:
        channel: The callback-API `pika.channel.Channel` it drives.
    """

    def __init__(self, channel: channel.Channel) -> None:
        self._impl = channel
        self._closed: BaseException | None = None
        self._requests: set[defer.Deferred[Any]] = set()
        self._consumers: dict[str, ClosableDeferredQueue] = {}
        self._gets: collections.deque[defer.Deferred[Any]] = collections.deque()
        self._unconfirmed: ConfirmTracker[tuple[defer.Deferred[Any], _Published]] = ConfirmTracker()
        self._confirming = False
        self._too_large_callbacks: list[Callable[[exceptions.MessageTooLargeError], Any]] = []
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_message_too_large_callback(self._on_message_too_large)
        channel.add_on_cancel_callback(self._on_consumer_cancelled_by_broker)
        channel.add_callback(self._on_get_empty, [spec.Basic.GetEmpty], one_shot=False)

    def __repr__(self) -> str:
        return f"<TwistedChannel {self._impl!r}>"

    # -------------------------------------------------------------- state

    @property
    def connection(self) -> connection.Connection:
        """The callback-API connection the channel belongs to."""
        return self._impl.connection

    @property
    def flow_active(self) -> bool:
        """False while the broker has paused deliveries with ``Channel.Flow``."""
        return self._impl.flow_active

    @property
    def is_closing(self) -> bool:
        """True while the channel is closing."""
        return self._impl.is_closing

    def open(self) -> None:
        """Open the channel (`TwistedProtocolConnection.channel` does this)."""
        self._impl.open()

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        self._impl.close(reply_code, reply_text)

    # -------------------------------------------------------------- plumbing

    def _request(self, operation: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        """Call ``operation(*args, callback=...)``; the Deferred fires with
        what the callback gets."""
        if self._closed is not None:
            return defer.fail(self._closed)
        deferred: defer.Deferred[Any] = defer.Deferred()

        def reply(result: Any) -> None:
            self._requests.discard(deferred)
            deferred.callback(result)

        self._requests.add(deferred)
        try:
            operation(*args, callback=reply)
        except Exception:
            self._requests.discard(deferred)
            return defer.fail()
        return deferred

    def callback_deferred(
        self, deferred: defer.Deferred[Any], replies: Sequence[type[amqp_object.Method]]
    ) -> None:
        """Fire ``deferred`` with the frame of the next of ``replies`` to arrive.

        Args:
            deferred: The Deferred to fire.
            replies: The reply method classes to wait for.
        """
        self._impl.add_callback(deferred.callback, replies)

    def _on_channel_closed(self, _channel: channel.Channel, reason: Exception) -> None:
        self._closed = reason
        pending = list(self._requests) + list(self._gets)
        pending += [deferred for _number, (deferred, _) in self._unconfirmed.take_all()]
        self._requests.clear()
        self._gets.clear()
        for deferred in pending:
            deferred.errback(reason)
        consumers, self._consumers = self._consumers, {}
        for messages in consumers.values():
            messages.close(reason)

    # ------------------------------------------------------------ consuming

    def basic_consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> defer.Deferred[Any]:
        """Start a consumer; fires with ``(ClosableDeferredQueue, consumer_tag)``."""
        messages = ClosableDeferredQueue()

        def deliver(
            _channel: channel.Channel,
            method: spec.Basic.Deliver,
            properties: spec.BasicProperties,
            body: bytes,
        ) -> None:
            messages.put(ReceivedMessage(self, method, properties, body))

        hand_off(deliver)  # the application takes the messages from the queue

        def consume(callback: Callable[[Any], None]) -> None:
            tag = self._impl.basic_consume(
                queue, deliver, auto_ack, exclusive, consumer_tag, arguments, callback=callback
            )
            self._consumers[tag] = messages

        started = self._request(consume)
        started.addCallback(lambda reply: (messages, reply.method.consumer_tag))
        return started

    def basic_cancel(self, consumer_tag: str = "") -> defer.Deferred[Any]:
        """Cancel a consumer; its queue closes with `ConsumerCancelled`."""

        def cancelled(reply: Any) -> Any:
            messages = self._consumers.pop(consumer_tag, None)
            if messages is not None:
                messages.close(exceptions.ConsumerCancelled(consumer_tag))
            return reply

        return self._request(self._impl.basic_cancel, consumer_tag).addCallback(cancelled)

    def _on_consumer_cancelled_by_broker(self, method_frame: frame.Method) -> None:
        tag = str(method_frame.method.consumer_tag)
        messages = self._consumers.pop(tag, None)
        if messages is not None:
            messages.close(exceptions.ConsumerCancelled(method_frame))

    def basic_get(self, queue: str, auto_ack: bool = False) -> defer.Deferred[Any]:
        """Fetch one message; fires with a `ReceivedMessage`, or None if the
        queue was empty."""
        if self._closed is not None:
            return defer.fail(self._closed)
        try:
            self._impl.basic_get(queue, self._on_get_ok, auto_ack)
        except Exception:
            return defer.fail()
        deferred: defer.Deferred[Any] = defer.Deferred()
        self._gets.append(deferred)
        return deferred

    def _on_get_ok(
        self,
        _channel: channel.Channel,
        method: spec.Basic.GetOk,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self._gets.popleft().callback(ReceivedMessage(self, method, properties, body))

    def add_on_message_too_large_callback(
        self, callback: Callable[[exceptions.MessageTooLargeError], Any]
    ) -> None:
        """``callback(error)`` for each returned message over the connection's
        ``max_message_size`` (without one it is logged as an error). A
        consumer's message over the cap fails the next ``get()`` of its queue
        with the `MessageTooLargeError` (later ones go on), and `basic_get`
        fails with it; the channel stays open.

        Args:
            callback: Called with the `pika.exceptions.MessageTooLargeError`.

        Raises:
            TypeError: ``callback`` is not callable.
        """
        validation.require_callable(callback, "callback")
        self._too_large_callbacks.append(callback)

    def _on_message_too_large(
        self, _channel: channel.Channel, error: exceptions.MessageTooLargeError
    ) -> None:
        method = error.method
        if type(method) is spec.Basic.GetOk:
            self._gets.popleft().errback(error)
            return
        messages = self._consumers.get(str(getattr(method, "consumer_tag", "")))
        if messages is not None:
            messages.put(failure.Failure(error))
            return
        if not self._too_large_callbacks:
            LOGGER.error("%s (no on_message_too_large callback is registered)", error)
        for callback in list(self._too_large_callbacks):
            callback(error)

    def _on_get_empty(self, _method_frame: frame.Method) -> None:
        self._gets.popleft().callback(None)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self._impl.basic_ack(delivery_tag, multiple)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        self._impl.basic_nack(delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int, requeue: bool = True) -> None:
        self._impl.basic_reject(delivery_tag, requeue)

    # ----------------------------------------------------------- publishing

    def _publish(self, publication: Publication) -> defer.Deferred[Any]:
        # The work of basic_publish (generated from pika.operations, documented there).
        if self._closed is not None:
            return defer.fail(self._closed)
        delivery_tag = self._impl.next_publish_seq_no
        try:
            self._impl.basic_publish(*publication)
        except Exception:
            return defer.fail()
        if not self._confirming:
            return defer.succeed(None)
        deferred: defer.Deferred[Any] = defer.Deferred()
        exchange, routing_key, body, properties, mandatory = publication
        method = spec.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory)
        kept = bytes(validation.message_body(body))
        self._unconfirmed.add(delivery_tag, (deferred, _Published(method, properties, kept)))
        return deferred

    def confirm_delivery(self) -> defer.Deferred[Any]:
        """Turn on publisher confirms; fires with the Confirm.SelectOk frame."""

        def select(callback: Callable[[Any], None]) -> None:
            self._impl.confirm_delivery(self._on_confirmation, callback=callback)
            self._confirming = True

        return self._request(select)

    def _on_confirmation(self, method_frame: frame.Method) -> None:
        method = method_frame.method
        settled = self._unconfirmed.settle(method.delivery_tag, bool(method.multiple))
        if isinstance(method, spec.Basic.Ack):
            for _number, (deferred, _published) in settled:
                deferred.callback(method_frame)
        else:
            for _number, (deferred, published) in settled:
                deferred.errback(exceptions.NackError([published]))

    def add_on_return_callback(self, callback: Callable[[ReceivedMessage], None]) -> None:
        """``callback(ReceivedMessage)`` for each message the broker returns.

        Args:
            callback: The callable to add.
        """

        def returned(
            _channel: channel.Channel,
            method: spec.Basic.Return,
            properties: spec.BasicProperties,
            body: bytes,
        ) -> None:
            callback(ReceivedMessage(self, method, properties, body))

        self._impl.add_on_return_callback(returned)

    # ------------------------------------------------------ everything else

    def flow(self, active: bool = True) -> defer.Deferred[Any]:
        """Fires with the flow state the broker confirmed."""
        return self._request(self._impl.flow, active)


class _TwistedConnection(connection.Connection):
    """The callback connection with the reactor's timers and a Twisted transport.

    It does not connect anything: the Twisted endpoint that created the
    protocol connects the stream and `TwistedProtocolConnection` passes it
    on (`stream_made`, `stream_lost`). The AMQP handshake must end within
    the parameters' ``stack_timeout`` from there, or the connection fails
    with `AMQPConnectorStackTimeout` (the TCP and TLS set-up is the
    endpoint's, with its own timeout). A broker's other AMQP version or
    Redirect is therefore reported (ProtocolVersionOffered,
    ConnectionRedirected), not followed.
    """

    _connects_itself = False

    def __init__(
        self,
        parameters: connection.Parameters | None,
        reactor: Any,
        on_open: Callable[[connection.Connection], None],
        on_open_error: Callable[[connection.Connection, BaseException], None],
        on_close: Callable[[connection.Connection, BaseException], None],
    ) -> None:
        self._reactor = reactor
        self._transport: Any | None = None
        self._linger: Any | None = None
        self._open_deadline: Any | None = None
        super().__init__(parameters, on_open, on_open_error, on_close)

    def stream_made(self, transport: Any) -> None:
        """The stream is up: start the handshake, which must end within
        ``stack_timeout`` (the endpoint bounds the TCP connect itself).

        Nagle's algorithm is turned off on a TCP transport (Twisted leaves
        it on), as the other adapters do: a small frame written while an
        earlier one is unacknowledged would otherwise wait for the peer's
        delayed ACK."""
        self._transport = transport
        no_delay = getattr(transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        if self.params.stack_timeout:
            self._open_deadline = self._reactor.callLater(
                self.params.stack_timeout, self._on_stack_timeout
            )
        self._on_stream_connected()

    def stream_lost(self, reason: failure.Failure) -> None:
        self._transport = None
        self._cancel_open_deadline()
        linger, self._linger = self._linger, None
        if linger is not None and linger.active():
            linger.cancel()
        self._on_stream_terminated(reason.value)

    def _on_opened(self) -> None:
        self._cancel_open_deadline()
        super()._on_opened()

    def _cancel_open_deadline(self) -> None:
        deadline, self._open_deadline = self._open_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _on_stack_timeout(self) -> None:
        self._open_deadline = None
        if self.is_open or self.is_closed:
            return
        self._terminate(
            connection_workflow.AMQPConnectorStackTimeout(
                f"connection not open after stack_timeout={self.params.stack_timeout} s",
                host=self.params.host,
                port=self.params.port,
            )
        )

    def _adapter_connect_stream(self) -> None:
        """Nothing to start: Twisted's endpoint connects the stream and the
        protocol reports it through `stream_made`."""

    def _adapter_disconnect_stream(self) -> None:
        # Twisted writes when the socket is ready, so a Close-Ok queued a
        # moment ago may still be in its buffer: let it flush, briefly.
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.loseConnection()
            abort = getattr(transport, "abortConnection", None)
            if abort is not None:
                self._linger = self._reactor.callLater(LINGER_SECONDS, abort)

    def _adapter_emit_data(self, buffers: list[BytesLike]) -> None:
        transport = self._transport
        if transport is None:
            raise exceptions.ConnectionWrongStateError("no transport to write to")
        # Twisted transports take bytes only.
        transport.writeSequence([b if type(b) is bytes else bytes(b) for b in buffers])

    def _adapter_call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        call: Any = self._reactor.callLater(delay, callback)
        return call

    def _adapter_remove_timeout(self, timeout_id: Any) -> None:
        if timeout_id.active():
            timeout_id.cancel()

    def _adapter_add_callback(self, callback: Callable[[], None]) -> None:
        self._reactor.callLater(0, callback)

    def _adapter_get_write_buffer_size(self) -> int:
        """Always 0: Twisted does not tell how much it has buffered. Only
        backpressure callbacks read this, and this adapter offers none."""
        return 0


class TwistedProtocolConnection(WrappedState[_TwistedConnection], protocol.Protocol):
    """An AMQP connection as a Twisted protocol.

    `ready` fires with this protocol once the AMQP connection is open (or
    fails with the reason it could not open); `closed` fires with the
    reason (an exception, passed as a result) once the connection is
    closed. ``custom_reactor`` defaults to the global reactor.

    Args:
        parameters: The `pika.connection.Parameters` of the AMQP session (Twisted makes the TCP or
            TLS connection itself); None for the defaults.
        custom_reactor: The reactor to use; None for Twisted's global one.
    """

    def __init__(
        self,
        parameters: connection.Parameters | None = None,
        custom_reactor: Any = None,
    ) -> None:
        if custom_reactor is None:
            from twisted.internet import reactor as custom_reactor
        self._reactor: Any = custom_reactor
        self.ready: defer.Deferred[TwistedProtocolConnection] = defer.Deferred()
        self.closed: defer.Deferred[BaseException] = defer.Deferred()
        self._impl = _TwistedConnection(
            parameters, custom_reactor, self._on_open, self._on_open_error, self._on_close
        )

    def __repr__(self) -> str:
        return f"<TwistedProtocolConnection {self._impl!r}>"

    # ------------------------------------------------------ Twisted's calls

    def makeConnection(self, transport: Any) -> None:
        """Twisted's call once the transport is connected: the AMQP handshake starts.

        Args:
            transport: Twisted's transport to the broker.
        """
        super().makeConnection(transport)
        self._impl.stream_made(transport)

    def dataReceived(self, data: bytes) -> None:
        """Twisted's call with bytes from the broker.

        Args:
            data: The bytes.
        """
        self._impl._on_data_available(data)

    def connectionLost(self, reason: failure.Failure = protocol.connectionDone) -> None:
        """Twisted's call when the transport is gone: the connection closes with that reason.

        Args:
            reason: Twisted's failure describing the loss.
        """
        super().connectionLost(reason)
        self._impl.stream_lost(reason)

    # ----------------------------------------------------------- AMQP side

    def connectionReady(self) -> TwistedProtocolConnection:
        """Called once the AMQP connection is open: fires `ready`.

        Subclasses may override it to start their work; call this one to
        keep `ready` working.

        Returns:
            This protocol.
        """
        self.ready.callback(self)
        return self

    def _on_open(self, _connection: connection.Connection) -> None:
        self.connectionReady()

    def _on_open_error(self, _connection: connection.Connection, error: BaseException) -> None:
        self.ready.errback(error)
        self.closed.callback(error)

    def _on_close(self, _connection: connection.Connection, reason: BaseException) -> None:
        self.closed.callback(reason)

    def channel(self, channel_number: int | None = None) -> defer.Deferred[TwistedChannel]:
        """Open a channel; fires with its `TwistedChannel`.

        Args:
            channel_number: The channel number to use; None for the lowest free one.

        Returns:
            A Deferred that fires with the open `TwistedChannel`.
        """
        opened: defer.Deferred[TwistedChannel] = defer.Deferred()
        try:
            chan = self._impl.channel(
                channel_number, on_open_callback=lambda _chan: opened.callback(wrapper)
            )
        except Exception:
            return defer.fail()
        wrapper = TwistedChannel(chan)

        def closed_before_open(_chan: channel.Channel, reason: Exception) -> None:
            if not opened.called:
                opened.errback(reason)

        chan.add_on_close_callback(closed_before_open)
        return opened

    def close(
        self, reply_code: int = 200, reply_text: str = "Normal shutdown"
    ) -> defer.Deferred[Any] | None:
        """Close the connection; returns `closed`, or None if already closed.

        Args:
            reply_code: The reason code sent to the broker.
            reply_text: The reason text sent to the broker.

        Returns:
            The `closed` Deferred, or None if the connection is already closed.
        """
        if self._impl.is_closed:
            return None
        if not self._impl.is_closing:
            self._impl.close(reply_code, reply_text)
        return self.closed
