"""Socket operations for event loops that watch file descriptors.

Everything here is built on `AbstractFileDescriptorIOServices`: readiness
callbacks (`set_reader`/`set_writer`), `add_callback` and
`add_callback_threadsafe`. An adapter for such a loop derives from
`FileDescriptorIOServicesBase` and gets name resolution, non-blocking
connects and the plain or TLS streaming transport for free.

The transport (`SocketStreamTransport`) is on the hot path of every message:

- Reads go with `recv_into` into the memory the protocol lends
  (`AbstractBufferedStreamProtocol`: the engine sizes it for the frames in
  progress, so a large body is read where it is parsed); a protocol that
  lends none gets `bytes(view[:n])` of one preallocated buffer. A fresh
  `recv(256 KiB)` per read costs several times more for small reads,
  because each one allocates (and then shrinks) a large object.
- A readiness event reads until the socket would block, but at most about
  1 MiB (plain) or a few dozen TLS records, so one busy connection cannot
  starve the rest of the loop.
- Writes go straight to the kernel while nothing is queued; only the part
  the kernel did not take is kept, as memoryviews (no copy of the rest of a
  large buffer), and only then is writability watched.
- Several buffers are handed over with one `sendmsg` when they are large;
  small ones are joined first, which is cheaper than a long iovec.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import socket
import ssl
import threading
from collections import deque
from typing import Any, Callable, Generic, Sequence, Tuple, TypeVar, Union

from pika.adapters.utils.nbio_interface import (
    AbstractBufferedStreamProtocol,
    AbstractFileDescriptorIOServices,
    AbstractIOReference,
    AbstractStreamProtocol,
    AbstractStreamTransport,
    AddressQuery,
    BytesLike,
)

LOGGER = logging.getLogger(__name__)

OutcomeT = TypeVar("OutcomeT")

StreamSetupResult = Union[BaseException, Tuple[AbstractStreamTransport, AbstractStreamProtocol]]
"""What `create_streaming_connection` hands to its `on_done`."""

READ_BUFFER_SIZE = 256 * 1024
"""Bytes asked of the kernel by one read."""

PLAIN_READS_PER_EVENT = 16
"""Reads of a plain socket per readiness event, at most (see `PLAIN_BYTES_PER_EVENT`)."""

PLAIN_BYTES_PER_EVENT = 1024 * 1024
"""A readiness event of a plain socket reads until this much was read (or
the kernel held no more): reads into the buffers of large frames are a
frame each (128 KiB by default), reads of small frames `READ_BUFFER_SIZE`."""

TLS_READS_PER_EVENT = 64
"""Reads of a TLS socket per readiness event; each returns at most one 16 KiB record."""

JOIN_LIMIT = 64 * 1024
"""`writelines` joins its buffers into one when they add up to no more than this."""


def _iov_max() -> int:
    """How many buffers one `sendmsg` call may take on this platform."""
    try:
        limit = os.sysconf("SC_IOV_MAX")
    except (AttributeError, ValueError, OSError):
        return 16
    return limit if limit > 0 else 16


IOV_MAX = _iov_max()

_SENDMSG_AVAILABLE = hasattr(socket.socket, "sendmsg")

_KEEPALIVE_OPTIONS = frozenset({"TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_KEEPALIVE"})
_TCP_OPTIONS = _KEEPALIVE_OPTIONS | {"TCP_USER_TIMEOUT"}


def check_callback_arg(callback: Any, name: str) -> None:
    """Raise TypeError unless `callback` is callable; `name` is the argument's name.

    Args:
        callback: The value to check.
        name: The argument's name, for the message.

    Raises:
        TypeError: ``callback`` is not callable.
    """
    if not callable(callback):
        raise TypeError(f"{name} must be callable, not {callback!r}")


def check_fd_arg(fd: Any) -> None:
    """Raise TypeError unless `fd` is a file descriptor number.

    Args:
        fd: The value to check.

    Raises:
        TypeError: ``fd`` is not an int.
    """
    if not isinstance(fd, int) or isinstance(fd, bool):
        raise TypeError(f"fd must be an int, not {fd!r}")


def set_sock_opts(sock: socket.socket, tcp_options: dict[str, int] | None) -> None:
    """Turn on TCP_NODELAY and apply Pika-style `tcp_options` to a TCP socket.

    Recognised keys: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_KEEPALIVE
    (macOS's name for the idle time) and TCP_USER_TIMEOUT. Any keep-alive key
    also turns SO_KEEPALIVE on. Options this platform lacks are skipped with
    a warning, as are unknown keys.

    Args:
        sock: A TCP socket.
        tcp_options: Option names to values; None for none.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not tcp_options:
        return
    keepalive = False
    for name, value in tcp_options.items():
        if name not in _TCP_OPTIONS:
            LOGGER.warning("Ignoring unknown TCP option %r", name)
            continue
        option = getattr(socket, name, None)
        if option is None and name == "TCP_KEEPIDLE":
            option = getattr(socket, "TCP_KEEPALIVE", None)
        if option is None:
            LOGGER.warning("Ignoring TCP option %s: not supported on this platform", name)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, option, value)
        keepalive = keepalive or name in _KEEPALIVE_OPTIONS
    if keepalive:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class _PendingOperation(AbstractIOReference, Generic[OutcomeT]):
    """An operation that reports its outcome to `on_done` once, unless cancelled first."""

    def __init__(self, on_done: Callable[[OutcomeT], None]) -> None:
        check_callback_arg(on_done, "on_done")
        self._on_done: Callable[[OutcomeT], None] | None = on_done

    def cancel(self) -> bool:
        if self._on_done is None:
            return False
        self._on_done = None
        self._abandon()
        return True

    def _abandon(self) -> None:
        """Release what the operation holds; called when it is cancelled."""

    def _claim(self) -> Callable[[OutcomeT], None] | None:
        """Take `on_done` (None if already reported or cancelled): no cancelling from here on."""
        on_done, self._on_done = self._on_done, None
        return on_done

    def _report(self, outcome: OutcomeT) -> None:
        on_done = self._claim()
        if on_done is not None:
            on_done(outcome)


