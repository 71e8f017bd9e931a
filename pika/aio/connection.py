"""`pika.aio.connect` and `pika.aio.Connection`: an asyncio connection whose
operations are coroutines.

Underneath is an `AsyncioConnection` (the callback connection on the
running event loop) with automatic recovery on by default; this module
turns its callbacks into awaitable results.

Recovery (see README "Automatic recovery" for what is restored and in
which order): when the connection is lost for a reason other than the
application closing it, a call awaiting a reply raises
`ConnectionInterrupted` at once (its request may or may not have taken
effect); a call made during the recovery waits for it to end, at most
``recovery_wait_timeout`` seconds (then `RecoveryWaitTimeout`, while the
recovery goes on); if the recovery gives up, waiting and later calls raise
the error that ended the connection. Confirmed publishes unconfirmed at
the loss raise `NackError`, or with the policy's ``republish_unconfirmed``
are published again and await their new confirm. ``consume()`` iterators
and `basic_consume` consumers go on after the recovery with their tags.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

from pika import exceptions, validation
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.adapters.utils import connection_workflow
from pika.aio.channel import Channel
from pika.aio.waiting import (
    ClosingOnExit,
    Opening,
    PendingWaits,
    close_and_wait,
    report_error,
    settle,
)
from pika.callback_registrations import AioConnectionRegistrations
from pika.connection_recovery import ConnectionRecovery
from pika.parameters import Parameters
from pika.recovery import RecoveryPolicy
from pika.wrapping import WrappedState

__all__ = ["Connection", "connect"]

#: Unconfirmed publishes yield to the event loop after this many messages...
YIELD_EVERY = 64
#: ... or this many body bytes, whichever comes first.
YIELD_BYTES = 256 * 1024

_ParametersArg = Union[str, Parameters, Sequence[Union[str, Parameters]], None]
_DEFAULT_POLICY = RecoveryPolicy()


def connect(
    parameters: _ParametersArg = None,
    *,
    recovery: Optional[RecoveryPolicy] = _DEFAULT_POLICY,
    recovery_wait_timeout: Optional[float] = None,
    loop: Optional[asyncio.AbstractEventLoop] = None,
) -> Opening[Connection]:
    """Open a connection: ``conn = await connect(url)``, or ``async with
    connect(url) as conn:`` (closed on leaving the block).

    Args:
        parameters: an AMQP URL, a `pika.ConnectionParameters` /
            `pika.URLParameters`, or a sequence of them: tried in turn to
            open, and again in turn by each recovery (failover between
            cluster nodes). None: the default local broker.
        recovery: the reconnect policy; automatic recovery is on by
            default, None turns it off.
        recovery_wait_timeout: how long a call made during a recovery waits
            for it (seconds; default: the first parameters' socket timeout
            plus stack timeout).
        loop: the event loop; it must be the running one (the default).

    Returns:
        An awaitable `Connection`, also an async context manager.

    Raises:
        TypeError, ValueError: bad arguments (at once).
        AMQPConnectionError: when awaited, if the connection cannot be
            opened (ProbableAuthenticationError, AMQPConnectionWorkflowFailed...).
    """
    configs = validation.parameters_list(parameters, urls=True)
    if recovery is not None and not isinstance(recovery, RecoveryPolicy):
        raise TypeError(
            "recovery must be a pika.recovery.RecoveryPolicy or None, "
            f"got {type(recovery).__name__}"
        )
    validation.require_timeout(recovery_wait_timeout, "recovery_wait_timeout")
    if recovery_wait_timeout is None:
        first = configs[0]
        recovery_wait_timeout = float(
            (first.socket_timeout or Parameters.DEFAULT_SOCKET_TIMEOUT)
            + (first.stack_timeout or Parameters.DEFAULT_STACK_TIMEOUT)
        )
    return Opening(_open(configs, recovery, recovery_wait_timeout, loop))


async def _open(
    configs: list[Parameters],
    recovery: Optional[RecoveryPolicy],
    recovery_wait_timeout: float,
    loop: Optional[asyncio.AbstractEventLoop],
) -> Connection:
    running = asyncio.get_running_loop()
    if loop is not None and loop is not running:
        raise ValueError("loop must be the running event loop")
    future = running.create_future()
    workflow = AsyncioConnection.create_connection(
        configs, functools.partial(settle, future), custom_ioloop=running
    )
    try:
        (result,) = await future
    except asyncio.CancelledError:
        workflow.abort()
        raise
    if isinstance(result, BaseException):
        raise connection_workflow.failure_to_raise(result)
    return Connection(result, recovery, configs, recovery_wait_timeout)


class Connection(
    WrappedState[AsyncioConnection], AioConnectionRegistrations, PendingWaits, ClosingOnExit
):
    """A connection to the broker on the running event loop; made by `connect`.

    ``async with`` closes it on exit. See the module documentation for what
    calls see during an automatic recovery.

    Args:
        impl: The `AsyncioConnection` it drives (open).
        recovery: The recovery policy; None for no recovery.
        parameters: The parameters each recovery tries in turn.
        recovery_wait_timeout: Longest a call made during a recovery waits for it, in seconds.
    """

    def __init__(
        self,
        impl: AsyncioConnection,
        recovery: Optional[RecoveryPolicy],
        parameters: list[Parameters],
        recovery_wait_timeout: float,
    ) -> None:
        self._impl = impl
        self._loop: asyncio.AbstractEventLoop = impl.ioloop
        #: Longest a call made during a recovery waits for it (seconds).
        self.recovery_wait_timeout = recovery_wait_timeout
        self._channels: dict[int, Channel] = {}
        self._waiting: set[asyncio.Future[Any]] = set()
        self._closed = asyncio.Event()
        self._close_error: Optional[BaseException] = None
        self._recovered = asyncio.Event()
        self._recovered.set()
        self._loss: Optional[BaseException] = None
        self._writable_event = asyncio.Event()
        self._writable_event.set()
        self._writable = True
        self._unyielded = 0
        self._unyielded_bytes = 0
        impl.add_on_close_callback(self._on_impl_closed)
        impl.add_on_connection_blocked_callback(self._on_blocking_changed)
        impl.add_on_connection_unblocked_callback(self._on_blocking_changed)
        impl.on_write_pressure = self._on_write_pressure
        if recovery is not None:
            impl.enable_recovery(recovery, parameters)
            impl.add_on_recovery_started_callback(self._on_recovery_started)
            impl.add_on_recovery_succeeded_callback(self._on_recovery_succeeded)

    def __repr__(self) -> str:
        return f"<pika.aio.Connection impl={self._impl!r}>"

    # ------------------------------------------------------------ properties

    @property
    def is_recovering(self) -> bool:
        """Whether an automatic recovery is under way."""
        return self._impl.is_recovering

    @property
    def blocked(self) -> bool:
        """Whether the broker has blocked the connection (Connection.Blocked:
        an alarm such as low memory); publishes wait meanwhile."""
        return self._impl.is_blocked

    @property
    def server_properties(self) -> dict[str, Any]:
        """The broker's properties from Connection.Start."""
        return self._impl.server_properties

    @property
    def recovery(self) -> Optional[ConnectionRecovery]:
        """The recovery's state (topology record, renamed queues, failures),
        or None with ``recovery=None``."""
        return self._impl.recovery

    # -------------------------------------------------------------- waiting

    def _raise_if_closed(self) -> None:
        if not self._closed.is_set():
            return
        error = self._close_error
        if error is None or isinstance(error, exceptions.ConnectionClosedByClient):
            raise exceptions.ConnectionWrongStateError("the connection is closed")
        raise error.with_traceback(None)

    async def _ready(self) -> None:
        """Return once the connection can take a request: raise if it is
        closed; wait for a recovery under way (`recovery_wait_timeout`)."""
        self._raise_if_closed()
        if self._recovered.is_set():
            return
        try:
            await asyncio.wait_for(self._recovered.wait(), self.recovery_wait_timeout)
        except asyncio.TimeoutError:
            raise exceptions.RecoveryWaitTimeout(
                f"the connection was still recovering after {self.recovery_wait_timeout}s "
                f"(from {self._loss!r})"
            ) from None
        self._raise_if_closed()

    def _published(self, size: int) -> bool:
        """Count an unconfirmed publish; True when it is time to yield."""
        self._unyielded += 1
        self._unyielded_bytes += size
        if self._unyielded >= YIELD_EVERY or self._unyielded_bytes >= YIELD_BYTES:
            self._unyielded = 0
            self._unyielded_bytes = 0
            return True
        return False

    async def _writable_again(self) -> None:
        await self._writable_event.wait()

    # ------------------------------------------------- callback-layer events

    def _update_writable(self) -> None:
        impl = self._impl
        self._writable = not impl.is_blocked and not impl.writing_paused
        if self._writable:
            self._writable_event.set()
        else:
            self._writable_event.clear()

    def _on_blocking_changed(self, _impl: Any, _method_frame: Any) -> None:
        self._update_writable()

    def _on_write_pressure(self, _paused: bool) -> None:
        self._update_writable()

    def _on_recovery_started(self, _impl: Any, error: BaseException) -> None:
        self._loss = error
        self._recovered.clear()
        self._fail_waiting(exceptions.ConnectionInterrupted(error))
        for channel in list(self._channels.values()):
            channel._interrupted(exceptions.ConnectionInterrupted(error))

    def _on_recovery_succeeded(self, _impl: Any) -> None:
        self._recovered.set()
        self._update_writable()

    def _on_impl_closed(self, _impl: Any, error: BaseException) -> None:
        self._close_error = error
        self._closed.set()
        self._recovered.set()
        self._writable_event.set()
        self._fail_waiting(error)

    def _channel_closed(self, channel: Channel) -> None:
        if self._channels.get(channel.channel_number) is channel:
            del self._channels[channel.channel_number]

    # --------------------------------------------------------------- public

    def channel(self, channel_number: Optional[int] = None) -> Opening[Channel]:
        """Open a channel: ``await conn.channel()``, or ``async with
        conn.channel() as channel:`` (closed on leaving the block).

        A channel still opening when the connection is lost is opened by the
        recovery, and the await goes on until then.

        Args:
            channel_number: The channel number to use; None for the lowest free one.

        Returns:
            An `Opening` of the `Channel`: await it, or enter it with ``async with``.

        Raises:
            ConnectionWrongStateError: the connection is closed.
            RecoveryWaitTimeout: called during a recovery that lasted
                longer than ``recovery_wait_timeout``.
        """
        return Opening(self._open_channel(channel_number))

    async def _open_channel(self, channel_number: Optional[int]) -> Channel:
        await self._ready()
        future = self._loop.create_future()
        opened = functools.partial(settle, future)
        impl = self._impl.channel(channel_number, on_open_callback=opened)
        channel = Channel(impl, self)
        try:
            await channel._wait(future)
        except asyncio.CancelledError:
            if not (impl.is_closed or impl.is_closing):
                impl.close()
            raise
        self._channels[impl.channel_number] = channel
        return channel

    async def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the connection (stopping a recovery under way) and wait
        until it is closed; nothing happens if it already is. Its channels
        close with it.

        Args:
            reply_code: The reason code sent to the broker (200 for a normal close).
            reply_text: The reason text sent to the broker.
        """
        await close_and_wait(self._impl, self._closed, reply_code, reply_text)

    async def wait_closed(self) -> None:
        """Return once the connection is closed; raise the error that ended
        it, unless the application closed it. A loss that recovery
        repaired does not end it."""
        await self._closed.wait()
        error = self._close_error
        if error is not None and not isinstance(error, exceptions.ConnectionClosedByClient):
            raise error.with_traceback(None)

    async def update_secret(self, new_secret: str, reason: str) -> None:
        """Replace the connection's secret (say a refreshed OAuth token) and
        wait for the broker's UpdateSecretOk.

        Args:
            new_secret: What the connection authenticates with from now on
                (a password or a token); it never appears in logs.
            reason: A note for the broker's log.

        Raises:
            TypeError: Either argument is not a str.
            ConnectionClosed: The connection ended before the broker answered.
        """
        await self._ready()
        future = self._loop.create_future()
        self._impl.update_secret(new_secret, reason, callback=functools.partial(settle, future))
        await self._wait(future)

    # ------------------------------------------------------------- recovery

    def _guarded(self, callback: Callable[..., Any]) -> Callable[..., None]:
        """``callback`` for the callback connection: called with this
        connection in place of it; what it raises goes to the loop's
        exception handler (out of the transport's callbacks it would end
        the connection)."""
        validation.require_callable(callback, "callback")

        def call(_impl: Any, *args: Any) -> None:
            try:
                callback(self, *args)
            except Exception as error:
                report_error(error, "recovery callback raised")

        return call
