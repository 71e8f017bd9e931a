"""The callback `Channel`'s side of automatic connection recovery.

`ChannelRecovery` is a part of `pika.channel.Channel`: the hooks that
`pika.connection_recovery.ConnectionRecovery` calls on each channel (its
`RecoverableChannel` protocol) when the connection is lost, while the
channel is reopened, and when the recovery is over. What they change is the
channel's own state, kept by `Channel`.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Callable, Optional

from pika import amqp_object, exceptions, frame, spec
from pika.recovery import ConfirmNumbering
from pika.states import ChannelState

if TYPE_CHECKING:
    from pika.connection import Connection
    from pika.engine import ConnectionEngine

LOGGER = logging.getLogger(__name__)


class ChannelRecovery:
    """The recovery hooks of `pika.channel.Channel` (see the module)."""

    if TYPE_CHECKING:
        connection: Connection
        channel_number: int
        _engine: ConnectionEngine
        _state: ChannelState
        _replies: Any
        _cancelled: dict[str, bool]
        _consumer_specs: dict[str, tuple[str, bool, bool, dict[str, Any]]]
        _qos: dict[bool, tuple[int, int]]
        _tx: bool
        _confirming: bool
        _confirmed: Optional[ConfirmNumbering]
        _publish_seq: int
        _tag_offset: int
        _max_tag: int
        _close_after_open: Optional[tuple[int, str]]
        _closing_reason: tuple[int, str]
        _on_open_callback: Optional[Callable[..., Any]]
        flow_active: bool

        def _report_confirm(self, method: amqp_object.Method) -> None: ...

        def _on_closed(self, reason: Exception) -> None: ...

        def _rpc(
            self,
            method: amqp_object.Method,
            callback: Optional[Callable[..., Any]],
            nowait: bool = False,
            recorded: bool = False,
            internal: bool = False,
        ) -> None: ...

        def _consume(self, tag: str, callback: Optional[Callable[[frame.Method], Any]]) -> None: ...

        def _drop_consumer(self, method: spec.Basic.Cancel) -> None: ...

    def recovery_lost(self, republish: bool) -> None:
        """The connection broke and is being recovered; this channel will be
        reopened with its number (unless it was closing: then it is closed
        now). It is opening, to the application, until `recovery_finished`.
        Replies in flight are lost; consumers being cancelled are gone;
        deliveries seen so far keep their tags, later ones are numbered after
        them; publishes not yet confirmed are reported as nacked, or kept for
        republishing.

        A hook of automatic recovery (`pika.connection_recovery`), not for
        applications.

        Args:
            republish: Keep the unconfirmed publishes to send again, instead of reporting them
                nacked.
        """
        if self._state is ChannelState.CLOSING:
            self._closed_with_connection()
            return
        self._state = ChannelState.RECOVERING
        self._replies.clear()
        recovery = self.connection._recovery
        for tag in self._cancelled:
            if recovery is not None:
                recovery.topology.consumer_removed(tag)
        self._cancelled.clear()
        self.flow_active = True
        self._tag_offset = self._max_tag
        if not self._confirming:
            return
        if self._confirmed is None:
            # Confirm mode began before recovery was enabled, untracked: what
            # was published so far counts as unconfirmed (nacked), and the
            # numbering continues from here.
            self._confirmed = ConfirmNumbering()
        for method in self._confirmed.connection_lost(self._publish_seq, republish):
            self._report_confirm(method)

    def recovery_reopen(self) -> bool:
        """Send Channel.Open on the new connection; False (and the channel
        closed) if the application closed it during the recovery, or if the
        new connection's channel_max is below its number. A hook of
        automatic recovery.

        Returns:
            False if the channel was closed meanwhile (nothing sent).
        """
        if self._state is ChannelState.CLOSING:
            self._closed_with_connection()
            return False
        self._engine = self.connection._engine
        try:
            self._engine.open_channel(self.channel_number)
        except exceptions.InvalidChannelNumber as error:
            self._number_refused(error)
            return False
        self._state = ChannelState.REOPENING
        return True

    def _number_refused(self, error: exceptions.InvalidChannelNumber) -> None:
        """The recovered connection cannot have this channel's number: the
        channel closes with CHANNEL_ERROR (its close callbacks tell why)."""
        LOGGER.error("channel %d not reopened by the recovery: %s", self.channel_number, error)
        self._on_closed(exceptions.ChannelClosed(spec.CHANNEL_ERROR, str(error)))

    def _closed_with_connection(self) -> None:
        """A channel the application was closing went with the connection:
        it is closed now, as the application asked."""
        code, text = self._close_after_open or self._closing_reason
        self._close_after_open = None
        self._on_closed(exceptions.ChannelClosedByClient(code, text))

    def _reapply_modes(self) -> None:
        """QoS, confirm and tx modes on the new connection, pipelined."""
        for global_qos, (size, count) in sorted(self._qos.items()):
            self._rpc(spec.Basic.Qos(size, count, global_qos), None, internal=True)
        if self._confirming:
            self._rpc(spec.Confirm.Select(False), None, internal=True)
        if self._tx:
            self._rpc(spec.Tx.Select(), None, internal=True)

    def recovery_consumer_queues(self, renamed: dict[str, str]) -> set[str]:
        """The queues this channel's consumers consume from, after
        ``renamed`` (old name -> new). A hook of automatic recovery.

        Args:
            renamed: Old name to new name of the queues the recovery renamed.

        Returns:
            The queue names.
        """
        return {renamed.get(queue, queue) for queue, *_rest in self._consumer_specs.values()}

    def recovery_finished(
        self, renamed: dict[str, str], lost_queues: set[str]
    ) -> list[Callable[[], Any]]:
        """The recovery is over: the channel is open again. Consumers restart
        with their tags, following renamed queues, except those whose queue
        is lost (they are cancelled, as if by the broker); kept publishes go
        out again. Returns the application callbacks to run: the channel's
        open callback if it was still opening at the failure, and the
        cancel notifications. A hook of automatic recovery.

        Args:
            renamed: Old name to new name of the renamed queues.
            lost_queues: Queues that no longer exist (their consumers are cancelled).

        Returns:
            The application callbacks to run now (open callbacks, cancel notices...).
        """
        self._state = ChannelState.OPEN
        pending: list[Callable[[], Any]] = []
        for tag, (queue, auto_ack, exclusive, arguments) in list(self._consumer_specs.items()):
            queue = renamed.get(queue, queue)
            if queue in lost_queues:
                LOGGER.error(
                    "channel %d: consumer %r not restarted: queue %r could not be recovered",
                    self.channel_number,
                    tag,
                    queue,
                )
                pending.append(functools.partial(self._drop_consumer, spec.Basic.Cancel(tag)))
                continue
            self._consumer_specs[tag] = (queue, auto_ack, exclusive, arguments)
            self._consume(tag, None)
        self._republish()
        callback = self._on_open_callback
        self._on_open_callback = None
        if callback is not None:
            pending.insert(0, functools.partial(callback, self))
        return pending

    def recovery_request(
        self, method: amqp_object.Method, callback: Callable[[frame.Method], Any]
    ) -> None:
        """Send the recovery's own request ``method`` on this (open)
        channel; ``callback(reply)``. A hook of automatic recovery.

        Args:
            method: The AMQP method to send.
            callback: Called with the reply's method frame.
        """
        self._rpc(method, callback)

    def recovery_abandon(self, reason: Exception) -> None:
        """Close this channel of the recovery's own at once: its connection
        was lost. A hook of automatic recovery.

        Args:
            reason: Why (the close reason given to the close callbacks).
        """
        self._on_closed(reason)

    def _republish(self) -> None:
        confirmed = self._confirmed
        if confirmed is None:
            return
        for exchange, routing_key, body, properties, mandatory in confirmed.take_republish():
            self._engine.publish(
                self.channel_number, exchange, routing_key, body, properties, mandatory
            )
        self.connection._output_ready()
