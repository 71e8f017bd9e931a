"""Write the channel surfaces' operation methods from `pika.operations`.

Each channel surface gets one generated module holding a mixin class with a
method per operation of the table: the signature (Pika's names, order and
defaults for that surface), the docstring, and a one-line body handing the
call to the surface's own request helper. The surface classes inherit the
mixin; what is really a surface's own (waiting, threads, Deferreds) stays in
its hand-written module.

Usage::

    python codegen/generate_surfaces.py          # rewrite the modules
    python codegen/generate_surfaces.py --check  # exit 1 if any differs

A test runs the check, so the committed modules always match the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pika.operations import (  # noqa: E402
    OPERATIONS,
    OWN_OPERATIONS,
    REQUIRED,
    Operation,
    OwnOperation,
    Param,
)

LINE_LIMIT = 100
INDENT = "    "


@dataclass(frozen=True)
class Surface:
    """How one surface's methods look: its extra parameter, return type and body."""

    key: str
    path: str
    class_name: str
    doc: str
    imports: tuple[str, ...]
    type_checking: tuple[str, ...]
    helper_stub: str
    extra: Param | None
    returns: Callable[[Operation], str]
    body: Callable[[Operation, list[str]], str]
    is_async: bool = False


def _callback_body(operation: Operation, names: list[str]) -> str:
    return _call(f'self._operate("{operation.name}", callback', names, ")")


def _blocking_body(operation: Operation, names: list[str]) -> str:
    prefix = "return " if operation.blocking_returns_reply else ""
    return _call(f"{prefix}self._call(self._impl.{operation.name}", names, ")")


def _thread_safe_body(operation: Operation, names: list[str]) -> str:
    head = f'return self._rpc("{operation.name}", timeout, self._impl.{operation.name}'
    return _call(head, names, ")")


def _twisted_body(operation: Operation, names: list[str]) -> str:
    return _call(f"return self._request(self._impl.{operation.name}", names, ")")


def _aio_body(operation: Operation, names: list[str]) -> str:
    prefix = "return " if operation.blocking_returns_reply else ""
    return _call(f"{prefix}await self._call(self._impl.{operation.name}", names, ")")


def _call(head: str, names: list[str], tail: str) -> str:
    """A call statement, on one line when it fits, else one argument per line.

    ``head`` opens the call with its first arguments (``f(a, b``); ``names``
    follow them.
    """
    indent = INDENT * 2
    one_line = head + "".join(f", {name}" for name in names) + tail
    if len(indent + one_line) <= LINE_LIMIT:
        return indent + one_line
    opening = head.split("(", 1)
    first_args = [part.strip() for part in opening[1].split(",") if part.strip()]
    lines = [indent + opening[0] + "("]
    lines += [indent + INDENT + arg + "," for arg in [*first_args, *names]]
    lines.append(indent + tail)
    return "\n".join(lines)


#: What the surfaces' modules import (the thread-safe one adds its default timeout).
_COMMON_IMPORTS = (
    "from typing import TYPE_CHECKING, Any, Callable, Optional, Union",
    "",
    "from pika.exchange_type import ExchangeType",
)
#: The names the surfaces that wrap a callback `Channel` (``_impl``) annotate with.
_WRAPPED_TYPES = ("from pika import frame, spec", "from pika.channel import Channel")

