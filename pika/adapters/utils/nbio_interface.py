"""The non-blocking I/O services interface that every adapter implements.

A connection never touches an event loop directly: it asks an
`AbstractIOServices` for timers, callbacks, name resolution, socket connects
and a streaming transport, and receives bytes through an
`AbstractStreamProtocol`. An event loop built on file descriptor readiness
(select/poll/epoll, Tornado, gevent) only has to supply the small
`AbstractFileDescriptorServices` part; `io_services_utils` builds the rest
from it.

Rules shared by all implementations:

- Every method is called from the loop's own thread, except
  `add_callback_threadsafe`, which may be called from any thread.
- Completion callbacks (`on_done`) are never called before the method that
  started the operation has returned.
- A cancelled operation never calls its `on_done`.
"""

from __future__ import annotations

import abc
import socket
import ssl
from typing import Any, Callable, Sequence, Union

#: The arguments of `socket.getaddrinfo`, in order: host, port, family,
#: socktype, proto, flags.
AddressQuery = tuple[str, int, int, int, int, int]

BytesLike = Union[bytes, bytearray, memoryview]
"""What transports accept for writing (any buffer of single bytes)."""


class AbstractTimerReference(abc.ABC):
    """A timer started by `AbstractIOServices.call_later`."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop the timer; harmless once it has fired or been cancelled."""


class AbstractIOReference(abc.ABC):
    """An asynchronous operation in progress (resolution, connect, TLS setup)."""

    @abc.abstractmethod
    def cancel(self) -> bool:
        """Abandon the operation so that its `on_done` is never called.

        Returns True when the operation was still in progress, False when it
        had already completed or been cancelled.

        Returns:
            Whether the operation was still in progress.
        """


class AbstractStreamProtocol(abc.ABC):
    """The receiving side of a stream: what a transport reports to."""

    @abc.abstractmethod
    def connection_made(self, transport: AbstractStreamTransport) -> None:
        """The stream is ready; `transport` is the way to write to it.

        Args:
            transport: The transport to write with.
        """

    @abc.abstractmethod
    def connection_lost(self, error: BaseException | None) -> None:
        """The stream is gone; called once, as the transport's last call.

        `error` is None after `AbstractStreamTransport.abort`, otherwise the
        exception that ended the stream (an `EOFError` when the peer closed it).

        Args:
            error: None after an abort, else the exception that ended the stream.
        """

    @abc.abstractmethod
    def eof_received(self) -> bool | None:
        """The peer closed its sending side; `connection_lost` follows.

        Returns:
            Ignored (None): the transport closes the stream.
        """

    @abc.abstractmethod
    def data_received(self, data: bytes) -> None:
        """Bytes arrived; `data` belongs to the protocol, which may keep it.

        Args:
            data: The bytes.
        """


class AbstractBufferedStreamProtocol(AbstractStreamProtocol):
    """A stream protocol that lends the memory the transport reads into
    (asyncio's ``BufferedProtocol`` shape): a transport that can read into
    memory (``recv_into``) calls `get_buffer`, reads, then `buffer_updated`
    instead of `data_received`, so the bytes are not copied on their way in.
    """

    @abc.abstractmethod
    def get_buffer(self, size_hint: int) -> memoryview:
        """Memory for the next read.

        Args:
            size_hint: How much the transport would like to read (-1: no preference).

        Returns:
            A non-empty writable buffer, valid until `buffer_updated`.
        """

    @abc.abstractmethod
    def buffer_updated(self, nbytes: int) -> None:
        """The read into the last `get_buffer` wrote ``nbytes`` bytes at its start.

        Args:
            nbytes: How many bytes were read (at least 1).
        """


class AbstractStreamTransport(abc.ABC):
    """The sending side of a stream, handed to the protocol in `connection_made`."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Close at once, dropping unsent data; `connection_lost(None)` follows."""

    @abc.abstractmethod
    def get_protocol(self) -> AbstractStreamProtocol:
        """The protocol this transport reports to.

        Returns:
            The protocol.
        """

    @abc.abstractmethod
    def write(self, data: BytesLike) -> None:
        """Queue `data` for sending without blocking.

        The caller may reuse a mutable buffer as soon as this returns. Writes
        after the transport was aborted or lost are ignored: the protocol
        learns of the loss through `connection_lost`.

        Args:
            data: The bytes to send (any bytes-like object).
        """

    def writelines(self, buffers: Sequence[BytesLike]) -> None:
        """Queue several buffers, in order, as if written one after another.

        Implementations send them together (one system call where the
        platform allows) and avoid joining large buffers.

        Args:
            buffers: The buffers to send.
        """
        self.write(b"".join(buffers))

    @abc.abstractmethod
    def get_write_buffer_size(self) -> int:
        """How many written bytes have not yet been handed to the kernel.

        Returns:
            The number of bytes.
        """


