"""Field tables, field values and short strings as RabbitMQ encodes them.

A field table (``headers``, queue ``arguments``, peer properties) is a 32-bit
byte length followed by entries; each entry is a short-string key, a one-byte
type code and the value. The type codes are RabbitMQ's, which differ from the
letters of the printed 0-9-1 grammar:

====  ================================  ==========================================
code  wire format                       Python value
====  ================================  ==========================================
t     octet, 0 or 1                     `bool`
b     signed 8-bit                      `int`
B     unsigned 8-bit                    `int`
s     signed 16-bit                     `int`
u     unsigned 16-bit                   `int`
I     signed 32-bit                     `int`
i     unsigned 32-bit                   `int`
l     signed 64-bit                     `int`
f     IEEE 754 single                   `float`
d     IEEE 754 double                   `float`
D     scale octet + signed 32-bit       `decimal.Decimal` (unscaled / 10**scale)
S     32-bit length + bytes             `str` if valid UTF-8, else `bytes`
x     32-bit length + bytes             `bytes`
A     32-bit length + values            `list`
T     unsigned 64-bit POSIX seconds     naive `datetime.datetime` in UTC
F     field table                       `dict`
V     nothing                           `None`
====  ================================  ==========================================

Encoding picks the code from the Python type: `bool` -> ``t``; `int` -> ``I``
when it fits 32 signed bits, else ``l``; `float` -> ``d``; `decimal.Decimal`
-> ``D``; `str` -> ``S``; `bytes`/`bytearray` -> ``x``; `datetime.datetime`
-> ``T`` (a naive datetime is taken as UTC, an aware one is converted;
fractions of a second are dropped); a mapping -> ``F``; `list`/`tuple` ->
``A``; `None` -> ``V``. A value that has no code, or does not fit the one its
type maps to, raises `pika.exceptions.UnsupportedAMQPFieldException` naming
the value.

Decoders take ``bytes``, ``bytearray`` or ``memoryview`` (the last two are
copied to ``bytes`` once) and an offset, and return ``(value, offset just past
it)``. On malformed input they raise only
`pika.exceptions.ProtocolSyntaxError` subclasses: `InvalidFieldTypeException`
for an unknown type code, `InvalidFrameError` for anything else (data cut
short, a length running past its container, tables or arrays nested deeper
than `MAX_NESTING_DEPTH`, a timestamp `datetime` cannot represent).
"""

from __future__ import annotations

import calendar
import datetime
import decimal
import struct
from collections.abc import Mapping
from typing import Any, Callable, Optional

from pika import exceptions
from pika.amqp_object import Buffer

MAX_NESTING_DEPTH = 100
"""How deeply tables and arrays may nest inside the value being decoded."""

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

_EPOCH = datetime.datetime(1970, 1, 1)

_UINT32 = struct.Struct(">I")
_TAGGED_UINT32 = struct.Struct(">cI")
_TAGGED_INT32 = struct.Struct(">ci")
_TAGGED_INT64 = struct.Struct(">cq")
_TAGGED_UINT64 = struct.Struct(">cQ")
_TAGGED_DOUBLE = struct.Struct(">cd")
_TAGGED_DECIMAL = struct.Struct(">cBi")
_DECIMAL = struct.Struct(">Bi")
_UINT64 = struct.Struct(">Q")

_OCTETS = [bytes((length,)) for length in range(256)]
"""One-byte ``bytes`` for each octet value, used as short-string length prefixes."""

_Encoder = Callable[[list[bytes], Any], int]
_Decoder = Callable[[bytes, int, int], tuple[Any, int]]


def _unsupported(value: object, reason: str) -> exceptions.UnsupportedAMQPFieldException:
    return exceptions.UnsupportedAMQPFieldException(
        f"cannot encode {type(value).__name__} value {value!r} as an AMQP field: {reason}"
    )


def _truncated(what: str, needed: int, available: int) -> exceptions.InvalidFrameError:
    return exceptions.InvalidFrameError(
        f"{what} needs {needed} bytes but only {max(available, 0)} remain"
    )


def _cut_short(what: str, encoded: Buffer, offset: int) -> exceptions.InvalidFrameError:
    return exceptions.InvalidFrameError(
        f"{what} starting at byte {offset} is cut short: the data ends at byte {len(encoded)}"
    )


