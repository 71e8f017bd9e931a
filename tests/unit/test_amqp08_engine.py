"""The engine speaking AMQP 0-8, driven by byte transcripts (no broker): the
0-8 header and handshake, Access.Request for each channel's ticket,
renumbered Connection.Close, Connection.Redirect, a broker offering the
other version, and the operations 0-8 lacks refused before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from pika import amqp_object, exceptions, frame, spec, spec08
from pika.connection import ConnectionParameters, URLParameters
from pika.credentials import PlainCredentials
from pika.engine import ConnectionEngine, EngineConfig, events
from pika.engine.connection_engine import CLOSED, OPEN
from pika.engine.dialects import AMQP_0_8, AMQP_0_9_1, by_header
from pika.frame import decode_header, decode_method, scan_frame

HEADER_0_8 = b"AMQP\x01\x01\x08\x00"
HEADER_0_9_1 = b"AMQP\x00\x00\x09\x01"


def wire(channel: int, method: amqp_object.Method) -> bytes:
    """A method frame as a 0-8 broker writes it (``method`` from `pika.spec08`)."""
    return frame.Method(channel, method).marshal()


def sent(engine: ConnectionEngine) -> list[tuple[int, Any]]:
    """(channel, what) for each frame the engine queued, decoded as 0-8:
    methods with spec08's table, content headers as ``("header", size)``,
    bodies as bytes."""
    data = b"".join(bytes(chunk) for chunk in engine.take_output())
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data):
        found = scan_frame(data, pos, 1 << 20)
        assert found is not None, "incomplete frame in the output"
        kind, channel, start, end = found
        if kind == spec.FRAME_METHOD:
            out.append((channel, decode_method(data, start, end - 1, spec08.methods)))
        elif kind == spec.FRAME_HEADER:
            out.append((channel, ("header", decode_header(data, start, end - 1)[0])))
        else:
            out.append((channel, data[start : end - 1]))
        pos = end
    return out


def feed(engine: ConnectionEngine, data: bytes) -> list[events.Event]:
    engine.receive_data(data)
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def new_engine(**config: Any) -> ConnectionEngine:
    config.setdefault("credentials", PlainCredentials("guest", "guest"))
    return ConnectionEngine(EngineConfig(amqp_version="0-8", **config))


START = spec08.Connection.Start(
    8,
    0,
    {"product": "a 0-8 broker", "capabilities": {"publisher_confirms": True}},
    b"PLAIN",
    b"en_US",
)


def open_engine() -> ConnectionEngine:
    engine = new_engine()
    engine.start(0.0)
    assert engine.take_output() == [bytearray(HEADER_0_8)]
    assert feed(engine, wire(0, START)) == []
    ((_, start_ok),) = sent(engine)
    assert isinstance(start_ok, spec08.Connection.StartOk)
    # Capabilities 0-8 cannot carry are not announced.
    announced = start_ok.client_properties["capabilities"]
    for lacking in ("publisher_confirms", "basic.nack", "connection.blocked"):
        assert lacking not in announced
    assert "consumer_cancel_notify" not in announced
    assert announced["authentication_failure_close"] is True
    feed(engine, wire(0, spec08.Connection.Tune(2047, 131072, 0)))
    assert [type(m) for _, m in sent(engine)] == [
        spec08.Connection.TuneOk,
        spec08.Connection.Open,
    ]
    (opened,) = feed(engine, wire(0, spec08.Connection.OpenOk("")))
    assert isinstance(opened, events.ConnectionOpened)
    assert engine.state == OPEN
    return engine


def open_channel(engine: ConnectionEngine, number: int = 1, ticket: int = 101) -> None:
    engine.open_channel(number)
    assert [type(m) for _, m in sent(engine)] == [spec08.Channel.Open]
    # 0-8's OpenOk is empty; the channel then asks for its access ticket.
    assert feed(engine, wire(number, spec08.Channel.OpenOk())) == []
    ((channel, request),) = sent(engine)
    assert channel == number and isinstance(request, spec08.Access.Request)
    assert (request.realm, request.active, request.write, request.read) == (
        "/data",
        True,
        True,
        True,
    )
    (event,) = feed(engine, wire(number, spec08.Access.RequestOk(ticket)))
    assert isinstance(event, events.ChannelOpened) and event.channel_number == number


def test_handshake_channel_ticket_and_ticketed_methods() -> None:
    engine = open_engine()
    open_channel(engine)
    engine.send_method(1, spec.Queue.Declare(queue="q"))
    engine.publish(1, "", "q", b"body")
    engine.send_method(1, spec.Basic.Consume(queue="q", consumer_tag="c"))
    frames = sent(engine)
    declare, publish, header, body, consume = (what for _, what in frames)
    assert isinstance(declare, spec08.Queue.Declare) and declare.ticket == 101
    assert isinstance(publish, spec08.Basic.Publish) and publish.ticket == 101
    assert header == ("header", 4) and body == b"body"
    # Basic.Consume goes out in 0-8's layout (no arguments table).
    assert isinstance(consume, spec08.Basic.Consume) and consume.ticket == 101
    assert (consume.queue, consume.consumer_tag) == ("q", "c")
    # Replies decode to the pika.spec classes the layers above know.
    (event,) = feed(engine, wire(1, spec08.Basic.ConsumeOk("c")))
    assert isinstance(event, events.MethodReceived)
    assert type(event.method) is spec.Basic.ConsumeOk


def test_channel_alert_reaches_the_channel_as_a_method() -> None:
    engine = open_engine()
    open_channel(engine)
    (event,) = feed(engine, wire(1, spec08.Channel.Alert(312, "NO_ROUTE", {})))
    assert isinstance(event, events.MethodReceived)
    assert isinstance(event.method, spec08.Channel.Alert)
    assert engine.state == OPEN


def test_connection_close_is_numbered_as_0_8_numbers_it() -> None:
    engine = open_engine()
    engine.close(200, "bye")
    ((_, close),) = sent(engine)
    assert isinstance(close, spec08.Connection.Close)  # 10.60 on the wire
    assert (close.reply_code, close.reply_text) == (200, "bye")
    (event,) = feed(engine, wire(0, spec08.Connection.CloseOk()))
    assert isinstance(event, events.ConnectionClosed)
    assert isinstance(event.error, exceptions.ConnectionClosedByClient)


def test_broker_close_in_0_8_is_answered_with_0_8_close_ok() -> None:
    engine = open_engine()
    (event,) = feed(engine, wire(0, spec08.Connection.Close(320, "CONNECTION_FORCED", 0, 0)))
    assert isinstance(event.error, exceptions.ConnectionClosedByBroker)
    assert event.error.reply_code == 320
    assert [type(m) for _, m in sent(engine)] == [spec08.Connection.CloseOk]


def test_redirect_is_a_documented_connection_error() -> None:
    engine = new_engine()
    engine.start(0.0)
    feed(engine, wire(0, START))
    feed(engine, wire(0, spec08.Connection.Tune(0, 131072, 0)))
    (event,) = feed(engine, wire(0, spec08.Connection.Redirect("other.example:5673", "")))
    error = event.error
    assert isinstance(error, exceptions.ConnectionRedirected)
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert (error.redirect_host, error.redirect_port) == ("other.example", 5673)
    assert engine.state == CLOSED


def test_a_0_9_1_broker_answering_the_0_8_header_offers_its_version() -> None:
    engine = new_engine()
    engine.start(0.0)
    engine.take_output()
    (event,) = feed(engine, HEADER_0_9_1)
    assert isinstance(event.error, exceptions.ProtocolVersionOffered)
    assert event.error.amqp_version == "0-9-1"
    # A 0-9-1 engine offered 0-8 learns the same way.
    engine = ConnectionEngine(EngineConfig(PlainCredentials("guest", "guest")))
    engine.start(0.0)
    (event,) = feed(engine, HEADER_0_8)
    assert isinstance(event.error, exceptions.ProtocolVersionOffered)
    assert event.error.amqp_version == "0-8"
    # A version we do not speak stays an IncompatibleProtocolError.
    engine = new_engine()
    engine.start(0.0)
    (event,) = feed(engine, b"AMQP\x01\x01\x00\x0a")
    assert type(event.error) is exceptions.IncompatibleProtocolError
    assert "0-10" in str(event.error)


def test_a_0_9_1_start_on_a_0_8_connection_is_incompatible() -> None:
    engine = new_engine()
    engine.start(0.0)
    (event,) = feed(engine, wire(0, spec.Connection.Start(0, 9, {}, b"PLAIN", b"en_US")))
    assert isinstance(event.error, exceptions.IncompatibleProtocolError)
    assert "not 0-8" in str(event.error)


def test_access_request_ok_without_a_request_is_a_violation() -> None:
    engine = ConnectionEngine(EngineConfig(PlainCredentials("guest", "guest")))
    engine.start(0.0)
    feed(engine, frame.Method(0, spec.Connection.Start(0, 9, {}, b"PLAIN", b"")).marshal())
    feed(engine, frame.Method(0, spec.Connection.Tune(0, 131072, 0)).marshal())
    feed(engine, frame.Method(0, spec.Connection.OpenOk()).marshal())
    engine.take_output()
    engine.open_channel(1)
    feed(engine, frame.Method(1, spec.Access.RequestOk(1)).marshal())
    assert engine.state.is_closing


# ------------------------------------------------------- what 0-8 lacks


@pytest.mark.parametrize(
    ("method", "what"),
    [
        (spec.Exchange.Bind(destination="a", source="b"), "Exchange.Bind"),
        (spec.Exchange.Unbind(destination="a", source="b"), "Exchange.Unbind"),
        (spec.Confirm.Select(), "Confirm.Select"),
        (spec.Basic.Consume(queue="q", arguments={"x-priority": 1}), "Basic.Consume.arguments"),
    ],
)
def test_methods_0_8_lacks_are_refused_before_anything_is_sent(
    method: amqp_object.Method, what: str
) -> None:
    engine = open_engine()
    open_channel(engine)
    with pytest.raises(exceptions.UnsupportedByAMQPVersion, match=what.replace(".", r"\.")):
        engine.send_method(1, method)
    assert engine.take_output() == []
    assert engine.state == OPEN


def test_update_secret_is_refused_in_0_8() -> None:
    engine = open_engine()
    with pytest.raises(exceptions.UnsupportedByAMQPVersion, match="UpdateSecret"):
        engine.update_secret("token", "refresh")
    assert engine.take_output() == []


def test_dialect_facts() -> None:
    assert isinstance(exceptions.UnsupportedByAMQPVersion(), exceptions.MethodNotImplemented)
    assert by_header(HEADER_0_8) is AMQP_0_8 and by_header(HEADER_0_9_1) is AMQP_0_9_1
    assert by_header(b"AMQP\x00\x00\x0a\x00") is None
    for name in ("publisher_confirms", "basic.nack", "exchange_exchange_bindings"):
        assert AMQP_0_8.capability(name, True) is False
        assert AMQP_0_9_1.capability(name, True) is True
    # 0-9-1 lacks nothing and renumbers nothing.
    AMQP_0_9_1.check(spec.Confirm.Select())
    assert AMQP_0_9_1.outgoing == {} and not AMQP_0_9_1.missing


# ------------------------------------------------------- choosing the version


def test_amqp_version_parameter() -> None:
    assert ConnectionParameters().amqp_version == "0-9-1"
    assert ConnectionParameters(amqp_version="0-8").amqp_version == "0-8"
    with pytest.raises(ValueError, match="amqp_version"):
        ConnectionParameters(amqp_version="0-10")
    with pytest.raises(TypeError, match="amqp_version"):
        ConnectionParameters(amqp_version=8)  # type: ignore[arg-type]
    assert URLParameters("amqp://h/?amqp_version=0-8").amqp_version == "0-8"
    assert URLParameters("amqp://h/").amqp_version == "0-9-1"
    with pytest.raises(ValueError, match="amqp_version"):
        URLParameters("amqp://h/?amqp_version=1.0")
    # The version is part of what makes two parameter sets equal.
    assert ConnectionParameters(amqp_version="0-8") != ConnectionParameters()
