"""The connection workflow through `SelectConnection`: parameters tried in
turn, retries, every resolved address, socket and stack timeouts, TCP
options, `create_connection` and its abort, and the exceptions a failed
workflow reports (every one an AMQPConnectionError)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from pika import exceptions
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.utils import connection_workflow as workflow_mod
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from pika.connection import ConnectionParameters, Parameters, SSLOptions, URLParameters
from pika.credentials import PlainCredentials
from tests.integration.select_support import Recorder, close_connection, pump, unique
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker


@pytest.fixture
def broker_params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)


@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listener never accepts and whose backlog is
    full, so a new TCP connect to it gets no answer at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)
    yield port
    filler.close()
    listener.close()


def params_for(base: Parameters, **overrides: Any) -> ConnectionParameters:
    values: dict[str, Any] = {
        "host": base.host,
        "port": base.port,
        "credentials": base.credentials,
        "virtual_host": base.virtual_host,
    }
    values.update(overrides)
    return ConnectionParameters(**values)


class WorkflowRun:
    """One `SelectConnection.create_connection` on its own loop."""

    def __init__(
        self,
        configs: list[Parameters],
        nbio: ScriptedResolver | None = None,
    ) -> None:
        self.loop = nbio.loop if nbio is not None else IOLoop()
        self.results: list[Any] = []
        self.started = time.monotonic()
        self.elapsed = 0.0
        self.workflow = SelectConnection.create_connection(
            configs, self._on_done, custom_ioloop=nbio or self.loop
        )

    def _on_done(self, result: Any) -> None:
        self.elapsed = time.monotonic() - self.started
        self.results.append(result)

    def wait(self, timeout: float = 20.0) -> Any:
        pump(self.loop, lambda: self.results, timeout, "workflow done")
        assert len(self.results) == 1
        return self.results[0]

    def close(self) -> None:
        for result in self.results:
            if isinstance(result, SelectConnection) and not result.is_closed:
                close_connection(result)
        self.loop.close()


class ScriptedResolver(SelectorIOServicesAdapter):
    """I/O services whose name resolution answers with fixed addresses, and
    which keep every socket they connect (to read its options)."""

    def __init__(self, loop: IOLoop, addresses: list[tuple[Any, ...]] | None = None) -> None:
        super().__init__(loop)
        self.loop = loop
        self.addresses = addresses
        self.sockets: list[socket.socket] = []

    def getaddrinfo(
        self,
        host: str,
        port: int,
        on_done: Callable[..., None],
        family: int = 0,
        socktype: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Any:
        if self.addresses is None:
            return super().getaddrinfo(host, port, on_done, family, socktype, proto, flags)
        return super().getaddrinfo(
            "127.0.0.1", port, lambda _result: on_done(list(self.addresses or ())), family, socktype
        )

    def connect_socket(
        self, sock: socket.socket, resolved_addr: tuple[Any, ...], on_done: Callable[..., None]
    ) -> Any:
        self.sockets.append(sock)
        return super().connect_socket(sock, resolved_addr, on_done)


def record(family: int, address: tuple[Any, ...]) -> tuple[Any, ...]:
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)


def test_parameters_tried_in_turn(broker_params: URLParameters, refused_port: int) -> None:
    run = WorkflowRun([params_for(broker_params, port=refused_port), broker_params])
    try:
        result = run.wait()
        assert isinstance(result, SelectConnection) and result.is_open
        assert result.params is broker_params
    finally:
        run.close()


def test_connection_attempts_and_retry_delay(
    broker_params: URLParameters, refused_port: int
) -> None:
    bad = params_for(broker_params, port=refused_port, connection_attempts=3, retry_delay=0.3)
    run = WorkflowRun([bad])
    try:
        result = run.wait()
        assert isinstance(result, workflow_mod.AMQPConnectionWorkflowFailed)
        assert isinstance(result, exceptions.AMQPConnectionError)
        assert len(result.exceptions) == 3
        for error in result.exceptions:
            assert isinstance(error, workflow_mod.AMQPConnectorSocketConnectError)
            assert isinstance(error.exception, ConnectionRefusedError)
        assert run.elapsed >= 0.55  # two delays between three attempts
        assert "3 connection attempt(s) failed" in str(result)
    finally:
        run.close()


def test_rounds_go_over_every_parameters_object(
    broker_params: URLParameters, refused_port: int
) -> None:
    first = params_for(broker_params, port=refused_port, connection_attempts=2, retry_delay=0)
    second = params_for(broker_params, port=refused_port, connection_attempts=1)
    run = WorkflowRun([first, second])
    try:
        result = run.wait()
        assert isinstance(result, workflow_mod.AMQPConnectionWorkflowFailed)
        assert len(result.exceptions) == 3
    finally:
        run.close()


def test_every_resolved_address_is_tried(broker_params: URLParameters) -> None:
    """A name resolving to ::1 and 127.0.0.1 (as ``localhost`` often does):
    the broker here listens on 127.0.0.1 only, so the workflow falls back."""
    ipv6 = record(socket.AF_INET6, ("::1", broker_params.port, 0, 0))
    ipv4 = record(socket.AF_INET, ("127.0.0.1", broker_params.port))
    nbio = ScriptedResolver(IOLoop(), [ipv6, ipv4])
    run = WorkflowRun([params_for(broker_params, host="localhost")], nbio=nbio)
    try:
        result = run.wait()
        assert isinstance(result, SelectConnection) and result.is_open
        assert [sock.family for sock in nbio.sockets] == [socket.AF_INET6, socket.AF_INET]
    finally:
        run.close()


def test_failure_lists_every_address(broker_params: URLParameters, refused_port: int) -> None:
    addresses = [
        record(socket.AF_INET, ("127.0.0.1", refused_port)),
        record(socket.AF_INET6, ("::1", refused_port, 0, 0)),
    ]
    nbio = ScriptedResolver(IOLoop(), addresses)
    run = WorkflowRun([params_for(broker_params, port=refused_port)], nbio=nbio)
    try:
        result = run.wait()
        assert isinstance(result, workflow_mod.AMQPConnectionWorkflowFailed)
        assert len(result.exceptions) == 2
    finally:
        run.close()


def test_unresolvable_host_is_a_connect_error(broker_params: URLParameters) -> None:
    run = WorkflowRun([params_for(broker_params, host="no-such-host.invalid")])
    try:
        result = run.wait()
        assert isinstance(result, workflow_mod.AMQPConnectionWorkflowFailed)
        (error,) = result.exceptions
        assert isinstance(error, workflow_mod.AMQPConnectorSocketConnectError)
        assert isinstance(error.exception, socket.gaierror)
    finally:
        run.close()


def test_socket_timeout_bounds_the_tcp_connect(
    broker_params: URLParameters, unanswered_port: int
) -> None:
    run = WorkflowRun([params_for(broker_params, port=unanswered_port, socket_timeout=0.5)])
    try:
        result = run.wait()
        assert 0.45 <= run.elapsed < 3
        (error,) = result.exceptions
        assert isinstance(error, workflow_mod.AMQPConnectorSocketConnectError)
        assert isinstance(error.exception, socket.timeout)
    finally:
        run.close()


def test_socket_timeout_bounds_the_tls_handshake_and_names_it(
    broker_params: URLParameters,
) -> None:
    # The proxy accepts the TCP connection and forwards nothing, so the
    # ClientHello is never answered: socket_timeout runs out in the TLS
    # phase, not the TCP connect, and the error says so.
    with TcpProxy(broker_params.host, broker_params.port) as proxy:
        proxy.stall()
        tls = SSLOptions(ssl.create_default_context(), "localhost")
        stalled = params_for(
            broker_params,
            host=proxy.host,
            port=proxy.port,
            ssl_options=tls,
            socket_timeout=0.5,
            stack_timeout=10,
        )
        run = WorkflowRun([stalled])
        try:
            result = run.wait()
            assert 0.45 <= run.elapsed < 5
            (error,) = result.exceptions
            assert isinstance(error, workflow_mod.AMQPConnectorTransportSetupError)
            assert isinstance(error.exception, socket.timeout)
            assert "TLS handshake" in str(error.exception)
        finally:
            run.close()


def test_stack_timeout_bounds_the_whole_handshake(broker_params: URLParameters) -> None:
    with TcpProxy(broker_params.host, broker_params.port) as proxy:
        proxy.stall()
        stalled = params_for(
            broker_params, host=proxy.host, port=proxy.port, stack_timeout=0.7, socket_timeout=5
        )
        run = WorkflowRun([stalled])
        try:
            result = run.wait()
            assert 0.65 <= run.elapsed < 3
            (error,) = result.exceptions
            assert isinstance(error, workflow_mod.AMQPConnectorStackTimeout)
            assert isinstance(error, exceptions.AMQPConnectionError)
        finally:
            run.close()


def test_stack_timeout_reaches_open_error_callback(broker_params: URLParameters) -> None:
    with TcpProxy(broker_params.host, broker_params.port) as proxy:
        proxy.stall()
        rec = Recorder()
        params = params_for(broker_params, host=proxy.host, port=proxy.port, stack_timeout=0.5)
        conn = SelectConnection(params, on_open_error_callback=rec.cb("error"))
        pump(conn.ioloop, rec.has("error"))
        _conn, error = rec.one("error")
        assert isinstance(error, exceptions.AMQPConnectionError)
        assert conn.is_closed
        conn.ioloop.close()


def test_tcp_options_are_applied(broker_params: URLParameters) -> None:
    options = {"TCP_KEEPIDLE": 61, "TCP_KEEPINTVL": 7, "TCP_KEEPCNT": 4}
    nbio = ScriptedResolver(IOLoop())
    run = WorkflowRun([params_for(broker_params, tcp_options=options)], nbio=nbio)
    try:
        assert isinstance(run.wait(), SelectConnection)
        (sock,) = nbio.sockets
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 61
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 7
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
    finally:
        run.close()


def test_abort_stops_the_workflow(broker_params: URLParameters, unanswered_port: int) -> None:
    run = WorkflowRun([params_for(broker_params, port=unanswered_port, socket_timeout=30)])
    try:
        pump(run.loop, lambda: time.monotonic() - run.started > 0.2)
        run.workflow.abort()
        result = run.wait(timeout=2)
        assert isinstance(result, workflow_mod.AMQPConnectionWorkflowAborted)
        assert isinstance(result, exceptions.AMQPConnectionError)
        with pytest.raises(workflow_mod.AMQPConnectionWorkflowWrongState):
            run.workflow.abort()
    finally:
        run.close()


def test_abort_during_retry_delay(broker_params: URLParameters, refused_port: int) -> None:
    bad = params_for(broker_params, port=refused_port, connection_attempts=5, retry_delay=10)
    run = WorkflowRun([bad])
    try:
        pump(run.loop, lambda: time.monotonic() - run.started > 0.3)
        run.workflow.abort()
        assert isinstance(run.wait(timeout=2), workflow_mod.AMQPConnectionWorkflowAborted)
    finally:
        run.close()


def test_authentication_failure_then_next_parameters(broker_params: URLParameters) -> None:
    wrong = params_for(
        broker_params, credentials=PlainCredentials("guest", "wrong"), connection_attempts=3
    )
    run = WorkflowRun([wrong, broker_params])
    try:
        result = run.wait()
        # The broker answered: the next parameters are still tried.
        assert isinstance(result, SelectConnection)
    finally:
        run.close()
    run = WorkflowRun([wrong])
    try:
        result = run.wait()
        assert isinstance(result, workflow_mod.AMQPConnectionWorkflowFailed)
        assert len(result.exceptions) == 3
        for error in result.exceptions:
            assert isinstance(error, workflow_mod.AMQPConnectorAMQPHandshakeError)
            assert isinstance(error.exception, exceptions.ProbableAuthenticationError)
    finally:
        run.close()


def test_unknown_vhost_is_access_denied(broker_params: URLParameters) -> None:
    run = WorkflowRun([params_for(broker_params, virtual_host=unique("vhost"))])
    try:
        result = run.wait()
        (error,) = result.exceptions
        assert isinstance(error, workflow_mod.AMQPConnectorAMQPHandshakeError)
        assert isinstance(error.exception, exceptions.ProbableAccessDeniedError)
    finally:
        run.close()


@pytest.mark.parametrize(
    "failure",
    ["refused", "unresolvable", "auth", "vhost", "stalled"],
)
def test_every_connect_failure_is_an_amqp_connection_error(
    broker_params: URLParameters, refused_port: int, failure: str
) -> None:
    with TcpProxy(broker_params.host, broker_params.port) as proxy:
        proxy.stall()
        choices: dict[str, dict[str, Any]] = {
            "refused": {"port": refused_port},
            "unresolvable": {"host": "no-such-host.invalid"},
            "auth": {"credentials": PlainCredentials("nobody", "nothing")},
            "vhost": {"virtual_host": unique("vhost")},
            "stalled": {"host": proxy.host, "port": proxy.port, "stack_timeout": 0.5},
        }
        overrides = choices[failure]
        rec = Recorder()
        conn = SelectConnection(
            params_for(broker_params, **overrides), on_open_error_callback=rec.cb("error")
        )
        pump(conn.ioloop, rec.has("error"))
        _conn, error = rec.one("error")
        assert isinstance(error, exceptions.AMQPConnectionError), repr(error)
        conn.ioloop.close()
        run = WorkflowRun([params_for(broker_params, **overrides)])
        try:
            result = run.wait()
            assert isinstance(result, workflow_mod.AMQPConnectionWorkflowFailed)
            assert all(isinstance(e, exceptions.AMQPConnectionError) for e in result.exceptions)
        finally:
            run.close()
