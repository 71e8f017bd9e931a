"""The producer and consumer processes of ``pika perf``.

Each worker is its own process (``python -m pika.cli.perf_worker``) with its
own `SelectConnection`, so that producers and consumers do not share one
interpreter lock and each process's CPU time is its own. A worker and the
coordinator (`pika.cli.perf`) exchange JSON lines over the worker's
standard input and output:

- coordinator -> worker: first the `WorkerConfig`, then ``"go"`` (start
  measuring) and ``"stop"``; end of input counts as a stop;
- worker -> coordinator: ``["ready", null]`` once connected and set up,
  ``["progress", counters]`` about every `PROGRESS_SECONDS` (a consumer's
  carry the latency histogram of the messages since its previous report),
  ``["done", result]`` after a stop, ``["error", message]`` on failure.

Each body starts with `STAMP`: 4 magic bytes and the producer's
``time.perf_counter_ns()``, a clock all processes of one machine share, so a
consumer computes each message's latency from it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional

from pika import frame, spec
from pika.channel import Channel
from pika.cli.common import EXIT_OK, ChannelSession, write_backlog
from pika.cli.latency import LatencyHistogram

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

MAGIC = b"PKPF"
STAMP = struct.Struct(">4sQ")
PROGRESS_SECONDS = 0.2
#: Messages published per turn of the I/O loop.
PUBLISH_BATCH = 100
#: Unsent bytes above which a producer waits for the socket to drain.
MAX_WRITE_BACKLOG = 1024 * 1024
BACKLOG_WAIT_SECONDS = 0.001


def cpu_seconds() -> float:
    """User plus system CPU time of this process (getrusage where available)."""
    if resource is not None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    return time.process_time()


def encode_line(message: Any) -> bytes:
    """One message of the coordinator protocol as a JSON line."""
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


class LineReader:
    """Splits bytes read from a pipe into JSON messages, one per line."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Any]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]


@dataclass
class WorkerConfig:
    """What one worker process does; the first line its coordinator sends."""

    role: str  # "producer" or "consumer"
    url: str
    queue: str
    size: int = 128
    count: int = 0  # messages to publish (producer) or receive (consumer); 0: no limit
    rate: float = 0.0  # producer: messages per second; 0: as fast as possible
    confirm_window: int = 0  # producer: unconfirmed messages allowed; 0: no confirms
    persistent: bool = False
    prefetch: int = 1000
    ack_every: int = 1
    auto_ack: bool = False

    def to_line(self) -> bytes:
        return encode_line(dataclasses.asdict(self))


class CoordinatorLink:
    """The worker's end of the protocol: commands on a pipe, reports on a stream."""

    def __init__(self, command_fd: int, reports: BinaryIO) -> None:
        self.command_fd = command_fd
        self.reports = reports
        self.reader = LineReader()

    def read_config(self) -> WorkerConfig:
        """Block until the first line, the configuration, has arrived."""
        while True:
            data = os.read(self.command_fd, 65536)
            if not data:
                raise SystemExit("pika perf worker: no configuration on standard input")
            messages = self.reader.feed(data)
            if messages:
                if len(messages) > 1:
                    raise SystemExit("pika perf worker: a command arrived before it was ready")
                return WorkerConfig(**messages[0])

    def read_commands(self) -> list[Any]:
        """The commands that have arrived; ``["stop"]`` once the coordinator is gone."""
        try:
            data = os.read(self.command_fd, 65536)
        except BlockingIOError:
            return []
        if not data:
            return ["stop"]
        return self.reader.feed(data)

    def send(self, kind: str, payload: Any = None) -> bool:
        """Report to the coordinator; False once it is gone."""
        try:
            self.reports.write(encode_line([kind, payload]))
            self.reports.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True


