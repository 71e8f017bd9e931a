"""The engine, driven by byte transcripts: no socket, no clock, no mock."""

from __future__ import annotations

import ast
import pathlib
import struct

import pytest

from pika import exceptions, frame, spec
from pika.credentials import ExternalCredentials, PlainCredentials
from pika.engine import ConnectionEngine, EngineConfig, events
from pika.engine.connection_engine import CLOSED, CLOSING, OPEN
from pika.engine.tuning import negotiate_heartbeat, negotiate_limit
from tests.utils.frames import content_bytes, decode_all, method_bytes

SERVER_CAPABILITIES = {
    "publisher_confirms": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
}


def sent_frames(engine: ConnectionEngine) -> list[object]:
    """Decode everything the engine queued for the wire."""
    return list(decode_all(b"".join(bytes(chunk) for chunk in engine.take_output())))


def sent_methods(engine: ConnectionEngine) -> list[object]:
    return [f.method for f in sent_frames(engine) if isinstance(f, frame.Method)]


def drain(engine: ConnectionEngine) -> list[events.Event]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def feed(engine: ConnectionEngine, data: bytes) -> list[events.Event]:
    engine.receive_data(data)
    return drain(engine)


def new_engine(**config: object) -> ConnectionEngine:
    config.setdefault("credentials", PlainCredentials("guest", "guest"))
    return ConnectionEngine(EngineConfig(**config))  # type: ignore[arg-type]


def open_engine(heartbeat: int = 0, frame_max: int = 131072, **config: object) -> ConnectionEngine:
    engine = new_engine(frame_max=frame_max, **config)
    engine.start(0.0)
    engine.take_output()
    feed(
        engine,
        method_bytes(
            0,
            spec.Connection.Start(
                server_properties={"capabilities": SERVER_CAPABILITIES},
                mechanisms=b"AMQPLAIN PLAIN",
                locales=b"en_US",
            ),
        ),
    )
    feed(engine, method_bytes(0, spec.Connection.Tune(2047, frame_max, heartbeat)))
    assert isinstance(
        feed(engine, method_bytes(0, spec.Connection.OpenOk()))[0], events.ConnectionOpened
    )
    engine.take_output()
    return engine


def open_channel(engine: ConnectionEngine, number: int = 1) -> None:
    engine.open_channel(number)
    assert sent_methods(engine) == [spec.Channel.Open()]
    assert [type(e) for e in feed(engine, method_bytes(number, spec.Channel.OpenOk()))] == [
        events.ChannelOpened
    ]


def closed_with(engine: ConnectionEngine, evs: list[events.Event]) -> Exception:
    assert engine.state == CLOSED
    assert isinstance(evs[-1], events.ConnectionClosed)
    return evs[-1].error


def violation_close(engine: ConnectionEngine) -> spec.Connection.Close:
    """The Connection.Close the engine sent after a protocol violation."""
    assert engine.state == CLOSING
    methods = sent_methods(engine)
    assert isinstance(methods[-1], spec.Connection.Close)
    return methods[-1]


# --------------------------------------------------------------------- handshake


def test_handshake_transcript() -> None:
    engine = new_engine(virtual_host="vh", heartbeat=None)
    engine.start(0.0)
    assert b"".join(engine.take_output()) == b"AMQP\x00\x00\x09\x01"
    start = spec.Connection.Start(
        server_properties={"product": "RabbitMQ"}, mechanisms=b"AMQPLAIN PLAIN", locales=b"en_US"
    )
    assert feed(engine, method_bytes(0, start)) == []
    (start_ok,) = sent_methods(engine)
    assert isinstance(start_ok, spec.Connection.StartOk)
    assert start_ok.mechanism == "PLAIN"
    assert start_ok.response == b"\x00guest\x00guest"
    caps = start_ok.client_properties["capabilities"]
    for capability in (
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ):
        assert caps[capability] is True
    assert feed(engine, method_bytes(0, spec.Connection.Tune(2047, 131072, 60))) == []
    tune_ok, open_ = sent_methods(engine)
    assert tune_ok == spec.Connection.TuneOk(2047, 131072, 60)
    assert open_.virtual_host == "vh"
    (opened,) = feed(engine, method_bytes(0, spec.Connection.OpenOk()))
    assert isinstance(opened, events.ConnectionOpened)
    assert opened.server_properties == {"product": "RabbitMQ"}
    assert engine.state == OPEN
    assert (engine.channel_max, engine.frame_max, engine.heartbeat) == (2047, 131072, 60)


