"""The channel surfaces against the operations table and Pika's interface.

``tests/data/pika-interface.txt`` is a copy of the names and signatures of
Pika's public interface (facts, the compatibility target). Every method it
lists for a channel surface must exist here with the same parameter names,
order and defaults; the operations generated from `pika.operations` must
match the table on every surface, including where Pika's interface has no
such method (the thread-safe channel's ``tx_*`` and ``basic_recover``).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pika import operations
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.thread_safe_connection import Channel as ThreadSafeChannel
from pika.aio import Channel as AioChannel
from pika.channel import Channel

INTERFACE = Path(__file__).resolve().parent.parent / "data" / "pika-interface.txt"

twisted_connection = pytest.importorskip("pika.adapters.twisted_connection")

SURFACES = {
    ("pika.channel", "Channel"): ("callback", Channel),
    ("pika.adapters.blocking_connection", "BlockingChannel"): ("blocking", BlockingChannel),
    ("pika.adapters.thread_safe_connection", "Channel"): ("thread_safe", ThreadSafeChannel),
    ("pika.adapters.twisted_connection", "TwistedChannel"): (
        "twisted",
        twisted_connection.TwistedChannel,
    ),
}

#: Every surface generated from the table: those of Pika's interface, and
#: `pika.aio`'s channel (not in Pika; it mirrors `BlockingChannel`).
GENERATED = {**dict(SURFACES.values()), "aio": AioChannel}

#: Extra trailing parameter of each surface's generated methods.
EXTRA = {
    "callback": ["callback"],
    "blocking": [],
    "thread_safe": ["timeout"],
    "twisted": [],
    "aio": [],
}

_DEF = re.compile(r"^    def (\w+)\(self(?:, )?(.*)\)(?: -> .*)?$")


def _split_params(text: str) -> list[tuple[str, str | None]]:
    """``name: 'type' = default`` items of an interface line: (name, default text)."""
    params: list[tuple[str, str | None]] = []
    depth = 0
    current = ""
    for char in text + ",":
        if char in "([<{":
            depth += 1
        elif char in ")]>}":
            depth -= 1
        if char == "," and depth == 0:
            item = current.strip()
            current = ""
            if not item or item.startswith("*"):
                continue
            name, _, default = item.partition(" = ") if " = " in item else (item, "", "")
            if "=" in name and " = " not in item:
                name, _, default = item.partition("=")
            params.append((name.split(":")[0].strip(), default.strip() or None))
            continue
        current += char
    return params


def _interface_methods() -> dict[tuple[str, str], dict[str, list[tuple[str, str | None]]]]:
    classes: dict[tuple[str, str], dict[str, list[tuple[str, str | None]]]] = {}
    module = ""
    current: dict[str, list[tuple[str, str | None]]] | None = None
    for line in INTERFACE.read_text().splitlines():
        if line.startswith("## "):
            module = line[3:].strip()
            current = None
        elif line.startswith("class "):
            name = line[6:].split("(")[0]
            current = classes.setdefault((module, name), {}) if (module, name) in SURFACES else None
        elif current is not None:
            match = _DEF.match(line)
            if match and not match.group(1).startswith("__"):
                current[match.group(1)] = _split_params(match.group(2))
    return classes


def _ours(method: object) -> list[tuple[str, str | None]]:
    params = list(inspect.signature(method).parameters.values())[1:]  # type: ignore[arg-type]
    return [
        (p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
        for p in params
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


INTERFACE_METHODS = _interface_methods()


def test_the_interface_copy_lists_every_surface() -> None:
    assert set(INTERFACE_METHODS) == set(SURFACES)
    assert all(len(methods) > 15 for methods in INTERFACE_METHODS.values())


@pytest.mark.parametrize(
    ("where", "method"),
    [(where, name) for where, methods in INTERFACE_METHODS.items() for name in methods],
    ids=lambda value: value if isinstance(value, str) else ".".join(value),
)
def test_each_interface_method_has_pikas_parameters_and_defaults(
    where: tuple[str, str], method: str
) -> None:
    _surface, cls = SURFACES[where]
    assert hasattr(cls, method), f"{where[1]}.{method} is missing"
    expected = INTERFACE_METHODS[where][method]
    ours = _ours(getattr(cls, method))
    assert [name for name, _ in ours[: len(expected)]] == [name for name, _ in expected]
    for (name, default), (_, our_default) in zip(expected, ours):
        assert our_default == default, f"{where[1]}.{method}({name}=...)"
    # Parameters beyond Pika's are ours, and optional.
    assert all(default is not None for _, default in ours[len(expected) :])


@pytest.mark.parametrize("operation", operations.OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("surface", list(GENERATED))
def test_every_surface_has_every_operation_of_the_table(
    operation: operations.Operation, surface: str
) -> None:
    cls = GENERATED[surface]
    ours = _ours(getattr(cls, operation.name))
    names = [param.name for param in operation.params] + EXTRA[surface]
    assert [name for name, _ in ours] == names
    for param, (_, default) in zip(operation.params, ours):
        declared = param.default_for(surface)
        assert (default is None) == (declared == operations.REQUIRED)
    assert getattr(cls, operation.name).__doc__


@pytest.mark.parametrize(
    ("operation", "surface"),
    [
        (operation, surface)
        for operation in operations.OWN_OPERATIONS
        for surface in operation.returns
    ],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_a_surfaces_own_operation_has_the_tables_signature(
    operation: operations.OwnOperation, surface: str
) -> None:
    # Generated from the table, not overridden by a hand-written method of the surface.
    cls = GENERATED[surface]
    method = getattr(cls, operation.name)
    assert method.__qualname__.split(".")[0].endswith("Operations")
    declared = operation.params_of(surface)
    assert [name for name, _ in _ours(method)] == [param.name for param in declared]
    for param, (_, default) in zip(declared, _ours(method)):
        assert default == (None if param.default == operations.REQUIRED else param.default)
    assert method.__doc__


#: `BlockingChannel` methods that `pika.aio.Channel` has as coroutines, with
#: the same parameters and defaults (its `consume` is an async iterator).
AIO_FROM_BLOCKING = [
    "basic_ack",
    "basic_cancel",
    "basic_consume",
    "basic_get",
    "basic_nack",
    "basic_publish",
    "basic_qos",
    "basic_recover",
    "basic_reject",
    "close",
    "confirm_delivery",
    "exchange_bind",
    "exchange_declare",
    "exchange_delete",
    "exchange_unbind",
    "flow",
    "queue_bind",
    "queue_declare",
    "queue_delete",
    "queue_purge",
    "queue_unbind",
    "tx_commit",
    "tx_rollback",
    "tx_select",
]


@pytest.mark.parametrize("method", [*AIO_FROM_BLOCKING, "consume"])
def test_the_aio_channel_mirrors_blocking_channel(method: str) -> None:
    expected = INTERFACE_METHODS[("pika.adapters.blocking_connection", "BlockingChannel")][method]
    ours = getattr(AioChannel, method)
    assert _ours(ours) == expected
    assert inspect.iscoroutinefunction(ours) == (method != "consume")
    assert ours.__doc__


@pytest.mark.parametrize("generator", ["generate_surfaces.py", "generate_registrations.py"])
def test_the_generated_surfaces_match_the_table(generator: str) -> None:
    script = Path(__file__).resolve().parents[2] / "codegen" / generator
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
