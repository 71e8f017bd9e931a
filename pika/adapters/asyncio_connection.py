"""`AsyncioConnection`: the callback connection on an asyncio event loop.

The I/O services use the loop's own machinery throughout: name resolution
with `loop.getaddrinfo`, the TCP connect with `loop.sock_connect`, and the
stream (plain or TLS) with `loop.create_connection(sock=...)`, so bytes
move through asyncio's native transport. `_StreamBridge` sits between
that transport and the connection: an asyncio protocol on one side, a
`nbio_interface.AbstractStreamTransport` on the other.

The connection never changes the event-loop policy. With no loop given it
uses the running loop, else this thread's current loop (see `_default_loop`
for how each Python version answers that), else a new loop of its own
(`connection.ioloop`) that is not installed anywhere.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from collections.abc import Coroutine, Sequence
from typing import Any, Callable, cast

from pika.adapters import base_connection
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.io_services_utils import check_callback_arg

__all__ = ["AsyncioConnection"]

#: What one read asks for when the pika protocol lends no memory.
_READ_SIZE = 256 * 1024
#: asyncio's default `writelines`, which joins the buffers and writes the
#: result (plain sockets before Python 3.12 use it; TLS transports and
#: later versions send the buffers as they are).
_JOINING_WRITELINES = asyncio.WriteTransport.writelines
#: Buffers adding up to no more than this are joined all the same: one
#: write of a small copy costs less than several writes.
_JOIN_LIMIT = 64 * 1024


class AsyncioConnection(base_connection._LoopConnection[asyncio.AbstractEventLoop]):
    """A connection whose I/O runs on an asyncio event loop.

    ``custom_ioloop`` is the asyncio event loop to use (or ready-made I/O
    services); None means the running loop, else the thread's current one
    (see the module docstring). Run the loop as usual: inside
    ``asyncio.run(...)``, or with ``connection.ioloop.run_forever()``.
    """

    #: True while asyncio's transport holds more unsent bytes than its
    #: high-water mark (between its ``pause_writing`` and ``resume_writing``).
    writing_paused = False
    #: Called with the new `writing_paused` whenever it changes.
    on_write_pressure: Callable[[bool], None] | None = None

    @classmethod
    def _loop_services(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
        return _AsyncioIOServices(custom_ioloop)

    def _write_pressure(self, paused: bool) -> None:
        """The transport's buffer crossed its high (or low) water mark; also
        reset (False) when the stream ends."""
        if paused != self.writing_paused:
            self.writing_paused = paused
            if self.on_write_pressure is not None:
                self.on_write_pressure(paused)


def _default_loop() -> asyncio.AbstractEventLoop:
    """The running loop, else what ``asyncio.get_event_loop()`` gives without
    a deprecation warning, else a new loop that is not made current.

    Up to 3.11 ``get_event_loop()`` returns this thread's current loop, and
    in the main thread creates and sets one if there is none (its long-time
    behaviour). From 3.12 that implicit creation is deprecated and from 3.14
    an error: the warning is turned into an exception here, before anything
    is set, and the connection gets a loop of its own.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    with warnings.catch_warnings():
        # Only this warning: other threads' warnings keep their own filters.
        warnings.filterwarnings("error", "There is no current event loop", DeprecationWarning)
        try:
            return asyncio.get_event_loop()
        except (DeprecationWarning, RuntimeError):
            return asyncio.new_event_loop()


class _Timer(nbio_interface.AbstractTimerReference):
    __slots__ = ("_handle",)

    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self._handle = handle

    def cancel(self) -> None:
        self._handle.cancel()


class _TaskReference(nbio_interface.AbstractIOReference):
    """A coroutine run as a task whose outcome goes to ``on_done``.

    ``on_done`` gets the coroutine's result or the exception it raised (a
    `asyncio.CancelledError` if something else cancelled the task).
    After `cancel`, ``on_done`` is never called; an outcome that arrives
    anyway (the task had already finished) goes to ``discard``.
    """

    __slots__ = ("_discard", "_on_done", "_task")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        coroutine: Coroutine[Any, Any, Any],
        on_done: Callable[[Any], None],
        discard: Callable[[Any], None] | None = None,
    ) -> None:
        self._on_done: Callable[[Any], None] | None = on_done
        self._discard = discard
        self._task = loop.create_task(coroutine)
        self._task.add_done_callback(self._finished)

    def cancel(self) -> bool:
        if self._on_done is None:
            return False
        self._on_done = None
        self._task.cancel()
        return True

    def _finished(self, task: asyncio.Task[Any]) -> None:
        outcome: Any
        if task.cancelled():
            outcome = asyncio.CancelledError()
        else:
            outcome = task.exception()
            if outcome is None:
                outcome = task.result()
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(outcome)
        elif self._discard is not None:
            self._discard(outcome)


