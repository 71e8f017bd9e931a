"""`ConfirmTracker`: publishes awaiting the broker's confirm, by sequence number.

In confirm mode the broker numbers a channel's publishes from 1 and answers
each with Basic.Ack or Basic.Nack carrying that number, or with
``multiple`` set for every number up to it. Every surface that reports
confirms to the application (blocking, thread-safe, Twisted, async) keeps
what it needs per message in one of these and asks it which messages a
confirm settles, so they all read ``multiple`` the same way: a confirm with
``multiple`` settles every outstanding number up to its tag, and with tag 0
every outstanding number (the meaning AMQP gives to tag 0 with
``multiple``).
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["ConfirmTracker"]

T = TypeVar("T")


class ConfirmTracker(Generic[T]):
    """What each unconfirmed publish of one channel left behind, by number.

    Numbers must be added in increasing order (the order of publishing).
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[int, T] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, number: object) -> bool:
        return number in self._pending

    def __repr__(self) -> str:
        return f"<ConfirmTracker outstanding={len(self._pending)}>"

    def add(self, number: int, entry: T) -> None:
        """Remember ``entry`` until the publish numbered ``number`` is confirmed.

        Args:
            number: The publish sequence number.
            entry: What to keep for it (the message, a callback...).
        """
        self._pending[number] = entry

    def settle(self, delivery_tag: int, multiple: bool) -> list[tuple[int, T]]:
        """Take the publishes a Basic.Ack/Nack settles, oldest first.

        Args:
            delivery_tag: the confirm's delivery tag.
            multiple: the confirm's ``multiple`` flag: every outstanding
                number up to ``delivery_tag`` (all of them for 0).

        Returns:
            ``(number, entry)`` pairs; numbers not outstanding are skipped.
        """
        pending = self._pending
        if not multiple:
            entry = pending.pop(delivery_tag, _MISSING)
            return [] if entry is _MISSING else [(delivery_tag, entry)]  # type: ignore[list-item]
        if delivery_tag == 0:
            return self.take_all()
        settled: list[tuple[int, T]] = []
        for number in pending:
            if number > delivery_tag:
                break
            settled.append((number, pending[number]))
        for number, _entry in settled:
            del pending[number]
        return settled

    def take_all(self) -> list[tuple[int, T]]:
        """Take every outstanding publish, oldest first (the channel is gone).

        Returns:
            ``(number, entry)`` pairs; the tracker is left empty.
        """
        settled = list(self._pending.items())
        self._pending.clear()
        return settled

    def entries(self) -> list[tuple[int, T]]:
        """Every outstanding publish, oldest first, without taking them.

        Returns:
            ``(number, entry)`` pairs.
        """
        return list(self._pending.items())


_MISSING = object()
