"""max_message_size in the engine: byte transcripts, no socket."""

from __future__ import annotations

import pytest

from pika import frame, spec
from pika.engine import events
from pika.parameters import ConnectionParameters
from tests.unit.test_engine import (
    content_bytes,
    feed,
    method_bytes,
    open_channel,
    open_engine,
    violation_close,
)

DELIVER = spec.Basic.Deliver("ctag", 7, False, "ex", "rk")


def test_default_cap_is_128_mib_and_zero_means_none() -> None:
    assert ConnectionParameters().max_message_size == 128 * 1024 * 1024
    assert ConnectionParameters(max_message_size=0).max_message_size == 0


@pytest.mark.parametrize("frame_max", [4096, 131072])
def test_a_message_over_the_cap_is_reported_not_kept(frame_max: int) -> None:
    engine = open_engine(frame_max=frame_max, max_message_size=10_000)
    open_channel(engine)
    data = content_bytes(1, DELIVER, b"x" * 10_001, frame_max=frame_max, content_type="a/b")
    (event,) = feed(engine, data)
    assert isinstance(event, events.ContentTooLarge)
    assert (event.channel_number, event.body_size) == (1, 10_001)
    assert event.method == DELIVER
    assert event.properties.content_type == "a/b"
    # The next message is delivered as usual.
    (event,) = feed(engine, content_bytes(1, DELIVER, b"small"))
    assert isinstance(event, events.ContentReceived)
    assert event.body == b"small"


def test_body_frames_over_the_cap_are_counted_not_buffered() -> None:
    engine = open_engine(frame_max=4096, max_message_size=5000)
    open_channel(engine)
    data = content_bytes(1, DELIVER, b"y" * 20_000, frame_max=4096)
    # The method, the header and three of the five body frames.
    cut = len(method_bytes(1, DELIVER)) + len(
        frame.Header(1, 20_000, spec.BasicProperties()).marshal()
    )
    cut += 3 * 4096
    assert feed(engine, data[:cut]) == []
    chan = engine._channels[1]
    assert chan.chunks == []
    assert chan.received == 3 * (4096 - 8)
    (event,) = feed(engine, data[cut:])
    assert isinstance(event, events.ContentTooLarge)
    assert event.body_size == 20_000


def test_a_message_at_the_cap_is_delivered() -> None:
    engine = open_engine(max_message_size=100)
    open_channel(engine)
    (event,) = feed(engine, content_bytes(1, DELIVER, b"z" * 100))
    assert isinstance(event, events.ContentReceived)
    assert len(event.body) == 100


def test_no_cap_with_zero() -> None:
    engine = open_engine(frame_max=4096, max_message_size=0)
    open_channel(engine)
    (event,) = feed(engine, content_bytes(1, DELIVER, b"w" * 50_000, frame_max=4096))
    assert isinstance(event, events.ContentReceived)
    assert len(event.body) == 50_000


def test_a_discarded_body_longer_than_declared_is_still_a_frame_error() -> None:
    engine = open_engine(max_message_size=10)
    open_channel(engine)
    data = (
        method_bytes(1, DELIVER)
        + frame.Header(1, 20, spec.BasicProperties()).marshal()
        + frame.Body(1, b"v" * 21).marshal()
    )
    assert feed(engine, data) == []
    assert violation_close(engine).reply_code == spec.FRAME_ERROR


def test_frames_over_frame_max_still_close_the_connection() -> None:
    engine = open_engine(frame_max=4096, max_message_size=10)
    open_channel(engine)
    feed(engine, method_bytes(1, DELIVER) + b"\x03\x00\x01\x00\x01\x00\x00")
    assert violation_close(engine).reply_code == spec.FRAME_ERROR
