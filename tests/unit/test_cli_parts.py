"""The command line's pure parts: latency histogram, URL handling, argument checks."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

from pika.cli import common, declare, main, perf, perf_worker, publish
from pika.cli.latency import EXACT_BELOW, LatencyHistogram, bucket_bounds, bucket_of
from tests.utils.sockets import free_ports


@pytest.mark.parametrize("value", [0, 1, 63, 64, 65, 127, 128, 1000, 65_535, 10**9])
def test_each_value_falls_inside_its_bucket(value: int) -> None:
    low, high = bucket_bounds(bucket_of(value))
    assert low <= value <= high
    if value >= EXACT_BELOW:
        assert (high - low + 1) * 32 <= low + 1  # at most about 3% wide


def test_buckets_are_ordered_like_their_values() -> None:
    indexes = [bucket_of(value) for value in range(0, 50_000)]
    assert indexes == sorted(indexes)
    assert bucket_of(-5) == 0


def test_percentiles_of_a_uniform_run() -> None:
    histogram = LatencyHistogram()
    for value in range(1, 10_001):
        histogram.add(value)
    assert histogram.minimum == 1 and histogram.maximum == 10_000
    assert histogram.mean() == pytest.approx(5000.5)
    assert histogram.percentile(0.5) == pytest.approx(5000, rel=0.03)
    assert histogram.percentile(0.99) == pytest.approx(9900, rel=0.03)
    assert histogram.percentile(1.0) == 10_000
    assert LatencyHistogram().percentile(0.5) == 0


def test_histograms_merge_and_survive_serialisation() -> None:
    first, second = LatencyHistogram(), LatencyHistogram()
    for value in (5, 50, 500):
        first.add(value)
    for value in (7, 7000):
        second.add(value)
    merged = LatencyHistogram.from_dict(first.to_dict())
    merged.merge(LatencyHistogram.from_dict(second.to_dict()))
    assert merged.total == 5
    assert (merged.minimum, merged.maximum) == (5, 7000)
    assert merged.total_us == 5 + 50 + 500 + 7 + 7000
    empty = LatencyHistogram()
    empty.merge(LatencyHistogram())
    assert empty.minimum == -1 and empty.total == 0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
        ("amqps://user:p%40ss@host/vhost?heartbeat=5", "amqps://user:***@host/vhost?heartbeat=5"),
        ("amqp://user@host/", "amqp://user@host/"),
        ("amqp://host:5672/", "amqp://host:5672/"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert common.redact_url(url) == shown


def test_default_url_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.setenv("PIKA_TEST_URL", "amqp://tests-only/")  # the tests' variable: ignored
    assert common.default_url() == common.DEFAULT_URL
    monkeypatch.setenv("AMQP_URL", " amqp://b/ ")
    assert common.default_url() == "amqp://b/"


def test_bad_url_is_a_usage_error() -> None:
    with pytest.raises(common.CommandError) as caught:
        common.parameters_for("http://user:secret@host/")
    assert caught.value.exit_code == common.EXIT_USAGE
    assert "secret" not in str(caught.value)


def test_shares_split_evenly() -> None:
    assert perf._shares(10, 3) == [4, 3, 3]
    assert perf._shares(0, 2) == [0, 0]
    assert perf._shares(5, 0) == []


def test_line_reader_keeps_partial_lines() -> None:
    reader = perf_worker.LineReader()
    assert reader.feed(b'["ready",null]\n["progr') == [["ready", None]]
    assert reader.feed(b'ess",{"sent":3}]\n\n') == [["progress", {"sent": 3}]]
    config = perf_worker.WorkerConfig(role="producer", url="amqp://h/", queue="q", count=7)
    assert perf_worker.WorkerConfig(**reader.feed(config.to_line())[0]) == config


def _parse(*argv: str) -> argparse.Namespace:
    return main.build_parser().parse_args(list(argv))


def test_publish_properties_from_options() -> None:
    args = _parse(
        "publish",
        "--content-type",
        "text/plain",
        "--delivery-mode",
        "persistent",
        "--priority",
        "4",
        "-H",
        "a=1",
        "--headers-json",
        '{"b": 2}',
        "body",
    )
    properties = publish.build_properties(args)
    assert properties is not None
    assert properties.content_type == "text/plain"
    assert properties.delivery_mode == 2
    assert properties.priority == 4
    assert properties.headers == {"a": "1", "b": 2}
    assert publish.build_properties(_parse("publish", "body")) is None


@pytest.mark.parametrize(
    "argv",
    [
        ("publish", "-H", "novalue", "x"),
        ("publish", "--headers-json", "[1]", "x"),
        ("publish", "--headers-json", "{", "x"),
    ],
)
def test_publish_option_errors(argv: tuple[str, ...]) -> None:
    with pytest.raises(common.CommandError) as caught:
        publish.build_properties(_parse(*argv))
    assert caught.value.exit_code == common.EXIT_USAGE


def test_publish_body_sources_exclude_each_other() -> None:
    args = _parse("publish", "--file", "f", "body")
    with pytest.raises(common.CommandError):
        publish.read_bodies(args)
    assert publish.read_bodies(_parse("publish", "--lines", "a\nb")) == [b"a", b"b"]


@pytest.mark.parametrize(
    "argv",
    [
        ("perf", "--producers", "0", "--consumers", "0"),
        ("perf", "--size", "-1"),
        ("perf", "--ack-every", "0"),
        ("perf", "--duration", "0"),
        ("perf", "--confirm", "-3"),
    ],
)
def test_perf_rejects_bad_options(argv: tuple[str, ...]) -> None:
    assert main.main(list(argv)) == common.EXIT_USAGE


def test_summary_text_names_every_figure() -> None:
    summary = {
        "producers": 2,
        "consumers": 1,
        "size": 64,
        "confirm_window": 10,
        "prefetch": 100,
        "interrupted": False,
        "duration_s": 3.0,
        "sent": 3000,
        "sent_per_s": 1000.0,
        "confirmed": 3000,
        "nacked": 0,
        "received": 2999,
        "received_per_s": 999.7,
        "left_in_queue": None,
        "latency_us": {
            "min": 100,
            "mean": 400.0,
            "p50": 300,
            "p75": 400,
            "p95": 900,
            "p99": 1500,
            "p99.9": 2000,
            "max": 2500,
        },
        "cpu_us_per_msg": {"producer": 9.5, "consumer": 12.25},
    }
    text = perf.format_summary(summary)
    assert "2 producers, 1 consumer, 64-byte messages, 3.0 s, confirm window 10" in text
    assert "confirmed 3,000, nacked 0" in text
    assert "p50 0.30 ms" in text and "max 2.50 ms" in text
    assert "producers 9.5 µs/msg, consumers 12.2 µs/msg" in text


def _run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess, pointed at a port nothing listens on."""
    env = dict(os.environ, AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_ports(1)[0]}/")
    return subprocess.run(
        [sys.executable, "-m", "pika", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("publish", "--priority", "999", "x"), "priority=999 is outside the range"),
        (("publish", "--priority", "high", "x"), "argument --priority: invalid int value"),
        (("publish", "--headers-json", '{"n": 18446744073709551616}', "x"), "signed 64-bit"),
        (("publish", "--timestamp", "-5", "x"), "timestamp=-5"),
        (("publish", "-r", "k" * 256, "x"), "invalid destination"),
        (("publish", "-e", "logs", "-r", "a", "--declare", "x"), "--declare declares the queue"),
        (("publish", "-r", "q", "--declare", "--quorum", "--auto-delete", "x"), "--quorum"),
        (("consume", "q", "--declare", "--argument", "novalue"), "--argument wants KEY=VALUE"),
        (("declare", "queue", "q", "--max-length", "-1"), "--max-length must be >= 0"),
        (("declare", "exchange", "x", "--type", "fast"), "invalid choice: 'fast'"),
        (("perf", "--size", "-1"), "--size must be >= 0"),
        (("nonsense",), "invalid choice: 'nonsense'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: tuple[str, ...], said: str) -> None:
    # Found before connecting: the URL points nowhere.
    done = _run_cli(*argv)
    assert done.returncode == common.EXIT_USAGE, done.stderr
    assert done.stdout == ""
    assert said in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def _help_texts() -> dict[str, str]:
    parser = main.build_parser()
    texts = {"pika": parser.format_help()}
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        texts[name] = sub.format_help()
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                for kind, deeper in action.choices.items():
                    texts[f"{name} {kind}"] = deeper.format_help()
    return texts


def test_help_shows_readable_metavars_and_no_test_variable() -> None:
    texts = _help_texts()
    assert {"publish", "consume", "perf", "declare", "declare queue", "declare exchange"} <= set(
        texts
    )
    for name, text in texts.items():
        assert "PIKA_TEST_URL" not in text, name
        assert "AMQP_URL" in text or name in ("pika", "declare"), name
        # argparse's fallback metavar is the upper-cased destination name.
        assert not re.search(r"\b(PROP_|OUTPUT_DIR|ROUTING_KEY|IDLE_TIMEOUT)", text), name
    publish_help = texts["publish"]
    for option, metavar in (("--priority", "0-255"), ("--content-type", "MIME")):
        assert f"{option} {metavar}" in publish_help


def test_progress_line_never_shows_negative_counts() -> None:
    args = _parse("perf", "--confirm", "10")
    latency = LatencyHistogram()
    for value in (1000, 2000, 3000):
        latency.add(value)
    # A consumer's report can be ahead of the producer's.
    totals = {"sent": 100, "confirmed": 104, "nacked": 0, "received": 130}
    line = perf.progress_line(args, 1.0, 100.0, 130.0, totals, latency)
    assert "in flight 0" in line and "unconfirmed 0" in line
    assert "-" not in line
    assert "latency p50 2.00 ms p95 2.98 ms max 3.00 ms" in line  # bucket middles
    quiet = perf.progress_line(args, 1.0, 0.0, 0.0, dict.fromkeys(totals, 0), LatencyHistogram())
    assert "latency" not in quiet


def test_summary_reports_what_is_left_in_the_queue() -> None:
    summary = {
        "producers": 1,
        "consumers": 0,
        "size": 12,
        "confirm_window": 0,
        "prefetch": 1,
        "interrupted": True,
        "duration_s": 1.5,
        "sent": 10,
        "sent_per_s": 10.0,
        "confirmed": 0,
        "nacked": 0,
        "received": 0,
        "received_per_s": 0.0,
        "left_in_queue": 1234,
        "latency_us": None,
        "cpu_us_per_msg": {"producer": 1.0, "consumer": None},
    }
    text = perf.format_summary(summary)
    assert "1.5 s" in text and "(interrupted)" in text
    assert "left             1,234 msgs ready in the queue" in text


def test_queue_options_make_the_arguments_table() -> None:
    args = _parse(
        "declare", "queue", "q", "--quorum", "--max-length", "10", "--argument", "x-message-ttl=500"
    )
    assert declare.queue_arguments(args) == {
        "x-queue-type": "quorum",
        "x-max-length": 10,
        "x-message-ttl": 500,
    }
    assert declare.queue_arguments(_parse("consume", "q", "--argument", "x-note=plain")) == {
        "x-note": "plain"
    }
    assert declare.queue_arguments(_parse("consume", "q")) is None
