"""Getting from connection parameters to an open AMQP connection.

`AMQPConnector` makes one attempt at one resolved address: TCP connect and
TLS when asked (together bounded by ``socket_timeout``), then the AMQP handshake,
the whole bounded by ``stack_timeout``. `AMQPConnectionWorkflow` runs
connectors over every address of every parameters object, with
``connection_attempts`` rounds and ``retry_delay`` between them, and reports
the open connection or `AMQPConnectionWorkflowFailed` carrying what each
attempt raised.

Unlike Pika, every exception here is also a
`pika.exceptions.AMQPConnectionError`, so one ``except`` clause catches
every failure to connect.
"""

from __future__ import annotations

import abc
import logging
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from pika import exceptions
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.io_services_utils import set_sock_opts

if TYPE_CHECKING:
    import pika.connection

LOGGER = logging.getLogger(__name__)


class AMQPConnectorException(exceptions.AMQPConnectionError):
    """Base of the connector and workflow exceptions."""


class AMQPConnectorStackTimeout(AMQPConnectorException):
    """The whole attempt (TCP, TLS, AMQP handshake) exceeded stack_timeout."""


class AMQPConnectorAborted(AMQPConnectorException):
    """The attempt was aborted by the application."""


class AMQPConnectorWrongState(AMQPConnectorException):
    """A connector method was called in a state that does not allow it."""


class AMQPConnectorPhaseErrorBase(AMQPConnectorException):
    """One phase of an attempt failed; ``exception`` says why.

    Args:
        exception: The error of that phase.
        host: The broker's host, when known.
        port: The broker's port, when known.
    """

    def __init__(
        self, exception: BaseException, *args: Any, host: str | None = None, port: int | None = None
    ) -> None:
        super().__init__(*args, host=host, port=port)
        self.exception = exception

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.exception!r}{self._where()}"

    def _where(self) -> str:
        host, port = getattr(self, "host", None), getattr(self, "port", None)
        return f" (broker {host}:{port})" if host is not None else ""


class AMQPConnectorSocketConnectError(AMQPConnectorPhaseErrorBase):
    """The TCP connection could not be made."""


class AMQPConnectorTransportSetupError(AMQPConnectorPhaseErrorBase):
    """The connection object (the factory raised) or its transport (TLS
    handshake included) could not be set up."""


class AMQPConnectorAMQPHandshakeError(AMQPConnectorPhaseErrorBase):
    """The AMQP handshake failed (authentication, vhost, protocol...)."""


class AMQPConnectionWorkflowAborted(AMQPConnectorException):
    """The workflow was aborted by the application."""


class AMQPConnectionWorkflowWrongState(AMQPConnectorException):
    """A workflow method was called in a state that does not allow it."""


class AMQPConnectionWorkflowFailed(AMQPConnectorException):
    """Every attempt failed; ``exceptions`` lists what each one raised.

    Args:
        exceptions: What each attempt raised, in order.
    """

    def __init__(self, exceptions: Sequence[BaseException], *args: Any) -> None:
        super().__init__(*args)
        self.exceptions = list(exceptions)

    def __str__(self) -> str:
        tried = "; ".join(str(exc) for exc in self.exceptions) or "nothing was tried"
        return f"{len(self.exceptions)} connection attempt(s) failed: {tried}"


OnConnectorDone = Callable[[Any], None]
"""The callback of `AMQPConnector.start`, given the open connection or an exception."""


