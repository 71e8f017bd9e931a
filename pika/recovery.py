"""Automatic connection and topology recovery: the policy and the record.

Recovery is opt-in (`pika.connection.Connection.enable_recovery`). When a
connection is lost for any reason other than the application closing it
(socket error, missed heartbeats, broker shutdown or a ``320
CONNECTION_FORCED`` close), the connection reconnects with backoff across
its parameters, reopens its channels with their numbers, reapplies QoS,
confirm and tx modes, redeclares what it declared (`TopologyRecord`) and
restarts its consumers with their tags.

This module holds the parts that need no I/O: the backoff policy, which
errors are worth recovering from, and the record of declared topology.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Optional

from pika import exceptions, spec


@dataclass(frozen=True)
class RecoveryPolicy:
    """How to reconnect: exponential backoff with jitter.

    The n-th attempt (from 0) waits ``min(max_delay, initial_delay *
    multiplier**n)``, shortened by a random fraction of up to ``jitter``.
    ``max_attempts`` None retries forever. ``republish_unconfirmed`` makes
    publishes that were not confirmed when the connection broke go out again
    after recovery (they may then be delivered twice); without it they are
    reported to the confirm callback as nacked.

    Args:
        initial_delay: Seconds before the first reconnect attempt (0 or more).
        max_delay: Longest wait between attempts, in seconds (0 or more).
        multiplier: Growth of the wait from one attempt to the next (1 or more).
        jitter: Largest random fraction (0 to 1) taken off each wait, so clients do not reconnect in
            step.
        max_attempts: Attempts before giving up (1 or more); None retries forever.
        republish_unconfirmed: Publish again, after the recovery, the messages not confirmed at the
            loss.

    Raises:
        ValueError: A value is out of range.
    """

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_attempts: Optional[int] = None
    republish_unconfirmed: bool = False

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("RecoveryPolicy delays must be >= 0")
        if self.multiplier < 1:
            raise ValueError("RecoveryPolicy.multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RecoveryPolicy.jitter must be between 0 and 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("RecoveryPolicy.max_attempts must be >= 1 or None")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect attempt number ``attempt`` (0-based).

        Args:
            attempt: The attempt's number, from 0.
            rng: The random generator for the jitter; None for the `random` module's.

        Returns:
            The wait in seconds.
        """
        base = min(self.max_delay, self.initial_delay * self.multiplier ** min(attempt, 64))
        return base * (1 - self.jitter * (rng or random).random())


def is_recoverable(error: BaseException) -> bool:
    """Whether losing a connection with ``error`` should start recovery.

    Lost streams, missed heartbeats, a broker that closes with 320
    CONNECTION_FORCED (shutdown, ``rabbitmqctl close_connection``) and
    failures to reconnect at the TCP level are; the application's own close,
    refused logins and refused virtual hosts are not.

    Args:
        error: Why the connection closed.

    Returns:
        True when a recovery should start.
    """
    if isinstance(
        error,
        (
            exceptions.ConnectionClosedByClient,
            exceptions.ProbableAuthenticationError,
            exceptions.AuthenticationError,
            exceptions.ProbableAccessDeniedError,
            exceptions.ConnectionBlockedTimeout,
            exceptions.ConnectionOpenAborted,
        ),
    ):
        return False
    if isinstance(error, exceptions.ConnectionClosedByBroker):
        return error.reply_code == spec.CONNECTION_FORCED
    inner = getattr(error, "exception", None)
    if isinstance(inner, BaseException) and inner is not error:
        return is_recoverable(inner)
    failures = getattr(error, "exceptions", None)
    if failures:
        return all(is_recoverable(failure) for failure in failures)
    return isinstance(error, (exceptions.AMQPConnectionError, OSError))


@dataclass
class ExchangeDecl:
    """An exchange as it was declared, to declare it again on recovery.

    Args:
        name: Name of the exchange.
        exchange_type: Its type.
        durable: Whether it survives broker restarts.
        auto_delete: Whether it goes with its last binding.
        internal: Whether publishers may not publish to it.
        arguments: Its declaration arguments.
    """

    name: str
    exchange_type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: dict[str, Any]


