"""Pika's callback `Connection`: user callbacks and channels over the engine.

This class knows nothing of sockets or event loops. An adapter
(`pika.adapters.base_connection.BaseConnection` and the classes built on it)
moves bytes and time through the methods named in ARCHITECTURE.md:
``_on_stream_connected``, ``_on_data_available``, ``_on_stream_terminated``
in, and the ``_adapter_*`` methods out.

Outbound frames are coalesced: commands append to the engine's buffer and
one flush per loop turn hands everything to the transport. On the event-loop
adapters (`_writes_at_once`) the first command after a quiet spell of
`WRITE_AT_ONCE_AFTER` is written at once instead, so a lone request does
not wait for the end of the turn; what follows it within that spell is
coalesced as before.

Exceptions raised by user callbacks propagate out of the I/O loop (out of
``ioloop.start()``, or out of the blocking call that was waiting). The
connection stays consistent: each event is taken from the engine before its
callbacks run, and whatever was received after it is processed on the next
loop iteration, so starting the loop again carries on where it stopped.

How a connection ends, as its close (or, before it opened, open-error)
callbacks see it: ConnectionClosedByClient after `Connection.close`;
ConnectionClosedByBroker with the broker's code and text; StreamLostError
when the socket fails; AMQPHeartbeatTimeout when the broker is silent for
two heartbeat intervals; ConnectionBlockedTimeout after
``blocked_connection_timeout``; and, when the peer breaks the protocol
(oversized or malformed frame, frame out of place), ConnectionClosedByClient
with the reply code this client sent in its Connection.Close (501 frame
error, 502 syntax error, 505 unexpected frame...). The wait for the
broker's Close-Ok is bounded by `CLOSE_OK_TIMEOUT`. Failures while opening
are AMQPConnectionError subclasses as well (IncompatibleProtocolError,
ProbableAuthenticationError, ProbableAccessDeniedError,
ConnectionOpenAborted, the connection workflow's errors). While no
open-error callback of the application's is set, a failed open is raised
out of the event loop as ConnectionOpenFailed, whose ``error`` is the reason.
"""

from __future__ import annotations

import abc
import functools
import logging
import textwrap
import time
from typing import Any, Callable

from pika import channel as channel_mod
from pika import exceptions, frame, spec
from pika.callbacks import call_each
from pika.connection_callbacks import ConnectionCallbacks, OnBlocked, OnError, OnOpen
from pika.connection_recovery import ConnectionRecovery
from pika.connection_recovery_api import ConnectionRecoveryAPI
from pika.credentials import PlainCredentials
from pika.engine import ConnectionEngine, EngineConfig, events
from pika.engine.outbound import BytesLike
from pika.engine.tuning import PRODUCT, HeartbeatSetting
from pika.negotiation import reopen_parameters
from pika.parameters import ConnectionParameters, Parameters, SSLOptions, URLParameters
from pika.states import ConnectionState, EngineState

__all__ = [
    "PRODUCT",
    "Connection",
    "ConnectionParameters",
    "Parameters",
    "SSLOptions",
    "URLParameters",
]

LOGGER = logging.getLogger(__name__)


#: How long to wait for the broker's Connection.Close-Ok before dropping the
#: stream, whichever side's action began the close.
CLOSE_OK_TIMEOUT = 10.0

#: Seconds without a write after which an event-loop adapter writes a
#: command at once (see `Connection._writes_at_once`): far shorter than a
#: round trip through the broker, far longer than the gap between two
#: commands of a burst (a few microseconds), which stay coalesced.
WRITE_AT_ONCE_AFTER = 0.00005


