"""Following a broker that points elsewhere while the connection opens, once:
another AMQP version in its answer to our protocol header (the negotiation
the specification describes), or AMQP 0-8's Connection.Redirect. Scripted
brokers, no RabbitMQ needed."""

from __future__ import annotations

import logging
import time

import pytest

from pika import exceptions, spec08
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.recovery import RecoveryPolicy
from tests.integration.select_support import Recorder, open_connection, pump
from tests.integration.test_select_faults import (
    PROTOCOL_HEADER,
    fake_params,
    frames,
    method_bytes,
    method_frame,
    run_to_end,
)
from tests.utils.fake_server import Script, ScriptedServer

HEADER_0_8 = b"AMQP\x01\x01\x08\x00"
START_0_8 = spec08.Connection.Start(8, 0, {"product": "a 0-8 broker"}, b"PLAIN", b"en_US")


def handshake_0_8(script: Script, open_reply: bytes | None = None) -> Script:
    """A 0-8 broker's side of the handshake; Connection.Open gets ``open_reply``
    (OpenOk by default)."""
    return (
        script.expect(HEADER_0_8)
        .send(method_bytes(0, START_0_8))
        .expect(frames(1))
        .send(method_bytes(0, spec08.Connection.Tune(0, 131072, 0)))
        .expect(frames(2))
        .send(open_reply or method_bytes(0, spec08.Connection.OpenOk("")))
    )


def closed_by_client_0_8(script: Script) -> Script:
    return script.expect(method_frame(0, spec08.Connection.Close)).send(
        method_bytes(0, spec08.Connection.CloseOk())
    )


def offers_0_8() -> Script:
    return Script().expect(PROTOCOL_HEADER).send(HEADER_0_8).close()


def test_a_broker_offering_0_8_is_reconnected_to_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    second = closed_by_client_0_8(handshake_0_8(Script()))
    with ScriptedServer(offers_0_8(), second) as server:
        rec = Recorder()
        with caplog.at_level(logging.INFO, logger="pika.connection"):
            conn = open_connection(fake_params(server))
        assert server.accepted == 2
        assert conn.params.amqp_version == "0-8"
        assert conn._engine.dialect.name == "0-8"
        assert not conn.publisher_confirms
        assert any(
            record.levelno == logging.INFO and "amqp_version='0-8'" in record.getMessage()
            for record in caplog.records
        )
        conn.add_on_close_callback(rec.cb("close"))
        conn.close()
        pump(conn.ioloop, rec.has("close"))
        server.wait()
        conn.ioloop.close()


def test_the_version_is_followed_only_once() -> None:
    back_to_0_9_1 = Script().expect(HEADER_0_8).send(PROTOCOL_HEADER).close()
    with ScriptedServer(offers_0_8(), back_to_0_9_1) as server:
        rec = Recorder()
        conn = SelectConnection(
            fake_params(server),
            on_open_callback=rec.cb("open"),
            on_open_error_callback=rec.cb("error"),
            on_close_callback=rec.cb("close"),
        )
        name, error = run_to_end(conn, rec)
        assert name == "error"
        assert isinstance(error, exceptions.ProtocolVersionOffered)
        assert error.amqp_version == "0-9-1"
        assert server.accepted == 2
        conn.ioloop.close()


def test_blocking_connection_negotiates_too() -> None:
    second = closed_by_client_0_8(handshake_0_8(Script()))
    with ScriptedServer(offers_0_8(), second) as server:
        conn = BlockingConnection(fake_params(server))
        assert conn._impl.params.amqp_version == "0-8"
        conn.close()
        server.wait()


def test_connection_redirect_is_followed_once(caplog: pytest.LogCaptureFixture) -> None:
    target_script = closed_by_client_0_8(handshake_0_8(Script()))
    with ScriptedServer(target_script) as target:
        redirect = method_bytes(0, spec08.Connection.Redirect(f"{target.host}:{target.port}", ""))
        with ScriptedServer(handshake_0_8(Script(), redirect)) as first:
            with caplog.at_level(logging.INFO, logger="pika.connection"):
                conn = BlockingConnection(fake_params(first, amqp_version="0-8"))
            assert (conn._impl.params.host, conn._impl.params.port) == target.address
            assert any("redirected" in record.getMessage() for record in caplog.records)
            conn.close()
            target.wait()
            first.wait()


def test_a_second_redirect_is_reported() -> None:
    target = ScriptedServer(Script())
    redirect = method_bytes(0, spec08.Connection.Redirect(f"{target.host}:{target.port}", ""))
    # The target redirects too (to itself): that one is not followed.
    target.scripts[0] = handshake_0_8(Script(), redirect)
    with target, ScriptedServer(handshake_0_8(Script(), redirect)) as first:
        with pytest.raises(exceptions.AMQPConnectionError) as raised:
            BlockingConnection(fake_params(first, amqp_version="0-8"))
        assert "redirects the connection" in str(raised.value)
        assert target.accepted == 1


@pytest.mark.timeout(60)
def test_a_recovery_follows_the_offered_version_again() -> None:
    # The application's parameters say 0-9-1; the broker offers 0-8 on every
    # connection, the first and the recovery's, and drops the first one.
    dropped = handshake_0_8(Script()).sleep(0.2).close()
    recovered = (
        handshake_0_8(Script())
        # The recovery's own channel for replaying the topology, with its ticket.
        .expect(method_frame(1, spec08.Channel.Open))
        .send(method_bytes(1, spec08.Channel.OpenOk()))
        .expect(method_frame(1, spec08.Access.Request))
        .send(method_bytes(1, spec08.Access.RequestOk(1)))
    )
    closed_by_client_0_8(recovered)
    with ScriptedServer(offers_0_8(), dropped, offers_0_8(), recovered) as server:
        conn = BlockingConnection(
            fake_params(server), recovery=RecoveryPolicy(initial_delay=0.05, jitter=0)
        )
        done: list[object] = []
        conn.add_on_recovery_succeeded_callback(done.append)
        deadline = time.monotonic() + 30
        while not done and time.monotonic() < deadline:
            conn.process_data_events(0.1)
        assert done, "the connection did not recover"
        assert server.accepted == 4
        assert conn._impl._engine.dialect.name == "0-8"
        conn.close()
        server.wait()
