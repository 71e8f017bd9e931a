"""The asynchronous examples under ``examples/`` run as their users would
run them: as separate processes against the broker, checked by their
output, each bounded by a timeout."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from pika.connection import URLParameters
from tests.integration.select_support import (
    Recorder,
    broker_pid_of,
    close_connection,
    open_channel,
    open_connection,
    pump,
    unique,
)
from tests.utils import broker

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


class ExampleProcess:
    """One example script in a subprocess; its output read line by line."""

    def __init__(self, script: str, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=str(REPO),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, start: str, timeout: float = 20.0) -> str:
        """The first line from now on that starts with ``start``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(start):
                return line
        raise AssertionError(f"no line starting with {start!r}; output so far: {self.lines!r}")

    def finish(self, timeout: float = 20.0) -> int:
        """Wait for the exit; the rest of the output goes to ``lines``."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"example did not exit; output: {self.lines!r}") from None
        self._reader.join(timeout=5)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def names(broker_url: str) -> Iterator[tuple[str, str]]:
    """A fresh exchange and queue name; both deleted afterwards."""
    exchange, queue_name = unique("example-ex"), unique("example-q")
    yield exchange, queue_name
    conn = open_connection(URLParameters(broker_url))
    chan = open_channel(conn)
    rec = Recorder()
    chan.queue_delete(queue_name, callback=rec.cb("queue"))
    chan.exchange_delete(exchange, callback=rec.cb("exchange"))
    pump(conn.ioloop, lambda: rec.get("exchange") or chan.is_closed)
    close_connection(conn)
    conn.ioloop.close()


def consumer(url: str, exchange: str, queue_name: str, *extra: str) -> ExampleProcess:
    return ExampleProcess(
        "asynchronous_consumer.py",
        "--url",
        url,
        "--exchange",
        exchange,
        "--queue",
        queue_name,
        "--routing-key",
        "example.#",
        *extra,
    )


def publisher(url: str, exchange: str, count: int) -> ExampleProcess:
    return ExampleProcess(
        "asynchronous_publisher.py",
        "--url",
        url,
        "--exchange",
        exchange,
        "--routing-key",
        "example.text",
        "--count",
        str(count),
        "--interval",
        "0.02",
    )


@pytest.fixture
def refused_url() -> str:
    """An AMQP URL of a loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F"


def test_publisher_confirms_and_consumer_acks(broker_url: str, names: tuple[str, str]) -> None:
    exchange, queue_name = names
    consuming = consumer(broker_url, exchange, queue_name, "--exit-after", "5")
    try:
        consuming.wait_for_line("consuming from")
        publishing = publisher(broker_url, exchange, 5)
        assert publishing.finish() == 0, publishing.lines
        assert "publisher confirms on" in publishing.lines
        assert publishing.lines[-1] == "done: 5 acked, 0 nacked, 0 unconfirmed"
        assert consuming.finish() == 0, consuming.lines
        received = [line for line in consuming.lines if line.startswith("received #")]
        assert len(received) == 5
        assert all('"number"' in line for line in received)
        assert consuming.lines[-1] == "stopped after 5 messages"
    finally:
        consuming.kill()
    info = broker.queue_info(queue_name)
    assert info is not None and info.messages == 0  # every message acked


def test_consumer_reconnects_after_forced_close(broker_url: str, names: tuple[str, str]) -> None:
    exchange, queue_name = names
    name = unique("example-consumer")
    settings = quote(repr({"connection_name": name}))
    url = f"{broker_url}?client_properties={settings}"
    consuming = consumer(url, exchange, queue_name, "--exit-after", "1")
    try:
        consuming.wait_for_line("consuming from")
        broker.close_connection(broker_pid_of(name), "forced by a test")
        assert "CONNECTION_FORCED" in consuming.wait_for_line("connection closed:")
        consuming.wait_for_line("reconnecting in")
        consuming.wait_for_line("consuming from")
        publishing = publisher(broker_url, exchange, 1)
        assert publishing.finish() == 0, publishing.lines
        assert consuming.finish() == 0, consuming.lines
        assert consuming.lines[-1] == "stopped after 1 messages"
    finally:
        consuming.kill()


def test_consumer_stops_cleanly_on_sigterm(broker_url: str, names: tuple[str, str]) -> None:
    exchange, queue_name = names
    consuming = consumer(broker_url, exchange, queue_name)
    try:
        consuming.wait_for_line("consuming from")
        consuming.process.send_signal(signal.SIGTERM)
        assert consuming.finish() == 0, consuming.lines
        assert consuming.lines[-1] == "stopped after 0 messages"
    finally:
        consuming.kill()


def test_publisher_reports_connection_failure_and_retries(refused_url: str) -> None:
    publishing = publisher(refused_url, "unused", 1)
    try:
        assert "connection failed" in publishing.wait_for_line("connection failed")
        publishing.wait_for_line("reconnecting in 0.5 s")
        publishing.wait_for_line("reconnecting in 1 s")
        publishing.process.send_signal(signal.SIGINT)
        assert publishing.finish() == 1, publishing.lines
        assert publishing.lines[-1] == "done: 0 acked, 0 nacked, 0 unconfirmed"
    finally:
        publishing.kill()
