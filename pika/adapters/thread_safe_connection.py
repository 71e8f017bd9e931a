"""A `Connection` and `Channel` whose methods may be called from any number of threads.

Threads
    The constructor starts one daemon thread, the *I/O thread*, which runs an
    `IOLoop` with a `SelectConnection` on it. Only that thread touches the
    protocol objects. Every public method, from whatever thread, hands its
    work to the I/O thread through one `_CallQueue`: a locked list of
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

import collections
import logging
import queue
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Callable, Literal, NamedTuple, Optional

from pika import channel as channel_mod
from pika import exceptions, frame, spec, validation
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.thread_safe_defaults import (
    DEFAULT_RPC_TIMEOUT,
    DEFAULT_WORK_QUEUE_MAXSIZE,
    DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
)
from pika.adapters.thread_safe_operations import ThreadSafeOperations
from pika.adapters.utils.callback_worker import CallbackWorker, CallbackWorkerGroup
from pika.adapters.utils.callback_worker import run_callback as _run_callback
from pika.confirms import ConfirmTracker
from pika.exceptions import ConnectionInterrupted
from pika.parameters import Parameters
from pika.recovery import RecoveryPolicy

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "DEFAULT_WORK_QUEUE_MAXSIZE",
    "DEFAULT_WORK_QUEUE_PUT_TIMEOUT",
    "MAX_PENDING_CALLS",
    "WRITE_BUFFER_HIGH_WATER",
    "Channel",
    "Connection",
    "ConnectionInterrupted",
    "ReplyTimeout",
]

LOGGER = logging.getLogger(__name__)

MAX_PENDING_CALLS = 10_000
"""Calls waiting for the I/O thread beyond which other threads block until it catches up."""

WRITE_BUFFER_HIGH_WATER = 4 * 1024 * 1024
"""Bytes waiting for the socket beyond which queued calls are held back."""

_WRITE_BUFFER_RECHECK = 0.005
"""Seconds between looks at the socket's backlog while calls are held back."""

_Function = Callable[..., Any]
_Call = tuple[_Function, tuple[Any, ...]]


class ReplyTimeout(exceptions.AMQPError, TimeoutError):
    """A synchronous call got no answer within its ``timeout``.

    The request may still have reached the broker and take effect later.
    """




# ----------------------------------------------------------------- plumbing

_PENDING, _DONE, _ABANDONED = 0, 1, 2


