"""Generate ``pika/spec.py`` (and ``pika/spec08.py``) from RabbitMQ's AMQP protocol definitions.

Usage::

    python codegen/generate_spec.py            # rewrite pika/spec.py
    python codegen/generate_spec.py --check    # exit 1 if pika/spec.py is stale
    python codegen/generate_spec.py --output PATH
    python codegen/generate_spec.py --protocol 0-8   # pika/spec08.py instead

The input is ``codegen/amqp-rabbitmq-0.9.1.json`` (``--protocol 0-8``:
``codegen/amqp-rabbitmq-0.8.json``, into a module of its own): the protocol's constants,
domains, classes, methods and content properties, RabbitMQ's extensions
included. The output is straight-line code, one encoder and one decoder per
method, with runs of fixed-size fields packed by one precompiled
`struct.Struct` each, because method and property codecs run once per message.

Where Pika's public interface (the compatibility target) differs from the
JSON, the interface wins; each such case is listed in a table below.
"""

from __future__ import annotations

import argparse
import json
import keyword
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from spec_docs import class_docstring

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    """One protocol version: its definition, its module, and where Pika's
    interface overrides the definition's constants."""

    source: Path
    target: Path
    constant_overrides: dict[str, int]
    regenerate: str


PROFILES = {
    "0-9-1": Profile(
        ROOT / "codegen" / "amqp-rabbitmq-0.9.1.json",
        ROOT / "pika" / "spec.py",
        # Pika's interface says 8192 where the JSON says 4096.
        {"FRAME_MIN_SIZE": 8192},
        "python codegen/generate_spec.py",
    ),
    "0-8": Profile(
        ROOT / "codegen" / "amqp-rabbitmq-0.8.json",
        ROOT / "pika" / "spec08.py",
        {},
        "python codegen/generate_spec.py --protocol 0-8",
    ),
}
"""The protocol versions this generator writes a module for, by name."""

FIELD_RENAMES = {"global": "global_qos"}
"""AMQP field names that are Python keywords, and the names Pika gives them."""

EXTRA_CONSTANTS: tuple[tuple[str, str, str], ...] = (
    ("FRAME_MAX_SIZE", "131072", "Largest frame size this client proposes (128 KiB)."),
    ("FRAME_HEADER_SIZE", "7", "Frame type octet, channel short and payload size long."),
    ("FRAME_END_SIZE", "1", "The frame-end octet."),
    ("TRANSIENT_DELIVERY_MODE", "1", "``delivery_mode`` of a message kept in memory only."),
    ("PERSISTENT_DELIVERY_MODE", "2", "``delivery_mode`` of a message written to disk."),
)
"""Constants of Pika's ``spec`` module that the JSON does not define."""

EXTRA_REPLIES = {("basic", "get"): ("get-empty",), ("connection", "open"): ("redirect",)}
"""Replies to a synchronous method besides its ``-ok`` method, where the
protocol has them (0-8's Connection.Open may be answered with Redirect)."""

STRUCT_CODES = {
    "octet": "B",
    "short": "H",
    "long": "I",
    "longlong": "Q",
    "timestamp": "Q",
}
"""`struct` codes of the fixed-size AMQP types (network byte order)."""

PYTHON_TYPES = {
    "bit": "bool",
    "octet": "int",
    "short": "int",
    "long": "int",
    "longlong": "int",
    "timestamp": "int",
    "shortstr": "str | bytes",
    "longstr": "str | bytes",
    "table": "dict[Any, Any]",
}
"""Annotation of each AMQP type in a constructor (before ``| None`` for
arguments that default to `None`, as in Pika's interface)."""

DECODED_TYPES = dict(PYTHON_TYPES, shortstr="str", longstr="bytes")
"""Annotation of each method attribute: what decoding a received method sets.

A decoded method has every argument, so none is optional. Short strings
decode to `str`; one that is not valid UTF-8 stays `bytes` at run time, as
in Pika (names RabbitMQ generates and validates always decode). Long strings
decode to `bytes`. A method the application constructs holds what it was
given, `None` defaults included, until it is encoded."""


