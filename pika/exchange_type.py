"""`ExchangeType`: the exchange types every RabbitMQ broker provides."""

from enum import Enum


class ExchangeType(str, Enum):
    """The routing algorithm of an exchange, as passed to ``exchange_declare``.

    Members are also ``str``, so they go on the wire unchanged.
    """

    direct = "direct"
    fanout = "fanout"
    headers = "headers"
    topic = "topic"