class _Reply:
    """The one-shot answer a waiting thread expects from the I/O thread."""

    __slots__ = ("_done", "_error", "_lock", "_state", "_value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._state = _PENDING
        self._value: Any = None
        self._error: Optional[BaseException] = None

    def resolve(self, value: Any = None) -> bool:
        """Deliver ``value``; False if already settled or nobody waits any more."""
        return self._settle(value, None)

    def fail(self, error: BaseException) -> bool:
        """Deliver ``error``, to be raised in the waiting thread."""
        return self._settle(None, error)

    def _settle(self, value: Any, error: Optional[BaseException]) -> bool:
        with self._lock:
            if self._state != _PENDING:
                return False
            self._state = _DONE
            self._value = value
            self._error = error
        self._done.set()
        return True

    @property
    def abandoned(self) -> bool:
        """True once the waiting thread has given up (its timeout expired)."""
        return self._state == _ABANDONED

    def wait(self, timeout: Optional[float], what: str) -> Any:
        """The value, or raise the error; `ReplyTimeout` after ``timeout`` s."""
        if not self._done.wait(timeout):
            with self._lock:
                if self._state == _PENDING:
                    self._state = _ABANDONED
                    raise ReplyTimeout(f"{what}: no reply within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self._value


class _CallQueue:
    """Calls for the I/O thread, run there in the order they were submitted.

    At most one wake-up (``wake()``, which must lead to `run` on the I/O
    thread) is outstanding: the thread that makes the list non-empty calls
    it, under the lock, so calls submitted later by any thread cannot
    overtake the ones already listed.
    """

    def __init__(self, wake: Callable[[], None], limit: int) -> None:
        self._wake = wake
        self._limit = limit
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._items: list[_Call] = []
        self._scheduled = False
        self._closed_reason: Optional[BaseException] = None
        self._closed = False
        # Threads that never wait for room: the I/O thread (it makes the
        # room) and the callback workers (the I/O thread may be waiting for
        # them to take a delivery).
        self.exempt: set[int] = set()

    def submit(
        self, function: _Function, args: tuple[Any, ...], deadline: Optional[float] = None
    ) -> None:
        """Queue ``function(*args)``; ConnectionWrongStateError once closed.

        A thread that finds the queue full waits for room, until the
        ``deadline`` (`time.monotonic` value; None: no limit), then raises
        `ReplyTimeout`. If the connection ends while it waits, it raises the
        connection's final error.
        """
        with self._lock:
            waited = False
            if len(self._items) >= self._limit and threading.get_ident() not in self.exempt:
                waited = True
                while len(self._items) >= self._limit and not self._closed:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise ReplyTimeout("no room in the call queue before the timeout")
                    self._drained.wait(remaining)
            if self._closed:
                reason = self._closed_reason
                if waited and isinstance(reason, Exception):
                    raise reason
                raise exceptions.ConnectionWrongStateError(f"the connection is closed: {reason!r}")
            self._items.append((function, args))
            if not self._scheduled:
                self._scheduled = True
                self._wake()

    def run(self) -> None:
        """Run every queued call (on the I/O thread)."""
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
            self._drained.notify_all()
        self._run_all(items)

    def close(self, reason: Optional[BaseException]) -> None:
        """Refuse new calls and run the queued ones (which then fail as the connection is gone)."""
        with self._lock:
            self._closed = True
            self._closed_reason = reason
            items, self._items = self._items, []
            self._drained.notify_all()
        self._run_all(items)

    @staticmethod
    def _run_all(items: list[_Call]) -> None:
        failures = 0
        first: Optional[Exception] = None
        for function, args in items:
            try:
                function(*args)
            except Exception as error:
                failures += 1
                if first is None:
                    first = error
        if first is not None:
            LOGGER.warning(
                "%d call(s) made from other threads failed on the I/O thread; first: %r",
                failures,
                first,
            )


class _NackedMessage(NamedTuple):
    """A published message the broker refused (Basic.Nack), as `NackError` carries it."""

    method: frame.Method
    properties: Optional[spec.BasicProperties]
    body: bytes


# --------------------------------------------------------------- connection


class Connection:
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
        self._calls = _CallQueue(self._wake_loop, MAX_PENDING_CALLS)
        self._events = self._workers.add(
            CallbackWorker("pika-connection-callbacks", 0, None, self._calls.exempt)
        )
        self._opened = _Reply()
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
            self._ioloop.call_later(_WRITE_BUFFER_RECHECK, self._drain_calls)
            return
        self._calls.run()

    def _start_operation(self, operation: Callable[[_Reply], Any], reply: _Reply) -> None:
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

    def _call(self, what: str, timeout: Optional[float], operation: Callable[[_Reply], Any]) -> Any:
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
        reply = _Reply()
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
        """True while the connection is open: False once closing has begun,
        and while it is being recovered."""
        impl = self._impl
        return impl is not None and impl.is_open and not impl.is_recovering

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed (for good: not while recovering)."""
        impl = self._impl
        return self._finished.is_set() or (impl is not None and impl.is_closed)

    @property
    def is_recovering(self) -> bool:
        """True while an automatic recovery is under way."""
        impl = self._impl
        return impl is not None and impl.is_recovering

    def channel(self, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT) -> Channel:
        """Open a new channel; raises `ReplyTimeout` if it is not open within ``timeout`` s."""
        channel: Channel = self._call("channel()", timeout, self._open_channel)
        return channel

    def _open_channel(self, reply: _Reply) -> None:
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
        """
        validation.require_callable(callback, "callback")
        self._calls.submit(_run_callback, (callback, ()))

    def add_on_connection_blocked_callback(
        self, callback: Callable[[Connection, frame.Method], Any]
    ) -> None:
        """``callback(connection, method_frame)`` when the broker sends Connection.Blocked."""
        validation.require_callable(callback, "callback")
        self._blocked_callbacks.append(callback)

    def add_on_connection_unblocked_callback(
        self, callback: Callable[[Connection, frame.Method], Any]
    ) -> None:
        """``callback(connection, method_frame)`` when the broker sends Connection.Unblocked."""
        validation.require_callable(callback, "callback")
        self._unblocked_callbacks.append(callback)

    # -------------------------------------------------------------- recovery

    def _recovery_callbacks(self, callbacks: list[Callable[..., Any]], callback: Any) -> None:
        validation.require_callable(callback, "callback")
        if self._recovery_policy is None:
            raise exceptions.ConnectionWrongStateError(
                "recovery is not enabled: pass recovery=RecoveryPolicy(...) to Connection"
            )
        callbacks.append(callback)

    def add_on_recovery_started_callback(
        self, callback: Callable[[Connection, BaseException], Any]
    ) -> None:
        """``callback(connection, error)`` on the connection's worker thread
        when a recovery begins, ``error`` being the loss."""
        self._recovery_callbacks(self._recovery_started, callback)

    def add_on_recovery_succeeded_callback(self, callback: Callable[[Connection], Any]) -> None:
        """``callback(connection)`` on the connection's worker thread once the
        channels, topology and consumers are back."""
        self._recovery_callbacks(self._recovery_succeeded, callback)

    def add_on_recovery_failed_callback(
        self, callback: Callable[[Connection, BaseException], Any]
    ) -> None:
        """``callback(connection, error)`` on the connection's worker thread
        when recovery gives up (``on_close_callback`` follows)."""
        self._recovery_callbacks(self._recovery_failed, callback)

    def add_on_queue_renamed_callback(
        self, callback: Callable[[Connection, str, str], Any]
    ) -> None:
        """``callback(connection, old_name, new_name)`` on the connection's
        worker thread when a server-named queue is redeclared under a new name."""
        self._recovery_callbacks(self._queue_renamed, callback)


# ------------------------------------------------------------------ channel


class Channel(ThreadSafeOperations):
    """A channel usable from any number of threads; made by `Connection.channel`.

    The constructor wraps a callback-API channel and must run on the I/O
    thread. Synchronous methods wait up to ``timeout`` seconds for the
    broker's reply and return its method frame; the fire-and-forget ones
    (``basic_publish``, ``basic_ack``, ``basic_nack``, ``basic_reject``)
    return once the work is queued for the I/O thread.
    """

    def __init__(
        self,
        channel: channel_mod.Channel,
        wrapper: Connection,
        work_queue_maxsize: int = DEFAULT_WORK_QUEUE_MAXSIZE,
        work_queue_put_timeout: float = DEFAULT_WORK_QUEUE_PUT_TIMEOUT,
    ) -> None:
        self._impl = channel
        self._connection = wrapper
        self._worker = wrapper._workers.add(
            CallbackWorker(
                f"pika-channel-{channel.channel_number}",
                work_queue_maxsize,
                work_queue_put_timeout,
                wrapper._calls.exempt,
            )
        )
        self._work_queue_maxsize = work_queue_maxsize
        self._work_queue_put_timeout = work_queue_put_timeout
        # Touched on the I/O thread only:
        self._pending: set[_Reply] = set()
        self._closing: list[_Reply] = []
        self._gets: collections.deque[Callable[[Any], None]] = collections.deque()
        self._confirming = False
        self._ack_nack_callback: Optional[Callable[[frame.Method], Any]] = None
        self._unconfirmed: ConfirmTracker[tuple[_Function, Any, Any]] = ConfirmTracker()
        # Whether channel() returned this channel to its caller.
        self._delivered = False
        self._closed_by: Optional[BaseException] = None
        # Read from any thread:
        self._failure: Optional[exceptions.WorkQueueFullError] = None
        self._return_callbacks: list[_Function] = []
        self._cancel_callbacks: list[_Function] = []
        self._too_large_callbacks: list[_Function] = []
        channel.add_on_close_callback(self._on_closed)
        channel.add_on_return_callback(self._on_return)
        channel.add_on_cancel_callback(self._on_cancel)
        channel.add_on_message_too_large_callback(self._on_too_large)
        channel.add_callback(self._on_get_empty, [spec.Basic.GetEmpty], one_shot=False)
        wrapper._channels.add(self)

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed" if self.is_closed else "closing"
        return f"<{type(self).__name__} number={self.channel_number} {state}>"

    # ----------------------------------------------------------------- state

    @property
    def channel_number(self) -> int:
        return self._impl.channel_number

    @property
    def is_open(self) -> bool:
        """True while the channel is open (False while the connection is being recovered)."""
        return self._impl.is_open and not self._connection.is_recovering

    @property
    def is_closed(self) -> bool:
        return self._impl.is_closed

    @property
    def stale_tags_dropped(self) -> int:
        """How many acks, nacks and rejects were dropped because their
        delivery tag came from before a connection recovery."""
        return self._impl.stale_tags_dropped

    def is_stale_delivery_tag(self, delivery_tag: int) -> bool:
        """Whether ``delivery_tag`` came from before the last connection
        recovery: the broker has requeued that delivery, and an ack, nack
        or reject of it is dropped (and counted), not sent."""
        return self._impl.is_stale_delivery_tag(delivery_tag)

    @property
    def next_publish_seq_no(self) -> int:
        """The delivery tag the broker will confirm this thread's next publish with
        (exact when no other thread publishes on the channel meanwhile)."""
        if self._connection._on_loop_thread():
            return self._impl.next_publish_seq_no
        number: int = self._connection._call(
            "next_publish_seq_no",
            DEFAULT_RPC_TIMEOUT,
            lambda reply: reply.resolve(self._impl.next_publish_seq_no),
        )
        return number

    def _check_usable(self) -> None:
        """Fail fast in the calling thread on a channel that cannot be used."""
        failure = self._failure
        if failure is not None:
            raise exceptions.WorkQueueFullError(str(failure))
        impl = self._impl
        if not impl.is_open and not (impl.is_opening and self._connection.is_recovering):
            raise exceptions.ChannelWrongStateError(
                f"channel {self._impl.channel_number} is not open"
            )

    # ---------------------------------------------- synchronous request path

    def _rpc(self, what: str, timeout: Optional[float], method: _Function, *args: Any) -> Any:
        """Call ``method(*args, callback=...)`` on the I/O thread and wait for the callback.

        The one generic path of every synchronous channel method: the reply
        is failed with the close reason if the channel closes first.
        """
        validation.require_timeout(timeout)
        self._check_usable()

        def operation(reply: _Reply) -> None:
            def on_reply(result: Any) -> None:
                self._pending.discard(reply)
                reply.resolve(result)

            self._pending.add(reply)
            try:
                method(*args, callback=on_reply)
            except BaseException:
                self._pending.discard(reply)
                raise

        return self._connection._call(
            f"{what} on channel {self._impl.channel_number}", timeout, operation
        )

    def _submit(self, function: _Function, *args: Any) -> None:
        """Queue a fire-and-forget call for the I/O thread."""
        self._check_usable()
        self._connection._calls.submit(function, args)

    # ------------------------------------------------------------- publishing

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: Optional[spec.BasicProperties] = None,
        mandatory: bool = False,
        on_publish: Optional[Callable[[Optional[BaseException]], Any]] = None,
    ) -> None:
        """Publish a message (a str body is sent as UTF-8) without waiting.

        ``on_publish(error)``, if given, reports the message's fate on the
        channel's worker thread: see the module's documentation.
        """
        data = validation.message_body(body)
        validation.require_properties(properties)
        validation.require_callable(on_publish, "on_publish", optional=True)
        self._submit(
            self._publish_on_loop, exchange, routing_key, data, properties, mandatory, on_publish
        )

    def _publish_on_loop(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Optional[spec.BasicProperties],
        mandatory: bool,
        on_publish: Optional[_Function],
    ) -> None:
        if on_publish is None:
            self._impl.basic_publish(exchange, routing_key, body, properties, mandatory)
            return
        try:
            self._impl.basic_publish(exchange, routing_key, body, properties, mandatory)
        except Exception as error:
            closed_by = self._closed_by if self._impl.is_closed else None
            self._hand_over(on_publish, (error if closed_by is None else closed_by,))
            return
        if self._confirming:
            tag = self._impl.next_publish_seq_no - 1
            self._unconfirmed.add(tag, (on_publish, properties, body))
        else:
            self._hand_over(on_publish, (None,))

    def confirm_delivery(
        self,
        ack_nack_callback: Callable[[frame.Method], Any],
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> frame.Method:
        """Turn on publisher confirms; ``ack_nack_callback(method_frame)`` gets
        every Basic.Ack and Basic.Nack, on the channel's worker thread."""
        validation.require_callable(ack_nack_callback, "ack_nack_callback")
        return self._rpc("confirm_delivery", timeout, self._confirm_on_loop, ack_nack_callback)

    def _confirm_on_loop(
        self, ack_nack_callback: Callable[[frame.Method], Any], callback: _Function
    ) -> None:
        self._impl.confirm_delivery(self._on_confirmation, callback)
        self._ack_nack_callback = ack_nack_callback
        self._confirming = True

    def _on_confirmation(self, method_frame: frame.Method) -> None:
        method = method_frame.method
        if self._unconfirmed:
            nack = method_frame if isinstance(method, spec.Basic.Nack) else None
            settled = self._unconfirmed.settle(method.delivery_tag, bool(method.multiple))
            for _number, entry in settled:
                self._report_publish(entry, nack)
        if self._ack_nack_callback is not None:
            self._hand_over(self._ack_nack_callback, (method_frame,))

    def _report_publish(
        self, entry: tuple[_Function, Any, Any], nack: Optional[frame.Method]
    ) -> None:
        on_publish, properties, body = entry
        error = (
            None if nack is None else exceptions.NackError([_NackedMessage(nack, properties, body)])
        )
        self._hand_over(on_publish, (error,))

    # ----------------------------------------------------- acknowledgements

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        """Acknowledge a delivery (or all up to it with ``multiple``); does not wait."""
        validation.require_delivery_tag(delivery_tag)
        self._submit(self._impl.basic_ack, delivery_tag, multiple)

    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (``multiple``) several deliveries; does not wait."""
        validation.require_delivery_tag(delivery_tag)
        self._submit(self._impl.basic_nack, delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one delivery; does not wait."""
        validation.require_delivery_tag(delivery_tag)
        self._submit(self._impl.basic_reject, delivery_tag, requeue)

    # ------------------------------------------------------------- consuming

    def basic_consume(
        self,
        queue: str,
        on_message_callback: Callable[
            [Channel, spec.Basic.Deliver, spec.BasicProperties, bytes], Any
        ],
        auto_ack: bool = False,
        exclusive: bool = False,
        consumer_tag: Optional[str] = None,
        arguments: Optional[dict[str, Any]] = None,
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> str:
        """Start a consumer and return its tag.

        ``on_message_callback(channel, method, properties, body)`` runs on the
        channel's worker thread, one message at a time.
        """
        validation.require_callable(on_message_callback, "on_message_callback")

        def on_message(
            _impl: channel_mod.Channel,
            method: spec.Basic.Deliver,
            properties: spec.BasicProperties,
            body: bytes,
        ) -> None:
            self._hand_over(
                self._deliver, (on_message_callback, auto_ack, method, properties, body)
            )

        reply = self._rpc(
            "basic_consume",
            timeout,
            self._impl.basic_consume,
            queue,
            on_message,
            auto_ack,
            exclusive,
            consumer_tag,
            arguments,
        )
        tag: str = reply.method.consumer_tag
        return tag

    def _deliver(
        self,
        callback: _Function,
        auto_ack: bool,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        """Run a consumer callback (worker thread)."""
        impl = self._impl
        if not auto_ack and (
            not impl.is_open or impl.is_stale_delivery_tag(method.delivery_tag or 0)
        ):
            LOGGER.debug(
                "channel %d closing or recovered: delivery %s not handed to the consumer "
                "(the broker delivers it again)",
                impl.channel_number,
                method.delivery_tag,
            )
            return
        callback(self, method, properties, body)

    def basic_cancel(
        self, consumer_tag: str, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT
    ) -> frame.Method:
        """Cancel a consumer and wait for Basic.CancelOk."""
        return self._rpc("basic_cancel", timeout, self._impl.basic_cancel, consumer_tag)

    def basic_get(
        self, queue: str, auto_ack: bool = False, timeout: Optional[float] = DEFAULT_RPC_TIMEOUT
    ) -> tuple[Any, Any, Any]:
        """Fetch one message: ``(method, properties, body)``, or
        ``(None, None, None)`` when the queue is empty. Raises
        `MessageTooLargeError` for a message over ``max_message_size``."""
        result: Any = self._rpc("basic_get", timeout, self._get_on_loop, queue, auto_ack)
        if isinstance(result, exceptions.MessageTooLargeError):
            raise result
        return result

    def _get_on_loop(self, queue: str, auto_ack: bool, callback: Callable[[Any], None]) -> None:
        # Basic.Get replies come back in request order: the head of _gets is
        # always the request the next GetOk or GetEmpty answers.
        self._impl.basic_get(queue, self._on_get_ok, auto_ack)
        self._gets.append(callback)

    def _on_get_ok(
        self,
        _impl: channel_mod.Channel,
        method: spec.Basic.GetOk,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self._gets.popleft()((method, properties, body))

    def _on_get_empty(self, _method_frame: frame.Method) -> None:
        if self._gets:
            self._gets.popleft()((None, None, None))

    def add_on_cancel_callback(self, callback: Callable[[frame.Method], Any]) -> None:
        """``callback(method_frame)`` on the worker thread when the broker cancels a consumer."""
        validation.require_callable(callback, "callback")
        self._cancel_callbacks.append(callback)

    def add_on_message_too_large_callback(
        self, callback: Callable[[Channel, exceptions.MessageTooLargeError], Any]
    ) -> None:
        """``callback(channel, error)`` on the worker thread for each message
        over the connection's ``max_message_size`` sent to a consumer or
        returned; ``error`` is a `MessageTooLargeError` (method, properties,
        declared size). Without such a callback it is logged as an error.
        `basic_get` raises it. The channel stays open."""
        validation.require_callable(callback, "callback")
        self._too_large_callbacks.append(callback)

    def _on_too_large(
        self, _impl: channel_mod.Channel, error: exceptions.MessageTooLargeError
    ) -> None:
        if type(error.method) is spec.Basic.GetOk:
            if self._gets:
                self._gets.popleft()(error)
            return
        if not self._too_large_callbacks:
            LOGGER.error("%s (no on_message_too_large callback is registered)", error)
        for callback in list(self._too_large_callbacks):
            self._hand_over(callback, (self, error))

    def add_on_return_callback(
        self, callback: Callable[[Channel, spec.Basic.Return, spec.BasicProperties, bytes], Any]
    ) -> None:
        """``callback(channel, method, properties, body)`` on the worker thread
        for each message the broker returns (mandatory and unroutable)."""
        validation.require_callable(callback, "callback")
        self._return_callbacks.append(callback)

    # --------------------------------------------------- exchanges and queues

    # --------------------------------------------------------------- closing

    def close(
        self,
        reply_code: int = 0,
        reply_text: str = "Normal shutdown",
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        """Close the channel and wait until it is closed.

        Several threads may close at once; they all wait for the same close.
        Raises ChannelWrongStateError on a channel that is already closed.
        """
        self._connection._call(
            f"close() of channel {self._impl.channel_number}",
            timeout,
            lambda reply: self._close_on_loop(reply, reply_code, reply_text, strict=True),
        )

    def abort(
        self,
        reply_code: int = 0,
        reply_text: str = "Normal shutdown",
        timeout: Optional[float] = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        """Like `close`, but never raises AMQP errors: harmless on a closed
        channel or connection, and gives up silently after ``timeout`` s."""
        try:
            self._connection._call(
                f"abort() of channel {self._impl.channel_number}",
                timeout,
                lambda reply: self._close_on_loop(reply, reply_code, reply_text, strict=False),
            )
        except exceptions.AMQPError as error:
            LOGGER.debug("abort() of channel %d: %r", self._impl.channel_number, error)

    def _close_on_loop(self, reply: _Reply, reply_code: int, reply_text: str, strict: bool) -> None:
        impl = self._impl
        if impl.is_closed:
            if strict:
                raise exceptions.ChannelWrongStateError(
                    f"channel {impl.channel_number} is already closed"
                )
            reply.resolve(None)
            return
        self._closing.append(reply)
        if not impl.is_closing:
            impl.close(reply_code, reply_text)

    # --------------------------------------------- I/O-thread event handlers

    def _hand_over(self, function: _Function, args: tuple[Any, ...]) -> None:
        """Queue a user callback for the worker thread (I/O thread).

        Waits up to work_queue_put_timeout for room; if there is none, the
        channel is closed with a WorkQueueFullError (see `_work_queue_full`).
        """
        if self._failure is not None:
            try:
                self._worker.put_nowait(function, args)
            except queue.Full:
                LOGGER.error(
                    "channel %d: work queue still full, %r%s not run",
                    self._impl.channel_number,
                    function,
                    _describe_delivery(args),
                )
            return
        try:
            queued = self._worker.put(function, args)
        except queue.Full:
            self._work_queue_full(function, args)
            return
        if not queued:
            LOGGER.warning(
                "channel %d: the connection is closing and the work queue is full: %r%s not run",
                self._impl.channel_number,
                function,
                _describe_delivery(args),
            )

    def _work_queue_full(self, function: _Function, args: tuple[Any, ...]) -> None:
        number = self._impl.channel_number
        self._failure = exceptions.WorkQueueFullError(
            f"channel {number}: callbacks did not keep up, its work queue "
            f"(work_queue_maxsize={self._work_queue_maxsize}) stayed full for "
            f"work_queue_put_timeout={self._work_queue_put_timeout} s; the connection "
            f"was closed and its unacknowledged messages returned to their queues"
        )
        LOGGER.error("%s; %r%s not run", self._failure, function, _describe_delivery(args))
        self._connection._close_for(self._failure)

    def _connection_interrupted(self, error: ConnectionInterrupted) -> None:
        """The connection broke and is being recovered (I/O thread).

        The replies this channel waited for will never come: their callers
        get ``error``. A channel that `Connection.channel` has not returned
        yet (its caller gets ``error`` too) is closed, so the recovery drops it.
        """
        pending, self._pending = self._pending, set()
        self._gets.clear()
        for reply in pending:
            reply.fail(error)
        if not self._delivered and self._impl.is_opening:
            self._impl.close(0, "channel() was interrupted by a connection loss")

    def _on_closed(self, _impl: channel_mod.Channel, reason: BaseException) -> None:
        self._closed_by = reason
        self._connection._channels.discard(self)
        error = self._failure or self._connection._failure or reason
        pending, self._pending = self._pending, set()
        for reply in pending:
            reply.fail(error)
        self._gets.clear()
        closing, self._closing = self._closing, []
        for reply in closing:
            reply.resolve(None)
        for _number, (on_publish, _properties, _body) in self._unconfirmed.take_all():
            self._hand_over(on_publish, (error,))
        self._ack_nack_callback = None
        self._worker.close()

    def _on_return(
        self,
        _impl: channel_mod.Channel,
        method: spec.Basic.Return,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        if not self._return_callbacks:
            LOGGER.warning(
                "channel %d: message returned by the broker (%s %s) and no "
                "on_return callback is registered",
                self._impl.channel_number,
                method.reply_code,
                method.reply_text,
            )
        for callback in list(self._return_callbacks):
            self._hand_over(callback, (self, method, properties, body))

    def _on_cancel(self, method_frame: frame.Method) -> None:
        for callback in list(self._cancel_callbacks):
            self._hand_over(callback, (method_frame,))


def _describe_delivery(args: tuple[Any, ...]) -> str:
    """`` for delivery N`` when ``args`` are those of `Channel._deliver`, else ``''``."""
    for arg in args:
        if isinstance(arg, spec.Basic.Deliver):
            return f" for delivery {arg.delivery_tag}"
    return ""