@dataclass(frozen=True)
class Field:
    """One method argument or content property."""

    name: str
    amqp_type: str
    default: Any

    @property
    def annotation(self) -> str:
        """The constructor parameter's annotation."""
        base = PYTHON_TYPES[self.amqp_type]
        return f"{base} | None" if self.default is None else base

    @property
    def decoded_annotation(self) -> str:
        """The attribute's annotation (see `DECODED_TYPES`)."""
        return DECODED_TYPES[self.amqp_type]


@dataclass(frozen=True)
class MethodDef:
    """One method of the protocol."""

    class_name: str
    class_id: int
    name: str
    method_id: int
    fields: tuple[Field, ...]
    synchronous: bool
    content: bool
    amqp_name: str

    @property
    def index(self) -> int:
        return (self.class_id << 16) | self.method_id

    @property
    def qualified_name(self) -> str:
        return f"{self.class_name}.{self.name}"


def camel_case(amqp_name: str) -> str:
    return "".join(part.capitalize() for part in amqp_name.split("-"))


def python_name(amqp_name: str) -> str:
    name = FIELD_RENAMES.get(amqp_name, amqp_name).replace("-", "_")
    if keyword.iskeyword(name):
        raise ValueError(f"field {amqp_name!r} needs an entry in FIELD_RENAMES")
    return name


