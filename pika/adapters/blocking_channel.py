"""`BlockingChannel`: Pika's synchronous channel over the callback `Channel`.

Every AMQP method here is the callback `Channel`'s method plus one generic
helper, `BlockingChannel._request`: it hands the callback layer a completion
callback, then turns the connection's loop until that callback has fired,
the channel has closed (raising `ChannelClosedByBroker`) or the connection
has gone (raising its `AMQPConnectionError`).

Messages for `basic_consume` consumers, returns and consumer cancellations
are queued on the connection's ready queue and dispatched from
`start_consuming`, `process_data_events` and friends (see
`pika.adapters.blocking_connection`); the `consume` generator keeps its own
queue.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from pika import exceptions, frame, spec, validation
from pika.adapters.blocking_confirms import DEFAULT_WINDOW, PipelinedPublisher, _ConfirmTracker
from pika.adapters.blocking_consume import ConsumeGenerator
from pika.adapters.blocking_consumers import (
    OnMessage,
    _ConsumerInfo,
    _Delivery,
    _delivery_sink,
    _QueueConsumerGeneratorInfo,
)
from pika.adapters.blocking_operations import BlockingOperations
from pika.adapters.blocking_wait import BOUNDED, DISPATCH, INTERRUPTIBLE, PLAIN, Turn
from pika.adapters.utils.closing_context import ClosingContext
from pika.callback_registrations import BlockingChannelRegistrations
from pika.channel import Channel
from pika.operations import Publication
from pika.wrapping import ReturnRouting

if TYPE_CHECKING:
    import pika.adapters.blocking_connection
    import pika.channel
    from pika.adapters.blocking_connection import BlockingConnection

__all__ = ["BlockingChannel"]

LOGGER = logging.getLogger(__name__)

_OnReturn = Callable[["BlockingChannel", spec.Basic.Return, spec.BasicProperties, bytes], Any]
_OnTooLarge = Callable[["BlockingChannel", exceptions.MessageTooLargeError], Any]


class _Reply:
    """Receives the callback layer's answer to one request (the first call wins)."""

    __slots__ = ("args", "done")

    def __init__(self) -> None:
        self.args: tuple[Any, ...] = ()
        self.done = False

    def __call__(self, *args: Any) -> None:
        if not self.done:
            self.args = args
            self.done = True