SURFACES = (
    Surface(
        key="callback",
        path="pika/channel_operations.py",
        class_name="ChannelOperations",
        doc="The callback `pika.channel.Channel`'s request/reply operations.",
        imports=_COMMON_IMPORTS,
        type_checking=("from pika import frame",),
        helper_stub=(
            "def _operate(\n"
            "    self,\n"
            "    name: str,\n"
            "    callback: Optional[Callable[[frame.Method[Any]], Any]],\n"
            "    *args: Any,\n"
            ") -> None: ..."
        ),
        extra=Param("callback", "Optional[Callable[[frame.Method[Any]], Any]]", "None"),
        returns=lambda operation: "None",
        body=_callback_body,
    ),
    Surface(
        key="blocking",
        path="pika/adapters/blocking_operations.py",
        class_name="BlockingOperations",
        doc="`BlockingChannel`'s request/reply operations.",
        imports=_COMMON_IMPORTS,
        type_checking=_WRAPPED_TYPES,
        helper_stub=(
            "_impl: Channel\n\n"
            "def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ..."
        ),
        extra=None,
        returns=lambda operation: operation.reply if operation.blocking_returns_reply else "None",
        body=_blocking_body,
    ),
    Surface(
        key="thread_safe",
        path="pika/adapters/thread_safe_operations.py",
        class_name="ThreadSafeOperations",
        doc="The thread-safe `Channel`'s request/reply operations.",
        imports=(
            "from typing import TYPE_CHECKING, Any, Callable, Optional, Union",
            "",
            "from pika.adapters.thread_safe_calls import DEFAULT_RPC_TIMEOUT",
            "from pika.exchange_type import ExchangeType",
        ),
        type_checking=_WRAPPED_TYPES,
        helper_stub=(
            "_impl: Channel\n\n"
            "def _rpc(\n"
            "    self,\n"
            "    what: str,\n"
            "    timeout: Optional[float],\n"
            "    method: Callable[..., Any],\n"
            "    *args: Any,\n"
            ") -> Any: ..."
        ),
        extra=Param("timeout", "Optional[float]", "DEFAULT_RPC_TIMEOUT"),
        returns=lambda operation: operation.reply,
        body=_thread_safe_body,
    ),
    Surface(
        key="twisted",
        path="pika/adapters/twisted_operations.py",
        class_name="TwistedOperations",
        doc="`TwistedChannel`'s request/reply operations (each returns a Deferred).",
        imports=_COMMON_IMPORTS,
        type_checking=(
            "from twisted.internet import defer",
            "",
            *_WRAPPED_TYPES,
            "from pika.operations import Publication",
        ),
        helper_stub=(
            "_impl: Channel\n\n"
            "def _request(self, operation: Callable[..., Any], *args: Any)"
            " -> defer.Deferred[Any]: ..."
        ),
        extra=None,
        returns=lambda operation: f"defer.Deferred[{operation.reply}]",
        body=_twisted_body,
    ),
    Surface(
        key="aio",
        path="pika/aio/operations.py",
        class_name="AioOperations",
        doc="`pika.aio.Channel`'s request/reply operations (each a coroutine).",
        imports=_COMMON_IMPORTS,
        type_checking=_WRAPPED_TYPES,
        helper_stub=(
            "_impl: Channel\n\n"
            "async def _call(self, method: Callable[..., Any], *args: Any) -> Any: ..."
        ),
        extra=None,
        returns=lambda operation: operation.reply if operation.blocking_returns_reply else "None",
        body=_aio_body,
        is_async=True,
    ),
)


def _docstring(name: str, summary: str, surface: Surface, params: list[Param]) -> list[str]:
    """The docstring lines (without indentation) of the method ``name``
    (``summary`` where `pika.operation_docs` does not document it)."""
    from pika.operation_docs import OPERATION_DOCS

    doc = OPERATION_DOCS.get(name)
    lines = _wrapped(doc.summary if doc is not None else summary, "", "")
    if doc is not None and doc.details:
        lines += ["", *doc.details.splitlines()]
    documented = [param for param in params if doc is not None and param.name in doc.params]
    if documented:
        lines += ["", "Args:"]
        for param in documented:
            assert doc is not None
            lines += _wrapped(f"{param.name}: {doc.params[param.name]}", INDENT, INDENT * 2)
    if doc is not None and surface.key in doc.returns:
        lines += ["", "Returns:", *_wrapped(doc.returns[surface.key], INDENT, INDENT)]
    if doc is not None and doc.raises:
        lines += ["", "Raises:"]
        for name, when in doc.raises.items():
            lines += _wrapped(f"{name}: {when}", INDENT, INDENT * 2)
    return lines


def _wrapped(text: str, first: str, rest: str) -> list[str]:
    """``text`` wrapped to fit a method docstring (indented 8 columns, after quotes)."""
    width = LINE_LIMIT - 11
    lines: list[str] = []
    current = first
    for word in text.split():
        candidate = word if current.strip() == "" else f"{current} {word}"
        if current.strip() and len(candidate) > width:
            lines.append(current)
            current = rest + word
        else:
            current = candidate if current.strip() else current + word
    lines.append(current)
    return lines