def literal(value: Any) -> str:
    """Python source for a default value, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def read_fields(arguments: list[dict[str, Any]], domains: dict[str, str]) -> tuple[Field, ...]:
    fields = []
    for argument in arguments:
        amqp_type = argument.get("type") or domains[argument["domain"]]
        # Pika's interface defaults tables to None (sent as an empty table)
        # where the JSON says {}, and arguments without a JSON default to None.
        default = argument.get("default-value")
        if amqp_type == "table":
            default = None
        fields.append(Field(python_name(argument["name"]), amqp_type, default))
    return tuple(fields)


# ---------------------------------------------------------------- code building


class StructRegistry:
    """The module-level `struct` pack/unpack functions the generated code uses."""

    def __init__(self) -> None:
        self.pack: set[str] = set()
        self.unpack: set[str] = set()

    def packer(self, codes: str) -> str:
        self.pack.add(codes)
        return f"_PACK_{codes}"

    def unpacker(self, codes: str) -> str:
        self.unpack.add(codes)
        return f"_UNPACK_{codes}"

    def lines(self) -> list[str]:
        lines = []
        for codes in sorted(self.pack | self.unpack):
            lines.append(f'_{codes} = struct.Struct(">{codes}")')
        for codes in sorted(self.pack):
            lines.append(f"_PACK_{codes} = _{codes}.pack")
        for codes in sorted(self.unpack):
            lines.append(f"_UNPACK_{codes} = _{codes}.unpack_from")
        return lines


def bit_groups(fields: tuple[Field, ...]) -> list[tuple[str, Any]]:
    """The fields as encoding steps: consecutive bits become one octet step.

    Each step is ``(kind, payload)``: ``("bits", [fields])`` or
    ``(amqp_type, field)``.
    """
    steps: list[tuple[str, Any]] = []
    for field in fields:
        if field.amqp_type == "bit":
            if steps and steps[-1][0] == "bits" and len(steps[-1][1]) < 8:
                steps[-1][1].append(field)
            else:
                steps.append(("bits", [field]))
        else:
            steps.append((field.amqp_type, field))
    return steps


def bits_lines(variable: str, fields: list[Field]) -> list[str]:
    """Lines packing the bit ``fields`` into the octet ``variable``, first field lowest."""
    terms = [f"({1 << bit} if self.{field.name} else 0)" for bit, field in enumerate(fields)]
    if len(terms) == 1:
        return [f"{variable} = {terms[0]}"]
    return [f"{variable} = (", f"    {terms[0]}", *(f"    | {term}" for term in terms[1:]), ")"]


def string_locals(fields: tuple[Field, ...], qualified: str) -> list[str]:
    """Lines binding each string field to a local holding its bytes."""
    lines = []
    for field in fields:
        if field.amqp_type not in ("shortstr", "longstr"):
            continue
        # Typed as what the application may have set, not as decoded.
        lines.append(f"{field.name}: str | bytes | None = self.{field.name}")
        lines.append(f"if isinstance({field.name}, str):")
        lines.append(f"    {field.name} = {field.name}.encode()")
        lines.append(f"elif {field.name} is None:")
        lines.append(
            f'    raise TypeError("{qualified}.{field.name} must be str or bytes, not None")'
        )
    return lines


def method_encoder(method: MethodDef, structs: StructRegistry) -> list[str]:
    """The body of ``encode`` for a method with arguments."""
    segments: list[Any] = [[]]
    run: list[tuple[str, str, bool]] = []

    def flush() -> None:
        if not run:
            return
        if len(run) == 1 and run[0][2]:
            segments[-1].append(f"_OCTETS[{run[0][1]}]")
        else:
            codes = "".join(code for code, _, _ in run)
            arguments = ", ".join(expression for _, expression, _ in run)
            segments[-1].append(f"{structs.packer(codes)}({arguments})")
        run.clear()

    bit_octets: list[str] = []
    bit_variables = 0
    for kind, payload in bit_groups(method.fields):
        if kind == "bits":
            bit_variables += 1
            variable = "bits" if bit_variables == 1 else f"bits_{bit_variables}"
            bit_octets.extend(bits_lines(variable, payload))
            run.append(("B", variable, True))
        elif kind == "shortstr":
            run.append(("B", f"len({payload.name})", True))
            flush()
            segments[-1].append(payload.name)
        elif kind == "longstr":
            run.append(("I", f"len({payload.name})", False))
            flush()
            segments[-1].append(payload.name)
        elif kind == "table":
            flush()
            segments.append(payload)
            segments.append([])
        else:
            run.append((STRUCT_CODES[kind], f"self.{payload.name}", False))
    flush()

    body = string_locals(method.fields, method.qualified_name)
    body.extend(bit_octets)
    body.append("try:")
    if len(segments) == 1:
        body.extend(indent(bracketed("return [", segments[0], "]"), 1))
    else:
        body.extend(indent(bracketed("pieces: list[bytes] = [", segments[0], "]"), 1))
        for segment in segments[1:]:
            if isinstance(segment, Field):
                body.append(f"    data.encode_table(pieces, self.{segment.name})")
            elif len(segment) == 1:
                body.append(f"    pieces.append({segment[0]})")
            elif segment:
                body.extend(indent(bracketed("pieces += (", segment, ")"), 1))
        body.append("    return pieces")
    body.append("except (struct.error, IndexError) as error:")
    body.append("    raise self._encoding_error(error) from None")
    return body


def decode_short_string(target: str, start: str, typed_str: bool) -> list[str]:
    """Lines setting ``target`` from the short string between ``start`` and
    ``end``; ``typed_str`` when ``target`` is annotated `str` only (see
    `DECODED_TYPES`: invalid UTF-8 stays bytes all the same)."""
    keep_raw = f"    {target} = raw"
    if typed_str:
        keep_raw += "  # type: ignore[assignment]"
    return [
        f"raw = encoded[{start}:end]",
        "try:",
        f"    {target} = raw.decode()",
        "except UnicodeDecodeError:",
        keep_raw,
    ]


class Position:
    """Where a generated decoder stands: a variable plus a known number of bytes."""

    def __init__(self) -> None:
        self.variable = "offset"
        self.extra = 0

    def at(self) -> str:
        return f"{self.variable} + {self.extra}" if self.extra else self.variable

    def move_to(self, variable: str) -> None:
        self.variable = variable
        self.extra = 0


def method_decoder(method: MethodDef, structs: StructRegistry) -> list[str]:
    """The body of ``decode`` for a method with arguments.

    Offsets are tracked as a variable plus a constant so that fixed-size runs
    cost no bookkeeping statement; string lengths become the ``end`` variable.
    """
    lines: list[str] = []
    run: list[tuple[str, str]] = []
    bit_assignments: list[str] = []
    position = Position()

    def flush() -> None:
        if not run:
            return
        codes = "".join(code for code, _ in run)
        targets = ", ".join(target for _, target in run)
        if codes == "B":
            lines.append(f"{targets} = encoded[{position.at()}]")
        elif len(run) == 1:
            lines.append(f"{targets} = {structs.unpacker(codes)}(encoded, {position.at()})[0]")
        else:
            lines.append(f"{targets} = {structs.unpacker(codes)}(encoded, {position.at()})")
        position.extra += struct.calcsize(">" + codes)
        lines.extend(bit_assignments)
        bit_assignments.clear()
        run.clear()

    def string_end(length_code: str) -> str:
        """Emit the line computing ``end`` of the string whose length comes next."""
        if not run and length_code == "B":
            length = f"encoded[{position.at()}]"
            position.extra += 1
        else:
            run.append((length_code, "length"))
            flush()
            length = "length"
        start = position.at()
        if position.variable == "end":
            lines.append(f"offset = {start}")
            start = "offset"
        lines.append(f"end = {start} + {length}")
        position.move_to("end")
        return start

    last_kind = ""
    for kind, payload in bit_groups(method.fields):
        last_kind = kind
        if kind == "bits":
            if bit_assignments:
                flush()
            run.append(("B", "bits"))
            bit_assignments.extend(
                f"self.{field.name} = (bits & {1 << bit}) != 0" for bit, field in enumerate(payload)
            )
        elif kind == "shortstr":
            start = string_end("B")
            lines.extend(decode_short_string(f"self.{payload.name}", start, typed_str=True))
        elif kind == "longstr":
            start = string_end("I")
            lines.append(f"self.{payload.name} = encoded[{start}:end]")
        elif kind == "table":
            flush()
            lines.append(
                f"self.{payload.name}, offset = data.decode_table(encoded, {position.at()})"
            )
            position.move_to("offset")
        else:
            run.append((STRUCT_CODES[kind], f"self.{payload.name}"))
    flush()

    body = []
    if any(field.amqp_type in ("shortstr", "longstr") for field in method.fields):
        body.extend(["if not isinstance(encoded, bytes):", "    encoded = bytes(encoded)"])
    body.append("try:")
    body.extend(f"    {line}" for line in lines)
    body.append("except (struct.error, IndexError):")
    body.append("    raise self._decoding_error(encoded) from None")
    if last_kind in ("shortstr", "longstr"):
        body.append("if end > len(encoded):")
        body.append("    raise self._decoding_error(encoded)")
    body.append("return self")
    return body


def indent(lines: list[str], levels: int) -> list[str]:
    prefix = "    " * levels
    return [f"{prefix}{line}" if line else "" for line in lines]


def bracketed(head: str, items: list[str], tail: str, is_tuple: bool = False) -> list[str]:
    """``head`` + items + ``tail`` on one line, or one item per line when long."""
    inline = ", ".join(items) + ("," if is_tuple and len(items) == 1 else "")
    if len(head) + len(inline) + len(tail) <= 76:
        return [f"{head}{inline}{tail}"]
    return [head, *(f"    {item}," for item in items), tail]


def field_lines(fields: tuple[Field, ...]) -> list[str]:
    """``__slots__`` and ``_FIELD_TYPES`` of a class whose fields are ``fields``."""
    lines = bracketed("__slots__ = (", [f'"{field.name}"' for field in fields], ")", True)
    if fields:
        lines.extend(
            bracketed(
                "_FIELD_TYPES: ClassVar[tuple[tuple[str, str], ...]] = (",
                [f'("{field.name}", "{field.amqp_type}")' for field in fields],
                ")",
                True,
            )
        )
    return lines


def init_lines(fields: tuple[Field, ...], decoded_attributes: bool) -> list[str]:
    """``__init__``: Pika's parameters and defaults; ``decoded_attributes``
    when the attributes are annotated with `Field.decoded_annotation`."""
    parameters = [
        f"{field.name}: {field.annotation} = {literal(field.default)}" for field in fields
    ]
    signature = f"def __init__(self, {', '.join(parameters)}) -> None:"
    if len(signature) <= 88:
        lines = [signature]
    else:
        lines = ["def __init__(", "    self,"]
        lines.extend(f"    {parameter}," for parameter in parameters)
        lines.append(") -> None:")
    for field in fields:
        assignment = f"    self.{field.name} = {field.name}"
        if decoded_attributes and field.annotation != field.decoded_annotation:
            # The attribute is typed as decoded; the constructor keeps Pika's defaults.
            assignment += "  # type: ignore[assignment]"
        lines.append(assignment)
    return lines


def method_class(method: MethodDef, structs: StructRegistry) -> list[str]:
    lines = [f"class {method.name}(amqp_object.Method):"]
    summary = f"``{method.amqp_name}``: method {method.method_id} of class {method.class_id}."
    lines.extend(
        class_docstring(summary, [field.name for field in method.fields], method.qualified_name)
    )
    lines.append("")
    lines.append(f"    INDEX = {method.index}")
    lines.append(f'    NAME = "{method.qualified_name}"')
    lines.append(f"    synchronous = {method.synchronous}")
    lines.append(f"    CONTENT = {method.content}")
    lines.extend(indent(field_lines(method.fields), 1))
    if not method.fields:
        return lines
    lines.append("")
    lines.extend(
        indent([f"{field.name}: {field.decoded_annotation}" for field in method.fields], 1)
    )
    lines.append("")
    lines.extend(indent(init_lines(method.fields, decoded_attributes=True), 1))
    lines.append("")
    lines.append("    def encode(self) -> list[bytes]:")
    lines.extend(indent(method_encoder(method, structs), 2))
    lines.append("")
    lines.append(
        "    def decode(self, encoded: amqp_object.Buffer, offset: int = 0)"
        f" -> {method.qualified_name}:"
    )
    lines.extend(indent(method_decoder(method, structs), 2))
    return lines


# ----------------------------------------------------------------- properties


def property_flag(position: int) -> int:
    """Flag bit of the property at ``position``: the first is bit 15."""
    return 1 << (15 - position)


def properties_encoder(fields: tuple[Field, ...], structs: StructRegistry) -> list[str]:
    lines = ['pieces: list[bytes] = [b""]', "flags = 0", "try:"]
    for position, field in enumerate(fields):
        flag = property_flag(position)
        body = [f"flags |= {flag:#06x}"]
        if field.amqp_type == "shortstr":
            body.append(f"if isinstance({field.name}, str):")
            body.append(f"    {field.name} = {field.name}.encode()")
            body.append(f"pieces.append(_OCTETS[len({field.name})])")
            body.append(f"pieces.append({field.name})")
        elif field.amqp_type == "table":
            body.append(f"data.encode_table(pieces, {field.name})")
        else:
            code = STRUCT_CODES[field.amqp_type]
            body.append(f"pieces.append({structs.packer(code)}({field.name}))")
        lines.append(f"    {field.name} = self.{field.name}")
        lines.append(f"    if {field.name} is not None:")
        lines.extend(indent(body, 2))
    lines.append("except (struct.error, IndexError) as error:")
    lines.append("    raise self._encoding_error(error) from None")
    lines.append(f"pieces[0] = {structs.packer('H')}(flags)")
    lines.append("return pieces")
    return lines


def property_decoder(field: Field, structs: StructRegistry) -> list[str]:
    """Lines decoding one present property at ``offset`` and advancing ``offset``."""
    target = f"self.{field.name}"
    if field.amqp_type == "shortstr":
        body = ["end = offset + 1 + encoded[offset]"]
        body.extend(decode_short_string(target, "offset + 1", typed_str=False))
        body.append("offset = end")
        return body
    if field.amqp_type == "table":
        return [f"{target}, offset = data.decode_table(encoded, offset)"]
    code = STRUCT_CODES[field.amqp_type]
    if code == "B":
        body = [f"{target} = encoded[offset]"]
    else:
        body = [f"{target} = {structs.unpacker(code)}(encoded, offset)[0]"]
    body.append(f"offset += {struct.calcsize('>' + code)}")
    return body


def flag_mask(first: int, count: int) -> int:
    mask = 0
    for position in range(first, first + count):
        mask |= property_flag(position)
    return mask


def properties_decoder(fields: tuple[Field, ...], structs: StructRegistry) -> list[str]:
    """The body of ``decode``: every property is first set to `None`, then the
    present ones are decoded behind a tree of flag tests (8 flags, 4, 1), so
    a header with few properties skips most tests."""
    undefined = 0xFFFF & ~flag_mask(0, len(fields))
    lines = [f"self.{field.name} = None" for field in fields]
    lines.extend(
        [
            "try:",
            f"    flags = {structs.unpacker('H')}(encoded, offset)[0]",
            "    if not flags:",
            "        return self",
            "    offset += 2",
            f"    if flags & {undefined:#06x}:",
            f"        offset = self._skip_flag_words(encoded, offset, flags, {undefined:#06x})",
            "    if not isinstance(encoded, bytes):",
            "        encoded = bytes(encoded)",
        ]
    )
    for first_of_byte in range(0, len(fields), 8):
        byte_count = min(8, len(fields) - first_of_byte)
        lines.append(f"    if flags & {flag_mask(first_of_byte, byte_count):#06x}:")
        for first in range(first_of_byte, first_of_byte + byte_count, 4):
            count = min(4, first_of_byte + byte_count - first)
            lines.append(f"        if flags & {flag_mask(first, count):#06x}:")
            for position in range(first, first + count):
                lines.append(f"            if flags & {property_flag(position):#06x}:")
                lines.extend(indent(property_decoder(fields[position], structs), 4))
    lines.append("except (struct.error, IndexError):")
    lines.append("    raise self._decoding_error(encoded) from None")
    lines.append("if offset > len(encoded):")
    lines.append("    raise self._decoding_error(encoded)")
    lines.append("return self")
    return lines


def properties_class(
    class_name: str, class_id: int, fields: tuple[Field, ...], structs: StructRegistry
) -> list[str]:
    if len(fields) > 15:
        raise ValueError("properties needing flag continuation words are not supported")
    unsupported = {field.amqp_type for field in fields} - {"shortstr", "table", *STRUCT_CODES}
    if unsupported:
        raise ValueError(f"no property codec for AMQP types {sorted(unsupported)}")
    name = f"{class_name}Properties"
    lines = [f"class {name}(amqp_object.Properties):"]
    summary = f"Content properties of class ``{class_name.lower()}``; `None` means absent."
    lines.extend(class_docstring(summary, [field.name for field in fields], name))
    lines.append("")
    lines.append(f"    INDEX = {class_id}")
    lines.append(f'    NAME = "{name}"')
    lines.extend(indent(field_lines(fields), 1))
    lines.append("")
    for position, field in enumerate(fields):
        lines.append(f"    FLAG_{field.name.upper()} = {property_flag(position):#06x}")
    lines.append("")
    lines.extend(indent([f"{field.name}: {field.annotation}" for field in fields], 1))
    lines.append("")
    lines.extend(indent(init_lines(fields, decoded_attributes=False), 1))
    lines.append("")
    lines.append("    def encode(self) -> list[bytes]:")
    lines.append('        """Property flags followed by the values of the present properties.')
    lines.append("")
    lines.append("        Returns:")
    lines.append("            The encoded header payload, as a list of byte strings.")
    lines.append('        """')
    lines.extend(indent(properties_encoder(fields, structs), 2))
    lines.append("")
    lines.append(f"    def decode(self, encoded: amqp_object.Buffer, offset: int = 0) -> {name}:")
    lines.append('        """Set every property from ``encoded[offset:]``.')
    lines.append("")
    lines.append("        Args:")
    lines.append("            encoded: The buffer holding the property flags and values.")
    lines.append("            offset: Where they start.")
    lines.append("")
    lines.append("        Returns:")
    lines.append("            ``self``.")
    lines.append('        """')
    lines.extend(indent(properties_decoder(fields, structs), 2))
    return lines


