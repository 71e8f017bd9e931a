"""The recovery of one connection, step by step (see `pika.recovery`).

`ConnectionRecovery` is attached to a `pika.connection.Connection` by
`Connection.enable_recovery`. The connection asks it, when it closes,
whether to recover; from then on it drives:

1. reconnect with backoff, trying the parameters in turn;
2. reopen the channels with their numbers (each reapplies its QoS, confirm
   and tx modes as soon as it is open);
3. on a channel of its own, redeclare the recorded exchanges, then queues
   (a server-named queue gets a new name, which its bindings and consumers
   follow and the application is told), then bindings; then check, with a
   passive declare, the queues of consumers that were not redeclared;
4. restart the consumers with their tags and republish what was kept;
5. report success.

A declaration the broker refuses closes the recovery's channel; the failure
is logged and kept in `ConnectionRecovery.failures`, and the recovery goes
on with the next step on a new channel. A consumer whose queue is gone (or
another connection's exclusive queue) is not restarted: the channel's
cancel callbacks get a Basic.Cancel for it, as when the broker cancels one.

If the connection is lost again during steps 2 to 4, the recovery starts
over at step 1. Until step 5, the connection and its channels are not open
(``is_open`` is False, ``is_recovering`` is True, channels are opening), so
the application's calls on them raise ConnectionWrongStateError or
ChannelWrongStateError; closing them is allowed and stops the recovery or
drops the channel from it.
"""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Union

from pika import amqp_object, exceptions, frame, spec, telemetry
from pika.callbacks import call_each
from pika.recovery import Binding, RecoveryPolicy, TopologyRecord, is_recoverable
from pika.states import RecoveryPhase, RecoveryStep

if TYPE_CHECKING:
    from pika.parameters import Parameters

LOGGER = logging.getLogger(__name__)

OnStarted = Callable[[Any, BaseException], Any]
OnSucceeded = Callable[[Any], Any]
OnFailed = Callable[[Any, BaseException], Any]
OnQueueRenamed = Callable[[Any, str, str], Any]

#: One replay step: what to do and to which entity.
_Step = tuple[RecoveryStep, Union[str, Binding, None]]


