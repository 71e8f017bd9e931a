"""`DeliveryMode`: the values of the ``delivery_mode`` message property."""

from enum import IntEnum


class DeliveryMode(IntEnum):
    """Whether the broker keeps a message in memory only or writes it to disk.

    Use as ``BasicProperties(delivery_mode=DeliveryMode.Persistent)``; a
    persistent message survives a broker restart only on a durable queue.
    """

    Transient = 1
    Persistent = 2
