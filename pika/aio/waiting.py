"""How `pika.aio` waits: futures that only ever hold results.

A future given an exception that nobody awaits (its awaiting task was
cancelled, or nobody asked) makes asyncio log "exception was never
retrieved". So the futures here are only ever given a result: a failure
travels as a `Failure` value and is raised by `outcome` in the coroutine
that awaited it. Settling a future that is already done (cancelled, or
answered) does nothing: that is how a late reply is dropped.

`Opening` is what `pika.aio.connect` and `Connection.channel` return: an
awaitable that is also an async context manager closing what it opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, Optional, Protocol, TypeVar


class Failure:
    """A failure carried as a future's result; `outcome` raises ``error``.

    Args:
        error: The exception `outcome` raises.
    """

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def settle(future: asyncio.Future[Any], *args: Any) -> None:
    """Give ``future`` the tuple ``args`` as its result, unless it is done.

    Args:
        future: The future.
        args: Its result, as a tuple.
    """
    if not future.done():
        future.set_result(args)


def fail(future: asyncio.Future[Any], error: BaseException) -> None:
    """Make ``future``'s awaiter raise ``error`` (see `outcome`), unless it is done.

    Args:
        future: The future.
        error: The exception its awaiter raises.
    """
    if not future.done():
        future.set_result(Failure(error))


def outcome(result: Any) -> Any:
    """``result`` of a future settled here: raise a `Failure`'s error, else
    return it.

    Args:
        result: A settled future's result.

    Returns:
        ``result``, unless it is a `Failure`.
    """
    if type(result) is Failure:
        raise result.error
    return result


def report_error(error: BaseException, what: str) -> None:
    """Hand ``error`` (from an application callback, or nobody's to raise)
    to the running loop's exception handler, which logs it by default, as
    asyncio does for callbacks it runs itself; the library carries on.

    Args:
        error: The exception.
        what: What failed, for the log message.
    """
    asyncio.get_running_loop().call_exception_handler(
        {"message": f"pika.aio: {what}", "exception": error}
    )


class _ClosableImpl(Protocol):
    @property
    def is_closed(self) -> bool: ...

    @property
    def is_closing(self) -> bool: ...

    def close(self, reply_code: int, reply_text: str) -> Any: ...


async def close_and_wait(
    impl: _ClosableImpl, closed: asyncio.Event, reply_code: int, reply_text: str
) -> None:
    """Close ``impl`` (the callback-API connection or channel a `pika.aio`
    object drives) unless it is closed or closing already, then wait for
    ``closed`` (which its close callback sets).

    Args:
        impl: The callback-API object.
        closed: Set once ``impl`` is closed.
        reply_code: The reason code sent to the broker.
        reply_text: The reason text sent to the broker.
    """
    if impl.is_closed:
        return
    if not impl.is_closing:
        impl.close(reply_code, reply_text)
    await closed.wait()


class Closable(Protocol):
    """What `Opening` opens: something with an async ``close()``."""

    async def close(self) -> None:
        """Close the object and wait until it is closed."""


T = TypeVar("T", bound=Closable)
S = TypeVar("S", bound="ClosingOnExit")


class ClosingOnExit:
    """``async with obj:`` gives ``obj`` and awaits ``obj.close()`` on exit."""

    async def close(self) -> None:
        """Close the object (each subclass says how)."""
        raise NotImplementedError

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class PendingWaits:
    """The futures an object's coroutines are awaiting (``_waiting``, which
    the object creates): its close or a connection loss fails them all at
    once (`_fail_waiting`)."""

    _waiting: set[asyncio.Future[Any]]

    async def _wait(self, future: asyncio.Future[Any]) -> Any:
        """Await a reply's future, which `_fail_waiting` may fail first;
        return its `outcome`."""
        waiting = self._waiting
        waiting.add(future)
        try:
            return outcome(await future)
        finally:
            waiting.discard(future)

    def _fail_waiting(self, error: BaseException) -> None:
        """Make every pending `_wait` raise ``error``."""
        for future in list(self._waiting):
            fail(future, error)


class Opening(Generic[T]):
    """Opens a ``T`` (a connection or a channel) once awaited or entered.

    ``await opening`` returns the object; ``async with opening as obj:``
    returns it too and closes it on leaving the block (whether or not the
    block raised). It can be awaited or entered once.

    Args:
        coroutine: The coroutine that opens the object.
    """

    __slots__ = ("_coroutine", "_opened")

    def __init__(self, coroutine: Coroutine[Any, Any, T]) -> None:
        self._coroutine = coroutine
        self._opened: Optional[T] = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._coroutine.__await__()

    async def __aenter__(self) -> T:
        self._opened = await self._coroutine
        return self._opened

    async def __aexit__(self, *exc_info: object) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.close()
