"""TLS through `SelectConnection` against an extra node with a TLS listener
(the `tls_broker` fixture; certificates made at test time): server
verification, host name checking, mutual TLS and EXTERNAL authentication,
with `SSLOptions` and with ``amqps://`` URLs."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import pytest

from pika import exceptions
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils import connection_workflow as workflow_mod
from pika.connection import ConnectionParameters, Parameters, SSLOptions, URLParameters
from pika.credentials import ExternalCredentials
from tests.integration.select_support import (
    Recorder,
    close_connection,
    open_channel,
    pump,
    unique,
)
from tests.utils.extra_node import ExtraBrokerNode, TlsFiles

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def tls_files(node: ExtraBrokerNode) -> TlsFiles:
    assert node.tls is not None and node.tls_port is not None
    return node.tls


def tls_params(node: ExtraBrokerNode, options: SSLOptions, **extra: Any) -> ConnectionParameters:
    assert node.tls_port is not None
    return ConnectionParameters(host=node.host, port=node.tls_port, ssl_options=options, **extra)


def connect(params: Parameters) -> tuple[SelectConnection, Any]:
    """Run a connection until it opens or fails: (connection, error or None)."""
    rec = Recorder()
    conn = SelectConnection(
        params, on_open_callback=rec.cb("open"), on_open_error_callback=rec.cb("error")
    )
    pump(conn.ioloop, lambda: rec.get("open") or rec.get("error"), timeout=20)
    return conn, (rec.one("error")[1] if rec.get("error") else None)


def finish(conn: SelectConnection) -> None:
    if not conn.is_closed:
        close_connection(conn)
    conn.ioloop.close()


def assert_usable(conn: SelectConnection) -> None:
    chan = open_channel(conn)
    rec = Recorder()
    chan.queue_declare("", exclusive=True, callback=rec.cb("ok"))
    pump(conn.ioloop, rec.has("ok"))
    queue = rec.one("ok").method.queue
    chan.basic_publish("", queue, b"over tls" * 10000)
    chan.basic_get(queue, rec.cb("get"), auto_ack=True)
    pump(conn.ioloop, rec.has("get"))
    assert rec.one("get")[3] == b"over tls" * 10000


def transport_error(error: Any) -> BaseException:
    """The exception under the TLS setup failure a workflow reported."""
    assert isinstance(error, workflow_mod.AMQPConnectionWorkflowFailed), repr(error)
    (attempt,) = error.exceptions
    assert isinstance(attempt, workflow_mod.AMQPConnectorTransportSetupError), repr(attempt)
    return attempt.exception


def test_verified_server_with_ssl_options(tls_broker: ExtraBrokerNode) -> None:
    files = tls_files(tls_broker)
    context = files.client_context(with_client_cert=False)
    conn, error = connect(tls_params(tls_broker, SSLOptions(context, "localhost")))
    try:
        assert error is None
        assert_usable(conn)
    finally:
        finish(conn)


def test_server_hostname_defaults_to_host(tls_broker: ExtraBrokerNode) -> None:
    context = tls_files(tls_broker).client_context(with_client_cert=False)
    conn, error = connect(tls_params(tls_broker, SSLOptions(context)))  # host is 127.0.0.1
    try:
        assert error is None and conn.is_open
    finally:
        finish(conn)


def test_wrong_hostname_fails_verification(tls_broker: ExtraBrokerNode) -> None:
    context = tls_files(tls_broker).client_context(with_client_cert=False)
    conn, error = connect(tls_params(tls_broker, SSLOptions(context, "wrong.example.com")))
    try:
        assert isinstance(error, exceptions.AMQPConnectionError)
        cause = transport_error(error)
        assert isinstance(cause, ssl.SSLCertVerificationError)
        assert "wrong.example.com" in str(cause) or "hostname" in str(cause).lower()
    finally:
        finish(conn)


def test_untrusted_server_certificate_fails(tls_broker: ExtraBrokerNode) -> None:
    context = ssl.create_default_context()  # the test CA is not trusted
    conn, error = connect(tls_params(tls_broker, SSLOptions(context, "localhost")))
    try:
        assert isinstance(transport_error(error), ssl.SSLCertVerificationError)
    finally:
        finish(conn)


def test_mutual_tls_with_plain_login(tls_broker: ExtraBrokerNode) -> None:
    context = tls_files(tls_broker).client_context(with_client_cert=True)
    conn, error = connect(tls_params(tls_broker, SSLOptions(context, "localhost")))
    try:
        assert error is None
        assert_usable(conn)
    finally:
        finish(conn)


def test_external_authentication_with_client_certificate(tls_broker: ExtraBrokerNode) -> None:
    files = tls_files(tls_broker)
    name = unique("external")
    params = tls_params(
        tls_broker,
        SSLOptions(files.client_context(with_client_cert=True), "localhost"),
        credentials=ExternalCredentials(),
        client_properties={"connection_name": name},
    )
    conn, error = connect(params)
    try:
        assert error is None
        rows = tls_broker.rabbitmqctl(
            "list_connections", "--quiet", "--no-table-headers", "user", "auth_mechanism", "ssl"
        )
        assert f"{files.client_common_name}\tEXTERNAL\ttrue" in rows
        assert_usable(conn)
    finally:
        finish(conn)


def test_external_authentication_without_certificate_fails(tls_broker: ExtraBrokerNode) -> None:
    context = tls_files(tls_broker).client_context(with_client_cert=False)
    params = tls_params(
        tls_broker, SSLOptions(context, "localhost"), credentials=ExternalCredentials()
    )
    conn, error = connect(params)
    try:
        assert isinstance(error, exceptions.AMQPConnectionError)
        assert conn.is_closed
    finally:
        finish(conn)


def test_amqps_url_with_ssl_options_query(tls_broker: ExtraBrokerNode) -> None:
    files = tls_files(tls_broker)
    settings = {
        "ca_certs": str(files.ca_cert),
        "certfile": str(files.client_cert),
        "keyfile": str(files.client_key),
        "server_hostname": "localhost",
    }
    url = f"{tls_broker.tls_url()}?ssl_options={quote(repr(settings))}&heartbeat=10"
    params = URLParameters(url)
    assert params.ssl_options is not None and params.port == tls_broker.tls_port
    conn, error = connect(params)
    try:
        assert error is None
        assert_usable(conn)
    finally:
        finish(conn)


def test_amqps_url_verifies_by_default(tls_broker: ExtraBrokerNode) -> None:
    conn, error = connect(URLParameters(tls_broker.tls_url()))
    try:
        assert isinstance(transport_error(error), ssl.SSLCertVerificationError)
    finally:
        finish(conn)


def test_plain_amqp_to_tls_port_fails_cleanly(tls_broker: ExtraBrokerNode) -> None:
    assert tls_broker.tls_port is not None
    params = ConnectionParameters(host=tls_broker.host, port=tls_broker.tls_port, stack_timeout=5)
    conn, error = connect(params)
    try:
        assert isinstance(error, exceptions.AMQPConnectionError)
    finally:
        finish(conn)
