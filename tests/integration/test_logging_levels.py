"""What the library logs in ordinary use: a normal close at DEBUG and
nothing at WARNING or above, on each connection style (a warning is kept
for what the application must act on); a recovery warns once when the
connection is lost and reports its success at INFO."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

import pika
from pika import exceptions
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.connection import Connection, URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.select_support import broker_pid_of
from tests.utils import broker

pytestmark = pytest.mark.broker


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level("DEBUG", logger="pika")
    yield caplog


def _closed_at(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The levels of the "connection closed" records."""
    return [
        record.levelname
        for record in caplog.records
        if record.name == "pika.connection" and " closed: " in record.getMessage()
    ]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.name.startswith("pika") and record.levelno >= 30
    ]


def test_blocking_open_and_close_log_no_warning(
    broker_url: str, records: pytest.LogCaptureFixture
) -> None:
    with pika.BlockingConnection(URLParameters(broker_url)) as connection:
        channel = connection.channel()
        channel.queue_declare("", exclusive=True)
        channel.close()
    assert not connection.is_open
    assert _warnings(records) == []
    assert _closed_at(records) == ["DEBUG"]


def test_thread_safe_open_and_close_log_no_warning(
    broker_url: str, records: pytest.LogCaptureFixture
) -> None:
    connection = pika.Connection(URLParameters(broker_url))
    channel = connection.channel()
    channel.close()
    connection.close()
    assert connection.is_closed
    assert _warnings(records) == []
    assert _closed_at(records) == ["DEBUG"]


def test_select_open_and_close_log_no_warning(
    broker_url: str, records: pytest.LogCaptureFixture
) -> None:
    closed: list[BaseException] = []

    def on_channel(channel: Channel) -> None:
        channel.connection.close()

    def on_open(connection: Connection) -> None:
        connection.channel(on_open_callback=on_channel)

    def on_closed(connection: Connection, error: BaseException) -> None:
        closed.append(error)
        connection.ioloop.stop()  # type: ignore[attr-defined]

    connection = SelectConnection(
        URLParameters(broker_url), on_open_callback=on_open, on_close_callback=on_closed
    )
    connection.ioloop.call_later(30, connection.ioloop.stop)
    connection.ioloop.start()
    connection.ioloop.close()
    assert len(closed) == 1
    assert _warnings(records) == []
    assert _closed_at(records) == ["DEBUG"]


def test_a_recovery_warns_once_when_lost_and_reports_success_at_info(
    broker_url: str, records: pytest.LogCaptureFixture
) -> None:
    name = f"pika-test-logging-{uuid.uuid4().hex[:10]}"
    params = URLParameters(broker_url)
    params.client_properties = {"connection_name": name}
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.2)
    with pika.BlockingConnection(params, recovery=policy) as connection:
        connection.channel()
        broker.close_connection(broker_pid_of(name), "test: logging levels")
        deadline = time.monotonic() + 30
        while not connection.is_recovering:
            assert time.monotonic() < deadline, "the loss was not noticed"
            connection.process_data_events(0.02)
        while connection.is_recovering:
            assert time.monotonic() < deadline, "the recovery did not end"
            connection.process_data_events(0.05)
    (warning,) = _warnings(records)
    assert "connection lost" in warning and "recovering" in warning
    assert _closed_at(records) == ["DEBUG"]  # only the final close: the loss was recovered
    recovered = [r for r in records.records if "connection recovered" in r.getMessage()]
    assert [r.levelname for r in recovered] == ["INFO"]


def test_a_close_by_the_broker_is_info(broker_url: str, records: pytest.LogCaptureFixture) -> None:
    name = f"pika-test-logging-{uuid.uuid4().hex[:10]}"
    params = URLParameters(broker_url)
    params.client_properties = {"connection_name": name}
    connection = pika.BlockingConnection(params)
    broker.close_connection(broker_pid_of(name), "test: closed by the broker")
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            connection.process_data_events(0.05)
    assert _warnings(records) == []
    assert _closed_at(records) == ["INFO"]