class AMQPConnector:
    """One attempt to connect to one resolved address.

    Args:
        conn_factory: Called with the parameters to make the connection object (the stream's
            protocol).
        nbio: The I/O services to connect with.
    """

    def __init__(
        self,
        conn_factory: Callable[[pika.connection.Parameters], Any],
        nbio: nbio_interface.AbstractIOServices,
        _keep_default_open_error: bool = False,
    ) -> None:
        self._conn_factory = conn_factory
        self._keep_default_open_error = _keep_default_open_error
        self._nbio = nbio
        self._on_done: OnConnectorDone | None = None
        self._sock: socket.socket | None = None
        self._conn: Any = None
        self._task: nbio_interface.AbstractIOReference | None = None
        self._socket_timer: nbio_interface.AbstractTimerReference | None = None
        self._stack_timer: nbio_interface.AbstractTimerReference | None = None
        self._host: str | None = None
        self._port: int | None = None
        #: True once the transport is up and the AMQP handshake has begun.
        self.amqp_started = False

    def start(
        self,
        addr_record: tuple[Any, ...],
        conn_params: pika.connection.Parameters,
        on_done: OnConnectorDone,
    ) -> None:
        """Connect to ``addr_record`` (a getaddrinfo entry); ``on_done``
        gets the open connection or an AMQPConnectorException.

        Args:
            addr_record: A getaddrinfo entry.
            conn_params: The `pika.connection.Parameters` to connect with.
            on_done: Called once with the open connection or an `AMQPConnectorException`.
        """
        if self._on_done is not None:
            raise AMQPConnectorWrongState("connector already started")
        self._on_done = on_done
        self._params = conn_params
        family, socktype, proto, _canonname, sockaddr = addr_record
        self._host, self._port = conn_params.host, sockaddr[1]
        try:
            sock = socket.socket(family, socktype or socket.SOCK_STREAM, proto)
            set_sock_opts(sock, conn_params.tcp_options)
            sock.setblocking(False)
        except OSError as exc:
            error = AMQPConnectorSocketConnectError(exc, **self._where())
            self._nbio.add_callback(lambda: self._fail(error))
            return
        self._sock = sock
        if conn_params.stack_timeout:
            self._stack_timer = self._nbio.call_later(
                conn_params.stack_timeout, self._on_stack_timeout
            )
        if conn_params.socket_timeout:
            self._socket_timer = self._nbio.call_later(
                conn_params.socket_timeout, self._on_socket_timeout
            )
        self._task = self._nbio.connect_socket(sock, sockaddr, self._on_socket_connected)

    def abort(self) -> None:
        """Stop the attempt; ``on_done`` gets AMQPConnectorAborted."""
        if self._on_done is None:
            raise AMQPConnectorWrongState("connector not started or already done")
        self._fail(AMQPConnectorAborted("connection attempt aborted", **self._where()))

    def _where(self) -> dict[str, Any]:
        return {"host": self._host, "port": self._port}

    def _on_socket_timeout(self) -> None:
        # socket_timeout bounds the TCP connect and then the transport's own
        # setup (the TLS handshake): name the phase it ran out in.
        self._socket_timer = None
        limit = self._params.socket_timeout
        error: AMQPConnectorPhaseErrorBase
        if self._conn is None:
            error = AMQPConnectorSocketConnectError(
                socket.timeout(f"TCP connect timed out after {limit} s"), **self._where()
            )
        else:
            error = AMQPConnectorTransportSetupError(
                socket.timeout(f"transport setup (TLS handshake) timed out after {limit} s"),
                **self._where(),
            )
        self._fail(error)

    def _on_stack_timeout(self) -> None:
        self._stack_timer = None
        self._fail(
            AMQPConnectorStackTimeout(
                f"connection not open after stack_timeout={self._params.stack_timeout} s",
                **self._where(),
            )
        )

    def _on_socket_connected(self, error: BaseException | None) -> None:
        self._task = None
        if error is not None:
            self._fail(AMQPConnectorSocketConnectError(error, **self._where()))
            return
        ssl_options = self._params.ssl_options
        try:
            self._conn = self._conn_factory(self._params)
        except Exception as exc:
            # One failed attempt, like any other: the workflow goes on.
            LOGGER.warning("the connection factory refused %r: %r", self._params, exc)
            self._fail(AMQPConnectorTransportSetupError(exc, **self._where()))
            return
        assert self._sock is not None
        self._task = self._nbio.create_streaming_connection(
            lambda: self._conn,
            self._sock,
            self._on_transport_ready,
            ssl_context=ssl_options.context if ssl_options else None,
            server_hostname=(
                (ssl_options.server_hostname or self._params.host) if ssl_options else None
            ),
        )

    def _on_transport_ready(self, result: Any) -> None:
        self._task = None
        if isinstance(result, BaseException):
            self._conn = None
            self._fail(AMQPConnectorTransportSetupError(result, **self._where()))
            return
        self._sock = None  # the transport owns it now
        self.amqp_started = True
        if self._socket_timer is not None:
            self._socket_timer.cancel()
            self._socket_timer = None
        conn = self._conn
        conn.add_on_open_callback(self._on_amqp_open)
        conn.add_on_open_error_callback(
            self._on_amqp_error, remove_default=not self._keep_default_open_error
        )

    def _on_amqp_open(self, conn: Any) -> None:
        self._detach(conn)
        self._finish(conn)

    def _on_amqp_error(self, conn: Any, error: BaseException) -> None:
        self._detach(conn)
        self._conn = None
        self._finish(AMQPConnectorAMQPHandshakeError(error, **self._where()))

    def _detach(self, conn: Any) -> None:
        conn.remove_on_open_callback(self._on_amqp_open)
        conn.remove_on_open_error_callback(self._on_amqp_error)

    def _fail(self, error: AMQPConnectorException) -> None:
        if self._on_done is None:
            return
        if self._task is not None:
            self._task.cancel()
            self._task = None
        conn, self._conn = self._conn, None
        if conn is not None:
            self._detach(conn)
            if not conn.is_closed:
                conn._terminate(error)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._finish(error)

    def _finish(self, result: Any) -> None:
        for timer in (self._socket_timer, self._stack_timer):
            if timer is not None:
                timer.cancel()
        self._socket_timer = self._stack_timer = None
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(result)


