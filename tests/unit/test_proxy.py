"""TcpProxy against a local echo server: forwarding and every fault it injects."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.utils.proxy import TcpProxy
from tests.utils.sockets import free_ports
from tests.utils.wait import wait_until


class EchoServer:
    """Echoes every connection until the client's FIN, then closes its side."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.resets = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except ConnectionResetError:
                self.resets += 1

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", echo.port) as p:
        yield p


def connect(proxy: TcpProxy) -> socket.socket:
    sock = socket.create_connection(proxy.address, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def round_trip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    return receive_exactly(sock, len(payload))


def test_forwards_both_directions_intact(proxy: TcpProxy) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB, larger than the proxy's buffers
    with connect(proxy) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert receive_exactly(sock, len(payload)) == payload
        sender.join()


def test_counts_connections(proxy: TcpProxy) -> None:
    with connect(proxy) as first, connect(proxy) as second:
        assert round_trip(first, b"a") == b"a"
        assert round_trip(second, b"b") == b"b"
        assert proxy.connection_count == 2
    wait_until(lambda: proxy.connection_count == 0, message="both links closed")
    assert proxy.total_connections == 2


def test_client_half_close_is_passed_on(proxy: TcpProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        assert receive_exactly(sock, 10) == b"last words"
        assert sock.recv(1) == b""  # the echo server saw our FIN and closed
    wait_until(lambda: proxy.connection_count == 0, message="link closed")


def test_cut_resets_both_sides(proxy: TcpProxy, echo: EchoServer) -> None:
    with connect(proxy) as sock:
        assert round_trip(sock, b"ping") == b"ping"
        assert proxy.cut() == 1
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    wait_until(lambda: echo.resets == 1, message="the upstream side saw a reset")
    assert proxy.connection_count == 0


def test_new_connections_work_after_a_cut(proxy: TcpProxy) -> None:
    with connect(proxy) as sock:
        proxy.cut()
    with connect(proxy) as sock:
        assert round_trip(sock, b"again") == b"again"


def test_stall_holds_data_until_resume(proxy: TcpProxy) -> None:
    with connect(proxy) as sock:
        assert round_trip(sock, b"before") == b"before"
        proxy.stall()
        sock.sendall(b"during")
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(1)
        assert proxy.connection_count == 1
        proxy.resume()
        sock.settimeout(5)
        assert receive_exactly(sock, 6) == b"during"


def test_delay_holds_each_direction(proxy: TcpProxy) -> None:
    proxy.set_delay(0.25)
    with connect(proxy) as sock:
        started = time.monotonic()
        assert round_trip(sock, b"slow") == b"slow"
        assert time.monotonic() - started >= 0.5  # delayed on the way out and back
        proxy.set_delay(0)
        assert round_trip(sock, b"fast") == b"fast"


def test_rate_limit_slows_the_transfer(proxy: TcpProxy) -> None:
    proxy.set_rate_limit(40_000)
    payload = b"x" * 20_000
    with connect(proxy) as sock:
        started = time.monotonic()
        assert round_trip(sock, payload) == payload
        # 20 kB at 40 kB/s, less the 2 kB burst; the echo overlaps the two directions
        assert time.monotonic() - started >= 0.4
        proxy.set_rate_limit(None)
        assert round_trip(sock, payload) == payload


def test_rate_limit_rejects_nonsense(proxy: TcpProxy) -> None:
    with pytest.raises(ValueError):
        proxy.set_rate_limit(0)
    with pytest.raises(ValueError):
        proxy.set_delay(-1)


def test_refuse_new_then_accept_again(proxy: TcpProxy) -> None:
    with connect(proxy) as established:
        proxy.refuse_new(True)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=5)
        assert round_trip(established, b"still here") == b"still here"
        proxy.refuse_new(False)
        with connect(proxy) as sock:
            assert round_trip(sock, b"back") == b"back"


def test_unreachable_target_resets_the_client() -> None:
    (closed_port,) = free_ports(1)
    with TcpProxy("127.0.0.1", closed_port) as proxy:
        # The reset can arrive before connect() returns, or at the first read.
        with pytest.raises(ConnectionResetError), connect(proxy) as sock:
            sock.recv(1)
        assert proxy.connection_count == 0


def test_rewrite_url_keeps_credentials_and_vhost(proxy: TcpProxy) -> None:
    rewritten = proxy.rewrite_url("amqp://user:secret@broker.example:5672/%2Fvhost?heartbeat=5")
    assert rewritten == f"amqp://user:secret@127.0.0.1:{proxy.port}/%2Fvhost?heartbeat=5"
    assert proxy.rewrite_url("amqp://example/") == f"amqp://127.0.0.1:{proxy.port}/"


def test_close_resets_connections_and_stops_listening(echo: EchoServer) -> None:
    proxy = TcpProxy("127.0.0.1", echo.port)
    with connect(proxy) as sock:
        assert round_trip(sock, b"hi") == b"hi"
        proxy.close()
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(proxy.address, timeout=5)
    with pytest.raises(RuntimeError):
        proxy.cut()
    proxy.close()  # a second close does nothing