def encode_short_string(pieces: list[bytes], value: str | bytes) -> int:
    """Append ``value`` as a short string (length octet + UTF-8 bytes).

    Returns the number of bytes appended. Raises
    `pika.exceptions.ShortStringTooLong` when the encoded value exceeds 255
    bytes and `pika.exceptions.UnsupportedAMQPFieldException` when it is
    neither `str` nor bytes.

    Args:
        pieces: The list of byte strings to append to.
        value: The string (str is encoded as UTF-8).

    Returns:
        The number of bytes appended.
    """
    encoded = value.encode() if isinstance(value, str) else value
    if not isinstance(encoded, (bytes, bytearray)):
        raise _unsupported(value, "a short string must be str or bytes")
    length = len(encoded)
    if length > 255:
        raise exceptions.ShortStringTooLong(
            f"short string of {length} bytes exceeds the 255-byte limit: {encoded[:40]!r}..."
        )
    pieces.append(_OCTETS[length] + encoded)
    return length + 1


def encode_table(pieces: list[bytes], table: Optional[Mapping[Any, Any]]) -> int:
    """Append ``table`` as a field table; `None` encodes as an empty table.

    Keys must be `str` (or bytes) of at most 255 bytes. Returns the number of
    bytes appended, including the 4-byte length.

    Args:
        pieces: The list of byte strings to append to.
        table: The table; None for an empty one.

    Returns:
        The number of bytes appended.

    Raises:
        ShortStringTooLong: A key is longer than 255 bytes.
        UnsupportedAMQPFieldException: A value has no AMQP field type.
    """
    if not table:
        pieces.append(b"\x00\x00\x00\x00")
        return 4
    length_index = len(pieces)
    pieces.append(b"")
    size = 0
    encoders = _ENCODERS
    for key, value in table.items():
        size += encode_short_string(pieces, key)
        encoder = encoders.get(type(value)) or _encoder_for_subclass(value)
        size += encoder(pieces, value)
    pieces[length_index] = _UINT32.pack(size)
    return size + 4


def encode_value(pieces: list[bytes], value: Any) -> int:
    """Append ``value`` with its type code; returns the number of bytes appended.

    Raises `pika.exceptions.UnsupportedAMQPFieldException` for a value with no
    AMQP field type (see the module documentation for the mapping).

    Args:
        pieces: The list of byte strings to append to.
        value: The value.

    Returns:
        The number of bytes appended.
    """
    encoder = _ENCODERS.get(type(value)) or _encoder_for_subclass(value)
    return encoder(pieces, value)


def _encode_bool(pieces: list[bytes], value: bool) -> int:
    pieces.append(b"t\x01" if value else b"t\x00")
    return 2


def _encode_int(pieces: list[bytes], value: int) -> int:
    if _INT32_MIN <= value <= _INT32_MAX:
        pieces.append(_TAGGED_INT32.pack(b"I", value))
        return 5
    if _INT64_MIN <= value <= _INT64_MAX:
        pieces.append(_TAGGED_INT64.pack(b"l", value))
        return 9
    raise _unsupported(value, "integers are limited to the signed 64-bit range")


def _encode_float(pieces: list[bytes], value: float) -> int:
    pieces.append(_TAGGED_DOUBLE.pack(b"d", value))
    return 9


def _encode_decimal(pieces: list[bytes], value: decimal.Decimal) -> int:
    """Encode as scale and mantissa with the value's own exponent.

    Trailing zeros of the mantissa are dropped only as far as needed to fit
    32 bits, so the encoded value always equals ``value``.
    """
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise _unsupported(value, "infinities and NaNs have no decimal encoding")
    unscaled = int("".join(map(str, digits)))
    if exponent > 0:
        unscaled *= 10**exponent
        exponent = 0
    if sign:
        unscaled = -unscaled
    scale = -exponent
    while scale and unscaled % 10 == 0 and not _INT32_MIN <= unscaled <= _INT32_MAX:
        unscaled //= 10
        scale -= 1
    if scale > 255 or not _INT32_MIN <= unscaled <= _INT32_MAX:
        raise _unsupported(
            value, "a decimal needs at most 255 fractional digits and a 32-bit signed mantissa"
        )
    pieces.append(_TAGGED_DECIMAL.pack(b"D", scale, unscaled))
    return 6


def _encode_str(pieces: list[bytes], value: str) -> int:
    encoded = value.encode()
    pieces.append(_TAGGED_UINT32.pack(b"S", len(encoded)))
    pieces.append(encoded)
    return 5 + len(encoded)


def _encode_bytes(pieces: list[bytes], value: bytes) -> int:
    pieces.append(_TAGGED_UINT32.pack(b"x", len(value)))
    pieces.append(bytes(value))
    return 5 + len(value)


def _encode_datetime(pieces: list[bytes], value: datetime.datetime) -> int:
    seconds = calendar.timegm(value.utctimetuple())
    if seconds < 0:
        raise _unsupported(value, "timestamps before 1970-01-01 UTC cannot be encoded")
    pieces.append(_TAGGED_UINT64.pack(b"T", seconds))
    return 9


