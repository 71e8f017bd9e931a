"""Pika's callback `Channel`, a thin layer over the engine.

Each AMQP operation is declared once here. Synchronous requests are
pipelined: a request goes out at once and its ``(reply classes, callback)``
is queued; a reply goes to the oldest request expecting its class (RabbitMQ
may answer a Basic.Consume after later requests of the same channel).

Exceptions raised by user callbacks propagate to whoever runs the I/O loop;
the channel's state is updated before any callback runs, so the channel stays
usable and the next loop iteration carries on with the frames that follow.
"""

from __future__ import annotations

import collections
import logging
import uuid
from typing import TYPE_CHECKING, Any, Callable, Optional

from pika import amqp_object, exceptions, frame, spec, telemetry, validation
from pika.callbacks import call_each
from pika.channel_callbacks import (
    ChannelCallbacks,
    OnCancelCallback,
    OnCloseCallback,
    OnFlowCallback,
    OnReturnCallback,
    OnTooLargeCallback,
)
from pika.channel_operations import ChannelOperations
from pika.channel_recovery import ChannelRecovery
from pika.content_assembler import ContentFrameAssembler
from pika.operations import BY_NAME as _OPERATIONS
from pika.recovery import ConfirmNumbering, TopologyRecord
from pika.states import ChannelState

if TYPE_CHECKING:
    import pika.connection
    from pika.engine import events

__all__ = ["MAX_CHANNELS", "Channel", "ContentFrameAssembler"]

LOGGER = logging.getLogger(__name__)

MAX_CHANNELS = 65535

_OnOpenCallback = Callable[["Channel"], Any]
_OnMessageCallback = Callable[["Channel", spec.Basic.Deliver, spec.BasicProperties, bytes], Any]
_OnBasicGetCallback = Callable[["Channel", spec.Basic.GetOk, spec.BasicProperties, bytes], Any]
_OnAckNackCallback = Callable[[frame.Method], Any]
_MethodCallback = Optional[Callable[[frame.Method], Any]]

#: A request waiting for its reply: the reply classes, the handler, for
#: Basic.Consume/Cancel the consumer tag the reply must carry, and what an
#: observer's ``on_request`` returned (`pika.telemetry`; None when none).
_PendingReply = tuple[tuple[type, ...], Optional[Callable[..., Any]], Optional[str], Any]


