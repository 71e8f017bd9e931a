"""Sphinx configuration of the documentation site (``make docs``)."""

from __future__ import annotations

import pydoc
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402

project = "pika"
author = "the pika authors"
copyright = "the pika authors"
release = pika.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"pika {release}"

# Python's inventory is read from a local copy (scripts/ensure_python_inventory.py),
# so the build needs no network; the links still point to docs.python.org.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", str(ROOT / "docs" / "_build" / "python-objects.inv")),
}

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "signature"
autoclass_content = "both"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# Single backquotes mark code (the docstrings use them so); cross-references
# are written with explicit roles.
default_role = "code"

# Annotations that name other projects' classes (documented elsewhere, with no
# inventory here) or private helpers are not cross-referenced.
nitpick_ignore_regex = [
    (r"py:.*", r"(twisted|tornado|gevent)\..*"),
    # Twisted's Deferred as the generated Twisted operations name it.
    (r"py:class", r"defer\.Deferred"),
    # Type variables of generic classes.
    (r"py:.*", r"pika\.(confirms|aio\.waiting)\.[TS]"),
    (r"py:.*", r"(.*\.)?_[A-Za-z]\w*"),
    # Callback type aliases shared by the mixins that make up a channel or
    # connection (their expansion is in each method's Args section).
    (r"py:class", r"(.*\.)?(On[A-Z]\w*|FlowChangeHandler|MessageOrNothing)"),
    # Generic aliases in the string annotations of dataclass fields with a
    # default factory, which autodoc splits at their commas.
    (r"py:class", r"(dict|list|tuple)\[.*"),
]


def _resolve_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve ``pika.X`` names re-exported from where they are defined.

    ``pika.BlockingConnection`` is documented under
    ``pika.adapters.blocking_connection``; a reference (or annotation) naming
    a re-export is sent to the object's own module. A method a class inherits
    from a generated mixin (``BlockingChannel.basic_publish``) is documented
    with the class that inherits it, so that class's own name is tried first.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("pika."):
        return None
    found = pydoc.locate(target)
    if found is None:
        return None
    owner = getattr(found, "__module__", None)
    qualname = getattr(found, "__qualname__", None)
    if owner is None or qualname is None or f"{owner}.{qualname}" == target:
        return None
    canonicals = [f"{owner}.{qualname}"]
    parent_path, _, name = target.rpartition(".")
    parent = pydoc.locate(parent_path)
    if isinstance(parent, type):
        canonicals.insert(0, f"{parent.__module__}.{parent.__qualname__}.{name}")
    domain = env.get_domain("py")
    for canonical in canonicals:
        if canonical == target:
            continue
        resolved = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
        )
        if resolved is not None:
            return resolved
    return None


def _resolve_python_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Send ``asyncio.events.AbstractEventLoop`` to Python's ``asyncio.AbstractEventLoop``.

    Annotations name standard-library classes by their defining module; Python's
    documentation names some by the package that exports them.
    """
    target = node.get("reftarget", "")
    parts = target.split(".")
    if node.get("refdomain") != "py" or target.startswith("pika.") or len(parts) < 2:
        return None
    # ``_asyncio.Future`` (the C module) is documented as ``asyncio.Future``.
    exported = f"{parts[0].lstrip('_')}.{parts[-1]}"
    if exported == target:
        return None
    if pydoc.locate(exported) is not pydoc.locate(target):
        return None
    inventory = getattr(env, "intersphinx_named_inventory", {}).get("python", {})
    if not any(exported in entries for entries in inventory.values()):
        return None
    new = node.deepcopy()
    new["reftarget"] = exported
    from sphinx.ext import intersphinx

    return intersphinx.missing_reference(app, env, new, contnode)


def setup(app: Any) -> None:
    """Register the alias resolvers."""
    app.connect("missing-reference", _resolve_alias)
    app.connect("missing-reference", _resolve_python_alias)
