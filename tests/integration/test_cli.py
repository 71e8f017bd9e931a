"""The command line (``python -m pika``) run as a subprocess against the broker.

Each test runs the real command with a timeout and checks its output and
exit code, including the failures a user meets: an unreachable broker, a
missing exchange or queue, an unroutable or nacked message with --confirm.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from pika.adapters.select_connection import SelectConnection
from pika.parameters import URLParameters
from tests.integration.select_support import (
    Recorder,
    close_connection,
    open_channel,
    open_connection,
    pump,
    unique,
)
from tests.utils.broker import queue_info
from tests.utils.sockets import free_ports
from tests.utils.wait import wait_until

COMMAND_TIMEOUT = 60.0


def run_cli(
    url: str, *args: str, stdin: Optional[bytes] = None, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, AMQP_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "pika", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )


class QueueFixture:
    """Declares queues through the library and deletes them at the end."""

    def __init__(self, url: str) -> None:
        self.connection: SelectConnection = open_connection(URLParameters(url))
        self.channel = open_channel(self.connection)
        self.names: list[str] = []

    def declare(self, prefix: str, arguments: Optional[dict[str, Any]] = None) -> str:
        name = unique(prefix)
        rec = Recorder()
        self.channel.queue_declare(name, arguments=arguments, callback=rec.cb("ok"))
        pump(self.connection.ioloop, rec.has("ok"), message="queue declared")
        self.names.append(name)
        return name

    def close(self) -> None:
        rec = Recorder()
        for name in self.names:
            self.channel.queue_delete(name, callback=rec.cb("deleted"))
        pump(self.connection.ioloop, rec.has("deleted", len(self.names)), message="deleted")
        close_connection(self.connection)


@pytest.fixture
def queues(broker_url: str) -> Iterator[QueueFixture]:
    fixture = QueueFixture(broker_url)
    yield fixture
    fixture.close()


def test_version_and_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pika", "--version"], capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith(b"pika ")
    result = subprocess.run(
        [sys.executable, "-m", "pika", "perf", "--help"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert b"--producers" in result.stdout and b"--confirm" in result.stdout


def test_publish_lines_with_confirm_then_consume(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-lines")
    published = run_cli(
        broker_url, "publish", "-r", queue, "--lines", "--confirm", stdin=b"one\ntwo\nthree\n"
    )
    assert published.returncode == 0, published.stderr
    assert b"published 3 messages" in published.stdout
    assert b"confirmed" in published.stdout
    consumed = run_cli(broker_url, "consume", queue, "--count", "3")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout == b"one\ntwo\nthree\n"
    info = queue_info(queue)
    assert info is not None and info.messages == 0


def test_publish_body_argument_and_file(
    broker_url: str, queues: QueueFixture, tmp_path: Path
) -> None:
    queue = queues.declare("cli-sources")
    body_file = tmp_path / "body.bin"
    body_file.write_bytes(b"\x00\xffbinary")
    assert run_cli(broker_url, "publish", "-r", queue, "from-argument").returncode == 0
    assert run_cli(broker_url, "publish", "-r", queue, "-f", str(body_file)).returncode == 0
    assert run_cli(broker_url, "publish", "-r", queue, stdin=b"from-stdin").returncode == 0
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    consumed = run_cli(broker_url, "consume", queue, "-n", "3", "--output-dir", str(out_dir))
    assert consumed.returncode == 0, consumed.stderr
    files = sorted(out_dir.iterdir())
    assert [path.name for path in files] == [
        "message-000001.bin",
        "message-000002.bin",
        "message-000003.bin",
    ]
    assert [path.read_bytes() for path in files] == [
        b"from-argument",
        b"\x00\xffbinary",
        b"from-stdin",
    ]
    assert consumed.stdout.decode().split() == [str(path) for path in files]


def test_properties_round_trip_as_json(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-props")
    published = run_cli(
        broker_url,
        "publish",
        "-r",
        queue,
        "--content-type",
        "application/json",
        "--persistent",
        "--priority",
        "3",
        "--correlation-id",
        "abc",
        "-H",
        "source=test",
        "--headers-json",
        '{"attempt": 2}',
        '{"x": 1}',
    )
    assert published.returncode == 0, published.stderr
    consumed = run_cli(broker_url, "consume", queue, "-n", "1", "--json")
    assert consumed.returncode == 0, consumed.stderr
    record = json.loads(consumed.stdout)
    assert record["routing_key"] == queue
    assert record["body"] == '{"x": 1}'
    props = record["properties"]
    assert props["content_type"] == "application/json"
    assert props["delivery_mode"] == 2
    assert props["priority"] == 3
    assert props["correlation_id"] == "abc"
    assert props["headers"] == {"source": "test", "attempt": 2}


def test_unroutable_with_confirm_fails(broker_url: str) -> None:
    result = run_cli(broker_url, "publish", "-r", unique("nobody-bound"), "--confirm", "lost")
    assert result.returncode == 4
    assert b"unroutable" in result.stderr and b"NO_ROUTE" in result.stderr
    assert result.stdout == b""


def test_nack_with_confirm_fails(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-full", {"x-max-length": 0, "x-overflow": "reject-publish"})
    result = run_cli(broker_url, "publish", "-r", queue, "--confirm", "refused")
    assert result.returncode == 3
    assert b"nacked 1 of 1" in result.stderr


def test_missing_exchange_and_queue_fail_clearly(broker_url: str) -> None:
    result = run_cli(broker_url, "publish", "-e", unique("no-exchange"), "-r", "x", "body")
    assert result.returncode == 1
    assert b"NOT_FOUND" in result.stderr and b"exchange" in result.stderr
    result = run_cli(broker_url, "consume", unique("no-queue"), "-n", "1")
    assert result.returncode == 1
    assert b"NOT_FOUND" in result.stderr


def test_unreachable_broker(broker_url: str) -> None:
    (port,) = free_ports(1)
    url = f"amqp://guest:s3cret@127.0.0.1:{port}/"
    for args in (("publish", "-r", "q", "x"), ("consume", "q"), ("perf", "--duration", "1")):
        result = run_cli(url, *args, timeout=30)
        assert result.returncode == 1, args
        assert b"cannot connect to amqp://guest:***@127.0.0.1" in result.stderr
        assert b"is a broker running there?" in result.stderr
        assert b"s3cret" not in result.stderr


def test_bad_url_is_a_usage_error() -> None:
    result = run_cli("http://example/", "publish", "x")
    assert result.returncode == 2
    assert b"bad broker URL" in result.stderr


def test_consume_idle_timeout_on_empty_queue(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-idle")
    result = run_cli(broker_url, "consume", queue, "--idle-timeout", "0.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""


def _start_consumer(url: str, queue: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, AMQP_URL=url)
    process = subprocess.Popen(
        [sys.executable, "-m", "pika", "consume", queue],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )

    def registered() -> bool:
        info = queue_info(queue)
        return info is not None and info.consumers > 0

    wait_until(registered, timeout=30, message="the consumer is registered")
    return process


def test_consume_fails_when_the_queue_is_deleted(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-deleted")
    process = _start_consumer(broker_url, queue)
    rec = Recorder()
    queues.channel.queue_delete(queue, callback=rec.cb("deleted"))
    pump(queues.connection.ioloop, rec.has("deleted"), message="queue deleted")
    _out, err = process.communicate(timeout=COMMAND_TIMEOUT)
    assert process.returncode == 1
    assert b"the broker cancelled the consumer" in err


def test_consume_stops_on_ctrl_c(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-interrupt")
    process = _start_consumer(broker_url, queue)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=COMMAND_TIMEOUT)
    assert process.returncode == 130
    assert err == b""


def test_perf_duration_json(broker_url: str) -> None:
    result = run_cli(broker_url, "perf", "--duration", "2", "--interval", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["producers"] == 1 and summary["consumers"] == 1
    assert summary["sent"] > 0 and summary["received"] > 0
    assert summary["sent_per_s"] > 0 and summary["received_per_s"] > 0
    latency = summary["latency_us"]
    assert 0 <= latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert summary["cpu_us_per_msg"]["producer"] > 0
    assert summary["cpu_us_per_msg"]["consumer"] > 0
    assert b"msg/s" in result.stderr  # the progress lines
    assert queue_info(summary["queue"]) is None  # its fresh queue is deleted


def test_perf_count_with_confirms_text_summary(broker_url: str) -> None:
    result = run_cli(
        broker_url,
        "perf",
        "--producers",
        "2",
        "--consumers",
        "2",
        "--count",
        "3000",
        "--confirm",
        "50",
        "--size",
        "64",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "2 producers, 2 consumers, 64-byte messages" in text
    assert "confirmed 3,000, nacked 0" in text
    assert "received         3,000 msgs" in text
    assert "latency   min" in text and "p99" in text
    assert "client CPU producers" in text
    assert result.stderr == b""


def test_perf_consumers_only_drain_a_named_queue(broker_url: str, queues: QueueFixture) -> None:
    queue = queues.declare("cli-drain")
    filled = run_cli(
        broker_url, "perf", "--queue", queue, "--consumers", "0", "--count", "500", "--json"
    )
    assert filled.returncode == 0, filled.stderr
    assert json.loads(filled.stdout)["sent"] == 500
    drained = run_cli(
        broker_url, "perf", "--queue", queue, "--producers", "0", "--count", "500", "--json"
    )
    assert drained.returncode == 0, drained.stderr
    summary = json.loads(drained.stdout)
    assert summary["received"] == 500
    assert summary["latency_us"]["max"] > 0
    info = queue_info(queue)
    assert info is not None and info.messages == 0  # a named queue is kept


class Names:
    """Queue and exchange names a test uses; deleted afterwards."""

    def __init__(self) -> None:
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, prefix: str) -> str:
        self.queues.append(unique(prefix))
        return self.queues[-1]

    def exchange(self, prefix: str) -> str:
        self.exchanges.append(unique(prefix))
        return self.exchanges[-1]


@pytest.fixture
def names(broker_url: str) -> Iterator[Names]:
    made = Names()
    yield made
    connection = open_connection(URLParameters(broker_url))
    channel = open_channel(connection)
    rec = Recorder()
    for queue in made.queues:
        channel.queue_delete(queue, callback=rec.cb("deleted"))
    for exchange in made.exchanges:
        channel.exchange_delete(exchange, callback=rec.cb("deleted"))
    total = len(made.queues) + len(made.exchanges)
    pump(connection.ioloop, rec.has("deleted", total), message="deleted")
    close_connection(connection)


def _readme_commands() -> list[str]:
    """The ``python -m pika`` lines of the README's command-line section."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("python -m pika ")]


