"""pika.adapters.utils.io_services_utils: resolution, connect, and the plain and TLS transport.

The transport is exercised against a real peer: a thread serving one
connection on 127.0.0.1 (echoing, reading slowly, closing or resetting).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, NamedTuple, Optional

import pytest
import trustme

from pika.adapters.select_connection import IOLoop
from pika.adapters.utils import io_services_utils
from pika.adapters.utils.io_services_utils import (
    check_callback_arg,
    check_fd_arg,
    set_sock_opts,
)
from pika.adapters.utils.nbio_interface import (
    AbstractIOReference,
    AbstractStreamProtocol,
    AbstractStreamTransport,
)
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter

LOOPBACK = "127.0.0.1"
MIB = 1024 * 1024


@pytest.fixture
def nbio() -> Iterator[SelectorIOServicesAdapter]:
    services = SelectorIOServicesAdapter(IOLoop())
    yield services
    services.close()


def run_until(
    nbio: SelectorIOServicesAdapter, condition: Callable[[], Any], timeout: float = 20.0
) -> None:
    """Run the loop until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout

    def check() -> None:
        if condition() or time.monotonic() >= deadline:
            nbio.stop()
        else:
            nbio.call_later(0.002, check)

    nbio.add_callback(check)
    nbio.run()
    assert condition(), f"condition not reached within {timeout} s"


def run_for(nbio: SelectorIOServicesAdapter, seconds: float) -> None:
    nbio.call_later(seconds, nbio.stop)
    nbio.run()


class RecordingProtocol(AbstractStreamProtocol):
    """Keeps everything the transport reports."""

    def __init__(self) -> None:
        self.transport: Optional[AbstractStreamTransport] = None
        self.chunks: list[bytes] = []
        self.received = 0
        self.eof = False
        self.lost: list[Optional[BaseException]] = []

    def connection_made(self, transport: AbstractStreamTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert type(data) is bytes
        self.chunks.append(data)
        self.received += len(data)

    def eof_received(self) -> None:
        self.eof = True

    def connection_lost(self, error: Optional[BaseException]) -> None:
        self.lost.append(error)

    def data(self) -> bytes:
        return b"".join(self.chunks)


class Peer:
    """Serves one connection on 127.0.0.1 from a thread.

    Modes: 'echo' sends back what it reads until end of stream; 'sink' waits
    for `gate`, then reads `expect` bytes; 'close' sends b"bye" and closes;
    'reset' closes with a TCP reset once `release` is set; 'silent' accepts
    and waits for `release`.
    """

    def __init__(
        self,
        mode: str,
        ssl_context: Optional[ssl.SSLContext] = None,
        gate: Optional[threading.Event] = None,
        expect: int = 0,
        receive_buffer: Optional[int] = None,
    ) -> None:
        self.mode = mode
        self.ssl_context = ssl_context
        self.gate = gate
        self.expect = expect
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(1)
        self.address: tuple[str, int] = self.listener.getsockname()
        self.received = bytearray()
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            self.listener.settimeout(20)
            conn, _ = self.listener.accept()
            conn.settimeout(20)
            if self.ssl_context is not None and self.mode != "silent":
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            with conn:
                self._run(conn)
        except Exception as exc:
            self.error = exc
        finally:
            self.listener.close()
            self.done.set()

    def _run(self, conn: socket.socket) -> None:
        if self.mode == "echo":
            while data := conn.recv(256 * 1024):
                self.received += data
                conn.sendall(data)
        elif self.mode == "sink":
            assert self.gate is not None
            self.gate.wait(20)
            while len(self.received) < self.expect:
                data = conn.recv(256 * 1024)
                if not data:
                    break
                self.received += data
        elif self.mode == "close":
            conn.sendall(b"bye")
        elif self.mode == "reset":
            self.release.wait(20)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif self.mode == "silent":
            self.release.wait(20)


class TLSContexts(NamedTuple):
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls() -> TLSContexts:
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", LOOPBACK)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return TLSContexts(server, client)


def connect(
    nbio: SelectorIOServicesAdapter, address: tuple[str, int], send_buffer: int = 0
) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    outcomes: list[Optional[BaseException]] = []
    nbio.connect_socket(sock, address, outcomes.append)
    run_until(nbio, lambda: outcomes)
    assert outcomes == [None]
    return sock


def set_up_stream(
    nbio: SelectorIOServicesAdapter,
    sock: socket.socket,
    ssl_context: Optional[ssl.SSLContext] = None,
    server_hostname: Optional[str] = None,
) -> tuple[Any, RecordingProtocol]:
    """Run create_streaming_connection; returns what on_done got, and the protocol."""
    protocol = RecordingProtocol()
    outcomes: list[Any] = []
    nbio.create_streaming_connection(
        lambda: protocol, sock, outcomes.append, ssl_context, server_hostname
    )
    run_until(nbio, lambda: outcomes)
    assert len(outcomes) == 1
    return outcomes[0], protocol


def open_stream(
    nbio: SelectorIOServicesAdapter, peer: Peer, tls: Optional[TLSContexts] = None
) -> tuple[AbstractStreamTransport, RecordingProtocol]:
    sock = connect(nbio, peer.address)
    context = tls.client if tls is not None else None
    outcome, protocol = set_up_stream(nbio, sock, context, "localhost" if tls else None)
    assert outcome == (protocol.transport, protocol), outcome
    assert protocol.transport is not None
    return protocol.transport, protocol


# Argument checks and socket options


def test_check_callback_arg() -> None:
    check_callback_arg(print, "callback")
    with pytest.raises(TypeError, match="on_done"):
        check_callback_arg(None, "on_done")


def test_check_fd_arg() -> None:
    check_fd_arg(3)
    for bad in ("3", 3.0, None, True):
        with pytest.raises(TypeError):
            check_fd_arg(bad)


def test_set_sock_opts_sets_nodelay_and_keepalive_options(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        set_sock_opts(sock, None)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert not sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    options = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3, "TCP_USER_TIMEOUT": 9000}
    caplog.set_level(logging.WARNING)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        set_sock_opts(sock, {**options, "TCP_BOGUS": 1})
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        for name, value in options.items():
            if hasattr(socket, name):
                assert sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name)) == value
    assert "TCP_BOGUS" in caplog.text


