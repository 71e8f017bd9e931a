"""The engine's content frames: a message's method, header and body frames
made into one `pika.engine.events.ContentReceived`.

`ContentReader` is the part of `pika.engine.connection_engine.ConnectionEngine`
that reads them, in two ways:

- frame by frame (`ContentReader._header`, `ContentReader._body`), with
  every check and error report of the protocol;
- in one step, when a content method's header and single body frame are
  already buffered behind it and well-formed (`ContentReader._whole_message`).
  A Basic.Deliver, the first frame of most messages, is decoded in place
  from the receive buffer, and a message without properties with a
  non-empty body is taken with one more unpack (`ContentReader._delivery`).
  Anything unusual goes back to the frame-by-frame path.

A message without properties gets a bare ``BasicProperties`` made without
its ``__init__``: its properties read as None (see `pika.amqp_object.Properties`).
"""

from __future__ import annotations

import struct

from pika import amqp_object, exceptions, spec
from pika.engine import events
from pika.engine.channels import EngineChannel as _Channel
from pika.engine.inbound import Buffer, InboundBuffer, copy_out
from pika.engine.rules import ProtocolViolation
from pika.frame import FRAME_OVERHEAD, decode_header
from pika.states import EngineChannelState

NO_EVENT = object()
"""What the engine's frame handlers return for a frame that makes no event."""

CH_OPEN = EngineChannelState.OPEN

_FRAME_HEADER = spec.FRAME_HEADER
_FRAME_BODY = spec.FRAME_BODY
_FRAME_END = spec.FRAME_END
_ENVELOPE = struct.Struct(">BHI")
_DELIVER_START = struct.Struct(">IB")
_DELIVER_MIDDLE = struct.Struct(">QBB")
#: A content header frame up to its first property flags: envelope, class,
#: weight, body size, flags.
_HEADER_START = struct.Struct(">BHIHHQH")
#: What follows a method frame when a header without properties and one
#: body frame come next: the header frame's first 11 bytes (envelope,
#: class, weight), the body size, 6 bytes (property flags, frame end, the
#: body frame's type and channel) and the body frame's size. The two runs
#: of bytes are the same for every such message of a channel
#: (`pika.engine.channels.EngineChannel.bare_header` and ``bare_middle``):
#: one unpack and two comparisons take the commonest message whole.
_BARE_CONTENT = struct.Struct(">11sQ6sI")
_BASIC = spec.Basic.INDEX
_BIT = (False, True)
_CONTENT_RECEIVED = events.ContentReceived
_DELIVER = spec.Basic.Deliver
_DELIVER_INDEX = _DELIVER.INDEX
_NEW_DELIVER = _DELIVER.__new__
_PROPERTIES = spec.BasicProperties
_NEW_PROPERTIES = _PROPERTIES.__new__


