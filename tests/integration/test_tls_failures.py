"""TLS failures on every connection type that does TLS itself, against the
test TLS nodes: an unknown CA, a host name mismatch, an expired server
certificate, a client certificate required but not given, TLS spoken to a
plain port and plain AMQP to a TLS port. Each must end within the
configured timeouts with an `AMQPConnectionError` that says what failed
and carries no secret.

(`TwistedProtocolConnection` is left out: Twisted makes the TLS connection
itself, through the endpoint the application gives it.)
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

import pika
from pika import exceptions
from pika.connection import ConnectionParameters, SSLOptions
from pika.credentials import PlainCredentials
from tests.integration.adapter_driver import KITS, AdapterDriver
from tests.integration.select_support import Recorder
from tests.utils.extra_node import ExtraBrokerNode

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]

SECRET = "pw-5f0c2a71-do-not-show"
SOCKET_TIMEOUT = 5.0
STACK_TIMEOUT = 8.0
#: Scheduling slack on a loaded machine, on top of stack_timeout.
SLACK = 10.0


@dataclass(frozen=True)
class Scenario:
    """Where to connect and how; ``expected`` is what the error must say."""

    strict_node: bool
    tls_port: bool
    context: Optional[Callable[[ExtraBrokerNode], ssl.SSLContext]]
    server_hostname: str
    expected: str


def trusting(node: ExtraBrokerNode, client_cert: bool = False) -> ssl.SSLContext:
    assert node.tls is not None
    return node.tls.client_context(with_client_cert=client_cert)


def not_verifying(node: ExtraBrokerNode) -> ssl.SSLContext:
    context = trusting(node)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


SCENARIOS = {
    "unknown_ca": Scenario(
        False,
        True,
        lambda _node: ssl.create_default_context(),
        "localhost",
        "certificate verify failed",
    ),
    "hostname_mismatch": Scenario(False, True, trusting, "wrong.example.com", "Hostname mismatch"),
    "expired_certificate": Scenario(
        True,
        True,
        lambda node: trusting(node, client_cert=True),
        "localhost",
        "certificate has expired",
    ),
    "client_certificate_missing": Scenario(
        True, True, not_verifying, "localhost", "client certificate"
    ),
    "tls_to_plain_port": Scenario(False, False, trusting, "localhost", "wrong version number"),
    "plain_to_tls_port": Scenario(False, True, None, "localhost", "answered with TLS"),
}

SURFACES = [*sorted(KITS), "blocking", "thread_safe"]


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return SCENARIOS[request.param]


@pytest.fixture
def params(scenario: Scenario, request: pytest.FixtureRequest) -> ConnectionParameters:
    node: ExtraBrokerNode = request.getfixturevalue(
        "strict_tls_broker" if scenario.strict_node else "tls_broker"
    )
    port = node.tls_port if scenario.tls_port else node.port
    assert port is not None
    options = None
    if scenario.context is not None:
        options = SSLOptions(scenario.context(node), scenario.server_hostname)
    return ConnectionParameters(
        host=node.host,
        port=port,
        ssl_options=options,
        credentials=PlainCredentials("guest", SECRET),
        socket_timeout=SOCKET_TIMEOUT,
        stack_timeout=STACK_TIMEOUT,
        connection_attempts=1,
    )


def open_failure(surface: str, params: ConnectionParameters) -> BaseException:
    """Try to open a connection of type ``surface``; the error it ends with."""
    if surface == "blocking":
        with pytest.raises(exceptions.AMQPConnectionError) as caught:
            pika.BlockingConnection(params)
        return caught.value
    if surface == "thread_safe":
        with pytest.raises(exceptions.AMQPConnectionError) as caught:
            pika.Connection(params)
        return caught.value
    driver = AdapterDriver(KITS[surface]())
    try:
        rec = Recorder()
        driver.attempt(params, rec, timeout=STACK_TIMEOUT + SLACK)
        assert not rec.get("open"), "the connection opened"
        _conn, error = rec.one("open_error")
        return error  # type: ignore[no-any-return]
    finally:
        driver.close()


@pytest.fixture(params=SURFACES)
def surface(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param in ("tornado", "gevent", "twisted"):
        pytest.importorskip(request.param)
    yield request.param


def test_tls_failure_is_reported(
    surface: str, scenario: Scenario, params: ConnectionParameters
) -> None:
    started = time.monotonic()
    error = open_failure(surface, params)
    elapsed = time.monotonic() - started
    assert isinstance(error, exceptions.AMQPConnectionError), repr(error)
    text = str(error)
    assert scenario.expected.lower() in text.lower(), text
    assert SECRET not in text and SECRET not in repr(error)
    assert elapsed < STACK_TIMEOUT + SLACK, f"took {elapsed:.1f} s"
