"""`SocketStreamTransport` against a scripted socket: gathered writes the
kernel takes a few bytes at a time, and reads into memory the protocol lends."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Optional, Sequence, cast

import pytest

from pika.adapters.asyncio_connection import _StreamBridge
from pika.adapters.utils import io_services_utils
from pika.adapters.utils.io_services_utils import SocketStreamTransport
from pika.adapters.utils.nbio_interface import (
    AbstractBufferedStreamProtocol,
    AbstractStreamProtocol,
    AbstractStreamTransport,
)

pytestmark = pytest.mark.timeout(30)


class ScriptedSocket:
    """Takes at most ``accept`` bytes per send, hands out ``incoming`` by
    reads of at most ``chunk`` bytes, then would block."""

    def __init__(self, accept: int, incoming: bytes = b"", chunk: int = 1 << 30) -> None:
        self.accept = accept
        self.wire = bytearray()
        self.incoming = memoryview(incoming)
        self.chunk = chunk
        self.sendmsg_calls = 0
        self.read_into: list[object] = []

    def fileno(self) -> int:
        return 99

    def _take(self, data: bytes) -> int:
        taken = data[: self.accept]
        if not taken:
            raise BlockingIOError
        self.wire += taken
        return len(taken)

    def send(self, data: Any) -> int:
        return self._take(bytes(memoryview(data)[: self.accept]))

    def sendmsg(self, buffers: Sequence[Any]) -> int:
        self.sendmsg_calls += 1
        gathered = bytearray()
        for buf in buffers:  # only as far as this kernel takes
            gathered += memoryview(buf)[: self.accept - len(gathered)]
            if len(gathered) >= self.accept:
                break
        return self._take(bytes(gathered))

    def recv_into(self, view: memoryview) -> int:
        if not self.incoming:
            raise BlockingIOError
        count = min(len(view), self.chunk, len(self.incoming))
        view[:count] = self.incoming[:count]
        self.incoming = self.incoming[count:]
        self.read_into.append(view.obj)
        return count

    def close(self) -> None:
        pass


class Loop:
    """The few I/O services the transport calls, recorded."""

    def __init__(self) -> None:
        self.writer: Optional[Callable[[], None]] = None
        self.callbacks: list[Callable[[], None]] = []

    def set_reader(self, fd: int, callback: Callable[[], None]) -> None:
        pass

    def remove_reader(self, fd: int) -> bool:
        return True

    def set_writer(self, fd: int, callback: Callable[[], None]) -> None:
        self.writer = callback

    def remove_writer(self, fd: int) -> bool:
        self.writer = None
        return True

    def add_callback(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)


class Collecting(AbstractStreamProtocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.reads = 0

    def connection_made(self, transport: AbstractStreamTransport) -> None:
        pass

    def connection_lost(self, error: Optional[BaseException]) -> None:
        pass

    def eof_received(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        assert type(data) is bytes
        self.data += data
        self.reads += 1


class Lending(Collecting, AbstractBufferedStreamProtocol):
    """Lends a fresh buffer of ``size`` bytes for each read."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.lent: list[bytearray] = []

    def get_buffer(self, size_hint: int) -> memoryview:
        self.lent.append(bytearray(self.size))
        return memoryview(self.lent[-1])

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.lent[-1][:nbytes]
        self.reads += 1

    def data_received(self, data: bytes) -> None:
        raise AssertionError("a lending protocol gets no data_received")


def transport_for(
    sock: ScriptedSocket, protocol: AbstractStreamProtocol
) -> tuple[SocketStreamTransport, Loop]:
    loop = Loop()
    return SocketStreamTransport(cast(Any, loop), cast(Any, sock), protocol), loop


def drain_writes(transport: SocketStreamTransport, loop: Loop) -> None:
    for _ in range(1_000_000):
        if loop.writer is None:
            return
        loop.writer()
    raise AssertionError("the transport never emptied its queue")


@pytest.mark.parametrize("accept", [1, 5, 8, 4099, 70_000])
def test_gathered_writes_survive_kernels_taking_a_few_bytes(accept: int) -> None:
    sock = ScriptedSocket(accept)
    transport, loop = transport_for(sock, Collecting())
    mutable = bytearray(os.urandom(70_000))
    buffers: list[Any] = [
        b"\x01\x00\x01" + os.urandom(30),
        memoryview(os.urandom(100_000))[3:-3],
        mutable,
        b"\xce",
        os.urandom(io_services_utils.JOIN_LIMIT),
    ]
    expected = b"".join(bytes(buf) for buf in buffers) + b"after"
    transport.writelines(buffers)
    assert sock.sendmsg_calls == 1  # gathered, not joined
    mutable[:] = bytes(len(mutable))  # the caller may reuse its buffer at once
    transport.write(b"after")
    assert transport.get_write_buffer_size() == len(expected) - len(sock.wire)
    drain_writes(transport, loop)
    assert bytes(sock.wire) == expected
    assert transport.get_write_buffer_size() == 0


