"""Every public name of Pika's interface that exists here is documented.

``tests/data/pika-interface.txt`` lists Pika's public names and signatures.
For each class, function, method and property in it that this library has:

- it has a docstring of its own;
- a callable's docstring documents each of its parameters in an ``Args:``
  section (Google style, read by Sphinx's napoleon), a class's either in its
  own docstring or in ``__init__``'s;
- a callable that returns something has a ``Returns:`` (or ``Yields:``)
  section.

The per-operation methods of the four channel surfaces (``exchange_declare``,
``basic_publish``...) get their docstrings from `pika.operation_docs`, so for
them the test checks that `OPERATION_DOCS` covers every parameter each
surface's signature names and says what each surface returns.

Special methods other than ``__init__`` (``__enter__``, ``__exit__``) follow
Python's protocols and are not checked.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from pika.operation_docs import OPERATION_DOCS, SURFACES

INTERFACE = Path(__file__).resolve().parent.parent / "data" / "pika-interface.txt"
REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"

# Channel classes whose per-operation methods are documented by OPERATION_DOCS.
CHANNEL_SURFACES = {
    "pika.channel.Channel": "callback",
    "pika.adapters.blocking_connection.BlockingChannel": "blocking",
    "pika.adapters.blocking_channel.BlockingChannel": "blocking",
    "pika.adapters.thread_safe_connection.Channel": "thread_safe",
    "pika.adapters.thread_safe_channel.Channel": "thread_safe",
    "pika.adapters.twisted_connection.TwistedChannel": "twisted",
    "pika.aio.channel.Channel": "aio",
}
# Modules whose optional dependency may be missing: skipped, not failed, then.
OPTIONAL_MODULES = {"pika.adapters.tornado_connection", "pika.adapters.twisted_connection"}

ENTRY = re.compile(r"^(?P<indent> *)(?P<kind>class|def|property|classmethod) (?P<name>\w+)")


@dataclass(frozen=True)
class Entry:
    """One documented name of the interface: ``module`` and the dotted path in it."""

    module: str
    path: tuple[str, ...]
    kind: str

    @property
    def qualname(self) -> str:
        return ".".join((self.module, *self.path))


def interface_entries() -> Iterator[Entry]:
    """Every class, function, method and property the interface lists."""
    module = ""
    stack: list[str] = []
    for line in INTERFACE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            module, stack = line[3:].strip(), []
            continue
        match = ENTRY.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4
        stack = stack[:depth]
        yield Entry(module, (*stack, match["name"]), match["kind"])
        if match["kind"] == "class":
            stack.append(match["name"])


def resolve(entry: Entry) -> Any | None:
    """The object the entry names here, or None when this library lacks it."""
    try:
        owner: Any = importlib.import_module(entry.module)
    except ImportError:
        if entry.module in OPTIONAL_MODULES:
            pytest.skip(f"{entry.module}'s optional dependency is not installed")
        raise
    for part in entry.path[:-1]:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    name = entry.path[-1]
    try:
        found = inspect.getattr_static(owner, name)
    except AttributeError:
        return None
    if isinstance(found, (classmethod, staticmethod)):
        return found.__func__
    return found


def own_doc(obj: Any) -> str:
    """The object's docstring: a class's own (not its bases'); a method's own
    or, when it overrides a documented method, that one's (as Sphinx shows it)."""
    if isinstance(obj, type):
        return obj.__dict__.get("__doc__") or ""
    if isinstance(obj, property):
        return obj.__doc__ or ""
    return inspect.getdoc(obj) or ""


def documented_parameters(doc: str) -> set[str]:
    """Names that an ``Args:``/``Parameters:``/``Attributes:`` section documents."""
    names: set[str] = set()
    section_indent: int | None = None
    item_indent: int | None = None
    for line in doc.expandtabs().splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped in ("Args:", "Arguments:", "Parameters:", "Keyword Args:", "Attributes:"):
            section_indent, item_indent = indent, None
            continue
        if section_indent is None or not stripped:
            continue
        if indent <= section_indent:
            section_indent = None
            continue
        if item_indent is None:
            item_indent = indent
        if indent == item_indent:
            match = re.match(r"\*{0,2}(\w+)\s*(\([^)]*\))?\s*:", stripped)
            if match:
                names.add(match[1])
    return names


def parameter_names(func: Any) -> list[str]:
    """The parameters a caller passes (no self/cls, *args, **kwargs or _private)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    return [
        parameter.name
        for parameter in signature.parameters.values()
        if parameter.name not in ("self", "cls")
        and not parameter.name.startswith("_")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def returns_something(func: Any) -> bool:
    """Whether the callable's annotation says it returns a value."""
    try:
        annotation = inspect.signature(func).return_annotation
    except (TypeError, ValueError):
        return False
    return annotation not in (inspect.Signature.empty, None, "None", "NoReturn")


def channel_surface(entry: Entry) -> str | None:
    """The surface key when the entry is a per-operation channel method."""
    owner = ".".join((entry.module, *entry.path[:-1]))
    if entry.path[-1] in OPERATION_DOCS:
        return CHANNEL_SURFACES.get(owner)
    return None


def problems_of(entry: Entry, obj: Any) -> list[str]:
    """What the entry's documentation lacks (empty when complete)."""
    if isinstance(obj, property):
        return [] if obj.__doc__ else ["no docstring"]
    doc = own_doc(obj)
    if not doc.strip():
        return ["no docstring"]
    if not callable(obj):
        return []
    problems = []
    if isinstance(obj, type):
        init = obj.__dict__.get("__init__")
        if init is None:
            return []
        documented = documented_parameters(doc) | documented_parameters(own_doc(init))
        params = parameter_names(init)
    else:
        documented = documented_parameters(doc)
        params = parameter_names(obj)
        if returns_something(obj) and not re.search(r"^\s*(Returns|Yields):", doc, re.M):
            problems.append("no Returns: section")
    missing = [name for name in params if name not in documented]
    if missing:
        problems.append(f"parameters not documented: {', '.join(missing)}")
    return problems


ENTRIES = [
    entry
    for entry in interface_entries()
    if not (entry.path[-1].startswith("__") and entry.path[-1] != "__init__")
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.qualname)
def test_public_name_is_documented(entry: Entry) -> None:
    obj = resolve(entry)
    if obj is None:
        pytest.skip("not in this library")
    surface = channel_surface(entry)
    if surface is not None:
        operation = OPERATION_DOCS[entry.path[-1]]
        missing = [name for name in parameter_names(obj) if name not in operation.params]
        assert not missing, f"OPERATION_DOCS[{entry.path[-1]!r}] lacks parameters {missing}"
        assert surface in operation.returns
        return
    if entry.path[-1] == "__init__":
        # Documented with its class (Sphinx shows the class and __init__ docstrings together).
        owner = resolve(Entry(entry.module, entry.path[:-1], "class"))
        assert owner is not None
        obj = owner
    assert problems_of(entry, obj) == []


def reference_modules() -> list[str]:
    """The modules the documentation site's reference pages document."""
    names: set[str] = set()
    for page in REFERENCE.glob("*.rst"):
        names.update(re.findall(r"automodule:: (\S+)", page.read_text(encoding="utf-8")))
    return sorted(names)


def public_members(module_name: str) -> Iterator[tuple[str, Any]]:
    """Every public class, function, method and property a module defines."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        if module_name in OPTIONAL_MODULES:
            return
        raise
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        if not isinstance(obj, type):
            continue
        yield name, obj
        operations = f"{module_name}.{name}" in CHANNEL_SURFACES
        for attribute, member in vars(obj).items():
            if attribute.startswith("_") or (operations and attribute in OPERATION_DOCS):
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property) or inspect.isfunction(member):
                yield f"{name}.{attribute}", member


@pytest.mark.parametrize("module_name", reference_modules())
def test_every_public_name_of_the_reference_is_documented(module_name: str) -> None:
    # Beyond Pika's interface: whatever the site documents is documented fully.
    problems = {
        name: found
        for name, obj in public_members(module_name)
        if (found := problems_of(Entry(module_name, (name,), "member"), obj))
    }
    assert problems == {}


@pytest.mark.parametrize("name", sorted(OPERATION_DOCS))
def test_operation_docs_are_complete(name: str) -> None:
    operation = OPERATION_DOCS[name]
    assert operation.summary.strip()
    assert set(operation.returns) == set(SURFACES)
    assert all(text.strip() for text in operation.params.values())
    assert operation.raises, f"{name}: no exception documented"
    import builtins

    import pika.exceptions

    for exception in operation.raises:
        found = getattr(pika.exceptions, exception, None) or getattr(builtins, exception, None)
        assert isinstance(found, type) and issubclass(found, BaseException), exception


def test_interface_parser_reads_the_whole_file() -> None:
    # The checklist is parsed, not skipped: a format change would silently test nothing.
    kinds = {entry.kind for entry in ENTRIES}
    assert kinds == {"class", "def", "property", "classmethod"}
    assert len(ENTRIES) > 500
    names = {entry.qualname for entry in ENTRIES}
    assert "pika.adapters.blocking_connection.BlockingChannel.basic_publish" in names
    assert "pika.spec.Basic.Consume.__init__" in names


def test_documented_parameters_reads_google_style() -> None:
    doc = """Do a thing.

    Args:
        first: The first.
        second (int): The second,
            on two lines: with a colon.
        **kwargs: Extra.

    Returns:
        value: not a parameter.
    """
    assert documented_parameters(doc) == {"first", "second", "kwargs"}


def test_help_shows_the_real_defaults_of_connection_parameters() -> None:
    import pydoc

    import pika

    text = pydoc.render_doc(pika.ConnectionParameters, renderer=pydoc.plaintext)
    assert "_DEFAULT" not in text
    for shown in (
        "host: 'DefaultT[str]' = 'localhost'",
        "port: 'DefaultT[int]' = 5672 (TLS: 5671)",
        "virtual_host: 'DefaultT[str]' = '/'",
        "frame_max: 'DefaultT[int]' = 131072",
        "heartbeat: 'DefaultT[HeartbeatSetting]' = None",
        "socket_timeout: 'DefaultT[Optional[Number]]' = 10.0",
    ):
        assert shown in text
    # The markers still mean "the default", as Pika's sentinel class does.
    marker = inspect.signature(pika.ConnectionParameters).parameters["frame_max"].default
    assert pika.ConnectionParameters(frame_max=marker).frame_max == 131072
    explicit = pika.ConnectionParameters(port=pika.ConnectionParameters._DEFAULT)
    assert explicit.port == 5672


def test_blocking_connection_signature_hides_the_private_impl_class() -> None:
    import pydoc

    import pika

    assert "_impl_class" not in str(inspect.signature(pika.BlockingConnection))
    assert "_impl_class" not in pydoc.render_doc(pika.BlockingConnection, renderer=pydoc.plaintext)
    # Still accepted, as by Pika: the signature only hides it.
    init = pika.BlockingConnection.__init__
    assert "_impl_class" in init.__code__.co_varnames[: init.__code__.co_argcount]
