"""One benchmark scenario, run in this fresh process with whichever ``pika`` it imports.

``benchmarks/run.py`` starts this script once per scenario, library and
round: with the project's interpreter it measures this project, with the
benchmark virtualenv's interpreter it measures PyPI's pika. The code below
uses only Pika's public interface, so both libraries run the very same
program (the pipelined-confirm scenario uses this project's
``channel.publisher()`` where it exists, and Pika's one-round-trip-per-
message confirms where it does not).

Usage: ``python scenarios.py SCENARIO [--quick]`` prints one JSON object:
the measured figures, or ``{"error": ...}``. The measurement window covers
only the work being measured (not imports, connecting or filling a queue);
client CPU comes from getrusage over the same window.

The ``*_otel`` scenarios are the same ones traced and measured with
``pika.otel`` into OpenTelemetry's SDK (this project only).

``python scenarios.py rpc-server QUEUE`` is the RPC scenario's server
(``aio-rpc-server`` the asyncio one). The ``aio_*`` scenarios are in
``aio_scenarios.py``: `pika.aio` against aio-pika. ``rabbitmq_c.c`` is
the blocking publish and consume scenarios on the C client.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any, Callable

import pika

URL = os.environ.get("BENCH_URL", "amqp://guest:guest@127.0.0.1:5672/")
SMALL = b"x" * 128
LARGE = bytes(range(256)) * 4096  # 1 MiB
#: Large messages published before they are consumed, each round.
LARGE_BATCH = 4
PREFETCH = 1000
CONFIRM_WINDOW = 1000
REPLY_TO = "amq.rabbitmq.reply-to"


def cpu_times() -> tuple[float, float]:
    """User and system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


#: A profiler (``cProfile.Profile``) that `Window` turns on while it measures:
#: set by ``profile_scenario.py``.
PROFILER: Any = None


class Window:
    """Wall-clock and CPU time of the measured part."""

    def __enter__(self) -> Window:
        self.user, self.system = cpu_times()
        self.start = time.perf_counter()
        if PROFILER is not None:
            PROFILER.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if PROFILER is not None:
            PROFILER.disable()
        self.elapsed = time.perf_counter() - self.start
        user, system = cpu_times()
        self.user, self.system = user - self.user, system - self.system
        self.cpu = self.user + self.system

    def per_message(self, count: int) -> dict[str, float]:
        """Client CPU per message in µs, and the kernel's (system) part of it."""
        return {
            "cpu_us_per_msg": self.cpu / count * 1e6,
            "sys_us_per_msg": self.system / count * 1e6,
        }


def throughput(window: Window, count: int) -> dict[str, Any]:
    return {
        "count": count,
        "elapsed_s": window.elapsed,
        "msgs_per_s": count / window.elapsed,
        **window.per_message(count),
    }


def blocking() -> Any:
    return pika.BlockingConnection(pika.URLParameters(URL))


def fresh_queue(channel: Any) -> str:
    name = f"bench-{uuid.uuid4().hex[:12]}"
    channel.queue_declare(name)
    return name


def fill(channel: Any, queue: str, count: int, body: bytes) -> None:
    for _ in range(count):
        channel.basic_publish("", queue, body)
    channel.queue_declare(queue, passive=True)  # a round trip: all of it arrived


def wait_until_queued(channel: Any, queue: str, count: int) -> None:
    """Wait until the broker reports ``count`` messages ready in ``queue``."""
    deadline = time.monotonic() + 60
    while channel.queue_declare(queue, passive=True).method.message_count < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{queue} never held {count} messages")
        time.sleep(0.05)


# --------------------------------------------------------------------- scenarios


def blocking_publish(seconds: float) -> dict[str, Any]:
    connection = blocking()
    channel = connection.channel()
    queue = fresh_queue(channel)
    publish = channel.basic_publish
    sent = 0
    try:
        with Window() as window:
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                for _ in range(1000):
                    publish("", queue, SMALL)
                sent += 1000
            channel.queue_declare(queue, passive=True)
    finally:
        channel.queue_delete(queue)
        connection.close()
    return throughput(window, sent)


