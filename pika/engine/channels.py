"""The engine's state of one channel number, and how a channel opening ends
(Channel.OpenOk; in AMQP 0-8 then the Access.RequestOk with its ticket)."""

from __future__ import annotations

import struct
from typing import Union

from pika import amqp_object, spec
from pika.engine.outbound import FrameWriter
from pika.engine.rules import ProtocolViolation
from pika.states import EngineChannelState

_CHANNEL_OPEN_OK = spec.Channel.OpenOk.INDEX
_BARE_HEADER = struct.Struct(">BHIHH")
_BARE_MIDDLE = struct.Struct(">HBBH")


class EngineChannel:
    """Per-channel protocol state, including a message being reassembled."""

    __slots__ = (
        "bare_header",
        "bare_middle",
        "body_size",
        "chunks",
        "close_code",
        "close_text",
        "content_method",
        "discarding",
        "number",
        "properties",
        "received",
        "state",
        "ticket",
    )

    def __init__(self, number: int) -> None:
        self.number = number
        self.state: EngineChannelState = EngineChannelState.OPENING
        self.content_method: amqp_object.Method | None = None
        self.properties: spec.BasicProperties | None = None
        self.body_size = 0
        self.received = 0
        # The body frames received so far (views or copies; see pika.engine.inbound).
        self.chunks: list[Union[bytes, bytearray, memoryview]] = []
        # The body being received is over max_message_size: count, do not keep.
        self.discarding = False
        self.close_code = 0
        self.close_text = ""
        # AMQP 0-8: the access ticket (None until Access.Request was sent).
        self.ticket: int | None = None
        # How a content header without properties starts on this channel
        # (envelope, class, weight), and what follows its body size up to
        # the size of a body frame (no property flags, frame end, the body
        # frame's type and channel): see pika.engine.content.
        self.bare_header = _BARE_HEADER.pack(spec.FRAME_HEADER, number, 14, spec.Basic.INDEX, 0)
        self.bare_middle = _BARE_MIDDLE.pack(0, spec.FRAME_END, spec.FRAME_BODY, number)


def channel_opened(
    chan: EngineChannel, method: amqp_object.Method, access_ticket: bool, writer: FrameWriter
) -> bool:
    """Channel.OpenOk or Access.RequestOk arrived on the opening ``chan``:
    whether the channel is now open.

    With ``access_ticket`` (AMQP 0-8) the OpenOk is answered with an
    Access.Request, and the channel opens with the Access.RequestOk, whose
    ticket later methods and publishes carry.

    Raises:
        ProtocolViolation: a second OpenOk, or a RequestOk nobody asked for.
    """
    if method.INDEX == _CHANNEL_OPEN_OK:
        if chan.ticket is not None:
            raise ProtocolViolation(
                spec.UNEXPECTED_FRAME, f"second OpenOk on channel {chan.number}", method.INDEX
            )
        if access_ticket:
            chan.ticket = 0
            writer.method(chan.number, spec.Access.Request("/data", False, True, True, True, True))
            return False
        return True
    if chan.ticket is None:
        raise ProtocolViolation(
            spec.UNEXPECTED_FRAME,
            f"{method.NAME} on channel {chan.number}, which asked for no ticket",
            method.INDEX,
        )
    chan.ticket = int(method.ticket)  # type: ignore[attr-defined]
    writer.set_ticket(chan.number, chan.ticket)
    return True
