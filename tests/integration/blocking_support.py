"""Helpers for the `BlockingConnection` tests.

Connections get a unique ``connection_name`` client property, so a test can
ask the broker (``rabbitmqctl close_connection``) to close exactly its own
connection, even through the TCP proxy, where the broker sees the proxy's
address rather than the client's. `later` runs a fault in a helper thread
while the test's own thread sits in a blocking call.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional

import pytest

from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.connection import URLParameters
from tests.utils import broker
from tests.utils.extra_node import ExtraBrokerNode
from tests.utils.wait import wait_until


def unique(prefix: str) -> str:
    """A queue/exchange/connection name no other test or run uses."""
    return f"pika-test-blocking-{prefix}-{uuid.uuid4().hex[:10]}"


def parameters(url: str, name: Optional[str] = None, **settings: Any) -> URLParameters:
    """URLParameters for ``url`` with a connection name and attribute ``settings``."""
    params = URLParameters(url)
    params.client_properties = {"connection_name": name or unique("conn")}
    for key, value in settings.items():
        setattr(params, key, value)
    return params


def connection_name(params: URLParameters) -> str:
    properties = params.client_properties or {}
    return str(properties["connection_name"])


def broker_connection_id(name: str) -> Optional[str]:
    """The broker's pid for the connection whose connection_name is ``name``."""
    output = broker.rabbitmqctl(
        "list_connections", "--quiet", "--no-table-headers", "pid", "client_properties"
    )
    for line in output.splitlines():
        if f'"{name}"' in line:
            return line.split("\t", 1)[0]
    return None


def broker_close(name: str, reason: str = "closed by a blocking test") -> None:
    """Make the broker close the connection named ``name`` (waits until it is listed)."""
    pid = wait_until(
        lambda: broker_connection_id(name), timeout=15, message=f"connection {name} listed"
    )
    broker.close_connection(pid, reason)


class Later:
    """Runs ``action`` in a thread after ``delay`` seconds; `join` re-raises its error."""

    def __init__(self, delay: float, action: Callable[[], Any]) -> None:
        self.error: Optional[BaseException] = None
        self.done_at: Optional[float] = None
        self._delay = delay
        self._action = action
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        time.sleep(self._delay)
        try:
            self._action()
        except BaseException as exc:
            self.error = exc
        self.done_at = time.monotonic()

    def join(self, timeout: float = 30) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the helper thread did not finish"
        if self.error is not None:
            raise self.error


def later(delay: float, action: Callable[[], Any]) -> Later:
    return Later(delay, action)


@contextmanager
def open_connection(url: str, **settings: Any) -> Iterator[BlockingConnection]:
    """A BlockingConnection closed (if still open) when the block ends."""
    connection = BlockingConnection(parameters(url, **settings))
    try:
        yield connection
    finally:
        if connection.is_open:
            connection.close()


#: The AMQP versions the behaviour suites of the blocking API run over.
AMQP_VERSIONS = ("0-9-1", "0-8")


def connection_fixture() -> Any:
    """A ``conn`` fixture for a test module: ``conn = connection_fixture()``.

    Each test using it runs once per AMQP version (``[0-9-1]``, ``[0-8]``);
    a test of an operation 0-8 lacks is marked ``amqp_0_9_1_only`` and is
    skipped over 0-8.
    """

    @pytest.fixture(params=AMQP_VERSIONS)
    def conn(request: pytest.FixtureRequest, broker_url: str) -> Iterator[BlockingConnection]:
        version = request.param
        if version != "0-9-1" and request.node.get_closest_marker("amqp_0_9_1_only"):
            pytest.skip(f"the operation does not exist in AMQP {version}")
        with open_connection(broker_url, amqp_version=version) as connection:
            yield connection

    return conn


def channel_fixture() -> Any:
    """A ``chan`` fixture (a channel on the module's ``conn``): ``chan = channel_fixture()``."""

    @pytest.fixture
    def chan(conn: BlockingConnection) -> BlockingChannel:
        return conn.channel()

    return chan


@contextmanager
def memory_alarm(node: ExtraBrokerNode) -> Iterator[None]:
    """Raise ``node``'s memory alarm (it blocks publishers) for the block's duration."""
    node.set_vm_memory_high_watermark(0.0000001)
    try:
        yield
    finally:
        node.set_vm_memory_high_watermark(0.4)
