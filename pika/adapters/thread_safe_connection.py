"""A `Connection` and `Channel` whose methods may be called from any number of threads.

Threads
    The constructor starts one daemon thread, the *I/O thread*, which runs an
    `IOLoop` with a `SelectConnection` on it. Only that thread touches the
    protocol objects. Every public method, from whatever thread, hands its
    work to the I/O thread through one `CallQueue`: a locked list of
    ``(function, args)`` pairs with at most one loop wake-up outstanding, so a
    burst of publishes or acks from many threads costs one wake-up, not one
    per call, and calls from one thread run in the order they were made.

Back-pressure
    The I/O thread leaves queued calls waiting while more than
    `WRITE_BUFFER_HIGH_WATER` bytes wait for the socket, and a thread that
    finds `MAX_PENDING_CALLS` calls already queued blocks until the I/O
    thread catches up: publishing faster than the broker reads slows the
    publishers down instead of filling memory. Callback worker threads never
    block there (the I/O thread may be waiting for them).

Synchronous methods
    Methods that wait for the broker (declares, binds, ``basic_get``,
    ``channel()``...) go through one helper, `Connection._call`: it runs the
    callback API's method on the I/O thread with a reply callback and waits
    up to ``timeout`` seconds (``None``: no limit). On expiry it raises
    `ReplyTimeout` (both a `pika.exceptions.AMQPError` and a `TimeoutError`);
    a request the I/O thread had not started by then is never sent, one
    already sent may still take effect, and its late reply is discarded.
    They return the broker's reply method frame (``Queue.DeclareOk``
    and so on) where the protocol has one. Calling one from the I/O thread
    itself (inside `Connection.add_callback_threadsafe`) raises
    `pika.exceptions.ReentrancyError`: the reply could never arrive.

User callbacks
    Consumer callbacks, ``ack_nack_callback``, ``on_publish``, return and
    cancel callbacks of a channel run on that channel's own worker thread,
    fed by a bounded queue (``work_queue_maxsize``; 0 or less is unbounded),
    in the order the broker sent what they report. A slow callback therefore
    never delays heartbeats. When the queue stays full for
    ``work_queue_put_timeout`` seconds the I/O thread gives up, as Pika does:
    it closes the whole connection (the broker requeues the unacknowledged
    messages) and logs the failure; ``on_close_callback`` receives a
    `pika.exceptions.WorkQueueFullError`, ``is_closed`` becomes True, calls
    that were waiting raise that error, and so does every later call on the
    channel whose queue was full. After a channel closes, deliveries
    still queued for manual-ack consumers are discarded (the broker delivers
    them again); auto-ack deliveries are still handed to the callback.
    While the I/O thread waits for room nothing else moves on the connection
    (heartbeats included): keep ``basic_qos`` prefetch at or below
    ``work_queue_maxsize`` so the queue cannot fill, or the put timeout below
    two heartbeat intervals. A callback that makes a synchronous call while
    the I/O thread waits for room in its own queue waits until that timeout
    settles it. An auto-ack delivery that finds no room is lost, and logged.
    Connection-level callbacks (blocked, unblocked, ``on_close_callback``) run
    on one worker thread of the connection. Exceptions raised by user
    callbacks are logged and do not stop anything.

Closing with a stuck callback
    ``close(timeout=T)`` returns within about 2*T even when a callback
    never returns: the I/O thread stops waiting for room in the callback
    queues at once (a delivery that then finds no room is not handed over;
    the broker requeues it), the close handshake gets T seconds, and the
    callback threads get T more to finish what they had queued. A thread
    still running a callback after that is abandoned: it is a daemon
    thread, so it does not keep the process alive, and the log says which
    callback it is stuck in.

``on_publish``
    ``basic_publish(..., on_publish=callback)`` calls ``callback(error)`` on
    the channel's worker thread once the fate of that message is known:
    ``error`` is ``None`` when the broker confirmed it (channels in confirm
    mode, see `Channel.confirm_delivery`) or, without confirms, once it was
    handed to the connection for sending; otherwise it is the exception that
    explains the failure: `pika.exceptions.NackError` for a Basic.Nack, or the
    channel's or connection's close reason when it closed first.

Recovery (opt-in)
    ``Connection(parameters, ..., recovery=RecoveryPolicy(...))`` turns on the
    callback layer's automatic recovery (`pika.connection_recovery`): after
    an unexpected loss the connection reconnects with the policy's backoff,
    trying every given parameters in turn (``parameters`` may then be a
    sequence, for failover between cluster nodes), reopens its channels,
    redeclares its topology and restarts its consumers, which keep running
    on the same worker threads. Without ``recovery`` nothing changes: a loss
    closes the connection. While a recovery runs:

    - ``is_open`` and ``is_closed`` are both False on the connection and its
      channels; the connection's ``is_recovering`` is True.
    - Synchronous calls that were waiting for a reply when the connection
      broke raise `pika.exceptions.ConnectionInterrupted` (also importable
      from this module) at once (its ``error`` is the loss:
      `pika.exceptions.StreamLostError`, a 320 ConnectionClosedByBroker,
      AMQPHeartbeatTimeout...). Their request may or may not have taken
      effect; a ``basic_consume`` interrupted so may still be restarted by
      the recovery, since its consumer was recorded when it was sent. A
      ``channel()`` waiting for its channel fails the same way and that
      channel is discarded.
    - Every call made from another thread (synchronous or not: publishes,
      acks, ``channel()``, ``add_callback_threadsafe``...) waits in the call
      queue and runs, in order, once the recovery has succeeded. A
      synchronous call waits within its ``timeout`` and raises `ReplyTimeout`
      past it (the request is then never sent). ``basic_publish`` returns at
      once as always; once `MAX_PENDING_CALLS` calls wait, publishing threads
      block in it until the recovery ends: the same back-pressure as a slow
      socket. Nothing is dropped: held publishes go out after the recovery,
      and their ``on_publish`` gets their real confirm.
    - If the recovery fails for good (``max_attempts``, refused login...),
      every waiting call raises the final error (also passed to
      ``on_close_callback``), and held publishes report it to ``on_publish``.
    - ``close()`` stops the recovery and closes; ``abort()`` too.

    Publishes that were not confirmed when the connection broke get a
    `pika.exceptions.NackError` in ``on_publish`` (and a Basic.Nack in
    ``ack_nack_callback``), or with ``republish_unconfirmed=True`` they are
    published again after the recovery and report their real confirm.
    Deliveries from before the loss are requeued by the broker: those still
    waiting in a manual-ack consumer's work queue are discarded, and acks,
    nacks and rejects of their tags are dropped, never sent
    (`Channel.is_stale_delivery_tag`, `Channel.stale_tags_dropped`).
    ``add_on_recovery_started_callback``, ``..._succeeded_...``,
    ``..._failed_...`` and ``add_on_queue_renamed_callback`` report the
    recovery on the connection's worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Callable, Literal, Optional

from pika import channel as channel_mod
from pika import exceptions, frame, validation
from pika.adapters import thread_safe_calls
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.thread_safe_calls import (
    DEFAULT_RPC_TIMEOUT,
    DEFAULT_WORK_QUEUE_MAXSIZE,
    DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
    MAX_PENDING_CALLS,
    WRITE_BUFFER_HIGH_WATER,
    WRITE_BUFFER_RECHECK,
    CallQueue,
    CallResult,
    ReplyTimeout,
)
from pika.adapters.thread_safe_channel import Channel
from pika.adapters.utils.callback_worker import CallbackWorker, CallbackWorkerGroup
from pika.adapters.utils.callback_worker import run_callback as _run_callback
from pika.callback_registrations import ThreadSafeConnectionRegistrations
from pika.exceptions import ConnectionInterrupted
from pika.parameters import Parameters
from pika.recovery import RecoveryPolicy

__all__ = ["Channel", "Connection", "ConnectionInterrupted"]
# The limits' defaults, the calls' plumbing and ReplyTimeout, as the calls module lists them.
__all__ += thread_safe_calls.__all__

LOGGER = logging.getLogger(__name__)


class Connection(ThreadSafeConnectionRegistrations):
    """An AMQP connection usable from any number of threads at once.

    The constructor connects and returns once the connection is open; it
    raises the failure (a `pika.exceptions.AMQPConnectionError`) otherwise,
    or `pika.exceptions.ConnectionOpenAborted` when it is not open within
    ``timeout`` seconds. ``parameters`` may be a sequence: they are tried in
    turn until one opens, and the last failure is raised.
    ``on_open_error_callback(connection, error)`` is called (in the
    constructing thread) just before that failure is raised;
    ``on_close_callback(connection, error)`` once an open connection closes.
    ``work_queue_maxsize`` and ``work_queue_put_timeout`` apply to the
    callback queue of every channel. ``recovery`` turns on automatic
    recovery with that policy, across all the ``parameters`` (see the
    module's documentation).

    Args:
        parameters: One `pika.connection.Parameters` object, or a sequence tried in turn; None for
            the defaults.
        on_open_error_callback: Called as ``on_open_error_callback(connection, error)`` in the
            constructing thread before the failure to open is raised.
        on_close_callback: Called as ``on_close_callback(connection, error)`` on the connection's
            worker thread once an open connection closes.
        timeout: Seconds to wait for the connection to open; None for no limit.
        work_queue_maxsize: Size of each channel's callback queue; 0 or less for unbounded.
        work_queue_put_timeout: Seconds the I/O thread waits for room in a full callback queue
            before it closes that channel.
        recovery: A `pika.recovery.RecoveryPolicy` to turn automatic recovery on; None leaves it
            off.

    Raises:
        AMQPConnectionError: The connection could not be opened (the subclass says why).
        ConnectionOpenAborted: It was not open within ``timeout``.
        TypeError: A callback is not callable, or an argument has the wrong type.
    """

    #: The callback-API connection class run on the I/O thread (a subclass
    #: may bring its own I/O services through `SelectConnection._loop_services`).
    _impl_class: type[SelectConnection] = SelectConnection

    def __init__(
        self,
        parameters: Parameters | Sequence[Parameters] | None,
        on_open_error_callback: Optional[Callable[[Connection, BaseException], Any]] = None,
        on_close_callback: Optional[Callable[[Connection, BaseException], Any]] = None,
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
        work_queue_maxsize: int = DEFAULT_WORK_QUEUE_MAXSIZE,
        work_queue_put_timeout: float = DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
        *,
        recovery: Optional[RecoveryPolicy] = None,
    ) -> None:
        candidates = validation.parameters_list(parameters)
        for name, callback in (
            ("on_open_error_callback", on_open_error_callback),
            ("on_close_callback", on_close_callback),
        ):
            if callback is not None:
                validation.require_callable(callback, name)
        validation.require_timeout(timeout)
        if isinstance(work_queue_maxsize, bool) or not isinstance(work_queue_maxsize, int):
            raise TypeError("work_queue_maxsize must be an int")
        validation.require_timeout(work_queue_put_timeout, "work_queue_put_timeout")
        if recovery is not None and not isinstance(recovery, RecoveryPolicy):
            raise TypeError(
                f"recovery must be a pika.recovery.RecoveryPolicy or None, "
                f"got {type(recovery).__name__}"
            )
        self._candidates = candidates
        self._params = candidates[0]
        self._recovery_policy = recovery
        self._on_close_callback = on_close_callback
        self._work_queue_maxsize = work_queue_maxsize
        self._work_queue_put_timeout = work_queue_put_timeout
        self._blocked_callbacks: list[Callable[..., Any]] = []
        self._unblocked_callbacks: list[Callable[..., Any]] = []
        self._recovery_started: list[Callable[..., Any]] = []
        self._recovery_succeeded: list[Callable[..., Any]] = []
        self._recovery_failed: list[Callable[..., Any]] = []
        self._queue_renamed: list[Callable[..., Any]] = []
        self._impl: Optional[SelectConnection] = None
        self._attempt = 0
        self._close_reason: Optional[BaseException] = None
        self._close_requested = False
        # Set (I/O thread) when a channel's work queue stayed full: the reason
        # the connection was closed, as on_close_callback receives it.
        self._failure: Optional[exceptions.WorkQueueFullError] = None
        self._workers = CallbackWorkerGroup()
        # The channels handed out or being opened (touched on the I/O thread only).
        self._channels: set[Channel] = set()
        self._ioloop = IOLoop()
        self._calls = CallQueue(self._wake_loop, MAX_PENDING_CALLS)
        self._events = self._workers.add(
            CallbackWorker("pika-connection-callbacks", 0, None, self._calls.exempt)
        )
        self._opened = CallResult()
        self._finished = threading.Event()
        first = candidates[0]
        self._thread = threading.Thread(
            target=self._run_loop, name=f"pika-io-{first.host}:{first.port}", daemon=True
        )
        self._thread.start()
        try:
            self._opened.wait(timeout, "opening the connection")
        except ReplyTimeout:
            self.abort(timeout)
            error: BaseException = exceptions.ConnectionOpenAborted(
                f"the connection did not open within {timeout:g} s",
                host=self._params.host,
                port=self._params.port,
            )
        except BaseException as failure:
            self._finished.wait(timeout)
            error = failure
        else:
            return
        if on_open_error_callback is not None:
            _run_callback(on_open_error_callback, (self, error))
        raise error

    def __repr__(self) -> str:
        if self.is_recovering:
            state = "recovering"
        else:
            state = "open" if self.is_open else "closed" if self.is_closed else "not open"
        impl = self._impl
        params = impl.params if impl is not None else self._params
        return f"<{type(self).__name__} {state} {params.host}:{params.port}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> Literal[False]:
        self.close()
        return False

    # ------------------------------------------------------------ I/O thread

    def _run_loop(self) -> None:
        self._calls.exempt.add(threading.get_ident())
        try:
            self._connect(0)
            while True:
                try:
                    self._ioloop.start()
                except Exception:
                    LOGGER.exception("unexpected error on the I/O thread of %r", self)
                    impl = self._impl
                    if impl is not None and not impl.is_closed:
                        continue
                break
        except Exception as error:
            self._close_reason = error
            self._opened.fail(error)
        finally:
            self._calls.close(self._close_reason)
            self._ioloop.close()
            self._events.close()
            self._finished.set()

    def _connect(self, index: int) -> None:
        """Start opening a callback-API connection with parameters number ``index``."""
        self._attempt = index
        impl = self._impl_class(
            self._candidates[index],
            on_open_callback=self._on_opened,
            on_open_error_callback=self._on_open_failed,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )
        self._impl = impl
        if self._recovery_policy is not None:
            impl.enable_recovery(self._recovery_policy, self._candidates)
            impl.add_on_recovery_started_callback(self._on_recovery_started)
            impl.add_on_recovery_succeeded_callback(self._on_recovery_succeeded)
            impl.add_on_recovery_failed_callback(self._on_recovery_failed)
            impl.add_on_queue_renamed_callback(self._on_queue_renamed)

    def _on_opened(self, impl: Any) -> None:
        impl.add_on_connection_blocked_callback(self._on_blocked)
        impl.add_on_connection_unblocked_callback(self._on_unblocked)
        if not self._opened.resolve(None):
            impl.close()  # the constructor gave up waiting

    def _on_open_failed(self, impl: Any, error: BaseException) -> None:
        following = self._attempt + 1
        if impl is self._impl and following < len(self._candidates) and not self._opened.abandoned:
            params = self._candidates[following]
            LOGGER.info("opening failed (%r); trying %s:%s", error, params.host, params.port)
            try:
                self._connect(following)
            except Exception as failure:
                error = failure
            else:
                return
        self._close_reason = error
        self._opened.fail(error)
        self._ioloop.stop()

    def _on_closed(self, _impl: Any, error: BaseException) -> None:
        if self._failure is not None:
            error = self._failure
        self._close_reason = error
        if self._on_close_callback is not None:
            self._events.put(self._on_close_callback, (self, error))
        self._ioloop.stop()

    def _on_blocked(self, _impl: Any, method_frame: frame.Method) -> None:
        for callback in list(self._blocked_callbacks):
            self._events.put(callback, (self, method_frame))

    def _on_unblocked(self, _impl: Any, method_frame: frame.Method) -> None:
        for callback in list(self._unblocked_callbacks):
            self._events.put(callback, (self, method_frame))

    def _on_recovery_started(self, impl: Any, error: BaseException) -> None:
        """The connection broke and recovery begins: fail what waited for a reply."""
        interrupted = ConnectionInterrupted(error)
        for channel in list(self._channels):
            channel._connection_interrupted(interrupted)
        if self._close_requested:
            # close() was called but its turn in the call queue has not come:
            # the queue is held now, so stop the recovery from here.
            self._ioloop.add_callback(self._stop_recovery)
        for callback in list(self._recovery_started):
            self._events.put(callback, (self, error))

    def _on_recovery_succeeded(self, _impl: Any) -> None:
        self._drain_calls()
        for callback in list(self._recovery_succeeded):
            self._events.put(callback, (self,))

    def _on_recovery_failed(self, _impl: Any, error: BaseException) -> None:
        # The connection closes next: _on_closed ends the loop, and the calls
        # still held fail with this error.
        for callback in list(self._recovery_failed):
            self._events.put(callback, (self, error))

    def _on_queue_renamed(self, _impl: Any, old: str, new: str) -> None:
        for callback in list(self._queue_renamed):
            self._events.put(callback, (self, old, new))

    def _wake_loop(self) -> None:
        self._ioloop.add_callback_threadsafe(self._drain_calls)

    def _drain_calls(self) -> None:
        """Run the calls other threads queued, unless the socket is not
        keeping up or the connection is being recovered.

        While more than `WRITE_BUFFER_HIGH_WATER` bytes wait for the socket
        the calls stay queued (and `MAX_PENDING_CALLS` then blocks the
        threads that add more), so publishing faster than the broker reads
        holds the publishers back instead of filling memory. During a
        recovery they stay queued the same way, until `_on_recovery_succeeded`
        runs them or the connection's end fails them.
        """
        impl = self._impl
        if impl is None or impl.is_closed:
            self._calls.run()
            return
        if impl.is_recovering:
            return
        if impl._adapter_get_write_buffer_size() > WRITE_BUFFER_HIGH_WATER:
            self._ioloop.call_later(WRITE_BUFFER_RECHECK, self._drain_calls)
            return
        self._calls.run()

    def _start_operation(self, operation: Callable[[CallResult], Any], reply: CallResult) -> None:
        """Run ``operation(reply)`` (I/O thread); what it raises goes to ``reply``.

        Not run if the caller has stopped waiting; once the connection is
        over, ``reply`` gets the connection's final error instead.
        """
        if reply.abandoned:
            return
        impl = self._impl
        if impl is None or impl.is_closed:
            reply.fail(self._final_error())
            return
        try:
            operation(reply)
        except Exception as error:
            reply.fail(error)

    def _final_error(self) -> BaseException:
        reason = self._close_reason
        if isinstance(reason, Exception):
            return reason
        return exceptions.ConnectionWrongStateError("the connection is closed")

    def _close_on_loop(self) -> None:
        impl = self._impl
        if impl is not None and impl.is_open:
            impl.close()

    def _close_for(self, failure: exceptions.WorkQueueFullError) -> None:
        """Close the connection because of ``failure`` (I/O thread): what is
        waiting, and ``on_close_callback``, get ``failure``."""
        if self._failure is None:
            self._failure = failure
        self._workers.stop_waiting()
        impl = self._impl
        if impl is not None and impl.is_open:
            impl.close(200, "client work queue full")
        else:
            self._abort_on_loop()

    def _stop_recovery(self) -> None:
        """Close a connection that is being recovered (which stops the recovery)."""
        impl = self._impl
        if impl is not None and impl.is_recovering and not (impl.is_closing or impl.is_closed):
            impl.close()

    def _abort_on_loop(self) -> None:
        impl = self._impl
        if impl is None or impl.is_closed:
            return
        text = "connection aborted by the application"
        if impl.is_recovering and impl._engine.state.is_closed and not impl.is_closing:
            # Waiting to retry: there is no stream to drop, and the callback
            # API's close() stops the recovery.
            impl.close(200, text)
            return
        # Marked as the application's doing, so this loss starts no recovery
        # (and ends one that was connecting or restoring).
        impl._closing_by_user = True
        impl._terminate(exceptions.ConnectionClosedByClient(200, text))

    # ---------------------------------------------------- marshalling helper

    def _on_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def _call(
        self, what: str, timeout: Optional[float], operation: Callable[[CallResult], Any]
    ) -> Any:
        """Run ``operation(reply)`` on the I/O thread and wait for ``reply``.

        ``operation`` starts the work and arranges for ``reply.resolve(value)``
        or ``reply.fail(error)``; what it raises fails the reply. Returns the
        value, raises the error, or `ReplyTimeout` after ``timeout`` seconds
        (time spent waiting for room in the call queue included).
        """
        validation.require_timeout(timeout)
        if self._on_loop_thread():
            raise exceptions.ReentrancyError(
                f"{what} waits for the I/O thread, so it cannot be called from it"
            )
        reply = CallResult()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._calls.submit(self._start_operation, (operation, reply), deadline)
        except ReplyTimeout:
            raise ReplyTimeout(f"{what}: no reply within {timeout:g} s") from None
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return reply.wait(remaining, what)
        except ReplyTimeout:
            raise ReplyTimeout(f"{what}: no reply within {timeout:g} s") from None

    # ------------------------------------------------------------ public API

    @property
    def is_open(self) -> bool:
        """True while the connection is open; False once closing has begun,
        and while it is being recovered."""
        impl = self._impl
        return impl is not None and impl.is_open and not impl.is_recovering

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed for good (not while recovering)."""
        impl = self._impl
        return self._finished.is_set() or (impl is not None and impl.is_closed)

    @property
    def is_recovering(self) -> bool:
        """True while an automatic recovery is under way."""
        impl = self._impl
        return impl is not None and impl.is_recovering

    def channel(self, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT) -> Channel:
        """Open a new channel; raises `ReplyTimeout` if it is not open within ``timeout`` s.

        Args:
            timeout: Seconds to wait; None for no limit.

        Returns:
            The open `Channel`.

        Raises:
            ConnectionWrongStateError: The connection is closed.
            TimeoutError: It did not open within ``timeout`` (``ReplyTimeout``).
        """
        channel: Channel = self._call("channel()", timeout, self._open_channel)
        return channel

    def _open_channel(self, reply: CallResult) -> None:
        impl = self._impl
        if impl is None:
            raise exceptions.ConnectionWrongStateError("the connection is not open")

        def on_open(_impl_channel: channel_mod.Channel) -> None:
            wrapper._pending.discard(reply)
            if reply.resolve(wrapper):
                wrapper._delivered = True
            else:
                wrapper._impl.close()  # channel() timed out: nobody will use it

        impl_channel = impl.channel(on_open_callback=on_open)
        wrapper = Channel(
            impl_channel, self, self._work_queue_maxsize, self._work_queue_put_timeout
        )
        wrapper._pending.add(reply)

    def close(self, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT) -> None:
        """Close the connection (Connection.Close handshake) and wait until it is closed.

        Safe from several threads at once: they all wait for the same close.
        Returns at once on a closed connection. If the close does not finish
        within ``timeout`` seconds the socket is dropped instead (see
        `abort`) and `ReplyTimeout` is raised. Once closed, it waits up to
        ``timeout`` seconds more for the callback threads to finish the
        callbacks they had queued (not for the calling thread's own), then
        abandons those still running, with a warning in the log (see the
        module's documentation). From the I/O thread (inside an
        `add_callback_threadsafe` callback) it only starts the close. During
        a recovery it stops the recovery; the calls it held then fail with
        ConnectionClosedByClient.

        Args:
            timeout: Seconds to wait; None for no limit.
        """
        validation.require_timeout(timeout)
        if self._finished.is_set():
            return
        self._close_requested = True
        # The I/O thread must not wait for room in a callback queue any more.
        self._workers.stop_waiting()
        try:
            self._calls.submit(self._close_on_loop, ())
        except exceptions.ConnectionWrongStateError:
            pass  # the I/O thread is already finishing
        if self._recovery_policy is not None:
            # The call queue is held during a recovery: reach the loop directly.
            try:
                self._ioloop.add_callback_threadsafe(self._stop_recovery)
            except RuntimeError:
                pass  # the I/O thread has finished and closed its loop
        if self._on_loop_thread():
            return
        if not self._finished.wait(timeout):
            self.abort(0)
            raise ReplyTimeout(
                f"close(): the connection did not close within {timeout:g} s; "
                f"its socket is being dropped"
            )
        self._workers.join(timeout)

    def abort(self, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT) -> None:
        """Drop the connection at once, without the close handshake; never raises.

        Waits up to ``timeout`` seconds for the I/O thread to finish (not
        from the I/O thread itself). Harmless on a closed connection. Stops
        a recovery as well.

        Args:
            timeout: Seconds to wait; None for no limit.
        """
        validation.require_timeout(timeout)
        self._workers.stop_waiting()
        try:
            # Not through the call queue: an abort must not wait behind it.
            self._ioloop.add_callback_threadsafe(self._abort_on_loop)
        except RuntimeError:
            pass  # the I/O thread has finished and closed its loop
        if not self._on_loop_thread():
            self._finished.wait(timeout)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the I/O thread, after the calls already made.

        It must be short and must not call synchronous methods (they would
        raise ReentrancyError). Raises ConnectionWrongStateError once the
        connection is closed. During a recovery it runs once the recovery
        has succeeded.

        Args:
            callback: Called with no arguments on the I/O thread.
        """
        validation.require_callable(callback, "callback")
        self._calls.submit(_run_callback, (callback, ()))

    # -------------------------------------------------------------- recovery

    def _recovery_list(self, callbacks: list[Callable[..., Any]]) -> list[Callable[..., Any]]:
        """``callbacks``, a list of recovery callbacks, once recovery is known to be enabled."""
        if self._recovery_policy is None:
            raise exceptions.ConnectionWrongStateError(
                "recovery is not enabled: pass recovery=RecoveryPolicy(...) to Connection"
            )
        return callbacks
