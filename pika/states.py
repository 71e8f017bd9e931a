"""Every state the library keeps, as enums, in one place.

Rules:

* The engine (`pika.engine`) alone moves `EngineState` and
  `EngineChannelState`; other layers read them through the enums'
  properties (``engine.state.is_open``), never by comparing strings.
* `ConnectionState` and `ChannelState` are what the callback API reports.
  They are ``IntEnum`` members with Pika's values, so the constants Pika
  programs compare with (``Connection.CONNECTION_OPEN``, ``Channel.OPEN``)
  keep working and equal the same integers.
* A channel that a connection recovery is restoring is in one of three
  states of its own (`ChannelState.RECOVERING`, ``REOPENING``,
  ``REOPENED``); to the application it is opening until the recovery
  is over.
* `RecoveryPhase` is where a connection recovery is; `RecoveryStep` the
  step of its topology replay.

Transitions of the callback API's channel::

    CLOSED -> OPENING -> OPEN -> CLOSING -> CLOSED
    OPEN/OPENING -(connection lost, recovering)-> RECOVERING
    RECOVERING -> REOPENING (Channel.Open sent) -> REOPENED (OpenOk)
    REOPENED -(recovery done)-> OPEN
    any -> CLOSED (closed by either side, or with the connection)
"""

from __future__ import annotations

from enum import Enum, IntEnum


class EngineState(str, Enum):
    """The protocol engine's connection state, in handshake order."""

    INIT = "INIT"
    AWAIT_START = "AWAIT_START"
    AWAIT_TUNE = "AWAIT_TUNE"
    AWAIT_OPEN_OK = "AWAIT_OPEN_OK"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"

    @property
    def is_open(self) -> bool:
        """Whether the handshake is done and the connection not closing."""
        return self is EngineState.OPEN

    @property
    def is_closing(self) -> bool:
        """Whether Connection.Close was sent and its Close-Ok is awaited."""
        return self is EngineState.CLOSING

    @property
    def is_closed(self) -> bool:
        """Whether the connection is over (or the stream gone)."""
        return self is EngineState.CLOSED

    @property
    def is_started(self) -> bool:
        """Whether the protocol header has been queued."""
        return self is not EngineState.INIT


class EngineChannelState(IntEnum):
    """The protocol engine's state of one channel number."""

    OPENING = 1
    OPEN = 2
    CLOSING = 3
    #: Both sides closed at once; the number stays taken until our
    #: Close-Ok arrives from the broker.
    AWAIT_CLOSE_OK = 4


class ConnectionState(IntEnum):
    """The callback API connection's state (Pika's values)."""

    CLOSED = 0
    INIT = 1
    PROTOCOL = 2
    START = 3
    TUNE = 4
    OPEN = 5
    CLOSING = 6


class ChannelState(IntEnum):
    """The callback API channel's state (Pika's values, then recovery's)."""

    CLOSED = 0
    OPENING = 1
    OPEN = 2
    CLOSING = 3
    #: Lost with its connection; waits for the recovery to reopen it.
    RECOVERING = 4
    #: Channel.Open sent on the recovered connection.
    REOPENING = 5
    #: Open on the broker again; opens to the application when the
    #: recovery is done.
    REOPENED = 6

    @property
    def is_recovering(self) -> bool:
        """Whether a connection recovery is restoring the channel."""
        return self >= ChannelState.RECOVERING

    @property
    def is_opening(self) -> bool:
        """Whether the application sees the channel as opening."""
        return self is ChannelState.OPENING or self >= ChannelState.RECOVERING


class RecoveryPhase(Enum):
    """Where a connection recovery is."""

    #: No recovery under way.
    IDLE = "idle"
    #: Waiting to reconnect, or connecting.
    CONNECTING = "connecting"
    #: Reopening the application's channels.
    REOPENING = "reopening"
    #: Redeclaring the topology on a channel of the recovery's own.
    REPLAYING = "replaying"


class RecoveryStep(Enum):
    """One step of a recovery's topology replay; the value names what it
    restores (as `pika.connection_recovery.RecoveryFailure.what` says)."""

    EXCHANGE = "exchange"
    QUEUE = "queue"
    #: Plans one `BINDING` step per recorded binding, once queues are renamed.
    BINDINGS = "bindings"
    BINDING = "binding"
    #: Plans one `CONSUMER_QUEUE` check per queue consumed and not redeclared.
    CONSUMERS = "consumers"
    CONSUMER_QUEUE = "consumer queue"
