"""The engine end to end against the real broker through a minimal
blocking socket loop written here (no adapter involved)."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Callable

import pytest

from pika import exceptions, spec
from pika.credentials import PlainCredentials
from pika.engine import ConnectionEngine, EngineConfig, events
from pika.parameters import URLParameters

pytestmark = pytest.mark.broker


class SocketLoop:
    """Just enough I/O to drive an engine: a blocking socket and a clock."""

    def __init__(self, url: str, **config: object) -> None:
        params = URLParameters(url)
        self.sock = socket.create_connection((params.host, params.port), timeout=10)
        config.setdefault(
            "credentials",
            PlainCredentials(params.credentials.username, params.credentials.password),
        )
        config.setdefault("virtual_host", params.virtual_host)
        self.engine = ConnectionEngine(EngineConfig(**config))  # type: ignore[arg-type]
        self.engine.start(time.monotonic())
        self.flush()

    def flush(self) -> None:
        for chunk in self.engine.take_output():
            self.sock.sendall(chunk)

    def wait_for(
        self, predicate: Callable[[events.Event], bool], timeout: float = 10
    ) -> events.Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.engine.next_event()
            if event is None:
                self.flush()
                data = self.sock.recv(65536)
                if not data:
                    self.engine.connection_lost(None)
                else:
                    self.engine.receive_data(data)
                continue
            self.flush()
            if predicate(event):
                return event
        raise AssertionError("timed out waiting for an event")

    def wait_for_type(self, event_type: type) -> events.Event:
        return self.wait_for(lambda event: isinstance(event, event_type))

    def wait_for_method(self, method_type: type) -> events.Event:
        return self.wait_for(
            lambda event: (
                isinstance(event, (events.MethodReceived, events.ContentReceived))
                and isinstance(event.method, method_type)
            )
        )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def loop_factory(broker_url: str):  # type: ignore[no-untyped-def]
    loops: list[SocketLoop] = []

    def make(**config: object) -> SocketLoop:
        loop = SocketLoop(broker_url, **config)
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.close()


def test_connect_declare_publish_get_close(loop_factory) -> None:  # type: ignore[no-untyped-def]
    loop = loop_factory()
    loop.wait_for_type(events.ConnectionOpened)
    engine = loop.engine
    engine.open_channel(1)
    loop.flush()
    loop.wait_for_type(events.ChannelOpened)
    queue = f"engine-test-{uuid.uuid4().hex}"
    engine.send_method(1, spec.Queue.Declare(queue=queue, exclusive=True))
    loop.flush()
    declare_ok = loop.wait_for_method(spec.Queue.DeclareOk)
    assert declare_ok.method.queue == queue
    body = bytes(range(256)) * 2000  # spans several frames
    engine.publish(
        1, "", queue, body, spec.BasicProperties(content_type="application/octet-stream")
    )
    engine.send_method(1, spec.Basic.Get(queue=queue, no_ack=True))
    loop.flush()
    got = loop.wait_for(
        lambda event: (
            isinstance(event, (events.ContentReceived, events.MethodReceived))
            and isinstance(event.method, (spec.Basic.GetOk, spec.Basic.GetEmpty))
        )
    )
    assert isinstance(got, events.ContentReceived)
    assert got.body == body
    assert got.properties.content_type == "application/octet-stream"
    engine.close_channel(1, 200, "done")
    loop.flush()
    closed = loop.wait_for_type(events.ChannelClosed)
    assert closed.channel_number == 1 and not closed.by_broker
    engine.close(200, "bye")
    loop.flush()
    final = loop.wait_for_type(events.ConnectionClosed)
    assert isinstance(final.error, exceptions.ConnectionClosedByClient)
    assert final.error.reply_code == 200


def test_broker_rejects_a_bad_password(loop_factory) -> None:  # type: ignore[no-untyped-def]
    loop = loop_factory(credentials=PlainCredentials("guest", "not-the-password"))
    final = loop.wait_for_type(events.ConnectionClosed)
    assert isinstance(final.error, exceptions.ProbableAuthenticationError)
    assert "not-the-password" not in str(final.error)


def test_broker_refuses_an_unknown_vhost(loop_factory) -> None:  # type: ignore[no-untyped-def]
    loop = loop_factory(virtual_host=f"no-such-vhost-{uuid.uuid4().hex}")
    final = loop.wait_for_type(events.ConnectionClosed)
    assert isinstance(final.error, exceptions.ProbableAccessDeniedError)


# RabbitMQ's defaults on this machine: channel_max 2047, frame_max 131072,
# heartbeat 60. Client values below, equal to and above each.
@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ({"channel_max": 100, "frame_max": 8192, "heartbeat": 20}, (100, 8192, 20)),
        ({"channel_max": 2047, "frame_max": 131072, "heartbeat": 60}, (2047, 131072, 60)),
        ({"channel_max": 65535, "frame_max": 1048576, "heartbeat": 600}, (2047, 131072, 60)),
        ({"heartbeat": None}, (2047, 131072, 60)),
        ({"heartbeat": 0}, (2047, 131072, 0)),
        ({"heartbeat": lambda proposal: proposal // 2}, (2047, 131072, 30)),
    ],
)
def test_negotiated_limits_against_the_broker(loop_factory, client, expected) -> None:  # type: ignore[no-untyped-def]
    loop = loop_factory(**client)
    loop.wait_for_type(events.ConnectionOpened)
    engine = loop.engine
    assert (engine.channel_max, engine.frame_max, engine.heartbeat) == expected
    engine.close()
    loop.flush()
    loop.wait_for_type(events.ConnectionClosed)
