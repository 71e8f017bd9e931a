"""The real RabbitMQ as tests see it: its URL and the ``rabbitmqctl`` commands tests use.

Every helper takes ``node``: ``None`` means the machine's default node
(``rabbit@localhost``), otherwise a full node name such as
``ExtraBrokerNode.name``. ``rabbitmqctl`` only reaches nodes on this machine,
so tests that use these helpers need a local broker.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from tests.utils.amqp_probe import broker_url, parse_broker_url, redact_url

__all__ = [
    "DEFAULT_CONNECTION_FIELDS",
    "QueueInfo",
    "RabbitmqctlError",
    "broker_url",
    "close_all_connections",
    "close_connection",
    "connection_protocol",
    "list_connections",
    "parse_broker_url",
    "queue_info",
    "rabbitmq_installed",
    "rabbitmqctl",
    "redact_url",
    "set_vm_memory_high_watermark",
]

DEFAULT_CONNECTION_FIELDS = (
    "pid",
    "name",
    "user",
    "vhost",
    "peer_host",
    "peer_port",
    "state",
    "channels",
)


class RabbitmqctlError(RuntimeError):
    """``rabbitmqctl`` exited with an error; the message carries its output."""

    def __init__(self, command: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(command)} exited with {returncode}: {output.strip()}")
        self.command = list(command)
        self.returncode = returncode
        self.output = output


def rabbitmq_installed() -> bool:
    """Whether this machine has the RabbitMQ server and its CLI tools."""
    return shutil.which("rabbitmq-server") is not None and shutil.which("rabbitmqctl") is not None


def rabbitmqctl(*args: str, node: Optional[str] = None, timeout: float = 30) -> str:
    """Run ``rabbitmqctl [-n node] args...`` and return its standard output.

    Raises ``RabbitmqctlError`` on a non-zero exit and
    ``subprocess.TimeoutExpired`` past ``timeout`` seconds.
    """
    command = ["rabbitmqctl"]
    if node is not None:
        command += ["-n", node]
    command += args
    done = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RabbitmqctlError(command, done.returncode, done.stdout + done.stderr)
    return done.stdout


def _rows(output: str, fields: Sequence[str]) -> list[dict[str, str]]:
    """Parse the tab-separated rows of a quiet, header-less ``list_*`` command."""
    rows = []
    for line in output.splitlines():
        if line.strip():
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def list_connections(
    fields: Sequence[str] = DEFAULT_CONNECTION_FIELDS, node: Optional[str] = None
) -> list[dict[str, str]]:
    """The node's AMQP 0-9-1 connections, one dict of ``fields`` (as text) each."""
    output = rabbitmqctl("list_connections", "--quiet", "--no-table-headers", *fields, node=node)
    return _rows(output, fields)


def connection_protocol(connection_name: str, node: Optional[str] = None) -> Optional[str]:
    """The AMQP version (``{0,9,1}``, ``{0,8,0}``) of the connection whose
    ``connection_name`` client property is ``connection_name``, as
    ``rabbitmqctl list_connections protocol`` shows it; None if not listed."""
    output = rabbitmqctl(
        "list_connections",
        "--quiet",
        "--no-table-headers",
        "protocol",
        "client_properties",
        node=node,
    )
    for line in output.splitlines():
        if f'{{"connection_name","{connection_name}"}}' in line:
            return line.split("\t", 1)[0]
    return None


def close_connection(
    pid: str, reason: str = "closed by a test", node: Optional[str] = None
) -> None:
    """Make the broker close one connection, named by its ``pid`` from ``list_connections``."""
    rabbitmqctl("close_connection", pid, reason, node=node)


def close_all_connections(reason: str = "closed by a test", node: Optional[str] = None) -> None:
    """Make the broker close every client connection, in all vhosts, with ``reason``."""
    rabbitmqctl("close_all_connections", "--global", reason, node=node)


@dataclass(frozen=True)
class QueueInfo:
    """What ``rabbitmqctl list_queues`` reports about one queue."""

    name: str
    messages: int
    messages_ready: int
    messages_unacknowledged: int
    consumers: int
    durable: bool
    auto_delete: bool
    exclusive: bool


_QUEUE_FIELDS = (
    "name",
    "messages",
    "messages_ready",
    "messages_unacknowledged",
    "consumers",
    "durable",
    "auto_delete",
    "exclusive",
)


def queue_info(name: str, vhost: str = "/", node: Optional[str] = None) -> Optional[QueueInfo]:
    """The queue's counters, or ``None`` if the vhost has no queue of that name."""
    output = rabbitmqctl(
        "list_queues", "--quiet", "--no-table-headers", "-p", vhost, *_QUEUE_FIELDS, node=node
    )
    for row in _rows(output, _QUEUE_FIELDS):
        if row["name"] == name:
            return QueueInfo(
                name=name,
                messages=int(row["messages"]),
                messages_ready=int(row["messages_ready"]),
                messages_unacknowledged=int(row["messages_unacknowledged"]),
                consumers=int(row["consumers"]),
                durable=row["durable"] == "true",
                auto_delete=row["auto_delete"] == "true",
                exclusive=row["exclusive"] == "true",
            )
    return None


def set_vm_memory_high_watermark(limit: Union[float, str], node: Optional[str] = None) -> None:
    """Set the memory alarm threshold: a fraction of RAM (float) or an absolute size ("50MB").

    A tiny value (``0.0000001``) raises the memory alarm at once, so the
    broker blocks publishers (``connection.blocked``); ``0.4`` is the default.
    """
    if isinstance(limit, str):
        rabbitmqctl("set_vm_memory_high_watermark", "absolute", limit, node=node)
    else:
        rabbitmqctl("set_vm_memory_high_watermark", f"{float(limit):.12f}", node=node)
