"""Write the surfaces' callback registration methods from one table of events.

An application hears of a channel's or a connection's events (close,
consumer cancelled by the broker, returned message, Connection.Blocked,
recovery...) by registering a callback with an ``add_on_<event>_callback``
method, and on the callback layer forgets it with ``remove_on_<event>_callback``.
Every surface has these methods under Pika's names; they differ only in the
class the callback receives, in where it runs and in where the callback is
kept. `EVENTS` says once what each event is, `SURFACES` how each surface
registers; the methods are generated into ``pika/callback_registrations.py``,
one mixin class per surface, which the surface classes inherit.

Usage::

    python codegen/generate_registrations.py          # rewrite the module
    python codegen/generate_registrations.py --check  # exit 1 if it differs

A test runs the check, so the committed module always matches the table.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "codegen"))

from generate_surfaces import INDENT, LINE_LIMIT, _wrapped  # noqa: E402

PATH = "pika/callback_registrations.py"

#: The events of automatic recovery.
_RECOVERY_EVENTS = ("recovery_started", "recovery_succeeded", "recovery_failed", "queue_renamed")


@dataclass(frozen=True)
class Event:
    """One event an application can register a callback for.

    ``args`` are the callback's argument types; ``{connection}`` and
    ``{channel}`` stand for the surface's own connection and channel class.
    ``call`` shows the call, ``when`` finishes the sentence "Call ... when".
    """

    name: str
    args: tuple[str, ...]
    call: str
    when: str

    @property
    def recovery(self) -> bool:
        """Whether it is an event of automatic recovery (registering raises
        ConnectionWrongStateError while recovery is not enabled)."""
        return self.name in _RECOVERY_EVENTS

    @property
    def add(self) -> str:
        """The registering method's name."""
        return f"add_on_{self.name}_callback"

    @property
    def remove(self) -> str:
        """The forgetting method's name."""
        return f"remove_on_{self.name}_callback"


_EVENT_LIST = (
    Event(
        "cancel",
        ("frame.Method",),
        "callback(method_frame)",
        "when the broker cancels one of the channel's consumers (its queue was deleted, ...)",
    ),
    Event(
        "channel_close",
        ("{channel}", "Exception"),
        "callback(channel, reason)",
        "once the channel has closed",
    ),
    Event(
        "flow",
        ("bool",),
        "callback(active)",
        "when the broker sends Channel.Flow (``active`` False: stop publishing)",
    ),
    Event(
        "return",
        ("{channel}", "spec.Basic.Return", "spec.BasicProperties", "bytes"),
        "callback(channel, method, properties, body)",
        "for each message the broker returns (published mandatory and unroutable)",
    ),
    Event(
        "message_too_large",
        ("{channel}", "exceptions.MessageTooLargeError"),
        "callback(channel, error)",
        "for each message over the connection's ``max_message_size``; ``error`` is a"
        " `MessageTooLargeError` carrying the method, properties and declared body size",
    ),
    Event("open", ("{connection}",), "callback(connection)", "once the connection is open"),
    Event(
        "open_error",
        ("{connection}", "BaseException"),
        "callback(connection, error)",
        "when opening the connection fails",
    ),
    Event(
        "close",
        ("{connection}", "BaseException"),
        "callback(connection, reason)",
        "once the connection has closed",
    ),
    Event(
        "connection_blocked",
        ("{connection}", "frame.Method"),
        "callback(connection, method_frame)",
        "when the broker blocks the connection (Connection.Blocked: a resource alarm"
        " stops publishers)",
    ),
    Event(
        "connection_unblocked",
        ("{connection}", "frame.Method"),
        "callback(connection, method_frame)",
        "when the broker lifts the block (Connection.Unblocked)",
    ),
    Event(
        "recovery_started",
        ("{connection}", "BaseException"),
        "callback(connection, error)",
        "when a recovery begins, ``error`` being the loss",
    ),
    Event(
        "recovery_succeeded",
        ("{connection}",),
        "callback(connection)",
        "once the connection, its channels, topology and consumers are back",
    ),
    Event(
        "recovery_failed",
        ("{connection}", "BaseException"),
        "callback(connection, error)",
        "when the recovery gives up (the close callbacks follow)",
    ),
    Event(
        "queue_renamed",
        ("{connection}", "str", "str"),
        "callback(connection, old_name, new_name)",
        "when a server-named queue is redeclared under a new name during a recovery",
    ),
)

