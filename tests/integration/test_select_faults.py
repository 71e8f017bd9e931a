"""Faults a `SelectConnection` must survive and report: a silent peer
(heartbeats on a live loop), Channel.Flow from a fake broker, TCP
back-pressure, and malformed input from a fake server. A fault never hangs
the client: every one ends in an open-error or close callback."""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.select_connection import SelectConnection
from pika.connection import ConnectionParameters, URLParameters
from tests.integration.fake_broker import (
    PROTOCOL_HEADER,
    START,
    frames,
    handshake,
    method_bytes,
    method_frame,
    open_channel_one,
)
from tests.integration.select_support import (
    Recorder,
    close_connection,
    open_channel,
    open_connection,
    pump,
)
from tests.utils.fake_server import FRAME_END, Script, ScriptedServer, raw_frame
from tests.utils.proxy import TcpProxy


def fake_params(server: ScriptedServer, **extra: Any) -> ConnectionParameters:
    host, port = server.address
    return ConnectionParameters(host=host, port=port, **extra)


def run_to_end(conn: SelectConnection, rec: Recorder, timeout: float = 10) -> Any:
    """Run until the open-error or close callback; returns (name, error)."""
    pump(conn.ioloop, lambda: rec.get("error") or rec.get("close"), timeout, "connection end")
    name = "error" if rec.get("error") else "close"
    return name, rec.one(name)[1]


# ---------------------------------------------------------------- heartbeats


@pytest.mark.broker
@pytest.mark.timeout(60)
def test_silent_peer_detected_within_two_heartbeat_intervals(broker_url: str) -> None:
    params = URLParameters(broker_url)
    with TcpProxy(params.host, params.port) as proxy:
        params.host, params.port = proxy.address
        params.heartbeat = 2
        rec = Recorder()
        conn = open_connection(params, on_close_callback=rec.cb("close"))
        # A live connection with heartbeats stays up while idle.
        idle_until = time.monotonic() + 5
        pump(conn.ioloop, lambda: time.monotonic() >= idle_until or rec.get("close"), timeout=7)
        assert conn.is_open and rec.get("close") == []
        proxy.stall()
        stalled_at = time.monotonic()
        pump(conn.ioloop, rec.has("close"), timeout=15)
        detected_after = time.monotonic() - stalled_at
        _conn, error = rec.one("close")
        assert isinstance(error, exceptions.AMQPHeartbeatTimeout)
        assert isinstance(error, exceptions.AMQPConnectionError)
        assert detected_after < 6, detected_after
        assert conn.is_closed
        conn.ioloop.close()


# ---------------------------------------------------------------- channel flow


def test_channel_flow_from_broker_pauses_publishing() -> None:
    script = handshake(Script())
    open_channel_one(script)
    (
        script.send(method_bytes(1, spec.Channel.Flow(active=False)))
        .expect(method_frame(1, spec.Channel.FlowOk))
        .send(method_bytes(1, spec.Channel.Flow(active=True)))
        # FlowOk, then the publish (method, header, body): the client may
        # write them in one go, so they are expected together.
        .expect(frames(4))
    )
    with ScriptedServer(script) as server:
        rec = Recorder()
        conn = open_connection(fake_params(server))
        chan = conn.channel(on_open_callback=rec.cb("open"))
        chan.add_on_flow_callback(rec.cb("flow"))
        pump(conn.ioloop, rec.has("flow"))
        assert rec.get("flow") == [False] and not chan.flow_active
        with pytest.raises(exceptions.ChannelWrongStateError, match=r"Channel\.Flow"):
            chan.basic_publish("", "queue", b"paused")
        assert chan.is_open
        pump(conn.ioloop, rec.has("flow", 2))
        assert rec.get("flow") == [False, True] and chan.flow_active
        chan.basic_publish("", "queue", b"resumed")
        pump(conn.ioloop, lambda: b"resumed" in server.received())
        server.wait()
        received = server.received()
        assert received.endswith(b"resumed" + bytes([FRAME_END]))
        assert method_bytes(1, spec.Channel.FlowOk(active=True)) in received
        assert b"paused" not in received
        conn.ioloop.close()


# ---------------------------------------------------------------- back-pressure


@pytest.mark.broker
@pytest.mark.timeout(60)
def test_backpressure_callback_fires_when_transport_buffer_grows(broker_url: str) -> None:
    params = URLParameters(broker_url)
    with TcpProxy(params.host, params.port) as proxy:
        params.host, params.port = proxy.address
        conn = open_connection(params)
        chan = open_channel(conn)
        rec = Recorder()
        conn.add_backpressure_callback(rec.cb("pressure"))
        conn.set_backpressure_multiplier(5)
        with pytest.raises(ValueError):
            conn.set_backpressure_multiplier(0)
        proxy.stall()
        body = b"x" * 16384
        deadline = time.monotonic() + 20
        while not rec.get("pressure") and time.monotonic() < deadline:
            for _ in range(50):
                chan.basic_publish("", "pika-test-backpressure-nowhere", body)
            conn.ioloop.poll()  # flushes: a queued callback, so no wait
        assert rec.get("pressure"), "no back-pressure callback"
        assert rec.get("pressure")[0] is conn
        proxy.resume()
        close_connection(conn, timeout=30)
        conn.ioloop.close()


