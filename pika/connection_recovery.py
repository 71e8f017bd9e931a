"""The recovery of one connection, step by step (see `pika.recovery`).

`ConnectionRecovery` is attached to a `pika.connection.Connection` by
`Connection.enable_recovery`. The connection asks it, when it closes,
whether to recover; from then on it drives: reconnect with backoff across
the parameters, reopen the channels with their numbers (each reapplies its
QoS, confirm and tx modes), redeclare the recorded topology on a channel of
its own, restart the consumers with their tags, republish what was kept,
and report.

While it runs the connection is not open (``is_open`` is False,
``is_recovering`` is True); channels are not open either, and calls on them
raise ChannelWrongStateError.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from pika import exceptions, frame, spec
from pika.engine import ConnectionEngine
from pika.recovery import RecoveryPolicy, TopologyRecord, is_recoverable

if TYPE_CHECKING:
    from pika.channel import Channel
    from pika.connection import Connection, Parameters

LOGGER = logging.getLogger(__name__)

OnStarted = Callable[["Connection", BaseException], Any]
OnSucceeded = Callable[["Connection"], Any]
OnFailed = Callable[["Connection", BaseException], Any]
OnQueueRenamed = Callable[["Connection", str, str], Any]


class ConnectionRecovery:
    """Recovers one connection; created by `Connection.enable_recovery`."""

    def __init__(
        self,
        connection: Connection,
        policy: RecoveryPolicy,
        parameters: Sequence[Parameters],
    ) -> None:
        self.connection = connection
        self.policy = policy
        self.parameters = list(parameters) or [connection.params]
        self.topology = TopologyRecord()
        self.active = False
        self.attempts = 0
        #: Old name -> new name of server-named queues after the last recovery.
        self.renamed_queues: dict[str, str] = {}
        self.on_started: list[OnStarted] = []
        self.on_succeeded: list[OnSucceeded] = []
        self.on_failed: list[OnFailed] = []
        self.on_queue_renamed: list[OnQueueRenamed] = []
        self._timer: Any = None
        self._last_error: BaseException | None = None
        self._waiting_channels: set[int] = set()
        self._steps: list[Callable[[Channel], None]] = []
        self._replay_channel: Channel | None = None
        self._user_callbacks: list[Any] = []

    # ------------------------------------------------------------- starting

    def should_recover(self, error: BaseException) -> bool:
        """Called as the connection closes with ``error``."""
        if self.active:
            return True
        return self.connection._opened and is_recoverable(error)

    def connection_closed(self, error: BaseException) -> None:
        """The connection (or a reconnect attempt) ended with ``error``."""
        if not self.active:
            self._begin(error)
            return
        self._attempt_failed(error)

    def _begin(self, error: BaseException) -> None:
        LOGGER.warning("connection lost (%r): recovering", error)
        self.active = True
        self.attempts = 0
        self._last_error = error
        conn = self.connection
        self._user_callbacks = [*conn._on_open, *conn._on_open_error]
        for chan in list(self.connection._channels.values()):
            chan._connection_lost(self.policy.republish_unconfirmed)
        for callback in list(self.on_started):
            callback(self.connection, error)
        self._schedule()

    def internal(self, callbacks: list[Any]) -> list[Any]:
        """The callbacks in ``callbacks`` that the library added during this
        recovery (the reconnect attempt's), not the application's."""
        return [callback for callback in callbacks if callback not in self._user_callbacks]

    def _schedule(self) -> None:
        if self.policy.max_attempts is not None and self.attempts >= self.policy.max_attempts:
            self._give_up(
                self._last_error or exceptions.AMQPConnectionError("connection recovery gave up")
            )
            return
        delay = self.policy.delay(self.attempts)
        self._timer = self.connection._adapter_call_later(delay, self._attempt)

    def _attempt(self) -> None:
        self._timer = None
        if not self.active:
            return
        conn = self.connection
        params = self.parameters[self.attempts % len(self.parameters)]
        self.attempts += 1
        LOGGER.info("recovery attempt %d to %s:%s", self.attempts, params.host, params.port)
        conn.params = params
        conn._engine = ConnectionEngine(conn._engine_config())
        conn.connection_state = conn.CONNECTION_INIT
        conn._adapter_connect_stream()

    def _attempt_failed(self, error: BaseException) -> None:
        self._last_error = error
        if not is_recoverable(error):
            self._give_up(error)
            return
        LOGGER.info("recovery attempt %d failed: %r", self.attempts, error)
        self.connection.connection_state = self.connection.CONNECTION_INIT
        self._schedule()

    def _give_up(self, error: BaseException) -> None:
        LOGGER.error("connection recovery failed after %d attempt(s): %r", self.attempts, error)
        self.active = False
        if self._timer is not None:
            self.connection._adapter_remove_timeout(self._timer)
            self._timer = None
        for callback in list(self.on_failed):
            callback(self.connection, error)
        self.connection._finish_close(
            error if isinstance(error, Exception) else exceptions.AMQPConnectionError(str(error))
        )

    def cancel(self, error: Exception) -> None:
        """The application closed the connection during recovery."""
        if self._timer is not None:
            self.connection._adapter_remove_timeout(self._timer)
            self._timer = None
        self.active = False
        self.connection._finish_close(error)

    # ------------------------------------------------------------ restoring

    def reconnected(self) -> None:
        """The new connection is open: reopen the channels."""
        conn = self.connection
        conn.connection_state = conn.CONNECTION_OPEN
        channels = sorted(conn._channels.items())
        self._waiting_channels = {number for number, _chan in channels}
        for _number, chan in channels:
            chan._reopen()
        conn._output_ready()
        if not channels:
            self._replay_topology()

    def channel_reopened(self, chan: Channel) -> None:
        self._waiting_channels.discard(chan.channel_number)
        if chan is self._replay_channel:
            self._next_step()
        elif not self._waiting_channels and self._replay_channel is None:
            self._replay_topology()

    def _replay_topology(self) -> None:
        """Redeclare exchanges, queues, then bindings, one after another on a
        channel of the recovery's own (server-named queues need their new
        name before their bindings)."""
        topology = self.topology
        self._steps = [self._exchange_step(name) for name in list(topology.exchanges)]
        self._steps += [self._queue_step(name) for name in list(topology.queues)]
        self._steps += [self._binding_step(binding) for binding in list(topology.bindings)]
        self._open_replay_channel()

    def _open_replay_channel(self) -> None:
        conn = self.connection
        number = conn._engine.allocate_channel_number()
        chan = conn._create_channel(number, None)
        chan._recovering = True
        conn._channels[number] = chan
        chan.add_on_close_callback(self._on_replay_channel_closed)
        self._replay_channel = chan
        chan._reopen()
        conn._output_ready()

    def _on_replay_channel_closed(self, chan: Channel, reason: Exception) -> None:
        if chan is not self._replay_channel or not self.connection.is_open:
            return
        # A declaration the broker refused (e.g. 406): carry on with the rest.
        LOGGER.error("recovery: a redeclaration failed: %r", reason)
        self._open_replay_channel()

    def _next_step(self) -> None:
        chan = self._replay_channel
        assert chan is not None
        if self._steps:
            self._steps.pop(0)(chan)
            return
        self._replay_channel = None
        chan.close()
        self._restart_consumers()

    def _done(self, _reply: frame.Method) -> None:
        self._next_step()

    def _exchange_step(self, name: str) -> Callable[[Channel], None]:
        def step(chan: Channel) -> None:
            decl = self.topology.exchanges.get(name)
            if decl is None:
                self._next_step()
                return
            chan._rpc(
                spec.Exchange.Declare(
                    exchange=decl.name,
                    type=decl.exchange_type,
                    durable=decl.durable,
                    auto_delete=decl.auto_delete,
                    internal=decl.internal,
                    arguments=decl.arguments,
                ),
                self._done,
            )

        return step

    def _queue_step(self, name: str) -> Callable[[Channel], None]:
        def step(chan: Channel) -> None:
            decl = self.topology.queues.get(name)
            if decl is None:
                self._next_step()
                return

            def declared(reply: frame.Method) -> None:
                new_name = str(reply.method.queue)
                if new_name != name:
                    self.topology.queue_renamed(name, new_name)
                    self.renamed_queues[name] = new_name
                    for callback in list(self.on_queue_renamed):
                        callback(self.connection, name, new_name)
                self._next_step()

            chan._rpc(
                spec.Queue.Declare(
                    queue="" if decl.server_named else decl.name,
                    durable=decl.durable,
                    exclusive=decl.exclusive,
                    auto_delete=decl.auto_delete,
                    arguments=decl.arguments,
                ),
                declared,
            )

        return step

    def _binding_step(self, binding: Any) -> Callable[[Channel], None]:
        def step(chan: Channel) -> None:
            # A queue renamed since the steps were planned moved its bindings.
            destination = self.renamed_queues.get(binding.destination, binding.destination)
            method: Any
            if binding.is_exchange:
                method = spec.Exchange.Bind(
                    destination=binding.destination,
                    source=binding.source,
                    routing_key=binding.routing_key,
                    arguments=binding.arguments,
                )
            else:
                method = spec.Queue.Bind(
                    queue=destination,
                    exchange=binding.source,
                    routing_key=binding.routing_key,
                    arguments=binding.arguments,
                )
            chan._rpc(method, self._done)

        return step

    def _restart_consumers(self) -> None:
        conn = self.connection
        for chan in list(conn._channels.values()):
            if chan.is_open:
                chan._restart_consumers(self.renamed_queues)
                chan._republish()
        self.active = False
        LOGGER.warning("connection recovered after %d attempt(s)", self.attempts)
        for callback in list(self.on_succeeded):
            callback(conn)
