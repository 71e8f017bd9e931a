"""Channel.Flow as Pika 0.5's README describes it, against a scripted broker
(RabbitMQ itself no longer sends Channel.Flow): publishing while the flow is
stopped raises ContentTransmissionForbidden, ``BlockingChannel.basic_publish``
can wait for the flow instead (bounded by ``flow_control_timeout``),
``addFlowChangeHandler`` hears both changes, and every Channel.Flow is
answered with Channel.FlowOk on the wire."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Callable, Optional

import pytest

from pika import exceptions, frame, spec
from pika.adapters.blocking_connection import BlockingConnection
from pika.frame import HEARTBEAT_BYTES
from tests.integration.select_support import Recorder, open_connection, pump
from tests.integration.test_select_faults import (
    FRAME_END,
    fake_params,
    handshake,
    method_bytes,
    method_frame,
    open_channel_one,
)
from tests.utils.fake_server import Script, ScriptedServer

STOP = spec.Channel.Flow(active=False)
RESUME = spec.Channel.Flow(active=True)


def _published(channel: int, body: bytes) -> Callable[[bytes], Optional[int]]:
    """For `Script.expect_prefix`: the whole frames up to and including a
    publish on ``channel`` (Basic.Publish, content header, one body frame
    holding exactly ``body``). What the client sends right behind it (its
    Connection.Close, a heartbeat) is left for the next steps, whether or
    not it arrived in the same read."""

    def find(data: bytes) -> Optional[int]:
        offset, awaiting = 0, spec.FRAME_METHOD
        while len(data) - offset >= 7:
            kind, number, size = struct.unpack_from(">BHI", data, offset)
            end = offset + size + 8
            if len(data) < end:
                return None
            payload = data[offset + 7 : end - 1]
            if number != channel:
                pass  # other channels' frames may come in between
            elif kind == spec.FRAME_METHOD:
                publish = struct.unpack_from(">I", payload)[0] == spec.Basic.Publish.INDEX
                awaiting = spec.FRAME_HEADER if publish else spec.FRAME_METHOD
            elif kind == awaiting == spec.FRAME_HEADER:
                awaiting = spec.FRAME_BODY
            elif kind == awaiting == spec.FRAME_BODY and payload == body:
                return end
            else:
                awaiting = spec.FRAME_METHOD
            offset = end
        return None

    return find


def _open_channel_two(script: Script) -> Script:
    return script.expect(method_frame(2, spec.Channel.Open)).send(
        method_bytes(2, spec.Channel.OpenOk())
    )


def _closed_by_client(script: Script) -> Script:
    return script.expect(method_frame(0, spec.Connection.Close), timeout=30).send(
        method_bytes(0, spec.Connection.CloseOk())
    )


def test_a_publish_is_found_with_the_close_right_behind_it_in_one_read() -> None:
    # A busy machine may schedule the server's thread only after the client
    # has written its publish and its Connection.Close: one read holds both.
    script = _closed_by_client(Script().expect_prefix(_published(1, b"waited"), timeout=5))
    publish = (
        method_bytes(1, spec.Channel.FlowOk(active=True))
        + frame.Method(1, spec.Basic.Publish(routing_key="queue")).marshal()
        + frame.Header(1, 6, spec.BasicProperties()).marshal()
        + frame.Body(1, b"waited").marshal()
    )
    close = method_bytes(0, spec.Connection.Close(200, "Normal shutdown", 0, 0))
    with ScriptedServer(script) as server, socket.create_connection(server.address, 5) as sock:
        sock.sendall(publish + close + HEARTBEAT_BYTES)
        assert sock.recv(100) == method_bytes(0, spec.Connection.CloseOk())
        server.wait()


def test_a_publish_on_another_channel_or_with_another_body_is_not_found() -> None:
    find = _published(1, b"waited")
    body = b"other"
    publish = frame.Method(2, spec.Basic.Publish(routing_key="queue")).marshal()
    header = frame.Header(2, len(body), spec.BasicProperties()).marshal()
    assert find(publish + header + frame.Body(2, body).marshal()) is None
    publish = frame.Method(1, spec.Basic.Publish(routing_key="queue")).marshal()
    header = frame.Header(1, len(body), spec.BasicProperties()).marshal()
    assert find(publish + header + frame.Body(1, body).marshal()) is None
    assert find(header + frame.Body(1, b"waited").marshal()) is None
    whole = publish + header + frame.Body(1, b"waited").marshal()
    assert find(whole[:-1]) is None
    assert find(whole + HEARTBEAT_BYTES) == len(whole)
    between = publish + header + HEARTBEAT_BYTES + frame.Body(1, b"waited").marshal()
    assert find(between) == len(between)


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
        .expect_prefix(_published(1, b"waited"), timeout=20)
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