def select_run(setup: Callable[[Any, Any, Callable[[], None]], None]) -> None:
    """Run a SelectConnection until ``setup(connection, channel, done)`` calls done."""
    failures: list[BaseException] = []

    def on_open(connection: Any) -> None:
        connection.channel(on_open_callback=lambda channel: setup(connection, channel, done))

    def on_open_error(connection: Any, error: BaseException) -> None:
        failures.append(error)
        connection.ioloop.stop()

    def on_closed(connection: Any, error: BaseException) -> None:
        connection.ioloop.stop()

    connection = pika.SelectConnection(
        pika.URLParameters(URL),
        on_open_callback=on_open,
        on_open_error_callback=on_open_error,
        on_close_callback=on_closed,
    )

    def done() -> None:
        connection.close()

    connection.ioloop.start()
    if failures:
        raise failures[0]


def select_publish(count: int) -> dict[str, Any]:
    window = Window()
    queue = f"bench-{uuid.uuid4().hex[:12]}"

    def setup(connection: Any, channel: Any, done: Callable[[], None]) -> None:
        sent = [0]

        def publish_batch() -> None:
            publish = channel.basic_publish
            for _ in range(1000):
                publish("", queue, SMALL)
            sent[0] += 1000
            if sent[0] < count:
                connection.ioloop.call_later(0, publish_batch)
            else:
                channel.queue_declare(queue, passive=True, callback=finished)

        def finished(_frame: Any) -> None:
            window.__exit__()
            channel.queue_delete(queue, callback=lambda _frame: done())

        def start(_frame: Any) -> None:
            window.__enter__()
            publish_batch()

        channel.queue_declare(queue, callback=start)

    select_run(setup)
    return throughput(window, count)


def blocking_consume(count: int) -> dict[str, Any]:
    connection = blocking()
    channel = connection.channel()
    queue = fresh_queue(channel)
    try:
        fill(channel, queue, count, SMALL)
        wait_until_queued(channel, queue, count)
        channel.basic_qos(prefetch_count=PREFETCH)
        received = [0]

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            ch.basic_ack(method.delivery_tag)
            received[0] += 1
            if received[0] >= count:
                ch.stop_consuming()

        channel.basic_consume(queue, on_message)
        with Window() as window:
            channel.start_consuming()
    finally:
        channel.queue_delete(queue)
        connection.close()
    return throughput(window, count)


def select_consume(count: int) -> dict[str, Any]:
    connection = blocking()
    channel = connection.channel()
    queue = fresh_queue(channel)
    fill(channel, queue, count, SMALL)
    wait_until_queued(channel, queue, count)
    window = Window()

    def setup(connection: Any, channel: Any, done: Callable[[], None]) -> None:
        received = [0]

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            ch.basic_ack(method.delivery_tag)
            received[0] += 1
            if received[0] == count:
                window.__exit__()
                done()

        def start(_frame: Any) -> None:
            window.__enter__()
            channel.basic_consume(queue, on_message)

        channel.basic_qos(prefetch_count=PREFETCH, callback=start)

    try:
        select_run(setup)
    finally:
        channel.queue_delete(queue)
        connection.close()
    return throughput(window, count)


def confirms(seconds: float) -> dict[str, Any]:
    """Publish with every confirm checked: pipelined where the library can."""
    connection = blocking()
    channel = connection.channel()
    queue = fresh_queue(channel)
    sent = 0
    pipelined = hasattr(channel, "publisher")
    try:
        with Window() as window:
            deadline = time.perf_counter() + seconds
            if pipelined:
                with channel.publisher(window=CONFIRM_WINDOW) as publisher:
                    while time.perf_counter() < deadline:
                        for _ in range(100):
                            publisher.publish("", queue, SMALL)
                        sent += 100
            else:
                channel.confirm_delivery()
                while time.perf_counter() < deadline:
                    for _ in range(100):
                        channel.basic_publish("", queue, SMALL)
                    sent += 100
    finally:
        channel.queue_delete(queue)
        connection.close()
    result = throughput(window, sent)
    result["mode"] = f"pipelined, window {CONFIRM_WINDOW}" if pipelined else "one round trip each"
    return result


