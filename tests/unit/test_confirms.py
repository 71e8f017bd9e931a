"""`ConfirmTracker`: which publishes a Basic.Ack/Nack settles, on every surface."""

from __future__ import annotations

import pytest

from pika.confirms import ConfirmTracker


def _tracker(numbers: list[int]) -> ConfirmTracker[str]:
    tracker: ConfirmTracker[str] = ConfirmTracker()
    for number in numbers:
        tracker.add(number, f"m{number}")
    return tracker


def test_a_single_confirm_settles_its_number_only() -> None:
    tracker = _tracker([1, 2, 3])
    assert tracker.settle(2, multiple=False) == [(2, "m2")]
    assert 2 not in tracker and len(tracker) == 2


def test_a_single_confirm_of_an_unknown_number_settles_nothing() -> None:
    tracker = _tracker([1, 2])
    assert tracker.settle(7, multiple=False) == []
    assert len(tracker) == 2


@pytest.mark.parametrize(
    ("tag", "settled", "left"),
    [(3, [1, 2, 3], [5]), (4, [1, 2, 3], [5]), (0, [1, 2, 3, 5], []), (1, [1], [2, 3, 5])],
)
def test_multiple_settles_every_outstanding_number_up_to_the_tag_and_zero_means_all(
    tag: int, settled: list[int], left: list[int]
) -> None:
    tracker = _tracker([1, 2, 3, 5])
    assert [number for number, _ in tracker.settle(tag, multiple=True)] == settled
    assert [number for number, _ in tracker.entries()] == left


def test_multiple_skips_numbers_settled_one_by_one_before() -> None:
    tracker = _tracker([1, 2, 3, 4])
    tracker.settle(2, multiple=False)
    assert tracker.settle(3, multiple=True) == [(1, "m1"), (3, "m3")]


def test_take_all_empties_the_tracker_oldest_first() -> None:
    tracker = _tracker([4, 5, 6])
    assert tracker.take_all() == [(4, "m4"), (5, "m5"), (6, "m6")]
    assert len(tracker) == 0 and not tracker.entries()