def _signature(name: str, surface: Surface, params: list[Param], returns: str) -> list[str]:
    parts = ["self"]
    for param in params:
        default = param.default_for(surface.key)
        parts.append(
            f"{param.name}: {param.annotation}" + ("" if default == REQUIRED else f" = {default}")
        )
    define = "async def" if surface.is_async else "def"
    one_line = f"{INDENT}{define} {name}({', '.join(parts)}) -> {returns}:"
    if len(one_line) <= LINE_LIMIT:
        return [one_line]
    lines = [f"{INDENT}{define} {name}("]
    lines += [f"{INDENT * 2}{part}," for part in parts]
    lines.append(f"{INDENT}) -> {returns}:")
    return lines


def _method(operation: Operation, surface: Surface) -> list[str]:
    params = list(operation.params)
    if surface.extra is not None:
        params.append(surface.extra)
    lines = _signature(operation.name, surface, params, surface.returns(operation))
    lines += _quoted(_docstring(operation.name, operation.summary, surface, params))
    lines.append(surface.body(operation, [param.name for param in operation.params]))
    return lines


def _own_method(operation: OwnOperation, surface: Surface) -> list[str]:
    """``operation`` on ``surface``: its signature and docstring, and a body
    handing every argument to the surface's own helper."""
    params = list(operation.params_of(surface.key))
    returns = operation.returns[surface.key]
    lines = _signature(operation.name, surface, params, returns)
    lines += _quoted(_docstring(operation.name, "", surface, params))
    prefix = "" if returns == "None" else "return "
    names = [param.name for param in params]
    if surface.key in operation.bundles:
        bundled = ", ".join(param.name for param in operation.params)
        names[: len(operation.params)] = [f"({bundled})"]
    first, *rest = names
    lines.append(_call(f"{prefix}self.{operation.helper}({first}", rest, ")"))
    return lines


def _own_helper_stub(operation: OwnOperation, surface: Surface) -> list[str]:
    """The typed declaration of the surface's helper doing ``operation``
    (it takes every argument, or their bundle, positionally), for mypy."""
    params = [
        dataclasses.replace(param, default=REQUIRED)
        for param in operation.helper_params_of(surface.key)
    ]
    lines = _signature(operation.helper, surface, params, operation.returns[surface.key])
    lines[-1] += " ..."
    return [INDENT + line for line in lines]


def _quoted(doc: list[str]) -> list[str]:
    """Docstring lines as they stand in a method body, quotes included."""
    if len(doc) == 1 and len(f'{INDENT * 2}"""{doc[0]}"""') <= LINE_LIMIT:
        return [f'{INDENT * 2}"""{doc[0]}"""']
    lines = [f'{INDENT * 2}"""{doc[0]}']
    lines += [f"{INDENT * 2}{line}".rstrip() for line in doc[1:]]
    lines.append(f'{INDENT * 2}"""')
    return lines


def render(surface: Surface) -> str:
    """The whole generated module of ``surface``."""
    out = [
        f'"""{surface.doc}',
        "",
        "GENERATED by codegen/generate_surfaces.py from pika/operations.py: do not",
        "edit; change the table (or the generator) and regenerate.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *surface.imports,
        "",
        "if TYPE_CHECKING:",
        *[f"{INDENT}{line}" if line else "" for line in surface.type_checking],
        "",
        "",
        f"class {surface.class_name}:",
        f'{INDENT}"""{surface.doc}"""',
        "",
        f"{INDENT}if TYPE_CHECKING:",
        *([""] if surface.helper_stub.startswith("def") else []),
        *[f"{INDENT * 2}{line}" if line else "" for line in surface.helper_stub.splitlines()],
    ]
    for own in OWN_OPERATIONS:
        if surface.key in own.returns:
            out += ["", *_own_helper_stub(own, surface)]
    for operation in OPERATIONS:
        out.append("")
        out += _method(operation, surface)
    for own in OWN_OPERATIONS:
        if surface.key in own.returns:
            out.append("")
            out += _own_method(own, surface)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a module is out of date")
    args = parser.parse_args(argv)
    stale = []
    for surface in SURFACES:
        path = ROOT / surface.path
        text = render(surface)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(surface.path)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run codegen/generate_surfaces.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
