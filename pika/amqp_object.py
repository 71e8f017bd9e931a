"""Base classes of the AMQP objects: protocol classes, methods and content properties.

The concrete classes are generated into `pika.spec`. They keep their fields in
``__slots__`` (one slot per AMQP argument or property, in protocol order), so
the bases here declare empty or private slots only and read an object's public
state from the slots of its class hierarchy, plus ``__dict__`` for subclasses
written without ``__slots__`` (such as the frame classes).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

from pika import exceptions

Buffer = Union[bytes, bytearray, memoryview]
"""What a decoder accepts."""

_INTEGER_LIMITS = {
    "octet": 0xFF,
    "short": 0xFFFF,
    "long": 0xFFFFFFFF,
    "longlong": 0xFFFFFFFFFFFFFFFF,
    "timestamp": 0xFFFFFFFFFFFFFFFF,
}
"""Largest value of each unsigned AMQP integer type."""

_FLAG_WORD = struct.Struct(">H")


def _public_slots(cls: type) -> tuple[str, ...]:
    """Names of the public slots of ``cls`` and its bases, base classes first."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names.extend(name for name in slots if not name.startswith("_"))
    return tuple(names)


class AMQPObject:
    """Common base: a readable ``repr`` and equality by class and field values.

    Generated subclasses also list ``_FIELD_TYPES``, the AMQP type of each
    field, which the error paths of their codecs use to name the culprit.
    """

    __slots__ = ()

    NAME: ClassVar[str] = "AMQPObject"
    INDEX: ClassVar[Optional[int]] = None
    _FIELD_TYPES: ClassVar[tuple[tuple[str, str], ...]] = ()
    _NONE_MEANS_ABSENT: ClassVar[bool] = False

    def _fields(self) -> list[tuple[str, Any]]:
        """The public fields that are set, as ``(name, value)`` in declaration order."""
        fields: list[tuple[str, Any]] = []
        for name in _public_slots(type(self)):
            try:
                fields.append((name, getattr(self, name)))
            except AttributeError:
                continue
        instance_dict = getattr(self, "__dict__", None)
        if instance_dict:
            fields.extend(
                (name, value) for name, value in instance_dict.items() if not name.startswith("_")
            )
        return fields

    def __repr__(self) -> str:
        fields = self._fields()
        if not fields:
            return f"<{self.NAME}>"
        return f"<{self.NAME}({[f'{name}={value}' for name, value in fields]!r})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AMQPObject):
            return NotImplemented
        return type(self) is type(other) and self._fields() == other._fields()

    def _encoding_error(self, error: Exception) -> Exception:
        """The error to raise after encoding failed with ``error``.

        It names the first field whose value cannot be encoded: a short string
        over 255 bytes gives `pika.exceptions.ShortStringTooLong`, a
        non-integer `TypeError`, an integer out of its type's range
        `ValueError`. `None` is an absent value where ``_NONE_MEANS_ABSENT``
        (properties) and a missing one elsewhere (method arguments). When no
        field explains the failure, ``error`` itself is returned.
        """
        for name, amqp_type in self._FIELD_TYPES:
            value = getattr(self, name)
            limit = _INTEGER_LIMITS.get(amqp_type)
            if value is None:
                if limit is not None and not self._NONE_MEANS_ABSENT:
                    return TypeError(f"{self.NAME}.{name} must be an int, not None")
            elif amqp_type == "shortstr" and isinstance(value, (str, bytes, bytearray)):
                size = len(value.encode() if isinstance(value, str) else value)
                if size > 255:
                    return exceptions.ShortStringTooLong(
                        f"{self.NAME}.{name} is {size} bytes long; a short string holds at most 255"
                    )
            elif limit is not None:
                if not isinstance(value, int):
                    return TypeError(
                        f"{self.NAME}.{name} must be an int, not {type(value).__name__}"
                    )
                if not 0 <= value <= limit:
                    return ValueError(
                        f"{self.NAME}.{name}={value} is outside the range of an AMQP {amqp_type}"
                        f" (0..{limit})"
                    )
        return error

    def _decoding_error(self, encoded: Buffer) -> exceptions.InvalidFrameError:
        """The error for encoded fields that run past the end of ``encoded``."""
        return exceptions.InvalidFrameError(
            f"{self.NAME} runs past the end of its {len(encoded)}-byte payload"
        )


