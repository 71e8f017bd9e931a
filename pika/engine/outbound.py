"""The outbound side of the engine: frames appended to one buffer.

Everything the client sends goes through `FrameWriter`. Small frames are
appended to a bytearray; a large body is kept as memoryview slices of the
caller's bytes, so it is never copied before the socket takes it. The
adapter takes the whole lot once per loop turn (`take`), which coalesces
many commands into one write.
"""

from __future__ import annotations

import struct
from typing import Any, Union

from pika import amqp_object, exceptions, spec
from pika.frame import FRAME_END_BYTE, FRAME_OVERHEAD

_ENVELOPE = struct.Struct(">BHI")
_METHOD_START = struct.Struct(">BHII")
_HEADER_START = struct.Struct(">BHIHHQ")
# A content header without properties and the envelope of the one body
# frame after it: the common small publish in one pack.
_BARE_HEADER_AND_ENVELOPE = struct.Struct(">BHIHHQHBBHI")
#: Basic.Ack, Basic.Nack and Basic.Reject share one layout: a delivery tag
#: and one octet of flags; written whole by one pack.
_ACKNOWLEDGEMENT = struct.Struct(">BHIIQBB")
_NO_PROPERTIES = b"\x00\x00"
_TICKET = struct.Struct(">H")
_PUBLISH_INDEX = spec.Basic.Publish.INDEX
#: Bodies at least this large are queued as slices, not copied.
LARGE_BODY = 64 * 1024
#: How many distinct (channel, exchange, routing key, mandatory) publish
#: method frames are kept ready-encoded.
PUBLISH_CACHE_SIZE = 512

BytesLike = Union[bytes, bytearray, memoryview]


def _short(value: str | bytes, what: str) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(raw) > 255:
        raise exceptions.ShortStringTooLong(
            f"{what} is {len(raw)} bytes long; AMQP short strings hold at most 255"
        )
    return bytes((len(raw),)) + raw


def _recast(method: amqp_object.Method, cls: type[amqp_object.Method]) -> Any:
    """``method`` as an instance of ``cls`` (another version's class of the
    same method), keeping the fields ``cls`` has."""
    return cls(**{name: getattr(method, name) for name, _type in cls._FIELD_TYPES})


