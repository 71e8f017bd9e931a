"""Heartbeat bookkeeping from times the caller passes in.

The monitor ticks every half interval. At a tick, if nothing was sent since
the previous tick a heartbeat is due; if nothing was received for four ticks
in a row (two whole intervals) the peer is declared dead. Between ticks the
hot path only sets two booleans.
"""

from __future__ import annotations


class HeartbeatMonitor:
    """Decides when to send a heartbeat and when the peer is silent."""

    __slots__ = ("_silent_ticks", "interval", "next_tick", "received", "sent")

    #: Ticks without inbound data before the peer counts as dead (2 intervals).
    DEAD_AFTER_TICKS = 4

    def __init__(self, interval: float, now: float) -> None:
        self.interval = interval
        self.next_tick = now + interval / 2
        self.received = False
        self.sent = False
        self._silent_ticks = 0

    def tick(self, now: float) -> tuple[bool, bool]:
        """Advance to ``now``: returns ``(send_heartbeat, peer_dead)``."""
        if self.received:
            self._silent_ticks = 0
        else:
            self._silent_ticks += 1
        send = not self.sent
        self.received = False
        self.sent = False
        half = self.interval / 2
        self.next_tick += half
        if self.next_tick <= now:
            self.next_tick = now + half
        return send, self._silent_ticks >= self.DEAD_AFTER_TICKS