class AbstractIOServices(abc.ABC):
    """Timers, callbacks and stream set-up provided by one event loop."""

    @abc.abstractmethod
    def get_native_ioloop(self) -> Any:
        """The event loop object these services run on.

        Returns:
            The native loop (an `IOLoop`, an asyncio loop...).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the event loop's resources; it must not be running."""

    @abc.abstractmethod
    def run(self) -> None:
        """Run the event loop until `stop` is called."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Make `run` return after the current loop iteration.

        From another thread, use `add_callback_threadsafe(services.stop)`.
        """

    @abc.abstractmethod
    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        """Run `callback` in the loop's thread soon; callable from any thread.

        Args:
            callback: Called with no arguments.
        """

    def add_callback(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the next loop iteration; loop thread only.

        Cheaper than `add_callback_threadsafe` because it never has to wake
        the loop. Connections use it to send everything queued during one
        loop iteration in a single write.

        Args:
            callback: Called with no arguments.
        """
        self.call_later(0, callback)

    def raise_from_loop(self, error: BaseException) -> None:
        """Make `error` end the loop's current run: raised out of the call
        that runs the loop (`run`, or the native loop's own start method).

        Loop thread only. The default raises it from a callback on the next
        loop iteration, which suits loops that let a callback's exception
        out; loops that log and swallow exceptions raised by callbacks
        override it. A connection uses it to report a failed open that no
        ``on_open_error_callback`` of the application's handles.

        Args:
            error: The exception to raise.
        """

        def raise_error() -> None:
            raise error

        self.add_callback(raise_error)

    @abc.abstractmethod
    def call_later(self, delay: float, callback: Callable[[], None]) -> AbstractTimerReference:
        """Run `callback` once, `delay` seconds from now.

        Args:
            delay: Seconds from now.
            callback: Called with no arguments.

        Returns:
            A reference whose ``cancel()`` stops the timer.
        """

    def getaddrinfo(
        self,
        host: str,
        port: int,
        on_done: Callable[..., None],
        family: int = 0,
        socktype: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> AbstractIOReference:
        """Resolve like `socket.getaddrinfo` without blocking the loop.

        `on_done` receives the list of `(family, type, proto, canonname,
        sockaddr)` tuples, or the exception the resolution raised.

        Args:
            host: The host name or address.
            port: The port.
            on_done: Called with the list of results, or the exception.
            family: As for `socket.getaddrinfo`.
            socktype: As for `socket.getaddrinfo`.
            proto: As for `socket.getaddrinfo`.
            flags: As for `socket.getaddrinfo`.

        Returns:
            A reference whose ``cancel()`` abandons the resolution.
        """
        return self._start_getaddrinfo((host, port, family, socktype, proto, flags), on_done)

    def _start_getaddrinfo(
        self, query: AddressQuery, on_done: Callable[..., None]
    ) -> AbstractIOReference:
        """Start resolving ``query`` (`socket.getaddrinfo`'s arguments, in
        order) for `getaddrinfo`: how this loop resolves names without
        blocking. Services that override `getaddrinfo` itself need not
        provide it."""
        raise NotImplementedError(f"{type(self).__name__} does not resolve names")

    @abc.abstractmethod
    def connect_socket(
        self,
        sock: socket.socket,
        resolved_addr: tuple[Any, ...],
        on_done: Callable[[BaseException | None], None],
    ) -> AbstractIOReference:
        """Connect `sock` to a numeric address without blocking the loop.

        `sock` is made non-blocking. `on_done` receives None once connected,
        or the exception that made the connect fail. The socket stays the
        caller's: it is not closed on failure or cancellation.

        Args:
            sock: The socket to connect.
            resolved_addr: A numeric address, as in a getaddrinfo entry's ``sockaddr``.
            on_done: Called with None once connected, or with the exception.

        Returns:
            A reference whose ``cancel()`` abandons the connect.
        """

    @abc.abstractmethod
    def create_streaming_connection(
        self,
        protocol_factory: Callable[[], AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[
            [BaseException | tuple[AbstractStreamTransport, AbstractStreamProtocol]], None
        ],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> AbstractIOReference:
        """Turn the connected `sock` into a transport linked to a new protocol.

        With `ssl_context`, the TLS handshake runs first; `server_hostname`
        is sent for SNI and checked against the certificate when the context
        asks for it. Then `protocol_factory()` makes the protocol, its
        `connection_made(transport)` is called, and `on_done` receives
        `(transport, protocol)`, or the exception that stopped the set-up.
        From this call on the socket belongs to the services: it is closed
        when the set-up fails or is cancelled, and by the transport later.

        Args:
            protocol_factory: Called with no arguments to make the protocol once the stream is
                ready.
            sock: A connected socket; it becomes the transport's.
            on_done: Called with ``(transport, protocol)``, or with the exception that made the
                setup fail.
            ssl_context: An `ssl.SSLContext` to run TLS over the socket; None for plain TCP.
            server_hostname: Name for SNI and the certificate check; None for none.

        Returns:
            A reference whose ``cancel()`` abandons the setup.
        """


class AbstractFileDescriptorServices(abc.ABC):
    """Readiness watching of file descriptors, the part an fd-based loop supplies.

    One reader and one writer may be set per descriptor; setting another
    replaces the previous one. Callbacks take no argument.
    """

    @abc.abstractmethod
    def set_reader(self, fd: int, on_readable: Callable[[], None]) -> None:
        """Call `on_readable` whenever `fd` is readable.

        Args:
            fd: The file descriptor.
            on_readable: Called with no arguments.
        """

    @abc.abstractmethod
    def remove_reader(self, fd: int) -> bool:
        """Stop watching `fd` for reading; True if a reader was set.

        Args:
            fd: The file descriptor.

        Returns:
            True if a reader was set.
        """

    @abc.abstractmethod
    def set_writer(self, fd: int, on_writable: Callable[[], None]) -> None:
        """Call `on_writable` whenever `fd` is writable.

        Args:
            fd: The file descriptor.
            on_writable: Called with no arguments.
        """

    @abc.abstractmethod
    def remove_writer(self, fd: int) -> bool:
        """Stop watching `fd` for writing; True if a writer was set.

        Args:
            fd: The file descriptor.

        Returns:
            True if a writer was set.
        """


class AbstractFileDescriptorIOServices(AbstractIOServices, AbstractFileDescriptorServices):
    """I/O services of a loop that also exposes file descriptor readiness."""
