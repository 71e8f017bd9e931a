"""Publish with confirms, many messages in flight at once.

    python examples/blocking_pipelined_confirms.py [QUEUE] [COUNT] [--max-length N]

BlockingChannel.basic_publish on a confirm-mode channel waits for each
message's confirm: one network round trip per message. channel.publisher()
keeps up to `window` messages awaiting their confirm instead, and still
reports every failure: leaving the `with` block waits for the outstanding
confirms and raises NackError (messages the broker refused) or
UnroutableError (mandatory messages no queue took), listing each one.

QUEUE defaults to "confirmed", COUNT to 10000. With --max-length the queue
is declared (it must not exist yet) to hold only N messages and to refuse
more, so the broker nacks the rest and the report shows them. AMQP_URL
selects the broker.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import pika
from pika.adapters.blocking_connection import PublishedMessage
from pika.exceptions import NackError, ReturnedMessageLike, UnroutableError

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
WINDOW = 1000


def report(kind: str, messages: Sequence[ReturnedMessageLike]) -> None:
    print(f"{len(messages)} messages failed ({kind}):")
    for message in messages[:10]:
        if isinstance(message, PublishedMessage):
            print(f"  nacked: #{message.delivery_tag} {message.body!r}")
        else:
            print(f"  returned ({message.method.reply_text}): {message.body!r}")
    if len(messages) > 10:
        print(f"  ... and {len(messages) - 10} more")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queue", nargs="?", default="confirmed")
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--max-length", type=int, default=None)
    args = parser.parse_args()
    arguments = None
    if args.max_length is not None:
        arguments = {"x-max-length": args.max_length, "x-overflow": "reject-publish"}
    parameters = pika.URLParameters(os.environ.get("AMQP_URL", DEFAULT_URL))
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=args.queue, arguments=arguments)
        properties = pika.BasicProperties(content_type="text/plain")
        started = time.monotonic()
        try:
            with channel.publisher(window=WINDOW) as publisher:
                for number in range(args.count):
                    body = f"message {number}".encode()
                    publisher.publish("", args.queue, body, properties, mandatory=True)
        except NackError as error:
            report("nacked or returned", error.messages)
            return 1
        except UnroutableError as error:
            report("unroutable", error.messages)
            return 1
        elapsed = time.monotonic() - started
        print(
            f"Published and confirmed {args.count} messages in {elapsed:.2f} s "
            f"({args.count / elapsed:,.0f} msgs/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
