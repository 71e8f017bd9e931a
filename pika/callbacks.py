"""Running a list of user callbacks so that one failing cannot starve the others.

The connection and channel layers keep their callbacks in plain lists. When
one event has several callbacks (the close callbacks of every channel and
then of the connection; an application's open callback and the connection
workflow's), each must run even if an earlier one raised: a reconnect in
``on_close_callback`` must not be skipped because a channel's close callback
failed. `call_each` runs them all and then re-raises the first exception,
which reaches whoever runs the I/O loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable


def call_each(callbacks: Iterable[Callable[..., Any]], *args: Any) -> None:
    """Call every callback with ``args``, then re-raise the first exception
    one of them raised; later ones are added to its notes (Python 3.11+)."""
    first: BaseException | None = None
    for callback in list(callbacks):
        try:
            callback(*args)
        except BaseException as exc:
            if first is None:
                first = exc
            else:
                _note(first, f"another callback also raised {exc!r}")
    if first is not None:
        raise first


def remove_from(callbacks: list[Any], callback: Any) -> bool:
    """Remove ``callback`` from ``callbacks``; whether it was there."""
    if callback in callbacks:
        callbacks.remove(callback)
        return True
    return False


def _note(exc: BaseException, text: str) -> None:
    add_note = getattr(exc, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note(text)
