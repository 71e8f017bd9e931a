"""Fixtures of the integration tests (the suite-wide ones are in tests/conftest.py).

- ``proxy``: a `TcpProxy` in front of the broker of ``broker_url``, to cut,
  stall or slow a connection (``proxy.rewrite_url(broker_url)``);
- ``reactor`` (session): Twisted's global reactor, running in a thread of
  its own for the whole session (a reactor cannot be restarted, so every
  module that needs it shares this one); drive it with
  `adapter_driver.in_reactor`;
- ``driver``: an `AdapterDriver` for each callback adapter in turn (the
  test runs once per adapter), closed afterwards;
- ``params``: the broker's URL as `URLParameters`;
- ``otel``: the library instrumented with `pika.otel` into the
  OpenTelemetry SDK's in-memory exporters (skips, or fails under CI, when
  the SDK is missing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pika.connection import URLParameters
from tests.integration.adapter_driver import KITS, AdapterDriver
from tests.utils.proxy import TcpProxy


@pytest.fixture(scope="session")
def reactor() -> Iterator[Any]:
    pytest.importorskip("twisted")
    from twisted.internet import reactor as installed

    global_reactor: Any = installed
    thread = threading.Thread(
        target=global_reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
    )
    thread.start()
    yield global_reactor
    global_reactor.callFromThread(global_reactor.stop)
    thread.join(10)


@pytest.fixture
def proxy(broker_url: str) -> Iterator[TcpProxy]:
    target = URLParameters(broker_url)
    with TcpProxy(target.host, target.port) as running:
        yield running


@pytest.fixture(params=sorted(KITS))
def driver(request: pytest.FixtureRequest) -> Iterator[AdapterDriver]:
    adapter = AdapterDriver(KITS[request.param]())
    yield adapter
    adapter.close()


@pytest.fixture
def otel() -> Iterator[Any]:
    """The library instrumented with `pika.otel` into the OpenTelemetry
    SDK's in-memory exporters (`otel_native_support.Telemetry`)."""
    from tests.integration.otel_native_support import instrumented

    with instrumented() as recorded:
        yield recorded


@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)