class ContentReader(InboundBuffer):
    """Content frames into `ContentReceived` events: the part of the engine
    between its frame scanner and its channels (see the module's notes)."""

    _channels: dict[int, _Channel]
    _max_frame: int
    _max_message: int
    #: The largest body `_delivery` takes in one step: one body frame within
    #: frame_max, not over max_message_size (see `_limits_changed`).
    _bare_body_max: int

    def _limits_changed(self) -> None:
        """Note a new ``_max_frame`` or ``_max_message``."""
        most = self._max_frame - FRAME_OVERHEAD
        self._bare_body_max = most if self._max_message < 0 else min(most, self._max_message)

    def _delivery(
        self, buf: Buffer, start: int, end: int, channel: int
    ) -> events.ContentReceived | spec.Basic.Deliver | None:
        """The method frame payload ``buf[start:end]`` of ``channel``
        decoded in place when it is a well-formed Basic.Deliver whose short
        strings are UTF-8 (a message's usual first frame), with the same
        attributes `pika.frame.decode_method` gives it.

        Returns the message's event when its content is buffered behind it
        and taken whole (see `_whole_message`), the Basic.Deliver alone when
        it is not, and None for anything else, which that decoder then
        decodes or reports. A view (a large frame's buffer) is left to that
        decoder too: the strings are decoded from slices of ``bytes`` or
        ``bytearray``. Malformed payloads the checks let through end in
        `struct.error` (reading past the buffer), caught here.
        """
        try:
            index, tag_length = _DELIVER_START.unpack_from(buf, start)
            tag_end = start + 5 + tag_length
            if index != _DELIVER_INDEX or end - tag_end < 11:
                return None
            delivery_tag, bits, exchange_length = _DELIVER_MIDDLE.unpack_from(buf, tag_end)
            exchange_end = tag_end + 10 + exchange_length
            if exchange_end >= end or exchange_end + 1 + buf[exchange_end] != end:
                return None
            # (A view has no decode: AttributeError.)
            consumer_tag = buf[start + 5 : tag_end].decode()  # type: ignore[union-attr]
            exchange = buf[tag_end + 10 : exchange_end].decode()  # type: ignore[union-attr]
            routing_key = buf[exchange_end + 1 : end].decode()  # type: ignore[union-attr]
        except (struct.error, UnicodeDecodeError, AttributeError):
            return None
        method = _NEW_DELIVER(_DELIVER)
        method.consumer_tag = consumer_tag
        method.delivery_tag = delivery_tag
        method.redelivered = _BIT[bits & 1]
        method.exchange = exchange
        method.routing_key = routing_key
        chan = self._channels.get(channel)
        if chan is None or chan.state is not CH_OPEN or chan.content_method is not None:
            return method
        # A header without properties and one body frame, all buffered: the
        # frame-end octet of the method frame is at ``end``.
        try:
            header, body_size, middle, body_frame = _BARE_CONTENT.unpack_from(buf, end + 1)
            body_end = end + 30 + body_size
            whole = buf[body_end] == _FRAME_END
        except (struct.error, IndexError):
            whole = False
        if (
            whole
            and header == chan.bare_header
            and middle == chan.bare_middle
            and body_frame == body_size
            and 0 < body_size <= self._bare_body_max
        ):
            self._pos = body_end + 1
            if type(buf) is bytes:
                body = buf[end + 30 : body_end]
            else:
                body = bytes(memoryview(buf)[end + 30 : body_end])
            return _CONTENT_RECEIVED(channel, method, _NEW_PROPERTIES(_PROPERTIES), body)
        message = self._whole_message(channel, method)
        return method if message is None else message

    def _header(self, channel: int, buf: Buffer, start: int, end: int) -> object:
        chan = self._content_channel(channel, "content header")
        if chan.content_method is None or chan.properties is not None:
            raise ProtocolViolation(
                spec.UNEXPECTED_FRAME, f"content header on channel {channel} without a method"
            )
        try:
            body_size, properties = decode_header(buf, start, end)
        except exceptions.ProtocolSyntaxError as exc:
            raise ProtocolViolation(spec.SYNTAX_ERROR, str(exc)) from None
        if body_size == 0:
            method = chan.content_method
            chan.content_method = None
            if chan.state != CH_OPEN:
                return NO_EVENT
            return events.ContentReceived(channel, method, properties, b"")
        chan.properties = properties
        chan.body_size = body_size
        chan.received = 0
        chan.discarding = 0 <= self._max_message < body_size
        self._expecting = chan
        return NO_EVENT

    def _body(self, channel: int, buf: Buffer, start: int, end: int) -> object:
        chan = self._content_channel(channel, "content body")
        if chan.properties is None:
            raise ProtocolViolation(
                spec.UNEXPECTED_FRAME, f"content body on channel {channel} without a header"
            )
        received = chan.received + end - start
        if received >= chan.body_size:
            if received > chan.body_size:
                raise ProtocolViolation(
                    spec.FRAME_ERROR,
                    f"content body on channel {channel} is longer than the "
                    f"{chan.body_size} bytes its header declared",
                )
            if chan.discarding:
                return self._discarded(chan)
            if chan.chunks:
                chan.chunks.append(self._hold(buf, start, end))
                body = b"".join(chan.chunks)
                chan.chunks = []
            else:
                body = copy_out(buf, start, end)
            method = chan.content_method
            properties = chan.properties
            chan.content_method = None
            chan.properties = None
            if chan.state != CH_OPEN:
                return NO_EVENT
            return events.ContentReceived(channel, method, properties, body)  # type: ignore[arg-type]
        if not chan.discarding:
            chan.chunks.append(self._hold(buf, start, end))
        chan.received = received
        return NO_EVENT

    def _discarded(self, chan: _Channel) -> object:
        """The last body frame of a message over max_message_size arrived."""
        method = chan.content_method
        properties = chan.properties
        chan.content_method = None
        chan.properties = None
        chan.discarding = False
        if chan.state != CH_OPEN:
            return NO_EVENT
        return events.ContentTooLarge(chan.number, method, properties, chan.body_size)  # type: ignore[arg-type]

    def _whole_message(
        self, channel: int, method: amqp_object.Method
    ) -> events.ContentReceived | None:
        """The fast path of a message: when its header and a single body
        frame are already buffered and well-formed, take all three frames at
        once. The header's envelope, class, weight, body size and property
        flags are read with one unpack; a header without properties gets a
        bare ``BasicProperties``. Anything unusual returns None and the
        frame-by-frame path, with its full checks and error reports, takes
        over."""
        buf = self._buf
        pos = self._pos
        try:
            frame_type, frame_channel, size, class_id, _weight, body_size, flags = (
                _HEADER_START.unpack_from(buf, pos)
            )
            header_end = pos + 7 + size
            if (
                frame_type != _FRAME_HEADER
                or frame_channel != channel
                or class_id != _BASIC
                or size < 14
                or size + 8 > self._max_frame
                or buf[header_end] != _FRAME_END
                or body_size > self._bare_body_max
            ):
                return None
            properties = _NEW_PROPERTIES(_PROPERTIES)
            if flags:
                # The flags and values, copied out of the buffer: a malformed
                # header must not read on into the body frame.
                if type(buf) is bytes:
                    properties.decode(buf[pos + 19 : header_end])
                else:
                    properties.decode(bytes(memoryview(buf)[pos + 19 : header_end]))
            if body_size == 0:
                self._pos = header_end + 1
                return _CONTENT_RECEIVED(channel, method, properties, b"")
            body_start = header_end + 8
            body_end = body_start + body_size
            if (
                _ENVELOPE.unpack_from(buf, header_end + 1) != (_FRAME_BODY, channel, body_size)
                or buf[body_end] != _FRAME_END
            ):
                return None
        except (
            struct.error,
            IndexError,
            ValueError,
            UnicodeDecodeError,
            exceptions.ProtocolSyntaxError,
        ):
            return None
        self._pos = body_end + 1
        if type(buf) is bytes:
            body = buf[body_start:body_end]
        else:
            body = bytes(memoryview(buf)[body_start:body_end])
        return _CONTENT_RECEIVED(channel, method, properties, body)

    def _content_channel(self, channel: int, what: str) -> _Channel:
        if not channel:
            raise ProtocolViolation(spec.CHANNEL_ERROR, f"{what} frame on channel 0")
        chan = self._channels.get(channel)
        if chan is None:
            raise ProtocolViolation(
                spec.CHANNEL_ERROR, f"{what} frame on unopened channel {channel}"
            )
        return chan