#: The events by name.
EVENTS = {event.name: event for event in _EVENT_LIST}


@dataclass(frozen=True)
class Entry:
    """One event as a surface registers it.

    ``target`` fills the surface's body template (usually the list the
    callback goes into); ``note`` is a paragraph of the surface's own.
    ``method`` overrides the event's method name stem (the channel's
    ``close`` event is ``add_on_close_callback`` on a channel).
    """

    event: str
    target: str
    note: str = ""
    method: str = ""
    add: bool = True


@dataclass(frozen=True)
class Classes:
    """The connection and channel classes a surface's callbacks receive."""

    connection: str
    channel: str


@dataclass(frozen=True)
class Surface:
    """One surface's registration mixin."""

    class_name: str
    doc: str
    classes: Classes
    body: str
    entries: tuple[Entry, ...]
    runs: str = ""
    removable: bool = False
    #: What registering for a recovery event raises while recovery is off.
    recovery_off: str = "Recovery is not enabled."
    stubs: tuple[str, ...] = field(default=())

    def lists(self) -> list[str]:
        """The attributes the entries' targets name (each a list of callbacks)."""
        names = [re.findall(r"self\.(_\w+)\b(?!\()", entry.target) for entry in self.entries]
        return [name for found in names for name in found]


_APPEND = "{target}.append(validation.checked_callback(callback))"
_TOO_LARGE_CALLBACK_LAYER = (
    "The body was discarded and a delivery awaiting an acknowledgement was rejected"
    " without requeue. With no such callback the error is raised out of the I/O loop"
    " (like an exception from a callback); the channel and the connection stay open"
    " either way."
)
_RECOVERY_TARGETS = ("on_started", "on_succeeded", "on_failed", "on_queue_renamed")

_CALLBACK_LAYER = Classes("pika.connection.Connection", "pika.channel.Channel")
_BLOCKING = Classes(
    "pika.adapters.blocking_connection.BlockingConnection",
    "pika.adapters.blocking_channel.BlockingChannel",
)
_THREAD_SAFE = Classes(
    "pika.adapters.thread_safe_connection.Connection", "pika.adapters.thread_safe_channel.Channel"
)
_AIO = Classes("pika.aio.connection.Connection", "pika.aio.channel.Channel")
_AIO_RUNS = "It runs on the event loop; what it raises goes to the loop's exception handler."


def _adapter_channel(too_large_note: str) -> tuple[Entry, ...]:
    """The entries of a channel that keeps its callbacks in ``_<event>_callbacks`` lists."""
    return (
        Entry("cancel", "self._cancel_callbacks"),
        Entry("return", "self._return_callbacks"),
        Entry("message_too_large", "self._too_large_callbacks", too_large_note),
    )


def _callback_layer(class_name: str, owner: str, *entries: Entry) -> Surface:
    """A class of the callback layer: it keeps each event's callbacks in a
    list of its own and can also forget them (``remove_on_*``)."""
    return Surface(
        class_name=class_name,
        doc=f"The callback `{owner}`'s add/remove callback methods.",
        classes=_CALLBACK_LAYER,
        body=_APPEND,
        removable=True,
        entries=entries,
    )


