"""The broker's side of an AMQP conversation, as steps of a `ScriptedServer` script.

`handshake` plays a successful connection handshake, `open_channel_one`
answers a Channel.Open; `frames` and `method_frame` are expectations that
wait for whole frames from the client.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pika import frame, spec
from pika.amqp_object import Method
from tests.utils.fake_server import Script

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


def method_bytes(channel: int, method: Method) -> bytes:
    return frame.Method(channel, method).marshal()


def frames(count: int) -> Callable[[bytes], bool]:
    """An expectation: ``count`` whole frames (or more) have arrived."""

    def complete(data: bytes) -> bool:
        offset = seen = 0
        while len(data) - offset >= 7:
            (size,) = struct.unpack_from(">I", data, offset + 3)
            if len(data) - offset < size + 8:
                break
            offset += size + 8
            seen += 1
        return seen >= count and offset == len(data)

    return complete


def method_frame(channel: int, method_type: type[Method]) -> Callable[[bytes], bool]:
    """An expectation: whole frames ending with ``method_type`` on ``channel``."""

    def complete(data: bytes) -> bool:
        offset, last = 0, None
        while len(data) - offset >= 7:
            kind, number, size = struct.unpack_from(">BHI", data, offset)
            if len(data) - offset < size + 8:
                return False
            if kind == spec.FRAME_METHOD:
                last = (number, struct.unpack_from(">I", data, offset + 7)[0])
            offset += size + 8
        return offset == len(data) and last == (channel, method_type.INDEX)

    return complete


START = spec.Connection.Start(
    server_properties={
        "product": "fake broker",
        "capabilities": {"publisher_confirms": True, "basic.nack": True},
    },
    mechanisms=b"PLAIN",
    locales=b"en_US",
)


def handshake(script: Script, heartbeat: int = 0, frame_max: int = 131072) -> Script:
    """The broker's side of a successful connection handshake."""
    return (
        script.expect(PROTOCOL_HEADER)
        .send(method_bytes(0, START))
        .expect(frames(1))  # Start-Ok
        .send(method_bytes(0, spec.Connection.Tune(2047, frame_max, heartbeat)))
        .expect(frames(2))  # Tune-Ok, Open
        .send(method_bytes(0, spec.Connection.OpenOk()))
    )


def open_channel_one(script: Script) -> Script:
    return script.expect(method_frame(1, spec.Channel.Open)).send(
        method_bytes(1, spec.Channel.OpenOk())
    )
