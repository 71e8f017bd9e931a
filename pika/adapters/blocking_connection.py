"""Pika's synchronous API: `BlockingConnection` and `BlockingChannel`.

How it works
------------
A `BlockingConnection` owns a private `IOLoop` and a callback
`SelectConnection` running on it. The loop turns only while the user's
thread is inside a blocking call: a method waiting for its reply,
`process_data_events`, `sleep`, `start_consuming` or the `consume`
generator. Heartbeats, timers and incoming frames are handled during those
calls.

Each AMQP method of `BlockingChannel` is the callback `Channel`'s method plus
one generic helper (`BlockingChannel._request`): it hands the callback layer
a completion callback, then turns the loop until that callback has fired,
the channel has closed (raising `ChannelClosedByBroker`) or the connection
has gone (raising its `AMQPConnectionError`).

User callbacks (consumers, returns, consumer cancellations, timers,
blocked/unblocked notices, `add_callback_threadsafe`) never run inside the
loop. The loop appends them to the connection's ready queue; they run in
arrival order, in the user's thread, from `process_data_events`, `sleep`,
`start_consuming` and the `consume` generator, and never re-entrantly from
inside another blocking call's wait.

Publishing and acknowledging without confirms do not turn the loop: the
frames go straight to the socket while its buffer is empty. The loop runs
only when the kernel does not take everything (until it has), and at most
every `SERVICE_INTERVAL` seconds to read what arrived meanwhile.

Inside consumer callbacks, frames sent in quick succession (acks above
all) are written together, at most `COALESCE_SECONDS` apart and at the end
of the run of ready callbacks, rather than one write each. The consume
generator does the same for what the application sends while it holds one
of its messages (an RPC server's reply and ack, a burst of acks): a frame
sent less than `COALESCE_SECONDS` after the previous write goes out when
the generator is resumed (while more messages are buffered, once
`COALESCE_SECONDS` have passed or the buffer runs dry) or closed, or when a
blocking call turns the loop. A reply and its ack then reach the broker in
one segment, which shortens a round trip through it.

Publisher confirms come in two forms. `basic_publish` on a channel in
confirm mode waits for each message's confirm, as in Pika. `publisher()`
returns a `PipelinedPublisher` that keeps a window of unconfirmed messages
in flight and reports every nack and unroutable return when flushed.

`BlockingChannel` lives in `blocking_channel`, the confirm bookkeeping and
`PipelinedPublisher` in `blocking_confirms`; all are importable from here.

Automatic recovery (opt-in)
---------------------------
``BlockingConnection(parameters, recovery=RecoveryPolicy(...))`` turns on the
callback layer's recovery (`pika.connection_recovery`) as soon as the
connection is open; with a sequence of parameters the reconnects fail over
between them. Without ``recovery`` a loss ends the connection as before.
When the connection is lost for a reason other than the application
closing it:

- ``is_open`` is False on the connection and its channels (``is_closed``
  too) and `BlockingConnection.is_recovering` is True until the connection,
  its channels, topology and consumers are back.
- A call that was waiting for the broker's reply (a declare, ``channel()``,
  ``basic_get``...) raises `pika.exceptions.ConnectionInterrupted` as soon as
  the loss is seen; whether its request took effect is unknown.
- A call made while the recovery runs (a method of the connection or a
  channel that talks to the broker, a publish or an ack included) first
  turns the loop until the recovery is over, then proceeds. It waits at
  most ``recovery_wait_timeout`` seconds (by default the first parameters'
  ``socket_timeout`` plus ``stack_timeout``), then raises
  `pika.exceptions.RecoveryWaitTimeout` while the recovery goes on. If the
  recovery gives up (``max_attempts``, a refused login) the call raises the
  error that ended the connection. `sleep`, `process_data_events`,
  `call_later` and `close` do not wait: they work during the recovery (close
  stops it).
- `start_consuming` and the ``consume`` generator ride the recovery out:
  their consumers are restarted with their tags and messages keep coming.
  Messages for manually acknowledged consumers that were received but not
  yet dispatched at the loss are dropped (the broker requeues them). Acks,
  nacks and rejects of delivery tags from before the loss are dropped, not
  sent (they would close the channel): `BlockingChannel.is_stale_delivery_tag`
  and `BlockingChannel.stale_tags_dropped` tell.
- Publisher confirms: messages not confirmed at the loss are reported as
  nacked, so a `basic_publish` in confirm mode that was waiting raises
  `pika.exceptions.NackError`, and a `PipelinedPublisher`'s next `flush` (or
  ``close``) raises NackError listing them. With the policy's
  ``republish_unconfirmed`` they are published again after the recovery
  instead, and the waits for their confirms go on through it (bounded by
  ``recovery_wait_timeout`` like a new call).
- ``add_on_recovery_started_callback`` and friends forward the recovery's
  events; like every user callback they run from `process_data_events`,
  `sleep`, `start_consuming` or ``consume``.
"""

