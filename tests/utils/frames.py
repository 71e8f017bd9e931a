"""Byte transcripts of AMQP frames for tests: encode what a broker sends,
decode what a client wrote.

Used by the engine's transcript tests and by the in-memory transport
(`tests.utils.memory_transport`).
"""

from __future__ import annotations

from typing import Any, Union

from pika import frame, spec

#: One decoded unit of a client's output.
Decoded = Union[frame.Frame, frame.ProtocolHeader]


def method_bytes(channel: int, method: Any) -> bytes:
    """The wire form of ``method`` as a method frame on ``channel``."""
    return frame.Method(channel, method).marshal()


def content_bytes(
    channel: int, method: Any, body: bytes, frame_max: int = 131072, **props: Any
) -> bytes:
    """A content method with its header and body frames (``body`` split by
    ``frame_max``); ``props`` are `pika.spec.BasicProperties` fields."""
    out = method_bytes(channel, method)
    out += frame.Header(channel, len(body), spec.BasicProperties(**props)).marshal()
    step = frame_max - 8
    for start in range(0, len(body), step):
        out += frame.Body(channel, body[start : start + step]).marshal()
    return out


def decode_all(data: bytes | bytearray) -> list[Decoded]:
    """Every frame in ``data``, which must end on a frame boundary."""
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    assert not decoder.pending, f"incomplete frame at the end: {bytes(decoder.pending)!r}"
    return frames


class FrameDecoder:
    """Decodes a byte stream fed in pieces of any size into frames."""

    def __init__(self) -> None:
        #: Bytes received that do not yet make a whole frame.
        self.pending = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Decoded]:
        """Add ``data``; return the frames it completed, in order."""
        self.pending += data
        frames: list[Decoded] = []
        offset = 0
        while offset < len(self.pending):
            consumed, value = frame.decode_frame(self.pending, offset)
            if not consumed or value is None:
                break
            frames.append(value)
            offset += consumed
        del self.pending[:offset]
        return frames
