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

from pika import frame, spec
from pika.channel import Channel
from pika.cli.common import (
    EXIT_NACKED,
    EXIT_OK,
    EXIT_UNROUTABLE,
    EXIT_USAGE,
    ChannelSession,
    CommandError,
    add_connection_arguments,
)

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


class PublishSession(ChannelSession):
    def __init__(self, args: argparse.Namespace, bodies: list[bytes]) -> None:
        super().__init__(args.url)
        self.args = args
        self.bodies = bodies
        self.properties = build_properties(args)
        self._pending: set[int] = set()
        self._settled_upto = 0
        self._nacked: list[int] = []
        self._returned: list[str] = []

    def on_channel_open(self, channel: Channel) -> None:
        if not self.args.confirm:
            self._publish_all(mandatory=False)
            # The broker handles a channel's commands in order: an error caused
            # by the publishes (no such exchange, access refused) closes the
            # channel before this request is answered.
            channel.basic_qos(callback=lambda _frame: self.finish(EXIT_OK))
            return
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: frame.Method) -> None:
        self._publish_all(mandatory=True)
        if not self._pending:
            self.finish(EXIT_OK)

    def _publish_all(self, mandatory: bool) -> None:
        args = self.args
        publish = self.channel.basic_publish
        for body in self.bodies:
            publish(args.exchange, args.routing_key, body, self.properties, mandatory)
        self._pending = set(range(1, len(self.bodies) + 1))

    def _on_return(
        self,
        channel: Channel,
        method: spec.Basic.Return,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        self._returned.append(
            f"({method.reply_code}) {_text(method.reply_text)}, exchange {method.exchange!r}, "
            f"routing key {method.routing_key!r}"
        )

    def _on_confirm(self, method_frame: frame.Method) -> None:
        method = method_frame.method
        tag = int(method.delivery_tag)
        if method.multiple:
            settled = range(self._settled_upto + 1, tag + 1)
            self._settled_upto = max(self._settled_upto, tag)
        else:
            settled = range(tag, tag + 1)
        for number in settled:
            if number in self._pending:
                self._pending.discard(number)
                if isinstance(method, spec.Basic.Nack):
                    self._nacked.append(number)
        if not self._pending:
            self._on_all_confirmed()

    def _on_all_confirmed(self) -> None:
        total = len(self.bodies)
        if self._nacked:
            numbers = ", ".join(str(n) for n in self._nacked[:10])
            more = ", ..." if len(self._nacked) > 10 else ""
            self.finish(
                EXIT_NACKED,
                f"the broker nacked {len(self._nacked)} of {total} message(s) "
                f"(numbers {numbers}{more}): they were not accepted",
            )
        elif self._returned:
            self.finish(
                EXIT_UNROUTABLE,
                f"{len(self._returned)} of {total} message(s) returned as unroutable: "
                f"{self._returned[0]}; no queue is bound for that routing key",
            )
        else:
            self.finish(EXIT_OK)


def run(args: argparse.Namespace) -> int:
    bodies = read_bodies(args)
    code = PublishSession(args, bodies).execute()
    if code == EXIT_OK:
        count = len(bodies)
        print(
            f"published {count} message{'s' if count != 1 else ''} "
            f"({sum(len(body) for body in bodies)} bytes) to exchange {args.exchange!r} "
            f"with routing key {args.routing_key!r}"
            + ("; the broker confirmed them" if args.confirm else "")
        )
    return code
