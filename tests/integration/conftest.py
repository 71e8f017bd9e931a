"""Fixtures shared by the integration suites of the callback adapters.

- ``driver``: an `AdapterDriver` for each callback adapter in turn (the
  test runs once per adapter), closed afterwards;
- ``params``: the broker's URL as `URLParameters`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pika.connection import URLParameters
from tests.integration.adapter_driver import KITS, AdapterDriver


@pytest.fixture(params=sorted(KITS))
def driver(request: pytest.FixtureRequest) -> Iterator[AdapterDriver]:
    adapter = AdapterDriver(KITS[request.param]())
    yield adapter
    adapter.close()


@pytest.fixture
def params(broker_url: str) -> URLParameters:
    return URLParameters(broker_url)
