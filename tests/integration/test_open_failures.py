"""Failed opens on every callback adapter, against the real broker and a
scripted server that never answers (Twisted's case is in test_slow_brokers).

With no ``on_open_error_callback`` of the application's, a connection that
cannot open raises `pika.exceptions.ConnectionOpenFailed` (an
AMQPConnectionError) out of the call that runs its loop, the way a Pika
program starts it: ``connection.ioloop.start()``, or asyncio's
``run_forever()``. And a connection factory that raises is one failed
attempt of the connection workflow, which goes on with the next
parameters and reports every attempt when none opens.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pika import exceptions
from pika.adapters.base_connection import BaseConnection
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils import connection_workflow as workflow_mod
from pika.connection import ConnectionParameters, Parameters, URLParameters
from tests.integration.adapter_driver import AdapterDriver
from tests.integration.select_support import Recorder
from tests.utils.fake_server import Script, ScriptedServer
from tests.utils.sockets import LOOPBACK, free_ports

pytestmark = pytest.mark.broker


@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
GUARD = 30.0
"""Seconds after which a test stops a loop that is still running (a hang)."""

REFUSED_VHOST = "/refused-by-the-factory"


def run_like_pika(driver: AdapterDriver, conn: BaseConnection) -> float:
    """Run ``conn``'s loop as a Pika program does, until it stops or raises;
    returns the seconds it ran. A loop still running after `GUARD` seconds
    is stopped and the test fails."""
    ioloop = conn.ioloop
    guard_fired: list[bool] = []

    def guard() -> None:
        guard_fired.append(True)
        ioloop.stop()

    handle = ioloop.call_later(GUARD, guard)
    start = ioloop.run_forever if driver.kit.name == "asyncio" else ioloop.start
    started = time.monotonic()
    try:
        start()
    finally:
        if not guard_fired:
            driver.kit.cancel(ioloop, handle)
    assert not guard_fired, f"{driver.kit.name}: the loop was still running after {GUARD:g} s"
    return time.monotonic() - started


def open_without_error_callback(driver: AdapterDriver, params: Parameters) -> BaseConnection:
    make: Any = driver.kit.connection_class
    conn: BaseConnection = make(params, custom_ioloop=driver.loop)
    return conn


# ------------------------------------------------------ a failed open raises


def test_refused_port_raises_out_of_the_loop(driver: AdapterDriver) -> None:
    (port,) = free_ports(1)
    params = ConnectionParameters(LOOPBACK, port, connection_attempts=2, retry_delay=0.2)
    conn = open_without_error_callback(driver, params)
    with pytest.raises(exceptions.AMQPConnectionError) as caught:
        run_like_pika(driver, conn)
    failure = caught.value
    assert isinstance(failure, exceptions.ConnectionOpenFailed), repr(failure)
    workflow_failure = failure.error
    assert isinstance(workflow_failure, workflow_mod.AMQPConnectionWorkflowFailed)
    # Both attempts (connection_attempts=2), each refused.
    assert len(workflow_failure.exceptions) == 2, workflow_failure.exceptions
    for attempt in workflow_failure.exceptions:
        assert isinstance(attempt, workflow_mod.AMQPConnectorSocketConnectError), attempt
        assert isinstance(attempt.exception, ConnectionRefusedError), attempt
    assert conn.is_closed


def test_silent_server_raises_after_stack_timeout(driver: AdapterDriver) -> None:
    """The server accepts, reads the protocol header and never answers."""
    server = ScriptedServer(Script().expect(PROTOCOL_HEADER))
    with server:
        params = ConnectionParameters(LOOPBACK, server.port, socket_timeout=1, stack_timeout=1.5)
        conn = open_without_error_callback(driver, params)
        with pytest.raises(exceptions.AMQPConnectionError) as caught:
            run_like_pika(driver, conn)
        server.wait()  # the client did send its protocol header
    failure = caught.value
    assert isinstance(failure, exceptions.ConnectionOpenFailed), repr(failure)
    assert isinstance(failure.error, workflow_mod.AMQPConnectorStackTimeout), repr(failure.error)
    assert conn.is_closed


def test_an_open_error_callback_of_the_application_replaces_the_raise(
    driver: AdapterDriver,
) -> None:
    (port,) = free_ports(1)
    rec = Recorder()
    make: Any = driver.kit.connection_class
    make(
        ConnectionParameters(LOOPBACK, port),
        on_open_error_callback=rec.cb("error"),
        custom_ioloop=driver.loop,
    )
    _conn, error = driver.until(lambda: rec.get("error"), what="open error")[0]
    assert isinstance(error, workflow_mod.AMQPConnectionWorkflowFailed), repr(error)
    driver.sleep(0.2)  # nothing is raised out of the loop meanwhile


# ------------------------------------- a failing factory is a failed attempt


class RefusesSomeParameters:
    """Mixed into an adapter's connection class: its constructor raises
    ValueError for the parameters whose virtual host is `REFUSED_VHOST`."""

    def __init__(self, parameters: Parameters | None = None, *args: Any, **kwargs: Any) -> None:
        if parameters is not None and parameters.virtual_host == REFUSED_VHOST:
            raise ValueError("this connection class refuses these parameters")
        super().__init__(parameters, *args, **kwargs)  # type: ignore[call-arg]


def refusing_class(base: type[BaseConnection]) -> Any:
    return type(f"Refusing{base.__name__}", (RefusesSomeParameters, base), {})


def refused(params: URLParameters, **overrides: Any) -> ConnectionParameters:
    values: dict[str, Any] = {
        "host": params.host,
        "port": params.port,
        "credentials": params.credentials,
        "virtual_host": REFUSED_VHOST,
    }
    values.update(overrides)
    return ConnectionParameters(**values)


def test_factory_failure_then_next_parameters_open(
    driver: AdapterDriver, params: URLParameters
) -> None:
    rec = Recorder()
    refusing = refusing_class(driver.kit.connection_class)
    refusing.create_connection([refused(params), params], rec.cb("done"), custom_ioloop=driver.loop)
    conn = driver.until(lambda: rec.get("done"), what="create_connection")[0]
    assert isinstance(conn, refusing), repr(conn)
    driver.connections.append(conn)
    assert conn.is_open and conn.params is params


def test_factory_that_always_fails_reports_every_attempt(
    driver: AdapterDriver, params: URLParameters
) -> None:
    rec = Recorder()
    refusing = refusing_class(driver.kit.connection_class)
    configs = [
        refused(params, connection_attempts=2, retry_delay=0.1, host=LOOPBACK),
        refused(params, connection_attempts=2, retry_delay=0.1, host=LOOPBACK),
    ]
    refusing.create_connection(configs, rec.cb("done"), custom_ioloop=driver.loop)
    outcome = driver.until(lambda: rec.get("done"), what="create_connection")[0]
    assert isinstance(outcome, workflow_mod.AMQPConnectionWorkflowFailed), repr(outcome)
    assert isinstance(outcome, exceptions.AMQPConnectionError)
    # Two rounds over two parameters objects, one address each.
    assert len(outcome.exceptions) == 4, outcome.exceptions
    for attempt in outcome.exceptions:
        assert isinstance(attempt, workflow_mod.AMQPConnectorTransportSetupError), attempt
        assert isinstance(attempt.exception, ValueError), attempt
    driver.sleep(0.2)  # the loop goes on: nothing escaped into it


def test_blocking_connection_goes_through_a_failing_factory(params: URLParameters) -> None:
    """BlockingConnection opens through the workflow too: the next
    parameters when the factory refuses the first, and when it refuses
    them all, the workflow's failure listing each attempt."""
    refusing = refusing_class(SelectConnection)
    with BlockingConnection([refused(params), params], _impl_class=refusing) as conn:
        assert conn.is_open
    with pytest.raises(workflow_mod.AMQPConnectionWorkflowFailed) as caught:
        BlockingConnection(
            [refused(params, host=LOOPBACK), refused(params, host=LOOPBACK)],
            _impl_class=refusing,
        )
    assert [type(attempt) for attempt in caught.value.exceptions] == [
        workflow_mod.AMQPConnectorTransportSetupError
    ] * 2
