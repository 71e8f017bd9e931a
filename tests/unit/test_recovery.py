"""The recovery policy and the topology record (pure; the broker-facing
recovery is tested in tests/integration/test_recovery.py)."""

from __future__ import annotations

import random

import pytest

from pika import exceptions
from pika.adapters.utils.connection_workflow import (
    AMQPConnectionWorkflowFailed,
    AMQPConnectorAMQPHandshakeError,
    AMQPConnectorSocketConnectError,
)
from pika.recovery import (
    Binding,
    ExchangeDecl,
    QueueDecl,
    RecoveryPolicy,
    TopologyRecord,
    is_recoverable,
)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RecoveryPolicy(initial_delay=1, max_delay=10, multiplier=2, jitter=0)
    assert [policy.delay(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]


def test_jitter_shortens_by_at_most_its_fraction() -> None:
    policy = RecoveryPolicy(initial_delay=4, max_delay=4, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.delay(3, rng) for _ in range(1000)]
    assert all(2 <= d <= 4 for d in delays)
    assert max(delays) - min(delays) > 1.5


@pytest.mark.parametrize(
    "kwargs",
    [{"initial_delay": -1}, {"multiplier": 0.5}, {"jitter": 2}, {"max_attempts": 0}],
)
def test_bad_policy_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RecoveryPolicy"):
        RecoveryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (exceptions.StreamLostError("reset"), True),
        (exceptions.AMQPHeartbeatTimeout("silent"), True),
        (exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown"), True),
        (exceptions.ConnectionClosedByBroker(530, "NOT_ALLOWED"), False),
        (exceptions.ConnectionClosedByClient(200, "Normal shutdown"), False),
        (exceptions.ProbableAuthenticationError("403"), False),
        (exceptions.ProbableAccessDeniedError("vhost"), False),
        (AMQPConnectorSocketConnectError(ConnectionRefusedError()), True),
        (AMQPConnectorAMQPHandshakeError(exceptions.ProbableAuthenticationError("x")), False),
        (
            AMQPConnectionWorkflowFailed(
                [AMQPConnectorSocketConnectError(ConnectionRefusedError())] * 2
            ),
            True,
        ),
        (
            AMQPConnectionWorkflowFailed(
                [AMQPConnectorAMQPHandshakeError(exceptions.ProbableAccessDeniedError("x"))]
            ),
            False,
        ),
    ],
)
def test_what_is_recoverable(error: Exception, expected: bool) -> None:
    assert is_recoverable(error) is expected


def _queue(name: str, auto_delete: bool = False, server_named: bool = False) -> QueueDecl:
    return QueueDecl(name, False, False, auto_delete, {}, server_named)


def _exchange(name: str, auto_delete: bool = False) -> ExchangeDecl:
    return ExchangeDecl(name, "topic", False, auto_delete, False, {})


def test_deleting_a_queue_drops_its_bindings_and_consumers() -> None:
    record = TopologyRecord()
    record.exchange_declared(_exchange("ex"))
    record.queue_declared(_queue("q"))
    record.bound(Binding.of("q", "ex", "a.*", {"x": 1}, False))
    record.consumer_added("c1", "q")
    record.queue_deleted("q")
    assert record.queues == {} and record.bindings == {} and record.consumers == {}
    assert "ex" in record.exchanges


def test_bindings_compare_by_arguments_regardless_of_order() -> None:
    record = TopologyRecord()
    record.bound(Binding.of("q", "ex", "k", {"a": 1, "b": {"nested": True}}, False))
    record.bound(Binding.of("q", "ex", "k", {"b": {"nested": True}, "a": 1}, False))
    assert len(record.bindings) == 1
    record.unbound(Binding.of("q", "ex", "k", {"b": {"nested": True}, "a": 1}, False))
    assert record.bindings == {}


def test_auto_delete_queue_goes_with_its_last_consumer() -> None:
    record = TopologyRecord()
    record.queue_declared(_queue("q", auto_delete=True))
    record.consumer_added("c1", "q")
    record.consumer_added("c2", "q")
    record.consumer_removed("c1")
    assert "q" in record.queues
    record.consumer_removed("c2")
    assert "q" not in record.queues


def test_auto_delete_exchange_goes_with_its_last_binding() -> None:
    record = TopologyRecord()
    record.exchange_declared(_exchange("src", auto_delete=True))
    record.exchange_declared(_exchange("dst"))
    record.bound(Binding.of("dst", "src", "", None, True))
    record.queue_declared(_queue("q"))
    record.bound(Binding.of("q", "src", "", None, False))
    record.unbound(Binding.of("dst", "src", "", None, True))
    assert "src" in record.exchanges
    record.queue_deleted("q")
    assert "src" not in record.exchanges


def test_deleting_an_exchange_drops_e2e_bindings_both_ways() -> None:
    record = TopologyRecord()
    for name in ("a", "b", "c"):
        record.exchange_declared(_exchange(name))
    record.bound(Binding.of("b", "a", "", None, True))
    record.bound(Binding.of("c", "b", "", None, True))
    record.exchange_deleted("b")
    assert record.bindings == {}


def test_server_named_queue_rename_moves_bindings_and_consumers() -> None:
    record = TopologyRecord()
    record.queue_declared(_queue("amq.gen-old", server_named=True))
    record.bound(Binding.of("amq.gen-old", "ex", "k", None, False))
    record.consumer_added("c1", "amq.gen-old")
    record.queue_renamed("amq.gen-old", "amq.gen-new")
    assert list(record.queues) == ["amq.gen-new"]
    assert record.queues["amq.gen-new"].name == "amq.gen-new"
    assert [b.destination for b in record.bindings] == ["amq.gen-new"]
    assert record.consumers == {"c1": "amq.gen-new"}