@pytest.mark.timeout(300)
def test_readme_examples_run_on_a_fresh_broker(
    broker_url: str, names: Names, tmp_path: Path
) -> None:
    """Every command of the README's command-line section, in order, with
    fresh names, runs and exits 0 (perf runs shortened)."""
    commands = _readme_commands()
    assert len(commands) >= 10
    renames = {
        "app-logs": names.queue("readme-app-logs"),
        "tasks": names.queue("readme-tasks"),
        "logs": names.exchange("readme-logs"),
        "jobs": names.queue("readme-jobs"),
    }
    (tmp_path / "messages.txt").write_text("first line\nsecond line\n")
    (tmp_path / "bodies").mkdir()
    outputs: dict[str, bytes] = {}
    for command in commands:
        argv = shlex.split(command)[3:]
        argv = [renames.get(arg, arg) for arg in argv]
        for option, short in (("-d", "1"), ("--count", "2000")):
            if "perf" in argv and option in argv:
                argv[argv.index(option) + 1] = short
        done = subprocess.run(
            [sys.executable, "-m", "pika", *argv],
            cwd=tmp_path,
            env=dict(os.environ, AMQP_URL=broker_url),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
        outputs[command] = done.stdout
    consumed = [out for command, out in outputs.items() if " consume tasks --count" in command]
    assert consumed and consumed[0].startswith(b"hello\n")
    as_json = [out for command, out in outputs.items() if " consume app-logs --json" in command]
    bodies = [json.loads(line)["body"] for line in as_json[0].splitlines()]
    assert bodies == ["first line", "second line"]


def test_declare_queue_exchange_and_binding(broker_url: str, names: Names) -> None:
    exchange, queue = names.exchange("cli-ex"), names.queue("cli-bound")
    made = run_cli(broker_url, "declare", "exchange", exchange, "--type", "topic")
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"declared exchange {exchange!r} (topic)\n".encode()
    made = run_cli(
        broker_url, "declare", "queue", queue, "--quorum", "--bind", exchange, "-k", "a.*"
    )
    assert made.returncode == 0, made.stderr
    assert f"declared queue {queue!r} (durable, quorum)".encode() in made.stdout
    assert f"bound queue {queue!r} to exchange {exchange!r} with key 'a.*'".encode() in made.stdout
    assert run_cli(broker_url, "publish", "-e", exchange, "-r", "a.b", "routed").returncode == 0
    # The same declaration again changes nothing (the message is still there);
    # a different one is refused.
    again = run_cli(broker_url, "declare", "queue", queue, "--quorum")
    assert again.returncode == 0 and b"1 message(s)" in again.stdout
    clash = run_cli(broker_url, "declare", "queue", queue)
    assert clash.returncode == 1
    assert b"PRECONDITION_FAILED" in clash.stderr and clash.stderr.count(b"\n") == 1


def test_publish_and_consume_declare_their_queue(broker_url: str, names: Names) -> None:
    queue = names.queue("cli-declared")
    published = run_cli(broker_url, "publish", "-r", queue, "--declare", "--durable", "kept")
    assert published.returncode == 0, published.stderr
    assert f"declared queue {queue!r} (durable)".encode() in published.stderr
    consumed = run_cli(
        broker_url, "consume", queue, "--declare", "--durable", "-n", "1", "--idle-timeout", "5"
    )
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout == b"kept\n"
    fresh = names.queue("cli-consume-declared")
    idle = run_cli(broker_url, "consume", fresh, "--declare", "--idle-timeout", "0.5")
    assert idle.returncode == 0, idle.stderr
    assert queue_info(fresh) is not None


def test_unroutable_without_confirm_is_reported(broker_url: str) -> None:
    # A queue that does not exist: the message would vanish.
    missing = unique("missing-queue")
    result = run_cli(broker_url, "publish", "-r", missing, "--lines", stdin=b"a\nb\nc\n")
    assert result.returncode == 4
    assert result.stdout == b""
    assert result.stderr.count(b"\n") == 1
    assert b"3 of 3 message(s) returned as unroutable" in result.stderr
    assert b"NO_ROUTE" in result.stderr and missing.encode() in result.stderr


def _perf(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pika", "perf", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, AMQP_URL=url),
    )


@pytest.mark.timeout(180)
def test_perf_ctrl_c_keeps_elapsed_time_and_totals(broker_url: str) -> None:
    process = _perf(broker_url, "--duration", "120", "--interval", "0.3", "--json")
    try:
        assert process.stderr is not None
        # Wait for a progress line that shows messages received.
        for line in process.stderr:
            if "received" in line and "received         0 msg/s" not in line:
                break
        process.send_signal(signal.SIGINT)
        out, _err = process.communicate(timeout=COMMAND_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    summary = json.loads(out)
    assert summary["interrupted"] is True
    assert 0.2 < summary["duration_s"] < 120
    assert summary["sent"] > 0 and summary["received"] > 0
    assert summary["latency_us"]["max"] > 0
    assert summary["left_in_queue"] is not None
    assert queue_info(summary["queue"]) is None


def test_perf_progress_lines_show_latency(broker_url: str) -> None:
    result = run_cli(broker_url, "perf", "--duration", "2", "--interval", "0.4", "--rate", "500")
    assert result.returncode == 0, result.stderr
    progress = result.stderr.decode().splitlines()
    assert progress and all(" s  sent " in line for line in progress)
    with_latency = [line for line in progress if "latency p50 " in line]
    assert with_latency and all(" p95 " in line and " max " in line for line in with_latency)
    assert not [line for line in progress if "in flight -" in line]


def test_perf_warns_when_the_size_cannot_carry_the_stamp(broker_url: str) -> None:
    result = run_cli(broker_url, "perf", "--size", "4", "--count", "200", "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    assert b"--size 4 is below the 12-byte timestamp" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["received"] == 200 and summary["latency_us"] is None
    fits = run_cli(broker_url, "perf", "--size", "12", "--count", "200", "--json", "--quiet")
    assert fits.returncode == 0 and fits.stderr == b""
    assert json.loads(fits.stdout)["latency_us"]["p50"] >= 0


def test_perf_reports_messages_left_in_the_queue(broker_url: str, queues: QueueFixture) -> None:
    # Producers only, with confirms: every message is in the queue at the end.
    fresh = run_cli(broker_url, "perf", "-y", "0", "-C", "300", "-c", "50", "--quiet")
    assert fresh.returncode == 0, fresh.stderr
    assert "left               300 msgs ready in the queue" in fresh.stdout.decode()
    queue = queues.declare("cli-left")
    named = run_cli(broker_url, "perf", "-u", queue, "-y", "0", "-C", "120", "-c", "50", "--json")
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["left_in_queue"] == 120
    drained = run_cli(broker_url, "perf", "-u", queue, "-x", "0", "-C", "120", "--json")
    assert drained.returncode == 0, drained.stderr
    assert json.loads(drained.stdout)["left_in_queue"] == 0
