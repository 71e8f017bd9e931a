"""Publish and consume with Twisted: `TwistedProtocolConnection` and Deferreds.

    python examples/twisted_consumer.py QUEUE COUNT

Twisted makes the TCP connection (``reactor.connectSSL`` for TLS) and
hands it the protocol; every channel request returns a Deferred, which a coroutine run
by ``task.react`` can ``await``. This program declares QUEUE, publishes
COUNT messages with publisher confirms (each publish's Deferred fires when
the broker confirms it), consumes them back from the consumer's
`ClosableDeferredQueue`, acknowledging each, and closes the connection.

Needs Twisted (``pip install pika[twisted]``); AMQP_URL selects the broker.
"""

from __future__ import annotations

import os
import sys

from twisted.internet import defer, task
from twisted.internet.interfaces import IAddress, IConnector
from twisted.internet.posixbase import PosixReactorBase
from twisted.internet.protocol import ClientFactory
from twisted.python.failure import Failure

import pika
from pika.adapters.twisted_connection import (
    ClosableDeferredQueue,
    ReceivedMessage,
    TwistedProtocolConnection,
)
from pika.spec import BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


class AMQPClientFactory(ClientFactory):
    """Gives Twisted the one protocol; a failed TCP connection fails its `ready`."""

    def __init__(self, amqp: TwistedProtocolConnection) -> None:
        self.amqp = amqp

    def buildProtocol(self, addr: IAddress | None) -> TwistedProtocolConnection:
        return self.amqp

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self.amqp.ready.errback(reason)


async def run(reactor: PosixReactorBase, queue: str, count: int) -> int:
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    protocol = TwistedProtocolConnection(parameters)
    reactor.connectTCP(parameters.host, parameters.port, AMQPClientFactory(protocol))
    try:
        await protocol.ready
    except Exception as error:
        print(f"connection failed: {error!r}", flush=True)
        return 1
    print("connected", flush=True)
    channel = await protocol.channel()
    declared = await channel.queue_declare(queue)
    print(f"queue {declared.method.queue} declared", flush=True)

    await channel.confirm_delivery()
    publishes = [
        channel.basic_publish(
            "", queue, f"message {number}", BasicProperties(content_type="text/plain")
        )
        for number in range(count)
    ]
    # Each Deferred fires once the broker confirms its message (or fails on a nack).
    outcomes = await defer.DeferredList(publishes, consumeErrors=True)
    confirmed = sum(1 for succeeded, _result in outcomes if succeeded)
    print(
        f"published {count} messages: {confirmed} confirmed, {count - confirmed} nacked",
        flush=True,
    )

    await channel.basic_qos(prefetch_count=10)
    messages: ClosableDeferredQueue
    messages, consumer_tag = await channel.basic_consume(queue)
    for number in range(1, count + 1):
        message: ReceivedMessage = await messages.get()
        print(f"received #{number}: {message.body.decode()}", flush=True)
        message.channel.basic_ack(message.method.delivery_tag)
    await channel.basic_cancel(consumer_tag)

    protocol.close()
    reason = await protocol.closed
    print(f"closed: {reason!r}", flush=True)
    return 0


def main(reactor: PosixReactorBase, queue: str, count: str) -> defer.Deferred[None]:
    async def run_and_exit() -> None:
        code = await run(reactor, queue, int(count))
        if code:
            raise SystemExit(code)

    return defer.ensureDeferred(run_and_exit())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    task.react(main, sys.argv[1:])
