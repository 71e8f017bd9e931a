"""A latency histogram of bounded size with about 3% resolution, mergeable across processes.

Values are whole microseconds. Below 64 each value has a bucket of its own;
above, every power of two is split into 32 buckets, so a bucket's width is
at most 1/32 of its lower bound. A run of any length keeps at most a few
thousand counters, and the histograms of several consumers add up.
"""

from __future__ import annotations

import math
from typing import Any

EXACT_BELOW = 64
SUB_BUCKETS = 32
_MANTISSA_BITS = 6  # EXACT_BELOW.bit_length() - 1


def bucket_of(value: int) -> int:
    """The bucket index of a latency of ``value`` microseconds (negative counts as 0)."""
    if value < EXACT_BELOW:
        return value if value > 0 else 0
    shift = value.bit_length() - _MANTISSA_BITS
    return EXACT_BELOW + (shift - 1) * SUB_BUCKETS + (value >> shift) - SUB_BUCKETS


def bucket_bounds(index: int) -> tuple[int, int]:
    """The smallest and largest value that fall in bucket ``index``."""
    if index < EXACT_BELOW:
        return index, index
    shift, offset = divmod(index - EXACT_BELOW, SUB_BUCKETS)
    shift += 1
    low = (SUB_BUCKETS + offset) << shift
    return low, low + (1 << shift) - 1


class LatencyHistogram:
    """Counts of latencies by bucket, with the exact minimum, maximum and sum."""

    __slots__ = ("counts", "maximum", "minimum", "total", "total_us")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.total_us = 0
        self.minimum = -1
        self.maximum = 0

    def add(self, value: int) -> None:
        """Record one latency in microseconds."""
        index = bucket_of(value)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.total += 1
        self.total_us += value
        if value > self.maximum:
            self.maximum = value
        if value < self.minimum or self.minimum < 0:
            self.minimum = value

    def merge(self, other: LatencyHistogram) -> None:
        counts = self.counts
        for index, count in other.counts.items():
            counts[index] = counts.get(index, 0) + count
        if other.total:
            self.minimum = other.minimum if self.minimum < 0 else min(self.minimum, other.minimum)
            self.maximum = max(self.maximum, other.maximum)
        self.total += other.total
        self.total_us += other.total_us

    def percentile(self, fraction: float) -> int:
        """The latency below which ``fraction`` (0..1) of the values lie, in microseconds.

        The answer is the middle of the bucket that holds that rank, clamped
        to the exact minimum and maximum.
        """
        if not self.total:
            return 0
        rank = max(1, math.ceil(fraction * self.total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                return min(max((low + high) // 2, self.minimum), self.maximum)
        return self.maximum

    def mean(self) -> float:
        return self.total_us / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A picklable, JSON-friendly form (see `from_dict`)."""
        return {
            "counts": {str(index): count for index, count in self.counts.items()},
            "total_us": self.total_us,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyHistogram:
        histogram = cls()
        histogram.counts = {int(index): int(count) for index, count in data["counts"].items()}
        histogram.total = sum(histogram.counts.values())
        histogram.total_us = int(data["total_us"])
        histogram.minimum = int(data["minimum"])
        histogram.maximum = int(data["maximum"])
        return histogram
