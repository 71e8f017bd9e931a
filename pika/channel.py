"""Pika's callback `Channel`, a thin layer over the engine.

Each AMQP operation is declared once here. Synchronous requests are
pipelined: a request goes out at once and its ``(reply classes, callback)``
is queued; the broker answers a channel's requests in order, so the reply at
the head of the queue is the one that arrives next.

Exceptions raised by user callbacks propagate to whoever runs the I/O loop;
the channel's state is updated before any callback runs, so the channel stays
usable and the next loop iteration carries on with the frames that follow.
"""

from __future__ import annotations

import collections
import logging
import uuid
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from pika import amqp_object, exceptions, frame, spec
from pika.callbacks import call_each
from pika.exchange_type import ExchangeType

if TYPE_CHECKING:
    from pika.connection import Connection

LOGGER = logging.getLogger(__name__)

MAX_CHANNELS = 65535

_OnOpenCallback = Callable[["Channel"], Any]
_OnCloseCallback = Callable[["Channel", Exception], Any]
_OnCancelCallback = Callable[[frame.Method], Any]
_OnFlowCallback = Callable[[bool], Any]
_OnReturnCallback = Callable[["Channel", spec.Basic.Return, spec.BasicProperties, bytes], Any]
_OnMessageCallback = Callable[["Channel", spec.Basic.Deliver, spec.BasicProperties, bytes], Any]
_OnBasicGetCallback = Callable[["Channel", spec.Basic.GetOk, spec.BasicProperties, bytes], Any]
_OnAckNackCallback = Callable[[frame.Method], Any]
_MethodCallback = Optional[Callable[[frame.Method], Any]]

_Reply = tuple[tuple[type, ...], Optional[Callable[..., Any]]]