class RecoverableChannel(Protocol):
    """What the recovery asks of a channel (`pika.channel.Channel` does it)."""

    channel_number: int

    @property
    def is_recovering(self) -> bool:
        """Whether the recovery is restoring the channel."""

    def recovery_lost(self, republish: bool) -> None:
        """The connection broke: forget what was in flight, report or keep
        unconfirmed publishes, wait to be reopened.

        Args:
            republish: Keep the unconfirmed publishes to send again, instead of reporting them
                nacked.
        """

    def recovery_reopen(self) -> bool:
        """Send Channel.Open on the new connection; False if it closed.

        Returns:
            False if the channel was closed meanwhile (nothing sent).
        """

    def recovery_consumer_queues(self, renamed: dict[str, str]) -> set[str]:
        """The queues its consumers use, after ``renamed``.

        Args:
            renamed: Old name to new name of the queues the recovery renamed.

        Returns:
            The queue names.
        """

    def recovery_finished(
        self, renamed: dict[str, str], lost_queues: set[str]
    ) -> list[Callable[[], Any]]:
        """Open again: restart consumers, republish; the callbacks to run.

        Args:
            renamed: Old name to new name of the renamed queues.
            lost_queues: Queues that no longer exist (their consumers are cancelled).

        Returns:
            The application callbacks to run now (open callbacks, cancel notices...).
        """

    def recovery_request(
        self, method: amqp_object.Method, callback: Callable[[frame.Method], Any]
    ) -> None:
        """Send one of the recovery's own requests.

        Args:
            method: The AMQP method to send.
            callback: Called with the reply's method frame.
        """

    def recovery_abandon(self, reason: Exception) -> None:
        """Close at once: the connection under it was lost.

        Args:
            reason: Why (the close reason given to the close callbacks).
        """

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Close the channel.

        Args:
            reply_code: The reason code sent to the broker.
            reply_text: The reason text sent to the broker.
        """


class RecoverableConnection(Protocol):
    """What the recovery asks of a connection (`pika.connection.Connection` does it)."""

    params: Parameters

    @property
    def recovery_was_opened(self) -> bool:
        """Whether the connection ever opened (a failed first open is not recovered)."""

    def recovery_channels(self) -> Sequence[RecoverableChannel]:
        """The channels of the connection, in number order.

        Returns:
            The channels.
        """

    def recovery_reconnect(self, params: Parameters) -> None:
        """Start a new connection attempt to ``params``.

        Args:
            params: The parameters of the attempt.
        """

    def recovery_restored(self) -> None:
        """Everything is back: the connection is open to the application."""

    def recovery_closed(self, error: Exception) -> None:
        """The recovery is over without success: close for good with ``error``.

        Args:
            error: The close reason.
        """

    def recovery_call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        """Call ``callback`` after ``delay`` seconds; returns a handle.

        Args:
            delay: Seconds from now.
            callback: Called with no arguments.

        Returns:
            A handle for `recovery_remove_timer`.
        """

    def recovery_remove_timer(self, handle: Any) -> None:
        """Cancel a call of `recovery_call_later`.

        Args:
            handle: The handle `recovery_call_later` returned.
        """

    def recovery_open_channel(
        self,
        on_open: Callable[[Any], Any],
        on_close: Callable[[Any, Exception], Any],
    ) -> RecoverableChannel:
        """Open a channel of the recovery's own on the new connection.

        Args:
            on_open: Called with the channel once open.
            on_close: Called as ``on_close(channel, reason)`` if it closes.

        Returns:
            The channel (opening).
        """

    def recovery_flush(self) -> None:
        """Write what the reopened channels queued."""

    def recovery_application_callbacks(self) -> list[Any]:
        """The application's open and open-error callbacks.

        Returns:
            The callbacks.
        """


@dataclass(frozen=True)
class RecoveryFailure:
    """Something the last recovery could not restore: ``what`` is
    "exchange", "queue", "binding" or "consumer queue"; ``name`` names it;
    ``error`` is how the broker refused (usually ChannelClosedByBroker).

    Args:
        what: ``'exchange'``, ``'queue'``, ``'binding'`` or ``'consumer queue'``.
        name: What it names.
        error: How the broker refused (usually `ChannelClosedByBroker`).
    """

    what: str
    name: str
    error: BaseException


class ConnectionRecovery:
    """Recovers one connection; created by `Connection.enable_recovery`.

    Args:
        connection: The connection to recover.
        policy: The `RecoveryPolicy`.
        parameters: The parameters to reconnect with, in turn; empty for the connection's own.
    """

    def __init__(
        self,
        connection: RecoverableConnection,
        policy: RecoveryPolicy,
        parameters: Sequence[Parameters],
    ) -> None:
        self.connection = connection
        self.policy = policy
        self.parameters = list(parameters) or [connection.params]
        self.topology = TopologyRecord()
        self.active = False
        self.attempts = 0
        #: Index in `parameters` of the first reconnect attempt: the one after
        #: the parameters the lost connection used, so a cluster client moves
        #: to another node first.
        self._first = 0
        #: Old name -> current name of server-named queues renamed by the
        #: current (or last) recovery.
        self.renamed_queues: dict[str, str] = {}
        #: What the current (or last) recovery could not restore.
        self.failures: list[RecoveryFailure] = []
        self.on_started: list[OnStarted] = []
        self.on_succeeded: list[OnSucceeded] = []
        self.on_failed: list[OnFailed] = []
        self.on_queue_renamed: list[OnQueueRenamed] = []
        self._phase = RecoveryPhase.IDLE
        self._timer: Any = None
        self._last_error: BaseException | None = None
        self._waiting_channels: set[int] = set()
        self._steps: collections.deque[_Step] = collections.deque()
        self._current: tuple[RecoveryStep, str] | None = None
        self._replay_channel: RecoverableChannel | None = None
        self._declared_queues: set[str] = set()
        self._lost_queues: set[str] = set()
        self._user_callbacks: list[Any] = []

    # ------------------------------------------------------------- starting

    def should_recover(self, error: BaseException) -> bool:
        """Called as the connection closes with ``error``.

        Args:
            error: Why the connection closed.

        Returns:
            True when a recovery starts (or goes on) instead of the close.
        """
        if self.active:
            return True
        return self.connection.recovery_was_opened and is_recoverable(error)

    def connection_closed(self, error: BaseException) -> None:
        """The connection (or a reconnect attempt) ended with ``error``.

        Args:
            error: Why it ended.
        """
        if not self.active:
            self._begin(error)
            return
        self._attempt_failed(error)

    def _begin(self, error: BaseException) -> None:
        LOGGER.warning("connection lost (%r): recovering", error)
        self.active = True
        self._phase = RecoveryPhase.CONNECTING
        self.attempts = 0
        current = [
            index
            for index, params in enumerate(self.parameters)
            if params is self.connection.params
        ]
        self._first = current[0] + 1 if current else 0
        self.renamed_queues = {}
        self.failures = []
        self._last_error = error
        conn = self.connection
        self._user_callbacks = conn.recovery_application_callbacks()
        try:
            self._channels_lost(error)
            if telemetry.observer is not None:
                telemetry.observer.on_recovery(conn, "started", error)
            call_each(self.on_started, conn, error)
        finally:
            self._schedule()

    def _channels_lost(self, error: BaseException) -> None:
        """Every channel learns of the loss (a Basic.Nack for unconfirmed
        publishes may reach the application)."""
        republish = self.policy.republish_unconfirmed
        replay = self._replay_channel
        self._replay_channel = None
        closers: list[Callable[[], Any]] = []
        if replay is not None:
            exc = error if isinstance(error, Exception) else exceptions.AMQPError(str(error))
            closers.append(functools.partial(replay.recovery_abandon, exc))
        closers += [
            functools.partial(chan.recovery_lost, republish)
            for chan in self.connection.recovery_channels()
            if chan is not replay
        ]
        call_each(closers)

    def internal(self, callbacks: list[Any]) -> list[Any]:
        """The callbacks in ``callbacks`` that the library added during this
        recovery (the reconnect attempt's), not the application's.

        Args:
            callbacks: A list of callbacks of the connection.

        Returns:
            Those the library added.
        """
        return [callback for callback in callbacks if callback not in self._user_callbacks]

    def _schedule(self) -> None:
        if self.policy.max_attempts is not None and self.attempts >= self.policy.max_attempts:
            self._give_up(
                self._last_error or exceptions.AMQPConnectionError("connection recovery gave up")
            )
            return
        delay = self.policy.delay(self.attempts)
        self._timer = self.connection.recovery_call_later(delay, self._attempt)

    def _attempt(self) -> None:
        self._timer = None
        if not self.active:
            return
        params = self.parameters[(self._first + self.attempts) % len(self.parameters)]
        self.attempts += 1
        LOGGER.info("recovery attempt %d to %s:%s", self.attempts, params.host, params.port)
        self._phase = RecoveryPhase.CONNECTING
        self.connection.recovery_reconnect(params)

    def _attempt_failed(self, error: BaseException) -> None:
        self._last_error = error
        restoring = self._phase != RecoveryPhase.CONNECTING
        self._phase = RecoveryPhase.CONNECTING
        if not is_recoverable(error):
            self._give_up(error)
            return
        LOGGER.info("recovery attempt %d failed: %r", self.attempts, error)
        if not restoring:
            self._schedule()
            return
        # Lost again while restoring: whatever was reopened is gone again.
        self._steps.clear()
        self._current = None
        try:
            self._channels_lost(error)
        finally:
            self._schedule()

    def _give_up(self, error: BaseException) -> None:
        LOGGER.error("connection recovery failed after %d attempt(s): %r", self.attempts, error)
        self._stop()
        if not isinstance(error, Exception):
            error = exceptions.AMQPConnectionError(str(error))
        try:
            if telemetry.observer is not None:
                telemetry.observer.on_recovery(self.connection, "failed", error)
            call_each(self.on_failed, self.connection, error)
        finally:
            self.connection.recovery_closed(error)

    def cancel(self, error: Exception) -> None:
        """The application closed the connection during recovery.

        Args:
            error: The close reason to finish with (`ConnectionClosedByClient`).
        """
        self._stop()
        self.connection.recovery_closed(error)

    def _stop(self) -> None:
        if self._timer is not None:
            self.connection.recovery_remove_timer(self._timer)
            self._timer = None
        self.active = False
        self._phase = RecoveryPhase.IDLE
        self._steps.clear()
        self._current = None
        self._replay_channel = None

    # ------------------------------------------------------------ restoring

    def reconnected(self) -> None:
        """The new connection is open: reopen the channels."""
        conn = self.connection
        self._phase = RecoveryPhase.REOPENING
        self._waiting_channels = set()
        for chan in conn.recovery_channels():
            if chan.recovery_reopen():
                self._waiting_channels.add(chan.channel_number)
        conn.recovery_flush()
        if not self._waiting_channels:
            self._replay_topology()

    def channel_reopened(self, chan: RecoverableChannel) -> None:
        """An application channel is open again (or closed by the
        application while it was reopened).

        Args:
            chan: The channel.
        """
        self._waiting_channels.discard(chan.channel_number)
        if not self._waiting_channels and self._phase == RecoveryPhase.REOPENING:
            self._replay_topology()

    def _replay_topology(self) -> None:
        """Plan the replay (bindings and consumer checks are planned when
        reached, as they follow the queues' new names) and start it."""
        self._phase = RecoveryPhase.REPLAYING
        topology = self.topology
        self._declared_queues = set()
        self._lost_queues = set()
        steps: list[_Step] = [(RecoveryStep.EXCHANGE, name) for name in topology.exchanges]
        steps += [(RecoveryStep.QUEUE, name) for name in topology.queues]
        steps += [(RecoveryStep.BINDINGS, None), (RecoveryStep.CONSUMERS, None)]
        self._steps = collections.deque(steps)
        self._open_replay_channel()

    def _open_replay_channel(self) -> None:
        self._replay_channel = self.connection.recovery_open_channel(
            self._replay_channel_opened, self._on_replay_channel_closed
        )

    def _replay_channel_opened(self, chan: RecoverableChannel) -> None:
        if chan is self._replay_channel:
            self._next_step()

    def _on_replay_channel_closed(self, chan: RecoverableChannel, reason: Exception) -> None:
        if chan is not self._replay_channel or self._phase != RecoveryPhase.REPLAYING:
            return
        # The broker refused a declaration (406 inequivalent arguments, 405
        # another connection's exclusive queue, 404 no such queue...).
        step, name = self._current or (None, "")
        what = step.value if step is not None else "step"
        self._current = None
        LOGGER.error("recovery: could not restore %s %r: %r", what, name, reason)
        self.failures.append(RecoveryFailure(what, name, reason))
        if step is RecoveryStep.CONSUMER_QUEUE:
            self._lost_queues.add(name)
        self._open_replay_channel()

    def _next_step(self) -> None:
        chan = self._replay_channel
        assert chan is not None
        self._current = None
        while self._steps:
            kind, subject = self._steps.popleft()
            if self._run_step(chan, kind, subject):
                return
        self._replay_channel = None
        chan.close()
        self._finish()

    def _step_done(self, _reply: frame.Method) -> None:
        self._next_step()

    def _run_step(self, chan: RecoverableChannel, kind: RecoveryStep, subject: Any) -> bool:
        """Send the request of one step; False if there was nothing to send."""
        topology = self.topology
        method: Any
        callback: Callable[[frame.Method], Any] = self._step_done
        if kind is RecoveryStep.EXCHANGE:
            exchange = topology.exchanges.get(subject)
            if exchange is None:
                return False
            method = spec.Exchange.Declare(
                exchange=exchange.name,
                type=exchange.exchange_type,
                durable=exchange.durable,
                auto_delete=exchange.auto_delete,
                internal=exchange.internal,
                arguments=exchange.arguments,
            )
            self._current = (kind, exchange.name)
        elif kind is RecoveryStep.QUEUE:
            queue = topology.queues.get(subject)
            if queue is None:
                return False
            method = spec.Queue.Declare(
                queue="" if queue.server_named else queue.name,
                durable=queue.durable,
                exclusive=queue.exclusive,
                auto_delete=queue.auto_delete,
                arguments=queue.arguments,
            )
            callback = functools.partial(self._queue_declared, queue.name)
            self._current = (kind, queue.name)
        elif kind is RecoveryStep.BINDINGS:
            bindings = [(RecoveryStep.BINDING, item) for item in topology.bindings]
            self._steps.extendleft(reversed(bindings))
            return False
        elif kind is RecoveryStep.BINDING:
            if subject not in topology.bindings:
                return False  # unbound (or its queue or exchange deleted) since planned
            method = _bind_method(subject)
            self._current = (kind, f"{subject.source} -> {subject.destination}")
        elif kind is RecoveryStep.CONSUMERS:
            queues: set[str] = set()
            for app_channel in self._recovering_channels():
                queues |= app_channel.recovery_consumer_queues(self.renamed_queues)
            checks = sorted(queues - self._declared_queues)
            checks_steps = [(RecoveryStep.CONSUMER_QUEUE, name) for name in checks]
            self._steps.extendleft(reversed(checks_steps))
            return False
        else:
            # A consumer's queue this recovery did not declare: still there,
            # and usable by this connection?
            method = spec.Queue.Declare(queue=subject, passive=True)
            self._current = (RecoveryStep.CONSUMER_QUEUE, subject)
        chan.recovery_request(method, callback)
        return True

    def _queue_declared(self, name: str, reply: frame.Method) -> None:
        new_name = str(reply.method.queue)
        self._declared_queues.add(new_name)
        if new_name == name:
            self._next_step()
            return
        self.topology.queue_renamed(name, new_name)
        renamed = self.renamed_queues
        for old, current in renamed.items():
            if current == name:
                renamed[old] = new_name
        renamed[name] = new_name
        try:
            call_each(self.on_queue_renamed, self.connection, name, new_name)
        finally:
            self._next_step()

    def _recovering_channels(self) -> list[RecoverableChannel]:
        return [
            chan
            for chan in self.connection.recovery_channels()
            if chan.is_recovering and chan is not self._replay_channel
        ]

    def _finish(self) -> None:
        """Topology is back: restart consumers, open the channels and the
        connection to the application, report."""
        conn = self.connection
        self.active = False
        self._phase = RecoveryPhase.IDLE
        conn.recovery_restored()
        pending: list[Callable[[], Any]] = []
        for chan in self._recovering_channels():
            pending += chan.recovery_finished(self.renamed_queues, self._lost_queues)
        LOGGER.info("connection recovered after %d attempt(s)", self.attempts)
        if telemetry.observer is not None:
            telemetry.observer.on_recovery(conn, "succeeded", None)
        pending += [functools.partial(callback, conn) for callback in self.on_succeeded]
        call_each(pending)


def _bind_method(binding: Binding) -> Any:
    if binding.is_exchange:
        return spec.Exchange.Bind(
            destination=binding.destination,
            source=binding.source,
            routing_key=binding.routing_key,
            arguments=binding.arguments,
        )
    return spec.Queue.Bind(
        queue=binding.destination,
        exchange=binding.source,
        routing_key=binding.routing_key,
        arguments=binding.arguments,
    )
