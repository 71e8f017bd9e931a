"""`StaleDeliveryTags`: a wrapping channel's view of the delivery tags a recovery made stale.

After a connection recovery the broker has requeued every delivery that was
not acknowledged; the callback `pika.channel.Channel` drops (and counts) an
ack, nack or reject that names a tag from before it. The blocking,
thread-safe and async/await channels wrap a callback channel as ``_impl``
and show this through the same two members, inherited from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pika.channel


class StaleDeliveryTags:
    """``stale_tags_dropped`` and ``is_stale_delivery_tag`` of a channel wrapping ``_impl``."""

    if TYPE_CHECKING:
        _impl: pika.channel.Channel

    @property
    def stale_tags_dropped(self) -> int:
        """Acks, nacks and rejects dropped because their delivery tag came
        from before a connection recovery (see `is_stale_delivery_tag`)."""
        return self._impl.stale_tags_dropped

    def is_stale_delivery_tag(self, delivery_tag: int) -> bool:
        """Whether ``delivery_tag`` came from before the last connection
        recovery: the broker has requeued that delivery, and an ack, nack or
        reject of it is dropped (and counted), not sent.

        Args:
            delivery_tag: A delivery tag of this channel.

        Returns:
            True for a tag from before the last recovery.
        """
        return self._impl.is_stale_delivery_tag(delivery_tag)