# ------------------------------------------------------------------- module

OCTETS_TABLE = '''
_OCTETS = [bytes((value,)) for value in range(256)]
"""One-byte ``bytes`` for each octet value: length prefixes and bit octets."""
'''


def read_spec(source: Path) -> dict[str, Any]:
    with source.open(encoding="utf-8") as stream:
        spec: dict[str, Any] = json.load(stream)
    return spec


def method_definitions(spec: dict[str, Any]) -> list[MethodDef]:
    domains = {name: amqp_type for name, amqp_type in spec["domains"]}
    methods = []
    for amqp_class in spec["classes"]:
        for method in amqp_class["methods"]:
            methods.append(
                MethodDef(
                    class_name=camel_case(amqp_class["name"]),
                    class_id=amqp_class["id"],
                    name=camel_case(method["name"]),
                    method_id=method["id"],
                    fields=read_fields(method["arguments"], domains),
                    synchronous=bool(method.get("synchronous", False)),
                    content=bool(method.get("content", False)),
                    amqp_name=f"{amqp_class['name']}.{method['name']}",
                )
            )
    return methods


def replies(methods: list[MethodDef]) -> list[tuple[MethodDef, list[str]]]:
    """Each synchronous method with the qualified names of its replies."""
    by_name = {method.amqp_name: method for method in methods}
    result = []
    for method in methods:
        if not method.synchronous:
            continue
        class_name, method_name = method.amqp_name.split(".")
        extras = EXTRA_REPLIES.get((class_name, method_name), ())
        reply_methods = [by_name[f"{class_name}.{method_name}-ok"]]
        reply_methods += [
            by_name[f"{class_name}.{extra}"]
            for extra in extras
            if f"{class_name}.{extra}" in by_name
        ]
        result.append((method, [reply.qualified_name for reply in reply_methods]))
    return result


