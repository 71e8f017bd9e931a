"""`TornadoConnection`: the callback connection on Tornado's IOLoop.

Tornado's IOLoop already speaks in fd handlers, timers and callbacks, so a
thin `_TornadoSelectorLoop` presents it as an
`AbstractSelectorIOLoop` and the shared `SelectorIOServicesAdapter`
(with the socket transport of `io_services_utils`) does the rest.
Tornado is an optional dependency: ``pip install pika[tornado]``.
"""

from __future__ import annotations

from typing import Any, Callable

try:
    from tornado import ioloop
except ImportError as exc:
    raise ImportError(
        "pika.adapters.tornado_connection needs Tornado: pip install pika[tornado]"
    ) from exc

from pika.adapters import base_connection
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)

__all__ = ["TornadoConnection"]


class TornadoConnection(base_connection._LoopConnection[ioloop.IOLoop]):
    """A connection whose I/O runs on a Tornado IOLoop.

    ``custom_ioloop`` is the IOLoop to use (or ready-made I/O services);
    None means ``IOLoop.current()``. ``connection.ioloop`` is the IOLoop.
    """

    @classmethod
    def _loop_services(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
        loop = custom_ioloop if custom_ioloop is not None else ioloop.IOLoop.current()
        return _TornadoIOServices(_TornadoSelectorLoop(loop))


class _TornadoSelectorLoop(AbstractSelectorIOLoop):
    """A Tornado IOLoop under the `AbstractSelectorIOLoop` names.

    Tornado's ``add_callback`` may be called from any thread, so it serves
    both `add_callback` and `add_callback_threadsafe`.
    """

    READ = ioloop.IOLoop.READ
    WRITE = ioloop.IOLoop.WRITE
    ERROR = ioloop.IOLoop.ERROR

    def __init__(self, loop: ioloop.IOLoop) -> None:
        self.tornado_loop = loop

    def close(self) -> None:
        self.tornado_loop.close()

    def start(self) -> None:
        self.tornado_loop.start()

    def stop(self) -> None:
        self.tornado_loop.stop()

    def call_later(self, delay: float, callback: Callable[[], None]) -> object:
        return self.tornado_loop.call_later(delay, callback)

    def remove_timeout(self, timeout_handle: Any) -> None:
        self.tornado_loop.remove_timeout(timeout_handle)

    def add_callback(self, callback: Callable[[], None]) -> None:
        self.tornado_loop.add_callback(callback)

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        self.tornado_loop.add_callback(callback)

    def add_handler(self, fd: int, handler: Callable[[int, int], None], events: int) -> None:
        self.tornado_loop.add_handler(fd, handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        self.tornado_loop.update_handler(fd, events)

    def remove_handler(self, fd: int) -> None:
        self.tornado_loop.remove_handler(fd)


class _TornadoIOServices(SelectorIOServicesAdapter):
    """The shared fd-based services; the native loop they report is Tornado's."""

    def __init__(self, loop: _TornadoSelectorLoop) -> None:
        super().__init__(loop)
        self._tornado_loop = loop.tornado_loop

    def get_native_ioloop(self) -> ioloop.IOLoop:  # type: ignore[override]
        return self._tornado_loop

    def raise_from_loop(self, error: BaseException) -> None:
        """Raised by a callback on the asyncio loop under Tornado's: Tornado
        logs and swallows what its own callbacks raise, asyncio lets a
        `SystemExit` (as `pika.exceptions.ConnectionOpenFailed` is) out of
        the ``IOLoop.start()`` that runs it."""

        def raise_error() -> None:
            raise error

        self._tornado_loop.asyncio_loop.call_soon(raise_error)  # type: ignore[attr-defined]