def test_handshake_survives_one_byte_at_a_time() -> None:
    engine = new_engine()
    engine.start(0.0)
    data = method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN"))
    for index in range(len(data)):
        assert feed(engine, data[index : index + 1]) == []
    assert isinstance(sent_methods(engine)[-1], spec.Connection.StartOk)


def test_external_mechanism() -> None:
    engine = new_engine(credentials=ExternalCredentials())
    engine.start(0.0)
    feed(
        engine,
        method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN EXTERNAL")),
    )
    start_ok = sent_methods(engine)[-1]
    assert start_ok.mechanism == "EXTERNAL"


def test_no_common_mechanism_is_an_authentication_error() -> None:
    engine = new_engine(credentials=ExternalCredentials())
    engine.start(0.0)
    evs = feed(
        engine, method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN"))
    )
    assert isinstance(closed_with(engine, evs), exceptions.AuthenticationError)


def test_protocol_header_reply_is_incompatible_protocol() -> None:
    engine = new_engine()
    engine.start(0.0)
    evs = feed(engine, b"AMQP\x00\x00\x08\x00")
    error = closed_with(engine, evs)
    assert isinstance(error, exceptions.IncompatibleProtocolError)
    assert "0-8-0" in str(error)


@pytest.mark.parametrize(
    "record",
    [
        b"\x15\x03\x03\x00\x02\x02\x32",  # a TLS alert (decode_error)
        b"\x16\x03\x01\x00\x05hello",  # the start of a TLS handshake
    ],
)
def test_tls_where_amqp_was_expected_is_incompatible_protocol(record: bytes) -> None:
    engine = new_engine()
    engine.start(0.0)
    engine.take_output()
    error = closed_with(engine, feed(engine, record))
    assert isinstance(error, exceptions.IncompatibleProtocolError)
    assert "answered with TLS" in str(error) and "ssl_options" in str(error)


def test_tls_session_ending_before_start_says_so() -> None:
    engine = new_engine(tls=True)
    engine.start(0.0)
    error = closed_with(engine, (engine.connection_lost(EOFError("eof")), drain(engine))[1])
    assert isinstance(error, exceptions.IncompatibleProtocolError)
    assert "TLS session ended" in str(error) and "client certificate" in str(error)


