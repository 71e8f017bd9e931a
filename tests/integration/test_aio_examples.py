"""Each `pika.aio` example under ``examples/`` runs as written, in a
subprocess with a timeout, against the test broker: the confirming
publisher, the consumer, and the RPC client and server together."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pika.adapters.blocking_channel import BlockingChannel
from tests.integration.blocking_support import open_connection, unique
from tests.integration.test_blocking_examples import RunningExample, run_example

pytestmark = pytest.mark.broker


@pytest.fixture
def chan(broker_url: str) -> Iterator[BlockingChannel]:
    with open_connection(broker_url) as connection:
        yield connection.channel()


@pytest.fixture
def queue(chan: BlockingChannel) -> Iterator[str]:
    name = unique("aio-example")
    yield name
    if chan.is_open:
        chan.queue_delete(name)


def test_publisher_then_consumer(broker_url: str, chan: BlockingChannel, queue: str) -> None:
    published = run_example(broker_url, "aio_publisher.py", queue, "300")
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip() == f"[x] 300 messages confirmed, 0 nacked, to {queue}"
    assert chan.queue_declare(queue, passive=True).method.message_count == 300
    consumed = run_example(broker_url, "aio_consumer.py", queue, "250")
    assert consumed.returncode == 0, consumed.stderr
    lines = consumed.stdout.splitlines()
    assert [line for line in lines if line.startswith(" [x]")] == [
        f" [x] task {number}" for number in range(250)
    ]
    assert lines[-1] == "Handled 250 messages"
    # Leaving the iterator requeued what had arrived but was not handled.
    assert chan.queue_declare(queue, passive=True).method.message_count == 50
    idle = run_example(broker_url, "aio_consumer.py", queue, "100")
    assert idle.returncode == 0, idle.stderr
    assert idle.stdout.splitlines()[-2:] == [" [ ] idle: stopping", "Handled 50 messages"]


def test_rpc_client_and_server(broker_url: str, queue: str) -> None:
    server = RunningExample(broker_url, "aio_rpc_server.py", queue, "4")
    try:
        server.wait_for("Awaiting RPC requests")
        client = run_example(broker_url, "aio_rpc_client.py", queue, "10", "20", "30", "1")
        assert client.returncode == 0, client.stderr
        assert client.stdout.splitlines() == [
            " [.] fib(10) = 55",
            " [.] fib(20) = 6765",
            " [.] fib(30) = 832040",
            " [.] fib(1) = 1",
        ]
        assert server.finish() == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
    assert sorted(line for line in server.lines if line.startswith(" [.]")) == sorted(
        [" [.] fib(10) = 55", " [.] fib(20) = 6765", " [.] fib(30) = 832040", " [.] fib(1) = 1"]
    )