from __future__ import annotations

import collections
import functools
import inspect
import itertools
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any, Callable

from pika import exceptions, frame, telemetry, validation
from pika.adapters.blocking_channel import BlockingChannel, _Reply
from pika.adapters.blocking_confirms import PipelinedPublisher, PublishedMessage, ReturnedMessage
from pika.adapters.blocking_consumers import _ConsumerDeliveryEvt as _ConsumerDeliveryEvt
from pika.adapters.blocking_consumers import _ConsumerInfo as _ConsumerInfo
from pika.adapters.blocking_consumers import _Delivery
from pika.adapters.blocking_consumers import (
    _QueueConsumerGeneratorInfo as _QueueConsumerGeneratorInfo,
)

# Private names some tools import from this module (see `blocking_consumers`).
from pika.adapters.blocking_recovery import BlockingRecoveryAPI
from pika.adapters.blocking_wait import BOUNDED, INTERRUPTIBLE, PLAIN, Turn
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.utils import connection_workflow
from pika.adapters.utils.closing_context import ClosingContext
from pika.callback_registrations import BlockingConnectionRegistrations
from pika.parameters import Parameters
from pika.recovery import RecoveryPolicy
from pika.wrapping import WrappedState

__all__ = [
    "BlockingChannel",
    "BlockingConnection",
    "PipelinedPublisher",
    "PublishedMessage",
    "ReturnedMessage",
]

SERVICE_INTERVAL = 0.01
"""While only publishing or acking, how often (seconds) the loop is turned
once without blocking, to read incoming frames and run due timers."""

COALESCE_SECONDS = 0.001
"""Inside consumer callbacks, frames sent less than this long after the
previous write are written together at the end of the callback."""

LOGGER = logging.getLogger(__name__)

_OnConnectionNotice = Callable[["BlockingConnection", frame.Method], Any]


def _no_op() -> None:
    """Queued on the loop to make its next turn return without waiting."""


def _never() -> bool:
    return False


