"""Pure parts of recovery changed with the acceptance work: a renamed
queue's default routing key, and publish numbering across losses
(``ConfirmNumbering``) as the application sees it."""

from __future__ import annotations

from pika import frame, spec
from pika.recovery import ConfirmNumbering, TopologyRecord


def test_a_routing_key_that_was_the_old_name_follows_the_rename() -> None:
    record = TopologyRecord()
    record.apply(
        spec.Queue.Declare(queue="", exclusive=True),
        frame.Method(1, spec.Queue.DeclareOk("amq.gen-old", 0, 0)),
    )
    # queue_bind's routing key defaults to the queue's name.
    record.apply(
        spec.Queue.Bind(queue="amq.gen-old", exchange="direct-ex", routing_key="amq.gen-old")
    )
    record.apply(spec.Queue.Bind(queue="amq.gen-old", exchange="topic-ex", routing_key="a.#"))
    record.queue_renamed("amq.gen-old", "amq.gen-new")
    assert {(b.source, b.destination, b.routing_key) for b in record.bindings} == {
        ("direct-ex", "amq.gen-new", "amq.gen-new"),
        ("topic-ex", "amq.gen-new", "a.#"),
    }


def _ack(tag: int, multiple: bool = False) -> spec.Basic.Ack:
    return spec.Basic.Ack(tag, multiple)


def _shown(methods: list[spec.Basic.Ack | spec.Basic.Nack]) -> list[tuple[str, int, bool]]:
    return [(type(m).__name__, m.delivery_tag, m.multiple) for m in methods]


def test_unconfirmed_publishes_are_nacked_once_and_numbers_continue() -> None:
    numbering = ConfirmNumbering()
    assert _shown(numbering.translate(_ack(2, multiple=True))) == [("Ack", 2, True)]
    # Publishes 3 to 5 are unconfirmed when the connection breaks.
    assert _shown(numbering.connection_lost(5, republish=False)) == [("Nack", 5, True)]
    # A second loss before anything new was published reports nothing more.
    assert numbering.connection_lost(5, republish=False) == []
    # On the new channel the broker numbers from 1: that is publish 6.
    assert _shown(numbering.translate(_ack(1))) == [("Ack", 6, False)]
    assert _shown(numbering.translate(_ack(3, multiple=True))) == [("Ack", 8, True)]


def test_republished_messages_are_confirmed_under_their_own_numbers() -> None:
    numbering = ConfirmNumbering()
    for seq in range(1, 5):
        numbering.keep(seq, ("", "q", b"%d" % seq, None, False))
    numbering.translate(_ack(2, multiple=True))
    assert numbering.connection_lost(4, republish=True) == []
    assert [message[2] for message in numbering.take_republish()] == [b"3", b"4"]
    # Broker tags 1 and 2 are the republished 3 and 4; tag 3 is publish 5.
    assert _shown(numbering.translate(_ack(1))) == [("Ack", 3, False)]
    assert _shown(numbering.translate(_ack(3, multiple=True))) == [
        ("Ack", 4, False),
        ("Ack", 5, True),
    ]
