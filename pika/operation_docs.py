"""Reference text of the channel operations, as data.

The surface generator (``codegen/generate_surfaces.py``) assembles each
generated method's docstring from the entry of its operation here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperationDoc:
    """The reference text of one channel operation.

    Attributes:
        summary: one line saying what it does.
        details: paragraphs after the summary (may be empty).
        params: parameter name -> its description, for every surface's parameters.
        returns: surface name ("callback", "blocking", "thread_safe",
            "twisted", "aio") -> what the method returns there.
        raises: exception name -> when it is raised.
    """

    summary: str
    details: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: dict[str, str] = field(default_factory=dict)
    raises: dict[str, str] = field(default_factory=dict)


#: Operation name -> its reference text.
OPERATION_DOCS: dict[str, OperationDoc] = {}