class FrameWriter:
    """Encodes frames into the outbound buffer."""

    __slots__ = ("_body_max", "_buf", "_outgoing", "_publish_cache", "_segments", "_tickets")

    def __init__(
        self,
        frame_max: int,
        outgoing: dict[type[amqp_object.Method], tuple[int, type[amqp_object.Method]]]
        | None = None,
    ) -> None:
        self._buf = bytearray()
        self._segments: list[BytesLike] = []
        self._publish_cache: dict[tuple[int, str, str, bool], bytes] = {}
        self._body_max = frame_max - FRAME_OVERHEAD
        # The protocol version's numbering and encoding of some methods
        # (`pika.engine.dialects.Dialect.outgoing`); empty for 0-9-1.
        self._outgoing = outgoing or {}
        # Access tickets by channel (AMQP 0-8), written into Basic.Publish.
        self._tickets: dict[int, int] = {}

    def set_frame_max(self, frame_max: int) -> None:
        self._body_max = frame_max - FRAME_OVERHEAD

    def __bool__(self) -> bool:
        return bool(self._buf or self._segments)

    def take(self) -> list[BytesLike]:
        """Hand over everything queued, oldest first, and start afresh."""
        buf = self._buf
        if self._segments:
            out = self._segments
            if buf:
                out.append(buf)
            self._segments = []
        elif buf:
            out = [buf]
        else:
            return []
        self._buf = bytearray()
        return out

    def raw(self, data: bytes) -> None:
        self._buf += data

    def set_ticket(self, channel: int, ticket: int) -> None:
        """The access ticket publishes on ``channel`` carry from now on."""
        self._tickets[channel] = ticket
        self._publish_cache.clear()

    def method(self, channel: int, method: amqp_object.Method) -> None:
        index = method.INDEX
        if self._outgoing:
            target = self._outgoing.get(type(method))
            if target is not None:
                index, cls = target
                if cls is not type(method):
                    method = _recast(method, cls)
        payload = b"".join(method.encode())
        self._buf += _METHOD_START.pack(spec.FRAME_METHOD, channel, len(payload) + 4, index)
        self._buf += payload
        self._buf += FRAME_END_BYTE

    def acknowledgement(
        self, channel: int, method_index: int, delivery_tag: int, flags: int
    ) -> None:
        """Basic.Ack/Nack/Reject (``method_index``) with its flag bits."""
        try:
            self._buf += _ACKNOWLEDGEMENT.pack(
                spec.FRAME_METHOD, channel, 13, method_index, delivery_tag, flags, spec.FRAME_END
            )
        except struct.error:
            raise ValueError(
                f"delivery_tag must be an int from 0 to 2**64-1, got {delivery_tag!r}"
            ) from None

    def publish(
        self,
        channel: int,
        exchange: str,
        routing_key: str,
        body: BytesLike,
        properties: spec.BasicProperties | None,
        mandatory: bool,
    ) -> None:
        """Basic.Publish with its content: the hot path of publishing."""
        key = (channel, exchange, routing_key, mandatory)
        method_frame = self._publish_cache.get(key)
        if method_frame is None:
            method_frame = self._publish_frame(key)
        buf = self._buf
        buf += method_frame
        size = len(body)
        if properties is None and 0 < size <= self._body_max and size < LARGE_BODY:
            buf += _BARE_HEADER_AND_ENVELOPE.pack(
                spec.FRAME_HEADER,
                channel,
                14,
                spec.Basic.INDEX,
                0,
                size,
                0,
                spec.FRAME_END,
                spec.FRAME_BODY,
                channel,
                size,
            )
            buf += body
            buf += FRAME_END_BYTE
            return
        self._header_and_body(channel, properties, body)

    def _publish_frame(self, key: tuple[int, str, str, bool]) -> bytes:
        channel, exchange, routing_key, mandatory = key
        payload = (
            _TICKET.pack(self._tickets.get(channel, 0))
            + _short(exchange, "exchange name")
            + _short(routing_key, "routing key")
            + (b"\x01" if mandatory else b"\x00")
        )
        frame = (
            _METHOD_START.pack(spec.FRAME_METHOD, channel, len(payload) + 4, _PUBLISH_INDEX)
            + payload
            + FRAME_END_BYTE
        )
        cache = self._publish_cache
        if len(cache) >= PUBLISH_CACHE_SIZE:
            cache.clear()
        cache[key] = frame
        return frame

    def _header_and_body(
        self, channel: int, properties: spec.BasicProperties | None, body: BytesLike
    ) -> None:
        props = _NO_PROPERTIES if properties is None else b"".join(properties.encode())
        size = len(body)
        buf = self._buf
        buf += _HEADER_START.pack(
            spec.FRAME_HEADER, channel, 12 + len(props), spec.Basic.INDEX, 0, size
        )
        buf += props
        buf += FRAME_END_BYTE
        if not size:
            return
        body_max = self._body_max
        if size <= body_max and size < LARGE_BODY:
            buf += _ENVELOPE.pack(spec.FRAME_BODY, channel, size)
            buf += body
            buf += FRAME_END_BYTE
            return
        if size < LARGE_BODY:
            view = memoryview(body)
            for start in range(0, size, body_max):
                chunk = view[start : start + body_max]
                buf += _ENVELOPE.pack(spec.FRAME_BODY, channel, len(chunk))
                buf += chunk
                buf += FRAME_END_BYTE
            return
        self._large_body(channel, body, size, body_max)

    def _large_body(self, channel: int, body: BytesLike, size: int, body_max: int) -> None:
        # Slices of an immutable bytes object are safe to keep until written;
        # a mutable buffer is copied once so later changes by the caller
        # cannot alter what goes on the wire.
        view = memoryview(body if isinstance(body, bytes) else bytes(body))
        segments = self._segments
        for start in range(0, size, body_max):
            chunk = view[start : start + body_max]
            self._buf += _ENVELOPE.pack(spec.FRAME_BODY, channel, len(chunk))
            segments.append(self._buf)
            segments.append(chunk)
            self._buf = bytearray(FRAME_END_BYTE)
