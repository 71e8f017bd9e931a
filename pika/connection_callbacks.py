"""The callback `Connection`'s registration of application callbacks.

`ConnectionCallbacks` is a part of `pika.connection.Connection`: the
methods by which an application asks to hear of the connection's open, its
failure to open, its close, Connection.Blocked/Unblocked and write
back-pressure. The lists it fills are the connection's own, read where the
events arrive. The plain ``add_on_*``/``remove_on_*`` pairs come from the
generated `pika.callback_registrations.ConnectionRegistrations`;
`add_on_open_error_callback` (its ``remove_default``) and the back-pressure
methods are written here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from pika import frame, validation
from pika.callback_registrations import ConnectionRegistrations
from pika.callbacks import remove_from

if TYPE_CHECKING:
    import pika.connection

OnOpen = Callable[["pika.connection.Connection"], Any]
OnError = Callable[["pika.connection.Connection", BaseException], Any]
OnBlocked = Callable[["pika.connection.Connection", frame.Method], Any]


class ConnectionCallbacks(ConnectionRegistrations):
    """The callback registrations of `pika.connection.Connection` (see the module)."""

    if TYPE_CHECKING:
        _on_open: list[OnOpen]
        _on_open_error: list[OnError]
        _on_close: list[OnError]
        _on_blocked: list[OnBlocked]
        _on_unblocked: list[OnBlocked]
        _backpressure: list[Callable[..., Any]]
        _backpressure_multiplier: int

        def _default_open_error(
            self, connection: pika.connection.Connection, error: BaseException
        ) -> None: ...

    def add_on_open_error_callback(self, callback: OnError, remove_default: bool = True) -> None:
        """Call ``callback(connection, error)`` when opening the connection fails.

        Args:
            callback: The callable to add.
            remove_default: Remove the default callback, which logs the failure.

        Raises:
            TypeError: ``callback`` is not callable.
        """
        validation.require_callable(callback, "callback")
        if remove_default:
            remove_from(self._on_open_error, self._default_open_error)
        self._on_open_error.append(callback)

    def add_backpressure_callback(
        self, callback: Callable[[pika.connection.Connection], Any]
    ) -> None:
        """``callback(connection)`` whenever the transport's unsent bytes
        exceed the backpressure multiplier times the average write.

        Args:
            callback: The callable to add.

        Raises:
            TypeError: ``callback`` is not callable.
        """
        validation.require_callable(callback, "callback")
        self._backpressure.append(callback)

    def set_backpressure_multiplier(self, value: int = 10) -> None:
        """Set how many average writes may wait unsent before the backpressure callbacks run.

        Args:
            value: The multiplier (1 or more).

        Raises:
            ValueError: ``value`` is not an int of 1 or more.
        """
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"backpressure multiplier must be an int >= 1, got {value!r}")
        self._backpressure_multiplier = value
