"""Pure parts of recovery changed with the acceptance work: a renamed
queue's default routing key, and publish numbering across losses
(``ConfirmNumbering``) as the application sees it."""

from __future__ import annotations

from pika import spec
from pika.recovery import Binding, ConfirmNumbering, QueueDecl, TopologyRecord


def test_a_routing_key_that_was_the_old_name_follows_the_rename() -> None:
    record = TopologyRecord()
    record.queue_declared(QueueDecl("amq.gen-old", False, True, False, {}, True))
    record.bound(Binding.of("amq.gen-old", "direct-ex", "amq.gen-old", None, False))
    record.bound(Binding.of("amq.gen-old", "topic-ex", "a.#", None, False))
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