def _encode_table_value(pieces: list[bytes], value: Mapping[Any, Any]) -> int:
    pieces.append(b"F")
    return 1 + encode_table(pieces, value)


def _encode_array(pieces: list[bytes], value: list[Any] | tuple[Any, ...]) -> int:
    length_index = len(pieces)
    pieces.append(b"")
    size = 0
    encoders = _ENCODERS
    for item in value:
        encoder = encoders.get(type(item)) or _encoder_for_subclass(item)
        size += encoder(pieces, item)
    pieces[length_index] = _TAGGED_UINT32.pack(b"A", size)
    return size + 5


def _encode_none(pieces: list[bytes], value: None) -> int:
    pieces.append(b"V")
    return 1


_ENCODERS: dict[type, _Encoder] = {
    bool: _encode_bool,
    int: _encode_int,
    float: _encode_float,
    decimal.Decimal: _encode_decimal,
    str: _encode_str,
    bytes: _encode_bytes,
    bytearray: _encode_bytes,
    datetime.datetime: _encode_datetime,
    dict: _encode_table_value,
    list: _encode_array,
    tuple: _encode_array,
    type(None): _encode_none,
}
"""Encoders by exact type; subclasses go through `_encoder_for_subclass`."""


def _encoder_for_subclass(value: object) -> _Encoder:
    """The encoder for an instance of a subclass of a supported type.

    Order matters: `bool` is an `int`, and `datetime.datetime` is checked
    before anything it might also derive from.
    """
    for base, encoder in (
        (bool, _encode_bool),
        (int, _encode_int),
        (float, _encode_float),
        (decimal.Decimal, _encode_decimal),
        (str, _encode_str),
        ((bytes, bytearray), _encode_bytes),
        (datetime.datetime, _encode_datetime),
        (Mapping, _encode_table_value),
        ((list, tuple), _encode_array),
    ):
        if isinstance(value, base):
            return encoder
    raise _unsupported(value, "no AMQP field type for this Python type")


def decode_short_string(encoded: Buffer, offset: int) -> tuple[str | bytes, int]:
    """Decode a short string at ``offset``: `str` if valid UTF-8, else `bytes`.

    Args:
        encoded: The buffer.
        offset: Where the length octet is.

    Returns:
        ``(value, offset past it)``.

    Raises:
        InvalidFrameError: The buffer ends inside the string.
    """
    if not isinstance(encoded, bytes):
        encoded = bytes(encoded)
    try:
        length = encoded[offset]
    except IndexError:
        raise _truncated("short string length", 1, len(encoded) - offset) from None
    start = offset + 1
    end = start + length
    if end > len(encoded):
        raise _truncated("short string", length, len(encoded) - start)
    raw = encoded[start:end]
    try:
        return raw.decode(), end
    except UnicodeDecodeError:
        return raw, end


def decode_table(encoded: Buffer, offset: int) -> tuple[dict[str | bytes, Any], int]:
    """Decode the field table at ``offset``.

    Keys are `str` (or `bytes` when not valid UTF-8).

    Args:
        encoded: The buffer.
        offset: Where the table's 4-byte length is.

    Returns:
        ``(table, offset past it)``.

    Raises:
        InvalidFrameError: The table is truncated or malformed.
        InvalidFieldTypeException: A value has an unknown type code.
    """
    if not isinstance(encoded, bytes):
        encoded = bytes(encoded)
    try:
        return _decode_table(encoded, offset, 0)
    except (struct.error, IndexError):
        raise _cut_short("field table", encoded, offset) from None


def decode_value(encoded: Buffer, offset: int) -> tuple[Any, int]:
    """Decode the type code at ``offset`` and the value that follows it.

    Args:
        encoded: The buffer.
        offset: Where the type code is.

    Returns:
        ``(value, offset past it)``.

    Raises:
        InvalidFrameError: The value is truncated or malformed.
        InvalidFieldTypeException: The type code is unknown.
    """
    if not isinstance(encoded, bytes):
        encoded = bytes(encoded)
    try:
        return _DECODERS[encoded[offset]](encoded, offset + 1, 0)
    except (struct.error, IndexError):
        raise _cut_short("field value", encoded, offset) from None


def _region_end(encoded: bytes, offset: int, what: str) -> int:
    """End of the region whose 32-bit byte length is at ``offset``.

    Raises `InvalidFrameError` when the region would run past the data.
    """
    end = offset + 4 + _UINT32.unpack_from(encoded, offset)[0]
    if end > len(encoded):
        raise exceptions.InvalidFrameError(
            f"{what} at byte {offset} declares {end - offset - 4} bytes"
            f" but only {max(len(encoded) - offset - 4, 0)} remain"
        )
    return end


def _too_deep() -> exceptions.InvalidFrameError:
    return exceptions.InvalidFrameError(
        f"field tables and arrays nested more than {MAX_NESTING_DEPTH} deep"
    )


