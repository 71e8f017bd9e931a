"""Helpers shared by the OpenTelemetry tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.connection import URLParameters


@contextmanager
def blocking_channel(broker_url: str) -> Iterator[BlockingChannel]:
    """A channel of a new blocking connection, closed afterwards."""
    connection = BlockingConnection(URLParameters(broker_url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def traceparent(properties: pika.BasicProperties) -> tuple[int, int]:
    """(trace id, span id) of a message's W3C traceparent header."""
    headers = properties.headers or {}
    version, trace_id, span_id, _flags = str(headers["traceparent"]).split("-")
    assert version == "00"
    return int(trace_id, 16), int(span_id, 16)