# ---------------------------------------------------------------- malformed input


def connect_to(server: ScriptedServer, **extra: Any) -> tuple[SelectConnection, Recorder]:
    rec = Recorder()
    conn = SelectConnection(
        fake_params(server, **extra),
        on_open_callback=rec.cb("open"),
        on_open_error_callback=rec.cb("error"),
        on_close_callback=rec.cb("close"),
    )
    return conn, rec


START_PAYLOAD = method_bytes(0, START)[7:-1]

# What a bad peer answers to the protocol header -> the exception the
# open-error callback gets and, for a frame error, its reply code.
BAD_GREETINGS: dict[str, tuple[bytes | None, type[Exception], int | None]] = {
    "AMQP 0-8 header": (b"AMQP\x00\x00\x08\x00", exceptions.IncompatibleProtocolError, None),
    "HTTP reply": (
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        exceptions.AMQPConnectionError,
        None,
    ),
    "closed at once": (None, exceptions.IncompatibleProtocolError, None),
    "oversized frame": (
        struct.pack(">BHI", spec.FRAME_METHOD, 0, 50_000_000),
        exceptions.ConnectionClosed,
        spec.FRAME_ERROR,
    ),
    "bad frame end": (
        raw_frame(spec.FRAME_METHOD, 0, START_PAYLOAD, frame_end=0x41),
        exceptions.ConnectionClosed,
        spec.FRAME_ERROR,
    ),
}


@pytest.mark.parametrize("greeting", sorted(BAD_GREETINGS))
def test_bad_greeting_reaches_open_error(greeting: str) -> None:
    reply, error_type, reply_code = BAD_GREETINGS[greeting]
    script = Script().expect(PROTOCOL_HEADER)
    if reply is None:
        script.close()
    else:
        script.send(reply).expect_closed()
    with ScriptedServer(script) as server:
        conn, rec = connect_to(server)
        name, error = run_to_end(conn, rec)
        assert name == "error"
        assert isinstance(error, error_type), repr(error)
        assert isinstance(error, exceptions.AMQPConnectionError)
        if reply_code is not None:
            assert getattr(error, "reply_code", None) == reply_code
        if greeting == "AMQP 0-8 header":
            assert "0-8-0" in str(error)
        server.wait()
        assert conn.is_closed
        conn.ioloop.close()


VIOLATIONS = {
    "oversized frame": (raw_frame(spec.FRAME_BODY, 1, b"\x00" * 5000), spec.FRAME_ERROR),
    "bad frame end": (raw_frame(spec.FRAME_HEARTBEAT, 0, b"", frame_end=0x00), spec.FRAME_ERROR),
    "unknown frame type": (raw_frame(9, 0, b""), spec.FRAME_ERROR),
    "garbage method arguments": (
        raw_frame(spec.FRAME_METHOD, 1, struct.pack(">I", spec.Basic.Deliver.INDEX) + b"\xff"),
        spec.SYNTAX_ERROR,
    ),
    "body without header": (raw_frame(spec.FRAME_BODY, 1, b"stray"), spec.UNEXPECTED_FRAME),
}


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_protocol_violation_closes_with_reply_code(violation: str) -> None:
    bad_bytes, reply_code = VIOLATIONS[violation]
    script = open_channel_one(handshake(Script(), frame_max=4096))
    (
        script.send(bad_bytes)
        .expect(method_frame(0, spec.Connection.Close))
        .send(method_bytes(0, spec.Connection.CloseOk()))
        .expect_closed()
    )
    with ScriptedServer(script) as server:
        conn, rec = connect_to(server)
        pump(conn.ioloop, rec.has("open"))
        chan = conn.channel()
        chan.add_on_close_callback(rec.cb("channel closed"))
        name, error = run_to_end(conn, rec)
        assert name == "close"
        assert isinstance(error, exceptions.ConnectionClosed)
        assert error.reply_code == reply_code, error
        assert rec.one("channel closed")[0] is chan
        server.wait()
        close_payload = server.received().rsplit(b"\x00\x0a\x00\x32", 1)[1]
        assert close_payload.startswith(struct.pack(">H", reply_code))
        conn.ioloop.close()


def test_peer_that_never_answers_close_ok_does_not_hang() -> None:
    script = handshake(Script())
    script.send(raw_frame(spec.FRAME_HEARTBEAT, 0, b"", frame_end=0x00))
    script.expect(method_frame(0, spec.Connection.Close))  # ... and never answers
    with ScriptedServer(script) as server:
        conn, rec = connect_to(server)
        started = time.monotonic()
        name, error = run_to_end(conn, rec, timeout=30)
        assert name == "close"
        assert isinstance(error, exceptions.ConnectionClosed)
        assert error.reply_code == spec.FRAME_ERROR
        assert time.monotonic() - started < 25
        conn.ioloop.close()


def test_server_resets_mid_session() -> None:
    script = handshake(Script())
    script.sleep(0.2).close(reset=True)
    with ScriptedServer(script) as server:
        conn, rec = connect_to(server)
        name, error = run_to_end(conn, rec)
        assert name == "close"
        assert isinstance(error, exceptions.StreamLostError)
        conn.ioloop.close()