class BlockingChannel(
    BlockingOperations,
    BlockingChannelRegistrations,
    ReturnRouting,
    ConsumeGenerator,
    ClosingContext,
):
    """A channel whose methods block until the broker has answered.

    Create it with `BlockingConnection.channel`. A channel the broker closes
    (Channel.Close, e.g. 404 NOT_FOUND) raises `ChannelClosedByBroker` from
    the call that was waiting, or from the next call on the channel if no
    call was waiting; later calls raise `ChannelWrongStateError`.

    Args:
        channel_impl: The callback-API `pika.channel.Channel` this channel drives.
        connection: The `BlockingConnection` it belongs to.
    """

    def __init__(
        self,
        channel_impl: pika.channel.Channel,
        connection: pika.adapters.blocking_connection.BlockingConnection,
    ) -> None:
        self._impl = channel_impl
        self._connection = connection
        #: consumer tag -> `basic_consume` consumer (see `blocking_consumers`)
        self._consumer_infos: dict[str, _ConsumerInfo] = {}
        self._generator: _QueueConsumerGeneratorInfo | None = None
        self._return_callbacks: list[_OnReturn] = []
        self._too_large_callbacks: list[_OnTooLarge] = []
        self._get_waiting: _Reply | None = None
        self._cancel_callbacks: list[Callable[[frame.Method], Any]] = []
        self._confirms: _ConfirmTracker | None = None
        self._publisher: PipelinedPublisher | None = None
        self._close_reason: BaseException | None = None
        self._close_reported = False
        channel_impl.add_on_close_callback(self._on_impl_closed)
        channel_impl.add_on_return_callback(self._on_impl_return)
        channel_impl.add_on_cancel_callback(self._on_impl_cancel)
        channel_impl.add_on_message_too_large_callback(self._on_impl_too_large)

    def __repr__(self) -> str:
        return f"<BlockingChannel impl={self._impl!r}>"

    def __int__(self) -> int:
        return self.channel_number

    def _on_block_exit(self, raised: bool) -> None:
        if self.is_open:
            self.close()

    # ------------------------------------------------------------ properties

    @property
    def connection(self) -> BlockingConnection:
        """The `BlockingConnection` this channel belongs to."""
        return self._connection

    @property
    def consumer_tags(self) -> list[str]:
        """Tags of this channel's active consumers (the consume generator's too)."""
        tags = list(self._consumer_infos)
        generator = self._generator
        if generator is not None and not generator.cancelled:
            tags.append(generator.consumer_tag)
        return tags

    # ------------------------------------------------------------ waiting

    def _entry_check(self) -> None:
        """Raise a connection or broker channel close no call has reported yet."""
        self._connection._raise_unreported()
        reason = self._close_reason
        if (
            reason is not None
            and not self._close_reported
            and isinstance(reason, exceptions.ChannelClosedByBroker)
        ):
            self._close_reported = True
            raise reason

    def _raise_closed(self) -> NoReturn:
        """Raise why this (closed) channel is closed."""
        self._connection._ended()
        self._close_reported = True
        reason = self._close_reason
        if reason is None:
            reason = exceptions.ChannelWrongStateError(f"channel {self.channel_number} is closed")
        raise reason

    def _wait(
        self, done: Callable[[], Any], timeout: float | None = None, how: Turn = PLAIN
    ) -> bool:
        """Turn the loop until ``done()``; False if ``timeout`` passed first.

        Raises the connection's error if it ends, and the close reason if the
        broker closes this channel meanwhile; ``how`` is
        `BlockingConnection._run`'s.
        """
        impl = self._impl
        self._connection._run(lambda: done() or impl.is_closed, timeout, how)
        if impl.is_closed and not isinstance(self._close_reason, exceptions.ChannelClosedByClient):
            self._raise_closed()
        return bool(done())

    def _request(
        self, start: Callable[[_Reply], Any], reply: _Reply | None = None
    ) -> tuple[Any, ...]:
        """The one "send and wait for the reply" helper: ``start(reply)``
        sends a request through the callback layer with ``reply`` as its
        completion callback; returns the arguments ``reply`` got."""
        self._entry_check()
        self._settle()
        waiting = reply if reply is not None else _Reply()
        start(waiting)
        if not self._wait(lambda: waiting.done, how=INTERRUPTIBLE):
            self._raise_closed()
        return waiting.args

    def _settle(self) -> None:
        """If the connection is recovering, wait for the recovery to end."""
        connection = self._connection
        if connection._recovering:
            connection._await_recovery()

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a callback-layer method with ``callback=`` and return its reply."""
        return self._request(lambda reply: method(*args, callback=reply, **kwargs))[0]

    def _hand_over(self, method: Callable[..., Any], *args: Any) -> None:
        """Call a callback-layer method that sends a frame without a reply."""
        if self._connection._recovering:
            self._connection._await_recovery()
        try:
            method(*args)
        except (exceptions.ChannelWrongStateError, exceptions.ConnectionWrongStateError):
            # Refused: an unreported close is the better reason to give.
            self._entry_check()
            raise

    def _send(self, method: Callable[..., Any], *args: Any) -> None:
        """`_hand_over`, then `_sent` (written out: the path of every publish
        and ack)."""
        connection = self._connection
        if connection._recovering:
            connection._await_recovery()
        try:
            method(*args)
        except (exceptions.ChannelWrongStateError, exceptions.ConnectionWrongStateError):
            self._entry_check()
            raise
        connection._flush_output()
        if self._close_reason is not None:
            self._entry_check()

    def _sent(self) -> None:
        """A frame without a reply was queued: write it, see a close it hit."""
        self._connection._flush_output()
        if self._close_reason is not None:
            self._entry_check()

    # ------------------------------------------------ callback-layer events

    def _on_impl_closed(self, _impl: Channel, reason: BaseException) -> None:
        self._close_reason = reason
        dropped = self._take_deliveries(None)
        lost = sum(1 for item in dropped if item.info.auto_ack)
        self._consumer_infos = {}
        generator = self._generator
        if generator is not None:
            if generator.auto_ack:
                lost += len(generator.pending_events)
            generator.pending_events.clear()
            if isinstance(reason, exceptions.ChannelClosedByClient):
                generator.cancelled = True
        if lost:
            LOGGER.warning(
                "channel %d closed (%r) before %d auto-ack messages were dispatched",
                self.channel_number,
                reason,
                lost,
            )

    def _drop_stale_generator_messages(self) -> int:
        """The connection broke: forget the consume generator's unyielded
        messages if they need acks (the broker requeues them); how many."""
        generator = self._generator
        if generator is None or generator.auto_ack:
            return 0
        count = len(generator.pending_events)
        generator.pending_events.clear()
        return count

    def _dispatch_return(
        self, method: spec.Basic.Return, properties: spec.BasicProperties, body: bytes
    ) -> None:
        ready = self._connection._ready
        for callback in self._return_callbacks:
            ready.append(functools.partial(callback, self, method, properties, body))

    def _on_impl_cancel(self, method_frame: frame.Method) -> None:
        """The broker cancelled a consumer: the consume generator ends once
        drained; a `basic_consume` consumer is dropped when the notice is
        dispatched, after the messages that arrived before it."""
        tag = str(method_frame.method.consumer_tag)
        generator = self._generator
        if generator is not None and generator.consumer_tag == tag:
            generator.cancelled = True
        self._connection._ready.append(
            functools.partial(self._consumer_cancelled, tag, method_frame)
        )

    def _consumer_cancelled(self, tag: str, method_frame: frame.Method) -> None:
        self._consumer_infos.pop(tag, None)
        for callback in list(self._cancel_callbacks):
            callback(method_frame)

    def _take_deliveries(self, consumer_tag: str | None) -> list[_Delivery]:
        """Remove this channel's undispatched deliveries (for one consumer
        tag, or all) from the ready queue and return them."""
        ready = self._connection._ready
        taken: list[_Delivery] = []
        kept: list[Callable[[], Any]] = []
        for item in ready:
            if (
                type(item) is _Delivery
                and item.channel is self
                and (consumer_tag is None or item.method.consumer_tag == consumer_tag)
            ):
                taken.append(item)
            else:
                kept.append(item)
        if taken:
            ready.clear()
            ready.extend(kept)
        return taken

    # ------------------------------------------------------------ callbacks

    def _on_impl_too_large(self, _impl: Channel, error: exceptions.MessageTooLargeError) -> None:
        method = error.method
        generator = self._generator
        if type(method) is spec.Basic.GetOk:
            if self._get_waiting is not None:
                self._get_waiting(error)
        elif generator is not None and generator.on_message is self._impl._consumers.get(
            getattr(method, "consumer_tag", "")
        ):
            generator.pending_events.append(error)
        else:
            self._connection._ready.append(functools.partial(self._report_too_large, error))

    def _report_too_large(self, error: exceptions.MessageTooLargeError) -> None:
        if not self._too_large_callbacks:
            raise error
        for callback in list(self._too_large_callbacks):
            callback(self, error)

    # ---------------------------------------------------------------- close

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Close the channel and wait for the broker's Close-Ok; undispatched
        messages of its consumers are dropped (the broker requeues unacked ones)."""
        impl = self._impl
        impl.close(reply_code, reply_text)
        self._connection._run(lambda: impl.is_closed)

    # ---------------------------------------------------------------- basic

    def _publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None,
        mandatory: bool,
        block_on_flow_control: bool,
        flow_control_timeout: float | None,
    ) -> None:
        # The work of basic_publish (generated from pika.operations, documented there).
        if block_on_flow_control:
            self._await_flow(flow_control_timeout)
        tracker = self._confirms
        if tracker is None:
            self._send(self._impl.basic_publish, exchange, routing_key, body, properties, mandatory)
            return
        if self._publisher is not None:
            raise exceptions.ChannelWrongStateError(
                f"channel {self.channel_number} has an open PipelinedPublisher; publish "
                "through it, or close it first"
            )
        tag = self._send_confirmed(tracker, (exchange, routing_key, body, properties, mandatory))
        unconfirmed = tracker.unconfirmed
        self._wait(lambda: tag not in unconfirmed, how=BOUNDED)
        tracker.raise_failures()

    def _await_flow(self, timeout: float | None) -> None:
        """Wait until the broker allows publishing on this channel."""
        validation.require_timeout(timeout, "flow_control_timeout")
        impl = self._impl
        if impl.flow_active:
            return
        self._entry_check()
        if not self._wait(lambda: impl.flow_active, timeout, BOUNDED):
            if impl.is_closed or timeout is None:
                self._raise_closed()
            raise exceptions.FlowControlTimeout(
                f"channel {self.channel_number}: the broker did not resume the flow "
                f"(Channel.Flow) within {timeout:g} s; the message was not sent"
            )

    def _send_confirmed(self, tracker: _ConfirmTracker, publication: Publication) -> int:
        """Publish on a confirm-mode channel and record it; returns its tag."""
        self._hand_over(self._impl.basic_publish, *publication)
        tag = tracker.record(publication)
        self._sent()
        return tag

    def publisher(self, window: int = DEFAULT_WINDOW) -> PipelinedPublisher:
        """A publisher keeping up to ``window`` confirm-awaiting messages in
        flight (turns confirm mode on). See `PipelinedPublisher`.

        Args:
            window: Most messages awaiting their confirm at once (1 or more).

        Returns:
            The `PipelinedPublisher`; use it as a context manager.

        Raises:
            ValueError: ``window`` is not an int of 1 or more.
            ChannelWrongStateError: The channel already has an open publisher.
        """
        validation.require_window(window)
        if self._publisher is not None:
            raise exceptions.ChannelWrongStateError(
                f"channel {self.channel_number} already has an open PipelinedPublisher"
            )
        self.confirm_delivery()
        tracker = self._confirms
        assert tracker is not None
        self._publisher = PipelinedPublisher(self, tracker, window)
        return self._publisher

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge one message (or, with ``multiple``, every one up to
        ``delivery_tag``; 0 with ``multiple`` means all)."""
        self._send(self._impl.basic_ack, delivery_tag, multiple)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (with ``multiple``) several messages, requeueing
        them unless ``requeue`` is False."""
        self._send(self._impl.basic_nack, delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one message, requeueing it unless ``requeue`` is False."""
        self._send(self._impl.basic_reject, delivery_tag, requeue)

    def basic_get(
        self, queue: str, auto_ack: bool = False
    ) -> tuple[spec.Basic.GetOk | None, spec.BasicProperties | None, bytes | None]:
        """Fetch one message: ``(method, properties, body)``, or
        ``(None, None, None)`` when the queue is empty."""
        reply = _Reply()
        impl = self._impl

        def start(done: _Reply) -> None:
            impl.basic_get(queue, done, auto_ack)
            impl.add_callback(done, [spec.Basic.GetEmpty])
            self._get_waiting = done

        try:
            args = self._request(start, reply)
        finally:
            self._get_waiting = None
        if len(args) == 1:
            if isinstance(args[0], exceptions.MessageTooLargeError):
                impl.remove_callback(reply, [spec.Basic.GetEmpty])
                raise args[0]
            return None, None, None
        impl.remove_callback(reply, [spec.Basic.GetEmpty])
        _impl, method, properties, body = args
        return method, properties, body

    def basic_consume(
        self,
        queue: str,
        on_message_callback: OnMessage,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> str:
        """Start a consumer; returns its tag. Each message goes to
        ``on_message_callback(channel, method, properties, body)``, called
        from `start_consuming` (or `process_data_events`, `sleep`)."""
        validation.require_callable(on_message_callback, "on_message_callback")
        info = _ConsumerInfo("", on_message_callback, auto_ack)
        on_message = _delivery_sink(self, info)
        tag = self._start_consumer(queue, on_message, auto_ack, exclusive, consumer_tag, arguments)
        info.consumer_tag = tag
        self._consumer_infos[tag] = info
        return tag

    def basic_cancel(
        self, consumer_tag: str
    ) -> list[tuple[spec.Basic.Deliver, spec.BasicProperties, bytes]]:
        """Cancel a `basic_consume` consumer and wait for the broker's CancelOk.

        Messages that had arrived for it but were not dispatched yet are
        returned as ``(method, properties, body)`` for an auto-ack consumer
        (they were acknowledged already); for a manually acknowledged
        consumer they are rejected with requeue and ``[]`` is returned.
        """
        self._entry_check()
        self._settle()
        generator = self._generator
        if generator is not None and generator.consumer_tag == consumer_tag:
            unsent = generator.messages() if generator.auto_ack else []
            self.cancel()
            return unsent
        if consumer_tag not in self._consumer_infos:
            return []
        if self._impl.is_open:
            self._call(self._impl.basic_cancel, consumer_tag)
        info = self._consumer_infos.pop(consumer_tag, None)
        pending = self._take_deliveries(consumer_tag)
        if info is not None and info.auto_ack:
            return [(item.method, item.properties, item.body) for item in pending]
        if pending and self._impl.is_open:
            for item in pending:
                self._impl.basic_reject(item.method.delivery_tag or 0, requeue=True)
            self._sent()
        return []

    def start_consuming(self) -> None:
        """Dispatch messages to the `basic_consume` consumers (and every
        other ready callback) until all of this channel's consumers are
        cancelled, e.g. by `stop_consuming`.

        Raises ReentrancyError if called from inside a callback, the close
        reason if the broker closes the channel, and the connection's error
        if it is lost.
        """
        if self._connection._dispatch_depth:
            raise exceptions.ReentrancyError(
                "start_consuming() may not be called from inside a BlockingConnection "
                "or BlockingChannel callback"
            )
        self._entry_check()
        while self._consumer_infos:
            self._wait(self._no_consumers, how=DISPATCH)

    def _no_consumers(self) -> bool:
        return not self._consumer_infos

    def stop_consuming(self, consumer_tag: str | None = None) -> None:
        """Cancel one consumer, or all of this channel's `basic_consume`
        consumers, which ends `start_consuming`. Safe from inside a consumer
        callback, and from another thread through
        `BlockingConnection.add_callback_threadsafe`.

        Args:
            consumer_tag: The consumer to cancel; None for every consumer of the channel.
        """
        if consumer_tag is not None:
            self.basic_cancel(consumer_tag)
            return
        for tag in list(self._consumer_infos):
            self.basic_cancel(tag)

    def confirm_delivery(self) -> None:
        """Turn publisher confirms on: from now on `basic_publish` waits for
        each message's confirm (see there). Calling it again does nothing."""
        if self._confirms is not None:
            self._entry_check()
            return
        tracker = _ConfirmTracker()
        self._call(self._impl.confirm_delivery, tracker.on_ack_nack)
        self._confirms = tracker

    def flow(self, active: bool) -> bool:
        """Ask the broker to pause (False) or resume (True) deliveries;
        returns the state it confirmed."""
        return bool(self._call(self._impl.flow, active))
