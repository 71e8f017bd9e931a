"""Acks sent between the consume generator's messages are written together,
and none of them is left unsent when the application stops iterating."""

from __future__ import annotations

import pytest

from pika import BlockingConnection
from pika.adapters.blocking_channel import BlockingChannel
from pika.parameters import URLParameters
from tests.integration.blocking_support import unique
from tests.utils import broker
from tests.utils.wait import wait_until

pytestmark = pytest.mark.broker


def _unacked(queue: str) -> int:
    info = broker.queue_info(queue)
    return -1 if info is None else info.messages_unacknowledged


def _ack_ten_of_fifty(channel: BlockingChannel, queue: str) -> None:
    for index in range(50):
        channel.basic_publish("", queue, b"%d" % index)
    channel.basic_qos(prefetch_count=100)
    messages = channel.consume(queue, inactivity_timeout=5)
    for acked, (method, _properties, _body) in enumerate(messages, start=1):
        assert method is not None
        channel.basic_ack(method.delivery_tag)
        if acked == 10:
            break


@pytest.mark.parametrize("then_cancel", [False, True])
def test_acks_reach_the_broker_when_the_loop_stops(broker_url: str, then_cancel: bool) -> None:
    queue = unique("ack-coalescing")
    with BlockingConnection(URLParameters(broker_url)) as conn:
        channel = conn.channel()
        channel.queue_declare(queue)
        try:
            _ack_ten_of_fifty(channel, queue)
            if then_cancel:
                # How many of the other 40 had reached the generator varies;
                # either way they go back to the queue, the ten acked do not.
                assert 0 <= channel.cancel() <= 40
                wait_until(lambda: _unacked(queue) == 0, timeout=10, message="requeued")
                info = broker.queue_info(queue)
                assert info is not None and info.messages_ready == 40
            else:
                # No further call into the library: the ten acks were written
                # when leaving the loop closed the generator.
                wait_until(lambda: _unacked(queue) == 40, timeout=10, message="ten acks seen")
        finally:
            conn.channel().queue_delete(queue)
