"""Field-table codec: hand-computed byte cases for every type code, error cases,
and property tests (round trips; any bytes decode or raise the library's error)."""

from __future__ import annotations

import datetime
import decimal
import struct
from typing import Any, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pika import data, exceptions


def encoded(encoder: Callable[[list[bytes], Any], int], value: Any) -> bytes:
    """The bytes ``encoder`` appends for ``value``, checked against the count it returns."""
    pieces: list[bytes] = []
    count = encoder(pieces, value)
    result = b"".join(pieces)
    assert count == len(result)
    return result


def encoded_value(value: Any) -> bytes:
    return encoded(data.encode_value, value)


def encoded_table(table: Any) -> bytes:
    return encoded(data.encode_table, table)


# Every type code RabbitMQ defines, with bytes written out from the type table.
DECODE_CASES = [
    (b"t\x01", True),
    (b"t\x00", False),
    (b"b\xff", -1),
    (b"B\xff", 255),
    (b"s\x80\x00", -32768),
    (b"u\xff\xff", 65535),
    (b"I\xff\xff\xff\xfe", -2),
    (b"i\xff\xff\xff\xff", 4294967295),
    (b"l\x80\x00\x00\x00\x00\x00\x00\x00", -(2**63)),
    (b"f\x3f\xc0\x00\x00", 1.5),
    (b"d\x40\x09\x21\xfb\x54\x44\x2d\x18", 3.141592653589793),
    (b"D\x02\x00\x00\x04\xd2", decimal.Decimal("12.34")),
    (b"D\x01\xff\xff\xff\xf1", decimal.Decimal("-1.5")),
    (b"S\x00\x00\x00\x05hello", "hello"),
    (b"S\x00\x00\x00\x02\xc3\xa9", "\u00e9"),
    (b"S\x00\x00\x00\x02\xff\xfe", b"\xff\xfe"),
    (b"x\x00\x00\x00\x03abc", b"abc"),
    (b"A\x00\x00\x00\x08I\x00\x00\x00\x01Vt\x01", [1, None, True]),
    (b"A\x00\x00\x00\x00", []),
    (b"T\x00\x00\x00\x00\x5e\x0b\xe1\x00", datetime.datetime(2020, 1, 1)),
    (b"F\x00\x00\x00\x07\x01kS\x00\x00\x00\x00", {"k": ""}),
    (b"F\x00\x00\x00\x00", {}),
    (b"V", None),
]


@pytest.mark.parametrize(("encoded", "expected"), DECODE_CASES)
def test_decode_value_hand_computed(encoded: bytes, expected: Any) -> None:
    value, offset = data.decode_value(encoded, 0)
    assert value == expected
    assert type(value) is type(expected)
    assert offset == len(encoded)


@pytest.mark.parametrize(("encoded", "expected"), DECODE_CASES)
def test_decode_value_at_offset_in_any_buffer(encoded: bytes, expected: Any) -> None:
    buffer = b"junk" + encoded + b"tail"
    for view in (buffer, bytearray(buffer), memoryview(buffer)):
        assert data.decode_value(view, 4) == (expected, 4 + len(encoded))