class _StreamBridge(asyncio.BufferedProtocol, nbio_interface.AbstractStreamTransport):
    """Joins an asyncio transport to a pika stream protocol.

    asyncio calls it as a protocol and it forwards to ``protocol``; the
    pika protocol writes to it as a transport and it forwards to asyncio's.
    The end of the stream is reported in pika's terms: None after `abort`,
    `EOFError` when the peer closed, else asyncio's exception.

    asyncio reads into the memory the pika protocol lends when it is an
    `nbio_interface.AbstractBufferedStreamProtocol` (the connection is: the
    engine sizes it for the frames in progress); otherwise into a buffer of
    the bridge's, handed on as bytes.
    """

    def __init__(self, protocol: nbio_interface.AbstractStreamProtocol) -> None:
        self._protocol = protocol
        self._transport: asyncio.Transport | None = None
        self._aborted = False
        self._scratch = memoryview(b"")
        if isinstance(protocol, nbio_interface.AbstractBufferedStreamProtocol):
            # Reads go straight to the pika protocol, without a hop through here.
            self.get_buffer = protocol.get_buffer  # type: ignore[method-assign]
            self.buffer_updated = protocol.buffer_updated  # type: ignore[method-assign]

    def get_buffer(self, size_hint: int) -> memoryview:
        if not self._scratch:
            self._scratch = memoryview(bytearray(_READ_SIZE))
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        self._protocol.data_received(bytes(self._scratch[:nbytes]))

    # asyncio's side: a protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport is always a full asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._protocol.connection_made(self)

    def eof_received(self) -> bool:
        self._protocol.eof_received()
        return False  # let asyncio close the transport: connection_lost follows

    def pause_writing(self) -> None:
        self._report_write_pressure(True)

    def resume_writing(self) -> None:
        self._report_write_pressure(False)

    def _report_write_pressure(self, paused: bool) -> None:
        if isinstance(self._protocol, AsyncioConnection):
            self._protocol._write_pressure(paused)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._report_write_pressure(False)
        error: BaseException | None = exc
        if error is None and not self._aborted:
            error = EOFError("the peer closed the connection")
        self._protocol.connection_lost(error)

    # pika's side: a transport

    def abort(self) -> None:
        transport = self._transport
        if transport is not None and not self._aborted:
            self._aborted = True
            transport.abort()

    def get_protocol(self) -> nbio_interface.AbstractStreamProtocol:
        return self._protocol

    def write(self, data: nbio_interface.BytesLike) -> None:
        transport = self._transport
        if transport is not None and not self._aborted:
            transport.write(data)

    def writelines(self, buffers: Sequence[nbio_interface.BytesLike]) -> None:
        transport = self._transport
        if transport is None or self._aborted:
            return
        if type(transport).writelines is not _JOINING_WRITELINES:
            # A transport with a writelines of its own (plain sockets from
            # Python 3.12) sends the buffers without joining them, but that
            # writelines never checks the high-water mark: pause_writing
            # would not come, and a stalled peer would let the buffer grow
            # without bound. write() checks it; with a backlog, where
            # nothing is sent at once anyway, the buffers go through it.
            if transport.get_write_buffer_size():
                for buffer in buffers:
                    transport.write(buffer)
            else:
                transport.writelines(buffers)
            return
        if sum(map(len, buffers)) <= _JOIN_LIMIT:
            transport.writelines(buffers)
            return
        # This transport's writelines would join the buffers (a copy of a
        # large publish's body): write them one by one instead; each goes
        # straight to the socket while it takes them.
        for buffer in buffers:
            transport.write(buffer)

    def get_write_buffer_size(self) -> int:
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0


class _AsyncioIOServices(nbio_interface.AbstractIOServices):
    """`nbio_interface.AbstractIOServices` on an asyncio event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop if loop is not None else _default_loop()

    def get_native_ioloop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def close(self) -> None:
        self._loop.close()

    def run(self) -> None:
        self._loop.run_forever()

    def stop(self) -> None:
        self._loop.stop()

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        check_callback_arg(callback, "callback")
        self._loop.call_soon_threadsafe(callback)

    def add_callback(self, callback: Callable[[], None]) -> None:
        check_callback_arg(callback, "callback")
        self._loop.call_soon(callback)

    def call_later(
        self, delay: float, callback: Callable[[], None]
    ) -> nbio_interface.AbstractTimerReference:
        check_callback_arg(callback, "callback")
        return _Timer(self._loop.call_later(delay, callback))

    def _start_getaddrinfo(
        self, query: nbio_interface.AddressQuery, on_done: Callable[..., None]
    ) -> nbio_interface.AbstractIOReference:
        check_callback_arg(on_done, "on_done")
        host, port, family, socktype, proto, flags = query
        resolution = self._loop.getaddrinfo(
            host, port, family=family, type=socktype, proto=proto, flags=flags
        )
        return _TaskReference(self._loop, resolution, on_done)

    def connect_socket(
        self,
        sock: socket.socket,
        resolved_addr: tuple[Any, ...],
        on_done: Callable[[BaseException | None], None],
    ) -> nbio_interface.AbstractIOReference:
        check_callback_arg(on_done, "on_done")
        sock.setblocking(False)

        def report(outcome: Any) -> None:
            on_done(outcome if isinstance(outcome, BaseException) else None)

        return _TaskReference(self._loop, self._loop.sock_connect(sock, resolved_addr), report)

    def create_streaming_connection(
        self,
        protocol_factory: Callable[[], nbio_interface.AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[
            [BaseException | tuple[nbio_interface.AbstractStreamTransport, Any]], None
        ],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> nbio_interface.AbstractIOReference:
        check_callback_arg(protocol_factory, "protocol_factory")
        check_callback_arg(on_done, "on_done")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, not {ssl_context!r}")
        if server_hostname is not None and ssl_context is None:
            raise ValueError("server_hostname is only meaningful with an ssl_context")
        sock.setblocking(False)
        setup = self._loop.create_connection(
            lambda: _StreamBridge(protocol_factory()),
            sock=sock,
            ssl=ssl_context,
            # asyncio reads "" as "no SNI, no name to check".
            server_hostname=(server_hostname or "") if ssl_context is not None else None,
        )

        def report(outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                sock.close()
                on_done(outcome)
            else:
                bridge = outcome[1]
                on_done((bridge, bridge.get_protocol()))

        def discard(outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                sock.close()
            else:
                outcome[1].abort()

        return _TaskReference(self._loop, setup, report, discard)
