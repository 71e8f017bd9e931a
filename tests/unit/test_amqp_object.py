"""Base AMQP objects: representation, equality and attached content."""

from __future__ import annotations

import copy
import pickle

import pytest

from pika import amqp_object, spec


class _Plain(amqp_object.AMQPObject):
    """A subclass without __slots__, as the frame classes are written."""

    NAME = "Plain"

    def __init__(self, number: int) -> None:
        self.number = number
        self._hidden = "not shown"


def test_repr_lists_fields_in_order() -> None:
    method = spec.Basic.Deliver("ctag", 1, False, "ex", "rk")
    assert repr(method) == (
        "<Basic.Deliver(['consumer_tag=ctag', 'delivery_tag=1', 'redelivered=False', "
        "'exchange=ex', 'routing_key=rk'])>"
    )
    assert repr(spec.Tx.Select()) == "<Tx.Select>"
    assert repr(spec.BasicProperties(delivery_mode=2)).startswith(
        "<BasicProperties(['content_type=None', 'content_encoding=None', 'headers=None', "
        "'delivery_mode=2'"
    )
    assert repr(_Plain(3)) == "<Plain(['number=3'])>"


def test_repr_skips_unset_slots() -> None:
    method = spec.Basic.Ack.__new__(spec.Basic.Ack)
    method.delivery_tag = 4
    assert repr(method) == "<Basic.Ack(['delivery_tag=4'])>"


def test_equality_compares_class_and_values() -> None:
    assert spec.Basic.Ack(1, True) == spec.Basic.Ack(1, True)
    assert spec.Basic.Ack(1, True) != spec.Basic.Ack(1, False)
    assert spec.Basic.Ack(1) != spec.Basic.Nack(1)
    assert spec.Tx.Select() == spec.Tx.Select()
    assert spec.Tx.Select() != spec.Tx.Commit()
    assert _Plain(1) == _Plain(1)
    assert _Plain(1) != _Plain(2)
    assert spec.Basic.Ack() != "Basic.Ack"


def test_base_class_names() -> None:
    assert amqp_object.AMQPObject.NAME == "AMQPObject"
    assert amqp_object.AMQPObject.INDEX is None
    assert amqp_object.Class.NAME == "Unextended Class"
    assert amqp_object.Method.NAME == "Unextended Method"
    assert amqp_object.Properties.NAME == "Unextended Properties"
    assert amqp_object.Method.synchronous is False
    assert amqp_object.Method.CONTENT is False


def test_content_is_attached_and_read_back() -> None:
    method = spec.Basic.Deliver("ctag", 1, False, "ex", "rk")
    with pytest.raises(AttributeError, match="no content properties"):
        method.get_properties()
    with pytest.raises(AttributeError, match="no content body"):
        method.get_body()
    properties = spec.BasicProperties(content_type="text/plain")
    method._set_content(properties, b"body")
    assert method.get_properties() is properties
    assert method.get_body() == b"body"
    assert "body" not in repr(method)


def _bare_properties() -> spec.BasicProperties:
    """Properties as the engine makes them for a message without any."""
    return spec.BasicProperties.__new__(spec.BasicProperties)


def test_unset_properties_read_as_none_and_behave_as_all_none() -> None:
    bare = _bare_properties()
    assert bare.content_type is None and bare.headers is None
    assert bare == spec.BasicProperties()
    assert repr(bare) == repr(spec.BasicProperties())
    assert all(getattr(_bare_properties(), name) is None for name in bare.__slots__)
    # Set by the application afterwards, like any properties.
    bare.delivery_mode = 2
    assert bare == spec.BasicProperties(delivery_mode=2)
    assert b"".join(bare.encode()) == b"".join(spec.BasicProperties(delivery_mode=2).encode())


def test_unset_properties_copy_and_pickle_as_all_none() -> None:
    for made in (copy.copy(_bare_properties()), pickle.loads(pickle.dumps(_bare_properties()))):
        assert made == spec.BasicProperties()
        assert made.message_id is None


def test_unknown_attributes_of_properties_still_raise() -> None:
    bare = _bare_properties()
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        bare.colour  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(spec.BasicProperties(), "colour")
    assert hasattr(bare, "reply_to")