@dataclass
class QueueDecl:
    """A queue as it was declared, to declare it again on recovery.

    Args:
        name: Name of the queue (the broker's choice for a server-named queue).
        durable: Whether it survives broker restarts.
        exclusive: Whether it belongs to the connection.
        auto_delete: Whether it goes with its last consumer.
        arguments: Its declaration arguments.
        server_named: Whether it was declared as ``''`` (declared as ``''`` again).
    """

    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, Any]
    server_named: bool


@dataclass(frozen=True)
class Binding:
    """A queue binding (``is_exchange`` False) or an exchange-to-exchange one.

    Args:
        destination: The queue, or for an exchange-to-exchange binding the destination exchange.
        source: The exchange it routes from.
        routing_key: The binding key.
        is_exchange: True for an exchange-to-exchange binding.
        arguments: The binding arguments.
        arguments_key: The arguments in a hashable form (`of` computes it).
    """

    destination: str
    source: str
    routing_key: str
    is_exchange: bool
    arguments: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: The arguments in a hashable, order-independent form (for equality).
    arguments_key: str = ""

    @classmethod
    def of(
        cls,
        destination: str,
        source: str,
        routing_key: str,
        arguments: dict[str, Any] | None,
        is_exchange: bool,
    ) -> Binding:
        """Make a binding, computing its ``arguments_key``.

        Args:
            destination: The queue or destination exchange.
            source: The source exchange.
            routing_key: The binding key.
            arguments: The binding arguments; None for none.
            is_exchange: True for an exchange-to-exchange binding.

        Returns:
            The `Binding`.
        """
        arguments = dict(arguments or {})
        key = repr(sorted(arguments.items(), key=lambda item: item[0]))
        return cls(destination, source, routing_key, is_exchange, arguments, key)


