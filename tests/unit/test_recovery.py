"""The recovery policy and the topology record (pure; the broker-facing
recovery is tested in tests/integration/test_recovery.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pika import exceptions, frame, spec
from pika.adapters.utils.connection_workflow import (
    AMQPConnectionWorkflowFailed,
    AMQPConnectorAMQPHandshakeError,
    AMQPConnectorSocketConnectError,
)
from pika.recovery import (
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


def _exchange(name: str, auto_delete: bool = False) -> spec.Exchange.Declare:
    return spec.Exchange.Declare(exchange=name, type="topic", auto_delete=auto_delete)


def _queue(name: str, auto_delete: bool = False) -> spec.Queue.Declare:
    return spec.Queue.Declare(queue=name, auto_delete=auto_delete)


def _declare_ok(name: str) -> frame.Method:
    """The broker's reply to a queue declare, as the channel hands it over."""
    return frame.Method(1, spec.Queue.DeclareOk(name, 0, 0))


def _applied(*requests: Any) -> TopologyRecord:
    """A record that the broker accepted each request of ``requests`` (a
    method, or a (method, reply) pair) into, in order."""
    record = TopologyRecord()
    for request in requests:
        if isinstance(request, tuple):
            record.apply(*request)
        else:
            record.apply(request)
    return record


def test_declares_are_recorded_as_sent_and_passive_ones_are_not() -> None:
    record = _applied(
        spec.Exchange.Declare(
            exchange="ex", type="fanout", durable=True, internal=True, arguments={"k": 1}
        ),
        spec.Exchange.Declare(exchange="checked", passive=True),
        (
            spec.Queue.Declare(queue="q", durable=True, arguments={"x-max-length": 5}),
            _declare_ok("q"),
        ),
        spec.Queue.Declare(queue="quiet", exclusive=True, nowait=True),
        (spec.Queue.Declare(queue="", exclusive=True), _declare_ok("amq.gen-1")),
        (spec.Queue.Declare(queue="checked", passive=True), _declare_ok("checked")),
    )
    assert record.exchanges == {"ex": ExchangeDecl("ex", "fanout", True, False, True, {"k": 1})}
    assert record.queues == {
        "q": QueueDecl("q", True, False, False, {"x-max-length": 5}, False),
        "quiet": QueueDecl("quiet", False, True, False, {}, False),
        "amq.gen-1": QueueDecl("amq.gen-1", False, True, False, {}, True),
    }


def test_methods_that_change_no_topology_are_ignored() -> None:
    record = _applied(_queue("q"), spec.Basic.Qos(prefetch_count=5), spec.Queue.Purge(queue="q"))
    assert list(record.queues) == ["q"] and not record.bindings and not record.consumers


def test_deleting_a_queue_drops_its_bindings_and_consumers() -> None:
    record = _applied(
        _exchange("ex"),
        _queue("q"),
        spec.Queue.Bind(queue="q", exchange="ex", routing_key="a.*", arguments={"x": 1}),
        spec.Basic.Consume(queue="q", consumer_tag="c1"),
    )
    assert [(b.destination, b.source, b.routing_key) for b in record.bindings] == [
        ("q", "ex", "a.*")
    ]
    assert record.consumers == {"c1": "q"}
    record.apply(spec.Queue.Delete(queue="q"))
    assert record.queues == {} and record.bindings == {} and record.consumers == {}
    assert "ex" in record.exchanges


def test_bindings_compare_by_arguments_regardless_of_order() -> None:
    record = _applied(
        spec.Queue.Bind(
            queue="q", exchange="ex", routing_key="k", arguments={"a": 1, "b": {"n": True}}
        ),
        spec.Queue.Bind(
            queue="q", exchange="ex", routing_key="k", arguments={"b": {"n": True}, "a": 1}
        ),
    )
    assert len(record.bindings) == 1
    record.apply(
        spec.Queue.Unbind(
            queue="q", exchange="ex", routing_key="k", arguments={"b": {"n": True}, "a": 1}
        )
    )
    assert record.bindings == {}


def test_auto_delete_queue_goes_with_its_last_consumer() -> None:
    record = _applied(
        _queue("q", auto_delete=True),
        spec.Basic.Consume(queue="q", consumer_tag="c1"),
        spec.Basic.Consume(queue="q", consumer_tag="c2"),
        spec.Basic.Cancel(consumer_tag="c1"),
    )
    assert "q" in record.queues
    record.consumer_removed("c2")  # the broker cancelled the last consumer
    assert "q" not in record.queues


def test_auto_delete_exchange_goes_with_its_last_binding() -> None:
    record = _applied(
        _exchange("src", auto_delete=True),
        _exchange("dst"),
        spec.Exchange.Bind(destination="dst", source="src"),
        _queue("q"),
        spec.Queue.Bind(queue="q", exchange="src"),
        spec.Exchange.Unbind(destination="dst", source="src"),
    )
    assert "src" in record.exchanges
    record.apply(spec.Queue.Delete(queue="q"))
    assert "src" not in record.exchanges


def test_unbinding_the_last_binding_of_an_auto_delete_exchange_forgets_it() -> None:
    record = _applied(
        _exchange("src", auto_delete=True),
        _queue("q"),
        spec.Queue.Bind(queue="q", exchange="src", routing_key="k"),
        spec.Queue.Unbind(queue="q", exchange="src", routing_key="k"),
    )
    assert list(record.exchanges) == [] and list(record.queues) == ["q"]


def test_deleting_an_exchange_drops_e2e_bindings_both_ways() -> None:
    record = _applied(
        _exchange("a"),
        _exchange("b"),
        _exchange("c"),
        spec.Exchange.Bind(destination="b", source="a"),
        spec.Exchange.Bind(destination="c", source="b"),
        spec.Exchange.Delete(exchange="b"),
    )
    assert record.bindings == {} and list(record.exchanges) == ["a", "c"]


def test_server_named_queue_rename_moves_bindings_and_consumers() -> None:
    record = _applied(
        (spec.Queue.Declare(queue="", exclusive=True), _declare_ok("amq.gen-old")),
        spec.Queue.Bind(queue="amq.gen-old", exchange="ex", routing_key="k"),
        spec.Basic.Consume(queue="amq.gen-old", consumer_tag="c1"),
    )
    record.queue_renamed("amq.gen-old", "amq.gen-new")
    assert list(record.queues) == ["amq.gen-new"]
    assert record.queues["amq.gen-new"].name == "amq.gen-new"
    assert [b.destination for b in record.bindings] == ["amq.gen-new"]
    assert record.consumers == {"c1": "amq.gen-new"}