SURFACES = (
    _callback_layer(
        "ChannelRegistrations",
        "pika.channel.Channel",
        Entry("cancel", "self._on_cancel"),
        Entry("channel_close", "self._on_close", method="close"),
        Entry("flow", "self._on_flow"),
        Entry("return", "self._on_return"),
        Entry("message_too_large", "self._on_too_large", _TOO_LARGE_CALLBACK_LAYER),
    ),
    _callback_layer(
        "ConnectionRegistrations",
        "pika.connection.Connection",
        Entry("open", "self._on_open"),
        Entry("open_error", "self._on_open_error", add=False),
        Entry("close", "self._on_close"),
        Entry("connection_blocked", "self._on_blocked"),
        Entry("connection_unblocked", "self._on_unblocked"),
    ),
    Surface(
        class_name="RecoveryRegistrations",
        doc="The callback `pika.connection.Connection`'s recovery callback registrations.",
        classes=_CALLBACK_LAYER,
        body=_APPEND,
        entries=tuple(
            Entry(event, f"self._require_recovery().{target}")
            for event, target in zip(_RECOVERY_EVENTS, _RECOVERY_TARGETS)
        ),
        stubs=("def _require_recovery(self) -> ConnectionRecovery: ...",),
    ),
    Surface(
        class_name="BlockingRecoveryRegistrations",
        doc="`BlockingConnection`'s recovery callback registrations.",
        classes=_BLOCKING,
        body="self._forward_recovery_event(callback, {target})",
        runs=(
            "It runs inside `process_data_events`, `sleep` or `start_consuming`, like every"
            " callback of the blocking API."
        ),
        entries=tuple(
            Entry(event, f"self._require_recovery().{target}")
            for event, target in zip(_RECOVERY_EVENTS, _RECOVERY_TARGETS)
        ),
        stubs=(
            "def _require_recovery(self) -> ConnectionRecovery: ...",
            "",
            "def _forward_recovery_event(",
            "    self, callback: Callable[..., Any], event: list[Any]",
            ") -> None: ...",
        ),
    ),
    Surface(
        class_name="BlockingConnectionRegistrations",
        doc="`BlockingConnection`'s Connection.Blocked/Unblocked callback registrations.",
        classes=_BLOCKING,
        body="self._impl.{target}(self._notice_relay(callback))",
        runs=(
            "It runs inside `process_data_events`, `sleep` or `start_consuming`, like every"
            " callback of the blocking API."
        ),
        entries=(
            Entry("connection_blocked", "add_on_connection_blocked_callback"),
            Entry("connection_unblocked", "add_on_connection_unblocked_callback"),
        ),
        stubs=(
            "_impl: SelectConnection",
            "",
            "def _notice_relay(self, callback: Callable[..., Any]) -> Callable[..., Any]: ...",
        ),
    ),
    Surface(
        class_name="BlockingChannelRegistrations",
        doc="`BlockingChannel`'s callback registrations.",
        classes=_BLOCKING,
        body=_APPEND,
        runs=(
            "It runs inside `process_data_events`, `sleep` or `start_consuming`, like a consumer."
        ),
        entries=_adapter_channel(
            "It hears of messages sent to a `basic_consume` consumer or returned. Without"
            " such a callback the error is raised from `start_consuming` or"
            " `process_data_events`. The `consume` generator raises it (calling `consume`"
            " again continues), and `basic_get` raises it. The channel stays open.",
        ),
    ),
    Surface(
        class_name="ThreadSafeConnectionRegistrations",
        doc="The thread-safe `Connection`'s callback registrations.",
        classes=_THREAD_SAFE,
        body=_APPEND,
        runs="It runs on the connection's worker thread.",
        entries=(
            Entry("connection_blocked", "self._blocked_callbacks"),
            Entry("connection_unblocked", "self._unblocked_callbacks"),
            *(
                Entry(event, f"self._recovery_list(self._{target})")
                for event, target in zip(
                    _RECOVERY_EVENTS,
                    ("recovery_started", "recovery_succeeded", "recovery_failed", "queue_renamed"),
                )
            ),
        ),
        stubs=("def _recovery_list(self, callbacks: list[Any]) -> list[Any]: ...",),
    ),
    Surface(
        class_name="ThreadSafeChannelRegistrations",
        doc="The thread-safe `Channel`'s callback registrations.",
        classes=_THREAD_SAFE,
        body=_APPEND,
        runs="It runs on the channel's worker thread.",
        entries=_adapter_channel(
            "It hears of messages sent to a consumer or returned. Without such a callback"
            " the error is logged. `basic_get` raises it. The channel stays open.",
        ),
    ),
    Surface(
        class_name="AioConnectionRegistrations",
        doc="`pika.aio.Connection`'s recovery callback registrations.",
        classes=_AIO,
        body="self._impl.{target}(self._guarded(callback))",
        runs=_AIO_RUNS,
        recovery_off="Recovery is off (``recovery=None``).",
        entries=tuple(
            Entry(
                event,
                f"add_on_{event}_callback",
                "`pika.aio.Connection.wait_closed` then raises ``error``."
                if event == "recovery_failed"
                else "",
            )
            for event in _RECOVERY_EVENTS
        ),
        stubs=(
            "_impl: AsyncioConnection",
            "",
            "def _guarded(self, callback: Callable[..., Any]) -> Callable[..., None]: ...",
        ),
    ),
    Surface(
        class_name="AioChannelRegistrations",
        doc="`pika.aio.Channel`'s callback registrations.",
        classes=_AIO,
        body=_APPEND,
        runs=_AIO_RUNS,
        entries=(
            Entry("cancel", "self._cancel_callbacks"),
            Entry(
                "return",
                "self._return_callbacks",
                "In confirm mode the publish also raises `UnroutableError`.",
            ),
            Entry(
                "message_too_large",
                "self._too_large_callbacks",
                "It hears of messages sent to a `basic_consume` consumer or returned. Without"
                " such a callback the error goes to the loop's exception handler; `basic_get`"
                " and a ``consume()`` iterator raise it. The channel stays open.",
            ),
        ),
    ),
)


