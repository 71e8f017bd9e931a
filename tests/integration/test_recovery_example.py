"""``examples/recovering_consumer.py`` run as a user would run it, through
the test proxy: it consumes, the proxy cuts its connection, it reports the
recovery and the queue's new name, and consumes again."""

from __future__ import annotations

import signal

import pytest

from pika.parameters import URLParameters
from tests.integration.recovery_support import RecoveringClient, SelectRunner, unique_name
from tests.integration.test_select_examples import ExampleProcess
from tests.utils.proxy import TcpProxy

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


class Publisher:
    """Publishes to the example's exchange, straight to the broker."""

    def __init__(self, broker_url: str, exchange: str) -> None:
        self.exchange = exchange
        self.runner = SelectRunner()
        self.client = RecoveringClient(self.runner, URLParameters(broker_url))
        self.channel = self.client.channel()

    def publish(self, body: str) -> None:
        self.channel.basic_publish(self.exchange, "example.test", body.encode())
        self.runner.sleep(0.05)  # let the loop write it

    def close(self) -> None:
        self.client.rpc(self.channel.exchange_delete, self.exchange)
        self.client.close()
        self.runner.close()


def test_the_recovering_consumer_example_survives_a_cut(broker_url: str, proxy: TcpProxy) -> None:
    exchange = unique_name("example-recovering")
    example = ExampleProcess(
        "recovering_consumer.py",
        "--url",
        proxy.rewrite_url(broker_url),
        "--exchange",
        exchange,
        "--routing-key",
        "example.#",
    )
    publisher = None
    try:
        example.wait_for_line("connected to")
        first_queue = example.wait_for_line("consuming from ").split()[-1]
        publisher = Publisher(broker_url, exchange)
        publisher.publish("before the cut")
        assert example.wait_for_line("received #1") == "received #1: before the cut"

        assert proxy.cut() == 1
        assert "StreamLostError" in example.wait_for_line("recovery started: ")
        renamed = example.wait_for_line("queue renamed: ")
        assert renamed.startswith(f"queue renamed: {first_queue} -> amq.gen-")
        assert example.wait_for_line("recovered after ").startswith("recovered after 1 attempt")
        publisher.publish("after the cut")
        assert example.wait_for_line("received #2") == "received #2: after the cut"

        example.process.send_signal(signal.SIGTERM)
        example.wait_for_line("connection closed: ConnectionClosedByClient")
        assert example.finish() == 0
        assert example.lines[-1] == "stopped after 2 message(s)"
    finally:
        example.kill()
        if publisher is not None:
            publisher.close()


def test_ctrl_c_during_a_recovery_stops_the_example(broker_url: str, proxy: TcpProxy) -> None:
    """The broker is unreachable and the example keeps retrying: Ctrl-C
    stops the recovery and the example."""
    example = ExampleProcess(
        "recovering_consumer.py",
        "--url",
        proxy.rewrite_url(broker_url),
        "--exchange",
        unique_name("example-recovering"),
    )
    try:
        example.wait_for_line("consuming from ")
        proxy.refuse_new(True)
        proxy.cut()
        example.wait_for_line("recovery started: ")
        example.process.send_signal(signal.SIGINT)
        example.wait_for_line("connection closed: ConnectionClosedByClient")
        assert example.finish() == 0
    finally:
        example.kill()
