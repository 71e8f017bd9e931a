"""``pika publish``: send one message (or one per input line) to an exchange.

The body comes from the command line, a file, or standard input. Messages
are published as mandatory, so one that no queue takes comes back and the
command fails (exit 4) instead of the message vanishing: without
``--confirm`` a round trip after the last message collects the returns;
with ``--confirm`` the channel is put in confirm mode and the command ends
only once the broker has confirmed every message, failing when one was
nacked (exit 3) or returned (exit 4). ``--declare`` first declares the
queue the routing key names.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional

from pika import exceptions, spec
from pika.adapters.blocking_confirms import PublishedMessage, ReturnedMessage
from pika.adapters.blocking_connection import BlockingChannel
from pika.cli import common, declare

#: Messages in flight awaiting their confirm with --confirm.
CONFIRM_WINDOW = 1000

# (option, BasicProperties attribute, converter, metavar, help)
_PROPERTY_OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str, str], ...] = (
    ("--content-type", "content_type", str, "MIME", "MIME type of the body, e.g. text/plain"),
    ("--content-encoding", "content_encoding", str, "ENCODING", "encoding of the body, e.g. gzip"),
    ("--priority", "priority", int, "0-255", "message priority"),
    ("--correlation-id", "correlation_id", str, "ID", "correlation id (RPC)"),
    ("--reply-to", "reply_to", str, "QUEUE", "queue to reply to (RPC)"),
    ("--expiration", "expiration", str, "MILLISECONDS", "per-message TTL"),
    ("--message-id", "message_id", str, "ID", "application message id"),
    ("--type", "type", str, "NAME", "application message type name"),
    ("--user-id", "user_id", str, "USER", "user id (the broker checks it is the login's)"),
    ("--app-id", "app_id", str, "NAME", "application id"),
    ("--timestamp", "timestamp", int, "SECONDS", "timestamp in seconds since the epoch"),
)

_DELIVERY_MODES = {"1": 1, "2": 2, "transient": 1, "persistent": 2}


def add_parser(commands: Any) -> None:
    """Add ``publish`` to ``commands``."""
    parser = common.add_command(
        commands,
        "publish",
        "publish a message",
        (
            "Publish a message taken from BODY, from --file, or from standard input. "
            "Messages are mandatory: one that no queue takes is reported. "
            "Exit codes: 0 sent (and confirmed with --confirm), 1 connection or channel "
            "error, 2 usage error, 3 nacked by the broker, 4 returned as unroutable."
        ),
        run,
    )
    parser.add_argument("body", nargs="?", metavar="BODY", help="the message body (UTF-8)")
    parser.add_argument(
        "-f", "--file", metavar="PATH", help="read the body from this file ('-' for stdin)"
    )
    parser.add_argument(
        "-e",
        "--exchange",
        default="",
        metavar="NAME",
        help="exchange to publish to (default: the default exchange)",
    )
    parser.add_argument(
        "-r",
        "--routing-key",
        default="",
        metavar="KEY",
        help="routing key (for the default exchange: a queue name)",
    )
    parser.add_argument(
        "--lines", action="store_true", help="publish each line of the input as its own message"
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="wait for the broker's publisher confirms; fail when one is a nack",
    )
    properties = parser.add_argument_group("message properties")
    properties.add_argument(
        "--delivery-mode",
        choices=sorted(_DELIVERY_MODES),
        help="1/transient or 2/persistent (written to disk by durable queues)",
    )
    properties.add_argument(
        "-p", "--persistent", action="store_true", help="same as --delivery-mode persistent"
    )
    common.add_pairs_option(properties, "-H", "--header", help="a string header (repeatable)")
    properties.add_argument(
        "--headers-json", metavar="JSON", help="headers as a JSON object (typed values)"
    )
    for option, attribute, converter, metavar, text in _PROPERTY_OPTIONS:
        properties.add_argument(
            option, dest=f"prop_{attribute}", type=converter, metavar=metavar, help=text
        )
    declare.add_queue_options(
        parser.add_argument_group("declaring the queue that --routing-key names"),
        declare_flag=True,
    )


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def read_bodies(args: argparse.Namespace) -> list[bytes]:
    """The message bodies the arguments ask for."""
    if args.body is not None and args.file is not None:
        raise common.CommandError(
            "give the body either as an argument or with --file, not both", common.EXIT_USAGE
        )
    if args.body is not None:
        data = args.body.encode("utf-8")
    elif args.file not in (None, "-"):
        try:
            with open(args.file, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            raise common.CommandError(
                f"cannot read {args.file}: {exc.strerror}", common.EXIT_USAGE
            ) from None
    elif args.file is None and sys.stdin.isatty():
        raise common.CommandError(
            "no body: give one as an argument, with --file, or on standard input", common.EXIT_USAGE
        )
    else:
        data = sys.stdin.buffer.read()
    if not args.lines:
        return [data]
    return data.splitlines()


def build_properties(args: argparse.Namespace) -> Optional[spec.BasicProperties]:
    """BasicProperties from the property options, or None when none is given."""
    values: dict[str, Any] = {}
    for _option, attribute, _converter, _metavar, _text in _PROPERTY_OPTIONS:
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
            raise common.CommandError(
                f"--headers-json is not valid JSON: {exc}", common.EXIT_USAGE
            ) from None
        if not isinstance(parsed, dict):
            raise common.CommandError("--headers-json must be a JSON object", common.EXIT_USAGE)
        headers.update(parsed)
    headers.update(common.split_pairs(args.header, "--header"))
    if headers:
        values["headers"] = headers
    if not values:
        return None
    properties = spec.BasicProperties(**values)
    try:
        properties.encode()
    except (ValueError, TypeError, exceptions.AMQPError) as exc:
        raise common.CommandError(f"invalid message property: {exc}", common.EXIT_USAGE) from None
    return properties


def check_destination(args: argparse.Namespace) -> None:
    """Usage errors in the exchange, the routing key and --declare, found
    before connecting."""
    try:
        spec.Basic.Publish(exchange=args.exchange, routing_key=args.routing_key).encode()
    except (ValueError, exceptions.AMQPError) as exc:
        raise common.CommandError(f"invalid destination: {exc}", common.EXIT_USAGE) from None
    if args.declare:
        if args.exchange or not args.routing_key:
            raise common.CommandError(
                "--declare declares the queue named by --routing-key on the default "
                "exchange; declare exchanges and bindings with 'pika declare'",
                common.EXIT_USAGE,
            )
        declare.queue_arguments(args)


def _describe_returned(message: ReturnedMessage) -> str:
    method = message.method
    return (
        f"({method.reply_code}) {_text(method.reply_text)}, exchange {method.exchange!r}, "
        f"routing key {method.routing_key!r}"
    )


def _unroutable(returned: list[ReturnedMessage], total: int) -> common.CommandError:
    return common.CommandError(
        f"{len(returned)} of {total} message(s) returned as unroutable: "
        f"{_describe_returned(returned[0])}; no queue is bound for that routing key",
        common.EXIT_UNROUTABLE,
    )


def _publish_unconfirmed(
    channel: BlockingChannel,
    args: argparse.Namespace,
    bodies: list[bytes],
    properties: Optional[spec.BasicProperties],
) -> None:
    returned: list[ReturnedMessage] = []
    channel.add_on_return_callback(
        lambda _channel, method, props, body: returned.append(ReturnedMessage(method, props, body))
    )
    for body in bodies:
        channel.basic_publish(args.exchange, args.routing_key, body, properties, mandatory=True)
    # The broker handles a channel's commands in order: the returns of the
    # messages, or an error they caused (no such exchange, access refused),
    # reach the client before the reply to this request.
    channel.basic_qos()
    channel.connection.process_data_events(0)  # runs the return callback
    if returned:
        raise _unroutable(returned, len(bodies))


def _publish_confirmed(
    channel: BlockingChannel,
    args: argparse.Namespace,
    bodies: list[bytes],
    properties: Optional[spec.BasicProperties],
) -> None:
    total = len(bodies)
    try:
        with channel.publisher(window=CONFIRM_WINDOW) as publisher:
            for body in bodies:
                publisher.publish(args.exchange, args.routing_key, body, properties, mandatory=True)
    except exceptions.NackError as exc:
        tags = [m.delivery_tag for m in exc.messages if isinstance(m, PublishedMessage)]
        shown = ", ".join(str(tag) for tag in tags[:10]) + (", ..." if len(tags) > 10 else "")
        raise common.CommandError(
            f"the broker nacked {len(tags)} of {total} message(s) (numbers {shown}): "
            "they were not accepted",
            common.EXIT_NACKED,
        ) from None
    except exceptions.UnroutableError as exc:
        raise _unroutable(
            [m for m in exc.messages if isinstance(m, ReturnedMessage)], total
        ) from None


def publish(args: argparse.Namespace, bodies: list[bytes]) -> None:
    """Publish ``bodies`` (declaring the queue first with --declare); raise
    CommandError when a message was returned, or with --confirm nacked."""
    properties = build_properties(args)
    check_destination(args)
    with common.blocking_connection(args.url) as connection:
        channel = connection.channel()
        if args.declare:
            print(declare.declare_queue(channel, args.routing_key, args), file=sys.stderr)
        if args.confirm:
            _publish_confirmed(channel, args, bodies, properties)
        else:
            _publish_unconfirmed(channel, args, bodies, properties)


def run(args: argparse.Namespace) -> int:
    """``pika publish``."""
    bodies = read_bodies(args)
    publish(args, bodies)
    count = len(bodies)
    print(
        f"published {count} message{'s' if count != 1 else ''} "
        f"({sum(len(body) for body in bodies)} bytes) to exchange {args.exchange!r} "
        f"with routing key {args.routing_key!r}"
        + ("; the broker confirmed them" if args.confirm else "")
    )
    return common.EXIT_OK