def test_set_sock_opts_leaves_non_tcp_sockets_alone() -> None:
    left, right = socket.socketpair()
    with left, right:
        set_sock_opts(left, {"TCP_KEEPIDLE": 30})


# Name resolution


def test_getaddrinfo_localhost_gives_loopback_addresses(nbio: SelectorIOServicesAdapter) -> None:
    results: list[Any] = []
    reference = nbio.getaddrinfo("localhost", 5672, results.append, socktype=socket.SOCK_STREAM)
    assert isinstance(reference, AbstractIOReference)
    assert results == []
    run_until(nbio, lambda: results)
    infos = results[0]
    assert isinstance(infos, list) and infos
    assert {info[0] for info in infos} <= {socket.AF_INET, socket.AF_INET6}
    for _family, socktype, _proto, _name, sockaddr in infos:
        assert socktype == socket.SOCK_STREAM
        assert sockaddr[1] == 5672
        assert ipaddress.ip_address(sockaddr[0]).is_loopback
    assert reference.cancel() is False


def test_getaddrinfo_failure_is_delivered(nbio: SelectorIOServicesAdapter) -> None:
    results: list[Any] = []
    nbio.getaddrinfo("localhost", 5672, results.append, flags=socket.AI_NUMERICHOST)
    run_until(nbio, lambda: results)
    assert isinstance(results[0], socket.gaierror)


def test_cancelled_getaddrinfo_never_reports(nbio: SelectorIOServicesAdapter) -> None:
    results: list[Any] = []
    reference = nbio.getaddrinfo("localhost", 5672, results.append)
    assert reference.cancel() is True
    assert reference.cancel() is False
    run_for(nbio, 0.2)
    assert results == []


def _join_resolver_threads() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("pika-getaddrinfo"):
            thread.join(10)


def test_resolution_ending_after_the_loop_closed_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread_errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))
    services = SelectorIOServicesAdapter(IOLoop())
    results: list[Any] = []
    services.getaddrinfo("localhost", 5672, results.append)
    services.close()
    _join_resolver_threads()
    assert results == []
    assert thread_errors == []


# Connecting


def test_connect_socket_succeeds(nbio: SelectorIOServicesAdapter) -> None:
    with socket.create_server((LOOPBACK, 0)) as listener:
        sock = connect(nbio, listener.getsockname())
        with sock:
            assert sock.getpeername() == listener.getsockname()
            assert sock.gettimeout() == 0.0


