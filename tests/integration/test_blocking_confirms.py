"""Publisher confirms with `BlockingChannel`: Pika's one-at-a-time
`basic_publish` in confirm mode, and the pipelined publisher, whose every
confirm is checked and whose nacks and returns are all reported.

Real nacks come from a queue with ``x-max-length`` and
``x-overflow: reject-publish``: once full, the broker nacks what is
published to it.
"""

from __future__ import annotations

from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import (
    BlockingChannel,
    BlockingConnection,
    PublishedMessage,
    ReturnedMessage,
)
from tests.integration.blocking_support import (
    channel_fixture,
    connection_fixture,
    unique,
)

# Publisher confirms do not exist in AMQP 0-8.
pytestmark = [pytest.mark.broker, pytest.mark.amqp_0_9_1_only]


conn = connection_fixture()
chan = channel_fixture()


def bounded_queue(chan: BlockingChannel, max_length: int) -> str:
    arguments = {"x-max-length": max_length, "x-overflow": "reject-publish"}
    return str(chan.queue_declare("", exclusive=True, arguments=arguments).method.queue)


def ready_count(chan: BlockingChannel, queue: str) -> int:
    return chan.queue_declare(queue, passive=True).method.message_count or 0


# ------------------------------------------------ basic_publish with confirms


def test_confirmed_publish_returns_none(chan: BlockingChannel) -> None:
    chan.confirm_delivery()
    queue = bounded_queue(chan, 10)
    for index in range(5):
        chan.basic_publish("", queue, b"%d" % index)
    assert ready_count(chan, queue) == 5


def test_confirmed_publish_raises_nack_error(chan: BlockingChannel) -> None:
    chan.confirm_delivery()
    queue = bounded_queue(chan, 1)
    chan.basic_publish("", queue, b"fits")
    properties = spec.BasicProperties(message_id="second")
    with pytest.raises(exceptions.NackError) as caught:
        chan.basic_publish("", queue, b"rejected", properties)
    (nacked,) = caught.value.messages
    assert isinstance(nacked, PublishedMessage)
    assert nacked.body == b"rejected" and nacked.properties.message_id == "second"
    assert nacked.delivery_tag == 2
    assert nacked.method.routing_key == queue
    # The channel stays usable.
    chan.queue_purge(queue)
    chan.basic_publish("", queue, b"fits again")


def test_confirmed_mandatory_unroutable_publish_raises_unroutable_error(
    conn: BlockingConnection, chan: BlockingChannel
) -> None:
    returned: list[Any] = []
    chan.add_on_return_callback(lambda *args: returned.append(args))
    chan.confirm_delivery()
    routing_key = unique("nowhere")
    with pytest.raises(exceptions.UnroutableError) as caught:
        chan.basic_publish("", routing_key, b"bounced", mandatory=True)
    (message,) = caught.value.messages
    assert isinstance(message, ReturnedMessage)
    assert isinstance(message.method, spec.Basic.Return)
    assert message.method.reply_code == 312 and message.method.routing_key == routing_key
    assert message.body == b"bounced"
    # Not mandatory: the broker drops it silently and acks.
    chan.basic_publish("", routing_key, b"dropped")
    # The return callbacks also get it, from a dispatching call.
    assert returned == []
    conn.process_data_events()
    assert len(returned) == 1 and returned[0][3] == b"bounced"


def test_confirmed_publish_to_missing_exchange_raises_channel_closed(
    chan: BlockingChannel,
) -> None:
    chan.confirm_delivery()
    with pytest.raises(exceptions.ChannelClosedByBroker) as caught:
        chan.basic_publish(unique("missing-exchange"), "key", b"nowhere")
    assert caught.value.reply_code == 404


# ------------------------------------------------------ pipelined publisher


@pytest.mark.timeout(120)
def test_pipelined_publisher_confirms_twenty_thousand_messages(chan: BlockingChannel) -> None:
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    most_outstanding = 0
    tags = []
    with chan.publisher(window=500) as publisher:
        assert publisher.window == 500
        for index in range(20_000):
            tags.append(publisher.publish("", queue, b"message %d" % index))
            most_outstanding = max(most_outstanding, publisher.outstanding)
        publisher.flush()
        assert publisher.outstanding == 0
        assert publisher.unconfirmed() == []
    assert tags == list(range(1, 20_001))
    assert most_outstanding <= 500
    # More than one message was in flight at a time.
    assert most_outstanding > 1
    assert ready_count(chan, queue) == 20_000


