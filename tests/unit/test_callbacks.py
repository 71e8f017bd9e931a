"""`pika.callbacks.call_each`: every callback runs, the first error wins."""

from __future__ import annotations

import sys

import pytest

from pika.callbacks import call_each


def test_calls_every_callback_in_order_with_the_arguments() -> None:
    calls: list[tuple[str, int]] = []
    call_each([lambda x: calls.append(("a", x)), lambda x: calls.append(("b", x))], 7)
    assert calls == [("a", 7), ("b", 7)]


def test_first_exception_is_raised_after_all_ran() -> None:
    calls: list[str] = []

    def first() -> None:
        calls.append("first")
        raise ValueError("first failure")

    def second() -> None:
        calls.append("second")
        raise KeyError("second failure")

    with pytest.raises(ValueError, match="first failure") as info:
        call_each([first, second, lambda: calls.append("third")])
    assert calls == ["first", "second", "third"]
    if sys.version_info >= (3, 11):
        assert any("second failure" in note for note in info.value.__notes__)


def test_a_callback_removing_itself_does_not_skip_the_next() -> None:
    callbacks: list[object] = []
    calls: list[str] = []

    def once() -> None:
        calls.append("once")
        callbacks.remove(once)

    callbacks.extend([once, lambda: calls.append("next")])
    call_each(callbacks)  # type: ignore[arg-type]
    assert calls == ["once", "next"]