def select_confirms(count: int) -> dict[str, Any]:
    """SelectConnection with a window of unconfirmed messages: the same code for both."""
    window = Window()
    queue = f"bench-{uuid.uuid4().hex[:12]}"

    def setup(connection: Any, channel: Any, done: Callable[[], None]) -> None:
        state = {"sent": 0, "confirmed": 0, "nacked": 0}

        def top_up() -> None:
            room = CONFIRM_WINDOW - (state["sent"] - state["confirmed"])
            batch = min(room, count - state["sent"])
            for _ in range(batch):
                channel.basic_publish("", queue, SMALL)
            state["sent"] += max(batch, 0)

        def on_confirm(method_frame: Any) -> None:
            method = method_frame.method
            tag = method.delivery_tag
            newly = tag - state["confirmed"] if method.multiple else 1
            state["confirmed"] += newly
            if type(method).__name__ == "Nack":
                state["nacked"] += newly
            if state["confirmed"] >= count:
                window.__exit__()
                if state["nacked"]:
                    raise RuntimeError(f"{state['nacked']} messages nacked")
                channel.queue_delete(queue, callback=lambda _frame: done())
            else:
                top_up()

        def start(_frame: Any) -> None:
            window.__enter__()
            top_up()

        channel.confirm_delivery(
            on_confirm, callback=lambda _frame: channel.queue_declare(queue, callback=start)
        )

    select_run(setup)
    return throughput(window, count)


def rpc(count: int, server_command: list[str] | None = None) -> dict[str, Any]:
    """Request/reply over direct reply-to; the server is another process:
    `rpc_server`, or ``server_command`` followed by the queue's name (it
    prints ``ready`` once it consumes; ``rpc_floor.py`` passes its own)."""
    queue = f"bench-rpc-{uuid.uuid4().hex[:12]}"
    command = server_command or [sys.executable, __file__, "rpc-server"]
    server = subprocess.Popen([*command, queue], stdout=subprocess.PIPE)
    assert server.stdout is not None
    if server.stdout.readline().strip() != b"ready":
        raise RuntimeError("the RPC server did not start")
    connection = blocking()
    channel = connection.channel()
    replies: list[bytes] = []
    channel.basic_consume(
        REPLY_TO, lambda ch, method, properties, body: replies.append(body), auto_ack=True
    )

    def call(number: int) -> float:
        properties = pika.BasicProperties(reply_to=REPLY_TO, correlation_id=str(number))
        started = time.perf_counter()
        channel.basic_publish("", queue, SMALL, properties)
        while not replies:
            connection.process_data_events(time_limit=None)
        replies.clear()
        return time.perf_counter() - started

    try:
        for number in range(max(50, count // 10)):
            call(number)
        with Window() as window:
            latencies = sorted(call(number) for number in range(count))
        channel.basic_publish("", queue, b"stop")
    finally:
        connection.close()
        server.wait(timeout=30)
    return {
        "count": count,
        "p50_us": statistics.median(latencies) * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99) - 1] * 1e6,
        **window.per_message(count),
    }


def rpc_server(queue: str) -> None:
    connection = blocking()
    channel = connection.channel()
    channel.queue_declare(queue, auto_delete=True)
    channel.basic_qos(prefetch_count=10)
    print("ready", flush=True)
    for method, properties, body in channel.consume(queue, inactivity_timeout=30):
        if method is None or body == b"stop":
            break
        channel.basic_publish(
            "",
            properties.reply_to,
            body,
            pika.BasicProperties(correlation_id=properties.correlation_id),
        )
        channel.basic_ack(method.delivery_tag)
    connection.close()