ENCODE_CASES = [
    (True, b"t\x01"),
    (False, b"t\x00"),
    (0, b"I\x00\x00\x00\x00"),
    (-(2**31), b"I\x80\x00\x00\x00"),
    (2**31 - 1, b"I\x7f\xff\xff\xff"),
    (2**31, b"l\x00\x00\x00\x00\x80\x00\x00\x00"),
    (-(2**31) - 1, b"l\xff\xff\xff\xff\x7f\xff\xff\xff"),
    (2**63 - 1, b"l\x7f\xff\xff\xff\xff\xff\xff\xff"),
    (1.5, b"d\x3f\xf8\x00\x00\x00\x00\x00\x00"),
    (decimal.Decimal("12.34"), b"D\x02\x00\x00\x04\xd2"),
    (decimal.Decimal("-0.5"), b"D\x01\xff\xff\xff\xfb"),
    (decimal.Decimal("1E+3"), b"D\x00\x00\x00\x03\xe8"),
    (decimal.Decimal("5.000000000000"), b"D\x08\x1d\xcd\x65\x00"),
    ("h\u00e9", b"S\x00\x00\x00\x03h\xc3\xa9"),
    (b"\x00\xff", b"x\x00\x00\x00\x02\x00\xff"),
    (bytearray(b"ab"), b"x\x00\x00\x00\x02ab"),
    (datetime.datetime(2020, 1, 1), b"T\x00\x00\x00\x00\x5e\x0b\xe1\x00"),
    (datetime.datetime(2020, 1, 1, 0, 0, 0, 999999), b"T\x00\x00\x00\x00\x5e\x0b\xe1\x00"),
    (
        datetime.datetime(2020, 1, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        b"T\x00\x00\x00\x00\x5e\x0b\xe1\x00",
    ),
    ({"a": None}, b"F\x00\x00\x00\x03\x01aV"),
    ([1, "x"], b"A\x00\x00\x00\x0bI\x00\x00\x00\x01S\x00\x00\x00\x01x"),
    ((), b"A\x00\x00\x00\x00"),
    (None, b"V"),
]


@pytest.mark.parametrize(("value", "expected"), ENCODE_CASES)
def test_encode_value_hand_computed(value: Any, expected: bytes) -> None:
    assert encoded_value(value) == expected


class _Flag(int):
    """An int subclass, as an IntEnum member would be."""


def test_subclasses_encode_like_their_base() -> None:
    assert encoded_value(_Flag(7)) == b"I\x00\x00\x00\x07"
    assert encoded_value(type("Text", (str,), {})("ok")) == b"S\x00\x00\x00\x02ok"


@pytest.mark.parametrize(
    "value",
    [
        2**63,
        -(2**63) - 1,
        decimal.Decimal("NaN"),
        decimal.Decimal("Infinity"),
        decimal.Decimal("12345678901.5"),
        decimal.Decimal("1E-256"),
        datetime.datetime(1969, 12, 31, 23, 59, 59),
        object(),
        {1, 2},
        datetime.date(2020, 1, 1),
    ],
)
def test_unencodable_values_raise_unsupported_field(value: Any) -> None:
    with pytest.raises(exceptions.UnsupportedAMQPFieldException, match=type(value).__name__):
        data.encode_value([], value)


def test_encode_table() -> None:
    assert encoded_table(None) == b"\x00\x00\x00\x00"
    assert encoded_table({}) == b"\x00\x00\x00\x00"
    assert encoded_table({"x-max-length": 10}) == (
        b"\x00\x00\x00\x12\x0cx-max-lengthI\x00\x00\x00\x0a"
    )
    assert encoded_table({"a": {"b": True}}) == b"\x00\x00\x00\x0b\x01aF\x00\x00\x00\x04\x01bt\x01"


def test_table_keys_are_short_strings() -> None:
    assert encoded_table({b"k": 1}) == b"\x00\x00\x00\x07\x01kI\x00\x00\x00\x01"
    with pytest.raises(exceptions.ShortStringTooLong):
        data.encode_table([], {"k" * 256: 1})
    with pytest.raises(exceptions.UnsupportedAMQPFieldException, match="int"):
        data.encode_table([], {1: 1})


def test_short_strings() -> None:
    pieces: list[bytes] = []
    assert data.encode_short_string(pieces, "h\u00e9") == 4
    assert pieces == [b"\x03h\xc3\xa9"]
    pieces = []
    assert data.encode_short_string(pieces, b"x" * 255) == 256
    with pytest.raises(exceptions.ShortStringTooLong):
        data.encode_short_string([], b"x" * 256)
    with pytest.raises(exceptions.ShortStringTooLong):
        data.encode_short_string([], "\u00e9" * 128)
    assert data.decode_short_string(b"\x02ok!", 0) == ("ok", 3)
    assert data.decode_short_string(memoryview(b"..\x01\xff"), 2) == (b"\xff", 4)


@pytest.mark.parametrize(
    ("encoded", "error"),
    [
        (b"", exceptions.InvalidFrameError),
        (b"\x00\x00\x00", exceptions.InvalidFrameError),
        (b"\x00\x00\x00\x05\x01a", exceptions.InvalidFrameError),
        (b"\x00\x00\x00\x03\x01aI\x00\x00\x00\x00", exceptions.InvalidFrameError),
        (b"\x00\x00\x00\x03\x01aZ", exceptions.InvalidFieldTypeException),
        (b"\x00\x00\x00\x0a\x01aT\xff\xff\xff\xff\xff\xff\xff\xff", exceptions.InvalidFrameError),
        (b"\x00\x00\x00\x07\x01aS\x00\x00\x01\x00", exceptions.InvalidFrameError),
    ],
)
def test_malformed_tables(encoded: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        data.decode_table(encoded, 0)


def test_short_string_cut_short() -> None:
    with pytest.raises(exceptions.InvalidFrameError):
        data.decode_short_string(b"\x05abc", 0)
    with pytest.raises(exceptions.InvalidFrameError):
        data.decode_short_string(b"", 0)


def nested_arrays(depth: int) -> bytes:
    encoded = b"A\x00\x00\x00\x00"
    for _ in range(depth - 1):
        encoded = b"A" + struct.pack(">I", len(encoded)) + encoded
    return encoded


def test_nesting_depth_is_bounded() -> None:
    value, _ = data.decode_value(nested_arrays(data.MAX_NESTING_DEPTH + 1), 0)
    assert isinstance(value, list)
    with pytest.raises(exceptions.InvalidFrameError, match="nested"):
        data.decode_value(nested_arrays(data.MAX_NESTING_DEPTH + 2), 0)
    with pytest.raises(exceptions.InvalidFrameError, match="nested"):
        data.decode_value(nested_arrays(5000), 0)


# ------------------------------------------------------------ property tests

_keys = st.text(max_size=20)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.builds(
        lambda mantissa, scale: decimal.Decimal(mantissa).scaleb(-scale),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
        st.integers(min_value=0, max_value=255),
    )
    | st.datetimes(
        min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(9999, 12, 31)
    ).map(lambda moment: moment.replace(microsecond=0))
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=25,
)
_tables = st.dictionaries(_keys, _values, max_size=8)


@given(_tables)
def test_tables_round_trip(table: dict[str, Any]) -> None:
    encoded = encoded_table(table)
    assert data.decode_table(encoded, 0) == (table, len(encoded))


@given(_values)
def test_values_round_trip(value: Any) -> None:
    encoded = encoded_value(value)
    assert data.decode_value(b"\x00" + encoded, 1) == (value, len(encoded) + 1)


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=8))
def test_any_bytes_decode_or_raise_protocol_syntax_error(raw: bytes, offset: int) -> None:
    for decode in (data.decode_table, data.decode_value, data.decode_short_string):
        try:
            _, end = decode(raw, offset)
        except exceptions.ProtocolSyntaxError:
            continue
        assert offset < end <= len(raw)


@given(_tables, st.data())
def test_corrupted_tables_decode_or_raise_protocol_syntax_error(
    table: dict[str, Any], draw: st.DataObject
) -> None:
    encoded = bytearray(encoded_table(table))
    position = draw.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = draw.draw(st.integers(min_value=0, max_value=255))
    cut = draw.draw(st.integers(min_value=0, max_value=len(encoded)))
    try:
        data.decode_table(bytes(encoded[:cut]), 0)
    except exceptions.ProtocolSyntaxError:
        pass
