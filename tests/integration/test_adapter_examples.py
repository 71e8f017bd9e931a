"""The examples for asyncio, Tornado, Twisted and gevent run as written, each
in a subprocess with a timeout, against the test broker: each declares its
queue, publishes with confirms, consumes and acknowledges what it published,
closes its connection and exits 0; with no broker it says so and exits 1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pika.adapters.blocking_connection import BlockingChannel
from tests.integration.blocking_support import open_connection, unique
from tests.integration.test_blocking_examples import ready, run_example
from tests.utils.sockets import free_ports

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

STYLES = ("asyncio", "tornado", "twisted", "gevent")
COUNT = 7


@pytest.fixture
def chan(broker_url: str) -> Iterator[BlockingChannel]:
    with open_connection(broker_url) as connection:
        yield connection.channel()


@pytest.mark.parametrize("style", STYLES)
def test_example_publishes_consumes_and_closes(
    broker_url: str, chan: BlockingChannel, style: str
) -> None:
    queue = unique(f"{style}-example")
    try:
        done = run_example(broker_url, f"{style}_consumer.py", queue, str(COUNT))
        assert done.returncode == 0, done.stdout + done.stderr
        # Other work of the program (a ticker) may print lines in between.
        lines = [line for line in done.stdout.splitlines() if not line.startswith("(")]
        assert lines == [
            "connected",
            f"queue {queue} declared",
            f"published {COUNT} messages: {COUNT} confirmed, 0 nacked",
            *(f"received #{n + 1}: message {n}" for n in range(COUNT)),
            "closed: ConnectionClosedByClient: (200) 'Normal shutdown'",
        ]
        assert done.stderr == ""
        assert ready(chan, queue) == 0  # every message acknowledged
    finally:
        chan.queue_delete(queue)


@pytest.mark.parametrize("style", STYLES)
def test_example_reports_an_unreachable_broker(style: str) -> None:
    dead_url = f"amqp://guest:guest@127.0.0.1:{free_ports(1)[0]}/%2F"
    done = run_example(dead_url, f"{style}_consumer.py", unique("unused"), "1")
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("connection failed: ") and "refused" in line.lower()
