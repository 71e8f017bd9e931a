"""Received bytes into the engine: bodies around frame_max, reads split
anywhere, reads into memory the engine lends (`get_buffer`/`buffer_updated`)."""

from __future__ import annotations

import random
import struct
from typing import Callable

import pytest

from pika import exceptions, spec
from pika.engine import ConnectionEngine, events
from pika.engine.inbound import LARGE_FRAME, READ_SIZE, Buffer
from pika.frame import decode_method
from pika.states import EngineState
from tests.unit.test_engine import drain, feed, open_channel, open_engine, violation_close
from tests.utils.frames import content_bytes

pytestmark = pytest.mark.timeout(60)

FRAME_MAX = 131072
BODY_MAX = FRAME_MAX - 8


def body_of(size: int, seed: int = 0) -> bytes:
    return bytes((seed + i * 7) % 251 for i in range(256)) * (size // 256) + b"z" * (size % 256)


def delivery(size: int, tag: int = 1, channel: int = 1, seed: int = 0) -> tuple[bytes, bytes]:
    body = body_of(size, seed)
    deliver = spec.Basic.Deliver("ctag", tag, False, "ex", "rk")
    return content_bytes(channel, deliver, body, frame_max=FRAME_MAX), body


def lend_reads(engine: ConnectionEngine, data: bytes, most: int) -> list[events.Event]:
    """Feed ``data`` through get_buffer/buffer_updated, at most ``most`` bytes a read."""
    out: list[events.Event] = []
    pos = 0
    while pos < len(data):
        view = engine.get_buffer(-1)
        assert len(view) > 0 and not view.readonly
        count = min(len(view), most, len(data) - pos)
        view[:count] = data[pos : pos + count]
        engine.buffer_updated(count)
        pos += count
        out += drain(engine)
    return out


def given_reads(engine: ConnectionEngine, data: bytes, most: int) -> list[events.Event]:
    out: list[events.Event] = []
    for start in range(0, len(data), most):
        out += feed(engine, data[start : start + most])
    return out


FEEDERS: dict[str, Callable[[ConnectionEngine, bytes, int], list[events.Event]]] = {
    "lend": lend_reads,
    "given": given_reads,
}

SIZES = [
    1,
    BODY_MAX - 1,
    BODY_MAX,
    BODY_MAX + 1,
    3 * BODY_MAX,
    3 * BODY_MAX + 1,
    2 * BODY_MAX,
    8 * BODY_MAX - 1,
    8 * BODY_MAX,
    1024 * 1024,
]


# Reads of 7 bytes are tried on the smaller bodies only (a million reads say nothing more).
READS = [
    (most, size)
    for most in (7, 4096, 65536 + 3, READ_SIZE, 10**9)
    for size in SIZES
    if most > 7 or size <= 3 * BODY_MAX + 1
]


@pytest.mark.parametrize("feeder", sorted(FEEDERS))
@pytest.mark.parametrize(("most", "size"), READS)
def test_bodies_around_frame_max_arrive_whole(feeder: str, most: int, size: int) -> None:
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine)
    first, body1 = delivery(size, 1, seed=1)
    second, body2 = delivery(size, 2, seed=2)
    evs = FEEDERS[feeder](engine, first + second, most)
    assert [type(e) for e in evs] == [events.ContentReceived] * 2
    assert [e.body for e in evs] == [body1, body2]  # type: ignore[attr-defined]
    assert all(type(e.body) is bytes for e in evs)  # type: ignore[attr-defined]


def frame_starts(data: bytes) -> list[int]:
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += 8 + int.from_bytes(data[pos + 3 : pos + 7], "big")
    return starts


@pytest.mark.parametrize("feeder", sorted(FEEDERS))
def test_a_read_may_end_anywhere_in_a_frame_envelope(feeder: str) -> None:
    data, body = delivery(3 * BODY_MAX + 100)
    data += delivery(10, 2)[0]
    for start in frame_starts(data):
        for offset in range(9):
            cut = start + offset
            engine = open_engine(frame_max=FRAME_MAX)
            open_channel(engine)
            evs = FEEDERS[feeder](engine, data[:cut], 10**9)
            evs += FEEDERS[feeder](engine, data[cut:], 10**9)
            assert [len(e.body) for e in evs] == [len(body), 10], (start, offset)  # type: ignore[attr-defined]
            assert evs[0].body == body  # type: ignore[attr-defined]