@pytest.mark.parametrize("size", [1, 3, 7, 8, 4096])
def test_reads_go_into_the_memory_the_protocol_lends(size: int) -> None:
    incoming = os.urandom(20_000)
    sock = ScriptedSocket(0, incoming)
    protocol = Lending(size)
    transport, _loop = transport_for(sock, protocol)
    while sock.incoming:
        transport._on_readable()
    assert bytes(protocol.data) == incoming
    # Every read wrote straight into the protocol's buffer of that read.
    assert sock.read_into == protocol.lent[: len(sock.read_into)]
    assert all(a is b for a, b in zip(sock.read_into, protocol.lent))


def test_a_protocol_that_lends_nothing_gets_bytes() -> None:
    incoming = os.urandom(io_services_utils.READ_BUFFER_SIZE * 2 + 5)
    sock = ScriptedSocket(0, incoming, chunk=100_000)
    protocol = Collecting()
    transport, _loop = transport_for(sock, protocol)
    while sock.incoming:
        transport._on_readable()
    assert bytes(protocol.data) == incoming


@pytest.mark.parametrize("lent", [64 * 1024, 128 * 1024, 1024 * 1024])
def test_one_readiness_event_reads_about_a_mebibyte(lent: int) -> None:
    incoming = os.urandom(3 * io_services_utils.PLAIN_BYTES_PER_EVENT)
    sock = ScriptedSocket(0, incoming)
    protocol = Lending(lent)
    transport, _loop = transport_for(sock, protocol)
    transport._on_readable()
    assert len(protocol.data) == io_services_utils.PLAIN_BYTES_PER_EVENT
    assert protocol.reads == io_services_utils.PLAIN_BYTES_PER_EVENT // lent
    # A short read ends the event at once.
    sock.chunk = 1000
    transport._on_readable()
    assert protocol.reads == io_services_utils.PLAIN_BYTES_PER_EVENT // lent + 1


# asyncio's side: the bridge between asyncio's transport and the pika protocol


class JoiningTransport(asyncio.Transport):
    """An asyncio transport with the default (joining) writelines."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0  # everything written went out at once


class GatheringTransport(JoiningTransport):
    def writelines(self, list_of_data: Any) -> None:
        self.writes.append(b"|".join(bytes(data) for data in list_of_data))


def bridged(transport: asyncio.Transport, protocol: AbstractStreamProtocol) -> Any:
    bridge = _StreamBridge(protocol)
    bridge.connection_made(transport)
    return bridge


def test_bridge_writes_large_buffers_one_by_one_where_asyncio_would_join() -> None:
    transport = JoiningTransport()
    bridge = bridged(transport, Collecting())
    large = [b"head", memoryview(os.urandom(100_000)), bytearray(b"end")]
    bridge.writelines(large)
    assert transport.writes == [bytes(buf) for buf in large]
    transport.writes.clear()
    small = [b"a", b"b", b"c"]
    bridge.writelines(small)
    assert transport.writes == [b"abc"]  # joined by asyncio: cheaper when small


def test_bridge_leaves_gathering_transports_their_writelines() -> None:
    transport = GatheringTransport()
    bridge = bridged(transport, Collecting())
    bridge.writelines([b"x", bytes(100_000)])
    assert transport.writes == [b"x|" + bytes(100_000)]


class BackloggedGatheringTransport(GatheringTransport):
    """A gathering transport that still holds unsent bytes."""

    def get_write_buffer_size(self) -> int:
        return 1


def test_bridge_writes_through_write_behind_a_backlog() -> None:
    # A gathering writelines (Python 3.12+) never checks the high-water
    # mark; write() does, so with a backlog every buffer goes through it.
    transport = BackloggedGatheringTransport()
    bridge = bridged(transport, Collecting())
    buffers = [b"x", bytes(100_000), b"y"]
    bridge.writelines(buffers)
    assert transport.writes == [bytes(buf) for buf in buffers]


def test_bridge_lends_the_protocols_memory_or_hands_on_bytes() -> None:
    lending = Lending(16)
    bridge = bridged(GatheringTransport(), lending)
    view = bridge.get_buffer(-1)
    assert view.obj is lending.lent[-1]
    view[:5] = b"hello"
    bridge.buffer_updated(5)
    assert bytes(lending.data) == b"hello"
    collecting = Collecting()
    bridge = bridged(GatheringTransport(), collecting)
    view = bridge.get_buffer(-1)
    view[:3] = b"abc"
    bridge.buffer_updated(3)
    assert bytes(collecting.data) == b"abc"
