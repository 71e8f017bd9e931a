"""`ClosingContext`: ``with`` support for objects that must be closed.

Entering the block returns the object itself; leaving it calls the object's
`_on_block_exit`, told whether the block raised, which closes it (or, when
closing would mean waiting on a failed operation, just lets it go).
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import TypeVar

_Self = TypeVar("_Self", bound="ClosingContext")


class ClosingContext(abc.ABC):
    """Base class: ``with obj:`` closes ``obj`` through `_on_block_exit`."""

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._on_block_exit(exc_type is not None)

    @abc.abstractmethod
    def _on_block_exit(self, raised: bool) -> None:
        """Close (or release) the object; ``raised`` says the block raised."""