def _callback_type(event: Event, surface: Surface) -> str:
    args = [
        arg.format(connection=surface.classes.connection, channel=surface.classes.channel)
        for arg in event.args
    ]
    return f"Callable[[{', '.join(args)}], Any]"


def _docstring(
    summary: str, paragraphs: list[str], sections: list[tuple[str, list[str]]]
) -> list[str]:
    lines = _wrapped(summary, "", "")
    for paragraph in paragraphs:
        if paragraph:
            lines += ["", *_wrapped(paragraph, "", "")]
    for title, items in sections:
        lines += ["", f"{title}:"]
        for item in items:
            lines += _wrapped(item, INDENT, INDENT * 2)
    return lines


def _def(name: str, annotation: str, returns: str) -> list[str]:
    one_line = f"{INDENT}def {name}(self, callback: {annotation}) -> {returns}:"
    if len(one_line) <= LINE_LIMIT:
        return [one_line]
    middle = f"{INDENT * 2}self, callback: {annotation}"
    if len(middle) <= LINE_LIMIT:
        return [f"{INDENT}def {name}(", middle, f"{INDENT}) -> {returns}:"]
    if len(f"{INDENT * 2}callback: {annotation},") <= LINE_LIMIT:
        return [
            f"{INDENT}def {name}(",
            f"{INDENT * 2}self,",
            f"{INDENT * 2}callback: {annotation},",
            f"{INDENT}) -> {returns}:",
        ]
    inner = annotation[len("Callable[") : -1]
    if len(f"{INDENT * 3}{inner}") <= LINE_LIMIT:
        lines = [f"{INDENT * 3}{inner}"]
    else:
        args = inner[1 : inner.rindex("]")].split(", ")
        lines = [f"{INDENT * 3}[", *[f"{INDENT * 4}{arg}," for arg in args], f"{INDENT * 3}],"]
        lines.append(f"{INDENT * 3}Any,")
    return [
        f"{INDENT}def {name}(",
        f"{INDENT * 2}self,",
        f"{INDENT * 2}callback: Callable[",
        *lines,
        f"{INDENT * 2}],",
        f"{INDENT}) -> {returns}:",
    ]