def test_a_large_frame_is_completed_in_a_buffer_of_its_size() -> None:
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine)
    data, body = delivery(2 * BODY_MAX)
    engine.receive_data(data[:1000])
    assert drain(engine) == []
    # The first body frame is incomplete: the engine lends exactly its rest.
    first_body_frame = frame_starts(data)[2]
    rest = first_body_frame + FRAME_MAX - 1000
    view = engine.get_buffer(-1)
    assert len(view) == rest
    half = rest // 2
    view[:half] = data[1000 : 1000 + half]
    engine.buffer_updated(half)
    assert drain(engine) == []
    # A short read: the next one goes on in the same buffer, nothing moves.
    more = engine.get_buffer(-1)
    assert len(more) == rest - half and more.obj is view.obj
    more[:] = data[1000 + half : 1000 + rest]
    engine.buffer_updated(rest - half)
    assert drain(engine) == []
    # Between the body frames of a message, the next one is read whole
    # into a buffer of its size.
    following = engine.get_buffer(-1)
    assert len(following) == FRAME_MAX and following.obj is not view.obj
    evs = lend_reads(engine, data[1000 + rest :], 10**9)
    assert [e.body for e in evs] == [body]  # type: ignore[attr-defined]
    # With no large frame in progress, reads go to the scratch buffer.
    assert len(engine.get_buffer(-1)) == READ_SIZE


def test_small_frames_use_the_scratch_buffer() -> None:
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine)
    data, body = delivery(LARGE_FRAME - 100)
    engine.receive_data(data[:20])
    assert len(engine.get_buffer(-1)) == READ_SIZE
    assert [e.body for e in lend_reads(engine, data[20:], 10**9)] == [body]  # type: ignore[attr-defined]


def test_interleaved_channels_keep_their_bodies_apart() -> None:
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine, 1)
    open_channel(engine, 2)
    one, body1 = delivery(3 * BODY_MAX + 5, 1, channel=1, seed=3)
    two, body2 = delivery(2 * BODY_MAX + 9, 1, channel=2, seed=4)
    frames1 = [
        one[s : s + 8 + int.from_bytes(one[s + 3 : s + 7], "big")] for s in frame_starts(one)
    ]
    frames2 = [
        two[s : s + 8 + int.from_bytes(two[s + 3 : s + 7], "big")] for s in frame_starts(two)
    ]
    mixed = b""
    while frames1 or frames2:
        if frames1:
            mixed += frames1.pop(0)
        if frames2:
            mixed += frames2.pop(0)
    evs = lend_reads(engine, mixed, 50_000)
    assert {e.channel_number: e.body for e in evs} == {1: body1, 2: body2}  # type: ignore[attr-defined]


def test_bodies_kept_by_the_application_stay_intact() -> None:
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine)
    stream, bodies = b"", []
    for tag in range(1, 6):
        data, body = delivery(2 * BODY_MAX + tag * 1000, tag, seed=tag)
        stream += data
        bodies.append(body)
    evs = lend_reads(engine, stream, 100_000)
    assert [e.body for e in evs] == bodies  # type: ignore[attr-defined]


def test_oversized_frame_is_refused_through_lent_buffers_too() -> None:
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine)
    envelope = (
        bytes((spec.FRAME_BODY,)) + (1).to_bytes(2, "big") + (FRAME_MAX * 4).to_bytes(4, "big")
    )
    # The hostile size is not honoured with a buffer of that size.
    engine.receive_data(envelope)
    assert len(engine.get_buffer(-1)) == READ_SIZE
    assert lend_reads(engine, b"\x00" * 10, 10**9) == []
    close = violation_close(engine)
    assert close.reply_code == spec.FRAME_ERROR
    assert "exceeds the frame_max" in close.reply_text


def test_message_over_the_cap_is_discarded_through_lent_buffers() -> None:
    engine = open_engine(frame_max=FRAME_MAX, max_message_size=2 * BODY_MAX)
    open_channel(engine)
    big, _ = delivery(3 * BODY_MAX, 1)
    small, body = delivery(BODY_MAX + 1, 2)
    evs = lend_reads(engine, big + small, 70_000)
    assert [type(e) for e in evs] == [events.ContentTooLarge, events.ContentReceived]
    assert evs[1].body == body  # type: ignore[attr-defined]


