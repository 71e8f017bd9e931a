"""The callback `Connection`'s side of automatic recovery.

`ConnectionRecoveryAPI` is a part of `pika.connection.Connection`: what the
application calls to turn recovery on and hear of it (`enable_recovery`,
`is_recovering`, `recovery`, the recovery callbacks), and the hooks that
`pika.connection_recovery.ConnectionRecovery` calls (its
`RecoverableConnection` protocol). The state they read and change is the
connection's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from pika import channel as channel_mod
from pika import exceptions
from pika.callback_registrations import RecoveryRegistrations
from pika.connection_recovery import ConnectionRecovery
from pika.engine import ConnectionEngine, EngineConfig
from pika.parameters import Parameters
from pika.recovery import RecoveryPolicy
from pika.states import ConnectionState


class ConnectionRecoveryAPI(RecoveryRegistrations):
    """The recovery API and hooks of `pika.connection.Connection` (see the module)."""

    if TYPE_CHECKING:
        params: Parameters
        connection_state: ConnectionState
        CONNECTION_INIT: ConnectionState
        CONNECTION_OPEN: ConnectionState
        _recovery: ConnectionRecovery | None
        _engine: ConnectionEngine
        _channels: dict[int, channel_mod.Channel]
        _opened: bool
        _on_open: list[Callable[..., Any]]
        _on_open_error: list[Callable[..., Any]]

        def _engine_config(self) -> EngineConfig: ...

        def _create_channel(
            self, channel_number: int, on_open_callback: Callable[[channel_mod.Channel], Any] | None
        ) -> channel_mod.Channel: ...

        def _finish_close(self, error: Exception) -> None: ...

        def _output_ready(self) -> None: ...

        def _adapter_connect_stream(self) -> None: ...

        def _adapter_call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...

        def _adapter_remove_timeout(self, timeout_id: Any) -> None: ...

    def enable_recovery(
        self,
        policy: RecoveryPolicy | None = None,
        parameters: Sequence[Parameters] | None = None,
    ) -> None:
        """Turn on automatic connection and topology recovery.

        After an unexpected loss (stream error, missed heartbeats, broker
        shutdown or ``320 CONNECTION_FORCED``) the connection reconnects with
        ``policy``'s backoff, trying ``parameters`` in turn (default: its
        own), reopens its channels with their numbers, reapplies QoS,
        confirm and tx modes, redeclares the exchanges, queues and bindings
        declared through it from now on, and restarts its consumers with
        their tags. Call it before declaring anything. See
        `pika.connection_recovery` for what the application sees meanwhile.

        Args:
            policy: The backoff and republishing policy; None for `RecoveryPolicy` defaults.
            parameters: The parameters to reconnect with, in turn; None for the connection's own.

        Raises:
            ConnectionWrongStateError: Recovery is already enabled.
        """
        if self._recovery is not None:
            raise exceptions.ConnectionWrongStateError("recovery is already enabled")
        self._recovery = ConnectionRecovery(self, policy or RecoveryPolicy(), parameters or [])

    @property
    def is_recovering(self) -> bool:
        """True while an automatic recovery is under way."""
        return self._recovery is not None and self._recovery.active

    @property
    def recovery(self) -> ConnectionRecovery | None:
        """The recovery state (topology record, renamed queues), if enabled."""
        return self._recovery

    # ------------------------------------------------- hooks of the recovery
    # What `pika.connection_recovery.ConnectionRecovery` calls (its
    # `RecoverableConnection` protocol); not for applications.

    @property
    def recovery_was_opened(self) -> bool:
        """Whether the connection ever opened (a hook of automatic recovery)."""
        return self._opened

    def recovery_channels(self) -> list[channel_mod.Channel]:
        """The connection's channels in number order (a hook of automatic recovery).

        Returns:
            The channels.
        """
        return [chan for _number, chan in sorted(self._channels.items())]

    def recovery_reconnect(self, params: Parameters) -> None:
        """Start a connection attempt to ``params`` on a new engine (a hook
        of automatic recovery).

        Args:
            params: The parameters of the attempt.
        """
        self.params = params
        self._engine = ConnectionEngine(self._engine_config())
        self.connection_state = self.CONNECTION_INIT
        self._adapter_connect_stream()

    def recovery_restored(self) -> None:
        """The recovery is done: open to the application again (a hook of
        automatic recovery)."""
        self.connection_state = self.CONNECTION_OPEN

    def recovery_closed(self, error: Exception) -> None:
        """The recovery gave up or was stopped: the connection is over with
        ``error`` (a hook of automatic recovery).

        Args:
            error: The close reason.
        """
        self._finish_close(error)

    def recovery_call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        """Call ``callback`` in ``delay`` seconds; returns a handle for
        `recovery_remove_timer` (a hook of automatic recovery).

        Args:
            delay: Seconds from now.
            callback: Called with no arguments.

        Returns:
            A handle for `recovery_remove_timer`.
        """
        return self._adapter_call_later(delay, callback)

    def recovery_remove_timer(self, handle: Any) -> None:
        """Cancel a `recovery_call_later` (a hook of automatic recovery).

        Args:
            handle: The handle `recovery_call_later` returned.
        """
        self._adapter_remove_timeout(handle)

    def recovery_open_channel(
        self,
        on_open: Callable[[channel_mod.Channel], Any],
        on_close: Callable[[channel_mod.Channel, Exception], Any],
    ) -> channel_mod.Channel:
        """Open a channel of the recovery's own (a hook of automatic recovery).

        Args:
            on_open: Called with the channel once open.
            on_close: Called as ``on_close(channel, reason)`` if it closes.

        Returns:
            The channel (opening).
        """
        number = self._engine.allocate_channel_number()
        chan = self._create_channel(number, on_open)
        chan.add_on_close_callback(on_close)
        self._channels[number] = chan
        chan.open()
        return chan

    def recovery_flush(self) -> None:
        """Write what is queued (a hook of automatic recovery)."""
        self._output_ready()

    def recovery_application_callbacks(self) -> list[Any]:
        """The application's open and open-error callbacks, as registered
        so far (a hook of automatic recovery).

        Returns:
            The callbacks.
        """
        return [*self._on_open, *self._on_open_error]

    def _require_recovery(self) -> ConnectionRecovery:
        if self._recovery is None:
            raise exceptions.ConnectionWrongStateError("call enable_recovery() first")
        return self._recovery
