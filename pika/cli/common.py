"""What every command shares: the broker URL, exit codes, and the connections.

``publish`` and ``consume`` run on `BlockingConnection` through
`blocking_connection`. ``perf`` runs on `SelectConnection` (its workers
publish and consume from callbacks, the fastest way): a `ChannelSession`
subclass does its work from `on_channel_open` and ends with `finish`, and
`run` drives the I/O loop. Either way every failure becomes an exit code
and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, Optional

from pika import exceptions
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.connection import Connection
from pika.parameters import URLParameters

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
URL_ENV_VAR = "AMQP_URL"
# scheme://user:password@ (neither part may hold an unescaped '@' or '/')
_PASSWORD_IN_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/]*:)[^@/]*@")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NACKED = 3
EXIT_UNROUTABLE = 4
EXIT_INTERRUPTED = 130

HOW_TO_GET_A_BROKER = (
    "is a broker running there? Start RabbitMQ (rabbitmq-server -detached; in a "
    "checkout of this project, scripts/ensure_broker.py starts or installs it) or "
    "give another one with --url or the AMQP_URL environment variable"
)


class CommandError(Exception):
    """A failure to report in one line, with the exit code to end with."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: message`` and where to find help, then exit with EXIT_USAGE."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def default_url() -> str:
    """AMQP_URL when set, else the local broker with guest/guest."""
    return os.environ.get(URL_ENV_VAR, "").strip() or DEFAULT_URL


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def add_command(
    commands: Any,
    name: str,
    summary: str,
    description: str,
    run: Optional[Callable[[argparse.Namespace], int]] = None,
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` to ``commands`` (an argparse subparsers action).

    A command that runs (``run`` given) takes the broker's ``--url`` first; a
    command made of sub-commands (``declare``) gets its own subparsers instead.

    Args:
        commands: Where to add it.
        name: The command's name.
        summary: Its line in the list of commands.
        description: What ``--help`` says about it.
        run: Runs the command with the parsed arguments, returning the exit code.

    Returns:
        The command's parser, to add its own arguments to.
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=description
    )
    if run is not None:
        parser.add_argument(
            "--url",
            default=None,
            help=(
                "broker URL, amqp[s]://user:password@host:port/vhost?options "
                f"(default: ${URL_ENV_VAR}, else {redact_url(DEFAULT_URL)})"
            ),
        )
        parser.set_defaults(run=run)
    return parser


def add_pairs_option(group: Any, *names: str, help: str) -> None:
    """Add a repeatable ``KEY=VALUE`` option to a parser or group; its
    values are collected in a list, read with `split_pairs`."""
    group.add_argument(*names, action="append", default=[], metavar="KEY=VALUE", help=help)


def split_pairs(items: list[str], option: str) -> Iterator[tuple[str, str]]:
    """``(key, value)`` of each ``KEY=VALUE`` item given to ``option``.

    Raises:
        CommandError: an item has no ``=`` or an empty key (a usage error).
    """
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} wants KEY=VALUE, got {item!r}", EXIT_USAGE)
        yield key, value


def parameters_for(url: Optional[str]) -> tuple[str, URLParameters]:
    """The URL to use (the default when None) and its parsed parameters."""
    chosen = url if url is not None else default_url()
    try:
        params = URLParameters(chosen)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"bad broker URL {redact_url(chosen)}: {exc}", EXIT_USAGE) from None
    return chosen, params


def describe_open_error(url: str, error: BaseException) -> str:
    """A message for a connection that could not be opened, with what to do."""
    where = redact_url(url)
    if isinstance(error, exceptions.ProbableAuthenticationError):
        return f"the broker at {where} refused the login: {error}"
    if isinstance(error, exceptions.ProbableAccessDeniedError):
        return f"the broker at {where} refused access to the virtual host: {error}"
    return f"cannot connect to {where}: {error}; {HOW_TO_GET_A_BROKER}"


@contextlib.contextmanager
def blocking_connection(url: Optional[str]) -> Iterator[BlockingConnection]:
    """A BlockingConnection to ``url`` (the default when None), closed on the
    way out; failures to connect, and channel or connection errors raised
    inside the block, become a `CommandError` with a one-line message."""
    chosen, params = parameters_for(url)
    try:
        connection = BlockingConnection(params)
    except exceptions.AMQPConnectionError as exc:
        raise CommandError(describe_open_error(chosen, exc)) from None
    try:
        yield connection
    except exceptions.ChannelClosedByBroker as exc:
        raise CommandError(f"the broker closed the channel: {exc}") from None
    except exceptions.AMQPConnectionError as exc:
        raise CommandError(f"connection to {redact_url(chosen)} closed: {exc}") from None
    finally:
        if connection.is_open:
            try:
                connection.close()
            except exceptions.AMQPError:
                pass  # already failing: the first error is the one to report


def write_backlog(connection: Connection) -> int:
    """Bytes the connection has written that the kernel has not yet taken."""
    return connection._adapter_get_write_buffer_size()


class ChannelSession:
    """One SelectConnection with one channel, driven until `finish` is called."""

    def __init__(self, url: Optional[str]) -> None:
        self.url, self.params = parameters_for(url)
        self.connection: Any = None
        self.channel: Any = None
        self._exit_code = EXIT_OK
        self._error: Optional[str] = None
        self._finished = False

    def on_channel_open(self, channel: Channel) -> None:
        """The channel is ready: the command starts here."""
        raise NotImplementedError

    def on_channel_closed(self, error: Exception) -> None:
        """The broker closed the channel (e.g. 404 NOT_FOUND): by default a failure."""
        self.finish(EXIT_FAILURE, f"the broker closed the channel: {error}")

    @property
    def error(self) -> Optional[str]:
        """Why the command failed, or None."""
        return self._error

    def run(self) -> int:
        """Connect, run the command, and return its exit code (see `error`)."""
        self.connection = SelectConnection(
            self.params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_connection_closed,
        )
        ioloop = self.connection.ioloop
        try:
            while True:
                try:
                    ioloop.start()
                    break
                except KeyboardInterrupt:
                    if self._finished:
                        break
                    self.finish(EXIT_INTERRUPTED)
                except CommandError as exc:
                    self.finish(exc.exit_code, str(exc))
        finally:
            ioloop.close()
        return self._exit_code

    def execute(self) -> int:
        """`run`, then print the error (if any) on stderr."""
        code = self.run()
        if self._error is not None:
            print(f"pika: {self._error}", file=sys.stderr)
        return code

    def finish(self, exit_code: int = EXIT_OK, error: Optional[str] = None) -> None:
        """End the command: close the connection (if open) and stop the loop."""
        if self._finished:
            return
        self._finished = True
        self._exit_code = exit_code
        self._error = error
        connection = self.connection
        if connection is None or connection.is_closed:
            self._stop_loop()
        elif not connection.is_closing:
            connection.close()

    def _stop_loop(self) -> None:
        if self.connection is not None:
            self.connection.ioloop.stop()

    def open_channel(self) -> None:
        """Open a (new) channel; `on_channel_open` runs once it is open."""
        self.connection.channel(on_open_callback=self._on_channel_ready)

    def _on_open(self, connection: Connection) -> None:
        self.open_channel()

    def _on_channel_ready(self, channel: Channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        self.on_channel_open(channel)

    def _on_open_error(self, connection: Connection, error: BaseException) -> None:
        if not self._finished:
            self._finished = True
            self._exit_code = EXIT_FAILURE
            self._error = describe_open_error(self.url, error)
        self._stop_loop()

    def _on_connection_closed(self, connection: Connection, error: BaseException) -> None:
        if not self._finished:
            self._finished = True
            self._exit_code = EXIT_FAILURE
            self._error = f"connection to {redact_url(self.url)} closed: {error}"
        self._stop_loop()

    def _on_channel_closed(self, channel: Channel, error: Exception) -> None:
        if isinstance(error, exceptions.ChannelClosedByBroker) and not self._finished:
            self.on_channel_closed(error)