def test_connection_refused_is_reported_through_on_done(nbio: SelectorIOServicesAdapter) -> None:
    with socket.create_server((LOOPBACK, 0)) as listener:
        address = listener.getsockname()
    outcomes: list[Optional[BaseException]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        nbio.connect_socket(sock, address, outcomes.append)
        assert outcomes == []
        run_until(nbio, lambda: outcomes)
    assert isinstance(outcomes[0], ConnectionRefusedError)


def test_connect_socket_needs_a_numeric_address(nbio: SelectorIOServicesAdapter) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(ValueError):
        nbio.connect_socket(sock, ("localhost", 5672), lambda _error: None)


def test_cancelled_connect_never_reports(nbio: SelectorIOServicesAdapter) -> None:
    outcomes: list[Optional[BaseException]] = []
    with socket.create_server((LOOPBACK, 0)) as listener, socket.socket() as sock:
        reference = nbio.connect_socket(sock, listener.getsockname(), outcomes.append)
        assert reference.cancel() is True
        assert reference.cancel() is False
        run_for(nbio, 0.05)
    assert outcomes == []


# Streaming: set-up


def test_plain_stream_echoes(nbio: SelectorIOServicesAdapter) -> None:
    peer = Peer("echo")
    transport, protocol = open_stream(nbio, peer)
    assert isinstance(transport, AbstractStreamTransport)
    assert transport.get_protocol() is protocol
    transport.write(b"")
    transport.write(b"hello")
    run_until(nbio, lambda: protocol.received == 5)
    assert protocol.data() == b"hello"
    assert transport.get_write_buffer_size() == 0
    transport.abort()
    run_until(nbio, lambda: protocol.lost)


def test_untrusted_certificate_fails_the_set_up(
    nbio: SelectorIOServicesAdapter, tls: TLSContexts
) -> None:
    peer = Peer("echo", ssl_context=tls.server)
    sock = connect(nbio, peer.address)
    outcome, protocol = set_up_stream(nbio, sock, ssl.create_default_context(), "localhost")
    assert isinstance(outcome, ssl.SSLCertVerificationError)
    assert protocol.transport is None


def test_wrong_server_hostname_fails_the_set_up(
    nbio: SelectorIOServicesAdapter, tls: TLSContexts
) -> None:
    peer = Peer("echo", ssl_context=tls.server)
    sock = connect(nbio, peer.address)
    outcome, _ = set_up_stream(nbio, sock, tls.client, "wrong.example")
    assert isinstance(outcome, ssl.SSLCertVerificationError)


def test_cancel_before_set_up_closes_the_socket(nbio: SelectorIOServicesAdapter) -> None:
    peer = Peer("echo")
    sock = connect(nbio, peer.address)
    outcomes: list[Any] = []
    reference = nbio.create_streaming_connection(RecordingProtocol, sock, outcomes.append)
    assert reference.cancel() is True
    assert reference.cancel() is False
    run_for(nbio, 0.05)
    assert outcomes == []
    assert sock.fileno() == -1


def test_cancel_during_tls_handshake(nbio: SelectorIOServicesAdapter, tls: TLSContexts) -> None:
    peer = Peer("silent", ssl_context=tls.server)
    sock = connect(nbio, peer.address)
    outcomes: list[Any] = []
    reference = nbio.create_streaming_connection(
        RecordingProtocol, sock, outcomes.append, tls.client, "localhost"
    )
    run_for(nbio, 0.05)
    assert outcomes == []
    assert reference.cancel() is True
    run_for(nbio, 0.02)
    assert outcomes == []
    peer.release.set()


def _raise_value_error() -> RecordingProtocol:
    raise ValueError("no protocol today")


class FailingProtocol(RecordingProtocol):
    def connection_made(self, transport: AbstractStreamTransport) -> None:
        raise ValueError("refused")


@pytest.mark.parametrize("factory", [_raise_value_error, FailingProtocol])
def test_protocol_errors_are_reported_through_on_done(
    nbio: SelectorIOServicesAdapter, factory: Callable[[], AbstractStreamProtocol]
) -> None:
    peer = Peer("echo")
    sock = connect(nbio, peer.address)
    outcomes: list[Any] = []
    nbio.create_streaming_connection(factory, sock, outcomes.append)
    run_until(nbio, lambda: outcomes)
    assert isinstance(outcomes[0], ValueError)
    assert sock.fileno() == -1


def test_server_hostname_without_tls_is_refused(nbio: SelectorIOServicesAdapter) -> None:
    with socket.socket() as sock, pytest.raises(ValueError):
        nbio.create_streaming_connection(
            RecordingProtocol, sock, lambda _outcome: None, None, "localhost"
        )


# Streaming: data


def _mixed_buffers(total_large: int) -> list[Any]:
    """Large and small buffers of every accepted type, each with distinct content."""
    buffers: list[Any] = [os.urandom(40), memoryview(os.urandom(total_large // 2))]
    buffers += [struct.pack(">I", index) * 8 for index in range(300)]
    buffers.append(bytearray(os.urandom(total_large // 2)))
    buffers.append(memoryview(os.urandom(MIB))[7:-7])
    return buffers


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_large_writes_arrive_intact_and_in_order(
    nbio: SelectorIOServicesAdapter, tls: TLSContexts, secure: bool
) -> None:
    peer = Peer("echo", ssl_context=tls.server if secure else None)
    transport, protocol = open_stream(nbio, peer, tls if secure else None)
    first = _mixed_buffers(6 * MIB)
    second = [b"tail-%d" % index for index in range(100)]
    expected = b"".join(first) + b"".join(second) + b"end"
    transport.writelines(first)
    transport.writelines(second)
    transport.write(b"end")
    run_until(nbio, lambda: protocol.received >= len(expected))
    assert hashlib.sha256(protocol.data()).digest() == hashlib.sha256(expected).digest()
    assert transport.get_write_buffer_size() == 0
    transport.abort()
    run_until(nbio, lambda: protocol.lost)


def test_more_buffers_than_one_sendmsg_takes(nbio: SelectorIOServicesAdapter) -> None:
    peer = Peer("echo")
    transport, protocol = open_stream(nbio, peer)
    count = io_services_utils.IOV_MAX * 3 + 5
    buffers = [struct.pack(">I", index) * 25 for index in range(count)]
    expected = b"".join(buffers)
    assert len(expected) > io_services_utils.JOIN_LIMIT
    transport.writelines(buffers)
    run_until(nbio, lambda: protocol.received >= len(expected))
    assert protocol.data() == expected
    transport.abort()
    run_until(nbio, lambda: protocol.lost)


def test_slow_peer_gets_everything_once_it_reads(nbio: SelectorIOServicesAdapter) -> None:
    gate = threading.Event()
    head = os.urandom(3 * MIB)
    body = bytearray(os.urandom(5 * MIB))
    expected = head + bytes(body) + b"after"
    peer = Peer("sink", gate=gate, expect=len(expected), receive_buffer=64 * 1024)
    sock = connect(nbio, peer.address, send_buffer=64 * 1024)
    outcome, protocol = set_up_stream(nbio, sock)
    transport = protocol.transport
    assert transport is not None and outcome == (transport, protocol)

    transport.writelines([head, body])
    body[:] = bytes(len(body))  # the caller may reuse its buffer at once
    transport.write(b"after")
    queued = transport.get_write_buffer_size()
    assert 0 < queued <= len(expected)
    run_for(nbio, 0.1)
    assert transport.get_write_buffer_size() > 0

    gate.set()
    run_until(nbio, lambda: transport.get_write_buffer_size() == 0)
    run_until(nbio, peer.done.is_set)
    assert peer.error is None
    assert bytes(peer.received) == expected
    transport.abort()
    run_until(nbio, lambda: protocol.lost)


# Streaming: endings


def test_abort_reports_connection_lost_none_once_and_later(nbio: SelectorIOServicesAdapter) -> None:
    peer = Peer("echo")
    transport, protocol = open_stream(nbio, peer)
    transport.abort()
    assert protocol.lost == []
    transport.abort()
    transport.write(b"ignored")
    transport.writelines([b"ignored", b"too"])
    assert transport.get_write_buffer_size() == 0
    run_until(nbio, lambda: protocol.lost)
    run_for(nbio, 0.02)
    assert protocol.lost == [None]
    assert not protocol.eof
    run_until(nbio, peer.done.is_set)


def test_peer_close_gives_eof_then_connection_lost(nbio: SelectorIOServicesAdapter) -> None:
    peer = Peer("close")
    _, protocol = open_stream(nbio, peer)
    run_until(nbio, lambda: protocol.lost)
    run_for(nbio, 0.02)
    assert protocol.data() == b"bye"
    assert protocol.eof
    assert len(protocol.lost) == 1
    assert isinstance(protocol.lost[0], EOFError)


def test_peer_reset_is_reported_as_the_error(nbio: SelectorIOServicesAdapter) -> None:
    peer = Peer("reset")
    _, protocol = open_stream(nbio, peer)
    peer.release.set()
    run_until(nbio, lambda: protocol.lost)
    assert not protocol.eof
    assert len(protocol.lost) == 1
    assert isinstance(protocol.lost[0], ConnectionResetError)


def test_tls_peer_close_gives_eof(nbio: SelectorIOServicesAdapter, tls: TLSContexts) -> None:
    peer = Peer("close", ssl_context=tls.server)
    _, protocol = open_stream(nbio, peer, tls)
    run_until(nbio, lambda: protocol.lost)
    assert protocol.data() == b"bye"
    assert protocol.eof
    assert isinstance(protocol.lost[0], EOFError)
