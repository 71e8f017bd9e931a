"""The fuzzers' starting corpus, taken from the engine's transcript tests.

``python -m tests.fuzz.seeds DIR`` runs tests/unit/test_engine.py with
`ConnectionEngine.receive_data` recording, and writes into ``DIR/engine``
each engine's whole inbound stream, into ``DIR/frame`` each frame of those
streams, and into ``DIR/table`` the field tables found in their methods and
content headers plus a table holding every field type.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pika import data, frame, spec
from pika.engine import ConnectionEngine

TRANSCRIPT_TESTS = pathlib.Path(__file__).resolve().parents[1] / "unit" / "test_engine.py"

#: One value of each field type the codec knows.
EVERY_TYPE: dict[str, Any] = {
    "bool": True,
    "int8": -3,
    "int32": 70000,
    "int64": 2**40,
    "float": 1.5,
    "decimal": decimal.Decimal("3.14"),
    "str": "text",
    "bytes": b"\x00\xff",
    "time": datetime.datetime(2024, 1, 2, 3, 4, 5),
    "table": {"nested": {"deeper": [1, "a", None]}},
    "array": [1, [2, 3], {"k": "v"}],
    "none": None,
}


class _Recorder:
    """A pytest plugin that keeps every engine's inbound bytes."""

    def __init__(self) -> None:
        self.streams: dict[int, bytearray] = {}
        self._engines: list[ConnectionEngine] = []  # kept alive so ids stay unique

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        original = ConnectionEngine.receive_data
        streams = self.streams
        engines = self._engines

        def receive_data(engine: ConnectionEngine, chunk: bytes | bytearray) -> None:
            if id(engine) not in streams:
                engines.append(engine)
                streams[id(engine)] = bytearray()
            streams[id(engine)] += bytes(chunk)
            original(engine, chunk)

        ConnectionEngine.receive_data = receive_data  # type: ignore[method-assign,assignment]
        try:
            return (yield)
        finally:
            ConnectionEngine.receive_data = original  # type: ignore[method-assign]


def record_transcripts() -> list[bytes]:
    """The inbound stream of every engine the transcript tests drove."""
    recorder = _Recorder()
    status = pytest.main(
        [str(TRANSCRIPT_TESTS), "-q", "-p", "no:cacheprovider", "-o", "addopts="],
        plugins=[recorder],
    )
    if status != 0:
        raise RuntimeError(f"the transcript tests failed (pytest exit {status})")
    return [bytes(stream) for stream in recorder.streams.values() if stream]


def frames_of(stream: bytes) -> Iterator[bytes]:
    """Each whole frame of ``stream``, as bytes, until one does not decode."""
    offset = 0
    while offset < len(stream):
        try:
            consumed, _decoded = frame.decode_frame(stream, offset)
        except Exception:
            return
        if not consumed:
            return
        yield stream[offset : offset + consumed]
        offset += consumed


def tables_of(frame_bytes: bytes) -> Iterator[bytes]:
    """The encoded field tables inside one method or content-header frame."""
    _consumed, decoded = frame.decode_frame(frame_bytes)
    values: list[Any] = []
    if isinstance(decoded, frame.Method):
        values = [value for _name, value in decoded.method._fields()]
    elif isinstance(decoded, frame.Header):
        values = [decoded.properties.headers]
    for value in values:
        if isinstance(value, dict):
            pieces: list[bytes] = []
            data.encode_table(pieces, value)
            yield b"".join(pieces)


def build(directory: pathlib.Path) -> dict[str, int]:
    """Write the three corpora under ``directory``; returns how many seeds each got."""
    corpora: dict[str, set[bytes]] = {"engine": set(), "frame": set(), "table": set()}
    every: list[bytes] = []
    data.encode_table(every, EVERY_TYPE)
    corpora["table"].add(b"".join(every))
    for stream in record_transcripts():
        corpora["engine"].add(stream)
        for one in frames_of(stream):
            corpora["frame"].add(one)
            corpora["table"].update(tables_of(one))
    corpora["frame"].add(frame.Heartbeat().marshal())
    corpora["frame"].add(frame.ProtocolHeader().marshal())
    corpora["frame"].add(
        frame.Header(1, 5, spec.BasicProperties(headers=EVERY_TYPE, priority=3)).marshal()
    )
    for name, seeds in corpora.items():
        target = directory / name
        target.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (target / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    return {name: len(seeds) for name, seeds in corpora.items()}


if __name__ == "__main__":
    counts = build(pathlib.Path(sys.argv[1]))
    print(" ".join(f"{name}={count}" for name, count in counts.items()))