def _misaligned(what: str, offset: int, end: int) -> exceptions.InvalidFrameError:
    return exceptions.InvalidFrameError(
        f"{what} contents end at byte {offset}, not at the declared end {end}"
    )


def _decode_table(encoded: bytes, offset: int, depth: int) -> tuple[dict[str | bytes, Any], int]:
    if depth > MAX_NESTING_DEPTH:
        raise _too_deep()
    end = _region_end(encoded, offset, "field table")
    offset += 4
    table: dict[str | bytes, Any] = {}
    decoders = _DECODERS
    depth += 1
    while offset < end:
        key_start = offset + 1
        offset = key_start + encoded[offset]
        raw = encoded[key_start:offset]
        try:
            key: str | bytes = raw.decode()
        except UnicodeDecodeError:
            key = raw
        table[key], offset = decoders[encoded[offset]](encoded, offset + 1, depth)
    if offset != end:
        raise _misaligned("field table", offset, end)
    return table, offset


def _decode_array(encoded: bytes, offset: int, depth: int) -> tuple[list[Any], int]:
    if depth > MAX_NESTING_DEPTH:
        raise _too_deep()
    end = _region_end(encoded, offset, "field array")
    offset += 4
    items: list[Any] = []
    decoders = _DECODERS
    depth += 1
    while offset < end:
        item, offset = decoders[encoded[offset]](encoded, offset + 1, depth)
        items.append(item)
    if offset != end:
        raise _misaligned("field array", offset, end)
    return items, offset


def _decode_bool(encoded: bytes, offset: int, depth: int) -> tuple[bool, int]:
    return encoded[offset] != 0, offset + 1


def _fixed_size_decoder(fmt: str) -> _Decoder:
    """A decoder for one fixed-size number in ``struct`` format ``fmt``."""
    unpack_from = struct.Struct(fmt).unpack_from
    size = struct.calcsize(fmt)

    def decode(encoded: bytes, offset: int, depth: int) -> tuple[Any, int]:
        return unpack_from(encoded, offset)[0], offset + size

    return decode


def _decode_decimal(encoded: bytes, offset: int, depth: int) -> tuple[decimal.Decimal, int]:
    scale, unscaled = _DECIMAL.unpack_from(encoded, offset)
    return decimal.Decimal(unscaled).scaleb(-scale), offset + 5


def _decode_long_string(encoded: bytes, offset: int, depth: int) -> tuple[str | bytes, int]:
    end = _region_end(encoded, offset, "long string")
    raw = encoded[offset + 4 : end]
    try:
        return raw.decode(), end
    except UnicodeDecodeError:
        return raw, end


def _decode_byte_array(encoded: bytes, offset: int, depth: int) -> tuple[bytes, int]:
    end = _region_end(encoded, offset, "byte array")
    return encoded[offset + 4 : end], end


def _decode_timestamp(encoded: bytes, offset: int, depth: int) -> tuple[datetime.datetime, int]:
    (seconds,) = _UINT64.unpack_from(encoded, offset)
    try:
        return _EPOCH + datetime.timedelta(seconds=seconds), offset + 8
    except OverflowError:
        raise exceptions.InvalidFrameError(
            f"timestamp {seconds} is beyond what datetime can represent"
        ) from None


def _decode_void(encoded: bytes, offset: int, depth: int) -> tuple[None, int]:
    return None, offset


def _decode_unknown(encoded: bytes, offset: int, depth: int) -> tuple[Any, int]:
    code = encoded[offset - 1]
    raise exceptions.InvalidFieldTypeException(
        f"unknown field type code {bytes((code,))!r} at byte {offset - 1}"
    )


def _build_decoders() -> list[_Decoder]:
    decoders: list[_Decoder] = [_decode_unknown] * 256
    for code, decoder in (
        ("t", _decode_bool),
        ("b", _fixed_size_decoder(">b")),
        ("B", _fixed_size_decoder(">B")),
        ("s", _fixed_size_decoder(">h")),
        ("u", _fixed_size_decoder(">H")),
        ("I", _fixed_size_decoder(">i")),
        ("i", _fixed_size_decoder(">I")),
        ("l", _fixed_size_decoder(">q")),
        ("f", _fixed_size_decoder(">f")),
        ("d", _fixed_size_decoder(">d")),
        ("D", _decode_decimal),
        ("S", _decode_long_string),
        ("x", _decode_byte_array),
        ("A", _decode_array),
        ("T", _decode_timestamp),
        ("F", _decode_table),
        ("V", _decode_void),
    ):
        decoders[ord(code)] = decoder
    return decoders


_DECODERS = _build_decoders()
"""Value decoders indexed by type code octet."""