ResolutionOutcome = Union[list[Any], BaseException]


class AddressResolver(_PendingOperation[ResolutionOutcome]):
    """`socket.getaddrinfo` run in a worker thread, reported in the loop's thread.

    The system resolver cannot be interrupted: cancelling only guarantees that
    `on_done` is not called; the worker finishes on its own.

    Args:
        nbio: The I/O services whose loop runs the operation.
        query: `socket.getaddrinfo`'s arguments, in order.
        on_done: Called on the loop's thread with the results or the exception.
    """

    def __init__(
        self,
        nbio: AbstractFileDescriptorIOServices,
        query: AddressQuery,
        on_done: Callable[[ResolutionOutcome], None],
    ) -> None:
        super().__init__(on_done)
        self._nbio = nbio
        self._query = query

    def start(self) -> AddressResolver:
        """Start the worker; returns self.

        Returns:
            This resolver.
        """
        worker = threading.Thread(
            target=self._resolve, name=f"pika-getaddrinfo {self._query[0]}", daemon=True
        )
        worker.start()
        return self

    def _resolve(self) -> None:
        """Worker thread: resolve, then hand the outcome to the loop's thread."""
        outcome: ResolutionOutcome
        try:
            outcome = socket.getaddrinfo(*self._query)
        except Exception as exc:
            outcome = exc
        try:
            self._nbio.add_callback_threadsafe(functools.partial(self._report, outcome))
        except RuntimeError:
            # The loop was closed meanwhile: nobody is left to tell.
            LOGGER.debug("getaddrinfo%r finished after its loop closed", self._query)


