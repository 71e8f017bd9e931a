"""AMQP frames: the classes Pika exposes, their marshalling, and the decoder.

A frame on the wire is ``type:octet channel:short size:long payload frame-end``.
`scan_frame` is the one place that reads that envelope; `decode_frame` (the
public decoder) and the engine both build on it.
"""

from __future__ import annotations

import struct
from typing import Generic, TypeVar, Union

from pika import amqp_object, exceptions, spec

FRAME_END_BYTE = bytes((spec.FRAME_END,))
_ENVELOPE = struct.Struct(">BHI")
_METHOD_INDEX = struct.Struct(">I")
_HEADER_FIXED = struct.Struct(">HHQ")
PROTOCOL_HEADER_SIZE = 8
#: A frame's bytes apart from its payload (7 of envelope plus the end octet).
FRAME_OVERHEAD = spec.FRAME_HEADER_SIZE + spec.FRAME_END_SIZE

Buffer = Union[bytes, bytearray, memoryview]
_MethodT = TypeVar("_MethodT", bound=amqp_object.Method)


class Frame(amqp_object.AMQPObject):
    """Base of every frame: a type and the channel it travels on.

    Args:
        frame_type: The frame type octet (`pika.spec.FRAME_METHOD`, ...).
        channel_number: The channel the frame travels on (0 for the connection).
    """

    NAME = "Frame"

    def __init__(self, frame_type: int, channel_number: int) -> None:
        self.frame_type = frame_type
        self.channel_number = channel_number

    def _wrap(self, payload: bytes) -> bytes:
        return (
            _ENVELOPE.pack(self.frame_type, self.channel_number, len(payload))
            + payload
            + FRAME_END_BYTE
        )

    def marshal(self) -> bytes:
        """The frame's bytes as they go on the wire.

        Returns:
            The encoded frame.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot be marshalled")


class Method(Frame, Generic[_MethodT]):
    """A method frame; ``method`` is the `pika.spec` method object.

    Args:
        channel_number: The channel the frame travels on.
        method: The `pika.spec` method object it carries.
    """

    NAME = "METHOD"

    def __init__(self, channel_number: int, method: _MethodT) -> None:
        super().__init__(spec.FRAME_METHOD, channel_number)
        self.method: _MethodT = method

    def marshal(self) -> bytes:
        """The frame's bytes as they go on the wire.

        Returns:
            The encoded frame.
        """
        pieces = self.method.encode()
        pieces.insert(0, _METHOD_INDEX.pack(self.method.INDEX))
        return self._wrap(b"".join(pieces))


class Header(Frame):
    """A content header frame: the body size and the message properties.

    Args:
        channel_number: The channel the frame travels on.
        body_size: The length of the message body in bytes.
        props: The message's `pika.spec.BasicProperties`.
    """

    NAME = "Header"

    def __init__(self, channel_number: int, body_size: int, props: spec.BasicProperties) -> None:
        super().__init__(spec.FRAME_HEADER, channel_number)
        self.body_size = body_size
        self.properties = props

    def marshal(self) -> bytes:
        """The frame's bytes as they go on the wire.

        Returns:
            The encoded frame.
        """
        pieces = self.properties.encode()
        pieces.insert(0, _HEADER_FIXED.pack(self.properties.INDEX, 0, self.body_size))
        return self._wrap(b"".join(pieces))


class Body(Frame):
    """A content body frame carrying one fragment of a message body.

    Args:
        channel_number: The channel the frame travels on.
        fragment: The piece of the body it carries.
    """

    NAME = "Body"

    def __init__(self, channel_number: int, fragment: bytes) -> None:
        super().__init__(spec.FRAME_BODY, channel_number)
        self.fragment = fragment

    def marshal(self) -> bytes:
        """The frame's bytes as they go on the wire.

        Returns:
            The encoded frame.
        """
        return self._wrap(bytes(self.fragment))


class Heartbeat(Frame):
    """A heartbeat frame (always on channel 0, empty payload)."""

    NAME = "Heartbeat"

    def __init__(self) -> None:
        super().__init__(spec.FRAME_HEARTBEAT, 0)

    def marshal(self) -> bytes:
        """The frame's bytes as they go on the wire.

        Returns:
            The encoded frame.
        """
        return HEARTBEAT_BYTES


HEARTBEAT_BYTES = _ENVELOPE.pack(spec.FRAME_HEARTBEAT, 0, 0) + FRAME_END_BYTE


class ProtocolHeader(amqp_object.AMQPObject):
    """The ``AMQP 0 major minor revision`` greeting that opens a connection.

    Args:
        major: Protocol major version; None for 0.
        minor: Minor version; None for 9.
        revision: Revision; None for 1.
    """

    NAME = "ProtocolHeader"

    def __init__(
        self, major: int | None = None, minor: int | None = None, revision: int | None = None
    ) -> None:
        version = spec.PROTOCOL_VERSION
        self.frame_type = -1
        self.major = version[0] if major is None else major
        self.minor = version[1] if minor is None else minor
        self.revision = version[2] if revision is None else revision

    def marshal(self) -> bytes:
        """The header's 8 bytes as they go on the wire.

        Returns:
            The encoded header.
        """
        return b"AMQP" + bytes((0, self.major, self.minor, self.revision))


def scan_frame(data: Buffer, offset: int, max_frame_size: int) -> tuple[int, int, int, int] | None:
    """Locate the frame that starts at ``offset``.

    Returns ``(frame_type, channel, payload_start, frame_end)`` where
    ``frame_end`` is the offset just past the frame-end octet, or None when
    more bytes are needed. Raises `InvalidFrameError` as soon as the envelope
    declares a frame larger than ``max_frame_size`` (so a hostile size never
    makes the reader wait or buffer) or the frame-end octet is wrong.

    Args:
        data: The received bytes.
        offset: Where the frame starts.
        max_frame_size: Largest frame accepted, in bytes.

    Returns:
        ``(frame_type, channel, payload_start, frame_end)``, or None when more bytes are needed.

    Raises:
        InvalidFrameError: The frame is too large or its end octet is wrong.
    """
    if len(data) - offset < 7:
        return None
    frame_type, channel, size = _ENVELOPE.unpack_from(data, offset)
    if size + FRAME_OVERHEAD > max_frame_size:
        raise exceptions.InvalidFrameError(
            f"frame of {size + FRAME_OVERHEAD} bytes exceeds the frame_max of {max_frame_size}"
        )
    end = offset + 7 + size
    if len(data) <= end:
        return None
    if data[end] != spec.FRAME_END:
        raise exceptions.InvalidFrameError(
            f"frame-end octet is {data[end]:#04x}, expected {spec.FRAME_END:#04x}"
        )
    return frame_type, channel, offset + 7, end + 1


def _payload(data: Buffer, start: int, end: int) -> bytes:
    """``data[start:end]`` as bytes in one copy: the codecs decode bytes
    fastest, and no view of a buffer the engine may resize stays alive."""
    if type(data) is bytes:
        return data[start:end]
    return bytes(memoryview(data)[start:end])


def decode_method(
    data: Buffer,
    start: int,
    end: int,
    methods: dict[int, type[amqp_object.Method]] | None = None,
) -> amqp_object.Method:
    """Decode a method frame payload spanning ``data[start:end]``.

    Args:
        data: The received bytes.
        start: Where the payload starts.
        end: Where it ends.
        methods: Method index -> class (another AMQP version's table); None
            for `pika.spec`'s. (A default of the table itself would be
            rendered, class by class, in the reference.)

    Returns:
        The decoded `pika.spec` method.

    Raises:
        InvalidFrameError: The payload is truncated or names an unknown method.
    """
    if end - start < 4:
        raise exceptions.InvalidFrameError("method frame shorter than its 4-byte method id")
    (index,) = _METHOD_INDEX.unpack_from(data, start)
    method_class = (spec.methods if methods is None else methods).get(index)
    if method_class is None:
        raise exceptions.InvalidFrameError(
            f"unknown method {index >> 16}.{index & 0xFFFF} ({index:#010x})"
        )
    method = method_class.__new__(method_class)
    try:
        # `_payload`, written out: this runs once per message received.
        if type(data) is bytes:
            method.decode(data[start + 4 : end])
        else:
            method.decode(bytes(memoryview(data)[start + 4 : end]))
    except exceptions.ProtocolSyntaxError:
        raise
    except (IndexError, struct.error, ValueError, UnicodeDecodeError) as exc:
        raise exceptions.InvalidFrameError(
            f"malformed {method_class.NAME} arguments: {exc}"
        ) from None
    return method


def decode_header(data: Buffer, start: int, end: int) -> tuple[int, spec.BasicProperties]:
    """Decode a content header payload; returns ``(body_size, properties)``.

    Args:
        data: The received bytes.
        start: Where the payload starts.
        end: Where it ends.

    Returns:
        ``(body_size, properties)``.

    Raises:
        InvalidFrameError: The payload is truncated or malformed.
    """
    if end - start < 14:
        raise exceptions.InvalidFrameError("content header shorter than its 14 fixed bytes")
    class_id, _weight, body_size = _HEADER_FIXED.unpack_from(data, start)
    if class_id != spec.Basic.INDEX:
        raise exceptions.InvalidFrameError(f"content header for unknown class {class_id}")
    properties = spec.BasicProperties.__new__(spec.BasicProperties)
    try:
        properties.decode(_payload(data, start + 12, end))
    except exceptions.ProtocolSyntaxError:
        raise
    except (IndexError, struct.error, ValueError, UnicodeDecodeError) as exc:
        raise exceptions.InvalidFrameError(f"malformed content header properties: {exc}") from None
    return body_size, properties


def decode_frame(
    data_in: Buffer, offset: int = 0, max_frame_size: int = 2**32 - 1
) -> tuple[int, Frame | ProtocolHeader | None]:
    """Decode one frame from ``data_in`` at ``offset``.

    Returns ``(bytes_consumed, frame)``, or ``(0, None)`` when the buffer does
    not yet hold a whole frame. Malformed input raises a
    `pika.exceptions.ProtocolSyntaxError` subclass, never anything else.

    Args:
        data_in: The received bytes.
        offset: Where the frame starts.
        max_frame_size: Largest frame accepted, in bytes (the negotiated ``frame_max``).

    Returns:
        ``(bytes_consumed, frame)``, or ``(0, None)`` when the buffer does not yet hold a whole
        frame.

    Raises:
        ProtocolSyntaxError: The input is malformed (a subclass says how).
    """
    if data_in[offset : offset + 4] == b"AMQP":
        if len(data_in) - offset < PROTOCOL_HEADER_SIZE:
            return 0, None
        _zero, major, minor, revision = data_in[offset + 4 : offset + 8]
        return PROTOCOL_HEADER_SIZE, ProtocolHeader(major, minor, revision)
    found = scan_frame(data_in, offset, max_frame_size)
    if found is None:
        return 0, None
    frame_type, channel, start, end = found
    payload_end = end - 1
    consumed = end - offset
    if frame_type == spec.FRAME_METHOD:
        return consumed, Method(channel, decode_method(data_in, start, payload_end))
    if frame_type == spec.FRAME_HEADER:
        body_size, properties = decode_header(data_in, start, payload_end)
        return consumed, Header(channel, body_size, properties)
    if frame_type == spec.FRAME_BODY:
        return consumed, Body(channel, bytes(data_in[start:payload_end]))
    if frame_type == spec.FRAME_HEARTBEAT:
        if payload_end != start:
            raise exceptions.InvalidFrameError("heartbeat frame with a payload")
        return consumed, Heartbeat()
    raise exceptions.InvalidFrameError(f"unknown frame type {frame_type}")