class Class(AMQPObject):
    """An AMQP class: a namespace holding its methods (``Basic.Publish``, ...)."""

    __slots__ = ()

    NAME: ClassVar[str] = "Unextended Class"


class Properties(AMQPObject):
    """The properties a content header carries for one AMQP class; `None` means absent.

    A property whose slot was never set reads as `None` too: the engine
    gives a message without properties a bare ``cls.__new__(cls)`` instead
    of running ``__init__`` for every one of them. The first such read sets
    every unset slot to `None`, so later reads are plain slot reads.
    """

    __slots__ = ()

    NAME: ClassVar[str] = "Unextended Properties"
    _NONE_MEANS_ABSENT: ClassVar[bool] = True

    if not TYPE_CHECKING:  # a type checker keeps rejecting unknown attributes

        def __getattr__(self, name: str) -> Any:
            # Reached only when the normal lookup failed: an unset slot, or
            # a name that is no property at all.
            names = _public_slots(type(self))
            if name not in names:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            for slot in names:
                try:
                    object.__getattribute__(self, slot)
                except AttributeError:
                    object.__setattr__(self, slot, None)
            return None

    @staticmethod
    def _skip_flag_words(encoded: Buffer, offset: int, flags: int, undefined: int) -> int:
        """Check the property flags outside the ``undefined`` mask of the first word.

        Returns the offset past any continuation words. A set bit 0 announces
        another 16-bit flag word; such words may only repeat that bit, since
        no property exists beyond the defined ones.
        """
        while True:
            if flags & undefined & 0xFFFE:
                raise exceptions.InvalidFrameError(
                    f"content header sets undefined property flags {flags & undefined:#06x}"
                )
            if not flags & 1:
                return offset
            (flags,) = _FLAG_WORD.unpack_from(encoded, offset)
            offset += 2
            undefined = 0xFFFF


class Method(AMQPObject):
    """An AMQP method with its arguments.

    Class attributes set by each generated method:

    - ``synchronous``: the sender waits for a reply (see ``spec.REPLIES``).
    - ``CONTENT``: a content header and body frames follow the method frame.

    A method that carries content gets its properties and body attached by
    `_set_content` once the whole message has been assembled.
    """

    __slots__ = ("_body", "_properties")

    NAME: ClassVar[str] = "Unextended Method"
    INDEX: ClassVar[int] = 0
    synchronous: ClassVar[bool] = False
    CONTENT: ClassVar[bool] = False

    def encode(self) -> list[bytes]:
        """Encode the arguments (not the class/method index) as byte pieces.

        This base implementation serves methods without arguments; generated
        methods with arguments override it.

        Returns:
            The encoded arguments, as a list of byte strings.
        """
        return []

    def decode(self, encoded: Buffer, offset: int = 0) -> Method:
        """Set the arguments from ``encoded[offset:]``; returns ``self``.

        This base implementation serves methods without arguments; generated
        methods with arguments override it.

        Args:
            encoded: The buffer holding the arguments.
            offset: Where they start.

        Returns:
            ``self``.
        """
        return self

    def _set_content(self, properties: Properties, body: bytes) -> None:
        """Attach the content that arrived with (or will be sent with) this method."""
        self._properties = properties
        self._body = body

    def _attached(self, slot: str, what: str) -> Any:
        try:
            return getattr(self, slot)
        except AttributeError:
            raise AttributeError(f"{self.NAME} has no content {what} attached") from None

    def get_properties(self) -> Properties:
        """The content properties attached by `_set_content`.

        Raises `AttributeError` when no content has been attached.

        Returns:
            The `pika.spec.BasicProperties`.
        """
        properties: Properties = self._attached("_properties", "properties")
        return properties

    def get_body(self) -> bytes:
        """The content body attached by `_set_content`.

        Raises `AttributeError` when no content has been attached.

        Returns:
            The body bytes.
        """
        body: bytes = self._attached("_body", "body")
        return body