def _method(head: list[str], doc: list[str], body: str) -> list[str]:
    lines = ["", *head, f'{INDENT * 2}"""{doc[0]}']
    lines += [f"{INDENT * 2}{line}".rstrip() for line in doc[1:]]
    lines += [f'{INDENT * 2}"""', f"{INDENT * 2}{body}"]
    return lines


def _methods(entry: Entry, surface: Surface) -> list[str]:
    event = EVENTS[entry.event]
    stem = entry.method or event.name
    add, remove = f"add_on_{stem}_callback", f"remove_on_{stem}_callback"
    annotation = _callback_type(event, surface)
    lines: list[str] = []
    if entry.add:
        raises = [f"ConnectionWrongStateError: {surface.recovery_off}"] if event.recovery else []
        raises.append("TypeError: ``callback`` is not callable.")
        doc = _docstring(
            f"Call ``{event.call}`` {event.when}.",
            [surface.runs, entry.note],
            [("Args", ["callback: The callable to add."]), ("Raises", raises)],
        )
        body = surface.body.format(target=entry.target)
        lines += _method(_def(add, annotation, "None"), doc, body)
    if surface.removable:
        doc = _docstring(
            f"Forget a callback given to `{add}`.",
            [],
            [
                ("Args", ["callback: The callback to remove."]),
                ("Returns", ["True if it was registered."]),
            ],
        )
        lines += _method(
            _def(remove, annotation, "bool"), doc, f"return remove_from({entry.target}, callback)"
        )
    return lines


def render() -> str:
    """The whole generated module."""
    out = [
        '"""The surfaces\' add/remove callback methods, one mixin class per surface.',
        "",
        "GENERATED by codegen/generate_registrations.py from its table of events: do",
        "not edit; change the table (or the generator) and regenerate.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TYPE_CHECKING, Any, Callable",
        "",
        "from pika import validation",
        "from pika.callbacks import remove_from",
        "",
        "if TYPE_CHECKING:",
        f"{INDENT}import pika.adapters.blocking_channel",
        f"{INDENT}import pika.adapters.blocking_connection",
        f"{INDENT}import pika.adapters.thread_safe_channel",
        f"{INDENT}import pika.adapters.thread_safe_connection",
        f"{INDENT}import pika.aio.channel",
        f"{INDENT}import pika.aio.connection",
        f"{INDENT}import pika.channel",
        f"{INDENT}import pika.connection",
        f"{INDENT}from pika import exceptions, frame, spec",
        f"{INDENT}from pika.adapters.asyncio_connection import AsyncioConnection",
        f"{INDENT}from pika.adapters.select_connection import SelectConnection",
        f"{INDENT}from pika.connection_recovery import ConnectionRecovery",
    ]
    for surface in SURFACES:
        out += ["", "", f"class {surface.class_name}:", f'{INDENT}"""{surface.doc}"""', ""]
        out.append(f"{INDENT}if TYPE_CHECKING:")
        lists = [f"{name}: list[Any]" for name in surface.lists()]
        stubs = [*lists, *([""] if lists and surface.stubs else []), *surface.stubs]
        if stubs[0].startswith("def "):
            out.append("")
        out += [f"{INDENT * 2}{line}" if line else "" for line in stubs]
        for entry in surface.entries:
            out += _methods(entry, surface)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the module is out of date")
    args = parser.parse_args(argv)
    path = ROOT / PATH
    text = render()
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"out of date (run codegen/generate_registrations.py): {PATH}")
            return 1
        return 0
    path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
