"""`BlockingConnection`'s recovery API: whether it recovers, and the callbacks.

`BlockingRecoveryAPI` is a part of
`pika.adapters.blocking_connection.BlockingConnection`: the application's
view of the callback layer's recovery (`pika.connection_recovery`). Its
events reach the application's callbacks through the connection's ready
queue, like every other callback of the blocking API, so they run inside
`process_data_events`, `sleep` and `start_consuming`.
"""

from __future__ import annotations

import collections
import functools
from typing import TYPE_CHECKING, Any, Callable

from pika import exceptions, validation
from pika.callback_registrations import BlockingRecoveryRegistrations
from pika.connection_recovery import ConnectionRecovery

if TYPE_CHECKING:
    import pika.adapters.blocking_connection
    from pika.adapters.select_connection import SelectConnection


#: A recovery callback that gets the connection and an error.
OnRecoveryError = Callable[
    ["pika.adapters.blocking_connection.BlockingConnection", BaseException], Any
]


class BlockingRecoveryAPI(BlockingRecoveryRegistrations):
    """The recovery API of `BlockingConnection` (see the module)."""

    if TYPE_CHECKING:
        _impl: SelectConnection
        _ready: collections.deque[Callable[[], Any]]
        _recovering: bool

    @property
    def is_recovering(self) -> bool:
        """True while an automatic recovery is under way (``is_open`` is then False)."""
        return self._recovering

    @property
    def recovery(self) -> ConnectionRecovery | None:
        """The recovery's state (topology record, renamed queues, failures of
        the last recovery), or None without ``recovery``."""
        return self._impl.recovery

    def _require_recovery(self) -> ConnectionRecovery:
        recovery = self._impl.recovery
        if recovery is None:
            raise exceptions.ConnectionWrongStateError(
                "recovery is not enabled: pass recovery=RecoveryPolicy(...) to BlockingConnection"
            )
        return recovery

    def _forward_recovery_event(self, callback: Callable[..., Any], event: list[Any]) -> None:
        """Queue ``callback(self, *args)`` on the ready queue each time the
        callback layer reports the event."""
        validation.require_callable(callback, "callback")
        ready = self._ready

        def relay(_impl: Any, *args: Any) -> None:
            ready.append(functools.partial(callback, self, *args))

        event.append(relay)