class Channel(ChannelOperations, ChannelCallbacks, ChannelRecovery):
    """An AMQP channel with Pika's callback interface.

    The request/reply operations (``exchange_*``, ``queue_*``,
    ``basic_qos``, ``basic_recover``, ``tx_*``) come from
    `pika.channel_operations`, generated from `pika.operations`; each
    reaches `_operate`. What is the callback channel's own (publishing,
    consuming, acknowledgements, confirms, events, recovery) is here.

    Args:
        connection: The `pika.connection.Connection` the channel belongs to.
        channel_number: Its number on the connection (1 to ``channel_max``).
        on_open_callback: Called as ``on_open_callback(channel)`` once the broker has opened it.

    Raises:
        InvalidChannelNumber: ``channel_number`` is out of range.
    """

    CLOSED = ChannelState.CLOSED
    OPENING = ChannelState.OPENING
    OPEN = ChannelState.OPEN
    CLOSING = ChannelState.CLOSING

    def __init__(
        self,
        connection: pika.connection.Connection,
        channel_number: int,
        on_open_callback: _OnOpenCallback | None,
    ) -> None:
        if not isinstance(channel_number, int) or isinstance(channel_number, bool):
            raise exceptions.InvalidChannelNumber(
                f"channel number must be an int: {channel_number!r}"
            )
        self.connection = connection
        self.channel_number = channel_number
        self._state = ChannelState.CLOSED
        self._on_open_callback = on_open_callback
        self._replies: collections.deque[_PendingReply] = collections.deque()
        self._registered: dict[type, list[tuple[Callable[..., Any], bool]]] = {}
        self._consumers: dict[str, _OnMessageCallback] = {}
        self._auto_ack: dict[str, bool] = {}
        self._cancelled: dict[str, bool] = {}
        self._on_close: list[OnCloseCallback] = []
        self._on_cancel: list[OnCancelCallback] = []
        self._on_flow: list[OnFlowCallback] = []
        self._on_return: list[OnReturnCallback] = []
        self._on_too_large: list[OnTooLargeCallback] = []
        self._on_ack_nack: _OnAckNackCallback | None = None
        self._close_after_open: tuple[int, str] | None = None
        self._closing_reason: tuple[int, str] = (0, "")
        self.flow_active = True
        self._confirming = False
        self._publish_seq = 0
        # What recovery must reapply on a new connection.
        self._qos: dict[bool, tuple[int, int]] = {}
        self._tx = False
        self._consumer_specs: dict[str, tuple[str, bool, bool, dict[str, Any]]] = {}
        # Delivery tags the application saw before the last recovery are
        # <= _tag_offset; the broker numbers deliveries from 1 again.
        self._tag_offset = 0
        self._max_tag = 0
        #: Acks, nacks and rejects dropped because their delivery tag came
        #: from before a connection recovery (sending them would close the
        #: channel with 406 PRECONDITION_FAILED).
        self.stale_tags_dropped = 0
        # Confirm numbering across recoveries (None until the first one,
        # unless publishes are kept for republishing).
        self._confirmed: ConfirmNumbering | None = None
        self._keep_unconfirmed = False
        self._engine = connection._engine

    def __repr__(self) -> str:
        state = self._state.name
        return f"<Channel number={self.channel_number} {state} conn={self.connection!r}>"

    def __int__(self) -> int:
        return self.channel_number

    # ----------------------------------------------------------------- state

    @property
    def is_closed(self) -> bool:
        """True once the channel is closed."""
        return self._state == self.CLOSED

    @property
    def is_closing(self) -> bool:
        """True while the channel is closing."""
        return self._state == self.CLOSING

    @property
    def is_open(self) -> bool:
        """True while the channel is open."""
        return self._state == self.OPEN

    @property
    def is_opening(self) -> bool:
        """True while the channel is opening (or reopening during a recovery)."""
        return self._state.is_opening

    @property
    def is_recovering(self) -> bool:
        """Whether a connection recovery is restoring this channel (it is
        then opening, to the application)."""
        return self._state.is_recovering

    @property
    def consumer_tags(self) -> list[str]:
        """The tags of the channel's active consumers."""
        return list(self._consumers)

    @property
    def next_publish_seq_no(self) -> int:
        """The delivery tag the broker will confirm the next publish with."""
        return self._publish_seq + 1

    def open(self) -> None:
        """Send Channel.Open; done by `Connection.channel`."""
        self._engine = self.connection._engine
        self._engine.open_channel(self.channel_number)
        self._state = self.OPENING
        self.connection._output_ready()

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Close the channel; close callbacks get ChannelClosedByClient."""
        if self._state in (self.CLOSED, self.CLOSING):
            raise exceptions.ChannelWrongStateError(
                f"channel {self.channel_number} is already "
                f"{'closed' if self._state == self.CLOSED else 'closing'}"
            )
        if self._state is ChannelState.REOPENED:
            # Open again on the broker, not yet for the application.
            self._begin_close(reply_code, reply_text)
            return
        if self._state is ChannelState.RECOVERING:
            # Nothing on the broker to close: closed at once.
            self._close_after_open = (reply_code, reply_text)
            self._closed_with_connection()
            return
        if self._state.is_opening:
            self._close_after_open = (reply_code, reply_text)
            self._state = self.CLOSING
            return
        self._begin_close(reply_code, reply_text)

    def _begin_close(self, reply_code: int, reply_text: str) -> None:
        self._state = self.CLOSING
        self._closing_reason = (reply_code, reply_text)
        self._engine.close_channel(self.channel_number, reply_code, reply_text)
        self.connection._output_ready()

    # -------------------------------------------------------------- sending

    def _require_open(self) -> None:
        if self._state != self.OPEN:
            state = "opening" if self._state.is_opening else self._state.name.lower()
            raise exceptions.ChannelWrongStateError(f"channel {self.channel_number} is {state}")

    def _send(self, method: amqp_object.Method) -> None:
        self._require_open()
        self._engine.send_method(self.channel_number, method)
        self.connection._output_ready()

    def _operate(self, name: str, callback: _MethodCallback, *args: Any) -> None:
        """Send the table's operation ``name`` (see `pika.operations`) with
        ``args``, its parameters in order; ``callback(reply)`` on the reply.

        Without a callback, operations that allow it go with nowait.
        """
        operation = _OPERATIONS[name]
        validation.require_callable(callback, "callback", optional=True)
        method = operation.request(args, callback is not None)
        nowait = bool(getattr(method, "nowait", False))
        self._rpc(method, callback, nowait=nowait, recorded=operation.recorded)
        self._remember_mode(method)

    def _remember_mode(self, method: amqp_object.Method) -> None:
        """Note the QoS and tx mode a recovery must reapply."""
        if type(method) is spec.Basic.Qos:
            self._qos[bool(method.global_qos)] = (method.prefetch_size, method.prefetch_count)
        elif type(method) is spec.Tx.Select:
            self._tx = True

    def _rpc(
        self,
        method: amqp_object.Method,
        callback: Callable[..., Any] | None,
        nowait: bool = False,
        recorded: bool = False,
        internal: bool = False,
    ) -> None:
        """Send a synchronous method and queue the handler of its reply.

        ``recorded``: note the change in the connection's topology record
        (when recovery is on) once the broker confirmed it, or at once for
        nowait. ``internal`` requests come from the recovery, which sends
        on channels that the application cannot use yet.
        """
        validation.require_callable(callback, "callback", optional=True)
        if internal:
            self._engine.send_method(self.channel_number, method)
            self.connection._output_ready()
        else:
            self._send(method)
        recovery = self.connection._recovery
        if recorded and recovery is not None:
            topology = recovery.topology
            if nowait:
                topology.apply(method)
            else:
                callback = _recording(method, topology, callback)
        if not nowait:
            tag = getattr(method, "consumer_tag", None) if type(method) in _TAGGED else None
            observer = telemetry.observer
            timing = None if observer is None else observer.on_request(self, method)
            self._replies.append((spec.REPLIES[type(method)], callback, tag, timing))

    # ---------------------------------------------------------------- basic

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: validation.Body,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None:
        """Publish a message; a str body is sent as UTF-8."""
        if self._state is not _OPEN:
            self._require_open()
        if not self.flow_active:
            raise exceptions.ContentTransmissionForbidden(
                f"channel {self.channel_number}: the broker paused publishing with Channel.Flow"
            )
        data = body if type(body) is bytes else validation.message_body(body)
        if properties is not None and type(properties) is not spec.BasicProperties:
            validation.require_properties(properties)
        observer = telemetry.observer
        if observer is not None:
            properties = observer.on_publish(
                telemetry.ObservedPublish(self, exchange, routing_key, data, properties)
            )
        self._engine.publish(
            self.channel_number, exchange, routing_key, data, properties, mandatory
        )
        if self._confirming:
            self._publish_seq += 1
            if self._keep_unconfirmed:
                # A copy: the application may reuse a bytearray it published.
                kept = data if isinstance(data, bytes) else bytes(data)
                self._confirmed.keep(  # type: ignore[union-attr]
                    self._publish_seq, (exchange, routing_key, kept, properties, mandatory)
                )
        connection = self.connection
        if not connection._caller_flushes:  # the blocking surface writes it itself
            connection._output_ready()

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        if self._tag_offset:
            delivery_tag = self._broker_tag(delivery_tag, "basic_ack")
            if delivery_tag < 0:
                return
        if self._state is not _OPEN or telemetry.observer is not None:
            self._acknowledge(_ACK, delivery_tag, 1 if multiple else 0)
            return
        # `_acknowledge` written out for the one settlement of most messages.
        self._engine.acknowledge(self.channel_number, _ACK, delivery_tag, 1 if multiple else 0)
        connection = self.connection
        if not connection._caller_flushes:  # the blocking surface writes it itself
            connection._output_ready()

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        self._engine.dialect.require(spec.Basic.Nack, "basic_nack")
        if self._tag_offset:
            delivery_tag = self._broker_tag(delivery_tag, "basic_nack")
            if delivery_tag < 0:
                return
        self._acknowledge(_NACK, delivery_tag, (1 if multiple else 0) | (2 if requeue else 0))

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        validation.require_delivery_tag(delivery_tag)
        if self._tag_offset:
            delivery_tag = self._broker_tag(delivery_tag, "basic_reject")
            if delivery_tag < 0:
                return
        self._acknowledge(_REJECT, delivery_tag, 1 if requeue else 0)

    def _acknowledge(self, method_index: int, delivery_tag: int, flags: int) -> None:
        if self._state != self.OPEN:
            self._require_open()
        self._engine.acknowledge(self.channel_number, method_index, delivery_tag, flags)
        if telemetry.observer is not None:
            telemetry.observer.on_settle(self, method_index, delivery_tag, flags)
        self.connection._output_ready()

    def is_stale_delivery_tag(self, delivery_tag: int) -> bool:
        """Whether ``delivery_tag`` came from before a connection recovery
        (acks, nacks and rejects of such tags are dropped, not sent).

        Args:
            delivery_tag: A delivery tag of this channel.

        Returns:
            True for a tag from before the last recovery.
        """
        return 0 < delivery_tag <= self._tag_offset

    def _broker_tag(self, delivery_tag: int, what: str) -> int:
        """The broker's number for an application delivery tag, or -1 for a
        tag from before the last recovery (dropped and counted)."""
        if delivery_tag == 0:
            return 0
        if delivery_tag <= self._tag_offset:
            self.stale_tags_dropped += 1
            LOGGER.info(
                "channel %d: %s(%d) dropped: the delivery predates the connection "
                "recovery and the broker has requeued it",
                self.channel_number,
                what,
                delivery_tag,
            )
            return -1
        return delivery_tag - self._tag_offset

    def basic_consume(
        self,
        queue: str,
        on_message_callback: _OnMessageCallback,
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> str:
        """Start a consumer; returns its tag. Messages go to
        ``on_message_callback(channel, method, properties, body)``."""
        validation.require_str(queue, "queue")
        validation.require_callable(on_message_callback, "on_message_callback")
        self._require_open()
        if consumer_tag is None:
            consumer_tag = f"ctag{self.channel_number}.{uuid.uuid4().hex}"
        if consumer_tag in self._consumers or consumer_tag in self._cancelled:
            raise exceptions.DuplicateConsumerTag(consumer_tag)
        self._engine.dialect.check(spec.Basic.Consume(arguments=arguments))
        validation.require_callable(callback, "callback", optional=True)
        tag = consumer_tag
        self._consumer_specs[tag] = (queue, auto_ack, exclusive, dict(arguments or {}))
        self._consume(tag, callback)
        self._consumers[tag] = on_message_callback
        self._auto_ack[tag] = auto_ack
        return consumer_tag

    def basic_cancel(self, consumer_tag: str = "", callback: _MethodCallback = None) -> None:
        """Cancel a consumer; without ``callback`` the request is nowait."""
        self._require_open()
        if consumer_tag in self._cancelled:
            self._cancel_again(consumer_tag, callback)
            return
        if consumer_tag not in self._consumers:
            LOGGER.debug(
                "basic_cancel: no consumer %r on channel %d", consumer_tag, self.channel_number
            )
            if callback is not None:
                callback(frame.Method(self.channel_number, spec.Basic.CancelOk(consumer_tag)))
            return
        nowait = callback is None
        self._rpc(
            spec.Basic.Cancel(consumer_tag, nowait),
            callback,
            nowait=nowait,
            recorded=True,
        )
        self._cancelled[consumer_tag] = self._auto_ack.pop(consumer_tag, False)
        del self._consumers[consumer_tag]
        self._consumer_specs.pop(consumer_tag, None)
        if nowait:
            self._cancelled.pop(consumer_tag, None)

    def _cancel_again(self, consumer_tag: str, callback: _MethodCallback) -> None:
        """`basic_cancel` of a consumer whose cancel is in flight: with a
        ``callback``, send Basic.Cancel again (RabbitMQ answers it, known tag
        or not) so that the callback hears its own Basic.CancelOk."""
        if callback is not None:
            self._rpc(spec.Basic.Cancel(consumer_tag, False), callback)

    def basic_get(self, queue: str, callback: _OnBasicGetCallback, auto_ack: bool = False) -> None:
        """Fetch one message: ``callback(channel, method, properties, body)``
        on Basic.GetOk. Basic.GetEmpty reaches callbacks registered with
        ``add_callback(..., [spec.Basic.GetEmpty])``."""
        validation.require_str(queue, "queue")
        validation.require_callable(callback, "callback")
        self._rpc(spec.Basic.Get(queue=queue, no_ack=auto_ack), _GetReply(callback, auto_ack))

    def confirm_delivery(
        self, ack_nack_callback: _OnAckNackCallback, callback: _MethodCallback = None
    ) -> None:
        """Turn on publisher confirms; Basic.Ack/Nack go to ``ack_nack_callback``."""
        validation.require_callable(ack_nack_callback, "ack_nack_callback")
        self._engine.dialect.require(spec.Confirm.Select, "confirm_delivery")
        if not self.connection.publisher_confirms:
            raise exceptions.MethodNotImplemented("the broker does not support publisher confirms")
        nowait = callback is None
        self._rpc(spec.Confirm.Select(nowait), callback, nowait=nowait)
        self._on_ack_nack = ack_nack_callback
        self._confirming = True
        recovery = self.connection._recovery
        if recovery is not None:
            self._confirmed = ConfirmNumbering()
            self._keep_unconfirmed = recovery.policy.republish_unconfirmed

    def flow(self, active: bool, callback: OnFlowCallback | None = None) -> None:
        """Ask the broker to pause or resume deliveries; ``callback(active)``."""
        validation.require_callable(callback, "callback", optional=True)
        wrapped = None if callback is None else (lambda reply: callback(reply.method.active))
        self._rpc(spec.Channel.Flow(active), wrapped)

    # ------------------------------------------------------ engine events in

    def _on_opened(self) -> None:
        recovery = self.connection._recovery
        if self._close_after_open is not None:
            self._state = self.OPEN
            code, text = self._close_after_open
            self._close_after_open = None
            self._begin_close(code, text)
            if recovery is not None and recovery.active:
                # Perhaps closed by the application while it was reopened.
                recovery.channel_reopened(self)
            return
        if self._state is ChannelState.REOPENING:
            # Reopened by a recovery: it stays opening for the application
            # until the recovery is over (see `recovery_finished`).
            self._state = ChannelState.REOPENED
            self._reapply_modes()
            if recovery is not None:
                recovery.channel_reopened(self)
            return
        self._state = self.OPEN
        callback = self._on_open_callback
        self._on_open_callback = None
        if callback is not None:
            callback(self)

    def _on_content(
        self, method: amqp_object.Method, properties: spec.BasicProperties, body: bytes
    ) -> None:
        if type(method) is _DELIVER:
            # The broker numbers a channel's deliveries in increasing order.
            if self._tag_offset:
                method.delivery_tag += self._tag_offset
            self._max_tag = method.delivery_tag
            consumer = self._consumers.get(method.consumer_tag)
            if consumer is None:
                self._orphan_delivery(method)
            elif telemetry.observer is None:
                consumer(self, method, properties, body)
            else:
                observed = telemetry.ObservedMessage(self, method, properties, body)
                telemetry.observer.on_deliver(observed, consumer)
        elif type(method) is spec.Basic.Return:
            if not self._on_return:
                LOGGER.warning(
                    "channel %d: message returned by the broker (%s %s) and no "
                    "on_return callback is registered",
                    self.channel_number,
                    method.reply_code,
                    method.reply_text,
                )
            if telemetry.observer is not None:
                telemetry.observer.on_return(
                    telemetry.ObservedMessage(self, method, properties, body)
                )
            call_each(self._on_return, self, method, properties, body)
        else:
            if type(method) is spec.Basic.GetOk:
                self._number_delivery(method)
                if telemetry.observer is not None:
                    telemetry.observer.on_get(
                        telemetry.ObservedMessage(self, method, properties, body)
                    )
            callback = self._pop_reply(method)
            if callback is not None:
                callback(self, method, properties, body)

    def _number_delivery(self, method: spec.Basic.Deliver | spec.Basic.GetOk) -> None:
        """Number a delivery after those seen before the last recovery (the
        broker numbers a channel's deliveries in increasing order from 1;
        `_on_content` does the same inline for Basic.Deliver)."""
        if self._tag_offset:
            method.delivery_tag += self._tag_offset
        self._max_tag = method.delivery_tag

    def _on_content_too_large(self, event: events.ContentTooLarge) -> None:
        """A message over ``max_message_size`` whose body the engine
        discarded: settle it and report a `MessageTooLargeError`.

        A Basic.Deliver to a manually acknowledging consumer (or to one the
        channel does not know, whose deliveries are otherwise requeued) and
        the Basic.GetOk of a manual `basic_get` are rejected with
        ``requeue=False``, so a dead-letter exchange receives them; the
        GetOk also answers its `basic_get`, whose callback does not run.
        """
        method = event.method
        needs_ack = False
        tag = 0
        if isinstance(method, spec.Basic.Deliver):
            self._number_delivery(method)
            tag = method.delivery_tag
            consumer = str(method.consumer_tag)
            needs_ack = not self._auto_ack.get(consumer, self._cancelled.get(consumer, False))
        elif isinstance(method, spec.Basic.GetOk):
            self._number_delivery(method)
            tag = method.delivery_tag
            handler = self._pop_reply(method)
            needs_ack = not (isinstance(handler, _GetReply) and handler.auto_ack)
        rejected = needs_ack and self.is_open
        if rejected:
            self.basic_reject(tag, requeue=False)
        error = exceptions.MessageTooLargeError(
            self.channel_number,
            method,
            event.properties,
            event.body_size,
            self.connection.params.max_message_size,
            rejected,
        )
        if not self._on_too_large:
            raise error
        call_each(self._on_too_large, self, error)

    def _orphan_delivery(self, method: spec.Basic.Deliver) -> None:
        tag = str(method.consumer_tag)
        if self._cancelled.get(tag, False):
            LOGGER.warning(
                "channel %d: auto-ack delivery %s for cancelled consumer %r dropped",
                self.channel_number,
                method.delivery_tag,
                tag,
            )
            return
        LOGGER.debug(
            "channel %d: requeueing delivery for unknown consumer %r", self.channel_number, tag
        )
        self.basic_reject(method.delivery_tag or 0, requeue=True)

    def _on_method(self, method: amqp_object.Method) -> None:
        method_type = type(method)
        if method_type is spec.Basic.Ack or method_type is spec.Basic.Nack:
            confirmed = self._confirmed
            if confirmed is not None:
                for app_method in confirmed.translate(method):  # type: ignore[arg-type]
                    self._report_confirm(app_method)
            else:
                self._report_confirm(method)
            return
        if method_type is spec.Basic.Cancel:
            self._on_broker_cancel(method)  # type: ignore[arg-type]
            return
        if method_type is spec.Channel.Flow:
            self.flow_active = bool(method.active)  # type: ignore[attr-defined]
            call_each(self._on_flow, self.flow_active)
            return
        if method_type is spec.Basic.CancelOk:
            self._cancelled.pop(str(method.consumer_tag), None)  # type: ignore[attr-defined]
        if method_type is spec.Basic.GetEmpty:
            self._pop_reply(method)
            self._dispatch_registered(method)
            return
        callback = self._pop_reply(method)
        if callback is not None:
            callback(frame.Method(self.channel_number, method))
        self._dispatch_registered(method)

    def _report_confirm(self, method: amqp_object.Method) -> None:
        if telemetry.observer is not None:
            telemetry.observer.on_confirm(self, method)  # type: ignore[arg-type]
        if self._on_ack_nack is not None:
            self._on_ack_nack(frame.Method(self.channel_number, method))
        self._dispatch_registered(method)

    def _consume(self, tag: str, callback: _MethodCallback) -> None:
        """Send Basic.Consume for the consumer recorded under ``tag``."""
        queue, auto_ack, exclusive, arguments = self._consumer_specs[tag]
        self._rpc(
            spec.Basic.Consume(
                queue=queue,
                consumer_tag=tag,
                no_ack=auto_ack,
                exclusive=exclusive,
                arguments=arguments,
            ),
            callback,
            recorded=True,
        )

    def _pop_reply(self, method: amqp_object.Method) -> Callable[..., Any] | None:
        """Take the handler of the request ``method`` answers.

        Requests are pipelined, and RabbitMQ answers some out of order (a
        consumer's ConsumeOk comes from its queue, after later replies of the
        channel itself), so the reply goes to the oldest request that expects
        its class (and, for ConsumeOk/CancelOk, its consumer tag).
        """
        method_type = type(method)
        replies = self._replies
        tag = getattr(method, "consumer_tag", None) if method_type in _TAGGED_REPLIES else None
        for index, (classes, callback, expected_tag, timing) in enumerate(replies):
            if method_type in classes and (expected_tag is None or expected_tag == tag):
                if index:
                    del replies[index]
                else:
                    replies.popleft()
                if timing is not None and telemetry.observer is not None:
                    telemetry.observer.on_reply(self, timing, method)
                return callback
        if method_type not in self._registered:
            LOGGER.warning(
                "channel %d: %s arrived but no request expects it; ignored",
                self.channel_number,
                method.NAME,
            )
        return None

    def _dispatch_registered(self, method: amqp_object.Method) -> None:
        entries = self._registered.get(type(method))
        if not entries:
            return
        self._registered[type(method)] = [entry for entry in entries if not entry[1]]
        method_frame = frame.Method(self.channel_number, method)
        call_each([callback for callback, _one_shot in entries], method_frame)

    def _on_broker_cancel(self, method: spec.Basic.Cancel) -> None:
        if not method.nowait and self._state == self.OPEN:
            self._send(spec.Basic.CancelOk(str(method.consumer_tag)))
        self._drop_consumer(method)

    def _drop_consumer(self, method: spec.Basic.Cancel) -> None:
        """Forget a consumer the broker cancelled (or a recovery could not
        restart) and tell the cancel callbacks."""
        tag = str(method.consumer_tag)
        self._consumers.pop(tag, None)
        self._auto_ack.pop(tag, None)
        self._consumer_specs.pop(tag, None)
        recovery = self.connection._recovery
        if recovery is not None:
            recovery.topology.consumer_removed(tag)
        method_frame = frame.Method(self.channel_number, method)
        call_each(self._on_cancel, method_frame)

    def _on_closed(self, reason: Exception) -> None:
        """The channel is gone (closed by either side or with the connection)."""
        if self._state == self.CLOSED:
            return
        self._state = self.CLOSED
        self._replies.clear()
        self._consumers.clear()
        self._cancelled.clear()
        self.connection._channel_gone(self.channel_number)
        self._on_ack_nack = None
        self._registered.clear()
        call_each(self._on_close, self, reason)


_TAGGED = (spec.Basic.Consume, spec.Basic.Cancel)
_ACK = spec.Basic.Ack.INDEX
# Module constants read faster than class attributes on the paths of every message.
_OPEN = ChannelState.OPEN
_DELIVER = spec.Basic.Deliver
_NACK = spec.Basic.Nack.INDEX
_REJECT = spec.Basic.Reject.INDEX
_TAGGED_REPLIES = (spec.Basic.ConsumeOk, spec.Basic.CancelOk)


def _recording(
    sent: amqp_object.Method, topology: TopologyRecord, callback: Callable[..., Any] | None
) -> Callable[[frame.Method], None]:
    """A reply handler that notes what ``sent`` changed in ``topology``,
    then calls the application's ``callback``."""

    def on_reply(reply: frame.Method) -> None:
        topology.apply(sent, reply)
        if callback is not None:
            callback(reply)

    return on_reply


class _GetReply:
    """The handler of one Basic.Get, remembering whether it was ``auto_ack``
    (a Basic.GetOk does not say, and only a manual get may be rejected)."""

    __slots__ = ("auto_ack", "callback")

    def __init__(self, callback: Callable[..., Any], auto_ack: bool) -> None:
        self.callback = callback
        self.auto_ack = auto_ack

    def __call__(self, *args: Any) -> Any:
        return self.callback(*args)