def _constructor_args(adapter_arg: str = "") -> str:
    """The docstring of a connection constructor, with its ``Args:`` section.

    `Connection` and every adapter built on it take Pika's constructor
    arguments; this text documents them once, for each constructor.

    Args:
        adapter_arg: The entry (``name: description``, on one line) of the argument an adapter
            adds before ``internal_connection_workflow``; empty for none.

    Returns:
        The docstring.
    """
    extra = textwrap.fill(adapter_arg, 100, initial_indent=" " * 8, subsequent_indent=" " * 12)
    extra += "\n" if extra else ""
    return f"""Set the connection up; it starts connecting unless ``internal_connection_workflow``
    is False.

    Args:
        parameters: Where and how to connect (`pika.connection.Parameters`); None for the defaults
            (localhost, guest/guest).
        on_open_callback: Called as ``on_open_callback(connection)`` once the connection is open.
        on_open_error_callback: Called as ``on_open_error_callback(connection, error)`` when opening
            fails; None logs the failure.
        on_close_callback: Called as ``on_close_callback(connection, reason)`` once an open
            connection has closed; ``reason`` is the exception that explains why
            (`ConnectionClosedByClient` after `close`).
{extra}\
        internal_connection_workflow: True (the default) makes the constructor start connecting;
            False leaves that to a connection workflow (`create_connection` passes False).
    """


