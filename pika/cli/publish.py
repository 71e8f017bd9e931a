"""``pika publish``: send one message (or one per input line) to an exchange.

The body comes from the command line, a file, or standard input. With
``--confirm`` the channel is put in confirm mode and the messages are
published as mandatory, so the command ends only once the broker has
confirmed every one, and fails when one was nacked (exit 3) or came back as
unroutable (exit 4).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional

from pika import exceptions, spec
from pika.adapters.blocking_confirms import PublishedMessage, ReturnedMessage
from pika.cli.common import (
    EXIT_NACKED,
    EXIT_OK,
    EXIT_UNROUTABLE,
    EXIT_USAGE,
    CommandError,
    add_connection_arguments,
    blocking_connection,
)

#: Messages in flight awaiting their confirm with --confirm.
CONFIRM_WINDOW = 1000

# (option, BasicProperties attribute, converter, help)
_PROPERTY_OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--content-type", "content_type", str, "MIME type of the body, e.g. application/json"),
    ("--content-encoding", "content_encoding", str, "encoding of the body, e.g. gzip"),
    ("--priority", "priority", int, "message priority, 0-255"),
    ("--correlation-id", "correlation_id", str, "correlation id (RPC)"),
    ("--reply-to", "reply_to", str, "queue to reply to (RPC)"),
    ("--expiration", "expiration", str, "per-message TTL in milliseconds"),
    ("--message-id", "message_id", str, "application message id"),
    ("--type", "type", str, "application message type name"),
    ("--user-id", "user_id", str, "user id (the broker checks it is the connection's user)"),
    ("--app-id", "app_id", str, "application id"),
    ("--timestamp", "timestamp", int, "timestamp in seconds since the epoch"),
)

_DELIVERY_MODES = {"1": 1, "2": 2, "transient": 1, "persistent": 2}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "publish",
        help="publish a message",
        description=(
            "Publish a message taken from BODY, from --file, or from standard input. "
            "Exit codes: 0 sent (and confirmed with --confirm), 1 connection or channel "
            "error, 2 usage error, 3 nacked by the broker, 4 returned as unroutable."
        ),
    )
    add_connection_arguments(parser)
    parser.add_argument("body", nargs="?", help="the message body (UTF-8)")
    parser.add_argument("-f", "--file", help="read the body from this file ('-' for stdin)")
    parser.add_argument(
        "-e", "--exchange", default="", help="exchange to publish to (default: the default one)"
    )
    parser.add_argument("-r", "--routing-key", default="", help="routing key (a queue name for '')")
    parser.add_argument(
        "--lines", action="store_true", help="publish each line of the input as its own message"
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="wait for publisher confirms; fail on nack or when a message is unroutable",
    )
    parser.add_argument(
        "--delivery-mode",
        choices=sorted(_DELIVERY_MODES),
        help="1/transient or 2/persistent (written to disk by durable queues)",
    )
    parser.add_argument(
        "-p", "--persistent", action="store_true", help="same as --delivery-mode persistent"
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a string header (repeatable)",
    )
    parser.add_argument(
        "--headers-json", metavar="JSON", help="headers as a JSON object (typed values)"
    )
    for option, attribute, converter, text in _PROPERTY_OPTIONS:
        parser.add_argument(option, dest=f"prop_{attribute}", type=converter, help=text)
    parser.set_defaults(run=run)


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def read_bodies(args: argparse.Namespace) -> list[bytes]:
    """The message bodies the arguments ask for."""
    if args.body is not None and args.file is not None:
        raise CommandError(
            "give the body either as an argument or with --file, not both", EXIT_USAGE
        )
    if args.body is not None:
        data = args.body.encode("utf-8")
    elif args.file not in (None, "-"):
        try:
            with open(args.file, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE) from None
    elif args.file is None and sys.stdin.isatty():
        raise CommandError(
            "no body: give one as an argument, with --file, or on standard input", EXIT_USAGE
        )
    else:
        data = sys.stdin.buffer.read()
    if not args.lines:
        return [data]
    return data.splitlines()


def build_properties(args: argparse.Namespace) -> Optional[spec.BasicProperties]:
    """BasicProperties from the property options, or None when none is given."""
    values: dict[str, Any] = {}
    for _option, attribute, _converter, _text in _PROPERTY_OPTIONS:
        value = getattr(args, f"prop_{attribute}")
        if value is not None:
            values[attribute] = value
    if args.persistent:
        values["delivery_mode"] = 2
    elif args.delivery_mode is not None:
        values["delivery_mode"] = _DELIVERY_MODES[args.delivery_mode]
    headers: dict[str, Any] = {}
    if args.headers_json is not None:
        try:
            parsed = json.loads(args.headers_json)
        except ValueError as exc:
            raise CommandError(f"--headers-json is not valid JSON: {exc}", EXIT_USAGE) from None
        if not isinstance(parsed, dict):
            raise CommandError("--headers-json must be a JSON object", EXIT_USAGE)
        headers.update(parsed)
    for item in args.header:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--header wants KEY=VALUE, got {item!r}", EXIT_USAGE)
        headers[key] = value
    if headers:
        values["headers"] = headers
    return spec.BasicProperties(**values) if values else None


def _describe_returned(message: ReturnedMessage) -> str:
    method = message.method
    return (
        f"({method.reply_code}) {_text(method.reply_text)}, exchange {method.exchange!r}, "
        f"routing key {method.routing_key!r}"
    )


def publish(args: argparse.Namespace, bodies: list[bytes]) -> None:
    """Publish ``bodies``; with --confirm, raise CommandError unless every
    message was confirmed and routed."""
    properties = build_properties(args)
    exchange, routing_key = args.exchange, args.routing_key
    with blocking_connection(args.url) as connection:
        channel = connection.channel()
        if not args.confirm:
            for body in bodies:
                channel.basic_publish(exchange, routing_key, body, properties)
            # The broker handles a channel's commands in order: an error caused
            # by the publishes (no such exchange, access refused) closes the
            # channel before this request is answered.
            channel.basic_qos()
            return
        total = len(bodies)
        try:
            with channel.publisher(window=CONFIRM_WINDOW) as publisher:
                for body in bodies:
                    publisher.publish(exchange, routing_key, body, properties, mandatory=True)
        except exceptions.NackError as exc:
            tags = [m.delivery_tag for m in exc.messages if isinstance(m, PublishedMessage)]
            shown = ", ".join(str(tag) for tag in tags[:10]) + (", ..." if len(tags) > 10 else "")
            raise CommandError(
                f"the broker nacked {len(tags)} of {total} message(s) (numbers {shown}): "
                "they were not accepted",
                EXIT_NACKED,
            ) from None
        except exceptions.UnroutableError as exc:
            returned = [m for m in exc.messages if isinstance(m, ReturnedMessage)]
            raise CommandError(
                f"{len(returned)} of {total} message(s) returned as unroutable: "
                f"{_describe_returned(returned[0])}; no queue is bound for that routing key",
                EXIT_UNROUTABLE,
            ) from None


def run(args: argparse.Namespace) -> int:
    bodies = read_bodies(args)
    publish(args, bodies)
    count = len(bodies)
    print(
        f"published {count} message{'s' if count != 1 else ''} "
        f"({sum(len(body) for body in bodies)} bytes) to exchange {args.exchange!r} "
        f"with routing key {args.routing_key!r}"
        + ("; the broker confirmed them" if args.confirm else "")
    )
    return EXIT_OK
