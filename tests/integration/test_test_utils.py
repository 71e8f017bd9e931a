"""The broker test utilities against real RabbitMQ: extra nodes, TLS, clusters, rabbitmqctl.

The library itself is not used here: these tests speak just enough raw AMQP
(protocol header, Start-Ok, Tune-Ok, Open) to get a connection the broker
counts as open.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Callable

import pytest

from tests.utils.amqp_probe import (
    PROTOCOL_HEADER,
    BrokerUnreachable,
    NotAnAmqpBroker,
    check_amqp,
    parse_broker_url,
)
from tests.utils.broker import (
    close_all_connections,
    close_connection,
    list_connections,
    queue_info,
)
from tests.utils.extra_node import ExtraBrokerNode, form_cluster, start_nodes
from tests.utils.fake_server import raw_frame
from tests.utils.wait import wait_until

CONNECTION_START = (10, 10)
CONNECTION_TUNE = (10, 30)
CONNECTION_OPEN_OK = (10, 41)
CONNECTION_CLOSE = (10, 50)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"the broker closed after {len(data)} of {size} bytes"
        data += chunk
    return data


def read_method(sock: socket.socket) -> tuple[tuple[int, int], bytes]:
    """The next frame, which must be a method frame on channel 0: (class, method), arguments."""
    frame_type, channel, size = struct.unpack(">BHI", read_exactly(sock, 7))
    payload = read_exactly(sock, size)
    assert read_exactly(sock, 1) == b"\xce"
    assert (frame_type, channel) == (1, 0)
    class_id, method_id = struct.unpack(">HH", payload[:4])
    return (class_id, method_id), payload[4:]


def send_method(sock: socket.socket, ids: tuple[int, int], arguments: bytes) -> None:
    sock.sendall(raw_frame(1, 0, struct.pack(">HH", *ids) + arguments))


def short_string(text: str) -> bytes:
    return bytes([len(text)]) + text.encode()


def connection_start(sock: socket.socket) -> bytes:
    """Send the protocol header; return Connection.Start's arguments."""
    sock.sendall(PROTOCOL_HEADER)
    ids, arguments = read_method(sock)
    assert ids == CONNECTION_START
    return arguments


def open_connection(host: str, port: int) -> socket.socket:
    """A raw connection, logged in as guest to vhost "/" (no heartbeats)."""
    sock = socket.create_connection((host, port), timeout=10)
    connection_start(sock)
    response = b"\x00guest\x00guest"
    start_ok = (
        struct.pack(">I", 0)  # empty client-properties table
        + short_string("PLAIN")
        + struct.pack(">I", len(response))
        + response
        + short_string("en_US")
    )
    send_method(sock, (10, 11), start_ok)
    ids, tune = read_method(sock)
    assert ids == CONNECTION_TUNE
    channel_max, frame_max, _heartbeat = struct.unpack(">HIH", tune)
    send_method(sock, (10, 31), struct.pack(">HIH", channel_max, frame_max, 0))
    send_method(sock, (10, 40), short_string("/") + short_string("") + b"\x00")
    ids, _ = read_method(sock)
    assert ids == CONNECTION_OPEN_OK
    return sock


def assert_closed_by_broker(sock: socket.socket, reason: str) -> None:
    ids, arguments = read_method(sock)
    assert ids == CONNECTION_CLOSE
    assert reason.encode() in arguments


def tls_connection_start(node: ExtraBrokerNode, context: ssl.SSLContext) -> bytes:
    assert node.tls_port is not None
    raw = socket.create_connection((node.host, node.tls_port), timeout=10)
    with raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
        return connection_start(tls)


def test_tls_broker_answers_plain_and_tls(tls_broker: ExtraBrokerNode) -> None:
    assert tls_broker.tls is not None
    with socket.create_connection((tls_broker.host, tls_broker.port), timeout=10) as sock:
        plain = connection_start(sock)
    assert b"EXTERNAL" not in plain  # EXTERNAL is offered over TLS with a certificate only
    with_cert = tls_connection_start(tls_broker, tls_broker.tls.client_context())
    assert b"EXTERNAL" in with_cert
    without_cert = tls_connection_start(tls_broker, tls_broker.tls.client_context(False))
    assert b"PLAIN" in without_cert
    assert parse_broker_url(tls_broker.tls_url()).port == tls_broker.tls_port


def test_tls_broker_has_the_certificate_user(tls_broker: ExtraBrokerNode) -> None:
    assert tls_broker.tls is not None
    users = tls_broker.rabbitmqctl("list_users", "--quiet", "--no-table-headers")
    assert tls_broker.tls.client_common_name in users


@pytest.mark.timeout(180)
def test_strict_tls_cluster_and_restart(
    broker_node_factory: Callable[..., ExtraBrokerNode],
) -> None:
    seed = broker_node_factory("seed", start=False, tls=True, fail_if_no_peer_cert=True)
    member = broker_node_factory("member", start=False)
    start_nodes([seed, member])
    assert seed.tls is not None and seed.tls_port is not None
    tls_connection_start(seed, seed.tls.client_context())
    with pytest.raises(NotAnAmqpBroker):
        check_amqp(seed.host, seed.tls_port, ssl_context=seed.tls.client_context(False))

    form_cluster([seed, member])
    both = sorted([seed.name, member.name])
    assert seed.running_cluster_nodes() == both
    assert member.running_cluster_nodes() == both

    member.stop()
    assert not member.is_running()
    with pytest.raises(BrokerUnreachable):
        check_amqp(member.host, member.port, timeout=2)
    assert seed.running_cluster_nodes() == [seed.name]
    member.start()
    check_amqp(member.host, member.port)
    assert seed.running_cluster_nodes() == both


def test_memory_alarm(extra_broker: ExtraBrokerNode) -> None:
    def alarms() -> str:
        return extra_broker.rabbitmqctl("eval", "rabbit_alarm:get_alarms().")

    extra_broker.set_vm_memory_high_watermark(0.0000001)
    try:
        wait_until(lambda: "memory" in alarms(), message="memory alarm raised")
    finally:
        extra_broker.set_vm_memory_high_watermark(0.4)
    wait_until(lambda: "memory" not in alarms(), message="memory alarm cleared")


def test_close_all_connections(extra_broker: ExtraBrokerNode) -> None:
    with open_connection(extra_broker.host, extra_broker.port) as sock:
        (connection,) = list_connections(node=extra_broker.name)
        assert (connection["user"], connection["state"]) == ("guest", "running")
        close_all_connections("closed by test_close_all_connections", node=extra_broker.name)
        assert_closed_by_broker(sock, "closed by test_close_all_connections")


def test_default_broker_helpers(broker_url: str) -> None:
    address = parse_broker_url(broker_url)
    if not address.is_local:
        pytest.skip("rabbitmqctl reaches only the local broker")
    assert queue_info("pika-tests-no-such-queue") is None
    with open_connection(address.host, address.port) as sock:
        port = str(sock.getsockname()[1])
        (connection,) = [c for c in list_connections() if c["peer_port"] == port]
        close_connection(connection["pid"], "closed by test_default_broker_helpers")
        assert_closed_by_broker(sock, "closed by test_default_broker_helpers")