def bulk(window: Window, count: int, size: int) -> dict[str, Any]:
    """The figures of ``count`` messages of ``size`` bytes: MB/s and CPU per message."""
    return {
        "count": count,
        "elapsed_s": window.elapsed,
        "mb_per_s": count * size / window.elapsed / 1e6,
        **window.per_message(count),
    }


def large(count: int) -> dict[str, Any]:
    """1 MiB messages published and consumed by one process, a few at a time."""
    connection = blocking()
    channel = connection.channel()
    queue = fresh_queue(channel)
    batch = LARGE_BATCH
    received = [0]

    def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
        if len(body) != len(LARGE):
            raise RuntimeError(f"got {len(body)} bytes")
        ch.basic_ack(method.delivery_tag)
        received[0] += 1

    channel.basic_qos(prefetch_count=batch * 2)
    channel.basic_consume(queue, on_message)
    try:
        with Window() as window:
            for start in range(0, count, batch):
                for _ in range(batch):
                    channel.basic_publish("", queue, LARGE)
                while received[0] < start + batch:
                    connection.process_data_events(time_limit=None)
    finally:
        channel.queue_delete(queue)
        connection.close()
    return bulk(window, count, len(LARGE))


def aio(name: str) -> Callable[[Any], dict[str, Any]]:
    """The asyncio scenario ``name`` of ``aio_scenarios.py`` (pika.aio or aio-pika)."""

    def run(argument: Any) -> dict[str, Any]:
        import aio_scenarios

        result: dict[str, Any] = getattr(aio_scenarios, name)(argument)
        return result

    return run


def instrument() -> None:
    """Trace and measure with `pika.otel` into OpenTelemetry's SDK: a batch
    span processor whose exporter discards the spans (no export I/O is
    measured) and an in-memory metric reader."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    import pika.otel

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    pika.otel.instrument(tracer_provider, meter_provider)


def traced(function: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """``function`` with the library instrumented first (this project only:
    `run.py` compares it with the same scenario untraced)."""

    def run(argument: Any) -> dict[str, Any]:
        instrument()
        return function(argument)

    return run


# Each scenario with its argument for a full run and for --quick.
SCENARIOS: dict[str, tuple[Callable[[Any], dict[str, Any]], Any, Any]] = {
    "blocking_publish": (blocking_publish, 3.0, 1.5),
    "select_publish": (select_publish, 150_000, 50_000),
    "blocking_consume": (blocking_consume, 60_000, 20_000),
    "select_consume": (select_consume, 60_000, 20_000),
    "confirms": (confirms, 3.0, 1.5),
    "select_confirms": (select_confirms, 60_000, 20_000),
    "rpc": (rpc, 1500, 500),
    "large": (large, 150, 60),
    "blocking_publish_otel": (traced(blocking_publish), 3.0, 1.5),
    "blocking_consume_otel": (traced(blocking_consume), 60_000, 20_000),
    "aio_publish": (aio("publish"), 100_000, 30_000),
    "aio_consume": (aio("consume"), 60_000, 20_000),
    "aio_confirms": (aio("confirms"), 20_000, 20_000),
    "aio_rpc": (aio("rpc"), 1500, 500),
    "aio_large": (aio("large"), 150, 60),
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["rpc-server"]:
        rpc_server(argv[1])
        return 0
    if argv[:1] == ["aio-rpc-server"]:
        import aio_scenarios

        aio_scenarios.rpc_server(argv[1])
        return 0
    name = argv[0]
    function, full, quick = SCENARIOS[name]
    try:
        result = function(quick if "--quick" in argv else full)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["pika_version"] = pika.__version__
    result["pika_file"] = pika.__file__
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
