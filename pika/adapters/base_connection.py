"""`BaseConnection`: the callback `Connection` joined to one set of I/O
services (`nbio_interface.AbstractIOServices`).

Every event-loop adapter is this class plus a way to build its I/O services;
none of them knows the protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Callable, Generic, TypeVar

from pika import connection, exceptions
from pika.adapters.utils import connection_workflow, nbio_interface
from pika.callbacks import call_each
from pika.engine.outbound import BytesLike

LOGGER = logging.getLogger(__name__)

#: The native event loop type an adapter runs on.
_LoopT = TypeVar("_LoopT")


class BaseConnection(connection.Connection, nbio_interface.AbstractBufferedStreamProtocol):
    """A `Connection` whose bytes and timers come from ``nbio``."""

    # A lone command is written at once rather than at the end of the turn.
    _writes_at_once = True

    def __init__(
        self,
        parameters: connection.Parameters | None,
        on_open_callback: Callable[[connection.Connection], None] | None,
        on_open_error_callback: Callable[[connection.Connection, BaseException], None] | None,
        on_close_callback: Callable[[connection.Connection, BaseException], None] | None,
        nbio: nbio_interface.AbstractIOServices,
        internal_connection_workflow: bool = True,
    ) -> None:
        if not isinstance(nbio, nbio_interface.AbstractIOServices):
            raise TypeError(f"nbio must be AbstractIOServices, got {type(nbio).__name__}")
        self._nbio = nbio
        self._transport: nbio_interface.AbstractStreamTransport | None = None
        self._workflow: connection_workflow.AMQPConnectionWorkflow | None = None
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            internal_connection_workflow,
        )

    __init__.__doc__ = connection._constructor_args(
        "nbio: The I/O services (`pika.adapters.utils.nbio_interface.AbstractIOServices`) that"
        " move the bytes and run the timers."
    )

    @classmethod
    def _make_nbio(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
        """The I/O services for ``custom_ioloop``: used as they are when they
        already are I/O services, else built by `_loop_services`."""
        if isinstance(custom_ioloop, nbio_interface.AbstractIOServices):
            return custom_ioloop
        return cls._loop_services(custom_ioloop)

    @classmethod
    def _loop_services(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
        """I/O services on the adapter's native loop (a default one when None)."""
        raise NotImplementedError(f"{cls.__name__} does not build I/O services")

    @classmethod
    def create_connection(
        cls,
        connection_configs: Sequence[connection.Parameters],
        on_done: Callable[[Any], None],
        custom_ioloop: Any | None = None,
        workflow: connection_workflow.AbstractAMQPConnectionWorkflow | None = None,
    ) -> connection_workflow.AbstractAMQPConnectionWorkflow:
        """Try ``connection_configs`` in turn; ``on_done`` gets the open
        connection or an AMQPConnectorException. Returns the workflow, whose
        ``abort()`` stops it.

        Args:
            connection_configs: The parameters to try, in order, until one connection opens.
            on_done: Called once with the open connection, or with an `AMQPConnectorException` (an
                `AMQPConnectionWorkflowFailed` listing every attempt's error) when all failed.
            custom_ioloop: The event loop to run on, as for the constructor; None for the default.
            workflow: The `AbstractAMQPConnectionWorkflow` to run; None for a new
                `AMQPConnectionWorkflow`.

        Returns:
            The workflow; its ``abort()`` stops the attempts.
        """
        nbio = cls._make_nbio(custom_ioloop)

        def connection_factory(params: connection.Parameters) -> BaseConnection:
            return cls._from_nbio(params, nbio)

        def connector_factory() -> connection_workflow.AMQPConnector:
            return connection_workflow.AMQPConnector(connection_factory, nbio)

        if workflow is None:
            workflow = connection_workflow.AMQPConnectionWorkflow()
        if isinstance(workflow, connection_workflow.AMQPConnectionWorkflow):
            workflow.set_io_services(nbio)
        workflow.start(connection_configs, connector_factory, nbio.get_native_ioloop(), on_done)
        return workflow

    @classmethod
    def _from_nbio(
        cls, params: connection.Parameters, nbio: nbio_interface.AbstractIOServices
    ) -> BaseConnection:
        """A connection for an external workflow (no internal connecting).

        Its failures go to the workflow's ``on_done`` only: the default
        open-error handling (raising out of the loop) is removed."""
        conn = cls(params, None, None, None, nbio, False)
        conn.remove_on_open_error_callback(conn._default_open_error)
        return conn

    @property
    def ioloop(self) -> Any:
        """The native event loop object of this adapter."""
        return self._nbio.get_native_ioloop()

    # ------------------------------------------------------ Connection hooks

    def _adapter_connect_stream(self) -> None:
        workflow = connection_workflow.AMQPConnectionWorkflow(_until_first_amqp_attempt=True)
        workflow.set_io_services(self._nbio)
        self._workflow = workflow

        def connector_factory() -> connection_workflow.AMQPConnector:
            # This connection is the application's: what it does on a failed
            # open (its default included) stays in place during the attempt.
            return connection_workflow.AMQPConnector(
                lambda _params: self, self._nbio, _keep_default_open_error=True
            )

        workflow.start(
            [self.params], connector_factory, self._nbio.get_native_ioloop(), self._on_workflow_done
        )

    def _on_workflow_done(self, result: Any) -> None:
        self._workflow = None
        if not isinstance(result, BaseException):
            return  # open: the open callbacks already ran
        if self.connection_state == self.CONNECTION_CLOSED or self._engine.state.is_started:
            return  # the AMQP handshake began: the engine reported its end
        if self._recovery is not None and self._recovery.active:
            self._recovery.connection_closed(result)
            return
        self.connection_state = self.CONNECTION_CLOSED
        call_each(self._on_open_error, self, result)

    def _adapter_disconnect_stream(self) -> None:
        if self._workflow is not None:
            workflow, self._workflow = self._workflow, None
            workflow.abort()
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()

    def _adapter_emit_data(self, buffers: list[BytesLike]) -> None:
        transport = self._transport
        if transport is None:
            raise exceptions.ConnectionWrongStateError("no transport to write to")
        if len(buffers) == 1:
            transport.write(buffers[0])
        else:
            transport.writelines(buffers)

    def _adapter_call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return self._nbio.call_later(delay, callback)

    def _adapter_remove_timeout(self, timeout_id: Any) -> None:
        timeout_id.cancel()

    def _adapter_add_callback(self, callback: Callable[[], None]) -> None:
        self._nbio.add_callback(callback)

    def _adapter_get_write_buffer_size(self) -> int:
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def _adapter_raise_from_loop(self, error: BaseException) -> None:
        self._nbio.raise_from_loop(error)

    # ------------------------------------------------------ stream protocol

    def connection_made(self, transport: nbio_interface.AbstractStreamTransport) -> None:
        self._transport = transport
        self._on_stream_connected()

    def connection_lost(self, error: BaseException | None) -> None:
        self._transport = None
        self._on_stream_terminated(error)

    def eof_received(self) -> bool | None:
        return False

    def data_received(self, data: bytes) -> None:
        self._on_data_available(data)

    def get_buffer(self, size_hint: int) -> memoryview:
        """Memory for the transport's next read (the engine's; see
        `pika.engine.inbound`).

        Args:
            size_hint: Ignored: the engine sizes it for the frames in progress.

        Returns:
            A writable buffer, valid until `buffer_updated`.
        """
        # The engine directly, not through `_receive_buffer`: once per read.
        return self._engine.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        """The transport read ``nbytes`` bytes into the last `get_buffer`.

        Args:
            nbytes: How many bytes the read wrote.
        """
        # `_on_data_read` written out: this runs once per read.
        self._engine.buffer_updated(nbytes)
        self._process_events()


class _LoopConnection(BaseConnection, Generic[_LoopT]):
    """The constructor of every event-loop adapter: Pika's arguments, with
    ``custom_ioloop`` (the adapter's native loop, ready-made I/O services, or
    None for the adapter's default loop) in place of ``nbio``.

    An adapter says how to build I/O services on its loop (`_loop_services`)
    and names its loop type as ``_LoopT``.
    """

    def __init__(
        self,
        parameters: connection.Parameters | None = None,
        on_open_callback: Callable[[connection.Connection], None] | None = None,
        on_open_error_callback: Callable[[connection.Connection, BaseException], None]
        | None = None,
        on_close_callback: Callable[[connection.Connection, BaseException], None] | None = None,
        custom_ioloop: _LoopT | nbio_interface.AbstractIOServices | None = None,
        internal_connection_workflow: bool = True,
    ) -> None:
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            self._make_nbio(custom_ioloop),
            internal_connection_workflow,
        )

    __init__.__doc__ = connection._constructor_args(
        "custom_ioloop: The adapter's event loop to run on (the class description says which"
        " loop, and which is the default), or ready-made I/O services; None for the default."
    )