def frames_of(data: bytes) -> list[bytes]:
    return [
        data[s : s + 8 + int.from_bytes(data[s + 3 : s + 7], "big")] for s in frame_starts(data)
    ]


@pytest.mark.parametrize("most", [10**9, 30_000])
def test_another_frame_where_the_next_body_frame_was_expected(most: int) -> None:
    # The buffer lent for channel 1's last body frame (70 kB) gets the start
    # of channel 2's larger body frame instead.
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine, 1)
    open_channel(engine, 2)
    one, body1 = delivery(BODY_MAX + 70_000, 1, channel=1, seed=5)
    two, body2 = delivery(2 * BODY_MAX, 1, channel=2, seed=6)
    m1, h1, b11, b12 = frames_of(one)
    m2, h2, b21, b22 = frames_of(two)
    stream = m2 + h2 + m1 + h1 + b11 + b21 + b12 + b22
    evs = lend_reads(engine, stream, most)
    assert {e.channel_number: e.body for e in evs} == {1: body1, 2: body2}  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(24))
def test_random_streams_and_reads(seed: int) -> None:
    """Channels interleaving whole frames, bodies of any size, reads of any
    length, by lending and by handing bytes over, mixed."""
    rng = random.Random(seed)
    engine = open_engine(frame_max=FRAME_MAX)
    queues: dict[int, list[bytes]] = {1: [], 2: [], 3: []}
    expected: dict[int, list[bytes]] = {1: [], 2: [], 3: []}
    for channel in queues:
        open_channel(engine, channel)
        for tag in range(1, 5):
            size = rng.choice([0, 1, 100, LARGE_FRAME - 9, BODY_MAX, BODY_MAX + 1])
            size = rng.choice([size, rng.randrange(1, 4 * BODY_MAX)])
            data, body = delivery(size, tag, channel=channel, seed=rng.randrange(256))
            queues[channel] += frames_of(data)
            expected[channel].append(body)
    stream = b""
    while any(queues.values()):
        channel = rng.choice([number for number, frames in queues.items() if frames])
        stream += queues[channel].pop(0)
    evs: list[events.Event] = []
    pos = 0
    while pos < len(stream):
        most = rng.choice([1, 7, 8, 100, 5000, 70_000, 300_000])
        if rng.random() < 0.7:
            view = engine.get_buffer(-1)
            assert len(view) > 0
            count = min(len(view), most, len(stream) - pos)
            view[:count] = stream[pos : pos + count]
            engine.buffer_updated(count)
        else:
            count = min(most, len(stream) - pos)
            engine.receive_data(stream[pos : pos + count])
        pos += count
        if rng.random() < 0.7:  # sometimes more bytes come before the events are taken
            evs += drain(engine)
    evs += drain(engine)
    got: dict[int, list[bytes]] = {1: [], 2: [], 3: []}
    for event in evs:
        assert isinstance(event, events.ContentReceived)
        got[event.channel_number].append(event.body)
    assert got == expected


def test_given_bytes_complete_a_large_frame_in_its_own_buffer() -> None:
    # What a transport that reads bytes itself (Twisted) hands over: the
    # rest of a large frame is copied into a buffer of the frame's size, and
    # the bytes after it wait until that frame is parsed.
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine)
    first, body1 = delivery(2 * BODY_MAX, 1, seed=7)
    second, body2 = delivery(300, 2, seed=8)
    stream = first + second
    cut = frame_starts(first)[2] + 1000  # inside the first body frame
    engine.receive_data(stream[:cut])
    assert drain(engine) == []
    engine.receive_data(stream[cut : cut + FRAME_MAX])  # past that frame's end
    engine.receive_data(stream[cut + FRAME_MAX :])  # before the events are taken
    evs = drain(engine)
    assert [e.body for e in evs] == [body1, body2]  # type: ignore[attr-defined]


def test_reads_after_an_event_keep_waiting_bytes_first() -> None:
    # Channel 2's body is under way when channel 1's last frame is completed
    # from given bytes, with channel 2's next bytes waiting behind it; the
    # application takes that one event, then the next read comes through a
    # lent buffer: it must land after the waiting bytes.
    engine = open_engine(frame_max=FRAME_MAX)
    open_channel(engine, 1)
    open_channel(engine, 2)
    one, body1 = delivery(2 * BODY_MAX, 1, channel=1, seed=9)
    two, body2 = delivery(2 * BODY_MAX, 1, channel=2, seed=10)
    m1, h1, b11, b12 = frames_of(one)
    m2, h2, b21, b22 = frames_of(two)
    head = m1 + h1 + b11 + m2 + h2 + b21 + b12[:1000]
    engine.receive_data(head)
    assert drain(engine) == []
    engine.receive_data(b12[1000:] + b22[:100])
    first = engine.next_event()
    assert isinstance(first, events.ContentReceived) and first.body == body1
    evs = lend_reads(engine, b22[100:], 10**9)
    assert [(e.channel_number, e.body) for e in evs] == [(2, body2)]  # type: ignore[attr-defined]