@pytest.mark.timeout(120)
def test_pipelined_publisher_reports_a_nack_and_an_unroutable_message(
    chan: BlockingChannel,
) -> None:
    total = 20_000
    queue = bounded_queue(chan, total - 2)
    unroutable_key = unique("nowhere")
    unroutable_at = 7_000
    with pytest.raises(exceptions.NackError) as caught:  # noqa: SIM117
        with chan.publisher(window=1000) as publisher:
            for index in range(total):
                if index == unroutable_at:
                    publisher.publish("", unroutable_key, b"unroutable", mandatory=True)
                else:
                    publisher.publish("", queue, b"message %d" % index, mandatory=True)
    messages = caught.value.messages
    nacked = [message for message in messages if isinstance(message, PublishedMessage)]
    returned = [message for message in messages if isinstance(message, ReturnedMessage)]
    assert len(messages) == 2
    # The queue holds total - 2; of the total - 1 routable messages the last is nacked.
    (nack,) = nacked
    assert nack.body == b"message %d" % (total - 1) and nack.delivery_tag == total
    assert nack.method.routing_key == queue and nack.method.mandatory
    (bounce,) = returned
    assert bounce.body == b"unroutable"
    assert bounce.method.routing_key == unroutable_key and bounce.method.reply_code == 312
    assert ready_count(chan, queue) == total - 2
    # The failures were reported once; the channel publishes normally again.
    chan.queue_purge(queue)
    chan.basic_publish("", queue, b"after")


def test_pipelined_publisher_only_returns_raise_unroutable_error(chan: BlockingChannel) -> None:
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    publisher = chan.publisher(window=10)
    for index in range(30):
        key = unique("nowhere") if index % 10 == 3 else queue
        publisher.publish("", key, b"%d" % index, mandatory=True)
    with pytest.raises(exceptions.UnroutableError) as caught:
        publisher.flush()
    assert sorted(message.body for message in caught.value.messages) == [b"13", b"23", b"3"]
    publisher.flush()
    publisher.close()
    publisher.close()
    assert ready_count(chan, queue) == 27


def test_basic_publish_is_refused_while_a_publisher_is_open(chan: BlockingChannel) -> None:
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    with chan.publisher() as publisher:
        publisher.publish("", queue, b"through the publisher")
        with pytest.raises(exceptions.ChannelWrongStateError):
            chan.basic_publish("", queue, b"direct")
        with pytest.raises(exceptions.ChannelWrongStateError):
            chan.publisher()
    chan.basic_publish("", queue, b"direct, now confirmed one by one")
    with pytest.raises(exceptions.ChannelWrongStateError):
        publisher.publish("", queue, b"closed publisher")
    assert ready_count(chan, queue) == 2


def test_publisher_abandons_its_messages_when_the_block_raises(chan: BlockingChannel) -> None:
    queue = bounded_queue(chan, 1)
    with pytest.raises(RuntimeError), chan.publisher(window=100) as publisher:
        for index in range(10):
            publisher.publish("", queue, b"%d" % index)
        raise RuntimeError("the application gave up")
    # The nacks of the abandoned messages are not blamed on later publishes.
    chan.queue_purge(queue)
    chan.connection.sleep(0.2)
    chan.basic_publish("", queue, b"later")


def test_publisher_window_must_be_positive(chan: BlockingChannel) -> None:
    for window in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            chan.publisher(window=window)  # type: ignore[arg-type]


def test_unconfirmed_lists_messages_when_the_channel_fails(chan: BlockingChannel) -> None:
    publisher = chan.publisher(window=1000)
    queue = str(chan.queue_declare("", exclusive=True).method.queue)
    publisher.publish("", queue, b"first")
    publisher.publish(unique("missing-exchange"), "key", b"closes the channel")
    with pytest.raises(exceptions.ChannelClosedByBroker):
        publisher.flush()
    bodies = [message.body for message in publisher.unconfirmed()]
    assert b"closes the channel" in bodies