class PerfWorker(ChannelSession):
    """What producers and consumers share: the go/stop protocol and the timing."""

    def __init__(self, config: WorkerConfig, link: CoordinatorLink) -> None:
        super().__init__(config.url)
        self.config = config
        self.link = link
        self.measuring = False
        self.finished_work = False
        self._stopped = False
        self._started = 0.0
        self._ended = 0.0
        self._cpu_start = 0.0

    # the role's part
    def prepare(self, channel: Channel) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def counters(self) -> dict[str, Any]:
        """The running totals sent with each progress report."""
        raise NotImplementedError

    def final_result(self) -> dict[str, Any]:
        """What the last report carries; `counters` unless the role adds to it."""
        return self.counters()

    def progress(self) -> dict[str, Any]:
        """What each progress report carries; `counters` unless the role adds to it."""
        return self.counters()

    # the protocol
    def on_channel_open(self, channel: Channel) -> None:
        self.prepare(channel)

    def ready(self) -> None:
        ioloop = self.connection.ioloop
        os.set_blocking(self.link.command_fd, False)
        ioloop.add_handler(self.link.command_fd, self._on_commands, ioloop.READ)
        self._report("ready")

    def mark_finished(self) -> None:
        """The worker did its ``count``: its active time ends now."""
        if not self.finished_work:
            self.finished_work = True
            self._ended = time.perf_counter()

    def _on_commands(self, fd: int, events: int) -> None:
        for command in self.link.read_commands():
            if command == "go" and not self.measuring and not self._stopped:
                self._go()
            elif command == "stop":
                self._stop()

    def _on_progress_timer(self) -> None:
        if self.measuring:
            self._report("progress", self.progress())
            self.connection.ioloop.call_later(PROGRESS_SECONDS, self._on_progress_timer)

    def _go(self) -> None:
        self.measuring = True
        self._cpu_start = cpu_seconds()
        self._started = time.perf_counter()
        self.connection.ioloop.call_later(PROGRESS_SECONDS, self._on_progress_timer)
        self.begin()

    def _stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        result = self.final_result()
        if self.measuring:
            end = self._ended if self.finished_work else time.perf_counter()
            result["elapsed"] = end - self._started
            result["cpu"] = cpu_seconds() - self._cpu_start
        else:
            result["elapsed"] = result["cpu"] = 0.0
        self.measuring = False
        result["role"] = self.config.role
        self.connection.ioloop.remove_handler(self.link.command_fd)
        self._report("done", result)
        self.finish(EXIT_OK)

    def _report(self, kind: str, payload: Any = None) -> None:
        if not self.link.send(kind, payload):
            self.finish(EXIT_OK)  # the coordinator is gone


class Producer(PerfWorker):
    """Publishes stamped messages, in batches, within the confirm window and rate."""

    def __init__(self, config: WorkerConfig, link: CoordinatorLink) -> None:
        super().__init__(config, link)
        self.sent = 0
        self.settled = 0
        self.nacked = 0
        self._settled_upto = 0
        self._settled_above: set[int] = set()
        self._waiting_for_confirms = False
        self._filler = b"\0" * max(0, config.size - STAMP.size)
        self._properties = spec.BasicProperties(delivery_mode=2) if config.persistent else None

    def prepare(self, channel: Channel) -> None:
        if self.config.confirm_window:
            channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self.ready())
        else:
            self.ready()

    def begin(self) -> None:
        self._pump()

    def counters(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "confirmed": self.settled - self.nacked,
            "nacked": self.nacked,
            "finished": self.finished_work,
        }

    def _batch_size(self) -> int:
        config = self.config
        size = PUBLISH_BATCH
        if config.count:
            size = min(size, config.count - self.sent)
        if config.confirm_window:
            size = min(size, config.confirm_window - (self.sent - self.settled))
        if config.rate:
            allowed = int(config.rate * (time.perf_counter() - self._started)) + 1 - self.sent
            size = min(size, allowed)
        return size

    def _pump(self) -> None:
        if not self.measuring or self.finished_work:
            return
        config = self.config
        if config.count and self.sent >= config.count:
            if not config.confirm_window or self.settled >= self.sent:
                self.mark_finished()
            return
        ioloop = self.connection.ioloop
        size = self._batch_size()
        if size <= 0:
            if config.confirm_window and self.sent - self.settled >= config.confirm_window:
                self._waiting_for_confirms = True
            else:
                ioloop.call_later(min(0.01, 1.0 / config.rate), self._pump)
            return
        if write_backlog(self.connection) > MAX_WRITE_BACKLOG:
            ioloop.call_later(BACKLOG_WAIT_SECONDS, self._pump)
            return
        publish = self.channel.basic_publish
        queue = config.queue
        properties = self._properties
        if config.size >= STAMP.size:
            pack = STAMP.pack
            now = time.perf_counter_ns
            filler = self._filler
            for _ in range(size):
                publish("", queue, pack(MAGIC, now()) + filler, properties)
        else:
            body = bytes(config.size)
            for _ in range(size):
                publish("", queue, body, properties)
        self.sent += size
        ioloop.add_callback(self._pump)

    def _on_confirm(self, method_frame: frame.Method) -> None:
        method = method_frame.method
        tag = int(method.delivery_tag)
        before = self.settled
        above = self._settled_above
        if method.multiple and tag > self._settled_upto:
            covered = [number for number in above if number <= tag]
            self.settled += tag - self._settled_upto - len(covered)
            above.difference_update(covered)
            self._settled_upto = tag
        elif not method.multiple and tag > self._settled_upto and tag not in above:
            self.settled += 1
            above.add(tag)
            while self._settled_upto + 1 in above:
                self._settled_upto += 1
                above.discard(self._settled_upto)
        if isinstance(method, spec.Basic.Nack) and self.measuring:
            self.nacked += self.settled - before
        if self._waiting_for_confirms:
            self._waiting_for_confirms = False
            self._pump()
        elif self.config.count and self.sent >= self.config.count:
            self._pump()