def constants(spec: dict[str, Any], overrides: dict[str, int]) -> list[str]:
    lines = []
    for constant in spec["constants"]:
        name = constant["name"].replace("-", "_")
        value = overrides.get(name, constant["value"])
        lines.append(f"{name} = {value}")
    lines.append("")
    for name, value, doc in EXTRA_CONSTANTS:
        lines.append(f"{name} = {value}")
        lines.append(f'"""{doc}"""')
    return lines


def render(spec: dict[str, Any], profile: Profile = PROFILES["0-9-1"]) -> str:
    """The complete source of ``profile``'s module for the protocol definition ``spec``."""
    structs = StructRegistry()
    methods = method_definitions(spec)
    domains = {name: amqp_type for name, amqp_type in spec["domains"]}

    class_blocks: list[str] = []
    property_classes: list[tuple[int, str]] = []
    for amqp_class in spec["classes"]:
        class_name = camel_case(amqp_class["name"])
        class_blocks.append("")
        class_blocks.append("")
        class_blocks.append(f"class {class_name}(amqp_object.Class):")
        class_blocks.append(f'    """The ``{amqp_class["name"]}`` class and its methods."""')
        class_blocks.append("")
        class_blocks.append("    __slots__ = ()")
        class_blocks.append("")
        class_blocks.append(f"    INDEX = {amqp_class['id']}")
        class_blocks.append(f'    NAME = "{class_name}"')
        for method in methods:
            if method.class_id == amqp_class["id"]:
                class_blocks.append("")
                class_blocks.extend(indent(method_class(method, structs), 1))
        properties = amqp_class.get("properties")
        if properties:
            fields = read_fields(properties, domains)
            class_blocks.append("")
            class_blocks.append("")
            class_blocks.extend(properties_class(class_name, amqp_class["id"], fields, structs))
            property_classes.append((amqp_class["id"], f"{class_name}Properties"))

    copyright_lines = "".join(spec["copyright"]).rstrip("\n").split("\n")
    out = [
        "# GENERATED by codegen/generate_spec.py, do not edit.",
        f"# Regenerate with `{profile.regenerate}` from",
        f"# codegen/{profile.source.name}, whose notice follows:",
        "#",
    ]
    out.extend(f"# {line}".rstrip() for line in copyright_lines)
    # 0-8 has no revision number.
    version = (spec["major-version"], spec["minor-version"], spec.get("revision", 0))
    out.extend(
        [
            f'"""AMQP {version[0]}-{version[1]}-{version[2]} as RabbitMQ speaks it: '
            "constants, classes, methods and content properties.",
            "",
            "Each method class holds its arguments in ``__slots__``; ``encode()`` returns",
            "the encoded arguments (without the class and method ids) as a list of",
            "``bytes`` and ``decode(buffer, offset)`` sets every argument and returns the",
            "method. Short strings decode to `str`, or to `bytes` when not valid UTF-8;",
            "long strings decode to `bytes`. ``CONTENT`` tells whether a content header",
            "and body follow the method, ``synchronous`` whether the sender awaits a",
            "reply, and `REPLIES` which methods answer each synchronous method.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "import struct",
            "from typing import Any, ClassVar",
            "",
            "from pika import amqp_object, data",
            "",
            f"PROTOCOL_VERSION = {version!r}",
            f"PORT = {spec['port']}",
            "",
        ]
    )
    out.extend(constants(spec, profile.constant_overrides))
    out.append("")
    out.extend(structs.lines())
    out.extend(OCTETS_TABLE.split("\n"))
    out.extend(class_blocks)
    out.append("")
    out.append("")
    out.append("methods: dict[int, type[amqp_object.Method]] = {")
    out.extend(f"    {method.index}: {method.qualified_name}," for method in methods)
    out.append("}")
    out.append(
        '"""Method classes by index (class id in the high 16 bits, method id in the low)."""'
    )
    out.append("")
    out.append("props: dict[int, type[amqp_object.Properties]] = {")
    out.extend(f"    {class_id}: {name}," for class_id, name in property_classes)
    out.append("}")
    out.append('"""Content property classes by class id."""')
    out.append("")
    out.append("REPLIES: dict[type[amqp_object.Method], tuple[type[amqp_object.Method], ...]] = {")
    for method, reply_names in replies(methods):
        out.append(f"    {method.qualified_name}: ({', '.join(reply_names)},),")
    out.append("}")
    out.append(
        '"""The methods that may answer each synchronous method, whichever peer sends it."""'
    )
    out.append("")
    out.append("_CONTENT_METHODS = frozenset((")
    out.extend(f"    {method.index}," for method in methods if method.content)
    out.append("))")
    out.append("")
    out.append("")
    out.append("def has_content(methodNumber: int) -> bool:")
    out.append('    """Whether the method with index ``methodNumber`` carries content.')
    out.append("")
    out.append("    Args:")
    out.append("        methodNumber: The method's index (class id << 16 | method id).")
    out.append("")
    out.append("    Returns:")
    out.append("        True when a content header and body frames follow the method.")
    out.append('    """')
    out.append("    return methodNumber in _CONTENT_METHODS")
    out.append("")
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    parser.add_argument(
        "--protocol", choices=sorted(PROFILES), default="0-9-1", help="protocol version"
    )
    parser.add_argument("--output", type=Path, help="file to write (default: the version's)")
    parser.add_argument("--source", type=Path, help="protocol JSON to read")
    options = parser.parse_args(argv)
    profile = PROFILES[options.protocol]
    options.output = options.output or profile.target
    source = render(read_spec(options.source or profile.source), profile)
    if options.check:
        current = options.output.read_text(encoding="utf-8") if options.output.exists() else ""
        if current != source:
            print(f"{options.output} is out of date; run codegen/generate_spec.py", file=sys.stderr)
            return 1
        return 0
    options.output.write_text(source, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