def test_password_erased_after_start_ok_when_asked() -> None:
    credentials = PlainCredentials("u", "secret", erase_on_connect=True)
    engine = new_engine(credentials=credentials)
    engine.start(0.0)
    feed(engine, method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN")))
    assert sent_methods(engine)[-1].response == b"\x00u\x00secret"
    assert credentials.password != "secret"


@pytest.mark.parametrize(
    ("client", "server", "expected"),
    [(100, 200, 100), (300, 200, 200), (200, 200, 200), (0, 200, 200), (100, 0, 100), (0, 0, 0)],
)
def test_negotiate_limit(client: int, server: int, expected: int) -> None:
    assert negotiate_limit(client, server) == expected


@pytest.mark.parametrize(
    ("setting", "server", "expected"),
    [
        (None, 60, 60),
        (30, 60, 30),
        (120, 60, 60),
        (60, 60, 60),
        (0, 60, 0),
        (30, 0, 30),
        (None, 0, 0),
        (lambda proposal: proposal * 2, 60, 120),
        (lambda proposal: 0, 60, 0),
    ],
)
def test_negotiate_heartbeat(setting: object, server: int, expected: int) -> None:
    assert negotiate_heartbeat(setting, server) == expected  # type: ignore[arg-type]


def test_heartbeat_callable_returning_garbage_is_rejected() -> None:
    with pytest.raises(ValueError, match="heartbeat callable"):
        negotiate_heartbeat(lambda proposal: "soon", 60)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(
    ("state_frames", "error_type"),
    [
        (0, exceptions.IncompatibleProtocolError),
        (1, exceptions.ProbableAuthenticationError),
        (2, exceptions.ProbableAccessDeniedError),
        (3, exceptions.StreamLostError),
    ],
)
def test_connection_lost_maps_to_the_phase(state_frames: int, error_type: type) -> None:
    engine = new_engine()
    engine.start(0.0)
    script = [
        method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN")),
        method_bytes(0, spec.Connection.Tune(0, 131072, 0)),
        method_bytes(0, spec.Connection.OpenOk()),
    ]
    for data in script[:state_frames]:
        feed(engine, data)
    engine.connection_lost(ConnectionResetError("reset"))
    assert isinstance(closed_with(engine, drain(engine)), error_type)


def test_access_refused_during_login_is_probable_authentication_error() -> None:
    engine = new_engine()
    engine.start(0.0)
    feed(engine, method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN")))
    engine.take_output()
    evs = feed(
        engine,
        method_bytes(0, spec.Connection.Close(403, "ACCESS_REFUSED - Login was refused", 0, 0)),
    )
    error = closed_with(engine, evs)
    assert isinstance(error, exceptions.ProbableAuthenticationError)
    assert "403" in str(error)
    assert sent_methods(engine) == [spec.Connection.CloseOk()]


# ----------------------------------------------------------------------- channels


def test_channel_numbers_and_reuse() -> None:
    engine = open_engine()
    assert engine.allocate_channel_number() == 1
    open_channel(engine, 1)
    assert engine.allocate_channel_number() == 2
    engine.close_channel(1, 200, "bye")
    assert sent_methods(engine) == [spec.Channel.Close(200, "bye", 0, 0)]
    assert engine.allocate_channel_number() == 2
    (closed,) = feed(engine, method_bytes(1, spec.Channel.CloseOk()))
    assert isinstance(closed, events.ChannelClosed)
    assert (closed.channel_number, closed.reply_code, closed.by_broker) == (1, 200, False)
    assert engine.allocate_channel_number() == 1


def test_broker_closes_a_channel() -> None:
    engine = open_engine()
    open_channel(engine)
    (closed,) = feed(
        engine, method_bytes(1, spec.Channel.Close(404, "NOT_FOUND - no queue 'q'", 50, 10))
    )
    assert closed.by_broker and closed.reply_code == 404 and "no queue" in closed.reply_text
    assert sent_methods(engine) == [spec.Channel.CloseOk()]
    with pytest.raises(exceptions.ChannelWrongStateError):
        engine.send_method(1, spec.Basic.Qos(0, 10, False))


def test_simultaneous_channel_close_keeps_number_until_close_ok() -> None:
    engine = open_engine()
    open_channel(engine)
    engine.close_channel(1, 200, "bye")
    engine.take_output()
    (closed,) = feed(engine, method_bytes(1, spec.Channel.Close(406, "PRECONDITION_FAILED", 0, 0)))
    assert closed.by_broker and closed.reply_code == 406
    assert sent_methods(engine) == [spec.Channel.CloseOk()]
    assert engine.allocate_channel_number() == 2
    assert feed(engine, method_bytes(1, spec.Channel.CloseOk())) == []
    assert engine.allocate_channel_number() == 1


def test_frames_for_a_closing_channel_are_discarded() -> None:
    engine = open_engine()
    open_channel(engine)
    engine.close_channel(1, 200, "bye")
    deliver = spec.Basic.Deliver("ctag", 1, False, "", "q")
    assert feed(engine, content_bytes(1, deliver, b"late")) == []
    assert feed(engine, method_bytes(1, spec.Basic.Ack(1, False))) == []
    assert isinstance(
        feed(engine, method_bytes(1, spec.Channel.CloseOk()))[0], events.ChannelClosed
    )


def test_channel_flow_from_broker_is_answered() -> None:
    engine = open_engine()
    open_channel(engine)
    (event,) = feed(engine, method_bytes(1, spec.Channel.Flow(False)))
    assert isinstance(event, events.MethodReceived) and event.method.active is False
    assert sent_methods(engine) == [spec.Channel.FlowOk(False)]


def test_no_free_channels() -> None:
    engine = new_engine(channel_max=2)
    engine.start(0.0)
    feed(engine, method_bytes(0, spec.Connection.Start(server_properties={}, mechanisms=b"PLAIN")))
    feed(engine, method_bytes(0, spec.Connection.Tune(0, 131072, 0)))
    feed(engine, method_bytes(0, spec.Connection.OpenOk()))
    engine.open_channel(1)
    engine.open_channel(2)
    with pytest.raises(exceptions.NoFreeChannels):
        engine.allocate_channel_number()
    with pytest.raises(exceptions.InvalidChannelNumber):
        engine.open_channel(3)


# ------------------------------------------------------------------------ content


@pytest.mark.parametrize("size", [0, 1, 4088, 4089, 10000, 200_000])
def test_deliveries_reassemble_across_frames(size: int) -> None:
    engine = open_engine(frame_max=4096)
    open_channel(engine)
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    deliver = spec.Basic.Deliver("ctag", 7, True, "ex", "rk")
    data = content_bytes(
        1, deliver, body, frame_max=4096, content_type="text/plain", delivery_mode=2
    )
    # Split the byte stream at awkward places.
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    evs: list[events.Event] = []
    for chunk in chunks:
        evs += feed(engine, chunk)
    (message,) = evs
    assert isinstance(message, events.ContentReceived)
    assert message.method == deliver
    assert message.properties.content_type == "text/plain"
    assert message.properties.delivery_mode == 2
    assert message.body == body


@pytest.mark.parametrize("size", [0, 5, 4088, 4089, 100_000, 300_000])
def test_publish_splits_bodies_by_frame_max(size: int) -> None:
    engine = open_engine(frame_max=4096)
    open_channel(engine)
    body = b"b" * size
    engine.publish(1, "ex", "key", body, spec.BasicProperties(delivery_mode=2), mandatory=True)
    frames = sent_frames(engine)
    method, header, *bodies = frames
    assert method.method == spec.Basic.Publish(exchange="ex", routing_key="key", mandatory=True)
    assert header.body_size == size and header.properties.delivery_mode == 2
    assert all(len(b.fragment) <= 4096 - 8 for b in bodies)
    assert b"".join(b.fragment for b in bodies) == body
    assert len(bodies) == -(-size // 4088)


def bare_delivery(class_id: int = 60, body: bytes = b"hello") -> bytes:
    """Basic.Deliver, a content header of ``class_id`` without properties and
    ``body`` in one body frame (none when empty), on channel 1."""
    header = struct.pack(">BHIHHQHB", 2, 1, 14, class_id, 0, len(body), 0, 0xCE)
    deliver = method_bytes(1, spec.Basic.Deliver("ctag", 1, False, "", "q"))
    return deliver + header + (frame.Body(1, body).marshal() if body else b"")


@pytest.mark.parametrize("body", [b"hello", b""])
def test_whole_delivery_without_properties(body: bytes) -> None:
    # The engine's shortcut for a header without properties: all of them
    # None, on a plain BasicProperties, and the body intact; a header with
    # properties, delivered the same way, still has them decoded.
    engine = open_engine()
    open_channel(engine)
    (message,) = feed(engine, bare_delivery(body=body))
    assert isinstance(message, events.ContentReceived)
    assert type(message.properties) is spec.BasicProperties
    assert message.properties == spec.BasicProperties()
    assert all(getattr(message.properties, name) is None for name in spec.BasicProperties.__slots__)
    assert message.body == body and message.method.delivery_tag == 1
    deliver = spec.Basic.Deliver("ctag", 2, False, "", "q")
    (message,) = feed(engine, content_bytes(1, deliver, body, content_type="text/plain"))
    assert message.properties == spec.BasicProperties(content_type="text/plain")


@pytest.mark.parametrize("size", [0, 1, 128, 4088, 4089, 70_000])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_publish_without_properties_writes_what_empty_properties_write(
    size: int, kind: type
) -> None:
    # Without properties a small publish takes a one-pack path of its own:
    # byte for byte the frames of the general path, on the right channel.
    engine = open_engine(frame_max=4096)
    open_channel(engine, 3)
    body = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    engine.publish(3, "ex", "key", kind(body), None)
    bare = b"".join(bytes(chunk) for chunk in engine.take_output())
    engine.publish(3, "ex", "key", kind(body), spec.BasicProperties())
    general = b"".join(bytes(chunk) for chunk in engine.take_output())
    assert bare == general
    method, header, *bodies = decode_all(bare)
    assert method.channel_number == header.channel_number == 3
    assert method.method == spec.Basic.Publish(exchange="ex", routing_key="key")
    assert header.body_size == size and header.properties == spec.BasicProperties()
    assert all(part.channel_number == 3 for part in bodies)
    assert b"".join(part.fragment for part in bodies) == body


def test_many_publishes_coalesce_into_one_output() -> None:
    engine = open_engine()
    open_channel(engine)
    for index in range(100):
        engine.publish(1, "", "q", b"%d" % index)
    out = engine.take_output()
    assert len(out) == 1
    assert len(sent_frames(engine)) == 0


def test_publish_rejects_long_routing_key() -> None:
    engine = open_engine()
    open_channel(engine)
    with pytest.raises(exceptions.ShortStringTooLong):
        engine.publish(1, "", "k" * 256, b"")


def test_publish_on_unopened_channel_raises() -> None:
    engine = open_engine()
    with pytest.raises(exceptions.ChannelWrongStateError):
        engine.publish(5, "", "q", b"")


# ----------------------------------------------------------------- protocol errors


def _deliver_method(channel: int = 1) -> bytes:
    return method_bytes(channel, spec.Basic.Deliver("c", 1, False, "", "q"))


@pytest.mark.parametrize(
    ("script", "reply_code"),
    [
        # A header with no method before it.
        (lambda: frame.Header(1, 3, spec.BasicProperties()).marshal(), spec.UNEXPECTED_FRAME),
        # A body with no header.
        (lambda: _deliver_method() + frame.Body(1, b"abc").marshal(), spec.UNEXPECTED_FRAME),
        # A method while a body is expected.
        (
            lambda: (
                _deliver_method()
                + frame.Header(1, 10, spec.BasicProperties()).marshal()
                + method_bytes(1, spec.Basic.Ack(1, False))
            ),
            spec.UNEXPECTED_FRAME,
        ),
        # More body than the header declared.
        (
            lambda: (
                _deliver_method()
                + frame.Header(1, 2, spec.BasicProperties()).marshal()
                + frame.Body(1, b"abc").marshal()
            ),
            spec.FRAME_ERROR,
        ),
        # A method on a channel that was never opened.
        (lambda: method_bytes(9, spec.Basic.Ack(1, False)), spec.CHANNEL_ERROR),
        # Content frames on channel 0.
        (lambda: frame.Body(0, b"x").marshal(), spec.CHANNEL_ERROR),
        # A heartbeat on a channel other than 0.
        (lambda: b"\x08\x00\x01\x00\x00\x00\x00\xce", spec.FRAME_ERROR),
        # A frame type that does not exist.
        (lambda: b"\x09\x00\x00\x00\x00\x00\x00\xce", spec.FRAME_ERROR),
        # A bad frame-end octet.
        (lambda: b"\x08\x00\x00\x00\x00\x00\x00\xcf", spec.FRAME_ERROR),
        # A frame larger than the negotiated frame_max, declared in its header.
        (lambda: b"\x01\x00\x01\x7f\xff\xff\xff", spec.FRAME_ERROR),
        # A method the broker may not send.
        (lambda: method_bytes(1, spec.Basic.Publish()), spec.COMMAND_INVALID),
        # A connection method on a channel.
        (lambda: method_bytes(1, spec.Connection.Blocked("x")), spec.COMMAND_INVALID),
        # Garbage method arguments.
        (lambda: b"\x01\x00\x01\x00\x00\x00\x05\x00\x3c\x00\x3c\xff\xce", spec.SYNTAX_ERROR),
        # An unknown method id.
        (lambda: b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x03\xe7\xce", spec.SYNTAX_ERROR),
        # A whole delivery whose header, without properties, names class 61.
        (lambda: bare_delivery(class_id=61), spec.SYNTAX_ERROR),
        # Channel.OpenOk on an open channel.
        (lambda: method_bytes(1, spec.Channel.OpenOk()), spec.UNEXPECTED_FRAME),
    ],
)
def test_protocol_violations_close_with_the_matching_code(script: object, reply_code: int) -> None:
    engine = open_engine()
    open_channel(engine)
    assert feed(engine, script()) == []  # type: ignore[operator]
    close = violation_close(engine)
    assert close.reply_code == reply_code
    # Whatever follows the violation is ignored until Close-Ok.
    assert feed(engine, method_bytes(1, spec.Basic.Ack(1, False))) == []
    error = closed_with(engine, feed(engine, method_bytes(0, spec.Connection.CloseOk())))
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert error.reply_code == reply_code


def test_oversized_frame_is_refused_before_its_payload_arrives() -> None:
    engine = open_engine(frame_max=4096)
    # Only the 7-byte envelope of a 1 GiB frame: the engine must not wait.
    feed(engine, b"\x03\x00\x01\x40\x00\x00\x00")
    assert violation_close(engine).reply_code == spec.FRAME_ERROR


# ---------------------------------------------------------------------- closing


def test_broker_closes_the_connection() -> None:
    engine = open_engine()
    open_channel(engine)
    evs = feed(
        engine, method_bytes(0, spec.Connection.Close(320, "CONNECTION_FORCED - shutdown", 0, 0))
    )
    error = closed_with(engine, evs)
    assert isinstance(error, exceptions.ConnectionClosedByBroker)
    assert (error.reply_code, error.reply_text) == (320, "CONNECTION_FORCED - shutdown")
    assert sent_methods(engine) == [spec.Connection.CloseOk()]


def test_client_close_handshake() -> None:
    engine = open_engine()
    engine.close(200, "bye")
    assert sent_methods(engine) == [spec.Connection.Close(200, "bye", 0, 0)]
    with pytest.raises(exceptions.ConnectionWrongStateError):
        engine.close()
    error = closed_with(engine, feed(engine, method_bytes(0, spec.Connection.CloseOk())))
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert (error.reply_code, error.reply_text) == (200, "bye")


def test_close_while_opening_aborts() -> None:
    engine = new_engine()
    engine.start(0.0)
    engine.close()
    assert isinstance(closed_with(engine, drain(engine)), exceptions.ConnectionOpenAborted)


def test_blocked_and_unblocked() -> None:
    engine = open_engine()
    (blocked,) = feed(engine, method_bytes(0, spec.Connection.Blocked("low on memory")))
    assert (
        isinstance(blocked, events.ConnectionBlocked) and blocked.method.reason == "low on memory"
    )
    (unblocked,) = feed(engine, method_bytes(0, spec.Connection.Unblocked()))
    assert isinstance(unblocked, events.ConnectionUnblocked)


def test_update_secret() -> None:
    engine = open_engine()
    engine.update_secret("token", "refresh")
    (sent,) = sent_methods(engine)
    assert isinstance(sent, spec.Connection.UpdateSecret)
    (event,) = feed(engine, method_bytes(0, spec.Connection.UpdateSecretOk()))
    assert isinstance(event, events.MethodReceived) and event.channel_number == 0


# --------------------------------------------------------------------- heartbeats


def test_heartbeat_sent_when_idle_and_peer_declared_dead_after_two_intervals() -> None:
    engine = open_engine(heartbeat=10)
    assert engine.deadline == 5.0
    engine.timer_due(5.0)  # handshake traffic counts as activity both ways
    assert engine.take_output() == []
    engine.timer_due(10.0)
    assert sent_frames(engine) == [frame.Heartbeat()]
    silent_at = 10.0
    evs: list[events.Event] = []
    now = silent_at
    while not evs:
        now += 5.0
        engine.timer_due(now)
        evs = drain(engine)
        assert now <= 30.0, "peer never declared dead"
    error = closed_with(engine, evs)
    assert isinstance(error, exceptions.AMQPHeartbeatTimeout)
    # Last data was received before t=5; dead between two and 2.5 intervals later.
    assert 20.0 <= now <= 25.0


def test_heartbeat_frames_keep_the_peer_alive() -> None:
    engine = open_engine(heartbeat=10)
    now = 0.0
    for _ in range(20):
        now += 5.0
        feed(engine, frame.Heartbeat().marshal())
        engine.timer_due(now)
    assert engine.state == OPEN


def test_idle_client_sends_heartbeats() -> None:
    engine = open_engine(heartbeat=10)
    engine.timer_due(5.0)
    engine.take_output()
    feed(engine, frame.Heartbeat().marshal())
    engine.timer_due(10.0)
    assert sent_frames(engine) == [frame.Heartbeat()]


def test_no_heartbeat_no_deadline() -> None:
    assert open_engine(heartbeat=0).deadline is None


# ------------------------------------------------------------------------ layering


def test_engine_imports_no_io_or_clock_module() -> None:
    forbidden = {"socket", "select", "selectors", "ssl", "time", "asyncio", "threading"}
    root = pathlib.Path(__file__).resolve().parents[2] / "pika"
    files = [*sorted((root / "engine").glob("*.py"))]
    files += [
        root / name
        for name in ("frame.py", "spec.py", "data.py", "amqp_object.py", "exceptions.py")
    ]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


@pytest.mark.parametrize("size", [0, 1, 4088, 4089])
def test_whole_messages_in_one_buffer(size: int) -> None:
    engine = open_engine(frame_max=4096)
    open_channel(engine)
    open_channel(engine, 2)
    body = b"z" * size
    deliver = spec.Basic.Deliver("ctag", 1, False, "", "q")
    data = content_bytes(1, deliver, body, frame_max=4096, message_id="m1")
    evs = feed(engine, data * 3 + content_bytes(2, deliver, body, frame_max=4096))
    assert [(e.channel_number, e.body, e.properties.message_id) for e in evs] == [
        (1, body, "m1"),
        (1, body, "m1"),
        (1, body, "m1"),
        (2, body, None),
    ]


def _header_frame(channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", spec.FRAME_HEADER, channel, len(payload)) + payload + b"\xce"


def _outcome(engine: ConnectionEngine, evs: list[events.Event]) -> object:
    """What a run of frames came to: the messages, or the Connection.Close
    the engine answered them with."""
    if engine.state == CLOSING:
        close = violation_close(engine)
        return (close.reply_code, close.reply_text)
    return [(e.method, e.properties.correlation_id, e.body) for e in evs]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "header_payload",
    [
        # A correlation_id whose length runs past the header into the body frame.
        struct.pack(">HHQH", 60, 0, 3, 0x0400) + b"\x05ab",
        struct.pack(">HHQH", 60, 0, 3, 0x0400) + b"\x20ab",
        # Property flags and no room for the values they announce.
        struct.pack(">HHQH", 60, 0, 3, 0x0400),
        # A header of another class.
        struct.pack(">HHQH", 50, 0, 3, 0),
        # No body.
        struct.pack(">HHQH", 60, 0, 0, 0x0400) + b"\x02id",
        # A body size the single body frame does not match.
        struct.pack(">HHQH", 60, 0, 4, 0x0400) + b"\x02id",
        # Well-formed, with properties.
        struct.pack(">HHQH", 60, 0, 3, 0x0400) + b"\x02id",
    ],
)
@pytest.mark.parametrize(
    "method",
    [
        spec.Basic.Deliver("ctag", 1, False, "", "q"),
        spec.Basic.GetOk(1, False, "", "q", 0),
        spec.Basic.Return(312, "NO_ROUTE", "", "q"),
    ],
)
def test_a_buffered_message_ends_as_its_frames_one_at_a_time_do(
    header_payload: bytes, method: object
) -> None:
    # A message whose three frames are buffered together is taken in one
    # step when well-formed; whatever that step refuses must end exactly as
    # the frame-by-frame path ends it.
    frames = [
        frame.Method(1, method).marshal(),  # type: ignore[arg-type]
        _header_frame(1, header_payload),
        frame.Body(1, b"abc").marshal(),
    ]
    together = open_engine()
    open_channel(together)
    apart = open_engine()
    open_channel(apart)
    evs = [event for data in frames for event in feed(apart, data)]
    assert _outcome(together, feed(together, b"".join(frames))) == _outcome(apart, evs)


def test_header_for_another_channel_after_a_deliver_is_unexpected() -> None:
    engine = open_engine()
    open_channel(engine)
    open_channel(engine, 2)
    data = _deliver_method(1) + frame.Header(2, 1, spec.BasicProperties()).marshal()
    assert feed(engine, data) == []
    assert violation_close(engine).reply_code == spec.UNEXPECTED_FRAME


@pytest.mark.parametrize(
    ("index", "flags", "expected"),
    [
        (spec.Basic.Ack.INDEX, 1, spec.Basic.Ack(77, True)),
        (spec.Basic.Ack.INDEX, 0, spec.Basic.Ack(77, False)),
        (spec.Basic.Nack.INDEX, 3, spec.Basic.Nack(77, True, True)),
        (spec.Basic.Nack.INDEX, 2, spec.Basic.Nack(77, False, True)),
        (spec.Basic.Reject.INDEX, 0, spec.Basic.Reject(77, False)),
        (spec.Basic.Reject.INDEX, 1, spec.Basic.Reject(77, True)),
    ],
)
def test_acknowledgements_encode_like_their_methods(
    index: int, flags: int, expected: object
) -> None:
    engine = open_engine()
    open_channel(engine)
    engine.acknowledge(1, index, 77, flags)
    assert sent_methods(engine) == [expected]


def test_acknowledgement_with_a_bad_tag_names_it() -> None:
    engine = open_engine()
    open_channel(engine)
    with pytest.raises(ValueError, match="delivery_tag"):
        engine.acknowledge(1, spec.Basic.Ack.INDEX, -1, 0)


def test_stream_lost_during_login_is_not_a_refusal_when_refusals_are_announced() -> None:
    engine = new_engine()
    engine.start(0.0)
    start = spec.Connection.Start(
        server_properties={"capabilities": {"authentication_failure_close": True}},
        mechanisms=b"PLAIN",
    )
    feed(engine, method_bytes(0, start))
    engine.connection_lost(ConnectionResetError("node going down"))
    assert type(closed_with(engine, drain(engine))) is exceptions.StreamLostError