class Connection(ConnectionCallbacks, ConnectionRecoveryAPI, abc.ABC):
    """An AMQP connection with Pika's callback interface (abstract: an
    adapter supplies the I/O)."""

    CONNECTION_CLOSED = ConnectionState.CLOSED
    CONNECTION_INIT = ConnectionState.INIT
    CONNECTION_PROTOCOL = ConnectionState.PROTOCOL
    CONNECTION_START = ConnectionState.START
    CONNECTION_TUNE = ConnectionState.TUNE
    CONNECTION_OPEN = ConnectionState.OPEN
    CONNECTION_CLOSING = ConnectionState.CLOSING

    ON_CONNECTION_CLOSED = "_on_connection_closed"
    ON_CONNECTION_ERROR = "_on_connection_error"
    ON_CONNECTION_OPEN_OK = "_on_connection_open_ok"

    #: Whether `_adapter_connect_stream` makes a new stream, so the
    #: connection can follow a broker's other version or Redirect itself.
    _connects_itself = True

    #: Whether a command queued `WRITE_AT_ONCE_AFTER` or more after the last
    #: write (and outside the dispatch of received frames) is written at once
    #: rather than at the end of the loop's turn: the event-loop adapters'
    #: choice, to take a loop turn off a request's round trip.
    _writes_at_once = False

    def __init__(
        self,
        parameters: Parameters | None = None,
        on_open_callback: OnOpen | None = None,
        on_open_error_callback: OnError | None = None,
        on_close_callback: OnError | None = None,
        internal_connection_workflow: bool = True,
    ) -> None:
        if parameters is not None and not isinstance(parameters, Parameters):
            raise TypeError(
                f"parameters must be a pika.connection.Parameters instance, "
                f"got {type(parameters).__name__}"
            )
        for name, value in (
            ("on_open_callback", on_open_callback),
            ("on_open_error_callback", on_open_error_callback),
            ("on_close_callback", on_close_callback),
        ):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable")
        self.params: Parameters = parameters if parameters is not None else ConnectionParameters()
        self._on_open: list[OnOpen] = [on_open_callback] if on_open_callback else []
        self._on_open_error: list[OnError] = (
            [on_open_error_callback] if on_open_error_callback else [self._default_open_error]
        )
        self._on_close: list[OnError] = [on_close_callback] if on_close_callback else []
        self._on_blocked: list[OnBlocked] = []
        self._on_unblocked: list[OnBlocked] = []
        self._update_secret_callbacks: list[Callable[[frame.Method], Any] | None] = []
        # (username, secret) of the last update_secret: a reconnect logs in with it.
        self._updated_secret: tuple[str, str] | None = None
        self._backpressure: list[Callable[[Connection], Any]] = []
        self._backpressure_multiplier = 10
        self._bytes_emitted = 0
        self._emits = 0
        self._channels: dict[int, channel_mod.Channel] = {}
        self._engine = ConnectionEngine(self._engine_config())
        self.connection_state: ConnectionState = self.CONNECTION_INIT
        self._opened = False
        self._dispatching = False
        self._flush_scheduled = False
        #: Set by a surface that writes queued output itself before each
        #: wait of the loop (`BlockingConnection`, through `_flushed_by_caller`):
        #: commands then schedule no flush, whose loop callback would make the
        #: next wait return at once.
        self._caller_flushes = False
        #: While positive, commands wait for the end of the turn even after a
        #: quiet spell: a surface holds them while the application handles a
        #: message it handed out, so that its reply and ack leave together.
        self._hold_writes = 0
        self._written_at = float("-inf")
        self._timer: Any = None
        self._timer_deadline: float | None = None
        self._blocked_timer: Any = None
        self._close_timer: Any = None
        self.is_blocked = False
        self._closing_by_user = False
        self._recovery: ConnectionRecovery | None = None
        # What the broker pointed to while opening that was followed.
        self._followed: set[str] = set()
        if internal_connection_workflow:
            self._adapter_connect_stream()

    __init__.__doc__ = _constructor_args()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {ConnectionState(self.connection_state).name} "
            f"host={self.params.host}:{self.params.port}>"
        )

    def _engine_config(self) -> EngineConfig:
        params = self.params
        setting = params.heartbeat
        heartbeat: HeartbeatSetting
        if callable(setting):
            user_heartbeat = setting

            def heartbeat(broker_value: int) -> int:
                return user_heartbeat(self, broker_value)

        else:
            heartbeat = setting
        return EngineConfig(
            credentials=self._login_credentials(params),
            virtual_host=params.virtual_host,
            client_properties=params.client_properties,
            locale=params.locale,
            channel_max=params.channel_max,
            frame_max=params.frame_max,
            heartbeat=heartbeat,
            max_message_size=params.max_message_size,
            tls=params.ssl_options is not None,
            amqp_version=params.amqp_version,
        )

    def _login_credentials(self, params: Parameters) -> Any:
        """``params``' credentials, with the secret of the last `update_secret`
        when they are a PLAIN login of the same user (so that a recovery does
        not log in with an expired token); ``params`` is left as it is."""
        credentials = params.credentials
        updated = self._updated_secret
        if (
            updated is None
            or not isinstance(credentials, PlainCredentials)
            or credentials.username != updated[0]
        ):
            return credentials
        return PlainCredentials(updated[0], updated[1], credentials.erase_on_connect)

    def _default_open_error(self, connection: Connection, error: BaseException) -> None:
        """The open-error callback while the application has none: the
        failure leaves the event loop as `exceptions.ConnectionOpenFailed`."""
        LOGGER.error("%r failed to open: %r", connection, error)
        self._adapter_raise_from_loop(exceptions.ConnectionOpenFailed(error))

    # -------------------------------------------------------------- adapter API

    @abc.abstractmethod
    def _adapter_connect_stream(self) -> None:
        """Start connecting the transport (the adapter's workflow)."""

    @abc.abstractmethod
    def _adapter_disconnect_stream(self) -> None:
        """Drop the transport; no `_on_stream_terminated` needs to follow."""

    @abc.abstractmethod
    def _adapter_emit_data(self, buffers: list[BytesLike]) -> None:
        """Write ``buffers`` to the transport, in order."""

    @abc.abstractmethod
    def _adapter_call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        """Run ``callback`` after ``delay`` seconds; returns a handle."""

    @abc.abstractmethod
    def _adapter_remove_timeout(self, timeout_id: Any) -> None:
        """Cancel a handle from `_adapter_call_later`."""

    @abc.abstractmethod
    def _adapter_add_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's next turn (same thread)."""

    @abc.abstractmethod
    def _adapter_get_write_buffer_size(self) -> int:
        """Bytes written but not yet handed to the kernel."""

    def _adapter_now(self) -> float:
        """The clock `_adapter_call_later` delays count in (seconds):
        `time.monotonic` unless the adapter's loop keeps its own."""
        return time.monotonic()

    def _adapter_raise_from_loop(self, error: BaseException) -> None:
        """Raise ``error`` out of whatever runs the event loop (here: from a
        callback on the loop's next turn; adapters whose loop swallows a
        callback's exceptions do better)."""

        def raise_error() -> None:
            raise error

        self._adapter_add_callback(raise_error)

    def _on_stream_connected(self) -> None:
        """The transport is up: start the AMQP handshake."""
        self.connection_state = self.CONNECTION_PROTOCOL
        self._engine.start(self._adapter_now())
        self._flush()

    def _on_data_available(self, data: bytes) -> None:
        self._engine.receive_data(data)
        self._process_events()

    def _receive_buffer(self) -> memoryview:
        """Where the adapter may read the next bytes into (then `_on_data_read`)."""
        return self._engine.get_buffer()

    def _on_data_read(self, nbytes: int) -> None:
        """The adapter read ``nbytes`` bytes into the last `_receive_buffer`."""
        self._engine.buffer_updated(nbytes)
        self._process_events()

    def _on_stream_terminated(self, error: BaseException | None) -> None:
        self._engine.connection_lost(error)
        # What was queued after the last write can no longer be sent.
        self._engine.take_output()
        self._process_events()

    # ---------------------------------------------------------------- the pump

    def _process_events(self) -> None:
        engine = self._engine
        self._dispatching = True
        try:
            while True:
                event = engine.next_event()
                if event is None:
                    break
                if type(event) is events.ContentReceived:
                    chan = self._channels.get(event.channel_number)
                    if chan is not None:
                        chan._on_content(event.method, event.properties, event.body)
                else:
                    self._on_event(event)
        except BaseException:
            # A user callback raised: carry on with what is buffered on the
            # next loop turn, then let the exception reach the loop's caller.
            if self.connection_state != self.CONNECTION_CLOSED:
                self._adapter_add_callback(self._process_events)
            raise
        finally:
            self._dispatching = False
            if self.connection_state != self.CONNECTION_CLOSED:
                if engine.has_output:
                    self._flush()
                # What `_arm_timer` and `_watch_close_handshake` check first,
                # tested here: nothing to do for nearly every read.
                if engine.deadline != self._timer_deadline:
                    self._arm_timer()
                if self._close_timer is None and engine.state is EngineState.CLOSING:
                    self._watch_close_handshake()

    def _on_event(self, event: events.Event) -> None:
        kind = type(event)
        if kind is events.MethodReceived:
            number = event.channel_number  # type: ignore[attr-defined]
            if number:
                chan = self._channels.get(number)
                if chan is not None:
                    chan._on_method(event.method)  # type: ignore[attr-defined]
            else:
                self._on_update_secret_ok(event.method)  # type: ignore[attr-defined]
        elif kind is events.ChannelOpened:
            chan = self._channels.get(event.channel_number)  # type: ignore[attr-defined]
            if chan is not None:
                chan._on_opened()
        elif kind is events.ChannelClosed:
            self._on_channel_closed(event)  # type: ignore[arg-type]
        elif kind is events.ConnectionOpened:
            self._on_opened()
        elif kind is events.ConnectionClosed:
            self._on_closed(event.error)  # type: ignore[attr-defined]
        elif kind is events.ConnectionBlocked:
            self._on_blocked_event(event.method)  # type: ignore[attr-defined]
        elif kind is events.ConnectionUnblocked:
            self._on_unblocked_event(event.method)  # type: ignore[attr-defined]
        elif kind is events.ContentTooLarge:
            chan = self._channels.get(event.channel_number)  # type: ignore[attr-defined]
            if chan is not None:
                chan._on_content_too_large(event)  # type: ignore[arg-type]

    def _output_ready(self) -> None:
        """A command queued output: flush it once, at the end of this turn
        (unless the code driving the connection flushes it itself)."""
        if self._flush_scheduled or self._dispatching or self._caller_flushes:
            return
        if (
            self._writes_at_once
            and not self._hold_writes
            and self.connection_state == self.CONNECTION_OPEN
        ):
            now = time.monotonic()
            if now - self._written_at >= WRITE_AT_ONCE_AFTER:
                self._written_at = now
                self._flush()
                return
        self._flush_scheduled = True
        self._adapter_add_callback(self._scheduled_flush)

    def _flushed_by_caller(self) -> None:
        """The surface driving this connection writes queued output itself
        (see ``_caller_flushes``)."""
        self._caller_flushes = True

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        if self.connection_state != self.CONNECTION_CLOSED:
            self._written_at = time.monotonic()
            self._flush()

    def _flush(self) -> None:
        out = self._engine.take_output()
        if not out:
            return
        self._adapter_emit_data(out)
        if self._backpressure:
            self._check_backpressure(out)

    def _check_backpressure(self, out: list[BytesLike]) -> None:
        self._bytes_emitted += sum(len(chunk) for chunk in out)
        self._emits += 1
        average = self._bytes_emitted / self._emits
        if self._adapter_get_write_buffer_size() > average * self._backpressure_multiplier:
            call_each(self._backpressure, self)

    # ---------------------------------------------------------------- timers

    def _arm_timer(self) -> None:
        deadline = self._engine.deadline
        if deadline == self._timer_deadline:
            return
        if self._timer is not None:
            self._adapter_remove_timeout(self._timer)
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None:
            delay = max(0.0, deadline - self._adapter_now())
            self._timer = self._adapter_call_later(delay, self._on_timer)

    def _watch_close_handshake(self) -> None:
        """Bound the wait for Close-Ok once the engine has sent Connection.Close
        (asked by the user, or because the peer broke the protocol), so a
        peer that never answers cannot keep the connection half-closed."""
        if self._close_timer is None and self._engine.state.is_closing:
            self.connection_state = self.CONNECTION_CLOSING
            self._close_timer = self._adapter_call_later(
                CLOSE_OK_TIMEOUT, self._on_close_ok_timeout
            )

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        if self.connection_state == self.CONNECTION_CLOSED:
            return
        self._engine.timer_due(self._adapter_now())
        self._process_events()

    def _cancel_timers(self) -> None:
        for name in ("_timer", "_blocked_timer", "_close_timer"):
            handle = getattr(self, name)
            if handle is not None:
                self._adapter_remove_timeout(handle)
                setattr(self, name, None)
        self._timer_deadline = None

    # ----------------------------------------------------------- engine events

    def _on_opened(self) -> None:
        # Each opening (a recovery's too) may follow each pointer once.
        self._followed.clear()
        if self._recovery is not None and self._recovery.active:
            # The connector of the reconnect attempt learns of the open; the
            # application's open callbacks already ran for the first open.
            for callback in self._recovery.internal(self._on_open):
                callback(self)
            self.is_blocked = False
            self._recovery.reconnected()
            return
        self.connection_state = self.CONNECTION_OPEN
        self._opened = True
        call_each(self._on_open, self)

    def _on_closed(self, error: Exception) -> None:
        recovering = self._recovery is not None and self._recovery.active
        if (recovering or not self._opened) and self._connects_itself:
            params = reopen_parameters(self.params, error, self._followed)
            if params is not None:
                # Another version or host, as the broker asked: a new stream,
                # once the old one has reported its end (to the old engine).
                self.connection_state = self.CONNECTION_INIT
                self._cancel_timers()
                self._adapter_disconnect_stream()
                self._adapter_add_callback(functools.partial(self.recovery_reconnect, params))
                return
        recovery = self._recovery
        if recovery is not None and (recovery.active or not self._closing_by_user):
            if self._closing_by_user:
                recovery.cancel(error)
                return
            if recovery.should_recover(error):
                if recovery.active:
                    # A reconnect attempt failed: tell its connector. (At the
                    # first loss every open-error callback is the application's.)
                    for callback in recovery.internal(self._on_open_error):
                        callback(self, error)
                self.connection_state = self.CONNECTION_INIT
                self._flush()
                self._cancel_timers()
                self._adapter_disconnect_stream()
                # Update-Secret-Oks still awaited will never come: the next
                # connection's must not reach their callbacks.
                self._update_secret_callbacks.clear()
                recovery.connection_closed(error)
                return
        self._finish_close(error)

    def _finish_close(self, error: Exception) -> None:
        """The connection is over for good: close channels, tell the user."""
        self.connection_state = self.CONNECTION_CLOSED
        self._flush()
        self._cancel_timers()
        self._adapter_disconnect_stream()
        # Closing a connection closes its channels: after a client close they
        # report ChannelClosedByClient with the connection's code and text;
        # otherwise they get the connection's own error, as in Pika.
        channel_error: Exception = error
        if isinstance(error, exceptions.ConnectionClosedByClient):
            channel_error = exceptions.ChannelClosedByClient(error.reply_code, error.reply_text)
        if self._opened:
            # The application hears of it through its close callbacks: nothing to warn about.
            by_client = isinstance(error, exceptions.ConnectionClosedByClient)
            LOGGER.log(logging.DEBUG if by_client else logging.INFO, "%r closed: %r", self, error)
        # Every channel and every callback hears of it, even if one raises.
        closers = [
            functools.partial(chan._on_closed, channel_error) for chan in self._channels.values()
        ]
        self._channels.clear()
        callbacks = self._on_close if self._opened else self._on_open_error
        closers += [functools.partial(callback, self, error) for callback in callbacks]
        call_each(closers)

    def _on_channel_closed(self, event: events.ChannelClosed) -> None:
        chan = self._channels.get(event.channel_number)
        if chan is None:
            return
        cls = (
            exceptions.ChannelClosedByBroker
            if event.by_broker
            else exceptions.ChannelClosedByClient
        )
        chan._on_closed(cls(event.reply_code, event.reply_text))

    def _channel_gone(self, channel_number: int) -> None:
        self._channels.pop(channel_number, None)

    def _on_update_secret_ok(self, method: Any) -> None:
        if isinstance(method, spec.Connection.UpdateSecretOk) and self._update_secret_callbacks:
            callback = self._update_secret_callbacks.pop(0)
            if callback is not None:
                callback(frame.Method(0, method))

    def _on_blocked_event(self, method: spec.Connection.Blocked) -> None:
        self.is_blocked = True
        timeout = self.params.blocked_connection_timeout
        if timeout is not None and self._blocked_timer is None:
            self._blocked_timer = self._adapter_call_later(timeout, self._on_blocked_timeout)
        call_each(self._on_blocked, self, frame.Method(0, method))

    def _on_unblocked_event(self, method: spec.Connection.Unblocked) -> None:
        self.is_blocked = False
        if self._blocked_timer is not None:
            self._adapter_remove_timeout(self._blocked_timer)
            self._blocked_timer = None
        call_each(self._on_unblocked, self, frame.Method(0, method))

    def _on_blocked_timeout(self) -> None:
        self._blocked_timer = None
        self._terminate(
            exceptions.ConnectionBlockedTimeout(
                f"the broker kept the connection blocked for more than "
                f"{self.params.blocked_connection_timeout} seconds"
            )
        )

    def _on_close_ok_timeout(self) -> None:
        self._close_timer = None
        engine = self._engine
        self._terminate(
            engine._close_error
            or exceptions.ConnectionClosedByClient(
                engine._close_code,
                f"{engine._close_text} (no Close-Ok from the broker within {CLOSE_OK_TIMEOUT:g} s)",
            )
        )

    def _terminate(self, error: Exception) -> None:
        """End the connection now with ``error`` (no close handshake)."""
        self._engine.abort(error)
        self._process_events()

    # --------------------------------------------------------------- public API

    @property
    def is_open(self) -> bool:
        """True while the connection is open."""
        return self.connection_state == self.CONNECTION_OPEN

    @property
    def is_closing(self) -> bool:
        """True while the connection is closing."""
        return self.connection_state == self.CONNECTION_CLOSING

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed."""
        return self.connection_state == self.CONNECTION_CLOSED

    @property
    def server_properties(self) -> dict[str, Any]:
        """What the broker announced about itself in ``Connection.Start`` (product, version,
        capabilities...).
        """
        return self._engine.server_properties

    @property
    def server_capabilities(self) -> dict[str, Any]:
        """The ``capabilities`` table of `server_properties` (empty before the connection opens)."""
        capabilities = self._engine.server_properties.get("capabilities")
        return capabilities if isinstance(capabilities, dict) else {}

    def _capability(self, name: str) -> bool:
        offered = bool(self.server_capabilities.get(name, False))
        return self._engine.dialect.capability(name, offered)

    @property
    def basic_nack(self) -> bool:
        """Whether the broker supports ``Basic.Nack`` (known once the connection is open)."""
        return self._capability("basic.nack")

    @property
    def consumer_cancel_notify(self) -> bool:
        """Whether the broker notifies consumers it cancels (known once the connection is open)."""
        return self._capability("consumer_cancel_notify")

    @property
    def exchange_exchange_bindings(self) -> bool:
        """Whether the broker supports exchange-to-exchange bindings (known once the connection is
        open).
        """
        return self._capability("exchange_exchange_bindings")

    @property
    def publisher_confirms(self) -> bool:
        """Whether the broker supports publisher confirms (known once the connection is open)."""
        return self._capability("publisher_confirms")

    def channel(
        self,
        channel_number: int | None = None,
        on_open_callback: Callable[[channel_mod.Channel], Any] | None = None,
    ) -> channel_mod.Channel:
        """Open a channel; ``on_open_callback(channel)`` once it is open.

        Args:
            channel_number: The channel number to use; None for the lowest free one.
            on_open_callback: Called as ``on_open_callback(channel)`` once the broker has opened it.

        Returns:
            The new `pika.channel.Channel` (opening).

        Raises:
            ConnectionWrongStateError: The connection is not open.
            TypeError: ``on_open_callback`` is not callable.
            NoFreeChannels: Every channel number allowed by ``channel_max`` is in use.
        """
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"channel() needs an open connection: {self!r}"
            )
        if on_open_callback is not None and not callable(on_open_callback):
            raise TypeError("on_open_callback must be callable")
        if channel_number is None:
            channel_number = self._engine.allocate_channel_number()
        chan = self._create_channel(channel_number, on_open_callback)
        chan.open()
        self._channels[channel_number] = chan
        return chan

    def _create_channel(
        self, channel_number: int, on_open_callback: Callable[[channel_mod.Channel], Any] | None
    ) -> channel_mod.Channel:
        return channel_mod.Channel(self, channel_number, on_open_callback)

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the connection; an unfinished opening is aborted and
        reported to the open-error callbacks as ConnectionOpenAborted.

        Args:
            reply_code: The reason code sent to the broker (200 for a normal close).
            reply_text: The reason text sent to the broker.

        Raises:
            ConnectionWrongStateError: The connection is already closing or closed.
        """
        if self.is_closing or self.is_closed:
            raise exceptions.ConnectionWrongStateError(
                f"close() on a connection that is already "
                f"{'closing' if self.is_closing else 'closed'}"
            )
        self._closing_by_user = True
        recovery = self._recovery
        if recovery is not None and recovery.active and not self._engine.state.is_open:
            # Recovering, with no open connection (waiting to retry, or in
            # the handshake): stop; report the application's close.
            error = exceptions.ConnectionClosedByClient(reply_code, reply_text)
            if self._engine.state.is_closed:
                recovery.cancel(error)
            else:
                self._engine.abort(error)
                self._process_events()
            return
        if not self.is_open:
            # Opening, or restoring channels and topology after a reconnect
            # (the engine is open: its close handshake's end stops the recovery).
            self._engine.close(reply_code, reply_text)
            self._process_events()
            return
        self._engine.close(reply_code, reply_text)
        self._flush()
        self._watch_close_handshake()

    def update_secret(
        self,
        new_secret: str,
        reason: str,
        callback: Callable[[frame.Method], Any] | None = None,
    ) -> None:
        """Send Connection.UpdateSecret (e.g. a refreshed OAuth token).

        With PLAIN credentials, later reconnects of an automatic recovery
        log in with ``new_secret`` (the parameters object is not changed).

        Args:
            new_secret: The new secret (password or token); never logged.
            reason: Why, for the broker's log.
            callback: Called with the broker's ``Connection.UpdateSecretOk`` method frame; None for
                none.

        Raises:
            TypeError: ``new_secret`` or ``reason`` is not a str.
            ConnectionWrongStateError: The connection is not open.
        """
        if not isinstance(new_secret, str) or not isinstance(reason, str):
            raise TypeError("new_secret and reason must be str")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        self._engine.update_secret(new_secret, reason)
        self._update_secret_callbacks.append(callback)
        self._remember_secret(new_secret)
        self._output_ready()

    def _remember_secret(self, new_secret: str) -> None:
        """Keep ``new_secret`` for the logins of later reconnects."""
        credentials = self.params.credentials
        if isinstance(credentials, PlainCredentials):
            self._updated_secret = (credentials.username, new_secret)
