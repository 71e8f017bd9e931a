"""``pika consume``: receive messages from a queue and print or save them.

Each body is written (to stdout, or to a file of its own with
``--output-dir``) and flushed before the message is acknowledged, so a
message is only removed from the queue once it is safely out. ``--count``
stops after that many messages; ``--idle-timeout`` stops when the queue has
been quiet that long. Messages the broker sent past ``--count`` are not
acknowledged and go back to the queue when the connection closes.
``--declare`` declares the queue first.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from typing import Any, BinaryIO

from pika import spec
from pika.cli import common, declare


def add_parser(commands: Any) -> None:
    """Add ``consume`` to ``commands``."""
    parser = common.add_command(
        commands,
        "consume",
        "consume messages from a queue",
        (
            "Consume messages from QUEUE, writing each body to stdout followed by a newline "
            "(or as a JSON line with --json, or to a file with --output-dir), and "
            "acknowledge each one once written. Runs until --count messages, "
            "--idle-timeout seconds without a message, or Ctrl-C (exit 130)."
        ),
        run,
    )
    parser.add_argument("queue", metavar="QUEUE", help="the queue to consume from")
    parser.add_argument(
        "--prefetch", type=int, default=100, help="unacknowledged messages in flight (default 100)"
    )
    parser.add_argument(
        "-n", "--count", type=int, default=0, help="stop after this many messages (0: no limit)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop when no message has arrived for this long",
    )
    parser.add_argument(
        "--auto-ack",
        action="store_true",
        help="let the broker consider messages acknowledged as soon as it sends them",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per message: routing data, properties and body",
    )
    output.add_argument(
        "-o",
        "--output-dir",
        metavar="DIRECTORY",
        help="write each body to its own file in this directory (message-000001.bin, ...) "
        "and print the file names",
    )
    declare.add_queue_options(parser.add_argument_group("declaring the queue"), declare_flag=True)


def _json_value(value: Any) -> Any:
    """A JSON-friendly form of a property or header value."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    return str(value)


def message_as_json(
    method: spec.Basic.Deliver, properties: spec.BasicProperties, body: bytes
) -> str:
    """One message as a JSON object on one line."""
    props = {
        name: getattr(properties, name)
        for name in spec.BasicProperties.__slots__
        if getattr(properties, name) is not None
    }
    record: dict[str, Any] = {
        "exchange": method.exchange,
        "routing_key": method.routing_key,
        "delivery_tag": method.delivery_tag,
        "redelivered": bool(method.redelivered),
        "properties": props,
    }
    try:
        record["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        record["body_base64"] = base64.b64encode(body).decode("ascii")
    return json.dumps(record, default=_json_value, ensure_ascii=False)


class MessageWriter:
    """Writes each message where the arguments say, flushed before it is acknowledged."""

    def __init__(self, args: argparse.Namespace, stdout: BinaryIO) -> None:
        self.args = args
        self.stdout = stdout
        self.written = 0

    def write(
        self, method: spec.Basic.Deliver, properties: spec.BasicProperties, body: bytes
    ) -> None:
        self.written += 1
        out = self.stdout
        if self.args.output_dir is not None:
            path = os.path.join(self.args.output_dir, f"message-{self.written:06d}.bin")
            try:
                with open(path, "wb") as stream:
                    stream.write(body)
            except OSError as exc:
                raise common.CommandError(f"cannot write {path}: {exc.strerror}") from None
            out.write(os.fsencode(path) + b"\n")
        elif self.args.json:
            out.write(message_as_json(method, properties, body).encode("utf-8") + b"\n")
        else:
            out.write(body + b"\n")
        out.flush()


def consume(args: argparse.Namespace, stdout: BinaryIO) -> None:
    """Consume until --count messages or --idle-timeout seconds of quiet."""
    writer = MessageWriter(args, stdout)
    count = args.count
    prefetch = args.prefetch
    if count:
        prefetch = min(prefetch, count) if prefetch else count
    with common.blocking_connection(args.url) as connection:
        channel = connection.channel()
        if args.declare:
            print(declare.declare_queue(channel, args.queue, args), file=sys.stderr)
        channel.basic_qos(prefetch_count=prefetch)
        messages = channel.consume(
            args.queue, auto_ack=args.auto_ack, inactivity_timeout=args.idle_timeout
        )
        for method, properties, body in messages:
            if method is None or properties is None or body is None:
                break  # --idle-timeout seconds without a message
            writer.write(method, properties, body)
            if not args.auto_ack:
                channel.basic_ack(method.delivery_tag)
            if count and writer.written >= count:
                break
        else:
            raise common.CommandError(
                f"the broker cancelled the consumer on {args.queue!r} (was the queue deleted?)"
            )
        # Messages received past --count go back to the queue.
        channel.cancel()


def run(args: argparse.Namespace) -> int:
    """``pika consume``."""
    if args.count < 0 or args.prefetch < 0:
        raise common.CommandError("--count and --prefetch must be >= 0", common.EXIT_USAGE)
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        raise common.CommandError("--idle-timeout must be > 0", common.EXIT_USAGE)
    if args.output_dir is not None and not os.path.isdir(args.output_dir):
        raise common.CommandError(
            f"--output-dir {args.output_dir}: no such directory", common.EXIT_USAGE
        )
    if args.declare:
        declare.queue_arguments(args)
    consume(args, sys.stdout.buffer)
    return common.EXIT_OK