class AbstractAMQPConnectionWorkflow(abc.ABC):
    """Interface of a connection workflow."""

    @abc.abstractmethod
    def start(
        self,
        connection_configs: Sequence[pika.connection.Parameters],
        connector_factory: Callable[..., Any],
        native_loop: Any,
        on_done: Callable[[Any], None],
    ) -> None:
        """Begin connecting; ``on_done`` gets a connection or an exception.

        Args:
            connection_configs: The parameters to try, in order.
            connector_factory: Called with no arguments to make the `AMQPConnector` of each attempt.
            native_loop: The event loop the connections run on.
            on_done: Called once with the open connection, or an `AMQPConnectorException` when every
                attempt failed.

        Raises:
            AMQPConnectionWorkflowWrongState: The workflow was started already, or is not ready to
                start.
            ValueError: ``connection_configs`` is empty.
        """

    @abc.abstractmethod
    def abort(self) -> None:
        """Stop; ``on_done`` gets AMQPConnectionWorkflowAborted."""


class AMQPConnectionWorkflow(AbstractAMQPConnectionWorkflow):
    """Tries every address of every parameters object, in rounds.

    `start` makes up to ``connection_attempts`` rounds, ``retry_delay`` apart, until one
    connection opens.
    """

    def __init__(self, _until_first_amqp_attempt: bool = False) -> None:
        self._until_first_amqp_attempt = _until_first_amqp_attempt
        self._nbio: nbio_interface.AbstractIOServices | None = None
        self._on_done: Callable[[Any], None] | None = None
        self._plan: list[tuple[pika.connection.Parameters, bool]] = []
        self._addresses: list[tuple[Any, ...]] = []
        self._params: pika.connection.Parameters | None = None
        self._errors: list[BaseException] = []
        self._connector: AMQPConnector | None = None
        self._pending: Any = None
        self._started = False

    def set_io_services(self, nbio: nbio_interface.AbstractIOServices) -> None:
        """Give the workflow the I/O services to run on (before `start`).

        Args:
            nbio: The `AbstractIOServices`.
        """
        self._nbio = nbio

    def start(
        self,
        connection_configs: Sequence[pika.connection.Parameters],
        connector_factory: Callable[..., Any],
        native_loop: Any,
        on_done: Callable[[Any], None],
    ) -> None:
        # The contract (arguments, errors) is AbstractAMQPConnectionWorkflow.start's docstring.
        if self._started:
            raise AMQPConnectionWorkflowWrongState("workflow already started")
        if self._nbio is None:
            raise AMQPConnectionWorkflowWrongState("set_io_services() must be called first")
        configs = list(connection_configs)
        if not configs:
            raise ValueError("connection_configs is empty")
        self._started = True
        self._connector_factory = connector_factory
        self._on_done = on_done
        rounds = max(params.connection_attempts for params in configs)
        for round_number in range(rounds):
            for params in configs:
                if round_number < params.connection_attempts:
                    self._plan.append((params, round_number > 0))
        self._nbio.add_callback(self._next_params)

    def abort(self) -> None:
        """Stop the attempts; ``on_done`` then gets `AMQPConnectionWorkflowAborted`.

        Raises:
            AMQPConnectionWorkflowWrongState: The workflow has not started or is done.
        """
        if self._on_done is None:
            raise AMQPConnectionWorkflowWrongState("workflow not running")
        if self._connector is not None:
            connector, self._connector = self._connector, None
            # Its socket and half-open connection are dropped; the workflow
            # reports the abort itself, below.
            connector._on_done = _ignore
            connector._fail(AMQPConnectorAborted("aborted"))
        if self._pending is not None:
            self._pending.cancel()
        self._pending = None
        self._report(AMQPConnectionWorkflowAborted("connection workflow aborted"))

    def _next_params(self) -> None:
        self._pending = None
        if self._on_done is None:
            return
        if not self._plan:
            self._report(AMQPConnectionWorkflowFailed(self._errors))
            return
        params, is_retry = self._plan.pop(0)
        assert self._nbio is not None
        if is_retry and params.retry_delay:
            self._pending = self._nbio.call_later(params.retry_delay, lambda: self._resolve(params))
        else:
            self._resolve(params)

    def _resolve(self, params: pika.connection.Parameters) -> None:
        self._pending = None
        if self._on_done is None:
            return
        assert self._nbio is not None
        self._params = params
        self._pending = self._nbio.getaddrinfo(
            params.host, params.port, self._on_resolved, socktype=socket.SOCK_STREAM
        )

    def _on_resolved(self, result: Any) -> None:
        self._pending = None
        if self._on_done is None:
            return
        if isinstance(result, BaseException):
            assert self._params is not None
            self._errors.append(
                AMQPConnectorSocketConnectError(
                    result, host=self._params.host, port=self._params.port
                )
            )
            self._next_params()
            return
        self._addresses = list(result)
        self._next_address()

    def _next_address(self) -> None:
        if self._on_done is None:
            return
        if not self._addresses:
            self._next_params()
            return
        address = self._addresses.pop(0)
        connector = self._connector_factory()
        self._connector = connector
        assert self._params is not None
        connector.start(address, self._params, self._on_connector_done)

    def _on_connector_done(self, result: Any) -> None:
        connector, self._connector = self._connector, None
        if not isinstance(result, BaseException):
            self._report(result)
            return
        self._errors.append(result)
        LOGGER.debug("connection attempt failed: %s", result)
        reached_amqp = connector is not None and connector.amqp_started
        if reached_amqp or isinstance(result, AMQPConnectorAMQPHandshakeError):
            if self._until_first_amqp_attempt:
                self._report(AMQPConnectionWorkflowFailed(self._errors))
                return
            # The broker answered: other addresses of this host would too.
            self._addresses = []
        self._next_address()

    def _report(self, result: Any) -> None:
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(result)


def _ignore(_result: Any) -> None:
    """An outcome nobody waits for any more."""


def failure_to_raise(error: BaseException) -> BaseException:
    """The exception to raise for a failed connection workflow.

    A refused login or virtual host is raised as the handshake's own error
    (ProbableAuthenticationError, ProbableAccessDeniedError, ...), as Pika
    does; anything else as the workflow's error, which lists every attempt.

    Args:
        error: What the workflow's ``on_done`` received.

    Returns:
        The `pika.exceptions.AMQPConnectionError` to raise to the application.
    """
    if isinstance(error, AMQPConnectionWorkflowFailed) and error.exceptions:
        last = error.exceptions[-1]
        if isinstance(last, AMQPConnectorAMQPHandshakeError) and isinstance(
            last.exception, exceptions.AMQPConnectionError
        ):
            return last.exception
    if isinstance(error, exceptions.AMQPConnectionError):
        return error
    return exceptions.AMQPConnectionError(repr(error))
