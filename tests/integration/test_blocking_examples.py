"""Each blocking-API example under ``examples/`` runs as written, in a
subprocess with a timeout, against the test broker; the tests check what it
prints and what it leaves in the broker."""

from __future__ import annotations

import os
import queue as queue_mod
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pika.adapters.blocking_connection import BlockingChannel
from tests.integration.blocking_support import (
    broker_close,
    open_connection,
    unique,
)
from tests.utils.sockets import free_ports

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_TIMEOUT = 60.0


def example_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["AMQP_URL"] = url
    # The examples import the package under test, not an installed copy.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_example(url: str, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=example_env(url),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


class RunningExample:
    """An example in a subprocess whose output lines can be waited for."""

    def __init__(self, url: str, name: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / name), *args],
            env=example_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._incoming: queue_mod.Queue[str] = queue_mod.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The next output line containing ``text`` (earlier lines are kept)."""
        while True:
            try:
                line = self._incoming.get(timeout=timeout)
            except queue_mod.Empty:
                raise AssertionError(
                    f"no line with {text!r} within {timeout:g} s; output so far: {self.lines}"
                ) from None
            self.lines.append(line)
            if text in line:
                return line

    def finish(self, timeout: float = RUN_TIMEOUT) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        while not self._incoming.empty():
            self.lines.append(self._incoming.get())
        return code


@pytest.fixture
def chan(broker_url: str) -> Iterator[BlockingChannel]:
    with open_connection(broker_url) as connection:
        yield connection.channel()


@pytest.fixture
def queue(chan: BlockingChannel) -> Iterator[str]:
    """A durable-free shared queue the example can see (deleted afterwards)."""
    name = unique("example")
    yield name
    if chan.is_open:
        chan.queue_delete(name)


def ready(chan: BlockingChannel, queue: str) -> int:
    return chan.queue_declare(queue, passive=True).method.message_count or 0


def test_simple_publisher(broker_url: str, chan: BlockingChannel, queue: str) -> None:
    done = run_example(broker_url, "blocking_publisher.py", queue)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip("\n") == f" [x] Sent 'Hello World!' to {queue}"
    assert chan.basic_get(queue, auto_ack=True)[2] == b"Hello World!"


def test_consume_generator_stops_after_ten_and_reports_requeued(
    broker_url: str, chan: BlockingChannel, queue: str
) -> None:
    chan.queue_declare(queue)
    for number in range(15):
        chan.basic_publish("", queue, b"message %d" % number)
    done = run_example(broker_url, "blocking_consume_generator.py", queue)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    received = [line for line in lines if line.startswith(" [x] Received #")]
    assert received == [f" [x] Received #{n + 1}: b'message {n}'" for n in range(10)]
    summary = lines[-1]
    assert summary.startswith("Received 10 messages; requeued ")
    requeued = int(summary.split("requeued ")[1].split()[0])
    # All five unread messages are back, whether they had reached the client
    # (counted as requeued) or were still on their way when it cancelled.
    assert 0 <= requeued <= 5
    assert ready(chan, queue) == 5


def test_recovery_loop_reconnects_after_a_broker_close(
    broker_url: str, chan: BlockingChannel, queue: str
) -> None:
    chan.queue_declare(queue)
    example = RunningExample(broker_url, "blocking_recovery_loop.py", queue)
    try:
        example.wait_for(f"Consuming from {queue}")
        chan.basic_publish("", queue, b"before")
        example.wait_for("Received b'before'")
        broker_close(f"recovery-example {queue}", "an operator closed it")
        line = example.wait_for("Connection closed by the broker")
        assert "CONNECTION_FORCED" in line and "an operator closed it" in line
        example.wait_for(f"Consuming from {queue}")
        chan.basic_publish("", queue, b"after")
        example.wait_for("Received b'after'")
        chan.basic_publish("", queue, b"stop")
        example.wait_for("Stopped by a 'stop' message")
    finally:
        code = example.finish()
    assert code == 0, example.lines
    assert ready(chan, queue) == 0


def test_recovery_loop_does_not_retry_a_channel_error(broker_url: str) -> None:
    done = run_example(broker_url, "blocking_recovery_loop.py", unique("missing"))
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("Channel error") == 1
    assert "404" in done.stdout and "not retrying" in done.stdout


def test_recovery_loop_gives_up_on_an_unreachable_broker(broker_url: str) -> None:
    dead_url = f"amqp://guest:guest@127.0.0.1:{free_ports(1)[0]}/%2F"
    done = run_example(dead_url, "blocking_recovery_loop.py", unique("anything"))
    assert done.returncode == 1, done.stderr
    failures = [line for line in done.stdout.splitlines() if line.startswith("Connection failed")]
    assert len(failures) == 3
    assert done.stdout.splitlines()[-1] == "Giving up"


def test_threaded_ack_consumer(broker_url: str, chan: BlockingChannel, queue: str) -> None:
    chan.queue_declare(queue)
    for number in range(12):
        chan.basic_publish("", queue, b"job %d" % number)
    done = run_example(broker_url, "blocking_threaded_ack.py", queue, "12")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    processed = [line.split(": processed ") for line in lines if ": processed " in line]
    assert sorted(body for _thread, body in processed) == sorted(
        f"b'job {number}'" for number in range(12)
    )
    workers = {thread for thread, _body in processed}
    assert all(thread.startswith("worker-") for thread in workers)
    # The work was spread over several threads.
    assert len(workers) > 1
    assert lines[-1] == "MainThread: acknowledged 12 messages from worker threads"
    assert ready(chan, queue) == 0


def test_pipelined_confirms(broker_url: str, chan: BlockingChannel, queue: str) -> None:
    done = run_example(broker_url, "blocking_pipelined_confirms.py", queue, "5000")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Published and confirmed 5000 messages in ")
    assert ready(chan, queue) == 5000


def test_pipelined_confirms_reports_nacks(
    broker_url: str, chan: BlockingChannel, queue: str
) -> None:
    done = run_example(
        broker_url, "blocking_pipelined_confirms.py", queue, "300", "--max-length", "250"
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "50 messages failed (nacked or returned):"
    assert lines[1] == "  nacked: #251 b'message 250'"
    assert lines[-1] == "  ... and 40 more"
    assert ready(chan, queue) == 250
