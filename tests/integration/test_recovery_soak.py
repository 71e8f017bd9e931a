"""Acceptance: a consumer and a confirming publisher keep running while the
test proxy cuts their connections again and again.

Every message confirmed to the publisher (Basic.Ack) must reach the
consumer at least once; messages unconfirmed at a cut must be reported as
nacked, never as confirmed; the duplicates (redeliveries of messages whose
ack was lost with the connection) are counted and reported.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from pika.parameters import URLParameters
from pika.recovery import RecoveryPolicy
from tests.integration.recovery_support import (
    FAST_POLICY,
    AsyncioRunner,
    LoopRunner,
    SelectRunner,
    Soak,
)
from tests.utils import broker
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.broker

#: Seconds between cuts (counted from the moment both clients are back).
CUT_INTERVAL = 0.5


def run_soak(
    runner: LoopRunner,
    broker_url: str,
    proxy: TcpProxy,
    cuts: int,
    report: Callable[[str, Any], None],
    policy: RecoveryPolicy = FAST_POLICY,
) -> Soak:
    soak = Soak(runner, URLParameters(proxy.rewrite_url(broker_url)), policy=policy)
    began = time.monotonic()
    try:
        soak.start()
        soak.cut_repeatedly(proxy, cuts, CUT_INTERVAL)
        runner.sleep(0.5)  # some traffic after the last recovery too
        soak.drain()
        figures = {"cuts": soak.cuts, "seconds": round(time.monotonic() - began, 1)}
        figures.update(soak.figures())
        print(f"\nrecovery soak ({runner.name}):")
        for name, value in figures.items():
            print(f"  {name}: {value}")
            report(name, value)
        soak.check()
        assert soak.consumer.recoveries == cuts and soak.publisher.recoveries == cuts
        # Recovery brought the consumer back every time (one consumer, not more).
        info = broker.queue_info(soak.queue)
        assert info is not None and info.consumers == 1
        return soak
    finally:
        soak.close()
        broker.rabbitmqctl("delete_queue", soak.queue)


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("runner_class", "cuts"),
    # The selector loop takes the full acceptance run; asyncio shows that
    # recovery works on another adapter.
    [(SelectRunner, 20), (AsyncioRunner, 5)],
    ids=["select", "asyncio"],
)
def test_cuts_lose_no_confirmed_message(
    runner_class: type[LoopRunner],
    cuts: int,
    broker_url: str,
    proxy: TcpProxy,
    record_property: Callable[[str, Any], None],
) -> None:
    runner = runner_class()
    try:
        run_soak(runner, broker_url, proxy, cuts, record_property)
    finally:
        runner.close()


@pytest.mark.timeout(120)
def test_cuts_with_republishing_confirm_every_message(
    broker_url: str, proxy: TcpProxy, record_property: Callable[[str, Any], None]
) -> None:
    """With ``republish_unconfirmed`` nothing is nacked: what was unconfirmed
    at a cut goes out again after the recovery, under its original number,
    and is confirmed then."""
    runner = SelectRunner()
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=1.0, republish_unconfirmed=True)
    try:
        soak = run_soak(runner, broker_url, proxy, 10, record_property, policy)
        assert not soak.ledger.nacked
        assert len(soak.ledger.confirmed) == soak.ledger.published
    finally:
        runner.close()
