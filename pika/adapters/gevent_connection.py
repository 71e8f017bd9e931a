"""`GeventConnection`: the callback connection on gevent's hub.

gevent's event loop (libev or libuv under the hub) offers io watchers,
timers and callbacks. `_GeventIOLoop` presents them under the
`AbstractSelectorIOLoop` names (it is ``connection.ioloop``), so the shared
`SelectorIOServicesAdapter` and the socket transport of `io_services_utils`
do all the I/O. Callbacks run in the hub greenlet; `add_callback_threadsafe`
uses the loop's ``run_callback_threadsafe``, which wakes the hub from any
thread. Names are resolved in a greenlet by gevent's resolver, which keeps
the hub alive while it works (a plain thread would not, and a lone waiting
greenlet would see the hub exit).

gevent is an optional dependency: ``pip install pika[gevent]``.
"""

from __future__ import annotations

from typing import Any, Callable

try:
    import gevent
    import gevent.event
    import gevent.socket
except ImportError as exc:
    raise ImportError(
        "pika.adapters.gevent_connection needs gevent: pip install pika[gevent]"
    ) from exc

from pika.adapters import base_connection
from pika.adapters.utils import nbio_interface
from pika.adapters.utils.io_services_utils import check_callback_arg
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)

__all__ = ["GeventConnection"]

_EV_READ = 1
_EV_WRITE = 2


class GeventConnection(base_connection._LoopConnection[Any]):
    """A connection whose I/O runs on a gevent loop.

    ``custom_ioloop`` is the gevent loop to use, the ``ioloop`` of another
    GeventConnection, or ready-made I/O services; None means the current
    thread's hub loop. The hub runs the connection whenever greenlets of
    that thread wait.

    ``connection.ioloop`` has the selector IOLoop's methods on top of the
    gevent loop (``ioloop.gevent_loop``): ``call_later``,
    ``remove_timeout``, ``add_callback``, ``add_callback_threadsafe``, and
    ``start()``, which parks the calling greenlet until ``stop()``.
    """

    @classmethod
    def _loop_services(cls, custom_ioloop: Any) -> nbio_interface.AbstractIOServices:
        if isinstance(custom_ioloop, _GeventIOLoop):
            return _GeventIOServices(custom_ioloop)
        loop = custom_ioloop if custom_ioloop is not None else gevent.get_hub().loop
        return _GeventIOServices(_GeventIOLoop(loop))


class _GeventIOLoop(AbstractSelectorIOLoop):
    """A gevent loop under the `AbstractSelectorIOLoop` names.

    One io watcher per descriptor, replaced when its events change. The
    loop reports no separate error event (errors show up as readiness), so
    `ERROR` is 0. `start` parks the calling greenlet until `stop`, which
    lets the hub run everything else meanwhile.
    """

    READ = _EV_READ
    WRITE = _EV_WRITE
    ERROR = 0

    def __init__(self, loop: Any) -> None:
        self.gevent_loop = loop
        self._watchers: dict[int, tuple[Any, Callable[[int, int], None]]] = {}
        self._stop_requested = gevent.event.Event()
        self._run_error: BaseException | None = None

    def close(self) -> None:
        for watcher, _handler in self._watchers.values():
            watcher.close()
        self._watchers.clear()
        if not self.gevent_loop.default:
            self.gevent_loop.destroy()

    def start(self) -> None:
        """Park the calling greenlet until `stop` (or `fail_run`, whose error it raises)."""
        self._stop_requested.wait()
        self._stop_requested.clear()
        error, self._run_error = self._run_error, None
        if error is not None:
            raise error

    def fail_run(self, error: BaseException) -> None:
        """End the current (or next) `start` by raising ``error`` from it.

        The hub only prints what a callback raises, so an error meant for
        whoever runs the loop goes this way instead.
        """
        self._run_error = error
        self._stop_requested.set()

    def stop(self) -> None:
        self._stop_requested.set()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        loop = self.gevent_loop
        # Below the loop's resolution (1 ms on libuv, which warns) means "next tick".
        timer = loop.timer(max(delay, loop.approx_timer_resolution) if delay > 0 else 0)
        timer.start(self._fire, timer, callback)
        return timer

    @staticmethod
    def _fire(timer: Any, callback: Callable[[], None]) -> None:
        timer.close()
        callback()

    def remove_timeout(self, timeout_handle: Any) -> None:
        timeout_handle.close()

    def add_callback(self, callback: Callable[[], None]) -> None:
        self.gevent_loop.run_callback(callback)

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        self.gevent_loop.run_callback_threadsafe(callback)

    def add_handler(self, fd: int, handler: Callable[[int, int], None], events: int) -> None:
        if fd in self._watchers:
            raise ValueError(f"fd {fd} already has a handler; use update_handler")
        self._watch(fd, handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        watcher, handler = self._watchers.pop(fd)
        watcher.close()
        self._watch(fd, handler, events)

    def remove_handler(self, fd: int) -> None:
        entry = self._watchers.pop(fd, None)
        if entry is not None:
            entry[0].close()

    def _watch(self, fd: int, handler: Callable[[int, int], None], events: int) -> None:
        watcher = self.gevent_loop.io(fd, events)
        watcher.start(self._on_io, fd, handler, pass_events=True)
        self._watchers[fd] = (watcher, handler)

    @staticmethod
    def _on_io(events: int, fd: int, handler: Callable[[int, int], None]) -> None:
        handler(fd, events)


class _GreenletResolution(nbio_interface.AbstractIOReference):
    """``gevent.socket.getaddrinfo`` in its own greenlet, reported to ``on_done``."""

    def __init__(self, on_done: Callable[..., None], query: tuple[Any, ...]) -> None:
        self._on_done: Callable[..., None] | None = on_done
        self._greenlet = gevent.spawn(gevent.socket.getaddrinfo, *query)
        self._greenlet.link(self._finished)

    def cancel(self) -> bool:
        if self._on_done is None:
            return False
        self._on_done = None
        self._greenlet.kill(block=False)
        return True

    def _finished(self, greenlet: Any) -> None:
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(greenlet.value if greenlet.successful() else greenlet.exception)


class _GeventIOServices(SelectorIOServicesAdapter):
    """The shared fd-based services, with names resolved by gevent."""

    def __init__(self, native_loop: _GeventIOLoop) -> None:
        super().__init__(native_loop)
        self._gevent_ioloop = native_loop

    def raise_from_loop(self, error: BaseException) -> None:
        self._gevent_ioloop.fail_run(error)

    def _start_getaddrinfo(
        self, query: nbio_interface.AddressQuery, on_done: Callable[..., None]
    ) -> nbio_interface.AbstractIOReference:
        check_callback_arg(on_done, "on_done")
        return _GreenletResolution(on_done, query)
