"""The consumer records of a blocking channel (`pika.adapters.blocking_consumers`):
what outside tools (OpenTelemetry's Pika instrumentation) rely on."""

from __future__ import annotations

import collections
from typing import Any

from pika import spec
from pika.adapters import blocking_connection
from pika.adapters.blocking_consumers import (
    _ConsumerDeliveryEvt,
    _ConsumerInfo,
    _Delivery,
    _QueueConsumerGeneratorInfo,
)

METHOD = spec.Basic.Deliver(consumer_tag="ctag", delivery_tag=1, routing_key="q")
PROPERTIES = spec.BasicProperties()


def test_private_names_are_importable_where_pika_has_them() -> None:
    assert blocking_connection._QueueConsumerGeneratorInfo is _QueueConsumerGeneratorInfo
    assert blocking_connection._ConsumerDeliveryEvt is _ConsumerDeliveryEvt


def test_a_delivery_calls_the_callback_set_when_it_is_dispatched() -> None:
    calls: list[tuple[str, bytes]] = []
    info = _ConsumerInfo("ctag", lambda *args: calls.append(("first", args[3])), auto_ack=False)
    queued = _Delivery((None, info, METHOD, PROPERTIES, b"body"))  # type: ignore[arg-type]
    info.on_message_callback = lambda *args: calls.append(("replaced", args[3]))
    queued()
    assert calls == [("replaced", b"body")]


def test_generator_sink_queues_plain_tuples_in_its_own_deque() -> None:
    info = _QueueConsumerGeneratorInfo(("q", False, False, None), auto_ack=False)
    info.message_sink()(None, METHOD, PROPERTIES, b"a")  # type: ignore[arg-type]
    assert list(info.pending_events) == [(METHOD, PROPERTIES, b"a")]
    assert type(info.pending_events[0]) is tuple


class Watcher:
    """Stands in for a tracing proxy that replaced ``pending_events``."""

    def __init__(self, wrapped: collections.deque[Any]) -> None:
        self.wrapped = wrapped
        self.popped: list[Any] = []

    def append(self, item: Any) -> None:
        self.wrapped.append(item)

    def popleft(self) -> Any:
        item = self.wrapped.popleft()
        self.popped.append(item)
        return item


def test_generator_sink_queues_events_once_the_deque_was_replaced() -> None:
    info = _QueueConsumerGeneratorInfo(("q", False, False, None), auto_ack=False)
    watcher = Watcher(info.pending_events)
    info.pending_events = watcher  # type: ignore[assignment]
    info.message_sink()(None, METHOD, PROPERTIES, b"a")  # type: ignore[arg-type]
    event = info.pending_events.popleft()
    assert isinstance(event, _ConsumerDeliveryEvt)
    assert (event.method, event.properties, event.body) == (METHOD, PROPERTIES, b"a")
    # The generator unpacks it like the plain tuple.
    assert tuple(event) == (METHOD, PROPERTIES, b"a")
    assert watcher.popped == [event]
