"""Channel.Flow as Pika 0.5's README describes it, against a scripted broker
(RabbitMQ itself no longer sends Channel.Flow): publishing while the flow is
stopped raises ContentTransmissionForbidden, ``BlockingChannel.basic_publish``
can wait for the flow instead (bounded by ``flow_control_timeout``),
``addFlowChangeHandler`` hears both changes, and every Channel.Flow is
answered with Channel.FlowOk on the wire."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingConnection
from pika.frame import HEARTBEAT_BYTES
from tests.integration.select_support import Recorder, open_connection, pump
from tests.integration.test_select_faults import (
    FRAME_END,
    fake_params,
    frames,
    handshake,
    method_bytes,
    method_frame,
    open_channel_one,
)
from tests.utils.fake_server import Script, ScriptedServer

STOP = spec.Channel.Flow(active=False)
RESUME = spec.Channel.Flow(active=True)


def _published(body: bytes) -> Any:
    """An expectation: a whole publish (method, header, body) ending in ``body``."""
    return lambda data: frames(3)(data) and data.endswith(body + bytes([FRAME_END]))


def _open_channel_two(script: Script) -> Script:
    return script.expect(method_frame(2, spec.Channel.Open)).send(
        method_bytes(2, spec.Channel.OpenOk())
    )


def _closed_by_client(script: Script) -> Script:
    return script.expect(method_frame(0, spec.Connection.Close), timeout=30).send(
        method_bytes(0, spec.Connection.CloseOk())
    )


def test_callback_channel_refuses_publishing_and_tells_flow_change_handlers() -> None:
    script = handshake(Script())
    open_channel_one(script)
    (
        script.send(method_bytes(1, STOP))
        .expect(method_frame(1, spec.Channel.FlowOk))
        .send(method_bytes(1, RESUME))
        .expect(method_frame(1, spec.Channel.FlowOk))
    )
    with ScriptedServer(script) as server:
        rec = Recorder()
        conn = open_connection(fake_params(server))
        chan = conn.channel(on_open_callback=rec.cb("open"))
        chan.addFlowChangeHandler(rec.cb("handler"))
        chan.add_on_flow_callback(rec.cb("flow"))
        pump(conn.ioloop, rec.has("handler"))
        assert rec.get("handler") == [(chan, False)] and rec.get("flow") == [False]
        with pytest.raises(exceptions.ContentTransmissionForbidden, match=r"Channel\.Flow"):
            chan.basic_publish("", "queue", b"paused")
        # Handlers written for the error raised before still catch it.
        with pytest.raises(exceptions.ChannelWrongStateError):
            chan.basic_publish("", "queue", b"paused")
        pump(conn.ioloop, rec.has("handler", 2))
        assert rec.get("handler") == [(chan, False), (chan, True)]
        server.wait()
        received = server.received()
        assert method_bytes(1, spec.Channel.FlowOk(active=False)) in received
        assert method_bytes(1, spec.Channel.FlowOk(active=True)) in received
        assert b"paused" not in received
        conn.ioloop.close()


def test_flow_change_handler_must_be_callable() -> None:
    script = handshake(Script())
    open_channel_one(script)
    with ScriptedServer(script) as server:
        rec = Recorder()
        conn = open_connection(fake_params(server))
        chan = conn.channel(on_open_callback=rec.cb("open"))
        with pytest.raises(TypeError, match="handler"):
            chan.addFlowChangeHandler("not callable")  # type: ignore[arg-type]
        conn.ioloop.close()


@pytest.mark.timeout(60)
def test_blocking_publish_waits_for_the_flow_while_heartbeats_and_channels_run() -> None:
    script = handshake(Script(), heartbeat=2)
    open_channel_one(script)
    _open_channel_two(script)
    (
        script.send(method_bytes(1, STOP))
        .expect(method_frame(1, spec.Channel.FlowOk))
        # While the publish waits, the client's heartbeats go on...
        .expect(lambda data: HEARTBEAT_BYTES in data)
        .send(HEARTBEAT_BYTES)
        # ... and another channel's Channel.Flow is answered.
        .send(method_bytes(2, STOP))
        .expect(method_frame(2, spec.Channel.FlowOk))
        .send(method_bytes(2, RESUME))
        .expect(method_frame(2, spec.Channel.FlowOk))
        .send(method_bytes(1, RESUME))
        .expect(_published(b"waited"), timeout=20)
    )
    _closed_by_client(script)
    with ScriptedServer(script) as server:
        conn = BlockingConnection(fake_params(server, heartbeat=2))
        chan = conn.channel()
        conn.channel()  # channel 2
        stopped = threading.Event()
        chan._impl.add_on_flow_callback(lambda active: active or stopped.set())
        conn.process_data_events(time_limit=0)
        while not stopped.is_set():
            conn.process_data_events(time_limit=0.1)
        chan.basic_publish("", "queue", b"waited", block_on_flow_control=True)
        conn.close()
        server.wait()
        received = server.received()
        assert b"waited" + bytes([FRAME_END]) in received
        for number in (1, 2):
            assert method_bytes(number, spec.Channel.FlowOk(active=False)) in received
            assert method_bytes(number, spec.Channel.FlowOk(active=True)) in received


@pytest.mark.timeout(60)
def test_blocking_publish_gives_up_after_flow_control_timeout() -> None:
    script = handshake(Script())
    open_channel_one(script)
    script.send(method_bytes(1, STOP)).expect(method_frame(1, spec.Channel.FlowOk))
    _closed_by_client(script)
    with ScriptedServer(script) as server:
        conn = BlockingConnection(fake_params(server))
        chan = conn.channel()
        while chan._impl.flow_active:
            conn.process_data_events(time_limit=0.1)
        with pytest.raises(exceptions.ContentTransmissionForbidden, match=r"Channel\.Flow"):
            chan.basic_publish("", "queue", b"refused")
        with pytest.raises(exceptions.FlowControlTimeout, match=r"within 0\.3 s"):
            chan.basic_publish(
                "", "queue", b"timed out", block_on_flow_control=True, flow_control_timeout=0.3
            )
        with pytest.raises(ValueError, match="flow_control_timeout"):
            chan.basic_publish(
                "", "queue", b"x", block_on_flow_control=True, flow_control_timeout=-1
            )
        assert issubclass(exceptions.FlowControlTimeout, exceptions.ContentTransmissionForbidden)
        assert chan.is_open
        conn.close()
        server.wait()
        received = server.received()
        assert b"refused" not in received and b"timed out" not in received
