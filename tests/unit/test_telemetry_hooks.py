"""The observer seam of the callback layer (`pika.telemetry`), without a broker."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pika.telemetry as telemetry
from pika import frame, spec
from tests.utils.memory_transport import open_pair


def test_no_observer_is_installed_by_default_and_core_imports_no_opentelemetry() -> None:
    code = (
        "import sys, pika, pika.adapters.blocking_connection, pika.telemetry\n"
        "assert pika.telemetry.installed() is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_install_sets_the_observer_and_uninstall_removes_it() -> None:
    observer: Any = object()
    try:
        telemetry.install(observer)
        assert telemetry.installed() is observer and telemetry.observer is observer
    finally:
        telemetry.uninstall()
    assert telemetry.installed() is None and telemetry.observer is None


def test_hand_off_marks_a_callback() -> None:
    def queue_it(*args: Any) -> None:
        pass

    def call_it(*args: Any) -> None:
        pass

    assert telemetry.hand_off(queue_it) is queue_it
    assert telemetry.is_hand_off(queue_it)
    assert not telemetry.is_hand_off(call_it)


class _Requests:
    """An observer of requests and replies only (what `_rpc` and
    `_pop_reply` call); returns None for Basic.Qos (not followed)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.replied: list[tuple[str, str]] = []

    def on_request(self, channel: Any, method: Any) -> Any:
        self.sent.append(method.NAME)
        return None if type(method) is spec.Basic.Qos else method.NAME

    def on_reply(self, channel: Any, request: Any, reply: Any) -> None:
        self.replied.append((request, reply.NAME))


def test_requests_and_their_replies_reach_the_observer_matched() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    observer = _Requests()
    try:
        telemetry.install(observer)
        chan.basic_consume("q", lambda *a: None, consumer_tag="c1", callback=lambda f: None)
        chan.queue_declare("other", callback=lambda f: None)
        chan.basic_qos(prefetch_count=5, callback=lambda f: None)
        chan.queue_bind("other", "amq.direct")  # nowait: no reply, not followed
        # RabbitMQ answers the queue's Consume after the channel's own Declare.
        pair.send(1, spec.Queue.DeclareOk("other", 0, 0), spec.Basic.QosOk())
        pair.send(1, spec.Basic.ConsumeOk("c1"))
    finally:
        telemetry.uninstall()
    assert observer.sent == ["Basic.Consume", "Queue.Declare", "Basic.Qos"]
    assert observer.replied == [
        ("Queue.Declare", "Queue.DeclareOk"),
        ("Basic.Consume", "Basic.ConsumeOk"),
    ]


def test_requests_sent_without_an_observer_are_not_reported_later() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    observer = _Requests()
    chan.queue_declare("before", callback=lambda f: None)
    try:
        telemetry.install(observer)
        pair.send(1, spec.Queue.DeclareOk("before", 0, 0))
    finally:
        telemetry.uninstall()
    assert observer.sent == [] and observer.replied == []


class _Publishes:
    """An observer of publishes only: keeps what `on_publish` is handed and
    returns properties that carry one more header."""

    def __init__(self) -> None:
        self.seen: list[telemetry.ObservedPublish] = []

    def on_publish(self, message: telemetry.ObservedPublish) -> spec.BasicProperties:
        self.seen.append(message)
        headers = dict(message.properties.headers or {}) if message.properties else {}
        return spec.BasicProperties(
            message_id=message.properties and message.properties.message_id,
            headers={**headers, "traced": "yes"},
        )


def test_publish_reaches_the_observer_as_one_value_and_its_properties_are_sent() -> None:
    pair = open_pair()
    chan = pair.open_channel()
    observer = _Publishes()
    body = bytearray(b"payload")
    try:
        telemetry.install(observer)
        chan.basic_publish("ex", "rk", body, spec.BasicProperties(message_id="m-1"))
        chan.basic_publish("", "other", b"bare")
    finally:
        telemetry.uninstall()
    chan.basic_publish("", "after", b"unobserved")
    [first, second] = observer.seen
    assert (first.channel, first.exchange, first.routing_key, first.body) == (
        chan,
        "ex",
        "rk",
        body,
    )
    assert first.properties is not None and first.properties.message_id == "m-1"
    assert (second.exchange, second.routing_key, second.properties) == ("", "other", None)
    frames = pair.sent()
    headers = [f.properties for f in frames if isinstance(f, frame.Header)]
    assert [(p.message_id, p.headers) for p in headers] == [
        ("m-1", {"traced": "yes"}),
        (None, {"traced": "yes"}),
        (None, None),
    ]