def _deliver_payloads() -> list[bytes]:
    well_formed = [
        spec.Basic.Deliver("ctag", 1, False, "ex", "rk"),
        spec.Basic.Deliver("", 2**64 - 1, True, "", ""),
        spec.Basic.Deliver("t" * 255, 7, True, "e" * 255, "r" * 255),
        spec.Basic.Deliver("étiquette", 3, False, "échange", "clé"),
    ]
    payloads = [struct.pack(">I", m.INDEX) + b"".join(m.encode()) for m in well_formed]
    base = payloads[0]
    payloads += [
        base[:-1],  # routing key cut short
        base + b"x",  # a byte after the routing key
        base[:15],  # shorter than the smallest Deliver
        base[:5] + b"\xff\xfe" + base[7:],  # a consumer tag that is not UTF-8
        struct.pack(">I", spec.Basic.Ack.INDEX) + b"".join(spec.Basic.Ack(5).encode()),
        struct.pack(">I", spec.Basic.Deliver.INDEX) + bytes([200]) + bytes(20),  # tag overruns
    ]
    return payloads


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
@pytest.mark.parametrize("index", range(len(_deliver_payloads())))
def test_deliveries_read_in_place_agree_with_decode_method(
    wrap: Callable[[bytes], Buffer], index: int
) -> None:
    # The delivery shortcut gives what the general decoder gives, or leaves
    # the payload to it (None); it never reads past the payload's end.
    payload = _deliver_payloads()[index]
    data = wrap(b"\x01\x02" + payload + b"\xce\x00\x07")
    start, end = 2, 2 + len(payload)
    try:
        expected: object = vars_of(decode_method(data, start, end))
    except exceptions.AMQPError:
        expected = None
    engine = open_engine()
    open_channel(engine)
    got = engine._delivery(data, start, end, 1)
    if got is None:
        # Views (a large frame's buffer) are left to the general decoder.
        assert index >= 4 or wrap is memoryview, "a well-formed UTF-8 delivery took the slow path"
    else:
        assert type(got) is spec.Basic.Deliver
        assert vars_of(got) == expected


@pytest.mark.parametrize("split", [0, 1, 30])
@pytest.mark.parametrize("index", range(len(_deliver_payloads())))
def test_whole_deliveries_agree_with_the_frame_by_frame_path(split: int, index: int) -> None:
    # A method frame of each payload followed by a header without
    # properties and a body, in one read or with its first ``split`` bytes
    # in a read of their own (the rest is then parsed from a bytearray):
    # the shortcut's event, or its refusal, is the general path's.
    payload = _deliver_payloads()[index]
    method_frame = struct.pack(">BHI", 1, 1, len(payload)) + payload + b"\xce"
    header = struct.pack(">BHIHHQHB", 2, 1, 14, 60, 0, 3, 0, 0xCE)
    data = method_frame + header + struct.pack(">BHI", 3, 1, 3) + b"abc\xce"
    try:
        expected: object = decode_method(payload, 0, len(payload))
    except exceptions.AMQPError:
        expected = None
    engine = open_engine()
    open_channel(engine)
    evs = feed(engine, data[:split]) + feed(engine, data[split:])
    if type(expected) is spec.Basic.Deliver:
        (message,) = evs
        assert isinstance(message, events.ContentReceived)
        assert vars_of(message.method) == vars_of(expected)
        assert message.body == b"abc" and message.properties == spec.BasicProperties()
    else:
        # A protocol violation: the engine closes the connection.
        assert not any(isinstance(event, events.ContentReceived) for event in evs)
        assert engine.state in (EngineState.CLOSING, EngineState.CLOSED)


def vars_of(method: object) -> dict[str, object]:
    return {
        name: getattr(method, name)
        for name in spec.Basic.Deliver.__slots__
        if hasattr(method, name)
    }
