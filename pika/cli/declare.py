"""``pika declare``: create the queues, exchanges and bindings the other commands use.

``pika declare queue NAME`` and ``pika declare exchange NAME`` declare one
entity each (declaring one that exists with the same options changes
nothing; with other options the broker refuses, exit 1). ``publish`` and
``consume`` take ``--declare`` with the same queue options, to declare
their queue before using it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Optional

from pika.adapters.blocking_connection import BlockingChannel
from pika.cli import common
from pika.exchange_type import ExchangeType

EXCHANGE_TYPES = tuple(kind.value for kind in ExchangeType)


def add_parser(commands: Any) -> None:
    """Add ``declare queue`` and ``declare exchange`` to ``commands``."""
    parser = common.add_command(
        commands,
        "declare",
        "declare a queue or an exchange",
        (
            "Declare a queue (optionally bound to an exchange) or an exchange. "
            "Exit codes: 0 declared, 1 refused by the broker (e.g. it exists with "
            "other options), 2 usage error."
        ),
    )
    kinds = parser.add_subparsers(title="what", dest="kind", metavar="KIND")
    kinds.required = True
    queue = common.add_command(
        kinds,
        "queue",
        "declare a queue",
        "Declare the queue NAME, and bind it to an exchange with --bind.",
        run_queue,
    )
    queue.add_argument("name", metavar="NAME", help="the queue's name")
    add_queue_options(queue.add_argument_group("queue options"))
    queue.add_argument(
        "--bind",
        metavar="EXCHANGE",
        action="append",
        default=[],
        help="bind the queue to this exchange (repeatable)",
    )
    queue.add_argument(
        "-k",
        "--binding-key",
        metavar="KEY",
        default=None,
        help="routing key of the --bind bindings (default: the queue's name)",
    )
    exchange = common.add_command(
        kinds, "exchange", "declare an exchange", "Declare the exchange NAME.", run_exchange
    )
    exchange.add_argument("name", metavar="NAME", help="the exchange's name")
    exchange.add_argument(
        "-t", "--type", choices=EXCHANGE_TYPES, default="direct", help="exchange type (direct)"
    )
    exchange.add_argument(
        "--durable", action="store_true", help="keep the exchange across broker restarts"
    )
    exchange.add_argument(
        "--auto-delete", action="store_true", help="delete it when its last binding goes"
    )


#: The on/off options of a queue declaration (``--declare`` first: only
#: ``publish`` and ``consume`` have it).
_QUEUE_SWITCHES = (
    ("--declare", "declare the queue first, with the options below"),
    ("--durable", "keep the queue across broker restarts"),
    ("--quorum", "a replicated quorum queue (always durable)"),
    ("--auto-delete", "delete the queue when its last consumer goes"),
)


def add_queue_options(group: Any, declare_flag: bool = False) -> None:
    """The options that say how a queue is declared, on a parser or group;
    with ``declare_flag`` also ``--declare`` (for ``publish`` and ``consume``)."""
    switches = _QUEUE_SWITCHES if declare_flag else _QUEUE_SWITCHES[1:]
    for option, text in switches:
        group.add_argument(option, action="store_true", help=text)
    group.add_argument(
        "--max-length", type=int, metavar="COUNT", help="keep at most COUNT ready messages"
    )
    common.add_pairs_option(
        group,
        "--argument",
        help="a queue argument such as x-message-ttl=60000 (VALUE read as JSON when it "
        "parses, else as a string; repeatable)",
    )


def queue_arguments(args: argparse.Namespace) -> Optional[dict[str, Any]]:
    """The ``arguments`` table the queue options ask for (None when empty)."""
    arguments: dict[str, Any] = {}
    for key, text in common.split_pairs(args.argument, "--argument"):
        try:
            arguments[key] = json.loads(text)
        except ValueError:
            arguments[key] = text
    if args.max_length is not None:
        if args.max_length < 0:
            raise common.CommandError("--max-length must be >= 0", common.EXIT_USAGE)
        arguments["x-max-length"] = args.max_length
    if args.quorum:
        if args.auto_delete:
            raise common.CommandError("a --quorum queue cannot be --auto-delete", common.EXIT_USAGE)
        arguments["x-queue-type"] = "quorum"
    return arguments or None


def declare_queue(channel: BlockingChannel, name: str, args: argparse.Namespace) -> str:
    """Declare queue ``name`` as the options say; returns a one-line report."""
    arguments = queue_arguments(args)
    durable = args.durable or args.quorum
    reply = channel.queue_declare(
        name, durable=durable, auto_delete=args.auto_delete, arguments=arguments
    ).method
    traits = [
        trait
        for trait, present in (
            ("durable", durable),
            ("quorum", args.quorum),
            ("auto-delete", args.auto_delete),
        )
        if present
    ]
    described = f" ({', '.join(traits)})" if traits else ""
    return (
        f"declared queue {reply.queue!r}{described}: {reply.message_count} message(s), "
        f"{reply.consumer_count} consumer(s)"
    )


def run_queue(args: argparse.Namespace) -> int:
    """``pika declare queue``."""
    queue_arguments(args)  # usage errors before connecting
    with common.blocking_connection(args.url) as connection:
        channel = connection.channel()
        print(declare_queue(channel, args.name, args))
        key = args.binding_key if args.binding_key is not None else args.name
        for exchange in args.bind:
            channel.queue_bind(args.name, exchange, routing_key=key)
            print(f"bound queue {args.name!r} to exchange {exchange!r} with key {key!r}")
    return common.EXIT_OK


def run_exchange(args: argparse.Namespace) -> int:
    """``pika declare exchange``."""
    with common.blocking_connection(args.url) as connection:
        channel = connection.channel()
        channel.exchange_declare(
            args.name, exchange_type=args.type, durable=args.durable, auto_delete=args.auto_delete
        )
    traits = [args.type, *(["durable"] if args.durable else [])]
    traits += ["auto-delete"] if args.auto_delete else []
    print(f"declared exchange {args.name!r} ({', '.join(traits)})")
    return common.EXIT_OK