@dataclass
class TopologyRecord:
    """What one connection declared, in declaration order, kept up to date
    with deletions and with the broker's automatic removals.

    Args:
        exchanges: Declared exchanges by name.
        queues: Declared queues by name.
        bindings: Bindings, in the order they were made (the values are unused).
        consumers: Consumer tag to the queue it consumes from.
    """

    exchanges: dict[str, ExchangeDecl] = field(default_factory=dict)
    queues: dict[str, QueueDecl] = field(default_factory=dict)
    bindings: dict[Binding, None] = field(default_factory=dict)
    #: Consumer tag -> queue it consumes from (for auto-delete bookkeeping).
    consumers: dict[str, str] = field(default_factory=dict)

    def apply(self, sent: Any, reply: Any = None) -> None:
        """Note what a request the broker accepted changes in the record.

        ``sent`` is the method the application's request sent (a declare,
        delete, bind, unbind, consume or cancel; other methods change
        nothing); ``reply`` is the broker's answer as a method frame, or
        None for a request sent with nowait. Passive declares only check,
        so they are not recorded; a server-named queue is recorded under
        the name in the reply.

        Args:
            sent: The method the request sent.
            reply: The broker's reply method frame; None for a nowait request.
        """
        kind = type(sent)
        if kind is spec.Exchange.Declare and not sent.passive:
            self.exchanges[sent.exchange] = ExchangeDecl(
                sent.exchange,
                sent.type,
                sent.durable,
                sent.auto_delete,
                sent.internal,
                dict(sent.arguments or {}),
            )
        elif kind is spec.Queue.Declare and not sent.passive:
            name = reply.method.queue if reply is not None else sent.queue
            self.queues[name] = QueueDecl(
                name,
                sent.durable,
                sent.exclusive,
                sent.auto_delete,
                dict(sent.arguments or {}),
                server_named=sent.queue == "",
            )
        elif kind is spec.Exchange.Delete:
            self._forget_exchange(sent.exchange)
        elif kind is spec.Queue.Delete:
            self._forget_queue(sent.queue)
        elif kind in _BINDS:
            is_exchange, bind = _BINDS[kind]
            destination = sent.destination if is_exchange else sent.queue
            source = sent.source if is_exchange else sent.exchange
            binding = Binding.of(destination, source, sent.routing_key, sent.arguments, is_exchange)
            if bind:
                self.bindings[binding] = None
            else:
                self.bindings.pop(binding, None)
                self._drop_unused_auto_delete_exchange(source)
        elif kind is spec.Basic.Consume:
            self.consumers[sent.consumer_tag] = sent.queue
        elif kind is spec.Basic.Cancel:
            self.consumer_removed(sent.consumer_tag)

    def queue_renamed(self, old: str, new: str) -> None:
        """A server-named queue got a new name from the broker on recovery.

        Its bindings follow it; so does a binding's routing key that was the
        old name (the default key of ``queue_bind``), since nobody would
        have chosen the broker's generated name for any other reason.

        Args:
            old: The queue's name before the recovery.
            new: The name the broker gave it.
        """
        decl = self.queues.pop(old, None)
        if decl is not None:
            decl.name = new
            self.queues[new] = decl
        renamed: dict[Binding, None] = {}
        for binding in self.bindings:
            if not binding.is_exchange and binding.destination == old:
                key = new if binding.routing_key == old else binding.routing_key
                binding = Binding.of(new, binding.source, key, binding.arguments, False)
            renamed[binding] = None
        self.bindings = renamed
        for tag, queue in self.consumers.items():
            if queue == old:
                self.consumers[tag] = new

    def consumer_removed(self, tag: str) -> None:
        """A consumer ended (the application's cancel, through `apply`, or
        the broker's); an auto-delete queue without consumers is gone.

        Args:
            tag: The consumer tag.
        """
        queue = self.consumers.pop(tag, None)
        if queue is None:
            return
        decl = self.queues.get(queue)
        if decl is not None and decl.auto_delete and queue not in self.consumers.values():
            self._forget_queue(queue)

    def _forget_exchange(self, name: str) -> None:
        """Forget an exchange and the bindings from or to it."""
        self.exchanges.pop(name, None)
        self._drop_bindings(lambda b: b.source == name or (b.is_exchange and b.destination == name))

    def _forget_queue(self, name: str) -> None:
        """Forget a queue, its bindings and its consumers."""
        self.queues.pop(name, None)
        self._drop_bindings(lambda b: not b.is_exchange and b.destination == name)
        for tag in [tag for tag, queue in self.consumers.items() if queue == name]:
            del self.consumers[tag]

    def _drop_bindings(self, predicate: Any) -> None:
        dropped = [binding for binding in self.bindings if predicate(binding)]
        for binding in dropped:
            del self.bindings[binding]
        for source in {binding.source for binding in dropped}:
            self._drop_unused_auto_delete_exchange(source)

    def _drop_unused_auto_delete_exchange(self, name: str) -> None:
        decl = self.exchanges.get(name)
        if decl is None or not decl.auto_delete:
            return
        if not any(binding.source == name for binding in self.bindings):
            self._forget_exchange(name)


