"""``pika perf``: a throughput and latency test with producer and consumer processes.

The coordinator (this module) declares the queue, starts one process per
producer and consumer (`pika.cli.perf_worker`), tells them all to go at
once, prints a progress line with the current rates and latency on
stderr, stops them after ``--duration`` seconds, ``--count`` messages or
Ctrl-C, and prints a summary: messages per second each way, latency
percentiles (from the timestamp in each message), the client CPU time per
message of producers and consumers, each measured inside its own process,
and the messages left ready in the queue. ``--json`` prints the summary as
one JSON object instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional, TextIO

import pika
from pika.channel import Channel
from pika.cli import common
from pika.cli.latency import LatencyHistogram
from pika.cli.perf_worker import STAMP, LineReader, WorkerConfig, encode_line, histogram_of
from pika.frame import Method

DEFAULT_DURATION = 10.0
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
EXIT_TIMEOUT = 10.0
POLL_SECONDS = 0.05
PERCENTILES = (("p50", 0.50), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999))

#: `WorkerConfig` fields that differ from worker to worker; its other fields
#: are the options of the same name (``--confirm`` is stored as ``confirm_window``).
_PER_WORKER = ("role", "url", "queue", "count")


def add_parser(commands: Any) -> None:
    """Add ``perf`` to ``commands``."""
    parser = common.add_command(
        commands,
        "perf",
        "measure throughput and latency",
        (
            "Run producers and consumers (one process each) against one queue and report "
            "msgs/s, latency percentiles and client CPU per message. Without --queue a "
            "fresh queue is declared and deleted at the end. Ctrl-C stops the run and "
            "still prints the summary (exit 130)."
        ),
        run,
    )
    parser.add_argument(
        "-x", "--producers", type=int, default=1, metavar="N", help="producer processes (1)"
    )
    parser.add_argument(
        "-y", "--consumers", type=int, default=1, metavar="N", help="consumer processes (1)"
    )
    parser.add_argument(
        "-s",
        "--size",
        type=int,
        default=128,
        metavar="BYTES",
        help=f"message body size (128; at least {STAMP.size} to measure latency)",
    )
    parser.add_argument(
        "-d",
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"how long to run ({DEFAULT_DURATION:g} s unless --count is given)",
    )
    parser.add_argument(
        "-C",
        "--count",
        type=int,
        default=0,
        metavar="N",
        help="messages to publish in all (to consume, without producers); then stop",
    )
    parser.add_argument(
        "-c",
        "--confirm",
        dest="confirm_window",
        type=int,
        default=0,
        metavar="WINDOW",
        help="use publisher confirms with at most WINDOW unconfirmed messages per producer",
    )
    parser.add_argument(
        "-q",
        "--prefetch",
        type=int,
        default=1000,
        metavar="N",
        help="consumer prefetch count (1000)",
    )
    parser.add_argument(
        "-r",
        "--rate",
        type=float,
        default=0.0,
        metavar="PER_SECOND",
        help="messages per second per producer (no limit)",
    )
    parser.add_argument(
        "--ack-every",
        type=int,
        default=1,
        metavar="N",
        help="acknowledge every N messages at once (1)",
    )
    parser.add_argument("-a", "--auto-ack", action="store_true", help="consume without acks")
    parser.add_argument(
        "-p", "--persistent", action="store_true", help="publish persistent messages"
    )
    parser.add_argument(
        "-u", "--queue", metavar="NAME", help="use this queue (declared if missing, kept)"
    )
    parser.add_argument(
        "-i",
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between progress lines (1)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


class QueuePreparation(common.ChannelSession):
    """Make sure the test queue exists: a named one is declared only if missing."""

    def __init__(self, url: str, queue: str, fresh: bool) -> None:
        super().__init__(url)
        self.queue = queue
        self._probing = not fresh

    def on_channel_open(self, channel: Channel) -> None:
        channel.queue_declare(
            self.queue, passive=self._probing, callback=lambda _frame: self.finish()
        )

    def on_channel_closed(self, error: Exception) -> None:
        if self._probing and getattr(error, "reply_code", 0) == 404:
            self._probing = False
            self.open_channel()
        else:
            super().on_channel_closed(error)


class QueueDepth(common.ChannelSession):
    """The messages ready in the queue (``left``), deleting it when ``delete``."""

    def __init__(self, url: str, queue: str, delete: bool) -> None:
        super().__init__(url)
        self.queue = queue
        self.delete = delete
        self.left: Optional[int] = None

    def on_channel_open(self, channel: Channel) -> None:
        if self.delete:
            channel.queue_delete(self.queue, callback=self._on_reply)
        else:
            channel.queue_declare(self.queue, passive=True, callback=self._on_reply)

    def _on_reply(self, reply: Method[Any]) -> None:
        self.left = reply.method.message_count
        self.finish()


class _Worker:
    """The coordinator's view of one worker process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        env = dict(os.environ)
        # The worker imports this same pika, wherever it was imported from.
        package_root = str(Path(pika.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pika.cli.perf_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.commands = self.process.stdin
        self.reports = self.process.stdout
        os.set_blocking(self.reports.fileno(), False)
        self.reader = LineReader()
        self.ended = False
        self.ready = False
        self.counters: dict[str, Any] = {}
        self.recent = LatencyHistogram()  # since the coordinator's last progress line
        self.result: Optional[dict[str, Any]] = None
        self.error: Optional[str] = None
        self.send(config.to_line())

    def receive(self) -> None:
        """Handle what the worker reported; a vanished worker becomes an error."""
        try:
            data = os.read(self.reports.fileno(), 65536)
        except BlockingIOError:
            return
        if not data:
            self.ended = True
            if self.result is None and self.error is None:
                self.error = f"{self.config.role} process ended unexpectedly"
            return
        for kind, payload in self.reader.feed(data):
            if kind == "ready":
                self.ready = True
            elif kind == "progress":
                self.counters = payload
                recent = histogram_of(payload, "recent")
                if recent is not None:
                    self.recent.merge(recent)
            elif kind == "done":
                self.result = self.counters = payload
            elif kind == "error":
                self.error = payload

    def send(self, line: bytes) -> None:
        try:
            self.commands.write(line)
            self.commands.flush()
        except (BrokenPipeError, ValueError):
            if self.result is None and self.error is None:
                self.error = f"{self.config.role} process ended unexpectedly"

    def close_pipes(self) -> None:
        """Close both pipes; a worker still running takes that as a stop."""
        for stream in (self.commands, self.reports):
            try:
                stream.close()
            except BrokenPipeError:
                pass


def _shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` whole shares that differ by at most one."""
    if not parts:
        return []
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


class Coordinator:
    def __init__(self, args: argparse.Namespace, url: str, queue: str, stderr: TextIO) -> None:
        self.args = args
        self.url = url
        self.queue = queue
        self.stderr = stderr
        self.duration = (
            args.duration
            if args.duration is not None
            else (0.0 if args.count else DEFAULT_DURATION)
        )
        self.workers: list[_Worker] = []
        self._selector = selectors.DefaultSelector()
        self.interrupted = False
        self.started: Optional[float] = None
        self.window = 0.0

    def _configs(self) -> list[WorkerConfig]:
        args = self.args

        options = {
            field.name: getattr(args, field.name)
            for field in dataclasses.fields(WorkerConfig)
            if field.name not in _PER_WORKER
        }

        def config(role: str, count: int) -> WorkerConfig:
            return WorkerConfig(role=role, url=self.url, queue=self.queue, count=count, **options)

        # With producers, the coordinator stops the consumers once they have
        # received all that was sent; without, each consumer takes a share.
        consumer_counts = (
            [0] * args.consumers if args.producers else _shares(args.count, args.consumers)
        )
        return [config("producer", n) for n in _shares(args.count, args.producers)] + [
            config("consumer", n) for n in consumer_counts
        ]

    def run(self) -> dict[str, Any]:
        """Start the workers, measure, stop them and return the summary.

        The worker processes may still be closing their connections: `close`
        waits for them.
        """
        self.workers = [_Worker(config) for config in self._configs()]
        for worker in self.workers:
            self._selector.register(worker.reports, selectors.EVENT_READ, worker)
        try:
            self._wait_until_ready()
            self.started = time.monotonic()
            for role in ("consumer", "producer"):
                for worker in self.workers:
                    if worker.config.role == role:
                        worker.send(encode_line("go"))
            self._watch(self.started)
        except KeyboardInterrupt:
            self.interrupted = True
            if self.started is not None:
                self.window = time.monotonic() - self.started
        self._stop_all()
        errors = [worker.error for worker in self.workers if worker.error is not None]
        if errors:
            raise common.CommandError("; ".join(dict.fromkeys(errors)))
        return self._summary()

    def close(self) -> None:
        """Wait for the worker processes to end (killing those that take too long)."""
        self._selector.close()
        for worker in self.workers:
            worker.close_pipes()
        deadline = time.monotonic() + EXIT_TIMEOUT
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()

    def _poll(self, timeout: float) -> None:
        for key, _events in self._selector.select(timeout):
            worker: _Worker = key.data
            worker.receive()
            if worker.ended:
                self._selector.unregister(worker.reports)
            if worker.error is not None:
                raise common.CommandError(worker.error)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not all(worker.ready for worker in self.workers):
            if time.monotonic() > deadline:
                raise common.CommandError(f"the workers were not ready within {READY_TIMEOUT:g} s")
            self._poll(POLL_SECONDS)

    def _totals(self, key: str) -> int:
        return sum(int(worker.counters.get(key, 0)) for worker in self.workers)

    def _finished(self, role: str) -> bool:
        return all(
            worker.counters.get("finished", False)
            for worker in self.workers
            if worker.config.role == role
        )

    def _done(self, elapsed: float) -> bool:
        if self.duration and elapsed >= self.duration:
            return True
        if not self.args.count:
            return False
        if not self.args.producers:
            return self._finished("consumer")
        if not self._finished("producer"):
            return False
        return not self.args.consumers or self._totals("received") >= self._totals("sent")

    def _watch(self, started: float) -> None:
        interval = self.args.interval
        show = not self.args.quiet and interval > 0
        last_time, last_sent, last_received = started, 0, 0
        next_line = started + interval
        while True:
            self._poll(POLL_SECONDS)
            now = time.monotonic()
            elapsed = now - started
            if self._done(elapsed):
                self.window = elapsed
                break
            if show and now >= next_line:
                sent, received = self._totals("sent"), self._totals("received")
                span = now - last_time
                self._progress(
                    elapsed, (sent - last_sent) / span, (received - last_received) / span
                )
                last_time, last_sent, last_received = now, sent, received
                next_line += interval
        if show and self.stderr.isatty():
            self.stderr.write("\n")

    def _recent_latency(self) -> LatencyHistogram:
        """The latencies reported since the previous progress line (then forgotten)."""
        merged = LatencyHistogram()
        for worker in self.workers:
            merged.merge(worker.recent)
            worker.recent = LatencyHistogram()
        return merged

    def _progress(self, elapsed: float, sent_rate: float, received_rate: float) -> None:
        line = progress_line(
            self.args,
            elapsed,
            sent_rate,
            received_rate,
            {key: self._totals(key) for key in ("sent", "confirmed", "nacked", "received")},
            self._recent_latency(),
        )
        if self.stderr.isatty():
            self.stderr.write(f"\r{line}\x1b[K")
        else:
            self.stderr.write(line + "\n")
        self.stderr.flush()

    def _stop_all(self) -> None:
        for worker in self.workers:
            worker.send(encode_line("stop"))
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(w.result is None and w.error is None for w in self.workers):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise common.CommandError(f"the workers did not stop within {STOP_TIMEOUT:g} s")
            self._poll(min(POLL_SECONDS, remaining))

    def _summary(self) -> dict[str, Any]:
        args = self.args
        results = [worker.result or {} for worker in self.workers]
        producers = [r for r in results if r.get("role") == "producer"]
        consumers = [r for r in results if r.get("role") == "consumer"]
        histogram = LatencyHistogram()
        for result in consumers:
            part = histogram_of(result)
            if part is not None:
                histogram.merge(part)
        sent = sum(r["sent"] for r in producers)
        received = sum(r["received"] for r in consumers)
        sent_time = max((r["elapsed"] for r in producers), default=0.0)
        received_time = max((r["elapsed"] for r in consumers), default=0.0)
        producer_cpu = sum(r["cpu"] for r in producers)
        consumer_cpu = sum(r["cpu"] for r in consumers)
        latency: Optional[dict[str, float]] = None
        if histogram.total:
            latency = {"min": histogram.minimum, "mean": round(histogram.mean(), 1)}
            for name, fraction in PERCENTILES:
                latency[name] = histogram.percentile(fraction)
            latency["max"] = histogram.maximum
        return {
            "producers": args.producers,
            "consumers": args.consumers,
            "size": args.size,
            "confirm_window": args.confirm_window,
            "prefetch": args.prefetch,
            "queue": self.queue,
            "interrupted": self.interrupted,
            "duration_s": round(self.window, 3),
            "sent": sent,
            "sent_per_s": round(sent / sent_time, 1) if sent_time else 0.0,
            "confirmed": sum(r.get("confirmed", 0) for r in producers),
            "nacked": sum(r.get("nacked", 0) for r in producers),
            "received": received,
            "received_per_s": round(received / received_time, 1) if received_time else 0.0,
            "left_in_queue": None,
            "latency_us": latency,
            "cpu_us_per_msg": {
                "producer": round(producer_cpu / sent * 1e6, 2) if sent else None,
                "consumer": round(consumer_cpu / received * 1e6, 2) if received else None,
            },
        }


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.2f} ms"


def progress_line(
    args: argparse.Namespace,
    elapsed: float,
    sent_rate: float,
    received_rate: float,
    totals: dict[str, int],
    latency: LatencyHistogram,
) -> str:
    """One progress line: rates, what is unconfirmed and in flight, and the
    latency of the messages received since the previous line.

    The totals come from reports the workers send at their own pace, so a
    consumer's count can be ahead of a producer's: what is in flight or
    unconfirmed is never shown below zero.
    """
    parts = [f"{elapsed:6.1f} s"]
    if args.producers:
        parts.append(f"sent {sent_rate:>9,.0f} msg/s")
    if args.consumers:
        parts.append(f"received {received_rate:>9,.0f} msg/s")
    if args.confirm_window:
        unconfirmed = totals["sent"] - totals["confirmed"] - totals["nacked"]
        parts.append(f"unconfirmed {max(0, unconfirmed):,}")
    if args.producers and args.consumers:
        parts.append(f"in flight {max(0, totals['sent'] - totals['received']):,}")
    if args.consumers and latency.total:
        parts.append(
            f"latency p50 {_ms(latency.percentile(0.5))} p95 {_ms(latency.percentile(0.95))}"
            f" max {_ms(latency.maximum)}"
        )
    return "  ".join(parts)


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as the lines printed without --json."""
    producers, consumers = summary["producers"], summary["consumers"]
    confirms = f"confirm window {summary['confirm_window']}" if summary["confirm_window"] else ""
    head = [
        f"{producers} producer{'s' if producers != 1 else ''}",
        f"{consumers} consumer{'s' if consumers != 1 else ''}",
        f"{summary['size']}-byte messages",
        f"{summary['duration_s']:.1f} s",
    ]
    if confirms:
        head.append(confirms)
    if consumers:
        head.append(f"prefetch {summary['prefetch']}")
    lines = ["pika perf: " + ", ".join(head) + (" (interrupted)" if summary["interrupted"] else "")]
    cpu = summary["cpu_us_per_msg"]
    if producers:
        line = f"sent      {summary['sent']:>12,} msgs {summary['sent_per_s']:>12,.0f} msgs/s"
        if summary["confirm_window"]:
            line += f"   confirmed {summary['confirmed']:,}, nacked {summary['nacked']:,}"
        lines.append(line)
    if consumers:
        lines.append(
            f"received  {summary['received']:>12,} msgs {summary['received_per_s']:>12,.0f} msgs/s"
        )
    latency = summary["latency_us"]
    if latency is not None:
        names = ["min", *(name for name, _ in PERCENTILES), "max"]
        lines.append("latency   " + "  ".join(f"{name} {_ms(latency[name])}" for name in names))
    cpu_parts = []
    if cpu["producer"] is not None:
        cpu_parts.append(f"producers {cpu['producer']:.1f} µs/msg")
    if cpu["consumer"] is not None:
        cpu_parts.append(f"consumers {cpu['consumer']:.1f} µs/msg")
    if cpu_parts:
        lines.append("client CPU " + ", ".join(cpu_parts))
    if summary["left_in_queue"] is not None:
        lines.append(f"left      {summary['left_in_queue']:>12,} msgs ready in the queue")
    return "\n".join(lines)


def _validate(args: argparse.Namespace) -> None:
    problems = []
    if args.producers < 0 or args.consumers < 0 or args.producers + args.consumers == 0:
        problems.append("--producers and --consumers must be >= 0, and not both 0")
    if args.size < 0:
        problems.append("--size must be >= 0")
    if args.count < 0 or args.confirm_window < 0 or args.prefetch < 0 or args.rate < 0:
        problems.append("--count, --confirm, --prefetch and --rate must be >= 0")
    if args.ack_every < 1:
        problems.append("--ack-every must be >= 1")
    if args.duration is not None and args.duration <= 0:
        problems.append("--duration must be > 0")
    if problems:
        raise common.CommandError("; ".join(problems), common.EXIT_USAGE)


def run(args: argparse.Namespace) -> int:
    """``pika perf``."""
    _validate(args)
    if args.consumers and args.size < STAMP.size:
        print(
            f"pika perf: warning: --size {args.size} is below the {STAMP.size}-byte "
            "timestamp the latency is measured from: no latency will be reported",
            file=sys.stderr,
        )
    url, _params = common.parameters_for(args.url)
    fresh = args.queue is None
    queue = args.queue if not fresh else f"pika-perf-{uuid.uuid4().hex[:12]}"
    preparation = QueuePreparation(url, queue, fresh)
    if preparation.execute() != common.EXIT_OK:
        return common.EXIT_FAILURE
    coordinator = Coordinator(args, url, queue, sys.stderr)
    depth = QueueDepth(url, queue, delete=fresh)
    try:
        summary = coordinator.run()
    finally:
        # Deleting the queue first drops its backlog, so the broker answers
        # the workers' Connection.Close at once instead of after draining it.
        depth.execute()
        coordinator.close()
    summary["left_in_queue"] = depth.left
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
    return common.EXIT_INTERRUPTED if summary["interrupted"] else common.EXIT_OK