class Consumer(PerfWorker):
    """Consumes, records each stamped message's latency, and acknowledges."""

    def __init__(self, config: WorkerConfig, link: CoordinatorLink) -> None:
        super().__init__(config, link)
        self.received = 0
        self.histogram = LatencyHistogram()  # every message before the last report
        self.recent = LatencyHistogram()  # the messages since
        self._unacked = 0

    def prepare(self, channel: Channel) -> None:
        channel.basic_qos(prefetch_count=self.config.prefetch, callback=lambda _frame: self.ready())

    def begin(self) -> None:
        self.channel.basic_consume(
            self.config.queue, self._on_message, auto_ack=self.config.auto_ack
        )

    def counters(self) -> dict[str, Any]:
        return {"received": self.received, "finished": self.finished_work}

    def progress(self) -> dict[str, Any]:
        report = self.counters()
        report["recent"] = self._take_recent().to_dict()
        return report

    def final_result(self) -> dict[str, Any]:
        result = self.counters()
        self._take_recent()
        result["histogram"] = self.histogram.to_dict()
        return result

    def _take_recent(self) -> LatencyHistogram:
        """The latencies since the last report, now counted in `histogram`."""
        recent, self.recent = self.recent, LatencyHistogram()
        self.histogram.merge(recent)
        return recent

    def _on_message(
        self,
        channel: Channel,
        method: spec.Basic.Deliver,
        properties: spec.BasicProperties,
        body: bytes,
    ) -> None:
        if not self.measuring:
            return
        now = time.perf_counter_ns()
        self.received += 1
        if body.startswith(MAGIC) and len(body) >= STAMP.size:
            self.recent.add((now - STAMP.unpack_from(body)[1]) // 1000)
        config = self.config
        if not config.auto_ack:
            self._unacked += 1
            if self._unacked >= config.ack_every:
                channel.basic_ack(method.delivery_tag, multiple=config.ack_every > 1)
                self._unacked = 0
        if config.count and self.received >= config.count:
            self.mark_finished()


def main() -> int:
    """Process entry point: run one worker until the coordinator stops it."""
    # Ctrl-C reaches the whole process group; the coordinator alone handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    link = CoordinatorLink(sys.stdin.fileno(), sys.stdout.buffer)
    config = link.read_config()
    worker: PerfWorker
    worker = Producer(config, link) if config.role == "producer" else Consumer(config, link)
    code = worker.run()
    if code != EXIT_OK and not link.send("error", worker.error or f"{config.role} failed"):
        print(f"pika perf {config.role}: {worker.error}", file=sys.stderr)
    return code


def histogram_of(result: dict[str, Any], key: str = "histogram") -> Optional[LatencyHistogram]:
    """The latency histogram in a consumer's result, or with ``key="recent"``
    in its progress report (None for a producer)."""
    data = result.get(key)
    return LatencyHistogram.from_dict(data) if data is not None else None


if __name__ == "__main__":
    raise SystemExit(main())
