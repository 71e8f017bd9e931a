"""Fuzz harnesses: each takes arbitrary bytes and raises only on a bug.

What may come out of the code under test, and nothing else:

- `frame`: `decode_frame` returns a frame or "need more bytes", or raises a
  `ProtocolSyntaxError` subclass; a decoded frame marshals and decodes back
  to the same frame.
- `table`: `decode_table`/`decode_value` return a value or raise a
  `ProtocolSyntaxError` subclass; a decoded table encodes again and decodes
  to the same values.
- `engine`: an engine (with a `max_message_size`) that started a
  connection, fed the bytes as the broker's side of the stream, never
  raises; it reports a protocol error by closing the connection (and its
  output is always well-formed frames); the events are the same whether
  the bytes arrive at once or in pieces;
  the last event after the stream is lost is `ConnectionClosed` carrying an
  `AMQPConnectionError`.
"""

from __future__ import annotations

from typing import Any, Callable

from pika import data, exceptions, frame
from pika.credentials import PlainCredentials
from pika.engine import ConnectionEngine, EngineConfig, events
from pika.engine.connection_engine import CLOSED, CLOSING

#: The channels the engine harness opens once the connection is open (the
#: transcript tests use 1 and 2).
CHANNELS = (1, 2)
#: The engine harness's max_message_size: the seeds hold messages on both sides.
MAX_MESSAGE_SIZE = 10_000


def frame_target(payload: bytes) -> None:
    """Decode every frame in ``payload``; check each round-trips."""
    offset = 0
    while offset < len(payload):
        try:
            consumed, decoded = frame.decode_frame(payload, offset)
        except exceptions.ProtocolSyntaxError:
            return
        if not consumed:
            return
        if isinstance(decoded, frame.Frame):
            again = frame.decode_frame(decoded.marshal())[1]
            assert repr(again) == repr(decoded), (again, decoded)
        offset += consumed


def table_target(payload: bytes) -> None:
    """Decode ``payload`` as a field table and as one field value."""
    try:
        table, _end = data.decode_table(payload, 0)
    except exceptions.ProtocolSyntaxError:
        table = None
    if table is not None:
        pieces: list[bytes] = []
        data.encode_table(pieces, table)
        again, _end = data.decode_table(b"".join(pieces), 0)
        assert repr(again) == repr(table), (again, table)
    try:
        data.decode_value(payload, 0)
    except exceptions.ProtocolSyntaxError:
        pass


def _summary(event: events.Event) -> str:
    if isinstance(event, events.ConnectionClosed):
        error = event.error
        assert isinstance(error, exceptions.AMQPConnectionError), repr(error)
        return f"ConnectionClosed({type(error).__name__}: {error})"
    return repr(event)


def _check_output(engine: ConnectionEngine) -> None:
    """What the engine queued for the wire must be well-formed frames."""
    out = b"".join(bytes(chunk) for chunk in engine.take_output())
    offset = 0
    while offset < len(out):
        consumed, _decoded = frame.decode_frame(out, offset)
        assert consumed, f"the engine queued an incomplete frame: {out[offset:]!r}"
        offset += consumed


def run_engine(pieces: list[bytes], lend: bool = False) -> list[str]:
    """Feed ``pieces`` to a started engine as the broker's bytes, then lose
    the stream; returns a summary of every event. With ``lend`` the bytes
    are written into the memory the engine lends (as socket transports do)."""
    engine = ConnectionEngine(
        EngineConfig(
            credentials=PlainCredentials("guest", "guest"),
            heartbeat=0,
            max_message_size=MAX_MESSAGE_SIZE,
        )
    )
    engine.start(0.0)
    _check_output(engine)
    seen: list[str] = []
    for piece in pieces:
        if engine.state in (CLOSING, CLOSED):
            # After a protocol error the rest of the stream cannot be trusted;
            # the engine drops what was buffered, so stop where both ways agree.
            break
        if not lend:
            engine.receive_data(piece)
            _drain(engine, seen)
            continue
        view = memoryview(piece)
        while view and engine.state not in (CLOSING, CLOSED):
            lent = engine.get_buffer(-1)
            count = min(len(lent), len(view))
            assert count, "the engine lent an empty buffer"
            lent[:count] = view[:count]
            engine.buffer_updated(count)
            view = view[count:]
            _drain(engine, seen)
    engine.connection_lost(None)
    _drain(engine, seen)
    assert seen and seen[-1].startswith("ConnectionClosed("), seen[-3:]
    assert sum(s.startswith("ConnectionClosed(") for s in seen) == 1, seen
    return seen


def _drain(engine: ConnectionEngine, seen: list[str]) -> None:
    while (event := engine.next_event()) is not None:
        seen.append(_summary(event))
        if isinstance(event, events.ConnectionOpened):
            # As an application would: within the channel_max agreed in Tune.
            for number in CHANNELS:
                if number <= engine.channel_max:
                    engine.open_channel(number)
        _check_output(engine)


def engine_target(payload: bytes) -> None:
    """The broker's side of a stream, at once and in pieces: same events."""
    whole = run_engine([payload])
    # Small pieces, but no more than a few hundred of them for long inputs.
    step = max(1 + (payload[-1] % 13 if payload else 0), len(payload) // 300)
    pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
    split = run_engine(pieces)
    assert whole == split, (whole, split)
    lent = run_engine(pieces, lend=True)
    assert whole == lent, (whole, lent)


TARGETS: dict[str, Callable[[bytes], Any]] = {
    "frame": frame_target,
    "table": table_target,
    "engine": engine_target,
}
