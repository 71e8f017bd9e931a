"""Suite-wide test set-up: timeouts, markers, the broker and the extra RabbitMQ nodes.

Fixtures:

- ``broker_url`` (session): URL of the broker every integration test uses
  (PIKA_TEST_URL, else AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/),
  checked to answer AMQP 0-9-1;
- ``extra_broker`` (session): an extra plain RabbitMQ node (``ExtraBrokerNode``);
- ``tls_broker`` (session): an extra node with a TLS listener
  (``verify_peer``, client certificate optional) and EXTERNAL authentication
  for the client certificate in ``tls_broker.tls``;
- ``strict_tls_broker`` (session): an extra node whose TLS listener requires
  a client certificate and presents an expired server certificate;
- ``broker_node_factory``: builds and boots nodes for one test
  (``broker_node_factory(label, start=True, **ExtraBrokerNode options)``)
  and removes them afterwards: for tests that break a node or need a
  cluster (``start=False`` and ``start_nodes([...])`` boot several at once).

A test may stop a session node: it is started again before the next test
that uses it.

When a broker or RabbitMQ is missing, these fixtures skip the test, except
under CI=true, where they fail it: CI never passes by skipping.

Every test has a timeout (pytest-timeout, ``timeout`` in pyproject.toml;
60 s when none is configured); a test using the node fixtures gets 90 s
more for the boot, unless it sets its own ``timeout`` marker. Tests marked
``slow`` run only with ``--run-slow`` or when ``-m`` names them.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from typing import Any, Callable, NoReturn, Optional

import pytest

from tests.utils import amqp_probe
from tests.utils.extra_node import (
    DEFAULT_BOOT_TIMEOUT,
    ExtraBrokerNode,
    stop_stale_nodes,
    why_extra_nodes_unavailable,
)

FALLBACK_TIMEOUT = 60.0
BROKER_FIXTURES = frozenset({"broker_url"})
NODE_FIXTURES = frozenset(
    {"extra_broker", "tls_broker", "strict_tls_broker", "broker_node_factory"}
)

# The session-scoped nodes that exist right now, by fixture name.
_session_nodes: dict[str, ExtraBrokerNode] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test for a missing prerequisite; under CI=true, fail it instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite fails the run)", pytrace=False)
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", help="also run tests marked slow (soak tests)"
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("timeout"):
        raise pytest.UsageError(
            "pytest-timeout is required (every test must have a timeout): pip install -e '.[dev]'"
        )
    config.addinivalue_line(
        "markers", "extra_node: starts extra RabbitMQ nodes (about 7 s each to boot)"
    )


def _configured_timeout(config: pytest.Config) -> Optional[float]:
    """The suite-wide timeout pytest-timeout will apply, or None if it is off."""
    for value in (
        config.getoption("timeout", None),
        os.environ.get("PYTEST_TIMEOUT"),
        config.getini("timeout"),
    ):
        if value not in (None, ""):
            return float(value) if float(value) > 0 else None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    configured = _configured_timeout(config)
    default_timeout = configured or FALLBACK_TIMEOUT
    markexpr = config.getoption("markexpr", "") or ""
    run_slow = config.getoption("--run-slow") or "slow" in markexpr
    kept, deselected = [], []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & (BROKER_FIXTURES | NODE_FIXTURES):
            item.add_marker(pytest.mark.broker)
        uses_nodes = bool(fixtures & NODE_FIXTURES)
        if uses_nodes:
            item.add_marker(pytest.mark.extra_node)
        if item.get_closest_marker("timeout") is None and (uses_nodes or configured is None):
            # The timeout covers fixture set-up: give node boots their own allowance.
            allowance = DEFAULT_BOOT_TIMEOUT if uses_nodes else 0.0
            item.add_marker(pytest.mark.timeout(default_timeout + allowance))
        if item.get_closest_marker("slow") is not None and not run_slow:
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    """Name the OpenTelemetry Pika instrumentation release the suite runs against."""
    try:
        release = importlib.metadata.version("opentelemetry-instrumentation-pika")
    except importlib.metadata.PackageNotFoundError:
        release = "not installed"
    return f"opentelemetry-instrumentation-pika: {release}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if why_extra_nodes_unavailable() is None:
        stop_stale_nodes()


@pytest.fixture(scope="session")
def broker_url() -> str:
    url = amqp_probe.broker_url()
    problem = None
    try:
        amqp_probe.check_broker(amqp_probe.parse_broker_url(url))
    except (ValueError, amqp_probe.BrokerProbeError) as exc:
        problem = str(exc)
    if problem is not None:
        skip_or_fail(
            f"no AMQP broker at {amqp_probe.redact_url(url)}: {problem}; "
            "run scripts/ensure_broker.py or set PIKA_TEST_URL"
        )
    return url


def _node(label: str, start: bool = True, **options: Any) -> ExtraBrokerNode:
    """Create (and boot, if ``start``) a node; skip, or fail in CI, if this machine cannot."""
    reason = why_extra_nodes_unavailable()
    if reason is not None:
        skip_or_fail(f"cannot start an extra RabbitMQ node: {reason}")
    node = ExtraBrokerNode(label, **options)
    if start:
        try:
            node.start()
        except BaseException:
            node.close()
            raise
    return node


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Restart a session node that an earlier test left stopped, before its fixtures run."""
    for name, node in _session_nodes.items():
        if name in getattr(item, "fixturenames", ()):
            node.ensure_running()


def _session_node(name: str, **options: Any) -> Iterator[ExtraBrokerNode]:
    node = _node(name.split("_")[0], **options)
    _session_nodes[name] = node
    try:
        yield node
    finally:
        del _session_nodes[name]
        node.close()


@pytest.fixture(scope="session")
def extra_broker() -> Iterator[ExtraBrokerNode]:
    yield from _session_node("extra_broker")


@pytest.fixture(scope="session")
def tls_broker() -> Iterator[ExtraBrokerNode]:
    yield from _session_node("tls_broker", tls=True, external_auth=True)


@pytest.fixture(scope="session")
def strict_tls_broker() -> Iterator[ExtraBrokerNode]:
    yield from _session_node(
        "strict_tls_broker", tls=True, fail_if_no_peer_cert=True, expired_server_cert=True
    )


@pytest.fixture
def broker_node_factory() -> Iterator[Callable[..., ExtraBrokerNode]]:
    nodes: list[ExtraBrokerNode] = []

    def make(label: str = "node", start: bool = True, **options: Any) -> ExtraBrokerNode:
        node = _node(label, start, **options)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.close()