def _check_numeric_address(sock: socket.socket, address: tuple[Any, ...]) -> None:
    """Refuse a host name where an IP address is needed: connect() would block on DNS."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    try:
        socket.inet_pton(sock.family, host.split("%", 1)[0])
    except OSError:
        raise ValueError(
            f"connect_socket needs a resolved {sock.family.name} address, not {address!r}"
        ) from None


class SocketConnector(_PendingOperation[Union[BaseException, None]]):
    """A non-blocking connect, complete when the socket becomes writable.

    Args:
        nbio: The I/O services whose loop runs the operation.
        sock: The socket to connect.
        resolved_addr: A numeric address.
        on_done: Called with None once connected, or with the exception.
    """

    def __init__(
        self,
        nbio: AbstractFileDescriptorIOServices,
        sock: socket.socket,
        resolved_addr: tuple[Any, ...],
        on_done: Callable[[BaseException | None], None],
    ) -> None:
        super().__init__(on_done)
        _check_numeric_address(sock, resolved_addr)
        self._nbio = nbio
        self._sock = sock
        self._fd = sock.fileno()
        self._address = resolved_addr
        self._watching = False

    def start(self) -> SocketConnector:
        """Begin connecting; returns self.

        Returns:
            This connector.
        """
        self._sock.setblocking(False)
        try:
            self._sock.connect(self._address)
        except (BlockingIOError, InterruptedError):
            self._nbio.set_writer(self._fd, self._on_writable)
            self._watching = True
        except OSError as exc:
            self._nbio.add_callback(functools.partial(self._report, exc))
        else:
            self._nbio.add_callback(functools.partial(self._report, None))
        return self

    def _abandon(self) -> None:
        if self._watching:
            self._watching = False
            self._nbio.remove_writer(self._fd)

    def _on_writable(self) -> None:
        self._abandon()
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        # OSError(code, text) builds the matching subclass (ConnectionRefusedError, ...).
        self._report(OSError(code, os.strerror(code)) if code else None)


class StreamConnector(_PendingOperation[StreamSetupResult]):
    """Sets up a streaming connection: optional TLS handshake, then the protocol.

    The handshake is driven by readiness: `do_handshake()` is retried when
    the socket becomes readable or writable, whichever OpenSSL asked for.
    The socket is this object's from `start()` on, and is closed if the set-up
    fails or is cancelled.

    Args:
        nbio: The I/O services whose loop runs the operation.
        protocol_factory: Makes the protocol once the stream is ready.
        sock: A connected socket.
        on_done: Called with ``(transport, protocol)``, or with the exception.
        ssl_context: An `ssl.SSLContext` for TLS; None for plain TCP.
        server_hostname: Name for SNI and the certificate check.
    """

    def __init__(
        self,
        nbio: AbstractFileDescriptorIOServices,
        protocol_factory: Callable[[], AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[[StreamSetupResult], None],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        super().__init__(on_done)
        check_callback_arg(protocol_factory, "protocol_factory")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, not {ssl_context!r}")
        if server_hostname is not None and ssl_context is None:
            raise ValueError("server_hostname is only meaningful with an ssl_context")
        self._nbio = nbio
        self._protocol_factory = protocol_factory
        self._sock = sock
        self._fd = sock.fileno()
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname

    def start(self) -> StreamConnector:
        """Schedule the set-up for the next loop iteration; returns self.

        Returns:
            This connector.
        """
        self._sock.setblocking(False)
        self._nbio.add_callback(self._begin)
        return self

    def _begin(self) -> None:
        if self._on_done is None:
            return
        if self._ssl_context is None:
            self._link_protocol()
            return
        try:
            self._sock = self._ssl_context.wrap_socket(
                self._sock,
                server_side=False,
                do_handshake_on_connect=False,
                server_hostname=self._server_hostname,
            )
        except Exception as exc:
            self._fail(exc)
            return
        self._handshake_step()

    def _handshake_step(self) -> None:
        if self._on_done is None:
            return
        sock = self._sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._nbio.remove_writer(self._fd)
            self._nbio.set_reader(self._fd, self._handshake_step)
        except ssl.SSLWantWriteError:
            self._nbio.remove_reader(self._fd)
            self._nbio.set_writer(self._fd, self._handshake_step)
        except Exception as exc:
            self._fail(exc)
        else:
            self._stop_watching()
            self._link_protocol()

    def _link_protocol(self) -> None:
        on_done = self._claim()
        assert on_done is not None
        try:
            protocol = self._protocol_factory()
            transport = SocketStreamTransport(self._nbio, self._sock, protocol)
            protocol.connection_made(transport)
        except Exception as exc:
            self._sock.close()
            on_done(exc)
            return
        transport.start()
        on_done((transport, protocol))

    def _fail(self, error: BaseException) -> None:
        self._abandon()
        self._report(error)

    def _stop_watching(self) -> None:
        self._nbio.remove_reader(self._fd)
        self._nbio.remove_writer(self._fd)

    def _abandon(self) -> None:
        self._stop_watching()
        self._sock.close()


class SocketStreamTransport(AbstractStreamTransport):
    """A stream over a connected non-blocking socket, plain or `ssl.SSLSocket`.

    Created by `StreamConnector`; it starts reading on `start()`. The loss of
    the stream (error, end of stream, `abort`) is reported to the protocol on
    the next loop iteration, never from inside a call the protocol made.

    With TLS a read may need the socket to be writable and a write may need
    it to be readable (OpenSSL's WANT_WRITE/WANT_READ); the transport then
    waits for that condition and retries the same operation with the same
    data, as OpenSSL requires.

    Args:
        nbio: The I/O services whose loop runs the operation.
        sock: The connected socket (plain or TLS).
        protocol: The protocol it reports to.
    """

    def __init__(
        self,
        nbio: AbstractFileDescriptorIOServices,
        sock: socket.socket,
        protocol: AbstractStreamProtocol,
    ) -> None:
        self._nbio = nbio
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._use_sendmsg = _SENDMSG_AVAILABLE and not self._tls
        self._reads_per_event = TLS_READS_PER_EVENT if self._tls else PLAIN_READS_PER_EVENT
        # A protocol that lends the memory to read into gets the bytes
        # without a copy; for the others, one buffer is read into and copied.
        self._lender = protocol if isinstance(protocol, AbstractBufferedStreamProtocol) else None
        self._read_view = memoryview(
            b"" if self._lender is not None else bytearray(READ_BUFFER_SIZE)
        )
        self._out: deque[memoryview] = deque()
        self._out_size = 0
        self._writer_set = False
        self._read_wants_write = False
        self._write_wants_read = False

    def start(self) -> None:
        """Start reading (unless the protocol already aborted)."""
        if self._sock is not None:
            self._nbio.set_reader(self._fd, self._on_readable)

    def get_protocol(self) -> AbstractStreamProtocol:
        return self._protocol

    def get_write_buffer_size(self) -> int:
        return self._out_size

    def abort(self) -> None:
        self._lose(None)

    def write(self, data: BytesLike) -> None:
        sock = self._sock
        if sock is None or not data:
            return
        if self._out:
            self._queue((data,), 0)
            return
        try:
            sent = sock.send(data)
        except (BlockingIOError, ssl.SSLWantWriteError):
            sent = 0
        except ssl.SSLWantReadError:
            sent = 0
            self._write_wants_read = True
        except OSError as exc:
            self._lose(exc)
            return
        if sent < len(data):
            self._queue((data,), sent)

    def writelines(self, buffers: Sequence[BytesLike]) -> None:
        sock = self._sock
        if sock is None or not buffers:
            return
        if len(buffers) == 1:
            self.write(buffers[0])
            return
        if not self._use_sendmsg or sum(map(len, buffers)) <= JOIN_LIMIT:
            self.write(b"".join(buffers))
            return
        if self._out:
            self._queue(buffers, 0)
            return
        try:
            sent = sock.sendmsg(buffers[:IOV_MAX])
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lose(exc)
            return
        self._queue(buffers, sent)

    def _queue(self, buffers: Sequence[BytesLike], skip: int) -> None:
        """Keep what follows the first `skip` bytes of `buffers`, then watch writability.

        Read-only buffers are kept as views; mutable ones are copied so the
        caller may reuse them.
        """
        out = self._out
        for buf in buffers:
            size = len(buf)
            if skip >= size:
                skip -= size
                continue
            view = memoryview(buf)
            if skip:
                view = view[skip:]
                skip = 0
            if not view.readonly:
                view = memoryview(bytes(view))
            out.append(view)
            self._out_size += len(view)
        self._update_writer()

    def _flush(self) -> None:
        """Hand queued data to the kernel until it is all gone or the kernel is full."""
        out = self._out
        while out:
            sock = self._sock
            assert sock is not None
            try:
                if self._use_sendmsg and len(out) > 1:
                    batch = list(itertools.islice(out, IOV_MAX))
                    attempted = sum(map(len, batch))
                    sent = sock.sendmsg(batch)
                else:
                    attempted = len(out[0])
                    sent = sock.send(out[0])
            except (BlockingIOError, ssl.SSLWantWriteError):
                break
            except ssl.SSLWantReadError:
                self._write_wants_read = True
                break
            except OSError as exc:
                self._lose(exc)
                return
            self._consume(sent)
            if sent < attempted:
                break
        self._update_writer()

    def _consume(self, sent: int) -> None:
        """Drop the first `sent` queued bytes."""
        self._out_size -= sent
        out = self._out
        while sent:
            head = out[0]
            size = len(head)
            if sent < size:
                out[0] = head[sent:]
                return
            out.popleft()
            sent -= size

    def _update_writer(self) -> None:
        """Watch writability exactly while something waits for it."""
        wanted = self._read_wants_write or (bool(self._out) and not self._write_wants_read)
        if wanted == self._writer_set:
            return
        self._writer_set = wanted
        if wanted:
            self._nbio.set_writer(self._fd, self._on_writable)
        else:
            self._nbio.remove_writer(self._fd)

    def _on_readable(self) -> None:
        if self._write_wants_read:
            self._write_wants_read = False
            self._flush()
        self._read()

    def _on_writable(self) -> None:
        if self._read_wants_write:
            self._read_wants_write = False
            self._read()
        if self._sock is not None:
            self._flush()

    def _read(self) -> None:
        lender = self._lender
        view = self._read_view
        budget = PLAIN_BYTES_PER_EVENT
        for _ in range(self._reads_per_event):
            sock = self._sock
            if sock is None:
                return
            if lender is not None:
                view = lender.get_buffer(-1)
            try:
                count = sock.recv_into(view)
            except (BlockingIOError, ssl.SSLWantReadError):
                return
            except ssl.SSLWantWriteError:
                self._read_wants_write = True
                self._update_writer()
                return
            except OSError as exc:
                self._lose(exc)
                return
            if not count:
                self._protocol.eof_received()
                self._lose(EOFError("the peer closed the connection"))
                return
            if lender is not None:
                lender.buffer_updated(count)
            else:
                self._protocol.data_received(bytes(view[:count]))
            if not self._tls:
                budget -= count
                if count < len(view) or budget <= 0:
                    # A short read means the kernel held no more at that moment.
                    return
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            # Decrypted bytes wait inside OpenSSL, where readiness cannot see them.
            self._nbio.add_callback(self._on_readable)

    def _lose(self, error: BaseException | None) -> None:
        """Close the socket now and tell the protocol on the next iteration (once)."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._nbio.remove_reader(self._fd)
        if self._writer_set:
            self._writer_set = False
            self._nbio.remove_writer(self._fd)
        sock.close()
        self._out.clear()
        self._out_size = 0
        self._nbio.add_callback(functools.partial(self._protocol.connection_lost, error))


class FileDescriptorIOServicesBase(AbstractFileDescriptorIOServices):
    """I/O services whose socket operations come from their own fd readiness.

    Subclasses supply the loop-specific methods (timers, callbacks, run/stop,
    readers and writers); this class resolves names in a worker thread
    (`AddressResolver`) and supplies `connect_socket` and
    `create_streaming_connection`.
    """

    def _start_getaddrinfo(
        self, query: AddressQuery, on_done: Callable[..., None]
    ) -> AbstractIOReference:
        return AddressResolver(self, query, on_done).start()

    def connect_socket(
        self,
        sock: socket.socket,
        resolved_addr: tuple[Any, ...],
        on_done: Callable[[BaseException | None], None],
    ) -> AbstractIOReference:
        return SocketConnector(self, sock, resolved_addr, on_done).start()

    def create_streaming_connection(
        self,
        protocol_factory: Callable[[], AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[[StreamSetupResult], None],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> AbstractIOReference:
        return StreamConnector(
            self, protocol_factory, sock, on_done, ssl_context, server_hostname
        ).start()
