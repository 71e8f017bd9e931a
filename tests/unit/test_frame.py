"""Frames: marshalling, decoding, incomplete input, and a fuzz run of
random and mutated frames through the decoder and the engine."""

from __future__ import annotations

import random

import pytest

from pika import exceptions, frame, spec
from pika.credentials import PlainCredentials
from pika.engine import ConnectionEngine, EngineConfig, events

FUZZ_FRAMES = 100_000
ENGINE_FUZZ_STREAMS = 3_000


def corpus() -> list[bytes]:
    """Valid frames of every kind: each method with default arguments (where
    they encode), content headers with assorted properties, bodies, heartbeat."""
    frames = []
    for method_class in spec.methods.values():
        try:
            frames.append(frame.Method(1, method_class()).marshal())
        except (TypeError, ValueError):
            continue  # arguments without defaults (None) do not encode
    frames.append(frame.Method(1, spec.Basic.Deliver("ctag", 7, True, "ex", "rk")).marshal())
    frames.append(frame.Method(0, spec.Connection.Close(320, "bye", 0, 0)).marshal())
    for props in (
        spec.BasicProperties(),
        spec.BasicProperties(delivery_mode=2, content_type="text/plain"),
        spec.BasicProperties(headers={"a": 1, "b": [1, "x", {"c": None}]}, priority=3),
        spec.BasicProperties(timestamp=1700000000, message_id="m", expiration="60000"),
    ):
        frames.append(frame.Header(1, 10, props).marshal())
    frames.append(frame.Body(1, b"0123456789").marshal())
    frames.append(frame.Heartbeat().marshal())
    return frames


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and buf:
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == 1:
        del buf[rng.randrange(len(buf) + 1) :]
    elif kind == 2:
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 3 and len(buf) > 7:
        # A size field that lies, with the payload otherwise intact.
        buf[3:7] = rng.randrange(2**32).to_bytes(4, "big")
    elif kind == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    else:
        buf += rng.choice(corpus_cache)
    return bytes(buf)


corpus_cache = corpus()


@pytest.mark.parametrize("index", range(len(corpus_cache)))
def test_every_corpus_frame_decodes_whole_and_waits_on_every_prefix(index: int) -> None:
    data = corpus_cache[index]
    consumed, value = frame.decode_frame(data)
    assert consumed == len(data) and value is not None
    assert value.marshal() == data
    for cut in range(len(data)):
        assert frame.decode_frame(data[:cut]) == (0, None)


def test_decode_frame_at_an_offset() -> None:
    data = b"junk" + frame.Heartbeat().marshal()
    consumed, value = frame.decode_frame(data, 4)
    assert consumed == 8 and isinstance(value, frame.Heartbeat)


def test_protocol_header() -> None:
    consumed, value = frame.decode_frame(b"AMQP\x00\x00\x09\x01")
    assert consumed == 8 and isinstance(value, frame.ProtocolHeader)
    assert (value.major, value.minor, value.revision) == (0, 9, 1)
    assert value.marshal() == b"AMQP\x00\x00\x09\x01"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x08\x00\x00\x00\x00\x00\x00\xcf", "frame-end"),
        (b"\x09\x00\x00\x00\x00\x00\x00\xce", "unknown frame type"),
        (b"\x08\x00\x00\x00\x00\x00\x01x\xce", "heartbeat frame with a payload"),
        (b"\x01\x00\x01\x00\x00\x00\x02\x00\x3c\xce", "shorter than its 4-byte method id"),
        (b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x03\xe7\xce", "unknown method"),
        (b"\x02\x00\x01\x00\x00\x00\x02\x00\x3c\xce", "content header shorter"),
    ],
)
def test_malformed_frames_raise_invalid_frame_error(data: bytes, message: str) -> None:
    with pytest.raises(exceptions.InvalidFrameError, match=message):
        frame.decode_frame(data)


def test_declared_size_over_the_limit_is_refused_from_the_envelope() -> None:
    with pytest.raises(exceptions.InvalidFrameError, match="exceeds the frame_max"):
        frame.decode_frame(b"\x03\x00\x01\x00\x10\x00\x00", max_frame_size=4096)


def test_fuzz_decoder_with_random_and_mutated_frames() -> None:
    """Any input decodes, asks for more, or raises ProtocolSyntaxError."""
    rng = random.Random(20261122)
    outcomes = {"frame": 0, "more": 0, "error": 0}
    for _ in range(FUZZ_FRAMES):
        data = mutate(rng, rng.choice(corpus_cache))
        try:
            consumed, value = frame.decode_frame(data, max_frame_size=131072)
        except exceptions.ProtocolSyntaxError:
            outcomes["error"] += 1
            continue
        if value is None:
            assert consumed == 0
            outcomes["more"] += 1
        else:
            assert 0 < consumed <= len(data)
            outcomes["frame"] += 1
    # The mutations reach all three outcomes in quantity.
    assert min(outcomes.values()) > FUZZ_FRAMES // 20, outcomes


def _open_engine() -> ConnectionEngine:
    engine = ConnectionEngine(EngineConfig(credentials=PlainCredentials("g", "g")))
    engine.start(0.0)
    script = [
        spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN"),
        spec.Connection.Tune(0, 131072, 0),
        spec.Connection.OpenOk(),
    ]
    for method in script:
        engine.receive_data(frame.Method(0, method).marshal())
        while engine.next_event() is not None:
            pass
    engine.open_channel(1)
    engine.receive_data(frame.Method(1, spec.Channel.OpenOk()).marshal())
    assert isinstance(engine.next_event(), events.ChannelOpened)
    engine.take_output()
    return engine


def test_fuzz_engine_with_mutated_streams() -> None:
    """Whatever the broker sends, the engine yields events or closes the
    connection with a protocol error; it never raises."""
    rng = random.Random(7)
    closed = 0
    for _ in range(ENGINE_FUZZ_STREAMS):
        engine = _open_engine()
        stream = b"".join(
            mutate(rng, rng.choice(corpus_cache))
            if rng.random() < 0.3
            else rng.choice(corpus_cache)
            for _ in range(rng.randint(1, 6))
        )
        for start in range(0, len(stream), 97):
            engine.receive_data(stream[start : start + 97])
            while (event := engine.next_event()) is not None:
                assert isinstance(event, events.Event)
        engine.take_output()
        closed += engine.state in ("CLOSING", "CLOSED")
    assert closed > ENGINE_FUZZ_STREAMS // 10
