"""The command line's pure parts: latency histogram, URL handling, argument checks."""

from __future__ import annotations

import argparse

import pytest

from pika.cli import common, main, perf, perf_worker, publish
from pika.cli.latency import EXACT_BELOW, LatencyHistogram, bucket_bounds, bucket_of


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
    monkeypatch.delenv("PIKA_TEST_URL", raising=False)
    monkeypatch.delenv("AMQP_URL", raising=False)
    assert common.default_url() == common.DEFAULT_URL
    monkeypatch.setenv("AMQP_URL", "amqp://b/")
    assert common.default_url() == "amqp://b/"
    monkeypatch.setenv("PIKA_TEST_URL", " amqp://a/ ")
    assert common.default_url() == "amqp://a/"


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
