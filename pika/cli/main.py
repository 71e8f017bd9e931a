"""Parse the command line and run one command; `main` returns the exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import pika
from pika.cli import consume, declare, perf, publish
from pika.cli.common import EXIT_INTERRUPTED, ArgumentParser, CommandError


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (a usage error is one line and exit 2)."""
    parser = ArgumentParser(
        prog="pika",
        description=(
            "Declare queues and exchanges, publish, consume and measure throughput "
            "against an AMQP 0-9-1 broker."
        ),
    )
    parser.add_argument("--version", action="version", version=f"pika {pika.__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    for module in (declare, publish, consume, perf):
        module.add_parser(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except CommandError as exc:
        print(f"pika: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code
