"""Acceptance: failover between the nodes of a cluster.

Three extra RabbitMQ nodes are booted (in parallel) and clustered; a
durable quorum queue lives on all three. A recovering publisher (with
confirms) and a recovering consumer know all three nodes' parameters and
start on the first; that node is stopped while they run. Both continue on
another node, and every message confirmed to the publisher, before and
after the failover, reaches the consumer.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from pika.parameters import URLParameters
from tests.integration.recovery_support import SelectRunner, Soak
from tests.utils.extra_node import ExtraBrokerNode, form_cluster, start_nodes

pytestmark = pytest.mark.broker


@pytest.mark.timeout(480)
def test_failover_to_another_node_loses_no_confirmed_message(
    broker_node_factory: Callable[..., ExtraBrokerNode],
    record_property: Callable[[str, Any], None],
) -> None:
    nodes = [broker_node_factory(f"failover{index}", start=False) for index in range(3)]
    start_nodes(nodes)
    form_cluster(nodes)
    first, second, third = nodes
    assert first.running_cluster_nodes() == sorted(node.name for node in nodes)

    runner = SelectRunner()
    parameters = [URLParameters(node.url()) for node in nodes]
    soak = Soak(
        runner,
        parameters[0],
        parameters,
        queue_arguments={"x-queue-type": "quorum"},
        node=second.name,
    )
    try:
        soak.start()
        ledger = soak.ledger
        runner.run_until(lambda: len(ledger.consumed) >= 200, 30, "traffic before the failover")
        confirmed_before = len(ledger.confirmed)

        # Stop the node both clients are connected to, while they run.
        began = time.monotonic()
        stopper = threading.Thread(target=first.stop, name="stop-first-node")
        stopper.start()
        runner.run_until(
            lambda: soak.consumer.conn.is_recovering and soak.publisher.conn.is_recovering,
            60,
            "recovery started",
        )
        runner.run_until(
            lambda: soak.consumer.recoveries and soak.publisher.recoveries, 90, "failover"
        )
        failover = time.monotonic() - began
        for client in (soak.consumer, soak.publisher):
            assert client.conn.params.port in (second.port, third.port)
        published_at_failover = ledger.published
        runner.run_until(
            lambda: (
                len(ledger.confirmed) >= confirmed_before + 200
                and ledger.published > published_at_failover + 200
            ),
            30,
            "traffic after the failover",
        )
        soak.drain()
        runner.run_until(lambda: not stopper.is_alive(), 60, "node stopped")
        stopper.join()

        figures = soak.figures()
        figures["failover_seconds"] = round(failover, 1)
        figures["confirmed_before_failover"] = confirmed_before
        print("\nfailover (quorum queue, 3 nodes):")
        for name, value in figures.items():
            print(f"  {name}: {value}")
            record_property(name, value)
        soak.check()
        assert soak.consumer.recoveries == 1 and soak.publisher.recoveries == 1
    finally:
        soak.close()
        runner.close()