class ConfirmNumbering:
    """Publisher-confirm numbers that survive recoveries.

    On each new channel the broker numbers confirms from 1 again, while the
    application keeps counting (``next_publish_seq_no``). This keeps the
    application's numbers, knows exactly which publishes are confirmed, and
    at a connection loss either reports the rest as nacked or keeps them to
    be republished under their original numbers.
    """

    def __init__(self) -> None:
        #: Application number of the last publish before the current channel.
        self._base = 0
        #: Broker tag -> application number, for republished messages.
        self._republished: dict[int, int] = {}
        #: Every application number up to this one is confirmed.
        self._contiguous = 0
        #: Confirmed numbers above ``_contiguous`` (confirms out of order).
        self._ahead: set[int] = set()
        #: Application number -> message, kept only when republishing.
        self._kept: dict[int, tuple[Any, ...]] = {}
        self._to_republish: list[tuple[Any, ...]] = []
        self._republished_count = 0

    def keep(self, seq: int, message: tuple[Any, ...]) -> None:
        """Keep a published message until it is confirmed, to republish it after a loss.

        Args:
            seq: Its application publish number.
            message: What to publish it again with.
        """
        self._kept[seq] = message

    def translate(self, method: spec.Basic.Ack | spec.Basic.Nack) -> list[Any]:
        """The confirm(s) in application numbers for a broker Ack or Nack.

        Args:
            method: The broker's ``Basic.Ack`` or ``Basic.Nack``.

        Returns:
            The ``Basic.Ack``/``Basic.Nack`` objects to report, in application numbers (none for a
            confirm of nothing new).
        """
        tag = method.delivery_tag
        count = self._republished_count
        if not method.multiple:
            seq = self._republished.pop(tag, 0) if tag <= count else tag - count + self._base
            if not seq:
                return []
            self._confirmed(seq)
            return [self._same_kind(method, seq, False)]
        covered = sorted(broker_tag for broker_tag in self._republished if broker_tag <= tag)
        seqs = [self._republished.pop(broker_tag) for broker_tag in covered]
        for seq in seqs:
            self._confirmed(seq)
        result = [self._same_kind(method, seq, False) for seq in seqs]
        if tag > count:
            upto = tag - count + self._base
            result.append(self._same_kind(method, upto, True))
            for seq in [seq for seq in self._kept if seq <= upto]:
                del self._kept[seq]
            if upto > self._contiguous:
                self._contiguous = upto
                self._ahead = {seq for seq in self._ahead if seq > upto}
                self._absorb()
        return result

    @staticmethod
    def _same_kind(method: Any, tag: int, multiple: bool) -> Any:
        if isinstance(method, spec.Basic.Nack):
            return spec.Basic.Nack(tag, multiple, method.requeue)
        return spec.Basic.Ack(tag, multiple)

    def _confirmed(self, seq: int) -> None:
        self._kept.pop(seq, None)
        if seq == self._contiguous + 1:
            self._contiguous = seq
            self._absorb()
        elif seq > self._contiguous:
            self._ahead.add(seq)

    def _absorb(self) -> None:
        while self._contiguous + 1 in self._ahead:
            self._contiguous += 1
            self._ahead.discard(self._contiguous)

    def connection_lost(self, published: int, republish: bool) -> list[Any]:
        """The channel's connection broke after ``published`` publishes.

        Returns the confirms to report now: with ``republish`` none (the
        unconfirmed messages wait in `take_republish`), otherwise one
        multiple Basic.Nack covering every publish not yet confirmed.

        Args:
            published: The application number of the last publish.
            republish: Whether to keep the unconfirmed messages for republishing.

        Returns:
            The confirms to report now.
        """
        self._base = published
        self._republished = {}
        self._republished_count = 0
        if republish:
            self._to_republish = [self._kept[seq] for seq in sorted(self._kept)]
            for broker_tag, seq in enumerate(sorted(self._kept), start=1):
                self._republished[broker_tag] = seq
            self._republished_count = len(self._republished)
            return []
        if self._contiguous >= published:
            return []
        self._contiguous = published
        self._ahead.clear()
        return [spec.Basic.Nack(published, True, False)]

    def take_republish(self) -> list[tuple[Any, ...]]:
        """The messages to publish again, in their original order.

        Returns:
            The kept messages; the list is emptied.
        """
        messages, self._to_republish = self._to_republish, []
        return messages


#: Binding methods: (whether exchange-to-exchange, whether it binds).
_BINDS: dict[type, tuple[bool, bool]] = {
    spec.Queue.Bind: (False, True),
    spec.Queue.Unbind: (False, False),
    spec.Exchange.Bind: (True, True),
    spec.Exchange.Unbind: (True, False),
}