def _require_callable(value: Any, name: str, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")


def _require_str(value: Any, name: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


class Channel:
    """An AMQP channel with Pika's callback interface."""

    CLOSED = 0
    OPENING = 1
    OPEN = 2
    CLOSING = 3

    def __init__(
        self,
        connection: Connection,
        channel_number: int,
        on_open_callback: _OnOpenCallback | None,
    ) -> None:
        if not isinstance(channel_number, int) or isinstance(channel_number, bool):
            raise exceptions.InvalidChannelNumber(
                f"channel number must be an int: {channel_number!r}"
            )
        self.connection = connection
        self.channel_number = channel_number
        self._state = self.CLOSED
        self._on_open_callback = on_open_callback
        self._replies: collections.deque[_Reply] = collections.deque()
        self._registered: dict[type, list[tuple[Callable[..., Any], bool]]] = {}
        self._consumers: dict[str, _OnMessageCallback] = {}
        self._auto_ack: dict[str, bool] = {}
        self._cancelled: dict[str, bool] = {}
        self._on_close: list[_OnCloseCallback] = []
        self._on_cancel: list[_OnCancelCallback] = []
        self._on_flow: list[_OnFlowCallback] = []
        self._on_return: list[_OnReturnCallback] = []
        self._on_ack_nack: _OnAckNackCallback | None = None
        self._close_after_open: tuple[int, str] | None = None
        self._closing_reason: tuple[int, str] = (0, "")
        self.flow_active = True
        self._confirming = False
        self._publish_seq = 0
        self._engine = connection._engine

    def __repr__(self) -> str:
        states = {0: "CLOSED", 1: "OPENING", 2: "OPEN", 3: "CLOSING"}
        return (
            f"<Channel number={self.channel_number} {states[self._state]} conn={self.connection!r}>"
        )

    def __int__(self) -> int:
        return self.channel_number

    # ----------------------------------------------------------------- state

    @property
    def is_closed(self) -> bool:
        return self._state == self.CLOSED

    @property
    def is_closing(self) -> bool:
        return self._state == self.CLOSING

    @property
    def is_open(self) -> bool:
        return self._state == self.OPEN

    @property
    def is_opening(self) -> bool:
        return self._state == self.OPENING

    @property
    def consumer_tags(self) -> list[str]:
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
        if self._state == self.OPENING:
            self._close_after_open = (reply_code, reply_text)
            self._state = self.CLOSING
            return
        self._begin_close(reply_code, reply_text)

    def _begin_close(self, reply_code: int, reply_text: str) -> None:
        self._state = self.CLOSING
        self._closing_reason = (reply_code, reply_text)
        self._engine.close_channel(self.channel_number, reply_code, reply_text)
        self.connection._output_ready()

    # ------------------------------------------------------------ callbacks API

    def add_callback(
        self,
        callback: Callable[..., Any],
        replies: Sequence[type[amqp_object.Method]],
        one_shot: bool = True,
    ) -> None:
        """Call ``callback(method_frame)`` when one of ``replies`` arrives."""
        _require_callable(callback, "callback", optional=False)
        for reply in replies:
            self._registered.setdefault(reply, []).append((callback, one_shot))

    def remove_callback(
        self,
        callback: Callable[..., Any],
        replies: Sequence[type[amqp_object.Method]] | None = None,
    ) -> bool:
        removed = False
        for reply in list(replies) if replies is not None else list(self._registered):
            entries = self._registered.get(reply, [])
            kept = [entry for entry in entries if entry[0] != callback]
            removed = removed or len(kept) != len(entries)
            self._registered[reply] = kept
        return removed

    def add_on_cancel_callback(self, callback: _OnCancelCallback) -> None:
        """``callback(method_frame)`` when the broker cancels a consumer."""
        _require_callable(callback, "callback", optional=False)
        self._on_cancel.append(callback)

    def remove_on_cancel_callback(self, callback: _OnCancelCallback) -> bool:
        return _remove(self._on_cancel, callback)

    def add_on_close_callback(self, callback: _OnCloseCallback) -> None:
        """``callback(channel, exception)`` once the channel is closed."""
        _require_callable(callback, "callback", optional=False)
        self._on_close.append(callback)

    def remove_on_close_callback(self, callback: _OnCloseCallback) -> bool:
        return _remove(self._on_close, callback)

    def add_on_flow_callback(self, callback: _OnFlowCallback) -> None:
        """``callback(active)`` when the broker sends Channel.Flow."""
        _require_callable(callback, "callback", optional=False)
        self._on_flow.append(callback)

    def remove_on_flow_callback(self, callback: _OnFlowCallback) -> bool:
        return _remove(self._on_flow, callback)

    def add_on_return_callback(self, callback: _OnReturnCallback) -> None:
        """``callback(channel, method, properties, body)`` for Basic.Return."""
        _require_callable(callback, "callback", optional=False)
        self._on_return.append(callback)

    def remove_on_return_callback(self, callback: _OnReturnCallback) -> bool:
        return _remove(self._on_return, callback)

    # -------------------------------------------------------------- sending

    def _require_open(self) -> None:
        if self._state != self.OPEN:
            state = {0: "closed", 1: "opening", 3: "closing"}[self._state]
            raise exceptions.ChannelWrongStateError(f"channel {self.channel_number} is {state}")

    def _send(self, method: amqp_object.Method) -> None:
        self._require_open()
        self._engine.send_method(self.channel_number, method)
        self.connection._output_ready()

    def _rpc(
        self,
        method: amqp_object.Method,
        callback: Callable[..., Any] | None,
        nowait: bool = False,
    ) -> None:
        """Send a synchronous method and queue the handler of its reply."""
        _require_callable(callback, "callback")
        self._send(method)
        if not nowait:
            self._replies.append((spec.REPLIES[type(method)], callback))

    # ---------------------------------------------------------------- basic

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: spec.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None:
        """Publish a message; a str body is sent as UTF-8."""
        if self._state != self.OPEN:
            self._require_open()
        if not self.flow_active:
            raise exceptions.ChannelWrongStateError(
                f"channel {self.channel_number}: the broker paused publishing with Channel.Flow"
            )
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"body must be bytes or str, got {type(body).__name__}")
        if properties is not None and not isinstance(properties, spec.BasicProperties):
            raise TypeError("properties must be a pika.spec.BasicProperties instance")
        self._engine.publish(
            self.channel_number, exchange, routing_key, body, properties, mandatory
        )
        if self._confirming:
            self._publish_seq += 1
        self.connection._output_ready()

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self._send(spec.Basic.Ack(delivery_tag, multiple))

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        self._send(spec.Basic.Nack(delivery_tag, multiple, requeue))

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        if not isinstance(delivery_tag, int) or isinstance(delivery_tag, bool):
            raise TypeError(f"delivery_tag must be an int, got {type(delivery_tag).__name__}")
        self._send(spec.Basic.Reject(delivery_tag, requeue))

    def basic_qos(
        self,
        prefetch_size: int = 0,
        prefetch_count: int = 0,
        global_qos: bool = False,
        callback: _MethodCallback = None,
    ) -> None:
        if prefetch_size < 0 or prefetch_count < 0:
            raise ValueError("prefetch_size and prefetch_count must be >= 0")
        self._rpc(spec.Basic.Qos(prefetch_size, prefetch_count, global_qos), callback)

    def basic_recover(self, requeue: bool = False, callback: _MethodCallback = None) -> None:
        self._rpc(spec.Basic.Recover(requeue), callback)

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
        _require_str(queue, "queue")
        _require_callable(on_message_callback, "on_message_callback", optional=False)
        self._require_open()
        if consumer_tag is None:
            consumer_tag = f"ctag{self.channel_number}.{uuid.uuid4().hex}"
        if consumer_tag in self._consumers or consumer_tag in self._cancelled:
            raise exceptions.DuplicateConsumerTag(consumer_tag)
        self._rpc(
            spec.Basic.Consume(
                queue=queue,
                consumer_tag=consumer_tag,
                no_ack=auto_ack,
                exclusive=exclusive,
                arguments=arguments or {},
            ),
            callback,
        )
        self._consumers[consumer_tag] = on_message_callback
        self._auto_ack[consumer_tag] = auto_ack
        return consumer_tag

    def basic_cancel(self, consumer_tag: str = "", callback: _MethodCallback = None) -> None:
        """Cancel a consumer; without ``callback`` the request is nowait."""
        self._require_open()
        if consumer_tag in self._cancelled:
            return
        if consumer_tag not in self._consumers:
            LOGGER.debug(
                "basic_cancel: no consumer %r on channel %d", consumer_tag, self.channel_number
            )
            if callback is not None:
                callback(frame.Method(self.channel_number, spec.Basic.CancelOk(consumer_tag)))
            return
        nowait = callback is None
        self._rpc(spec.Basic.Cancel(consumer_tag, nowait), callback, nowait=nowait)
        self._cancelled[consumer_tag] = self._auto_ack.pop(consumer_tag, False)
        del self._consumers[consumer_tag]
        if nowait:
            self._cancelled.pop(consumer_tag, None)

    def basic_get(self, queue: str, callback: _OnBasicGetCallback, auto_ack: bool = False) -> None:
        """Fetch one message: ``callback(channel, method, properties, body)``
        on Basic.GetOk. Basic.GetEmpty reaches callbacks registered with
        ``add_callback(..., [spec.Basic.GetEmpty])``."""
        _require_str(queue, "queue")
        _require_callable(callback, "callback", optional=False)
        self._rpc(spec.Basic.Get(queue=queue, no_ack=auto_ack), callback)

    def confirm_delivery(
        self, ack_nack_callback: _OnAckNackCallback, callback: _MethodCallback = None
    ) -> None:
        """Turn on publisher confirms; Basic.Ack/Nack go to ``ack_nack_callback``."""
        _require_callable(ack_nack_callback, "ack_nack_callback", optional=False)
        if not self.connection.publisher_confirms:
            raise exceptions.MethodNotImplemented("the broker does not support publisher confirms")
        nowait = callback is None
        self._rpc(spec.Confirm.Select(nowait), callback, nowait=nowait)
        self._on_ack_nack = ack_nack_callback
        self._confirming = True

    def flow(self, active: bool, callback: _OnFlowCallback | None = None) -> None:
        """Ask the broker to pause or resume deliveries; ``callback(active)``."""
        _require_callable(callback, "callback")
        wrapped = None if callback is None else (lambda reply: callback(reply.method.active))
        self._rpc(spec.Channel.Flow(active), wrapped)

    # ------------------------------------------------------------- exchange

    def exchange_declare(
        self,
        exchange: str,
        exchange_type: str = ExchangeType.direct,
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> None:
        _require_str(exchange, "exchange")
        exchange_type = str(getattr(exchange_type, "value", exchange_type))
        nowait = callback is None
        self._rpc(
            spec.Exchange.Declare(
                exchange=exchange,
                type=exchange_type,
                passive=passive,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                nowait=nowait,
                arguments=arguments or {},
            ),
            callback,
            nowait=nowait,
        )

    def exchange_delete(
        self, exchange: str | None = None, if_unused: bool = False, callback: _MethodCallback = None
    ) -> None:
        nowait = callback is None
        self._rpc(
            spec.Exchange.Delete(exchange=exchange or "", if_unused=if_unused, nowait=nowait),
            callback,
            nowait=nowait,
        )

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> None:
        _require_str(destination, "destination")
        _require_str(source, "source")
        nowait = callback is None
        self._rpc(
            spec.Exchange.Bind(
                destination=destination,
                source=source,
                routing_key=routing_key,
                nowait=nowait,
                arguments=arguments or {},
            ),
            callback,
            nowait=nowait,
        )

    def exchange_unbind(
        self,
        destination: str | None = None,
        source: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> None:
        nowait = callback is None
        self._rpc(
            spec.Exchange.Unbind(
                destination=destination or "",
                source=source or "",
                routing_key=routing_key,
                nowait=nowait,
                arguments=arguments or {},
            ),
            callback,
            nowait=nowait,
        )

    # ---------------------------------------------------------------- queue

    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> None:
        """Declare a queue; ``''`` asks the broker to name it (the name is
        in the reply's ``method.queue``)."""
        _require_str(queue, "queue")
        nowait = callback is None and queue != ""
        self._rpc(
            spec.Queue.Declare(
                queue=queue,
                passive=passive,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                nowait=nowait,
                arguments=arguments or {},
            ),
            callback,
            nowait=nowait,
        )

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> None:
        _require_str(queue, "queue")
        _require_str(exchange, "exchange")
        nowait = callback is None
        self._rpc(
            spec.Queue.Bind(
                queue=queue,
                exchange=exchange,
                routing_key=queue if routing_key is None else routing_key,
                nowait=nowait,
                arguments=arguments or {},
            ),
            callback,
            nowait=nowait,
        )

    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
        callback: _MethodCallback = None,
    ) -> None:
        _require_str(queue, "queue")
        self._rpc(
            spec.Queue.Unbind(
                queue=queue,
                exchange=exchange or "",
                routing_key=queue if routing_key is None else routing_key,
                arguments=arguments or {},
            ),
            callback,
        )

    def queue_purge(self, queue: str, callback: _MethodCallback = None) -> None:
        _require_str(queue, "queue")
        nowait = callback is None
        self._rpc(spec.Queue.Purge(queue=queue, nowait=nowait), callback, nowait=nowait)

    def queue_delete(
        self,
        queue: str,
        if_unused: bool = False,
        if_empty: bool = False,
        callback: _MethodCallback = None,
    ) -> None:
        _require_str(queue, "queue")
        nowait = callback is None
        self._rpc(
            spec.Queue.Delete(queue=queue, if_unused=if_unused, if_empty=if_empty, nowait=nowait),
            callback,
            nowait=nowait,
        )

    # ------------------------------------------------------------------- tx

    def tx_select(self, callback: _MethodCallback = None) -> None:
        self._rpc(spec.Tx.Select(), callback)

    def tx_commit(self, callback: _MethodCallback = None) -> None:
        self._rpc(spec.Tx.Commit(), callback)

    def tx_rollback(self, callback: _MethodCallback = None) -> None:
        self._rpc(spec.Tx.Rollback(), callback)

    # ------------------------------------------------------ engine events in

    def _on_opened(self) -> None:
        if self._close_after_open is not None:
            self._state = self.OPEN
            code, text = self._close_after_open
            self._close_after_open = None
            self._begin_close(code, text)
            return
        self._state = self.OPEN
        callback = self._on_open_callback
        self._on_open_callback = None
        if callback is not None:
            callback(self)

    def _on_content(
        self, method: amqp_object.Method, properties: spec.BasicProperties, body: bytes
    ) -> None:
        if type(method) is spec.Basic.Deliver:
            consumer = self._consumers.get(method.consumer_tag)  # type: ignore[arg-type]
            if consumer is not None:
                consumer(self, method, properties, body)
            else:
                self._orphan_delivery(method)
        elif type(method) is spec.Basic.Return:
            if not self._on_return:
                LOGGER.warning(
                    "channel %d: message returned by the broker (%s %s) and no "
                    "on_return callback is registered",
                    self.channel_number,
                    method.reply_code,
                    method.reply_text,
                )
            call_each(self._on_return, self, method, properties, body)
        else:
            _replies, callback = self._pop_reply(method)
            if callback is not None:
                callback(self, method, properties, body)

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
            if self._on_ack_nack is not None:
                self._on_ack_nack(frame.Method(self.channel_number, method))
            self._dispatch_registered(method)
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
        _replies, callback = self._pop_reply(method)
        if callback is not None:
            callback(frame.Method(self.channel_number, method))
        self._dispatch_registered(method)

    def _pop_reply(self, method: amqp_object.Method) -> _Reply:
        if not self._replies or type(method) not in self._replies[0][0]:
            if type(method) not in self._registered:
                LOGGER.warning(
                    "channel %d: %s arrived but no request expects it; ignored",
                    self.channel_number,
                    method.NAME,
                )
            return (), None
        return self._replies.popleft()

    def _dispatch_registered(self, method: amqp_object.Method) -> None:
        entries = self._registered.get(type(method))
        if not entries:
            return
        self._registered[type(method)] = [entry for entry in entries if not entry[1]]
        method_frame = frame.Method(self.channel_number, method)
        call_each([callback for callback, _one_shot in entries], method_frame)

    def _on_broker_cancel(self, method: spec.Basic.Cancel) -> None:
        tag = str(method.consumer_tag)
        self._consumers.pop(tag, None)
        self._auto_ack.pop(tag, None)
        if not method.nowait and self._state == self.OPEN:
            self._send(spec.Basic.CancelOk(tag))
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


def _remove(callbacks: list[Any], callback: Any) -> bool:
    if callback in callbacks:
        callbacks.remove(callback)
        return True
    return False


class ContentFrameAssembler:
    """Reassembles method, header and body frames into one message.

    The engine does this itself on the hot path; this class serves code that
    works with `pika.frame` objects directly.
    """

    def __init__(self) -> None:
        self._method: frame.Method | None = None
        self._header: frame.Header | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    def process(self, frame_value: frame.Frame) -> tuple[frame.Method, frame.Header, bytes] | None:
        """Feed one frame; returns the whole message once it is complete."""
        if isinstance(frame_value, frame.Method):
            if self._method is not None:
                raise exceptions.UnexpectedFrameError("method frame while a message was incomplete")
            self._method = frame_value
            return None
        if isinstance(frame_value, frame.Header):
            if self._method is None or self._header is not None:
                raise exceptions.UnexpectedFrameError("content header without a method frame")
            self._header = frame_value
            if frame_value.body_size == 0:
                return self._finish()
            return None
        if isinstance(frame_value, frame.Body):
            if self._header is None:
                raise exceptions.UnexpectedFrameError("content body without a header")
            self._chunks.append(frame_value.fragment)
            self._size += len(frame_value.fragment)
            if self._size > self._header.body_size:
                raise exceptions.BodyTooLongError(
                    f"received {self._size} body bytes, "
                    f"the header declared {self._header.body_size}"
                )
            if self._size == self._header.body_size:
                return self._finish()
            return None
        raise exceptions.UnexpectedFrameError(
            f"{type(frame_value).__name__} is not a content frame"
        )

    def _finish(self) -> tuple[frame.Method, frame.Header, bytes]:
        assert self._method is not None and self._header is not None
        message = (self._method, self._header, b"".join(self._chunks))
        self._method = None
        self._header = None
        self._chunks = []
        self._size = 0
        return message