class BlockingConnection(
    WrappedState[SelectConnection],
    BlockingRecoveryAPI,
    BlockingConnectionRegistrations,
    ClosingContext,
):
    """A connection whose methods block until the broker has answered.

    ``parameters`` is one `pika.connection.Parameters` object or a sequence
    of them, tried in turn (each with its own ``connection_attempts`` and
    ``retry_delay``); None means the defaults (localhost:5672, guest).
    Every failure to connect raises an `AMQPConnectionError` subclass:
    ProbableAuthenticationError, ProbableAccessDeniedError,
    AMQPConnectionWorkflowFailed (its ``exceptions`` lists each attempt) ...

    Not thread-safe: use it from one thread, except
    `add_callback_threadsafe`, which any thread may call.

    ``recovery`` (a `pika.recovery.RecoveryPolicy`) turns on automatic
    recovery after a connection loss, across every given parameters; see
    the module's documentation for what calls see meanwhile and
    ``recovery_wait_timeout`` for how long they wait for it.

    Args:
        parameters: One `pika.connection.Parameters` object, or a sequence of them tried in turn;
            None for the defaults.
        recovery: A `pika.recovery.RecoveryPolicy` to turn automatic recovery on (every parameters
            object is then used for failover); None leaves it off.
        recovery_wait_timeout: With recovery on: longest a call made during a recovery waits for it
            to end, in seconds; None for the first parameters' ``socket_timeout`` plus
            ``stack_timeout``.

    Raises:
        AMQPConnectionError: No connection could be opened (the subclass says why:
            `ProbableAuthenticationError`, `StreamLostError`...).
        TypeError: ``recovery`` is not a `pika.recovery.RecoveryPolicy`.
        ValueError: ``recovery_wait_timeout`` is negative.
    """

    def __init__(
        self,
        parameters: Parameters | Sequence[Parameters] | None = None,
        _impl_class: type[SelectConnection] | None = None,
        *,
        recovery: RecoveryPolicy | None = None,
        recovery_wait_timeout: float | None = None,
    ) -> None:
        configs = validation.parameters_list(parameters)
        if recovery is not None and not isinstance(recovery, RecoveryPolicy):
            raise TypeError(
                f"recovery must be a pika.recovery.RecoveryPolicy, got {type(recovery).__name__}"
            )
        if recovery_wait_timeout is None:
            first = configs[0]
            recovery_wait_timeout = float(
                (first.socket_timeout or Parameters.DEFAULT_SOCKET_TIMEOUT)
                + (first.stack_timeout or Parameters.DEFAULT_STACK_TIMEOUT)
            )
        elif recovery_wait_timeout < 0:
            raise ValueError(f"recovery_wait_timeout must be >= 0, got {recovery_wait_timeout!r}")
        #: Longest a call made during a recovery waits for it to end (seconds).
        self.recovery_wait_timeout = recovery_wait_timeout
        self._ioloop = IOLoop()
        self._ready: collections.deque[Callable[[], Any]] = collections.deque()
        self._dispatch_depth = 0
        self._timers: dict[int, tuple[Any, Callable[[], Any]]] = {}
        self._timer_ids = itertools.count(1)
        self._closed_error: BaseException | None = None
        self._error_reported = False
        self._closed_by_user = False
        self._loop_released = False
        self._service_at = 0.0
        self._written_at = 0.0
        self._output_deferred = False
        #: Set while the consume generator hands out a message and more are
        #: buffered: the frames the application sends meanwhile (its acks)
        #: are written together when the generator is resumed or closed.
        self._defer_writes = 0
        # Recovery: whether one runs, how many began, the loss of the last one.
        self._recovering = False
        self._interruptions = 0
        self._loss: BaseException | None = None
        self._channels: weakref.WeakSet[BlockingChannel] = weakref.WeakSet()
        impl_class = _impl_class if _impl_class is not None else SelectConnection
        self._impl = self._open(impl_class, configs)
        # Output is written by the blocking calls (`_write_output`) and before
        # each turn of the loop (`_turn`), never by a callback queued on the
        # loop: such a callback would make the next wait return at once, a
        # second epoll_wait for every request.
        self._impl._flushed_by_caller()
        self._impl.add_on_close_callback(self._on_impl_closed)
        if recovery is not None:
            self._impl.enable_recovery(recovery, configs)
            self._impl.add_on_recovery_started_callback(self._on_recovery_started)
            self._impl.add_on_recovery_succeeded_callback(self._on_recovery_succeeded)

    def __repr__(self) -> str:
        return f"<BlockingConnection impl={self._impl!r}>"

    def _on_block_exit(self, raised: bool) -> None:
        if self.is_open or self._recovering:
            self.close()
        elif self.is_closed:
            self._release_loop()

    # ------------------------------------------------------------- opening

    def _open(self, impl_class: type[SelectConnection], configs: list[Parameters]) -> Any:
        loop = self._ioloop
        outcome: list[Any] = []
        try:
            workflow = impl_class.create_connection(configs, outcome.append, custom_ioloop=loop)
            try:
                while not outcome:
                    loop.poll()
            except BaseException:
                if not outcome:
                    workflow.abort()
                raise
        except BaseException:
            self._release_loop()
            raise
        result = outcome[0]
        if isinstance(result, BaseException):
            self._release_loop()
            raise connection_workflow.failure_to_raise(result)
        return result

    # --------------------------------------------------- the loop, internals

    def _on_impl_closed(self, _impl: Any, error: BaseException) -> None:
        self._closed_error = error
        self._recovering = False

    def _on_recovery_started(self, _impl: Any, error: BaseException) -> None:
        """The connection broke and the callback layer recovers it: waits
        for a reply are interrupted; undispatched deliveries of manually
        acknowledged consumers are dropped (the broker requeues them, and
        their tags could no longer be acked)."""
        self._recovering = True
        self._interruptions += 1
        self._loss = error
        self._output_deferred = False
        kept: list[Callable[[], Any]] = []
        dropped = 0
        for item in self._ready:
            if type(item) is _Delivery and not item.info.auto_ack:
                dropped += 1
            else:
                kept.append(item)
        if dropped:
            self._ready.clear()
            self._ready.extend(kept)
        for channel in list(self._channels):
            dropped += channel._drop_stale_generator_messages()
        if dropped:
            LOGGER.info("connection lost: %d undispatched deliveries dropped", dropped)

    def _on_recovery_succeeded(self, _impl: Any) -> None:
        self._recovering = False

    def _await_recovery(self) -> None:
        """For a call made while the connection recovers: turn the loop until
        the recovery is over. Raises RecoveryWaitTimeout after
        `recovery_wait_timeout` seconds, the final error if it fails."""
        self._run(self._recovery_over, how=BOUNDED)
        self._raise_unreported()

    def _recovery_over(self) -> bool:
        return not self._recovering

    def _release_loop(self) -> None:
        if not self._loop_released:
            self._loop_released = True
            self._timers.clear()
            self._ioloop.close()

    def _ended(self) -> bool:
        """Whether the connection has ended (its loop is then released).

        An end the user did not ask for with `close` (even from inside a
        callback) raises the connection's error instead.
        """
        error = self._closed_error
        if error is None:
            return False
        self._error_reported = True
        self._release_loop()
        if self._closed_by_user:
            return True
        raise error

    def _raise_unreported(self) -> None:
        """Raise the error that ended the connection unless a call already did."""
        if self._closed_error is not None and not self._error_reported:
            self._ended()

    def _check_usable(self, what: str) -> None:
        """Raise unless the connection is open or recovering."""
        if self._closed_error is not None:
            self._raise_unreported()
        if not self._impl.is_open and not self._recovering:
            state = "closed" if self._impl.is_closed else "closing"
            raise exceptions.ConnectionWrongStateError(f"{what} on a {state} connection")

    def _usable_now(self, what: str) -> None:
        """`_check_usable`, then wait for a recovery under way to end."""
        self._check_usable(what)
        if self._recovering:
            self._await_recovery()
            self._check_usable(what)

    def _run(
        self, done: Callable[[], Any], timeout: float | None = None, how: Turn = PLAIN
    ) -> bool:
        """Turn the loop until ``done()`` holds; returns False if ``timeout``
        seconds passed first (None: no limit; 0: one turn that does not wait).

        ``how`` says whether ready user callbacks run between turns and
        whether a recovery interrupts or bounds the wait (see `Turn`).
        Raises the connection's error if it ends before ``done()`` holds;
        returns False if the user closed it.
        """
        dispatch = how.dispatch
        if self._ended():
            return bool(done())
        loop = self._ioloop
        if timeout is not None and timeout <= 0:
            loop.add_callback(_no_op)
            self._turn()
            if dispatch:
                self._dispatch()
            if done():
                return True
            self._ended()
            return False
        interruptible = how.interruptible
        bounded = how.bounded
        watch = interruptible or bounded
        interruptions = self._interruptions
        deadline = None if timeout is None else time.monotonic() + timeout
        recovery_deadline: float | None = None
        try:
            while True:
                if dispatch and self._ready:
                    self._dispatch()
                if done():
                    return True
                if self._closed_error is not None and self._ended():
                    return False
                due = deadline
                if deadline is not None or watch:
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return False
                    if interruptible and self._interruptions != interruptions:
                        loss = self._loss
                        assert loss is not None
                        raise exceptions.ConnectionInterrupted(loss)
                    if bounded and self._recovering and recovery_deadline is None:
                        recovery_deadline = now + self.recovery_wait_timeout
                    if recovery_deadline is not None:
                        if now >= recovery_deadline:
                            raise exceptions.RecoveryWaitTimeout(
                                f"the connection was still recovering after "
                                f"{self.recovery_wait_timeout}s (from {self._loss!r})"
                            )
                        if due is None or recovery_deadline < due:
                            due = recovery_deadline
                # The loop's wait ends by then, with no timer made for it.
                loop._wait_until = due
                self._turn()
        finally:
            loop._wait_until = None

    def _turn(self) -> None:
        """Write what the commands queued, then turn the loop once."""
        impl = self._impl
        if impl.connection_state != impl.CONNECTION_CLOSED:
            impl._flush()
        self._ioloop.poll()

    def _dispatch(self) -> None:
        """Run the ready user callbacks in order (not from inside one of them).

        Frames the callbacks send are written together (see `_flush_output`):
        after a callback once `COALESCE_SECONDS` have passed since the last
        write, and when the queue is empty.
        """
        if self._dispatch_depth:
            return
        ready = self._ready
        self._dispatch_depth = 1
        try:
            while ready:
                item = ready.popleft()
                if type(item) is _Delivery and telemetry.observer is None:
                    # `_Delivery.__call__` written out: most of what is ready.
                    channel, info, method, properties, body = item
                    info.on_message_callback(channel, method, properties, body)
                else:
                    item()
                if self._output_deferred and (
                    not ready or time.monotonic() - self._written_at >= COALESCE_SECONDS
                ):
                    self._write_deferred()
        finally:
            self._dispatch_depth = 0
            if self._output_deferred and self._impl.is_open:
                self._output_deferred = False
                self._impl._flush()

    def _end_deferral(self, more_ready: bool) -> None:
        """The consume generator got control back: write what its caller
        sent, unless more messages are ready and the last write is recent."""
        self._defer_writes -= 1
        if self._output_deferred and (
            not more_ready or time.monotonic() - self._written_at >= COALESCE_SECONDS
        ):
            if self._impl.is_open:
                self._write_deferred()
            else:
                self._output_deferred = False

    def _write_deferred(self) -> None:
        self._output_deferred = False
        self._written_at = time.monotonic()
        self._write_output()

    def _can_dispatch(self) -> bool:
        return bool(self._ready) and not self._dispatch_depth

    def _flush_output(self) -> None:
        """Write the frames a command just queued.

        Inside a dispatch, a frame that follows a write by less than
        `COALESCE_SECONDS` waits for the end of the callback (or of a quick
        run of callbacks), so that a consumer acking a burst of messages
        costs one write per burst instead of one per ack.
        """
        if self._dispatch_depth or self._defer_writes:
            now = time.monotonic()
            if now - self._written_at < COALESCE_SECONDS:
                self._output_deferred = True
                return
            self._written_at = now
        self._write_output()

    def _write_output(self) -> None:
        """Hand the queued frames to the socket without a turn of the loop
        when it takes them all; otherwise turn the loop until it has."""
        impl = self._impl
        impl._flush()
        if impl._adapter_get_write_buffer_size():
            self._run(self._output_drained)
            return
        now = time.monotonic()
        if now >= self._service_at:
            self._service_at = now + SERVICE_INTERVAL
            self._run(_never, 0)

    def _output_drained(self) -> bool:
        return not self._impl._adapter_get_write_buffer_size()

    def _fire_timer(self, timer_id: int) -> None:
        entry = self._timers.pop(timer_id, None)
        if entry is not None:
            entry[1]()

    # ---------------------------------------------------------- public API

    @property
    def basic_nack(self) -> bool:
        """Whether the broker supports Basic.Nack."""
        return bool(self._impl.basic_nack)

    basic_nack_supported = basic_nack

    @property
    def consumer_cancel_notify(self) -> bool:
        """Whether the broker tells consumers it cancelled them (Basic.Cancel)."""
        return bool(self._impl.consumer_cancel_notify)

    consumer_cancel_notify_supported = consumer_cancel_notify

    @property
    def exchange_exchange_bindings(self) -> bool:
        """Whether the broker supports exchange-to-exchange bindings."""
        return bool(self._impl.exchange_exchange_bindings)

    exchange_exchange_bindings_supported = exchange_exchange_bindings

    @property
    def publisher_confirms(self) -> bool:
        """Whether the broker supports publisher confirms (Confirm.Select)."""
        return bool(self._impl.publisher_confirms)

    publisher_confirms_supported = publisher_confirms

    def channel(self, channel_number: int | None = None) -> BlockingChannel:
        """Open a channel (the lowest free number unless one is given).

        Args:
            channel_number: The channel number to use; None for the lowest free one.

        Returns:
            The open `BlockingChannel`.

        Raises:
            ConnectionWrongStateError: The connection is not open.
            NoFreeChannels: Every channel number is in use.
        """
        self._usable_now("channel()")
        opened = _Reply()
        impl_channel = self._impl.channel(channel_number, on_open_callback=opened)
        channel = BlockingChannel(impl_channel, self)
        try:
            channel._wait(lambda: opened.done, how=INTERRUPTIBLE)
        except exceptions.ConnectionInterrupted:
            # Nobody will have it: not reopened by the recovery.
            impl_channel.close()
            raise
        self._channels.add(channel)
        if not opened.done:
            channel._raise_closed()
        return channel

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the connection (and with it every channel); pending
        callbacks are dropped. Raises ConnectionWrongStateError if it is
        already closed.

        Args:
            reply_code: The reason code sent to the broker (200 for a normal close).
            reply_text: The reason text sent to the broker.
        """
        if not self._impl.is_open and not self._recovering:
            self._error_reported = True
            if self._impl.is_closed:
                self._release_loop()
            state = "closed" if self._impl.is_closed else "closing"
            raise exceptions.ConnectionWrongStateError(
                f"close({reply_code}, {reply_text!r}) called on a {state} connection"
            )
        self._closed_by_user = True
        self._impl.close(reply_code, reply_text)
        try:
            self._run(lambda: self._impl.is_closed)
        finally:
            self._ready.clear()
            if self._impl.is_closed:
                self._error_reported = True
                self._release_loop()

    def process_data_events(self, time_limit: float | None = 0) -> None:
        """Do the connection's I/O and run the callbacks that became ready.

        ``time_limit`` bounds the wait for something to dispatch: 0 does one
        pass without waiting, None waits until at least one callback is
        ready. Callbacks run here, unless this is called from inside one.

        Args:
            time_limit: Longest wait in seconds for a callback to become ready: 0 for one pass
                without waiting, None to wait until one is ready.

        Raises:
            ValueError: ``time_limit`` is negative.
            ConnectionClosed: The connection closed (the subclass says why).
        """
        self._check_usable("process_data_events()")
        if time_limit is not None and time_limit < 0:
            raise ValueError(f"time_limit must be >= 0 or None, got {time_limit!r}")
        self._run(self._can_dispatch, 0 if self._can_dispatch() else time_limit)
        self._dispatch()

    def sleep(self, duration: float) -> None:
        """Wait ``duration`` seconds while doing I/O and running callbacks
        (use this rather than time.sleep to keep heartbeats going).

        Args:
            duration: Seconds to wait (0 or more).
        """
        if duration < 0:
            raise ValueError(f"duration must be >= 0, got {duration!r}")
        self._check_usable("sleep()")
        deadline = time.monotonic() + duration
        while True:
            remaining = deadline - time.monotonic()
            self._run(self._can_dispatch, max(remaining, 0.0))
            self._dispatch()
            if remaining <= 0 or self._impl.is_closed:
                return

    def call_later(self, delay: float, callback: Callable[[], None]) -> int:
        """Run ``callback()`` once, ``delay`` seconds from now, from a later
        `process_data_events`/`sleep`/`start_consuming`; returns an id for
        `remove_timeout`.

        Args:
            delay: Seconds from now.
            callback: Called with no arguments.

        Returns:
            An id to pass to `remove_timeout`.
        """
        validation.require_callable(callback, "callback")
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay!r}")
        self._check_usable("call_later()")
        timer_id = next(self._timer_ids)
        due = functools.partial(self._ready.append, functools.partial(self._fire_timer, timer_id))
        self._timers[timer_id] = (self._ioloop.call_later(delay, due), callback)
        return timer_id

    def remove_timeout(self, timeout_id: int) -> None:
        """Cancel a `call_later` timer; harmless once it ran.

        Args:
            timeout_id: The id `call_later` returned.
        """
        entry = self._timers.pop(timeout_id, None)
        if entry is not None and not self._loop_released:
            self._ioloop.remove_timeout(entry[0])

    def add_callback_threadsafe(self, callback: Callable[..., None]) -> None:
        """Have ``callback()`` run in the connection's thread, from its next
        `process_data_events`/`sleep`/`start_consuming`/`consume` (or the
        running one). The only method any thread may call. Raises
        ConnectionWrongStateError once the connection is closed.

        Args:
            callback: Called with no arguments on the connection's thread.
        """
        validation.require_callable(callback, "callback")
        if self._closed_error is not None or self._impl.is_closed:
            raise exceptions.ConnectionWrongStateError(
                "add_callback_threadsafe() called on a closed connection"
            )
        try:
            self._ioloop.add_callback_threadsafe(functools.partial(self._ready.append, callback))
        except RuntimeError:
            raise exceptions.ConnectionWrongStateError(
                "add_callback_threadsafe() called on a closed connection"
            ) from None

    def _notice_relay(self, callback: _OnConnectionNotice) -> Callable[[Any, frame.Method], None]:
        validation.require_callable(callback, "callback")

        def relay(_impl: Any, method_frame: frame.Method) -> None:
            self._ready.append(functools.partial(callback, self, method_frame))

        return relay

    def update_secret(self, new_secret: str, reason: str) -> None:
        """Send Connection.UpdateSecret (e.g. a refreshed OAuth 2 token) and
        wait for the broker's UpdateSecretOk.

        Args:
            new_secret: The new secret (password or token); never logged.
            reason: Why, for the broker's log.

        Raises:
            TypeError: ``new_secret`` or ``reason`` is not a str.
            ConnectionClosed: The connection closed meanwhile.
        """
        self._usable_now("update_secret()")
        reply = _Reply()
        self._impl.update_secret(new_secret, reason, callback=reply)
        self._run(lambda: reply.done, how=INTERRUPTIBLE)


def _without_private_parameters(function: Callable[..., Any]) -> inspect.Signature:
    """``function``'s signature less its ``_private`` parameters (still accepted)."""
    signature = inspect.signature(function)
    public = [p for p in signature.parameters.values() if not p.name.startswith("_")]
    return signature.replace(parameters=public)


# Pika's constructor takes a private second argument, ``_impl_class``; it stays
# accepted, but help() and the reference documentation do not show it.
BlockingConnection.__init__.__signature__ = _without_private_parameters(  # type: ignore[attr-defined]
    BlockingConnection.__init__
)
